/* Tests for the hello plugin: load the built myc_hello.so into a real
 * kernel through the embedding API (libmycelia) and talk to it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mycelia/mycelia.h>

#ifndef HELLO_PLUGIN_DIR
#error "build with -DHELLO_PLUGIN_DIR=\"folder holding myc_hello.so\""
#endif

/* Fail the test with the kernel's error text (which we own). */
static void fail_with(const char *what, char *err) {
  char text[1024];
  snprintf(text, sizeof(text), "%s: %s", what, err ? err : "?");
  free(err);
  fail_msg("%s", text);
}

/* A started kernel running [plugin hello] from HELLO_PLUGIN_DIR, with
 * `greeting` set unless it is NULL. The caller frees it. */
static myc_kernel *start_kernel(const char *greeting) {
  myc_config *cfg = NULL;
  myc_kernel *k = NULL;
  char *err = NULL;
  assert_int_equal(myc_config_new(&cfg), 0);
  if (myc_config_set(cfg, "kernel", "plugin_dir", HELLO_PLUGIN_DIR, &err) < 0 ||
      myc_config_set(cfg, "plugin hello", "enabled", "true", &err) < 0 ||
      (greeting && myc_config_set(cfg, "plugin hello", "greeting", greeting, &err) < 0)) {
    myc_config_free(cfg);
    fail_with("config", err);
  }
  int rc = myc_kernel_new(cfg, &k, &err);
  myc_config_free(cfg); /* the kernel keeps its own copy */
  if (rc < 0) fail_with("kernel", err);
  if (myc_kernel_start(k, &err) < 0) {
    myc_kernel_free(k);
    fail_with("start", err);
  }
  return k;
}

/* Send VERB URI as a request and wait for the reply. Returns the send's
 * error, or the reply's status with its body copied into buf. */
static int call(myc_kernel *k, const char *verb, const char *uri, char *buf,
                size_t cap) {
  myc_msg *reply = NULL;
  buf[0] = '\0';
  int rc = myc_call(myc_kernel_ctx(k), verb, uri, NULL, 0, 5000, &reply);
  if (rc < 0) return rc;
  size_t len;
  const char *body = myc_msg_body(reply, &len);
  snprintf(buf, cap, "%.*s", (int)len, body);
  rc = myc_msg_status(reply);
  myc_msg_release(reply); /* a reply from myc_call is ours */
  return rc;
}

static void test_default_greeting(void **state) {
  char buf[256];
  myc_kernel *k = start_kernel(NULL);
  assert_int_equal(call(k, "GET", "hello://greet/ada", buf, sizeof(buf)), 0);
  assert_string_equal(buf, "Hello, ada");
  myc_kernel_free(k);
}

static void test_configured_greeting(void **state) {
  char buf[256];
  myc_kernel *k = start_kernel("Howdy");
  assert_int_equal(call(k, "GET", "hello://greet/grace", buf, sizeof(buf)), 0);
  assert_string_equal(buf, "Howdy, grace");
  myc_kernel_free(k);
}

static void test_other_verb_is_refused(void **state) {
  char buf[256];
  myc_kernel *k = start_kernel(NULL);
  assert_int_equal(call(k, "PUT", "hello://greet/ada", buf, sizeof(buf)),
                   MYC_EBADVERB);
  myc_kernel_free(k);
}

static void test_unknown_path_is_not_routed(void **state) {
  char buf[256];
  myc_kernel *k = start_kernel(NULL);
  assert_int_equal(call(k, "GET", "hello://wave/ada", buf, sizeof(buf)),
                   MYC_ENOROUTE);
  myc_kernel_free(k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_greeting),
      cmocka_unit_test(test_configured_greeting),
      cmocka_unit_test(test_other_verb_is_refused),
      cmocka_unit_test(test_unknown_path_is_not_routed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
