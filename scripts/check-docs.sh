#!/bin/sh
# check-docs.sh BUILD_DIR [CONFIG_MD]
#
# Keeps docs/config.md and the code from drifting apart:
#  - for every plugin BUILD_DIR/plugins/myc_NAME.so, the keys that
#    `mycelia --describe` prints must be exactly the keys documented in the
#    "### [plugin NAME]" section of CONFIG_MD;
#  - the keys the kernel accepts in [kernel] (as listed by the kernel's own
#    "unknown key" error) must be exactly those of the "## [kernel]" section.
# A documented key is a table row starting with "| `KEY`".
# Exit 0 when everything matches, 1 with one line per problem otherwise.
set -u

BUILD=$1
DOC=${2:-$(dirname "$0")/../docs/config.md}
HOST=$BUILD/mycelia
status=0
T=$(mktemp -d /tmp/myc-docs-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM

problem() {
  echo "check-docs: $*" >&2
  status=1
}

[ -x "$HOST" ] || { echo "check-docs: no host binary at $HOST" >&2; exit 1; }
[ -r "$DOC" ] || { echo "check-docs: cannot read $DOC" >&2; exit 1; }

# Keys documented under the heading line $1 (exact), one per line, sorted.
doc_keys() {
  awk -v head="$1" '
    $0 == head { inside = 1; next }
    inside && /^#/ { inside = 0 }
    inside && /^\| `[^`]+`/ { split($0, f, "`"); print f[2] }
  ' "$DOC" | sort
}

# Compare two sorted key lists ($1 code, $2 docs) for section $3.
compare() {
  comm -23 "$1" "$2" | while read -r key; do
    echo "check-docs: $3: key '$key' is missing from $DOC" >&2
    echo x
  done >"$T/missing"
  comm -13 "$1" "$2" | while read -r key; do
    echo "check-docs: $3: $DOC documents '$key', which the code does not have" >&2
    echo x
  done >"$T/extra"
  if [ -s "$T/missing" ] || [ -s "$T/extra" ]; then status=1; fi
}

# Plugins: --describe prints "config keys:" then "  KEY TYPE DEFAULT HELP".
found=0
for so in "$BUILD"/plugins/myc_*.so; do
  [ -e "$so" ] || continue
  found=1
  name=$(basename "$so" .so)
  name=${name#myc_}
  if ! "$HOST" --describe "$so" >"$T/describe" 2>"$T/err"; then
    problem "mycelia --describe $so failed: $(cat "$T/err")"
    continue
  fi
  awk '/^config keys:/ { on = 1; next } on && /^  [^ ]/ { print $1 }' \
    "$T/describe" | sort >"$T/code"
  head="### [plugin $name]"
  if ! grep -qxF "$head" "$DOC"; then
    problem "$DOC has no '$head' section (document every key of plugin '$name', or say it has none)"
    continue
  fi
  doc_keys "$head" >"$T/doc"
  compare "$T/code" "$T/doc" "[plugin $name]"
done
[ "$found" = 1 ] || problem "no plugins in $BUILD/plugins"

# [kernel]: the kernel lists the keys it knows when it meets an unknown one.
printf '[kernel]\ncheck_docs_no_such_key = 1\n' >"$T/probe.ini"
"$HOST" --check -c "$T/probe.ini" >/dev/null 2>"$T/err"
sed -n 's/.*(known: \(.*\)).*/\1/p' "$T/err" | tr ',' '\n' | tr -d ' ' |
  grep . | sort >"$T/code"
if [ ! -s "$T/code" ]; then
  problem "could not read the [kernel] keys from: $(cat "$T/err")"
elif ! grep -qxF "## [kernel]" "$DOC"; then
  problem "$DOC has no '## [kernel]' section"
else
  doc_keys "## [kernel]" >"$T/doc"
  compare "$T/code" "$T/doc" "[kernel]"
fi

[ "$status" = 0 ] && echo "check-docs: $DOC matches the code"
exit "$status"
