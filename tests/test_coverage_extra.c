/* Corners the feature tests do not reach: resource exhaustion at start-up,
 * loader refusals, messages still owned when the kernel is freed, pool
 * trimming from a thread the kernel does not run, JSON escaping in
 * kernel://plugins, config value checks, and error paths whose error
 * text the caller did not ask for. Each checks its outcome. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "helpers.h"
#include "internal.h"

/* ==== Start-up without file descriptors =============================== */

/* myc_kernel_new with only `spare` descriptors left: the event loop
 * cannot be made, and the error says so. */
static void new_with_fds(int spare) {
  myc_config *cfg = NULL;
  char *err = NULL;
  assert_int_equal(myc_config_parse("[kernel]\nlog_level = error\n", "fd.ini", &cfg, &err), 0);
  struct rlimit old, low;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
  int probe = dup(0); /* the lowest free descriptor */
  assert_true(probe >= 0);
  close(probe);
  low = old;
  low.rlim_cur = (rlim_t)(probe + spare);
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
  myc_kernel *k = NULL;
  int rc = myc_kernel_new(cfg, &k, &err);
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
  assert_true(rc < 0);
  assert_null(k);
  assert_non_null(err);
  assert_non_null(strstr(err, "cannot create the event loop"));
  free(err);
  myc_config_free(cfg);
}

static void test_no_fd_for_epoll(void **state) { new_with_fds(0); }
static void test_no_fd_for_eventfd(void **state) { new_with_fds(1); }

/* ==== Loader refusals ================================================== */

/* plugin_dir that does not exist, with a plugin given by absolute path:
 * the directory check names it. */
static void test_plugin_dir_missing(void **state) {
  char *err = myc_test_kernel_error(
      "[kernel]\nplugin_dir = /nonexistent-myc-dir\n"
      "[plugin echo]\npath = %PLUGINS%/myc_echo.so\n");
  assert_non_null(strstr(err, "plugin_dir '/nonexistent-myc-dir'"));
  free(err);
}

/* A descriptor without a name is refused by the loader. */
static void test_descriptor_without_name(void **state) {
  char *err = myc_test_kernel_error("[kernel]\nplugin_dir = %BAD%\n[plugin h_noname]\n");
  assert_non_null(strstr(err, "descriptor has no name"));
  assert_non_null(strstr(err, "myc_h_noname.so"));
  free(err);
}

/* --describe failures, with and without an error text asked for. */
static void test_describe_errors(void **state) {
  char *out = (char *)1, *err = NULL;
  assert_true(myc_describe_plugin(MYC_TEST_PLUGIN_DIR, "nonexistent", &out, &err) < 0);
  assert_null(out);
  assert_non_null(strstr(err, "nonexistent"));
  free(err);
  assert_true(myc_describe_plugin(MYC_TEST_PLUGIN_DIR, "nonexistent", &out, NULL) < 0);
  assert_true(myc_describe_plugin(NULL, MYC_TEST_BAD_PLUGIN_DIR "/myc_h_noname.so", &out,
                                  &err) < 0);
  assert_non_null(strstr(err, "descriptor has no name"));
  free(err);
  assert_int_equal(myc_describe_plugin(NULL, MYC_TEST_BAD_PLUGIN_DIR "/myc_h_faulty.so", &out,
                                       &err),
                   0);
  assert_non_null(strstr(out, "init "));
  assert_non_null(strstr(out, "enum(ok|fail|"));
  free(out);
}

/* A failing kernel_new without an error pointer still cleans up. */
static void test_new_failure_without_err(void **state) {
  myc_config *cfg = NULL;
  char *err = NULL;
  char *ini = myc_test_expand("[kernel]\nplugin_dir = %BAD%\n[plugin h_faulty]\ninit = fail\n");
  assert_int_equal(myc_config_parse(ini, "x.ini", &cfg, &err), 0);
  myc_kernel *k = NULL;
  assert_true(myc_kernel_new(cfg, &k, NULL) < 0);
  assert_null(k);
  myc_config_free(cfg);
  cfg = NULL;
  assert_int_equal(myc_config_parse("[plugin missing]\n", "x.ini", &cfg, &err), 0);
  assert_true(myc_kernel_new(cfg, &k, NULL) < 0);
  myc_config_free(cfg);
  free(ini);
}

/* ==== Pool ============================================================= */

/* Messages the embedder never released, with URI and body on the heap:
 * freeing the kernel frees them too (the sanitizers and valgrind would
 * report a leak otherwise). */
static void test_unreleased_at_free(void **state) {
  myc_kernel *k = myc_test_kernel("[kernel]\nlog_level = error\n");
  char uri[400], body[600];
  snprintf(uri, sizeof(uri), "kernel://%0350d", 1);
  memset(body, 'x', sizeof(body));
  myc_msg *a = NULL, *b = NULL;
  assert_int_equal(myc_msg_new(myc_kernel_ctx(k), "GET", uri, body, sizeof(body), &a), 0);
  assert_int_equal(myc_msg_new(myc_kernel_ctx(k), "GET", "kernel://x", NULL, 0, &b), 0);
  myc_pool_stats ps;
  myc_pool_get_stats(k, &ps);
  assert_int_equal(ps.in_use, 2);
  myc_kernel_free(k);
}

typedef struct churn {
  myc_kernel *k;
  int n, failures;
} churn;

/* From a thread the kernel does not run: take n messages, then give them
 * all back. */
static void *churn_main(void *arg) {
  churn *c = arg;
  myc_msg *held[200];
  for (int i = 0; i < c->n; i++)
    if (myc_msg_new(myc_kernel_ctx(c->k), "PUT", "kernel://stats", "b", 1, &held[i]) < 0)
      c->failures++;
  for (int i = 0; i < c->n; i++)
    if (myc_msg_release(held[i]) < 0) c->failures++;
  return NULL;
}

/* A foreign thread goes through the shared free list; beyond pool_size
 * the pool gives memory back (trimmed) and the books still balance. */
static void test_pool_trim_from_foreign_thread(void **state) {
  myc_kernel *k = myc_test_kernel("[kernel]\nlog_level = error\npool_size = 4\n");
  churn c = {.k = k, .n = 200, .failures = 0};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, churn_main, &c), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(c.failures, 0);
  myc_pool_stats ps;
  myc_pool_get_stats(k, &ps);
  assert_int_equal(ps.in_use, 0);
  assert_true(ps.trimmed > 0);
  assert_true(ps.free <= 64 + 4);
  assert_int_equal(ps.acquired, ps.released);
  myc_kernel_free(k);
}

/* ==== kernel:// and stats ============================================= */

/* Plugin descriptions are JSON-escaped in kernel://plugins. */
static void test_plugins_json_escapes(void **state) {
  myc_kernel *k = myc_test_kernel("[kernel]\nplugin_dir = %BAD%\nlog_level = error\n"
                                  "[plugin h_faulty]\n");
  char *r = NULL;
  assert_int_equal(myc_test_call(k, "GET", "kernel://plugins", NULL, &r), 0);
  assert_non_null(strstr(r, "misbehaves \\\"on purpose\\\" \\\\ for the\\u0009hardening"));
  free(r);
  myc_subsystem_stats ss;
  assert_int_equal(myc_subsystem_get_stats(k, "nope", &ss), MYC_ENOENT);
  assert_int_equal(myc_subsystem_get_stats(k, "kernel", &ss), 0);
  myc_kernel_free(k);
}

/* ==== Config value checks ============================================= */

/* Every verdict of the plugin-key validator. */
static void test_config_check_value(void **state) {
  myc_config_key spec = {"k", MYC_CFG_ENUM, NULL, 0, "help", NULL};
  assert_string_equal(myc__config_check_value(NULL, "x"), "no such key");
  assert_string_equal(myc__config_check_value(&spec, NULL), "missing value");
  assert_non_null(strstr(myc__config_check_value(&spec, "a"), "lists none"));
  spec.choices = "a|bb|c";
  assert_null(myc__config_check_value(&spec, "bb"));
  assert_string_equal(myc__config_check_value(&spec, "b"), "expected one of a|bb|c");
  spec.type = 99;
  assert_non_null(strstr(myc__config_check_value(&spec, "a"), "unknown key type"));
  spec.type = MYC_CFG_INT;
  assert_null(myc__config_check_value(&spec, "-12"));
  assert_non_null(strstr(myc__config_check_value(&spec, "99999999999999999999"), "range"));
  assert_non_null(myc__config_check_value(&spec, "12x"));
  assert_non_null(myc__config_check_value(&spec, "+"));
  spec.type = MYC_CFG_DOUBLE;
  assert_null(myc__config_check_value(&spec, "-1.5e3"));
  assert_null(myc__config_check_value(&spec, ".5"));
  assert_non_null(myc__config_check_value(&spec, "inf"));
  assert_non_null(myc__config_check_value(&spec, "1e999"));
  assert_non_null(myc__config_check_value(&spec, "1.5x"));
  spec.type = MYC_CFG_BOOL;
  assert_null(myc__config_check_value(&spec, "Off"));
  assert_non_null(myc__config_check_value(&spec, "maybe"));
  spec.type = MYC_CFG_STRING;
  assert_null(myc__config_check_value(&spec, ""));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_fd_for_epoll),
      cmocka_unit_test(test_no_fd_for_eventfd),
      cmocka_unit_test(test_plugin_dir_missing),
      cmocka_unit_test(test_descriptor_without_name),
      cmocka_unit_test(test_describe_errors),
      cmocka_unit_test(test_new_failure_without_err),
      cmocka_unit_test(test_unreleased_at_free),
      cmocka_unit_test(test_pool_trim_from_foreign_thread),
      cmocka_unit_test(test_plugins_json_escapes),
      cmocka_unit_test(test_config_check_value),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
