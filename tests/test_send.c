/* Send tests (kernel/src/send.c, kernel/src/sched.c) with workers = 0:
 * routing errors, the one-reply rule for requests (handler reply,
 * automatic OK, handler error, ENOREPLY, second reply refused, deferred
 * reply, timeout and late reply), when the kernel releases a message, and
 * where reply callbacks run. Uses the real echo plugin and the test
 * plugins t_slow, t_badreply and t_sink (tests/plugins). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "helpers.h"
#include "internal.h"

/* ==== Helpers ========================================================== */

static const char *const INI =
    "[kernel]\n"
    "plugin_dir = %PLUGINS%/..\n"
    "log_level = error\n"
    "request_timeout_ms = 600000\n"
    "[plugin echo]\n"
    "path = plugins/myc_echo.so\n"
    "[plugin t_slow]\n"
    "path = test-plugins/myc_t_slow.so\n"
    "[plugin t_badreply]\n"
    "path = test-plugins/myc_t_badreply.so\n"
    "[plugin t_sink]\n"
    "path = test-plugins/myc_t_sink.so\n";

/* A started kernel with echo and the test plugins. */
static int setup(void **state) {
  myc_kernel *k = myc_test_kernel(INI);
  assert_int_equal(myc_kernel_start(k, NULL), 0);
  *state = k;
  return 0;
}

/* At rest every message is accounted for and back in the pool. */
static int teardown(void **state) {
  myc_kernel *k = *state;
  myc_stats st;
  myc_kernel_get_stats(k, &st);
  myc_pool_stats ps;
  myc_pool_get_stats(k, &ps);
  myc_kernel_free(k);
  assert_int_equal(st.sent, st.handled + st.errored + st.rejected);
  assert_int_equal(ps.in_use, 0);
  return 0;
}

/* The subsystem of plugin `name`. */
static myc_ctx *sub_named(myc_kernel *k, const char *name) {
  for (unsigned i = 0; i < k->nsubs; i++)
    if (strcmp(k->subs[i]->name, name) == 0) return k->subs[i];
  fail_msg("no subsystem '%s'", name);
  return NULL;
}

/* The kernel's counters now. */
static myc_stats kstats(myc_kernel *k) {
  myc_stats st;
  myc_kernel_get_stats(k, &st);
  return st;
}

/* The counters of plugin `name`'s subsystem now. */
static myc_subsystem_stats sstats(myc_kernel *k, const char *name) {
  myc_subsystem_stats st;
  assert_int_equal(myc_subsystem_get_stats(k, name, &st), 0);
  return st;
}

/* Messages taken from the pool and not given back. */
static uint64_t in_use(myc_kernel *k) {
  myc_pool_stats st;
  myc_pool_get_stats(k, &st);
  return st.in_use;
}

/* Poll until nothing is queued or waiting in an inbox. */
static void settle(myc_kernel *k) {
  for (int i = 0; i < 1000 && !myc__idle(k); i++) myc_kernel_poll(k);
  assert_true(myc__idle(k));
}

/* Poll (sleeping a little when idle) until *flag >= want; gives up after
 * a generous bound so a lost reply fails instead of hanging. */
static void wait_for(myc_kernel *k, const int *flag, int want) {
  for (int i = 0; i < 20000 && *flag < want; i++) {
    if (myc_kernel_poll(k) == 0 && *flag < want) {
      struct timespec ts = {0, 500000};
      nanosleep(&ts, NULL);
    }
  }
  assert_int_equal(*flag, want);
}

/* What one request got back. */
typedef struct answer {
  int calls;
  int status, kind;
  uint64_t corr;
  char body[256];
  myc_ctx *ran_on; /* the subsystem whose turn ran the callback */
  myc_kernel *k;
} answer;

/* Reply callback: record everything about the reply. */
static void on_answer(void *udata, myc_msg *r) {
  answer *a = udata;
  a->calls++;
  a->status = myc_msg_status(r);
  a->kind = myc_msg_kind(r);
  a->corr = myc_msg_correlation(r);
  size_t len;
  const char *b = myc_msg_body(r, &len);
  snprintf(a->body, sizeof(a->body), "%.*s", (int)len, b ? b : "");
  a->ran_on = myc__tls_current;
}

/* Send a request from `from` (NULL: the host) and return its message id. */
static uint64_t ask(myc_kernel *k, myc_ctx *from, const char *verb, const char *uri,
                    const char *body, uint32_t timeout_ms, answer *a) {
  myc_ctx *ctx = from ? from : myc_kernel_ctx(k);
  myc_msg *m;
  memset(a, 0, sizeof(*a));
  a->k = k;
  assert_int_equal(myc_msg_new(ctx, verb, uri, body, body ? strlen(body) : 0, &m), 0);
  uint64_t id = myc_msg_id(m);
  assert_int_equal(myc_request(ctx, m, timeout_ms, on_answer, a), 0);
  assert_int_equal(a->calls, 0); /* never answered inside request() */
  return id;
}

/* Ask and wait for the one reply. */
static void ask_wait(myc_kernel *k, const char *uri, const char *body, answer *a) {
  uint64_t id = ask(k, NULL, "GET", uri, body, 0, a);
  wait_for(k, &a->calls, 1);
  assert_int_equal(a->corr, id);
}

/* ==== Routing ========================================================== */

/* An unknown scheme and a path no route matches are refused at send with
 * MYC_ENOROUTE, counted as rejected, and nothing is left in use. */
static void test_routing_errors(void **state) {
  myc_kernel *k = *state;
  myc_ctx *host = myc_kernel_ctx(k);
  myc_stats before = kstats(k);
  assert_int_equal(myc_send_pooled(host, "GET", "nope://x", NULL, 0), MYC_ENOROUTE);
  assert_int_equal(myc_send_pooled(host, "GET", "slow://no/such/route", NULL, 0), MYC_ENOROUTE);
  assert_int_equal(myc_send_pooled(host, "GET", "bad://fail", NULL, 0), MYC_ENOROUTE); /* {n} missing */
  myc_msg *r = (myc_msg *)&r;
  assert_int_equal(myc_call(host, "GET", "nope://x", NULL, 0, 1000, &r), MYC_ENOROUTE);
  assert_null(r);
  char *body = NULL;
  assert_int_equal(myc_test_call(k, "GET", "slow://nothing", NULL, &body), MYC_ENOROUTE);
  assert_null(body);
  myc_stats after = kstats(k);
  assert_int_equal(after.rejected - before.rejected, 5);
  assert_int_equal(after.sent - before.sent, 5);
  assert_int_equal(sstats(k, "t_slow").rejected, 2);
  assert_int_equal(sstats(k, "t_badreply").rejected, 1);
  assert_int_equal(sstats(k, "t_slow").enqueued, 0);
  /* The scheme is case-insensitive; echo (no routes) takes any path. */
  assert_int_equal(myc_test_call(k, "GET", "ECHO://any/path?q", "hi", &body), 0);
  assert_string_equal(body, "hi");
  free(body);
  settle(k);
  assert_int_equal(in_use(k), 0);
}

/* ==== One reply per request =========================================== */

/* The handler's own reply is the one reply. */
static void test_handler_reply(void **state) {
  myc_kernel *k = *state;
  answer a;
  ask_wait(k, "echo://x", "hello", &a);
  assert_int_equal(a.status, 0);
  assert_int_equal(a.kind, MYC_KIND_REPLY);
  assert_string_equal(a.body, "hello");
  settle(k);
  assert_int_equal(a.calls, 1);
}

/* A handler that returns 0 without replying: an automatic empty OK. */
static void test_automatic_ok(void **state) {
  myc_kernel *k = *state;
  answer a;
  ask_wait(k, "bad://silent", "ignored", &a);
  assert_int_equal(a.status, 0);
  assert_int_equal(a.kind, MYC_KIND_REPLY);
  assert_string_equal(a.body, "");
  settle(k);
  assert_int_equal(a.calls, 1);
  assert_int_equal(sstats(k, "t_badreply").handled, 1);
  assert_int_equal(sstats(k, "t_badreply").errors, 0);
}

/* A handler that fails without replying: an error reply carrying the
 * handler's code, and the failure is counted. */
static void test_handler_error(void **state) {
  myc_kernel *k = *state;
  answer a;
  ask_wait(k, "bad://fail/10", NULL, &a);
  assert_int_equal(a.status, -10);
  assert_int_equal(a.status, MYC_ENOENT);
  assert_int_equal(a.kind, MYC_KIND_ERROR);
  assert_non_null(strstr(a.body, myc_strerror(MYC_ENOENT)));
  assert_non_null(strstr(a.body, "t_badreply"));
  ask_wait(k, "bad://fail/18", NULL, &a);
  assert_int_equal(a.status, MYC_EHANDLER);
  settle(k);
  assert_int_equal(a.calls, 1);
  assert_int_equal(sstats(k, "t_badreply").errors, 2);
  assert_int_equal(sstats(k, "t_badreply").handled, 0);
  myc_stats st = kstats(k);
  assert_int_equal(st.errored, 2);
}

/* A handler may reply with an error status itself. */
static void test_handler_error_reply(void **state) {
  myc_kernel *k = *state;
  answer a;
  ask_wait(k, "bad://errreply/9", NULL, &a);
  assert_int_equal(a.status, MYC_EEXIST);
  assert_int_equal(a.kind, MYC_KIND_ERROR);
  assert_string_equal(a.body, "custom");
  settle(k);
  assert_int_equal(a.calls, 1);
}

/* Reply, then fail: the requester gets the reply only; the failure is
 * still counted. */
static void test_reply_then_fail(void **state) {
  myc_kernel *k = *state;
  answer a;
  ask_wait(k, "bad://replyfail", NULL, &a);
  assert_int_equal(a.status, 0);
  assert_string_equal(a.body, "ok");
  settle(k);
  assert_int_equal(a.calls, 1);
  assert_int_equal(sstats(k, "t_badreply").errors, 1);
}

/* A second reply is refused with MYC_ESTATE and never delivered; replying
 * to a message that is not a request is a no-op. */
static void test_second_reply_refused(void **state) {
  myc_kernel *k = *state;
  answer a;
  ask_wait(k, "bad://twice", NULL, &a);
  assert_int_equal(a.status, 0);
  assert_string_equal(a.body, "first");
  settle(k);
  assert_int_equal(a.calls, 1);
  char *body = NULL;
  assert_int_equal(myc_test_call(k, "GET", "bad://last", NULL, &body), 0);
  char want[32];
  snprintf(want, sizeof(want), "rc=%d", MYC_ESTATE);
  assert_string_equal(body, want);
  free(body);
  uint64_t replies = kstats(k).replies;

  assert_int_equal(myc_send_pooled(myc_kernel_ctx(k), "GET", "bad://twice", NULL, 0), 0);
  settle(k);
  assert_int_equal(kstats(k).replies, replies); /* nobody was answered */
  assert_int_equal(myc_test_call(k, "GET", "bad://last", NULL, &body), 0);
  assert_string_equal(body, "rc=0");
  free(body);
}

/* A handler that keeps the request and lets it go without replying: the
 * requester gets MYC_ENOREPLY when the last reference goes. */
static void test_released_without_reply(void **state) {
  myc_kernel *k = *state;
  answer a[3];
  for (int i = 0; i < 3; i++) ask(k, NULL, "GET", "slow://keep", "k", 0, &a[i]);
  settle(k);
  for (int i = 0; i < 3; i++) assert_int_equal(a[i].calls, 0);
  assert_true(in_use(k) >= 3); /* kept past their handler */
  char *body = NULL;
  assert_int_equal(myc_test_call(k, "GET", "slow://count", NULL, &body), 0);
  assert_string_equal(body, "held=3 deferred=0");
  free(body);
  assert_int_equal(myc_test_call(k, "GET", "slow://free", NULL, &body), 0);
  assert_string_equal(body, "freed=3");
  free(body);
  settle(k);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(a[i].calls, 1);
    assert_int_equal(a[i].status, MYC_ENOREPLY);
    assert_int_equal(a[i].kind, MYC_KIND_ERROR);
  }
  assert_int_equal(in_use(k), 0);
  assert_int_equal(kstats(k).late_replies, 0);
}

/* A kept request answered later (from the plugin's next message, or from
 * a timer) gets that reply. */
static void test_deferred_reply(void **state) {
  myc_kernel *k = *state;
  answer kept, timed[3];
  ask(k, NULL, "GET", "slow://keep", NULL, 0, &kept);
  settle(k);
  assert_int_equal(kept.calls, 0);
  char *body = NULL;
  assert_int_equal(myc_test_call(k, "GET", "slow://flush", "later", &body), 0);
  assert_string_equal(body, "replied=1 failed=0");
  free(body);
  settle(k);
  assert_int_equal(kept.calls, 1);
  assert_int_equal(kept.status, 0);
  assert_string_equal(kept.body, "later");

  ask(k, NULL, "GET", "slow://defer/3", NULL, 0, &timed[0]);
  ask(k, NULL, "GET", "slow://defer/1", NULL, 0, &timed[1]);
  ask(k, NULL, "GET", "slow://defer/0", NULL, 0, &timed[2]);
  for (int i = 0; i < 3; i++) {
    wait_for(k, &timed[i].calls, 1);
    assert_int_equal(timed[i].status, 0);
    assert_string_equal(timed[i].body, "deferred");
  }
  settle(k);
  for (int i = 0; i < 3; i++) assert_int_equal(timed[i].calls, 1);
  assert_int_equal(myc_test_call(k, "GET", "slow://count", NULL, &body), 0);
  assert_string_equal(body, "held=0 deferred=0");
  free(body);
  assert_int_equal(kstats(k).timeouts, 0);
  assert_int_equal(in_use(k), 0);
}

/* A request kept past its timeout is answered with MYC_ETIMEDOUT; the
 * handler's reply that comes later is discarded and counted. */
static void test_timeout_and_late_reply(void **state) {
  myc_kernel *k = *state;
  answer a;
  myc_stats before = kstats(k);
  ask(k, NULL, "GET", "slow://keep", NULL, 1, &a);
  wait_for(k, &a.calls, 1);
  assert_int_equal(a.status, MYC_ETIMEDOUT);
  assert_int_equal(a.kind, MYC_KIND_ERROR);
  assert_non_null(strstr(a.body, "1 ms"));
  assert_int_equal(kstats(k).timeouts - before.timeouts, 1);
  assert_int_equal(kstats(k).late_replies - before.late_replies, 0);

  char *body = NULL;
  assert_int_equal(myc_test_call(k, "GET", "slow://flush", "too late", &body), 0);
  assert_string_equal(body, "replied=1 failed=0");
  free(body);
  settle(k);
  assert_int_equal(a.calls, 1); /* still exactly one reply */
  assert_int_equal(a.status, MYC_ETIMEDOUT);
  assert_int_equal(kstats(k).late_replies - before.late_replies, 1);
  assert_int_equal(in_use(k), 0);

  /* Timed out, then let go without a reply: still one reply only. */
  ask(k, NULL, "GET", "slow://keep", NULL, 1, &a);
  wait_for(k, &a.calls, 1);
  assert_int_equal(a.status, MYC_ETIMEDOUT);
  assert_int_equal(myc_test_call(k, "GET", "slow://free", NULL, &body), 0);
  free(body);
  settle(k);
  assert_int_equal(a.calls, 1);
  assert_int_equal(kstats(k).timeouts - before.timeouts, 2);
  assert_int_equal(in_use(k), 0);
}

/* Requests still kept when the kernel is freed get their one reply (an
 * error) during shutdown, including one that already timed out, and
 * nothing leaks. */
static void test_kept_requests_at_shutdown(void **unused) {
  myc_kernel *k = myc_test_kernel(INI);
  assert_int_equal(myc_kernel_start(k, NULL), 0);
  answer kept, timed, deferred;
  ask(k, NULL, "GET", "slow://keep", NULL, 0, &kept);
  ask(k, NULL, "GET", "slow://keep", NULL, 1, &timed);
  ask(k, NULL, "GET", "slow://defer/600000", NULL, 0, &deferred);
  wait_for(k, &timed.calls, 1);
  assert_int_equal(timed.status, MYC_ETIMEDOUT);
  assert_int_equal(kept.calls, 0);
  assert_int_equal(deferred.calls, 0);
  myc_kernel_free(k);
  assert_int_equal(kept.calls, 1);
  assert_true(kept.status < 0);
  assert_int_equal(kept.kind, MYC_KIND_ERROR);
  assert_int_equal(deferred.calls, 1);
  assert_true(deferred.status < 0);
  assert_int_equal(timed.calls, 1);
  assert_int_equal(timed.status, MYC_ETIMEDOUT);
}

/* ==== Release only after the handler ================================= */

/* After replying, the handler still holds a live, unchanged message that
 * is no longer a request and cannot be modified. */
static void test_message_live_until_handler_returns(void **state) {
  myc_kernel *k = *state;
  answer a;
  ask_wait(k, "bad://after", "payload", &a);
  assert_int_equal(a.status, 0);
  assert_string_equal(a.body, "after");
  assert_int_equal(myc_send_pooled(myc_kernel_ctx(k), "POST", "bad://after", "p", 1), 0);
  settle(k);
  assert_int_equal(sstats(k, "t_badreply").errors, 0);
  assert_int_equal(sstats(k, "t_badreply").handled, 2);
  assert_int_equal(in_use(k), 0);
}

/* A handler releasing the message it was given, without a reference of
 * its own, is refused: the kernel still owns it and releases it once. */
static void test_handler_release_without_ref(void **state) {
  myc_kernel *k = *state;
  uint64_t bad = kstats(k).bad_releases;
  answer a;
  ask_wait(k, "bad://relself", "mine?", &a);
  assert_int_equal(a.status, 0); /* the automatic OK: the request was intact */
  assert_int_equal(a.calls, 1);
  assert_int_equal(myc_send_pooled(myc_kernel_ctx(k), "GET", "bad://relself", NULL, 0), 0);
  settle(k);
  assert_int_equal(sstats(k, "t_badreply").errors, 0);
  char *body = NULL;
  assert_int_equal(myc_test_call(k, "GET", "bad://last", NULL, &body), 0);
  char want[32];
  snprintf(want, sizeof(want), "rc=%d", MYC_EBADMSG);
  assert_string_equal(body, want);
  free(body);
  assert_int_equal(kstats(k).bad_releases - bad, 2);
  myc_pool_stats ps;
  myc_pool_get_stats(k, &ps);
  assert_int_equal(ps.in_use, 0);
  assert_int_equal(ps.acquired, ps.released);
  /* Each message went back to the pool exactly once: the free lists hold
   * no message twice (a double release would make acquire hand it out to
   * two owners). */
  myc_msg *m1, *m2;
  assert_int_equal(myc_msg_new(myc_kernel_ctx(k), "GET", "echo://1", NULL, 0, &m1), 0);
  assert_int_equal(myc_msg_new(myc_kernel_ctx(k), "GET", "echo://2", NULL, 0, &m2), 0);
  assert_ptr_not_equal(m1, m2);
  myc_msg_release(m1);
  myc_msg_release(m2);
}

typedef struct rel_answer {
  int calls, rc;
  char body[32];
} rel_answer;

/* Reply callback that wrongly releases the reply it was lent. */
static void on_answer_release(void *udata, myc_msg *r) {
  rel_answer *a = udata;
  a->calls++;
  a->rc = myc_msg_release(r);
  size_t len;
  const char *b = myc_msg_body(r, &len);
  snprintf(a->body, sizeof(a->body), "%.*s", (int)len, b ? b : "(released)");
}

/* The same for a reply callback: the reply belongs to the kernel while
 * the callback runs; a release without msg_ref is refused. With a ref, it
 * may be kept and released later. */
static void test_callback_release_without_ref(void **state) {
  myc_kernel *k = *state;
  myc_ctx *host = myc_kernel_ctx(k);
  uint64_t bad = kstats(k).bad_releases;
  rel_answer a = {0, 0, ""};
  myc_msg *m;
  assert_int_equal(myc_msg_new(host, "GET", "echo://x", "kept", 4, &m), 0);
  assert_int_equal(myc_request(host, m, 0, on_answer_release, &a), 0);
  settle(k);
  assert_int_equal(a.calls, 1);
  assert_int_equal(a.rc, MYC_EBADMSG);
  assert_string_equal(a.body, "kept"); /* still intact after the attempt */
  assert_int_equal(kstats(k).bad_releases - bad, 1);
  assert_int_equal(in_use(k), 0);

  myc_msg *r = NULL;
  assert_int_equal(myc_call(host, "GET", "echo://y", "ref", 3, 5000, &r), 0);
  assert_int_equal(myc_msg_release(r), 0); /* myc_call took a reference */
  assert_int_equal(kstats(k).bad_releases - bad, 1);
  assert_int_equal(in_use(k), 0);
}

/* ==== Where replies run ================================================ */

/* A reply callback runs on the requester's subsystem (its inbox), after
 * request() returned, for the host and for a plugin alike. */
static void test_reply_runs_on_requester(void **state) {
  myc_kernel *k = *state;
  myc_ctx *sink = sub_named(k, "t_sink");
  answer from_host, from_sink, err_to_sink;
  ask(k, NULL, "GET", "echo://h", "h", 0, &from_host);
  ask(k, sink, "GET", "echo://s", "s", 0, &from_sink);
  ask(k, sink, "GET", "bad://fail/10", NULL, 0, &err_to_sink);
  settle(k);
  assert_int_equal(from_host.calls, 1);
  assert_ptr_equal(from_host.ran_on, myc_kernel_ctx(k));
  assert_int_equal(from_sink.calls, 1);
  assert_ptr_equal(from_sink.ran_on, sink);
  assert_string_equal(from_sink.body, "s");
  assert_int_equal(err_to_sink.calls, 1);
  assert_ptr_equal(err_to_sink.ran_on, sink);
  assert_int_equal(err_to_sink.status, MYC_ENOENT);
  assert_int_equal(sstats(k, "t_sink").handled, 0); /* replies are not messages to handle */

  /* A plugin asking another from inside its handler: bad -> echo -> bad's
   * callback -> the host. */
  char *body = NULL;
  assert_int_equal(myc_test_call(k, "GET", "bad://ask", "ping", &body), 0);
  assert_string_equal(body, "got:ping");
  free(body);
}

/* Every request sent gets exactly one reply, whatever its handler did. */
static void test_exactly_one_reply_each(void **state) {
  myc_kernel *k = *state;
  const char *uris[] = {"echo://a",     "bad://silent",    "bad://fail/3", "bad://errreply/4",
                        "bad://twice",  "bad://replyfail", "bad://after",  "bad://relself",
                        "slow://defer/0", "slow://keep"};
  enum { N = sizeof(uris) / sizeof(uris[0]), ROUNDS = 20 };
  static answer a[ROUNDS][N];
  myc_stats before = kstats(k);
  for (int r = 0; r < ROUNDS; r++)
    for (int i = 0; i < N; i++) ask(k, NULL, "GET", uris[i], "x", 0, &a[r][i]);
  settle(k);
  char *body = NULL;
  assert_int_equal(myc_test_call(k, "GET", "slow://flush", "flushed", &body), 0);
  free(body);
  for (int r = 0; r < ROUNDS; r++)
    for (int i = 0; i < N; i++) wait_for(k, &a[r][i].calls, 1);
  settle(k);
  for (int r = 0; r < ROUNDS; r++)
    for (int i = 0; i < N; i++) assert_int_equal(a[r][i].calls, 1);
  myc_stats after = kstats(k);
  assert_int_equal(after.replies - before.replies, ROUNDS * N + 1);
  assert_int_equal(after.timeouts - before.timeouts, 0);
  assert_int_equal(after.late_replies - before.late_replies, 0);
  assert_int_equal(in_use(k), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_routing_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_handler_reply, setup, teardown),
      cmocka_unit_test_setup_teardown(test_automatic_ok, setup, teardown),
      cmocka_unit_test_setup_teardown(test_handler_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_handler_error_reply, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reply_then_fail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_second_reply_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_released_without_reply, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deferred_reply, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeout_and_late_reply, setup, teardown),
      cmocka_unit_test(test_kept_requests_at_shutdown),
      cmocka_unit_test_setup_teardown(test_message_live_until_handler_returns, setup, teardown),
      cmocka_unit_test_setup_teardown(test_handler_release_without_ref, setup, teardown),
      cmocka_unit_test_setup_teardown(test_callback_release_without_ref, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reply_runs_on_requester, setup, teardown),
      cmocka_unit_test_setup_teardown(test_exactly_one_reply_each, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
