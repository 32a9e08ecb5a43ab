#!/usr/bin/env bash
# Build with --coverage (MYCELIA_COVERAGE=ON) in build-cov, run the whole
# test suite, and print the line and branch coverage of kernel/ (gcovr):
# one row per file, then the totals. Exits non-zero if a test fails or if
# line coverage of kernel/src is below MYCELIA_COVERAGE_MIN (default 90).
# Usage: scripts/coverage.sh [BUILD_DIR]    (an HTML report: COVERAGE_HTML=file)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-cov}
min=${MYCELIA_COVERAGE_MIN:-90}

cmake -S . -B "$build" -G Ninja -DMYCELIA_COVERAGE=ON -DCMAKE_BUILD_TYPE=Debug \
  -DMYCELIA_BUILD_BENCH=OFF >/dev/null
cmake --build "$build"
find "$build" -name '*.gcda' -delete
status=0
(cd "$build" && ctest --output-on-failure -j2) || status=$?

gcov_args=(--root . --object-directory "$build" --filter 'kernel/'
           --exclude-unreachable-branches --exclude-throw-branches)
echo "== coverage of kernel/ (lines, branches)"
gcovr "${gcov_args[@]}" --branches --txt - | sed -n '/^File/,$p' | grep -v '^-*$' || true
gcovr "${gcov_args[@]}" --txt - | sed -n '/^File/,$p' | grep -v '^-*$' || true
if [ -n "${COVERAGE_HTML:-}" ]; then
  gcovr "${gcov_args[@]}" --html-details "$COVERAGE_HTML"
fi
# (Never point gcovr's --txt at /dev/null: it replaces the file it writes.)
summary=$(gcovr --root . --object-directory "$build" --filter 'kernel/src/' \
          --exclude-unreachable-branches --print-summary --txt - | tail -n 3)
echo "== kernel/src totals"
echo "$summary"
pct=$(echo "$summary" | sed -n 's/^lines: *\([0-9.]*\)%.*/\1/p')
if [ -n "$pct" ] && awk -v p="$pct" -v m="$min" 'BEGIN { exit !(p < m) }'; then
  echo "coverage: kernel/src line coverage ${pct}% is below ${min}%"
  status=1
fi
exit $status
