/* Per-plugin send permissions: [plugin NAME] allow_send = SCHEME, ...
 *
 * Two instances of tests/plugins/h_faulty.c: "a" serves a:// and may send
 * only to other://; "b" serves other:// and may send anywhere. Plugin "a"
 * tries every way the service table offers to send (send_pooled, msg_new
 * + send, msg_new + request) to every kind of target: the allowed scheme
 * (in any case), its own scheme, kernel://, a scheme nobody serves. Only
 * the allowed one gets through; each refusal is MYC_EPERM, leaves a
 * message the sender can release, and is counted as rejected against the
 * target. Replies are not sends: anyone may answer a request. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define PERM_INI                                                             \
  "[kernel]\nplugin_dir = %BAD%\nlog_level = error\n"                       \
  "[plugin a]\npath = myc_h_faulty.so\nschemes = a\nallow_send = other\n"   \
  "[plugin b]\npath = myc_h_faulty.so\nschemes = other\n"

#define ALL_REFUSED                                                          \
  "send_pooled=EPERM release_after_send=OK send=EPERM "                     \
  "release_after_request=OK request=EPERM "

/* Ask plugin "a" to send to `uri` every way; returns its log line. */
static char *a_sends_to(myc_kernel *k, const char *uri) {
  char *r = NULL;
  assert_int_equal(myc_test_call(k, "POST", "a://sendto", uri, NULL), 0);
  while (myc_kernel_poll(k) > 0) { /* the allowed request's reply */
  }
  assert_int_equal(myc_test_call(k, "GET", "a://report", NULL, &r), 0);
  return r;
}

/* Rejections counted against subsystem `name` so far. */
static uint64_t rejected(myc_kernel *k, const char *name) {
  myc_subsystem_stats ss;
  assert_int_equal(myc_subsystem_get_stats(k, name, &ss), 0);
  return ss.rejected;
}

/* The allowed scheme gets every kind of send, in any case. */
static void test_allowed_scheme(void **state) {
  myc_kernel *k = myc_test_kernel(PERM_INI);
  char *r = a_sends_to(k, "other://report");
  assert_string_equal(r, "send_pooled=OK send=OK request=OK reply_status=OK ");
  free(r);
  r = a_sends_to(k, "OTHER://report");
  assert_string_equal(r, "send_pooled=OK send=OK request=OK reply_status=OK ");
  free(r);
  assert_int_equal(rejected(k, "b"), 0);
  myc_kernel_free(k);
}

/* Everything else is refused with EPERM, counted against the target. */
static void test_refused_everywhere_else(void **state) {
  myc_kernel *k = myc_test_kernel(PERM_INI);
  static const char *const targets[] = {"kernel://stats", "KERNEL://stats", "a://report",
                                        "A://report"};
  static const char *const owners[] = {"kernel", "kernel", "a", "a"};
  for (unsigned i = 0; i < 4; i++) {
    uint64_t before = rejected(k, owners[i]);
    char *r = a_sends_to(k, targets[i]);
    assert_string_equal(r, ALL_REFUSED);
    free(r);
    assert_int_equal(rejected(k, owners[i]) - before, 3);
  }
  myc_stats st;
  myc_kernel_get_stats(k, &st);
  assert_int_equal(st.sent, st.handled + st.errored + st.rejected);
  assert_int_equal(st.bad_releases, 0);
  myc_pool_stats ps;
  myc_pool_get_stats(k, &ps);
  assert_int_equal(ps.in_use, 0);
  myc_kernel_free(k);
}

/* A scheme nobody serves is ENOROUTE before it is a permission matter. */
static void test_unserved_scheme(void **state) {
  myc_kernel *k = myc_test_kernel(PERM_INI);
  char *r = a_sends_to(k, "nowhere://x");
  assert_string_equal(r,
                      "send_pooled=ENOROUTE release_after_send=OK send=ENOROUTE "
                      "release_after_request=OK request=ENOROUTE ");
  free(r);
  myc_kernel_free(k);
}

/* Replies are not sends: "a" answers requests from the host and from
 * "b" although neither scheme is in its list. */
static void test_replies_allowed(void **state) {
  myc_kernel *k = myc_test_kernel(
      "[kernel]\nplugin_dir = %BAD%\nlog_level = error\n"
      "[plugin a]\npath = myc_h_faulty.so\nschemes = a\nallow_send = kernel\n"
      "[plugin b]\npath = myc_h_faulty.so\nschemes = other\n");
  assert_int_equal(myc_test_call(k, "GET", "a://twice", NULL, NULL), 0);
  /* b asks a; a's reply reaches b. */
  assert_int_equal(myc_test_call(k, "POST", "other://sendto", "a://twice", NULL), 0);
  while (myc_kernel_poll(k) > 0) {
  }
  char *r = NULL;
  assert_int_equal(myc_test_call(k, "GET", "other://report", NULL, &r), 0);
  assert_string_equal(r, "send_pooled=OK send=OK request=OK reply_status=OK ");
  free(r);
  /* ... and a may use its one allowed scheme. */
  r = a_sends_to(k, "kernel://stats");
  assert_non_null(strstr(r, "first=OK")); /* from the twice requests */
  assert_non_null(strstr(r, "send_pooled=OK send=OK request=OK reply_status=OK "));
  free(r);
  myc_kernel_free(k);
}

/* Without allow_send a plugin may send anywhere; the host is never
 * restricted. */
static void test_default_is_everywhere(void **state) {
  myc_kernel *k = myc_test_kernel(PERM_INI);
  assert_int_equal(myc_test_call(k, "POST", "other://sendto", "kernel://stats", NULL), 0);
  while (myc_kernel_poll(k) > 0) {
  }
  char *r = NULL;
  assert_int_equal(myc_test_call(k, "GET", "other://report", NULL, &r), 0);
  assert_string_equal(r, "send_pooled=OK send=OK request=OK reply_status=OK ");
  free(r);
  assert_int_equal(myc_test_call(k, "GET", "a://report", NULL, NULL), 0);
  assert_int_equal(myc_test_call(k, "GET", "kernel://stats", NULL, NULL), 0);
  myc_kernel_free(k);
}

/* The list is checked when the config is read. */
static void test_allow_send_config_errors(void **state) {
  char *err = myc_test_kernel_error("[plugin a]\nallow_send =\n");
  assert_non_null(strstr(err, "test.ini:2:"));
  free(err);
  err = myc_test_kernel_error("[plugin a]\nallow_send = db, 9x\n");
  assert_non_null(strstr(err, "test.ini:2:"));
  assert_non_null(strstr(err, "9x"));
  free(err);
  err = myc_test_kernel_error("[plugin a]\nallow_send = db, db\n");
  assert_non_null(strstr(err, "twice"));
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_allowed_scheme),
      cmocka_unit_test(test_refused_everywhere_else),
      cmocka_unit_test(test_unserved_scheme),
      cmocka_unit_test(test_replies_allowed),
      cmocka_unit_test(test_default_is_everywhere),
      cmocka_unit_test(test_allow_send_config_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
