/* Tests for kernel/src/config.c: parsing, validation, errors, set, dup. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CONFIGS MYC_TEST_SOURCE_DIR "/tests/configs/"

/* ==== Helpers ========================================================== */

static myc_config *load_ok(const char *name) {
  myc_config *c = NULL;
  char *err = NULL;
  int rc = myc_config_load(name, &c, &err);
  if (rc != 0) fail_msg("loading %s: %s", name, err ? err : "(no message)");
  assert_null(err);
  assert_non_null(c);
  return c;
}

static myc_config *parse_ok(const char *text) {
  myc_config *c = NULL;
  char *err = NULL;
  int rc = myc_config_parse(text, "t.ini", &c, &err);
  if (rc != 0) fail_msg("parse: %s", err ? err : "(no message)");
  assert_null(err);
  assert_non_null(c);
  return c;
}

/* Parse `text` as "t.ini" and expect exactly "t.ini:" + want. */
static void parse_err(const char *text, const char *want) {
  myc_config *c = (myc_config *)&c; /* must be reset to NULL */
  char *err = NULL;
  char full[1024];
  int rc = myc_config_parse(text, "t.ini", &c, &err);
  assert_int_equal(rc, MYC_ECONFIG);
  assert_null(c);
  assert_non_null(err);
  snprintf(full, sizeof(full), "t.ini:%s", want);
  assert_string_equal(err, full);
  free(err);
}

/* Load tests/configs/`name` and expect "PATH:" + want. */
static void load_err(const char *name, int code, const char *want) {
  myc_config *c = (myc_config *)&c;
  char *err = NULL;
  char path[512], full[1024];
  snprintf(path, sizeof(path), "%s%s", CONFIGS, name);
  int rc = myc_config_load(path, &c, &err);
  assert_int_equal(rc, code);
  assert_null(c);
  assert_non_null(err);
  snprintf(full, sizeof(full), "%s:%s", path, want);
  assert_string_equal(err, full);
  free(err);
}

static void set_err(myc_config *c, const char *sect, const char *key,
                    const char *value, const char *want) {
  char *err = NULL;
  assert_int_equal(myc_config_set(c, sect, key, value, &err), MYC_ECONFIG);
  assert_non_null(err);
  assert_string_equal(err, want);
  free(err);
}

static void set_ok(myc_config *c, const char *sect, const char *key,
                   const char *value) {
  char *err = NULL;
  int rc = myc_config_set(c, sect, key, value, &err);
  if (rc != 0) fail_msg("set [%s] %s = %s: %s", sect, key, value, err);
  assert_null(err);
}

static void assert_defaults(const myc_config *c) {
  assert_string_equal(c->plugin_dir, "build/plugins");
  assert_int_equal(c->pool_size, 2000);
  assert_int_equal(c->pool_warmup, 0);
  assert_int_equal(c->queue_capacity, 1024);
  assert_int_equal(c->overflow, MYC__OVF_REJECT);
  assert_int_equal(c->workers, 0);
  assert_int_equal(c->log_level, MYC_LOG_INFO);
  assert_int_equal(c->request_timeout_ms, 30000);
  assert_int_equal(c->block_timeout_ms, 1000);
  assert_int_equal(c->max_uri_length, 2048);
  assert_int_equal(c->max_body_size, 16777216);
}

/* ==== Good input ======================================================= */

static void test_defaults(void **state) {
  (void)state;
  myc_config *c = NULL;
  assert_int_equal(myc_config_new(&c), 0);
  assert_string_equal(c->file, "<memory>");
  assert_defaults(c);
  assert_int_equal(c->nplugins, 0);
  myc_config_free(c);

  c = parse_ok("");
  assert_defaults(c);
  assert_string_equal(c->file, "t.ini");
  myc_config_free(c);

  c = load_ok(CONFIGS "good_minimal.ini");
  assert_defaults(c);
  assert_int_equal(c->nplugins, 0);
  myc_config_free(c);
  myc_config_free(NULL);
}

static void test_full_file(void **state) {
  (void)state;
  myc_config *c = load_ok(CONFIGS "good_full.ini");
  assert_string_equal(c->file, CONFIGS "good_full.ini");
  assert_string_equal(c->plugin_dir, "build/plugins");
  assert_int_equal(c->pool_size, 4000);
  assert_int_equal(c->pool_warmup, 1000);
  assert_int_equal(c->queue_capacity, 1000);
  assert_int_equal(c->overflow, MYC__OVF_DROP_OLDEST);
  assert_int_equal(c->workers, 2);
  assert_int_equal(c->log_level, MYC_LOG_DEBUG);
  assert_int_equal(c->request_timeout_ms, 5000);
  assert_int_equal(c->block_timeout_ms, 250);
  assert_int_equal(c->max_uri_length, 4096);
  assert_int_equal(c->max_body_size, 1048576);
  assert_int_equal(c->nplugins, 4);

  const myc__pcfg *kv = myc__config_find(c, "kv");
  assert_ptr_equal(kv, &c->plugins[0]);
  assert_int_equal(kv->line, 16);
  assert_true(kv->enabled);
  assert_string_equal(kv->path, "myc_kv.so");
  assert_int_equal(kv->path_line, 18);
  assert_int_equal(kv->nschemes, 2);
  assert_string_equal(kv->schemes[0], "db");
  assert_string_equal(kv->schemes[1], "cache");
  assert_int_equal(kv->schemes_line, 19);
  assert_int_equal(kv->queue_capacity, 0);
  assert_int_equal(kv->overflow, -1);
  assert_int_equal(kv->block_timeout_ms, UINT32_MAX);
  assert_null(kv->allow_send);
  assert_int_equal(kv->nkeys, 2);
  assert_string_equal(kv->keys[0].key, "file");
  assert_string_equal(kv->keys[0].value, "data/kv.log");
  assert_int_equal(kv->keys[0].line, 20);
  assert_string_equal(kv->keys[1].key, "sync");
  assert_string_equal(kv->keys[1].value, "on");
  assert_int_equal(kv->keys[1].line, 21);

  const myc__pcfg *con = myc__config_find(c, "console");
  assert_non_null(con);
  assert_int_equal(con->line, 23);
  assert_true(con->enabled);
  assert_string_equal(con->path, "myc_console.so");
  assert_int_equal(con->path_line, 0);
  assert_null(con->schemes);
  assert_int_equal(con->queue_capacity, 64);
  assert_int_equal(con->overflow, MYC__OVF_BLOCK);
  assert_int_equal(con->block_timeout_ms, 0);
  assert_int_equal(con->nallow, 2);
  assert_string_equal(con->allow_send[0], "db");
  assert_string_equal(con->allow_send[1], "kernel");
  assert_int_equal(con->nkeys, 0);

  /* Disabled, so its "db" does not clash with [plugin kv]. */
  const myc__pcfg *bak = myc__config_find(c, "backup");
  assert_non_null(bak);
  assert_false(bak->enabled);
  assert_int_equal(bak->nschemes, 1);

  /* An empty section still makes a plugin, with every default. */
  const myc__pcfg *echo = myc__config_find(c, "echo");
  assert_non_null(echo);
  assert_int_equal(echo->line, 34);
  assert_true(echo->enabled);
  assert_string_equal(echo->path, "myc_echo.so");
  assert_null(echo->schemes);
  assert_int_equal(echo->nkeys, 0);

  assert_null(myc__config_find(c, "nope"));
  assert_null(myc__config_find(c, "KV"));
  myc_config_free(c);
}

static void test_syntax_variants(void **state) {
  (void)state;
  /* BOM, CRLF, indentation, ':' separator, comments, spaced header,
   * no final newline. */
  myc_config *c = parse_ok(
      "\xEF\xBB\xBF[kernel]\r\n"
      "  workers = 4 ; four\r\n"
      "; comment\r\n"
      "# comment\r\n"
      "\r\n"
      "[ plugin   kv ]   ; trailing comment\r\n"
      "\tschemes: db\r\n"
      "  enabled = OFF\n"
      "file = a = b");
  assert_int_equal(c->workers, 4);
  assert_int_equal(c->nplugins, 1);
  assert_string_equal(c->plugins[0].name, "kv");
  assert_int_equal(c->plugins[0].line, 6);
  assert_false(c->plugins[0].enabled);
  assert_string_equal(c->plugins[0].schemes[0], "db");
  assert_int_equal(c->plugins[0].schemes_line, 7);
  assert_string_equal(c->plugins[0].keys[0].value, "a = b");
  assert_int_equal(c->plugins[0].keys[0].line, 9);
  myc_config_free(c);

  /* 63-character plugin names survive (inih alone cuts at 49). */
  const char *name63 =
      "p23456789_123456789-123456789_123456789_123456789_123456789_123";
  char text[256];
  snprintf(text, sizeof(text), "[plugin %s]\nschemes = a.b+c-d\n", name63);
  c = parse_ok(text);
  assert_string_equal(c->plugins[0].name, name63);
  assert_string_equal(c->plugins[0].schemes[0], "a.b+c-d");
  myc_config_free(c);
}

static void test_bools_and_numbers(void **state) {
  (void)state;
  static const char *const yes[] = {"true", "TRUE", "Yes", "on", "1"};
  static const char *const no[] = {"false", "No", "OFF", "0"};
  bool b;
  for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
    b = false;
    assert_true(myc__parse_bool(yes[i], &b));
    assert_true(b);
  }
  for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
    b = true;
    assert_true(myc__parse_bool(no[i], &b));
    assert_false(b);
  }
  assert_false(myc__parse_bool("", &b));
  assert_false(myc__parse_bool("2", &b));
  assert_false(myc__parse_bool("truee", &b));
  assert_false(myc__parse_bool(" true", &b));

  uint64_t v = 7;
  assert_int_equal(myc__parse_u64("0", 0, 10, &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(myc__parse_u64("18446744073709551615", 0, UINT64_MAX, &v),
                   0);
  assert_true(v == UINT64_MAX);
  v = 7;
  assert_int_equal(myc__parse_u64("18446744073709551616", 0, UINT64_MAX, &v),
                   MYC_EINVAL);
  assert_int_equal(myc__parse_u64("", 0, 10, &v), MYC_EINVAL);
  assert_int_equal(myc__parse_u64("-1", 0, 10, &v), MYC_EINVAL);
  assert_int_equal(myc__parse_u64("+1", 0, 10, &v), MYC_EINVAL);
  assert_int_equal(myc__parse_u64(" 1", 0, 10, &v), MYC_EINVAL);
  assert_int_equal(myc__parse_u64("1k", 0, 10, &v), MYC_EINVAL);
  assert_int_equal(myc__parse_u64("0x1", 0, 10, &v), MYC_EINVAL);
  assert_int_equal(myc__parse_u64("11", 0, 10, &v), MYC_EINVAL);
  assert_int_equal(myc__parse_u64("1", 2, 10, &v), MYC_EINVAL);
  assert_int_equal(v, 7);
}

/* Every [kernel] number at and just past both ends of its range. */
static void test_kernel_ranges(void **state) {
  (void)state;
  static const struct {
    const char *key;
    unsigned long long min, max;
  } r[] = {
      {"pool_size", 1, 10000000},          {"pool_warmup", 0, 10000000},
      {"queue_capacity", 2, 16777216},     {"workers", 0, 64},
      {"request_timeout_ms", 1, 86400000}, {"block_timeout_ms", 0, 86400000},
      {"max_uri_length", 16, 65535},       {"max_body_size", 0, 1073741824},
  };
  char text[256], want[512];
  for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
    unsigned long long ok[2] = {r[i].min, r[i].max};
    for (int j = 0; j < 2; j++) {
      snprintf(text, sizeof(text), "[kernel]\n%s = %llu\n", r[i].key, ok[j]);
      myc_config *c = parse_ok(text);
      myc_config_free(c);
    }
    snprintf(text, sizeof(text), "[kernel]\n%s = %llu\n", r[i].key,
             r[i].max + 1);
    snprintf(want, sizeof(want),
             "2: [kernel] %s = '%llu': expected an integer from %llu to %llu",
             r[i].key, r[i].max + 1, r[i].min, r[i].max);
    parse_err(text, want);
    if (r[i].min > 0) {
      snprintf(text, sizeof(text), "[kernel]\n%s = %llu\n", r[i].key,
               r[i].min - 1);
      snprintf(want, sizeof(want),
               "2: [kernel] %s = '%llu': expected an integer from %llu to %llu",
               r[i].key, r[i].min - 1, r[i].min, r[i].max);
      parse_err(text, want);
    }
  }
  parse_err("[kernel]\npool_size = 20k\n",
            "2: [kernel] pool_size = '20k': expected an integer from 1 to "
            "10000000");
  parse_err("[kernel]\npool_size = -5\n",
            "2: [kernel] pool_size = '-5': expected an integer from 1 to "
            "10000000");
  parse_err("[kernel]\nplugin_dir =\n",
            "2: [kernel] plugin_dir is empty: expected a path");

  myc_config *c = parse_ok("[kernel]\noverflow = block\nlog_level = warn\n");
  assert_int_equal(c->overflow, MYC__OVF_BLOCK);
  assert_int_equal(c->log_level, MYC_LOG_WARN);
  myc_config_free(c);
}

/* ==== Errors from the fixtures ========================================= */

static void test_fixture_errors(void **state) {
  (void)state;
  load_err("bad_unknown_key.ini", MYC_ECONFIG,
           "4: [kernel] unknown key 'pool_sise' (known: plugin_dir, "
           "pool_size, pool_warmup, queue_capacity, overflow, workers, "
           "log_level, request_timeout_ms, block_timeout_ms, max_uri_length, "
           "max_body_size)");
  load_err("bad_dup_scheme.ini", MYC_ECONFIG,
           "9: scheme 'db' is already used by [plugin kv] (line 5)");
  load_err("bad_dup_section.ini", MYC_ECONFIG,
           "9: duplicate section [plugin kv] (first at line 4)");
  load_err("bad_dup_kernel_section.ini", MYC_ECONFIG,
           "6: duplicate section [kernel] (first at line 1)");
  load_err("bad_dup_key.ini", MYC_ECONFIG,
           "4: duplicate key 'pool_size' in [kernel] (first at line 2)");
  load_err("bad_dup_plugin_key.ini", MYC_ECONFIG,
           "4: duplicate key 'file' in [plugin kv] (first at line 2)");
  load_err("bad_overflow.ini", MYC_ECONFIG,
           "6: [plugin kv] overflow = 'sometimes': expected reject, "
           "drop_oldest or block");
  load_err("bad_range.ini", MYC_ECONFIG,
           "3: [kernel] workers = '128': expected an integer from 0 to 64");
  load_err("bad_syntax.ini", MYC_ECONFIG,
           "2: syntax error: expected 'key = value' or '[section]'");
  load_err("bad_section.ini", MYC_ECONFIG,
           "2: unknown section [kernal] (expected [kernel] or [plugin NAME])");
  load_err("bad_outside_section.ini", MYC_ECONFIG,
           "2: key 'workers' is outside any section (put it under [kernel] "
           "or [plugin NAME])");
  load_err("bad_scheme.ini", MYC_ECONFIG,
           "2: [plugin kv] schemes: 'My_Cache' is not a valid scheme "
           "(expected a lowercase letter, then a-z 0-9 + . -, at most 31 "
           "characters)");
  load_err("bad_empty_schemes.ini", MYC_ECONFIG,
           "3: [plugin kv] schemes is empty: expected a comma-separated list "
           "of schemes such as 'db, cache' (remove the key to use the "
           "plugin's default schemes)");
  load_err("bad_plugin_name.ini", MYC_ECONFIG,
           "3: invalid plugin name 'key value' in [plugin key value]: use 1 "
           "to 63 characters from A-Z a-z 0-9 _ -");
  load_err("bad_bool.ini", MYC_ECONFIG,
           "2: [plugin kv] enabled = 'maybe': expected true or false (or "
           "yes/no, on/off, 1/0)");
  load_err("bad_log_level.ini", MYC_ECONFIG,
           "2: [kernel] log_level = 'verbose': expected error, warn, info or "
           "debug");
  load_err("bad_long_line.ini", MYC_ECONFIG,
           "3: line too long (max 199 bytes)");
}

static void test_missing_file(void **state) {
  (void)state;
  myc_config *c = (myc_config *)&c;
  char *err = NULL;
  assert_int_equal(myc_config_load("tests/configs/nope.ini", &c, &err),
                   MYC_EIO);
  assert_null(c);
  assert_string_equal(err,
                      "tests/configs/nope.ini: cannot open: No such file or "
                      "directory");
  free(err);

  c = (myc_config *)&c;
  assert_int_equal(myc_config_load(CONFIGS, &c, &err), MYC_EIO);
  assert_null(c);
  assert_string_equal(err, CONFIGS ": cannot open: Is a directory");
  free(err);

  /* err may be NULL. */
  assert_int_equal(myc_config_load("tests/configs/nope.ini", &c, NULL),
                   MYC_EIO);
  assert_int_equal(myc_config_load(CONFIGS "bad_range.ini", &c, NULL),
                   MYC_ECONFIG);
  assert_null(c);
}

/* ==== Errors from text ================================================= */

static void test_section_errors(void **state) {
  (void)state;
  parse_err("[plugin]\n", "1: section [plugin] needs a name, e.g. [plugin kv]");
  parse_err("[plugin ]\n",
            "1: section [plugin] needs a name, e.g. [plugin kv]");
  parse_err("[pluginkv]\n",
            "1: unknown section [pluginkv] (expected [kernel] or [plugin "
            "NAME])");
  parse_err("[]\n",
            "1: unknown section [] (expected [kernel] or [plugin NAME])");
  parse_err("[Kernel]\n",
            "1: unknown section [Kernel] (expected [kernel] or [plugin NAME])");
  parse_err("[plugin k.v]\n",
            "1: invalid plugin name 'k.v' in [plugin k.v]: use 1 to 63 "
            "characters from A-Z a-z 0-9 _ -");
  parse_err(
      "[plugin "
      "p23456789_123456789_123456789_123456789_123456789_123456789_1234]"
      "\n",
      "1: invalid plugin name "
      "'p23456789_123456789_123456789_123456789_123456789_123456789_1234'"
      " in [plugin "
      "p23456789_123456789_123456789_123456789_123456789_123456789_1234]"
      ": use 1 to 63 characters from A-Z a-z 0-9 _ -");
  parse_err("[kernel\nworkers = 1\n",
            "1: syntax error: missing ']' in section header");
  parse_err("[kernel] workers = 1\n",
            "1: syntax error: unexpected text after ']'");
  parse_err("[kernel]\n[plugin a]\n[plugin b]\n[plugin a]\n",
            "4: duplicate section [plugin a] (first at line 2)");
}

static void test_key_errors(void **state) {
  (void)state;
  parse_err("[kernel]\n= 5\n",
            "2: syntax error: expected 'key = value' or '[section]'");
  /* An indented line is not a continuation of the previous value. */
  parse_err("[plugin kv]\nfile = a\n  b\n",
            "3: syntax error: expected 'key = value' or '[section]'");
  parse_err("[plugin kv]\nschemes = db,,x\n",
            "2: [plugin kv] schemes = 'db,,x': empty scheme name in the list");
  parse_err("[plugin kv]\nschemes = db,\n",
            "2: [plugin kv] schemes = 'db,': empty scheme name in the list");
  parse_err("[plugin kv]\nschemes = db, cache, db\n",
            "2: [plugin kv] schemes: 'db' is listed twice");
  parse_err("[plugin kv]\nschemes = 9db\n",
            "2: [plugin kv] schemes: '9db' is not a valid scheme (expected a "
            "lowercase letter, then a-z 0-9 + . -, at most 31 characters)");
  parse_err("[plugin kv]\nschemes = abcdefghijklmnopqrstuvwxyz012345\n",
            "2: [plugin kv] schemes: 'abcdefghijklmnopqrstuvwxyz012345' is "
            "not a valid scheme (expected a lowercase letter, then a-z 0-9 + "
            ". -, at most 31 characters)");
  myc_config *c =
      parse_ok("[plugin kv]\nschemes = abcdefghijklmnopqrstuvwxyz01234\n");
  myc_config_free(c);
  parse_err("[plugin kv]\nallow_send =\n",
            "2: [plugin kv] allow_send is empty: expected a comma-separated "
            "list of schemes (remove the key to allow sending anywhere)");
  parse_err("[plugin kv]\nallow_send = db, Kernel\n",
            "2: [plugin kv] allow_send: 'Kernel' is not a valid scheme "
            "(expected a lowercase letter, then a-z 0-9 + . -, at most 31 "
            "characters)");
  parse_err("[plugin kv]\nqueue_capacity = 1\n",
            "2: [plugin kv] queue_capacity = '1': expected 0 (use the "
            "kernel's queue_capacity) or an integer from 2 to 16777216");
  parse_err("[plugin kv]\nblock_timeout_ms = 86400001\n",
            "2: [plugin kv] block_timeout_ms = '86400001': expected an integer "
            "from 0 to 86400000");
  parse_err("[plugin kv]\npath =\n",
            "2: [plugin kv] path is empty: expected a path");
  parse_err("[plugin kv]\nenabled = yes\nenabled = no\n",
            "3: duplicate key 'enabled' in [plugin kv] (first at line 2)");
  parse_err("[kernel]\noverflow = Reject\n",
            "2: [kernel] overflow = 'Reject': expected reject, drop_oldest or "
            "block");

  c = parse_ok(
      "[plugin kv]\nqueue_capacity = 0\n[plugin b]\nqueue_capacity = 3\n");
  assert_int_equal(c->plugins[0].queue_capacity, 0);
  assert_int_equal(c->plugins[1].queue_capacity, 3);
  myc_config_free(c);
}

static void test_first_error_wins(void **state) {
  (void)state;
  /* A value error before a syntax error. */
  parse_err("[kernel]\nworkers = 99\nnonsense\n[bogus]\n",
            "2: [kernel] workers = '99': expected an integer from 0 to 64");
  /* A syntax error before a value error and a section error. */
  parse_err("[kernel]\nnonsense\nworkers = 99\n[bogus]\n",
            "2: syntax error: expected 'key = value' or '[section]'");
  parse_err("[kernel]\nnonsense\n[bogus]\n",
            "2: syntax error: expected 'key = value' or '[section]'");
  /* A section error before a syntax error. */
  parse_err("[bogus]\nnonsense\n",
            "1: unknown section [bogus] (expected [kernel] or [plugin NAME])");
  /* Line errors beat the scheme check done at the end. */
  parse_err(
      "[plugin a]\nschemes = db\n[plugin b]\nschemes = db\n"
      "[kernel]\nworkers = x\n",
      "6: [kernel] workers = 'x': expected an integer from 0 to 64");
}

static void test_duplicate_schemes(void **state) {
  (void)state;
  /* Disabled plugins do not count, wherever `enabled` comes. */
  myc_config *c = parse_ok(
      "[plugin a]\nschemes = db\n"
      "[plugin b]\nschemes = db\nenabled = no\n"
      "[plugin c]\nenabled = 0\nschemes = db, x\n"
      "[plugin d]\nschemes = x\n");
  assert_int_equal(c->nplugins, 4);
  myc_config_free(c);
  /* A plugin whose schemes come from its defaults (NULL) is not checked. */
  c = parse_ok("[plugin a]\n[plugin b]\n");
  myc_config_free(c);
  parse_err(
      "[plugin a]\nenabled = no\nschemes = db\n"
      "[plugin b]\nschemes = x, db\n"
      "[plugin c]\nschemes = y, db\n",
      "7: scheme 'db' is already used by [plugin b] (line 5)");
}

static void test_long_lines(void **state) {
  (void)state;
  char text[512];
  /* "file = " is 7 bytes: 199 in all fits, 200 does not. */
  snprintf(text, sizeof(text), "[plugin kv]\nfile = %0192d\n", 0);
  myc_config *c = parse_ok(text);
  assert_int_equal(strlen(c->plugins[0].keys[0].value), 192);
  myc_config_free(c);
  snprintf(text, sizeof(text), "[plugin kv]\nfile = %0193d\n", 0);
  parse_err(text, "2: line too long (max 199 bytes)");
  /* The "\r\n" does not count. */
  snprintf(text, sizeof(text), "[plugin kv]\r\nfile = %0192d\r\n", 0);
  c = parse_ok(text);
  myc_config_free(c);
}

/* ==== myc_config_set =================================================== */

static void test_set(void **state) {
  (void)state;
  myc_config *c = NULL;
  assert_int_equal(myc_config_new(&c), 0);

  set_ok(c, "kernel", "workers", "3");
  set_ok(c, "kernel", "workers", "4"); /* set replaces */
  assert_int_equal(c->workers, 4);
  set_ok(c, "kernel", "overflow", "drop_oldest");
  assert_int_equal(c->overflow, MYC__OVF_DROP_OLDEST);
  set_ok(c, "kernel", "plugin_dir", "/opt/mycelia/plugins");
  assert_string_equal(c->plugin_dir, "/opt/mycelia/plugins");

  set_err(c, "kernel", "pool_size", "0",
          "<memory>:0: [kernel] pool_size = '0': expected an integer from 1 "
          "to 10000000");
  assert_int_equal(c->pool_size, 2000);
  set_err(c, "kernel", "pool_sise", "1",
          "<memory>:0: [kernel] unknown key 'pool_sise' (known: plugin_dir, "
          "pool_size, pool_warmup, queue_capacity, overflow, workers, "
          "log_level, request_timeout_ms, block_timeout_ms, max_uri_length, "
          "max_body_size)");
  set_err(c, "kernal", "workers", "1",
          "<memory>:0: unknown section [kernal] (expected [kernel] or [plugin "
          "NAME])");

  /* A failed set on a new plugin leaves no plugin behind. */
  set_err(c, "plugin kv", "schemes", "DB",
          "<memory>:0: [plugin kv] schemes: 'DB' is not a valid scheme "
          "(expected a lowercase letter, then a-z 0-9 + . -, at most 31 "
          "characters)");
  assert_int_equal(c->nplugins, 0);

  set_ok(c, "plugin kv", "schemes", "db, cache");
  set_ok(c, "plugin kv", "file", "a.log");
  set_ok(c, "plugin kv", "file", "b.log");
  set_ok(c, "plugin  kv", "sync", "on");
  const myc__pcfg *kv = myc__config_find(c, "kv");
  assert_non_null(kv);
  assert_int_equal(c->nplugins, 1);
  assert_string_equal(kv->path, "myc_kv.so");
  assert_int_equal(kv->nschemes, 2);
  assert_int_equal(kv->nkeys, 2);
  assert_string_equal(kv->keys[0].value, "b.log");
  assert_int_equal(kv->keys[0].line, 0);

  /* Scheme clashes are checked at once. */
  set_err(c, "plugin sql", "schemes", "sql, db",
          "<memory>:0: scheme 'db' is already used by [plugin kv]");
  assert_int_equal(c->nplugins, 1);
  set_ok(c, "plugin sql", "enabled", "false");
  set_ok(c, "plugin sql", "schemes", "sql, db");
  set_err(c, "plugin sql", "enabled", "true",
          "<memory>:0: scheme 'db' is already used by [plugin kv]");
  assert_false(myc__config_find(c, "sql")->enabled);
  set_ok(c, "plugin kv", "enabled", "no");
  set_ok(c, "plugin sql", "enabled", "yes");
  set_err(c, "plugin kv", "enabled", "yes",
          "<memory>:0: scheme 'db' is already used by [plugin sql]");
  set_ok(c, "plugin kv", "schemes", "cache");
  set_ok(c, "plugin kv", "enabled", "yes");
  assert_string_equal(myc__config_find(c, "kv")->schemes[0], "cache");

  set_err(c, "plugin", "enabled", "yes",
          "<memory>:0: section [plugin] needs a name, e.g. [plugin kv]");

  char *err = (char *)&err;
  assert_int_equal(myc_config_set(c, NULL, "k", "v", &err), MYC_EINVAL);
  free(err);
  assert_int_equal(myc_config_set(c, "kernel", "workers", "x", NULL),
                   MYC_ECONFIG);
  myc_config_free(c);

  /* On a loaded config, errors name its file; lines are 0. */
  c = load_ok(CONFIGS "good_full.ini");
  set_err(c, "plugin cache", "schemes", "cache",
          CONFIGS
          "good_full.ini:0: scheme 'cache' is already used by "
          "[plugin kv] (line 19)");
  set_ok(c, "plugin echo", "schemes", "echo");
  myc_config_free(c);
}

/* ==== Copies and spec values =========================================== */

static void test_dup(void **state) {
  (void)state;
  myc_config *c = load_ok(CONFIGS "good_full.ini");
  myc_config *d = myc__config_dup(c);
  char *file = strdup(c->file);
  myc_config_free(c); /* the copy must not share anything */
  assert_non_null(d);
  assert_string_equal(d->file, file);
  free(file);
  assert_int_equal(d->pool_size, 4000);
  assert_int_equal(d->workers, 2);
  assert_int_equal(d->nplugins, 4);
  const myc__pcfg *kv = myc__config_find(d, "kv");
  assert_non_null(kv);
  assert_string_equal(kv->path, "myc_kv.so");
  assert_int_equal(kv->nschemes, 2);
  assert_string_equal(kv->schemes[1], "cache");
  assert_int_equal(kv->schemes_line, 19);
  assert_int_equal(kv->nkeys, 2);
  assert_string_equal(kv->keys[1].key, "sync");
  assert_int_equal(kv->keys[1].line, 21);
  const myc__pcfg *con = myc__config_find(d, "console");
  assert_int_equal(con->nallow, 2);
  assert_string_equal(con->allow_send[1], "kernel");
  assert_null(myc__config_find(d, "echo")->schemes);

  myc_config *e = myc__config_dup(d);
  myc_config_free(d);
  assert_int_equal(e->nplugins, 4);
  myc_config_free(e);

  assert_int_equal(myc_config_new(&c), 0);
  d = myc__config_dup(c);
  assert_non_null(d);
  assert_int_equal(d->nplugins, 0);
  assert_string_equal(d->file, "<memory>");
  myc_config_free(c);
  myc_config_free(d);
}

static void test_check_value(void **state) {
  (void)state;
  myc_config_key k = {.key = "x", .type = MYC_CFG_INT};
  assert_null(myc__config_check_value(&k, "0"));
  assert_null(myc__config_check_value(&k, "-42"));
  assert_null(myc__config_check_value(&k, "+7"));
  assert_null(myc__config_check_value(&k, "9223372036854775807"));
  assert_null(myc__config_check_value(&k, "-9223372036854775808"));
  assert_non_null(myc__config_check_value(&k, "9223372036854775808"));
  assert_string_equal(myc__config_check_value(&k, "12a"),
                      "expected an integer");
  assert_string_equal(myc__config_check_value(&k, ""), "expected an integer");
  assert_string_equal(myc__config_check_value(&k, " 1"), "expected an integer");
  assert_string_equal(myc__config_check_value(&k, "-"), "expected an integer");
  assert_string_equal(myc__config_check_value(&k, "1.5"),
                      "expected an integer");

  k.type = MYC_CFG_BOOL;
  assert_null(myc__config_check_value(&k, "Yes"));
  assert_null(myc__config_check_value(&k, "0"));
  assert_string_equal(myc__config_check_value(&k, "maybe"),
                      "expected true or false");

  k.type = MYC_CFG_DOUBLE;
  assert_null(myc__config_check_value(&k, "1.5"));
  assert_null(myc__config_check_value(&k, "-2e3"));
  assert_null(myc__config_check_value(&k, ".5"));
  assert_null(myc__config_check_value(&k, "3"));
  assert_string_equal(myc__config_check_value(&k, "1.5x"), "expected a number");
  assert_string_equal(myc__config_check_value(&k, ""), "expected a number");
  assert_string_equal(myc__config_check_value(&k, "nan"), "expected a number");
  assert_string_equal(myc__config_check_value(&k, "1e999"),
                      "expected a number");

  k.type = MYC_CFG_ENUM;
  k.choices = "fast|safe|off";
  assert_null(myc__config_check_value(&k, "fast"));
  assert_null(myc__config_check_value(&k, "off"));
  assert_string_equal(myc__config_check_value(&k, "fas"),
                      "expected one of fast|safe|off");
  assert_string_equal(myc__config_check_value(&k, "fast|safe"),
                      "expected one of fast|safe|off");
  assert_string_equal(myc__config_check_value(&k, ""),
                      "expected one of fast|safe|off");

  k.type = MYC_CFG_STRING;
  assert_null(myc__config_check_value(&k, ""));
  assert_null(myc__config_check_value(&k, "anything at all"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_full_file),
      cmocka_unit_test(test_syntax_variants),
      cmocka_unit_test(test_bools_and_numbers),
      cmocka_unit_test(test_kernel_ranges),
      cmocka_unit_test(test_fixture_errors),
      cmocka_unit_test(test_missing_file),
      cmocka_unit_test(test_section_errors),
      cmocka_unit_test(test_key_errors),
      cmocka_unit_test(test_first_error_wins),
      cmocka_unit_test(test_duplicate_schemes),
      cmocka_unit_test(test_long_lines),
      cmocka_unit_test(test_set),
      cmocka_unit_test(test_dup),
      cmocka_unit_test(test_check_value),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
