#!/bin/sh
# test_sdk.sh BUILD_DIR [CC] [GENERATOR]
#
# The plugin SDK end to end, using nothing of the source tree: the
# template and the example program are taken from the installed prefix.
#  1. install the build into a temporary prefix (cmake --install);
#  2. build template/ out of tree against that prefix with CMake
#     (find_package(Mycelia), mycelia_add_plugin) and run its cmocka test;
#  3. build the same hello.c with only pkg-config (mycelia-plugin);
#  4. load that plugin with the installed host and the installed console,
#     pipe "GET hello://greet/ada" and check the answer;
#  5. build examples/embed.c with pkg-config (mycelia) against the
#     installed libmycelia.so and run it on the installed echo plugin.
set -eu

BUILD=$(cd "$1" && pwd)
CC=${2:-cc}
GEN=${3:-}
FLAGS="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter"

T=$(mktemp -d /tmp/myc-sdk-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
P=$T/prefix

fail() {
  echo "test_sdk: FAIL: $*" >&2
  exit 1
}
step() { echo "== $*"; }
# Run a command quietly; show its output only if it fails.
quiet() {
  if ! "$@" >"$T/out.log" 2>&1; then
    cat "$T/out.log" >&2
    fail "command failed: $*"
  fi
}

step "install into $P"
quiet cmake --install "$BUILD" --prefix "$P"
for f in bin/mycelia include/mycelia/plugin.h include/mycelia/mycelia.h \
         lib/libmycelia.so lib/mycelia/plugins/myc_echo.so \
         lib/mycelia/plugins/myc_console.so etc/mycelia/mycelia.ini \
         lib/pkgconfig/mycelia-plugin.pc lib/pkgconfig/mycelia.pc \
         lib/cmake/Mycelia/MyceliaConfig.cmake \
         lib/cmake/Mycelia/MyceliaConfigVersion.cmake \
         lib/cmake/Mycelia/MyceliaPlugin.cmake \
         share/mycelia/template/CMakeLists.txt share/mycelia/template/hello.c \
         share/mycelia/examples/embed.c share/doc/mycelia/plugins.md \
         share/doc/mycelia/config.md share/doc/mycelia/embedding.md; do
  [ -e "$P/$f" ] || fail "missing $P/$f"
done
grep -Eq "^plugin_dir *= *$P/lib/mycelia/plugins *$" "$P/etc/mycelia/mycelia.ini" ||
  fail "etc/mycelia/mycelia.ini: plugin_dir is not $P/lib/mycelia/plugins"
if nm -D --defined-only "$P/lib/libmycelia.so" | awk '{print $3}' | grep -v '^myc_' | grep -q .; then
  fail "libmycelia.so exports symbols other than myc_*"
fi
nm -D --defined-only "$P/lib/libmycelia.so" | grep -q ' myc__' &&
  fail "libmycelia.so exports internal myc__ symbols"
(cd "$T" && "$P/bin/mycelia" -c "$P/etc/mycelia/mycelia.ini" --check) >"$T/check.out" 2>&1 ||
  { cat "$T/check.out" >&2; fail "the installed default config does not load"; }

step "template: CMake build against the prefix"
cp -R "$P/share/mycelia/template" "$T/hello"
set -- -S "$T/hello" -B "$T/hello-build" -DCMAKE_PREFIX_PATH="$P" \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$FLAGS" -DCMAKE_BUILD_TYPE=Debug
[ -n "$GEN" ] && set -- "$@" -G "$GEN"
quiet cmake "$@"
grep -q "^Mycelia_DIR:PATH=$P/lib/cmake/Mycelia\$" "$T/hello-build/CMakeCache.txt" ||
  fail "find_package(Mycelia) did not use $P"
quiet cmake --build "$T/hello-build"
(cd "$T/hello-build" && ctest --output-on-failure) >"$T/ctest.out" 2>&1 ||
  { cat "$T/ctest.out" >&2; fail "the template's test failed"; }
exported=$(nm -D --defined-only "$T/hello-build/myc_hello.so" | awk '{print $3}')
[ "$exported" = myc_plugin_entry_v1 ] ||
  fail "myc_hello.so (CMake) exports: $exported"

step "template: pkg-config build"
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
[ -z "$(pkg-config --libs mycelia-plugin)" ] || fail "mycelia-plugin has Libs"
[ "$(pkg-config --variable=plugindir mycelia-plugin)" = "$P/lib/mycelia/plugins" ] ||
  fail "mycelia-plugin: plugindir is $(pkg-config --variable=plugindir mycelia-plugin)"
mkdir "$T/plugins"
# shellcheck disable=SC2046 # word splitting of the flags is wanted
quiet "$CC" $FLAGS $(pkg-config --cflags mycelia-plugin) -shared -fPIC \
  -fvisibility=hidden -Wl,-z,defs -o "$T/plugins/myc_hello.so" "$T/hello/hello.c"
exported=$(nm -D --defined-only "$T/plugins/myc_hello.so" | awk '{print $3}')
[ "$exported" = myc_plugin_entry_v1 ] ||
  fail "myc_hello.so (pkg-config) exports: $exported"

step "load it with the installed host"
cp "$P/lib/mycelia/plugins/myc_console.so" "$T/plugins/"
chmod 0755 "$T/plugins" "$T/plugins/myc_hello.so" "$T/plugins/myc_console.so"
cat >"$T/hello.ini" <<INI
[kernel]
plugin_dir = $T/plugins

[plugin hello]
greeting = Hi there

[plugin console]
INI
"$P/bin/mycelia" -c "$T/hello.ini" --describe hello >"$T/describe.out" 2>&1 ||
  { cat "$T/describe.out" >&2; fail "--describe hello failed"; }
grep -q '^  greeting ' "$T/describe.out" || fail "--describe hello lists no 'greeting'"
out=$(printf 'GET hello://greet/ada\n' | "$P/bin/mycelia" -c "$T/hello.ini" 2>"$T/host.err") ||
  { cat "$T/host.err" >&2; fail "the installed host exited with an error"; }
[ "$out" = "OK Hi there, ada" ] || fail "expected 'OK Hi there, ada', got '$out'"

step "embed: pkg-config build against libmycelia.so"
# shellcheck disable=SC2046
quiet "$CC" $FLAGS $(pkg-config --cflags mycelia) -o "$T/embed" \
  "$P/share/mycelia/examples/embed.c" $(pkg-config --libs mycelia)
LD_LIBRARY_PATH="$P/lib" "$T/embed" "$P/lib/mycelia/plugins" >"$T/embed.out" 2>&1 ||
  { cat "$T/embed.out" >&2; fail "embed against the installed library failed"; }
grep -q '^embed: OK$' "$T/embed.out" || fail "embed did not report OK"

echo "test_sdk: OK"
