#!/usr/bin/env bash
# Install what Mycelia needs (Debian 12, as root) and build it.
# Usage: scripts/setup.sh [BUILD_DIR]   (env MYCELIA_SANITIZE=address,undefined|thread)
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake ninja-build pkg-config binutils libinih-dev libcmocka-dev libzmq3-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

build=${1:-build}
cmake -S . -B "$build" -G Ninja -DMYCELIA_SANITIZE="${MYCELIA_SANITIZE:-}" >/dev/null
cmake --build "$build"
