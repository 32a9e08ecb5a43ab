/* The plugin loader and the plugin ABI's rules, with real .so files: the
 * deliberately bad plugins in tests/plugins/l_*.c are refused with one line
 * naming the plugin, the file and the reason; files outside plugin_dir and
 * files or folders others may write are refused; plugins export one
 * symbol; plugin keys are checked against the plugin's spec; registration
 * happens only in init; schemes are served by one plugin only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "mycelia/mycelia.h"

#define BAD MYC_TEST_BAD_PLUGIN_DIR

/* ==== Helpers ========================================================== */

/* Fail if `hay` contains `needle`. */
static void assert_lacks(const char *hay, const char *needle) {
  if (hay && strstr(hay, needle))
    fail_msg("did not expect \"%s\" in \"%s\"", needle, hay);
}

/* Build the kernel from `ini` (after %PLUGINS%/%BAD% expansion), expect a
 * refusal that is one line starting with `prefix` and containing every
 * further string up to NULL. */
static void expect_refusal(const char *ini, const char *prefix, ...) {
  char *err = myc_test_kernel_error(ini);
  if (strchr(err, '\n')) fail_msg("refusal is more than one line: \"%s\"", err);
  if (strncmp(err, prefix, strlen(prefix)) != 0)
    fail_msg("expected the refusal to start with \"%s\": \"%s\"", prefix, err);
  va_list ap;
  va_start(ap, prefix);
  for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
    myc_test_assert_has(err, s);
  va_end(ap);
  free(err);
}

/* Build and start a kernel from `ini`; fails the test on error. */
static myc_kernel *started(const char *ini) {
  myc_kernel *k = myc_test_kernel(ini);
  char *err = NULL;
  if (myc_kernel_start(k, &err) < 0) fail_msg("start: %s", err ? err : "?");
  return k;
}

/* Request and expect status 0 and exactly `want` as the body. */
static void call_ok(myc_kernel *k, const char *uri, const char *want) {
  char *reply = NULL;
  int rc = myc_test_call(k, "GET", uri, NULL, &reply);
  if (rc != 0) fail_msg("%s: %s (%s)", uri, myc_err_name(rc), reply ? reply : "");
  assert_string_equal(reply, want);
  free(reply);
}

/* ==== The ABI's fixed points ========================================== */

/* Both structs start with abi_major, abi_minor, size; the 1.0 minimum is
 * the whole 1.0 descriptor; the entry symbol carries the major. */
static void test_abi_layout(void **state) {
  assert_int_equal(offsetof(myc_plugin, abi_major), 0);
  assert_int_equal(offsetof(myc_plugin, abi_minor), 2);
  assert_int_equal(offsetof(myc_plugin, size), 4);
  assert_int_equal(offsetof(myc_host, abi_major), 0);
  assert_int_equal(offsetof(myc_host, abi_minor), 2);
  assert_int_equal(offsetof(myc_host, size), 4);
  assert_int_equal(MYC_PLUGIN_MIN_SIZE, sizeof(myc_plugin));
  assert_string_equal(MYC_PLUGIN_ENTRY_NAME, "myc_plugin_entry_v1");
  const myc_host *h = myc_host_table();
  assert_int_equal(h->abi_major, MYC_ABI_MAJOR);
  assert_int_equal(h->abi_minor, MYC_ABI_MINOR);
  assert_int_equal(h->size, sizeof(myc_host));
  assert_true(MYC_HOST_HAS(h, err_name));
}

/* plugin.h compiles alone as strict C11 (skipped without a compiler). */
static void test_header_standalone(void **state) {
  if (system("command -v cc >/dev/null 2>&1") != 0) skip();
  char *cmd = myc_test_fmt(
      "printf '#include <mycelia/plugin.h>\\nint main(void) { return "
      "MYC_ABI_MAJOR - 1; }\\n' | cc -std=c11 -Wall -Wextra -pedantic -Werror "
      "-fsyntax-only -I'%s/kernel/include' -x c - 2>&1",
      MYC_TEST_SOURCE_DIR);
  int rc = system(cmd);
  free(cmd);
  assert_int_equal(rc, 0);
}

/* ==== ABI refusals ===================================================== */

/* A plugin that loads, for contrast with every refusal below. */
static void test_good_plugin_loads(void **state) {
  myc_kernel *k = started("[kernel]\nplugin_dir = %BAD%\nlog_level = error\n"
                          "[plugin good]\npath = myc_l_good.so\n");
  call_ok(k, "good://x", "good");
  myc_kernel_free(k);
}

/* A descriptor with another ABI major. */
static void test_refuse_other_major(void **state) {
  expect_refusal("[kernel]\nplugin_dir = %BAD%\n"
                 "[plugin bad]\n"
                 "path = myc_l_abi2.so\n",
                 "test.ini:4: plugin 'bad' (", BAD "/myc_l_abi2.so",
                 "built for ABI 2.0, this host speaks 1.0", NULL);
}

/* Only another major's entry symbol: the refusal names it. */
static void test_refuse_other_entry_symbol(void **state) {
  expect_refusal("[kernel]\nplugin_dir = %BAD%\n"
                 "[plugin future]\n"
                 "path = myc_l_entry_v2.so\n",
                 "test.ini:4: plugin 'future' (", BAD "/myc_l_entry_v2.so",
                 "myc_plugin_entry_v2", "ABI 2", "this host speaks 1.0", NULL);
}

/* A shared object with no entry symbol at all. */
static void test_refuse_no_entry(void **state) {
  expect_refusal("[kernel]\nplugin_dir = %BAD%\n"
                 "[plugin l_noentry]\n",
                 "test.ini:3: plugin 'l_noentry' (", BAD "/myc_l_noentry.so",
                 "no entry symbol 'myc_plugin_entry_v1'", NULL);
}

/* A descriptor shorter than this major's minimum. */
static void test_refuse_short_descriptor(void **state) {
  char want[128];
  snprintf(want, sizeof(want), "descriptor is %zu bytes, ABI 1 needs at least %zu",
           offsetof(myc_plugin, init), (size_t)MYC_PLUGIN_MIN_SIZE);
  expect_refusal("[kernel]\nplugin_dir = %BAD%\n"
                 "\n"
                 "[plugin short]\n"
                 "path = myc_l_short_desc.so\n",
                 "test.ini:5: plugin 'short' (", BAD "/myc_l_short_desc.so", want, NULL);
}

/* A descriptor without its required handle callback. */
static void test_refuse_missing_handle(void **state) {
  expect_refusal("[kernel]\nplugin_dir = %BAD%\n"
                 "[plugin l_nohandle]\n",
                 "test.ini:3: plugin 'l_nohandle' (", BAD "/myc_l_nohandle.so",
                 "missing required callback 'handle'", NULL);
}

/* An entry function that refuses the host. */
static void test_refuse_entry_returns_null(void **state) {
  expect_refusal("[kernel]\nplugin_dir = %BAD%\n"
                 "[plugin picky]\npath = myc_l_refusehost.so\n",
                 "test.ini:4: plugin 'picky' (", BAD "/myc_l_refusehost.so",
                 "its entry function refused this host (ABI 1.0)", NULL);
}

/* A section whose plugin file does not exist. */
static void test_refuse_missing_file(void **state) {
  expect_refusal("[kernel]\nplugin_dir = %BAD%\n"
                 "[plugin ghost]\n",
                 "test.ini:3: plugin 'ghost' (", BAD "/myc_ghost.so",
                 "cannot open: No such file or directory", NULL);
}

/* init fails: the refusal carries the plugin's reason; fini runs once for
 * every plugin whose init ran (the failed one too), never for the rest. */
static void test_init_failure(void **state) {
  char *dir = myc_test_tmpdir();
  char *ini = myc_test_fmt(
      "[kernel]\nplugin_dir = %%BAD%%\n"
      "[plugin one]\npath = myc_l_initfail.so\nfail = false\nmarker = %s/one\n"
      "[plugin two]\npath = myc_l_initfail.so\nmarker = %s/two\n"
      "[plugin three]\npath = myc_l_initfail.so\nfail = no\nmarker = %s/three\n",
      dir, dir, dir);
  expect_refusal(ini, "test.ini:7: plugin 'two' (", BAD "/myc_l_initfail.so",
                 "init failed: deliberate failure of 'two' (fail = true)", NULL);
  char *one = myc_test_fmt("%s/one", dir), *two = myc_test_fmt("%s/two", dir),
       *three = myc_test_fmt("%s/three", dir);
  char *s1 = myc_test_read_file_or_empty(one), *s2 = myc_test_read_file_or_empty(two);
  assert_string_equal(s1, "init\nfini\n");
  assert_string_equal(s2, "init\nfini\n");
  assert_int_equal(access(three, F_OK), -1);
  free(s1);
  free(s2);
  free(one);
  free(two);
  free(three);
  free(ini);
  myc_test_rmtree(dir);
  free(dir);
}

/* ==== Where a plugin may live ========================================== */

/* "../" out of plugin_dir, though the file itself is fine. */
static void test_refuse_dotdot(void **state) {
  myc_kernel *k = myc_test_kernel("[kernel]\nplugin_dir = %BAD%\nlog_level = error\n"
                                  "[plugin good]\npath = ../test-plugins/myc_l_good.so\n");
  myc_kernel_free(k);
  expect_refusal("[kernel]\nplugin_dir = %PLUGINS%\n"
                 "[plugin good]\npath = ../test-plugins/myc_l_good.so\n",
                 "test.ini:4: plugin 'good' (", "myc_l_good.so", "outside plugin_dir", NULL);
}

/* A symlink in plugin_dir to a file elsewhere is refused; one to a file
 * inside plugin_dir is fine. */
static void test_refuse_symlink_out(void **state) {
  char *dir = myc_test_tmpdir();
  assert_int_equal(chmod(dir, 0755), 0);
  char *inside = myc_test_fmt("%s/myc_real.so", dir), *alias = myc_test_fmt("%s/myc_alias.so", dir);
  char *away = myc_test_fmt("%s/myc_away.so", dir);
  myc_test_copy_file(BAD "/myc_l_good.so", inside, 0755);
  assert_int_equal(symlink(inside, alias), 0);
  assert_int_equal(symlink(BAD "/myc_l_good.so", away), 0);

  char *ini = myc_test_fmt(
      "[kernel]\nplugin_dir = %s\nlog_level = error\n"
      "[plugin good]\npath = myc_alias.so\n",
      dir);
  myc_kernel *k = started(ini);
  call_ok(k, "good://a", "good");
  myc_kernel_free(k);
  free(ini);

  ini = myc_test_fmt(
      "[kernel]\nplugin_dir = %s\n"
      "[plugin good]\npath = myc_away.so\n",
      dir);
  expect_refusal(ini, "test.ini:4: plugin 'good' (", "myc_away.so",
                 "resolves to '" BAD "/myc_l_good.so', outside plugin_dir", NULL);
  free(ini);
  free(inside);
  free(alias);
  free(away);
  myc_test_rmtree(dir);
  free(dir);
}

/* A plugin file writable by group or others is refused; the same file
 * with mode 0644 loads. */
static void test_refuse_writable_file(void **state) {
  char *dir = myc_test_tmpdir();
  assert_int_equal(chmod(dir, 0755), 0);
  char *file = myc_test_fmt("%s/myc_copy.so", dir);
  myc_test_copy_file(BAD "/myc_l_good.so", file, 0644);
  char *ini = myc_test_fmt(
      "[kernel]\nplugin_dir = %s\nlog_level = error\n"
      "[plugin good]\npath = myc_copy.so\n",
      dir);
  myc_kernel *k = started(ini);
  call_ok(k, "good://a", "good");
  myc_kernel_free(k);

  static const mode_t bad_modes[] = {0664, 0646, 0775};
  for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
    assert_int_equal(chmod(file, bad_modes[i]), 0);
    expect_refusal(ini, "test.ini:5: plugin 'good' (", file, "writable by group or others",
                   NULL);
  }
  free(ini);
  free(file);
  myc_test_rmtree(dir);
  free(dir);
}

/* A plugin_dir writable by group or others is refused, whatever the file. */
static void test_refuse_writable_dir(void **state) {
  char *dir = myc_test_tmpdir();
  char *file = myc_test_fmt("%s/myc_copy.so", dir);
  myc_test_copy_file(BAD "/myc_l_good.so", file, 0644);
  char *ini = myc_test_fmt(
      "[kernel]\nplugin_dir = %s\nlog_level = error\n"
      "[plugin good]\npath = myc_copy.so\n",
      dir);
  assert_int_equal(chmod(dir, 0755), 0);
  myc_kernel_free(myc_test_kernel(ini));

  static const mode_t bad_modes[] = {0777, 0757, 0775};
  for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
    assert_int_equal(chmod(dir, bad_modes[i]), 0);
    expect_refusal(ini, "test.ini:5: plugin 'good' (", "myc_copy.so", "plugin_dir",
                   "writable by group or others", NULL);
  }
  assert_int_equal(chmod(dir, 0700), 0);
  free(ini);
  free(file);
  myc_test_rmtree(dir);
  free(dir);
}

/* ==== Exported symbols ================================================= */

/* Symbols the static linker or the toolchain put into every object. */
static bool toolchain_symbol(const char *s) {
  return strcmp(s, "_init") == 0 || strcmp(s, "_fini") == 0 || strcmp(s, "_edata") == 0 ||
         strcmp(s, "_end") == 0 || strcmp(s, "__bss_start") == 0 || strncmp(s, "__", 2) == 0 ||
         strcmp(s, "mangle_path") == 0; /* gcov's runtime, in coverage builds */
}

/* `nm -D --defined-only` on every built plugin: the entry symbol and
 * nothing else of ours. */
static void test_one_exported_symbol(void **state) {
  if (system("command -v nm >/dev/null 2>&1") != 0) skip();
  glob_t g;
  assert_int_equal(glob(MYC_TEST_PLUGIN_DIR "/myc_*.so", 0, NULL, &g), 0);
  assert_true(g.gl_pathc >= 3); /* echo, kv, console at least */
  for (size_t i = 0; i < g.gl_pathc; i++) {
    char *cmd = myc_test_fmt("nm -D --defined-only '%s'", g.gl_pathv[i]);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[1024], name[512];
    int entries = 0;
    while (fgets(line, sizeof(line), p)) {
      /* "ADDRESS TYPE NAME" */
      if (sscanf(line, "%*s %*s %511s", name) != 1) continue;
      char *at = strchr(name, '@');
      if (at) *at = '\0';
      if (strcmp(name, MYC_PLUGIN_ENTRY_NAME) == 0) {
        entries++;
        continue;
      }
      if (!toolchain_symbol(name))
        fail_msg("%s exports '%s': build plugins with hidden visibility", g.gl_pathv[i], name);
    }
    assert_int_equal(pclose(p), 0);
    if (entries != 1) fail_msg("%s: %d entry symbols", g.gl_pathv[i], entries);
    free(cmd);
  }
  globfree(&g);
}

/* ==== Plugin keys against the spec ===================================== */

#define SPEC_HEAD "[kernel]\nplugin_dir = %BAD%\nlog_level = error\n[plugin spec]\npath = myc_l_spec.so\n"

/* Good values of every type pass; unset keys read as their defaults. */
static void test_spec_accepts_and_defaults(void **state) {
  myc_kernel *k = started(SPEC_HEAD "name = ada\n");
  call_ok(k, "spec://conf", "name=ada count=3 flag=false mode=fast ratio=-");
  myc_kernel_free(k);
  k = started(SPEC_HEAD "name = bob\ncount = -42\nflag = yes\nmode = slow\nratio = 0.25\n");
  call_ok(k, "spec://conf", "name=bob count=-42 flag=yes mode=slow ratio=0.25");
  myc_kernel_free(k);
}

/* Each error is exactly "FILE:LINE: [plugin NAME] ...". */
static void spec_error(const char *keys, const char *want) {
  char *ini = myc_test_fmt("%s%s", SPEC_HEAD, keys);
  char *err = myc_test_kernel_error(ini);
  assert_string_equal(err, want);
  free(err);
  free(ini);
}

/* Unknown keys, bad values of each type, a missing required key. */
static void test_spec_errors(void **state) {
  spec_error("name = x\ncolour = red\n",
             "test.ini:7: [plugin spec] unknown key 'colour' "
             "(known: name, count, flag, mode, ratio)");
  spec_error("name = x\n\ncount = many\n",
             "test.ini:8: [plugin spec] count = 'many': expected an integer");
  spec_error("name = x\ncount = 12abc\n",
             "test.ini:7: [plugin spec] count = '12abc': expected an integer");
  spec_error("flag = maybe\nname = x\n",
             "test.ini:6: [plugin spec] flag = 'maybe': expected true or false");
  spec_error("name = x\nmode = medium\n",
             "test.ini:7: [plugin spec] mode = 'medium': expected one of fast|slow");
  spec_error("name = x\nratio = half\n",
             "test.ini:7: [plugin spec] ratio = 'half': expected a number");
  spec_error("count = 1\n",
             "test.ini:4: [plugin spec] missing required key 'name' (what to call it)");
}

/* A plugin without a spec takes no keys of its own. */
static void test_no_spec_no_keys(void **state) {
  char *err = myc_test_kernel_error("[kernel]\nplugin_dir = %PLUGINS%\n"
                                    "[plugin echo]\nprefix = x\n");
  assert_string_equal(err, "test.ini:4: [plugin echo] unknown key 'prefix' "
                           "(this plugin takes no keys)");
  free(err);
}

/* ==== Registration only during init ==================================== */

/* register_scheme/register_route from start(), handle() and the host
 * program: MYC_ESTATE, and nothing is registered. */
static void test_register_outside_init(void **state) {
  myc_kernel *k = started("[kernel]\nplugin_dir = %BAD%\nlog_level = error\n"
                          "[plugin late]\npath = myc_l_latereg.so\n");
  char want[64];
  snprintf(want, sizeof(want), "start=%d,%d handle=%d,%d", MYC_ESTATE, MYC_ESTATE, MYC_ESTATE,
           MYC_ESTATE);
  call_ok(k, "late://probe", want);
  /* what init registered works; what came later does not */
  char *reply = NULL;
  assert_int_equal(myc_test_call(k, "GET", "late2://x", NULL, &reply), MYC_ENOROUTE);
  assert_int_equal(myc_test_call(k, "GET", "late3://x", NULL, &reply), MYC_ENOROUTE);
  assert_int_equal(myc_test_call(k, "GET", "late://other", NULL, &reply), MYC_ENOROUTE);
  assert_int_equal(myc_test_call(k, "GET", "late://another", NULL, &reply), MYC_ENOROUTE);
  /* nor may the host program register */
  const myc_host *h = myc_host_table();
  assert_int_equal(h->register_scheme(myc_kernel_ctx(k), "hostish"), MYC_ESTATE);
  assert_int_equal(h->register_route(myc_kernel_ctx(k), "x", 1), MYC_ESTATE);
  myc_kernel_free(k);
}

/* ==== One plugin per scheme ============================================ */

/* The same default scheme from two instances of one plugin. */
static void test_duplicate_default_scheme(void **state) {
  expect_refusal("[kernel]\nplugin_dir = %PLUGINS%\n"
                 "[plugin echo]\n"
                 "[plugin echo2]\n"
                 "path = myc_echo.so\n",
                 "test.ini:4: [plugin echo2] scheme 'echo' is already served by 'echo'", NULL);
}

/* A scheme given in the config that another plugin serves by default. */
static void test_duplicate_configured_scheme(void **state) {
  expect_refusal("[kernel]\nplugin_dir = %PLUGINS%\n"
                 "[plugin echo]\n"
                 "[plugin store]\n"
                 "path = myc_kv.so\n"
                 "schemes = db, echo\n",
                 "test.ini:6: [plugin store] scheme 'echo' is already served by 'echo'", NULL);
  /* a disabled plugin claims nothing */
  myc_kernel *k = started("[kernel]\nplugin_dir = %PLUGINS%\nlog_level = error\n"
                          "[plugin echo]\n"
                          "[plugin echo2]\npath = myc_echo.so\nenabled = false\n");
  call_ok(k, "echo://a", "");
  myc_kernel_free(k);
}

/* A plugin that registers, in init, a scheme another plugin serves: the
 * kernel says MYC_EEXIST and the scheme stays with its owner. */
static void test_take_scheme_in_init(void **state) {
  expect_refusal("[kernel]\nplugin_dir = %BAD%\nlog_level = error\n"
                 "[plugin good]\npath = myc_l_good.so\n"
                 "[plugin taker]\npath = myc_l_takescheme.so\nscheme = good\n",
                 "test.ini:6: plugin 'taker' (", BAD "/myc_l_takescheme.so",
                 "init failed: cannot serve 'good': already exists (EEXIST)", NULL);

  myc_kernel *k = started("[kernel]\nplugin_dir = %BAD%\nlog_level = error\n"
                          "[plugin taker]\npath = myc_l_takescheme.so\nscheme = good\n"
                          "strict = false\n"
                          "[plugin good]\npath = myc_l_good.so\n");
  char want[32];
  snprintf(want, sizeof(want), "rc=%d", MYC_EEXIST);
  call_ok(k, "take://x", want);
  call_ok(k, "good://x", "good");
  myc_kernel_free(k);

  /* the kernel's own scheme cannot be taken either */
  k = started("[kernel]\nplugin_dir = %BAD%\nlog_level = error\n"
              "[plugin taker]\npath = myc_l_takescheme.so\nscheme = kernel\nstrict = no\n");
  call_ok(k, "take://x", want);
  char *reply = NULL;
  assert_int_equal(myc_test_call(k, "GET", "kernel://stats", NULL, &reply), 0);
  myc_test_assert_has(reply, "\"sent\":");
  assert_lacks(reply, "rc=");
  free(reply);
  myc_kernel_free(k);
}

/* Run every test. */
int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_abi_layout),
      cmocka_unit_test(test_header_standalone),
      cmocka_unit_test(test_good_plugin_loads),
      cmocka_unit_test(test_refuse_other_major),
      cmocka_unit_test(test_refuse_other_entry_symbol),
      cmocka_unit_test(test_refuse_no_entry),
      cmocka_unit_test(test_refuse_short_descriptor),
      cmocka_unit_test(test_refuse_missing_handle),
      cmocka_unit_test(test_refuse_entry_returns_null),
      cmocka_unit_test(test_refuse_missing_file),
      cmocka_unit_test(test_init_failure),
      cmocka_unit_test(test_refuse_dotdot),
      cmocka_unit_test(test_refuse_symlink_out),
      cmocka_unit_test(test_refuse_writable_file),
      cmocka_unit_test(test_refuse_writable_dir),
      cmocka_unit_test(test_one_exported_symbol),
      cmocka_unit_test(test_spec_accepts_and_defaults),
      cmocka_unit_test(test_spec_errors),
      cmocka_unit_test(test_no_spec_no_keys),
      cmocka_unit_test(test_register_outside_init),
      cmocka_unit_test(test_duplicate_default_scheme),
      cmocka_unit_test(test_duplicate_configured_scheme),
      cmocka_unit_test(test_take_scheme_in_init),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
