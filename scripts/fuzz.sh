#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan+UBSan) in build-fuzz and run each
# for a bounded time over its seed corpus (fuzz/corpus/<target>) and past
# findings (fuzz/regressions/<target>). New findings land in
# build-fuzz/artifacts/ and make the script fail; once fixed, add each to
# fuzz/regressions/<target>/ so tests/test_fuzz_regressions.c replays it.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60, all)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(uri route config console)
build=${MYCELIA_FUZZ_BUILD:-build-fuzz}

# libFuzzer needs clang and its runtime (Debian: clang, libclang-rt-14-dev).
missing=()
for p in clang libclang-rt-14-dev; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi

CC=clang cmake -S . -B "$build" -G Ninja -DMYCELIA_FUZZ=ON \
  -DMYCELIA_BUILD_TESTS=OFF -DMYCELIA_BUILD_BENCH=OFF >/dev/null
cmake --build "$build"

mkdir -p "$build/artifacts"
status=0
for t in "${targets[@]}"; do
  work="$build/corpus/$t" # grows across runs; the seeds stay untouched
  mkdir -p "$work"
  args=(-max_total_time="$secs" -print_final_stats=1
        -artifact_prefix="$build/artifacts/$t-")
  [ "$t" = console ] && args+=(-max_len=6000)
  dirs=("$work" "fuzz/corpus/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  echo "== fuzz_$t for ${secs}s"
  if ! "$build/fuzz/fuzz_$t" "${args[@]}" "${dirs[@]}" 2>"$build/artifacts/$t.log"; then
    echo "fuzz_$t: FINDING, see $build/artifacts/$t.log"
    status=1
  fi
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' \
    "$build/artifacts/$t.log" || true
done
exit $status
