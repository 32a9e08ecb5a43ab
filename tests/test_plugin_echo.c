/* The echo plugin (plugins/echo) loaded for real: it answers every
 * request with the request's body, and plain sends cost one handler call
 * with nothing left behind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "mycelia/mycelia.h"

static int setup(void **state) {
  char *err = NULL;
  myc_kernel *k = NULL;
  if (myc_test_kernel_try(
          "[kernel]\nplugin_dir = %PLUGINS%\nlog_level = error\n"
          "[plugin echo]\n"
          "[plugin echo2]\npath = myc_echo.so\nschemes = echo2, ping\n",
          &k, &err) < 0 ||
      myc_kernel_start(k, &err) < 0) {
    fprintf(stderr, "setup: %s\n", err ? err : "?");
    free(err);
    myc_kernel_free(k);
    return -1;
  }
  *state = k;
  return 0;
}

static int teardown(void **state) {
  myc_kernel_free(*state);
  return 0;
}

/* Request `uri` with body[0..len) and expect the same bytes back. */
static void echo_ok(myc_kernel *k, const char *uri, const void *body,
                    size_t len) {
  myc_msg *r = NULL;
  assert_int_equal(
      myc_call(myc_kernel_ctx(k), "ANY", uri, body, len, 2000, &r), 0);
  assert_int_equal(myc_msg_status(r), 0);
  size_t n = 0;
  const void *b = myc_msg_body(r, &n);
  assert_int_equal(n, len);
  if (len) assert_memory_equal(b, body, len);
  myc_msg_release(r);
}

static void test_echo_bodies(void **state) {
  myc_kernel *k = *state;
  echo_ok(k, "echo://x", "hello", 5);
  echo_ok(k, "echo://x/y?z", "", 0);
  const char bin[] = {0, 1, 2, '\n', 0, (char)0xfe};
  echo_ok(k, "echo://bin", bin, sizeof bin);
  /* bigger than any inline buffer */
  size_t big = 100000;
  char *p = malloc(big);
  assert_non_null(p);
  for (size_t i = 0; i < big; i++) p[i] = (char)(i * 31);
  echo_ok(k, "echo://big", p, big);
  free(p);
}

/* The same .so loaded twice under other schemes works independently. */
static void test_second_instance(void **state) {
  myc_kernel *k = *state;
  echo_ok(k, "echo2://a", "two", 3);
  echo_ok(k, "ping://a", "pong", 4);
}

/* Any verb is echoed. */
static void test_any_verb(void **state) {
  myc_kernel *k = *state;
  static const char *verbs[] = {"GET", "PUT", "X-CUSTOM", "delete"};
  for (int i = 0; i < 4; i++) {
    myc_msg *r = NULL;
    assert_int_equal(myc_call(myc_kernel_ctx(k), verbs[i], "echo://v",
                              verbs[i], strlen(verbs[i]), 2000, &r),
                     0);
    assert_int_equal(myc_msg_status(r), 0);
    myc_msg_release(r);
  }
}

/* Plain sends (no reply wanted) are handled and leave no message behind. */
static void test_pooled_sends(void **state) {
  myc_kernel *k = *state;
  myc_subsystem_stats before, after;
  myc_pool_stats ps;
  assert_int_equal(myc_subsystem_get_stats(k, "echo", &before), 0);
  for (int round = 0; round < 100; round++) {
    for (int i = 0; i < 500; i++)
      assert_int_equal(
          myc_send_pooled(myc_kernel_ctx(k), "PUT", "echo://bench", "x", 1),
          0);
    while (myc_kernel_poll(k) > 0)
      ;
  }
  assert_int_equal(myc_subsystem_get_stats(k, "echo", &after), 0);
  assert_int_equal(after.handled - before.handled, 50000);
  assert_int_equal(after.errors, before.errors);
  myc_pool_get_stats(k, &ps);
  assert_int_equal(ps.in_use, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_echo_bodies),
      cmocka_unit_test(test_second_instance),
      cmocka_unit_test(test_any_verb),
      cmocka_unit_test(test_pooled_sends),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
