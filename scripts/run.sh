#!/usr/bin/env bash
# Install, build, and start the kernel on config/mycelia.ini.
# The default config enables the console: type "VERB URI [BODY]" lines,
# e.g. "PUT db://users/1 hello", "GET db://users/1", "GET kernel://stats".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build >&2
exec build/mycelia -c "${MYCELIA_CONFIG:-config/mycelia.ini}" "$@"
