/* The timer plugin (plugins/timer) loaded for real: it ticks from the
 * kernel's loop, honours count, verb and body, counts failed sends, and
 * stops with the kernel, whether the test polls the loop or a thread runs
 * myc_kernel_run. Deadlines are generous and only bound a wait; no test
 * asserts how long anything took. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"

#define DEADLINE_S 30

static uint64_t now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec;
}

static void nap(void) {
  struct timespec ts = {0, 1000000};
  nanosleep(&ts, NULL);
}

/* Handled count of subsystem `name`. */
static uint64_t handled(myc_kernel *k, const char *name) {
  myc_subsystem_stats st;
  assert_int_equal(myc_subsystem_get_stats(k, name, &st), 0);
  return st.handled;
}

/* Start a kernel with echo and a timer whose section holds `keys`. */
static myc_kernel *boot(const char *keys) {
  char ini[1024];
  snprintf(ini, sizeof(ini),
           "[kernel]\nplugin_dir = %%PLUGINS%%\nlog_level = error\n"
           "[plugin echo]\n"
           "[plugin timer]\nschemes = tick\n%s\n",
           keys);
  myc_kernel *k = myc_test_kernel(ini);
  assert_int_equal(myc_kernel_start(k, NULL), 0);
  return k;
}

/* Poll the loop until echo has handled at least n messages. */
static void poll_until_echoed(myc_kernel *k, uint64_t n) {
  uint64_t end = now_s() + DEADLINE_S;
  while (handled(k, "echo") < n) {
    assert_true(now_s() < end);
    if (myc_kernel_poll(k) == 0) nap();
  }
}

/* The timer's counters (GET tick://), as a string the caller frees. */
static char *status(myc_kernel *k) {
  char *reply = NULL;
  assert_int_equal(myc_test_call(k, "GET", "tick://", NULL, &reply), 0);
  return reply;
}

/* Poll until the timer reports `want` (a substring of its status). */
static void poll_until_status(myc_kernel *k, const char *want) {
  uint64_t end = now_s() + DEADLINE_S;
  for (;;) {
    char *s = status(k);
    int found = strstr(s, want) != NULL;
    free(s);
    if (found) return;
    assert_true(now_s() < end);
    if (myc_kernel_poll(k) == 0) nap();
  }
}

static void test_count_stops_the_timer(void **state) {
  myc_kernel *k = boot("target = echo://tick\ninterval_ms = 1\ncount = 5");
  poll_until_status(k, "\"running\":false");
  poll_until_echoed(k, 5);
  /* Keep the loop turning: a stopped timer sends nothing more. */
  for (int i = 0; i < 50; i++) {
    myc_kernel_poll(k);
    nap();
  }
  assert_int_equal(handled(k, "echo"), 5);
  char *s = status(k);
  assert_string_equal(s, "{\"sent\":5,\"failed\":0,\"ticks\":5,\"count\":5,\"running\":false}");
  free(s);
  myc_kernel_free(k);
}

static void test_runs_until_shutdown(void **state) {
  myc_kernel *k = boot("target = echo://tick\ninterval_ms = 1");
  poll_until_echoed(k, 3);
  char *s = status(k);
  assert_non_null(strstr(s, "\"running\":true"));
  assert_non_null(strstr(s, "\"count\":0"));
  free(s);
  myc_kernel_free(k); /* stops the timer; leaks would show under ASan */
}

static void test_verb_and_body_reach_the_target(void **state) {
  char ini[512];
  snprintf(ini, sizeof(ini),
           "[kernel]\nplugin_dir = %%PLUGINS%%\nlog_level = error\n"
           "[plugin kv]\n"
           "[plugin timer]\nschemes = tick\ntarget = db://t/k\nverb = PUT\n"
           "body = tick body\ninterval_ms = 1\ncount = 1\n");
  myc_kernel *k = myc_test_kernel(ini);
  assert_int_equal(myc_kernel_start(k, NULL), 0);
  poll_until_status(k, "\"sent\":1,");
  char *value = NULL;
  uint64_t end = now_s() + DEADLINE_S;
  /* The pooled PUT is queued before the GET, and kv runs FIFO. */
  while (myc_test_call(k, "GET", "db://t/k", NULL, &value) != 0) {
    free(value);
    value = NULL;
    assert_true(now_s() < end);
    nap();
  }
  assert_string_equal(value, "tick body");
  free(value);
  myc_kernel_free(k);
}

static void test_failed_sends_are_counted(void **state) {
  myc_kernel *k = boot("target = nosuch://x\ninterval_ms = 1\ncount = 3");
  poll_until_status(k, "\"running\":false");
  char *s = status(k);
  assert_string_equal(s, "{\"sent\":0,\"failed\":3,\"ticks\":3,\"count\":3,\"running\":false}");
  free(s);
  myc_stats st;
  myc_kernel_get_stats(k, &st);
  assert_true(st.rejected >= 3);
  myc_kernel_free(k);
}

static void test_status_refuses_other_verbs(void **state) {
  myc_kernel *k = boot("target = echo://tick\ninterval_ms = 100000");
  assert_int_equal(myc_test_call(k, "PUT", "tick://", NULL, NULL), MYC_EBADVERB);
  myc_kernel_free(k);
}

typedef struct runner {
  myc_kernel *k;
  int code;
} runner;

static void *run_kernel(void *arg) {
  runner *r = arg;
  r->code = myc_kernel_run(r->k);
  return NULL;
}

static void test_ticks_from_the_running_loop(void **state) {
  runner r = {.k = boot("target = echo://tick\ninterval_ms = 1"), .code = -1};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, run_kernel, &r), 0);
  uint64_t end = now_s() + DEADLINE_S;
  while (handled(r.k, "echo") < 3 && now_s() < end) nap();
  uint64_t seen = handled(r.k, "echo");
  myc_kernel_shutdown(r.k, 7);
  pthread_join(th, NULL);
  assert_true(seen >= 3);
  assert_int_equal(r.code, 7);
  myc_stats st;
  myc_kernel_get_stats(r.k, &st);
  assert_int_equal(st.sent, st.handled + st.errored + st.rejected);
  myc_kernel_free(r.k);
}

static void test_config_errors(void **state) {
  static const struct {
    const char *keys, *want;
  } cases[] = {
      {"interval_ms = 10", "missing required key 'target'"},
      {"target = nope", "target = 'nope': expected a URI"},
      {"target = ://x", "expected a URI"},
      {"target = echo://x\ninterval_ms = 0", "interval_ms = '0'"},
      {"target = echo://x\ninterval_ms = 86400001", "interval_ms"},
      {"target = echo://x\ninterval_ms = soon", "expected an integer"},
      {"target = echo://x\ncount = -1", "count = '-1'"},
      {"target = echo://x\nverb = NOT A VERB", "verb = 'NOT A VERB'"},
      {"target = echo://x\nverb = ABCDEFGHIJKLMNOPQ", "verb"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char ini[512];
    snprintf(ini, sizeof(ini),
             "[kernel]\nplugin_dir = %%PLUGINS%%\n[plugin echo]\n[plugin timer]\n%s\n",
             cases[i].keys);
    char *err = myc_test_kernel_error(ini);
    if (!strstr(err, cases[i].want))
      fail_msg("case %zu: '%s' does not contain '%s'", i, err, cases[i].want);
    free(err);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_count_stops_the_timer),
      cmocka_unit_test(test_runs_until_shutdown),
      cmocka_unit_test(test_verb_and_body_reach_the_target),
      cmocka_unit_test(test_failed_sends_are_counted),
      cmocka_unit_test(test_status_refuses_other_verbs),
      cmocka_unit_test(test_ticks_from_the_running_loop),
      cmocka_unit_test(test_config_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
