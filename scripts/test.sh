#!/usr/bin/env bash
# Install, build, and run every test; exits non-zero on any failure.
# Usage: scripts/test.sh [BUILD_DIR]   (env MYCELIA_SANITIZE=address,undefined|thread)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
scripts/setup.sh "$build"
cd "$build"
ctest --output-on-failure -j2
