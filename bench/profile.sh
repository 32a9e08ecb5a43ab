#!/usr/bin/env bash
# Instructions per message, by function, on bench_integrated's timed loops,
# with valgrind --tool=callgrind. Instruction counts do not depend on how
# busy the machine is, so they compare two builds where wall-clock times
# on 2 shared cores cannot.
#
# usage: bench/profile.sh [--build DIR] [--messages N] [--top K] [VARIANT...]
#   VARIANT      send_pooled (default), send, bare_loop
#   --build DIR  build holding bench/bench_integrated (default build;
#                build it RelWithDebInfo so lines and functions have names)
#   --messages N messages in the profiled run (default 200000)
#   --top K      functions listed (default 20)
# Output files (callgrind.VARIANT.out) stay in DIR/profile/ for
# callgrind_annotate or kcachegrind.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
messages=200000
top=20
variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --top) top=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "profile.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    *) variants+=("$1"); shift ;;
  esac
done
[ ${#variants[@]} -gt 0 ] || variants=(send_pooled)
bench="$build/bench/bench_integrated"
[ -x "$bench" ] || { echo "profile.sh: no $bench: build first" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "profile.sh: valgrind not found (apt-get install valgrind)" >&2; exit 1; }
mkdir -p "$build/profile"

for v in "${variants[@]}"; do
  case "$v" in
    send_pooled) fn=timed_send_pooled ;;
    send) fn=timed_send ;;
    bare_loop) fn=run_bare ;;
    *) echo "profile.sh: unknown variant $v (send_pooled, send, bare_loop)" >&2; exit 2 ;;
  esac
  out="$build/profile/callgrind.$v.out"
  MYC_BENCH_ONLY=$v valgrind --tool=callgrind --callgrind-out-file="$out" \
    --collect-atstart=no --toggle-collect="$fn" \
    "$bench" --messages "$messages" --runs 1 >/dev/null 2>"$build/profile/valgrind.$v.log" || {
    echo "profile.sh: valgrind failed, see $build/profile/valgrind.$v.log" >&2; exit 1; }
  total=$(sed -n 's/^summary: *//p' "$out")
  echo "== $v: $(awk -v t="$total" -v n="$messages" 'BEGIN { printf "%.0f", t / n }') instructions per message ($messages messages, $out)"
  echo "   instr/msg  function (self cost)"
  callgrind_annotate --auto=no --threshold=100 "$out" 2>/dev/null |
    awk -v n="$messages" -v top="$top" '
      /^-+$/ { sep++; next }
      sep >= 3 && $1 ~ /^[0-9,]+$/ && !/PROGRAM TOTALS/ {
        c = $1; gsub(",", "", c); $1 = ""; sub(/^ +/, "")
        sub(/^\([ 0-9.]+%\) +/, "")       # percentage column
        sub(/ \[[^]]*\]$/, "")              # [object file]
        sub(/^.*\/sysdeps\/[^:]*\//, "libc:") # long glibc paths
        if (c / n >= 0.05 && shown++ < top) printf "   %9.1f  %s\n", c / n, $0
      }'
done
