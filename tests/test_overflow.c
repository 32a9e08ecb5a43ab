/* Overflow tests: a million messages through a queue of 16 with each
 * overflow policy (reject, drop_oldest), half of them pooled sends and
 * half requests, polling the kernel only now and then so the queue is
 * full most of the time. At the end every message is accounted for:
 * sent = handled + errored + rejected, the per-subsystem counters agree
 * with what the sender saw and what the handler counted, every dropped
 * request got its MYC_EDROPPED reply, and the pool is empty. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
#include "internal.h"

enum {
  N = 1000000,    /* messages per policy                                */
  CAPACITY = 16,  /* the sink's queue                                   */
  POLL_EVERY = 37 /* sends between two polls: the queue overflows     */
};

/* What the sender and the reply callbacks saw. */
typedef struct tally {
  uint64_t sent_ok, efull, other_fail;
  uint64_t req_ok;                /* requests accepted                  */
  uint64_t replies, r_ok, r_err, r_dropped, r_other, r_bad_kind;
} tally;

/* Reply callback: sort the reply by its status. */
static void on_reply(void *udata, myc_msg *r) {
  tally *t = udata;
  int st = myc_msg_status(r), kind = myc_msg_kind(r);
  t->replies++;
  if (st == 0) {
    t->r_ok++;
    if (kind != MYC_KIND_REPLY) t->r_bad_kind++;
    return;
  }
  if (kind != MYC_KIND_ERROR) t->r_bad_kind++;
  if (st == MYC_EHANDLER)
    t->r_err++;
  else if (st == MYC_EDROPPED)
    t->r_dropped++;
  else
    t->r_other++;
}

/* Parse "handled=H requests=R errors=E" from sink://count. */
static void sink_counts(myc_kernel *k, unsigned long long *h, unsigned long long *r,
                        unsigned long long *e) {
  char *body = NULL;
  assert_int_equal(myc_test_call(k, "GET", "sink://count", NULL, &body), 0);
  assert_int_equal(sscanf(body, "handled=%llu requests=%llu errors=%llu", h, r, e), 3);
  free(body);
}

/* Push N messages at t_sink with the given policy and check the books. */
static void run_policy(const char *policy) {
  char ini[512];
  snprintf(ini, sizeof(ini),
           "[kernel]\nplugin_dir = %%BAD%%\nlog_level = error\n"
           "[plugin t_sink]\nqueue_capacity = %d\noverflow = %s\n",
           CAPACITY, policy);
  myc_kernel *k = myc_test_kernel(ini);
  assert_int_equal(myc_kernel_start(k, NULL), 0);
  myc_ctx *host = myc_kernel_ctx(k);
  bool drop = strcmp(policy, "drop_oldest") == 0;
  tally t;
  memset(&t, 0, sizeof(t));

  for (uint32_t i = 0; i < N; i++) {
    const char *uri = i % 1000 == 7 || i % 1000 == 8 ? "sink://err" : "sink://ok";
    int rc;
    if (i % 2 == 0) {
      rc = myc_send_pooled(host, "PUT", uri, "v", 1);
    } else {
      myc_msg *m;
      assert_int_equal(myc_msg_new(host, "GET", uri, NULL, 0, &m), 0);
      rc = myc_request(host, m, 0, on_reply, &t);
      if (rc == 0)
        t.req_ok++;
      else
        assert_int_equal(myc_msg_release(m), 0); /* still ours */
    }
    if (rc == 0)
      t.sent_ok++;
    else if (rc == MYC_EFULL)
      t.efull++;
    else
      t.other_fail++;
    if (i % POLL_EVERY == 0) myc_kernel_poll(k);
  }
  for (int i = 0; i < 1000 && !myc__idle(k); i++) myc_kernel_poll(k);
  assert_true(myc__idle(k));

  /* The kernel's books, before sink://count adds a message of its own. */
  myc_stats st;
  myc_kernel_get_stats(k, &st);
  myc_subsystem_stats ss;
  assert_int_equal(myc_subsystem_get_stats(k, "t_sink", &ss), 0);
  myc_pool_stats ps;
  myc_pool_get_stats(k, &ps);
  unsigned long long h, r, e;
  sink_counts(k, &h, &r, &e);

  /* Everything sent is accounted for exactly once. */
  assert_int_equal(t.other_fail, 0);
  assert_int_equal(t.sent_ok + t.efull, N);
  assert_int_equal(st.sent, N);
  assert_int_equal(st.sent, st.handled + st.errored + st.rejected);
  assert_int_equal(st.rejected, t.efull);
  assert_int_equal(ss.rejected, t.efull);
  assert_int_equal(ss.enqueued, t.sent_ok);
  assert_int_equal(ss.enqueued, ss.handled + ss.errors + ss.dropped);
  assert_int_equal(st.handled, ss.handled);
  assert_int_equal(st.errored, ss.errors + ss.dropped);
  assert_int_equal(st.dropped, ss.dropped);
  assert_int_equal(ss.queue_len, 0);
  assert_int_equal(ss.queue_capacity, CAPACITY);

  /* The handler saw what the counters say. */
  assert_int_equal(h, ss.handled + ss.errors);
  assert_int_equal(e, ss.errors);
  assert_true(e > 0);

  /* The policy did what it says. */
  if (drop) {
    assert_int_equal(t.efull, 0);
    assert_true(ss.dropped > N / 2); /* the queue really overflowed */
  } else {
    assert_int_equal(ss.dropped, 0);
    assert_true(t.efull > N / 2);
  }

  /* Each accepted request got exactly one reply: OK or the handler's
   * error if it was handled, MYC_EDROPPED if it was dropped. */
  assert_int_equal(t.replies, t.req_ok);
  assert_int_equal(st.replies, t.replies);
  assert_int_equal(t.r_other, 0);
  assert_int_equal(t.r_bad_kind, 0);
  assert_int_equal(t.r_ok + t.r_err, r);
  assert_int_equal(t.r_dropped, t.req_ok - r);
  if (drop)
    assert_true(t.r_dropped > 0);
  else
    assert_int_equal(t.r_dropped, 0);
  assert_int_equal(st.timeouts, 0);

  /* Drained: nothing left in use. */
  assert_int_equal(ps.in_use, 0);
  myc_pool_get_stats(k, &ps);
  assert_int_equal(ps.in_use, 0);
  assert_int_equal(ps.acquired, ps.released);
  myc_kernel_free(k);
}

static void test_overflow_reject(void **unused) { run_policy("reject"); }

static void test_overflow_drop_oldest(void **unused) { run_policy("drop_oldest"); }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_overflow_reject),
      cmocka_unit_test(test_overflow_drop_oldest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
