#!/usr/bin/env bash
# Run every test program under valgrind --leak-check=full in a normal (non
# sanitizer) build. Any leak (definite, indirect or possible) or memory
# error fails. Only the test processes are checked; host binaries they
# spawn run natively. Suppressions, if ever needed: tests/valgrind.supp.
# Usage: scripts/valgrind.sh [BUILD_DIR] [TEST_NAME...]   (default build-vg, all)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-vg}
[ $# -gt 0 ] && shift
cmake -S . -B "$build" -G Ninja -DMYCELIA_SANITIZE= -DMYCELIA_BUILD_BENCH=OFF >/dev/null || exit 2
cmake --build "$build" || exit 2

opts=(--leak-check=full --show-leak-kinds=definite,indirect,possible
      --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99
      --num-callers=30 --quiet)
[ -f tests/valgrind.supp ] && opts+=(--suppressions=tests/valgrind.supp)
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  for t in "$build"/tests/test_*; do [ -x "$t" ] && tests+=("$(basename "$t")"); done
fi
mkdir -p "$build/valgrind"
failed=()
for t in "${tests[@]}"; do
  log="$build/valgrind/$t.log"
  printf '%-28s ' "$t"
  if CMOCKA_MESSAGE_OUTPUT=stdout valgrind "${opts[@]}" --log-file="$log" \
       "$build/tests/$t" >"$build/valgrind/$t.out" 2>&1; then
    echo "clean"
  else
    rc=$?
    if [ $rc -eq 99 ]; then echo "VALGRIND ERRORS (see $log)"; else echo "FAILED ($rc, see $build/valgrind/$t.out)"; fi
    failed+=("$t")
  fi
done
[ ${#failed[@]} -eq 0 ] && { echo "valgrind: ${#tests[@]} test programs, no leak, no error"; exit 0; }
echo "valgrind: failed: ${failed[*]}"
exit 1
