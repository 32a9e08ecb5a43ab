/* Threading tests for kernel/src/sched.c and the threaded parts of
 * kernel.c and send.c: the actor rule, FIFO per sender, sends from
 * handlers, plugin threads and embedding threads, overflow = block,
 * request/reply across threads with timeouts, fairness, idling and
 * shutdown, each with workers = N and with workers = 0 (a loop thread, or
 * no loop at all so that callers drive the kernel themselves).
 *
 * Test plugins: tests/plugins/w_actor.c (detects concurrent entry and
 * disorder) and tests/plugins/w_gate.c (handlers that block on a pipe,
 * fill queues and reply late from their own thread).
 *
 * Deadlines are generous (two shared cores, sanitizers): a test fails on
 * a wrong answer, never because the machine was slow. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "internal.h"

#define DEADLINE_MS 60000

/* ==== Helpers ========================================================== */

static uint64_t now_ms(void) { return myc__now_ns() / 1000000ull; }

static void sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* myc_test_kernel with printf-style INI text. */
static myc_kernel *kernel_fmt(const char *fmt, ...) {
  char ini[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ini, sizeof(ini), fmt, ap);
  va_end(ap);
  return myc_test_kernel(ini);
}

static myc_ctx *sub_named(myc_kernel *k, const char *name) {
  for (unsigned i = 0; i < k->nsubs; i++)
    if (strcmp(k->subs[i]->name, name) == 0) return k->subs[i];
  fail_msg("no subsystem %s", name);
  return NULL;
}

static myc_stats kstats(myc_kernel *k) {
  myc_stats st;
  myc_kernel_get_stats(k, &st);
  return st;
}

/* Every message is accounted for once the kernel is at rest. */
static void assert_accounted(myc_kernel *k) {
  myc_stats st = kstats(k);
  assert_int_equal(st.sent, st.handled + st.errored + st.rejected);
}

/* A thread running myc_kernel_run. */
typedef struct runner {
  myc_kernel *k;
  pthread_t tid;
  int rc;
} runner;

static void *runner_main(void *arg) {
  runner *r = arg;
  r->rc = myc_kernel_run(r->k);
  return NULL;
}

static void run_in_thread(runner *r, myc_kernel *k) {
  r->k = k;
  r->rc = -1;
  assert_int_equal(pthread_create(&r->tid, NULL, runner_main, r), 0);
  /* Wait until the loop runs, so tests see the mode they set up. */
  uint64_t end = now_ms() + DEADLINE_MS;
  while (!atomic_load(&k->loop_active) && now_ms() < end) sleep_ms(1);
  assert_true(atomic_load(&k->loop_active));
}

static int run_stop(runner *r) {
  myc_kernel_shutdown(r->k, 0);
  pthread_join(r->tid, NULL);
  return r->rc;
}

/* What is left where, when a test expected an idle kernel. */
static void dump_queues(myc_kernel *k) {
  print_error("not idle: runq %u busy %u\n", atomic_load(&k->runq_len), atomic_load(&k->busy));
  for (unsigned i = 0; i < k->nsubs; i++) {
    myc_ctx *s = k->subs[i];
    print_error("  %s: inbox %p tail %lu head %lu scheduled %d\n", s->name, (void *)atomic_load(&s->inbox),
                (unsigned long)atomic_load(&s->ring.tail), (unsigned long)atomic_load(&s->ring.head),
                atomic_load(&s->scheduled));
  }
  print_error("  host inbox %p\n", (void *)atomic_load(&k->host->inbox));
}

/* The three ways a kernel can be run. */
enum mode { WORKERS, LOOP_THREAD, NO_LOOP };

static unsigned mode_workers(enum mode m, unsigned n) { return m == WORKERS ? n : 0; }

/* Start k for mode m: a loop thread unless the callers drive it. */
static void mode_start(myc_kernel *k, enum mode m, runner *r) {
  char *err = NULL;
  assert_int_equal(myc_kernel_start(k, &err), 0);
  if (m != NO_LOOP) run_in_thread(r, k);
}

static void mode_stop(myc_kernel *k, enum mode m, runner *r) {
  if (m != NO_LOOP) assert_int_equal(run_stop(r), 0);
}

/* A pipe whose read end gates w_gate's WAIT handler. */
typedef struct gatepipe {
  int rd, wr;
} gatepipe;

static gatepipe gate_pipe(void) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  return (gatepipe){fds[0], fds[1]};
}

static void gate_open(gatepipe g, int n) {
  for (int i = 0; i < n; i++) assert_int_equal(write(g.wr, "x", 1), 1);
}

static void gate_close(gatepipe g) {
  close(g.rd);
  close(g.wr);
}

/* ==== Actor rule and per-sender FIFO ================================== */

enum { SEQ_N = 4000, PRODUCERS = 4 };

typedef struct producer {
  myc_kernel *k;
  int lane;
  pthread_t tid;
  int failures;
  int first_rc;
} producer;

/* Send msgs[0..n) with myc_send_batch until all are in. */
static int send_all(myc_ctx *ctx, myc_msg **msgs, unsigned n) {
  unsigned done = 0;
  while (done < n) {
    int rc = myc_send_batch(ctx, msgs + done, n - done);
    if (rc < 0) {
      for (unsigned i = done; i < n; i++) myc_msg_release(msgs[i]);
      return rc;
    }
    done += (unsigned)rc;
  }
  return 0;
}

/* An embedding thread: SEQ_N numbered messages to a:// and to b://. Odd
 * lanes send batches (16 to a://, then 16 to b://, in one call), even
 * lanes one message at a time. */
static void *producer_main(void *arg) {
  producer *p = arg;
  myc_ctx *host = myc_kernel_ctx(p->k);
  char body[32];
  enum { HALF = 16 };
  for (int i = 1; i <= SEQ_N;) {
    int rc = 0;
    if (p->lane % 2 && i + HALF - 1 <= SEQ_N) {
      myc_msg *batch[2 * HALF];
      for (int j = 0; j < 2 * HALF && rc == 0; j++) {
        int n = snprintf(body, sizeof(body), "%d %d", p->lane + (j < HALF ? 0 : 8), i + j % HALF);
        rc = myc_msg_new(host, "SEQ", j < HALF ? "a://x" : "b://x", body, (size_t)n, &batch[j]);
      }
      if (rc == 0) rc = send_all(host, batch, 2 * HALF);
      i += HALF;
    } else {
      int n = snprintf(body, sizeof(body), "%d %d", p->lane, i);
      rc = myc_send_pooled(host, "SEQ", "a://x", body, (size_t)n);
      if (rc == 0) {
        n = snprintf(body, sizeof(body), "%d %d", p->lane + 8, i);
        rc = myc_send_pooled(host, "SEQ", "b://x", body, (size_t)n);
      }
      i++;
    }
    if (rc < 0) {
      if (!p->failures++) p->first_rc = rc;
    }
  }
  return NULL;
}

typedef struct actor_stats {
  unsigned long long received, overlaps, disorder, timers, forward_errors;
} actor_stats;

static actor_stats actor_get(myc_kernel *k, const char *uri) {
  actor_stats s = {0, 0, 0, 0, 0};
  char *body = NULL;
  assert_int_equal(myc_test_call(k, "STATS", uri, NULL, &body), 0);
  assert_int_equal(sscanf(body, "received=%llu overlaps=%llu disorder=%llu timers=%llu forward_errors=%llu",
                          &s.received, &s.overlaps, &s.disorder, &s.timers, &s.forward_errors),
                   5);
  free(body);
  return s;
}

/* Four embedding threads, two plugin threads and a forwarding handler all
 * send numbered messages to two actors. Neither actor may ever see two
 * threads inside (handler or timer), and each sender's numbers must arrive
 * in order. a:// blocks when full (overflow = block), so the embedding
 * threads also wait for room while the kernel runs. */
static void actor_case(enum mode m) {
  myc_kernel *k = kernel_fmt(
      "[kernel]\nplugin_dir = %%BAD%%\nworkers = %u\nlog_level = error\n"
      "queue_capacity = 256\noverflow = block\nblock_timeout_ms = 60000\npool_size = 4096\n"
      "[plugin a]\npath = myc_w_actor.so\nschemes = a\nforward = b://fwd\n"
      "threads = 2\ncount = %d\ntarget = b://t\n"
      "[plugin b]\npath = myc_w_actor.so\nschemes = b\nqueue_capacity = 262144\n",
      mode_workers(m, 4), SEQ_N);
  runner r;
  mode_start(k, m, &r);
  producer prods[PRODUCERS];
  for (int i = 0; i < PRODUCERS; i++) {
    prods[i] = (producer){.k = k, .lane = i};
    assert_int_equal(pthread_create(&prods[i].tid, NULL, producer_main, &prods[i]), 0);
  }
  for (int i = 0; i < PRODUCERS; i++) pthread_join(prods[i].tid, NULL);
  for (int i = 0; i < PRODUCERS; i++) {
    if (prods[i].failures) fail_msg("producer %d: %d sends failed, first %s", i, prods[i].failures,
                                    myc_err_name(prods[i].first_rc));
  }
  /* Wait for the plugin threads and the forwards to arrive. */
  unsigned long long want_a = PRODUCERS * SEQ_N, want_b = (2 * PRODUCERS + 2) * SEQ_N;
  actor_stats a, b;
  uint64_t end = now_ms() + DEADLINE_MS;
  do {
    a = actor_get(k, "a://stats");
    b = actor_get(k, "b://stats");
    if (a.received >= want_a && b.received >= want_b) break;
    sleep_ms(2);
  } while (now_ms() < end);
  assert_int_equal(a.received, want_a);
  assert_int_equal(b.received, want_b);
  assert_int_equal(a.overlaps + b.overlaps, 0);
  assert_int_equal(a.disorder + b.disorder, 0);
  assert_int_equal(a.forward_errors, 0);
  mode_stop(k, m, &r);
  assert_accounted(k);
  myc_kernel_free(k);
}

static void test_actor_workers(void **state) { actor_case(WORKERS); }
static void test_actor_loop_thread(void **state) { actor_case(LOOP_THREAD); }
static void test_actor_no_loop(void **state) { actor_case(NO_LOOP); }

/* Timers obey the actor rule too: a 1 ms timer and a stream of messages
 * into one actor never overlap, with four workers. */
static void test_actor_timers(void **state) {
  myc_kernel *k = kernel_fmt("[kernel]\nplugin_dir = %%BAD%%\nworkers = 4\nlog_level = error\n"
                             "[plugin a]\npath = myc_w_actor.so\nschemes = a\nwork = 2000\n");
  runner r;
  mode_start(k, WORKERS, &r);
  myc_ctx *host = myc_kernel_ctx(k);
  char body[32];
  int sent = 0;
  uint64_t end = now_ms() + DEADLINE_MS;
  actor_stats a;
  do {
    for (int i = 0; i < 200; i++) {
      int n = snprintf(body, sizeof(body), "0 %d", sent + 1);
      if (myc_send_pooled(host, "SEQ", "a://x", body, (size_t)n) == 0) sent++;
    }
    sleep_ms(1);
    a = actor_get(k, "a://stats");
  } while ((a.timers < 20 || a.received < 2000) && now_ms() < end);
  assert_true(a.timers >= 20);
  assert_int_equal(a.overlaps, 0);
  assert_int_equal(a.disorder, 0);
  assert_int_equal(run_stop(&r), 0);
  myc_kernel_free(k);
}

/* ==== myc_send_batch ================================================== */

/* A batch is sent in order and stops at the first refusal: what follows
 * is still the caller's, untouched and uncounted. */
static void test_batch_partial(void **state) {
  myc_kernel *k = kernel_fmt("[kernel]\nplugin_dir = %%BAD%%\nlog_level = error\n"
                             "[plugin a]\npath = myc_w_actor.so\nschemes = a\nqueue_capacity = 4\n"
                             "[plugin b]\npath = myc_w_actor.so\nschemes = b\n");
  myc_ctx *host = myc_kernel_ctx(k);
  char *err = NULL;
  assert_int_equal(myc_kernel_start(k, &err), 0);
  myc_msg *m[10];
  char body[16];
  for (int i = 0; i < 10; i++) {
    int n = snprintf(body, sizeof(body), "0 %d", i < 2 ? i + 1 : i - 1);
    assert_int_equal(myc_msg_new(host, "SEQ", i < 2 ? "b://x" : "a://x", body, (size_t)n, &m[i]), 0);
  }
  /* Nobody runs the kernel: a:// (capacity 4) takes 4 of the 8. */
  assert_int_equal(myc_send_batch(host, m, 10), 6);
  for (int i = 6; i < 10; i++) assert_int_equal(myc_msg_set_body(m[i], "x", 1), 0); /* still ours */
  myc_subsystem_stats st;
  assert_int_equal(myc_subsystem_get_stats(k, "a", &st), 0);
  assert_int_equal(st.rejected, 1);
  assert_int_equal(st.queue_len, 4);
  /* The first one refused: its error, nothing sent. */
  assert_int_equal(myc_send_batch(host, m + 6, 4), MYC_EFULL);
  for (int i = 6; i < 10; i++) myc_msg_release(m[i]);
  myc_msg *bad;
  assert_int_equal(myc_msg_new(host, "SEQ", "nope://x", "0 1", 3, &bad), 0);
  assert_int_equal(myc_send_batch(host, &bad, 1), MYC_ENOROUTE);
  myc_msg_release(bad);
  assert_int_equal(myc_send_batch(host, NULL, 1), MYC_EINVAL);
  assert_int_equal(myc_send_batch(host, NULL, 0), 0);
  while (myc_kernel_poll(k) > 0) {
  }
  actor_stats a = actor_get(k, "a://stats"), b = actor_get(k, "b://stats");
  assert_int_equal(a.received, 4);
  assert_int_equal(b.received, 2);
  assert_int_equal(a.disorder + b.disorder, 0);
  assert_accounted(k);
  myc_kernel_free(k);
}

/* ==== Overflow = block ================================================= */

static const char *gate_ini =
    "[kernel]\nplugin_dir = %%BAD%%\nworkers = %u\nlog_level = error\n"
    "[plugin gate]\npath = myc_w_gate.so\nschemes = gate\nfd = %d\nqueue_capacity = 2\n"
    "overflow = block\nblock_timeout_ms = %u\n"
    "[plugin ctl]\npath = myc_w_gate.so\nschemes = ctl\n"
    "[plugin keep]\npath = myc_w_gate.so\nschemes = keep\n"
    "[plugin echo]\npath = myc_w_gate.so\nschemes = echo\n";

/* Wait until the gate's handler holds a WAIT and its queue is empty. */
static void wait_parked(myc_kernel *k, myc_ctx *gate) {
  uint64_t end = now_ms() + DEADLINE_MS;
  while (myc__ring_len(&gate->ring) != 0 && now_ms() < end) sleep_ms(1);
  assert_int_equal(myc__ring_len(&gate->ring), 0);
}

typedef struct blocked_send {
  myc_kernel *k;
  pthread_t tid;
  int rc;
  uint64_t ms;
} blocked_send;

static void *blocked_main(void *arg) {
  blocked_send *b = arg;
  uint64_t t0 = now_ms();
  b->rc = myc_send_pooled(myc_kernel_ctx(b->k), "NOP", "gate://x", NULL, 0);
  b->ms = now_ms() - t0;
  return NULL;
}

/* A full queue with overflow = block: a sender waits, and gets in once the
 * handler takes messages off the queue; with nobody draining it times out
 * with MYC_ETIMEDOUT after block_timeout_ms. */
static void block_case(enum mode m) {
  gatepipe g = gate_pipe();
  myc_kernel *k = kernel_fmt(gate_ini, mode_workers(m, 2), g.rd, 200u);
  myc_ctx *gate = sub_named(k, "gate");
  runner r;
  mode_start(k, m, &r);
  myc_ctx *host = myc_kernel_ctx(k);

  /* Park the handler in WAIT, then fill the queue (capacity 2). */
  assert_int_equal(myc_send_pooled(host, "WAIT", "gate://x", NULL, 0), 0);
  wait_parked(k, gate);
  assert_int_equal(myc_send_pooled(host, "NOP", "gate://x", NULL, 0), 0);
  assert_int_equal(myc_send_pooled(host, "NOP", "gate://x", NULL, 0), 0);

  /* Nobody makes room: the timeout. */
  uint64_t t0 = myc__now_ns();
  assert_int_equal(myc_send_pooled(host, "NOP", "gate://x", NULL, 0), MYC_ETIMEDOUT);
  assert_true(myc__now_ns() - t0 >= 200ull * 1000000ull);
  assert_int_equal(atomic_load(&gate->blocked), 0);

  /* A second thread blocks; opening the gate lets it in. */
  blocked_send b = {.k = k};
  assert_int_equal(pthread_create(&b.tid, NULL, blocked_main, &b), 0);
  uint64_t end = now_ms() + DEADLINE_MS;
  while (atomic_load(&gate->blocked) == 0 && now_ms() < end) sleep_ms(1);
  assert_int_equal(atomic_load(&gate->blocked), 1);
  gate_open(g, 1);
  pthread_join(b.tid, NULL);
  /* It either got in (usual), or the machine stalled it past 200 ms. */
  assert_true(b.rc == 0 || (b.rc == MYC_ETIMEDOUT && b.ms >= 200));
  mode_stop(k, m, &r);
  assert_accounted(k);
  myc_kernel_free(k);
  gate_close(g);
}

static void test_block_workers(void **state) { block_case(WORKERS); }
static void test_block_loop_thread(void **state) { block_case(LOOP_THREAD); }

/* With nobody running the kernel, a blocked sender drives it itself and
 * gets in at once instead of timing out. */
static void test_block_no_loop_drives(void **state) {
  myc_kernel *k = kernel_fmt(gate_ini, 0u, -1, 60000u);
  char *err = NULL;
  assert_int_equal(myc_kernel_start(k, &err), 0);
  myc_ctx *host = myc_kernel_ctx(k);
  for (int i = 0; i < 100; i++) assert_int_equal(myc_send_pooled(host, "NOP", "gate://x", NULL, 0), 0);
  myc_subsystem_stats st;
  assert_int_equal(myc_subsystem_get_stats(k, "gate", &st), 0);
  assert_true(st.handled >= 98);
  myc_kernel_free(k);
}

/* A handler on a kernel thread sending to a full queue with overflow =
 * block would wait for itself (or for every worker): MYC_EDEADLK. */
static void deadlock_case(enum mode m) {
  gatepipe g = gate_pipe();
  myc_kernel *k = kernel_fmt(gate_ini, mode_workers(m, 2), g.rd, 60000u);
  runner r;
  mode_start(k, m, &r);
  if (m == WORKERS) {
    /* Park gate's handler so that ctl's handler can fill its queue. */
    assert_int_equal(myc_send_pooled(myc_kernel_ctx(k), "WAIT", "gate://x", NULL, 0), 0);
    wait_parked(k, sub_named(k, "gate"));
  }
  char *body = NULL;
  assert_int_equal(myc_test_call(k, "FILL", "ctl://x", "gate://x", &body), 0);
  assert_string_equal(body, "EDEADLK");
  free(body);
  if (m == WORKERS) gate_open(g, 1);
  mode_stop(k, m, &r);
  assert_accounted(k);
  myc_kernel_free(k);
  gate_close(g);
}

static void test_deadlock_workers(void **state) { deadlock_case(WORKERS); }
static void test_deadlock_loop_thread(void **state) { deadlock_case(LOOP_THREAD); }

/* ==== Request/reply across threads =================================== */

enum { CALLERS = 4, CALLS = 1500 };

typedef struct caller {
  myc_kernel *k;
  int id;
  pthread_t tid;
  int bad;
} caller;

/* An embedding thread making synchronous calls; every reply must carry
 * its own request's body. */
static void *caller_main(void *arg) {
  caller *c = arg;
  char body[64];
  for (int i = 0; i < CALLS; i++) {
    snprintf(body, sizeof(body), "caller %d call %d", c->id, i);
    char *got = NULL;
    int rc = myc_test_call(c->k, "GET", "echo://x", body, &got);
    if (rc != 0 || !got || strcmp(got, body) != 0) c->bad++;
    free(got);
  }
  return NULL;
}

static void calls_case(enum mode m) {
  myc_kernel *k = kernel_fmt(gate_ini, mode_workers(m, 2), -1, 1000u);
  runner r;
  mode_start(k, m, &r);
  caller cs[CALLERS];
  for (int i = 0; i < CALLERS; i++) {
    cs[i] = (caller){.k = k, .id = i};
    assert_int_equal(pthread_create(&cs[i].tid, NULL, caller_main, &cs[i]), 0);
  }
  for (int i = 0; i < CALLERS; i++) pthread_join(cs[i].tid, NULL);
  for (int i = 0; i < CALLERS; i++) assert_int_equal(cs[i].bad, 0);
  myc_stats st = kstats(k);
  assert_true(st.replies >= CALLERS * CALLS);
  assert_int_equal(st.timeouts, 0);
  mode_stop(k, m, &r);
  assert_accounted(k);
  myc_kernel_free(k);
}

static void test_calls_workers(void **state) { calls_case(WORKERS); }
static void test_calls_loop_thread(void **state) { calls_case(LOOP_THREAD); }
static void test_calls_no_loop(void **state) { calls_case(NO_LOOP); }

/* Replies counted per request id: exactly one each. */
typedef struct reply_log {
  pthread_mutex_t mu;
  int calls, timeouts, oks, others;
} reply_log;

static void on_logged_reply(void *udata, myc_msg *r) {
  reply_log *l = udata;
  pthread_mutex_lock(&l->mu);
  l->calls++;
  int st = myc_msg_status(r);
  if (st == MYC_ETIMEDOUT)
    l->timeouts++;
  else if (st == 0)
    l->oks++;
  else
    l->others++;
  pthread_mutex_unlock(&l->mu);
}

static int log_calls(reply_log *l) {
  pthread_mutex_lock(&l->mu);
  int n = l->calls;
  pthread_mutex_unlock(&l->mu);
  return n;
}

/* A request the handler answers from its own thread after 300 ms, with a
 * 50 ms timeout: the requester gets MYC_ETIMEDOUT once, the handler's
 * reply is counted late and dropped. The same for myc_call. */
static void timeout_case(enum mode m) {
  myc_kernel *k = kernel_fmt(gate_ini, mode_workers(m, 2), -1, 1000u);
  runner r;
  mode_start(k, m, &r);
  myc_ctx *host = myc_kernel_ctx(k);
  reply_log l = {.calls = 0};
  pthread_mutex_init(&l.mu, NULL);
  myc_msg *req;
  assert_int_equal(myc_msg_new(host, "KEEP", "keep://x", "300", 3, &req), 0);
  assert_int_equal(myc_request(host, req, 50, on_logged_reply, &l), 0);

  /* myc_call: the caller times out by itself. */
  myc_msg *rep = NULL;
  assert_int_equal(myc_call(host, "KEEP", "keep://y", "300", 3, 50, &rep), 0);
  assert_int_equal(myc_msg_status(rep), MYC_ETIMEDOUT);
  assert_int_equal(myc_msg_kind(rep), MYC_KIND_ERROR);
  myc_msg_release(rep);

  uint64_t end = now_ms() + DEADLINE_MS;
  while ((log_calls(&l) < 1 || kstats(k).late_replies < 2) && now_ms() < end) {
    if (m == NO_LOOP) myc_kernel_poll(k);
    sleep_ms(2);
  }
  sleep_ms(50); /* a second callback would come now */
  if (m == NO_LOOP) myc_kernel_poll(k);
  assert_int_equal(log_calls(&l), 1);
  assert_int_equal(l.timeouts, 1);
  myc_stats st = kstats(k);
  assert_int_equal(st.timeouts, 2);
  assert_int_equal(st.late_replies, 2);
  mode_stop(k, m, &r);
  assert_accounted(k);
  myc_kernel_free(k);
  pthread_mutex_destroy(&l.mu);
}

static void test_timeout_workers(void **state) { timeout_case(WORKERS); }
static void test_timeout_loop_thread(void **state) { timeout_case(LOOP_THREAD); }
static void test_timeout_no_loop(void **state) { timeout_case(NO_LOOP); }

/* Many requests kept by the handler and answered from the plugin's own
 * thread right away, racing with the worker that ran the handler:
 * exactly one reply each, all successful. */
static void test_reply_from_plugin_thread(void **state) {
  myc_kernel *k = kernel_fmt(gate_ini, 2u, -1, 1000u);
  runner r;
  mode_start(k, WORKERS, &r);
  myc_ctx *host = myc_kernel_ctx(k);
  reply_log l = {.calls = 0};
  pthread_mutex_init(&l.mu, NULL);
  enum { KEPT = 2000 };
  for (int i = 0; i < KEPT; i++) {
    myc_msg *req;
    assert_int_equal(myc_msg_new(host, "KEEP", "keep://x", "0", 1, &req), 0);
    int rc;
    while ((rc = myc_request(host, req, 30000, on_logged_reply, &l)) == MYC_EFULL) sleep_ms(1);
    assert_int_equal(rc, 0);
  }
  uint64_t end = now_ms() + DEADLINE_MS;
  while (log_calls(&l) < KEPT && now_ms() < end) sleep_ms(2);
  sleep_ms(20);
  assert_int_equal(log_calls(&l), KEPT);
  assert_int_equal(l.oks, KEPT);
  assert_int_equal(kstats(k).late_replies, 0);
  assert_int_equal(run_stop(&r), 0);
  assert_accounted(k);
  myc_kernel_free(k);
  pthread_mutex_destroy(&l.mu);
}

/* A reply callback runs on a kernel thread: a myc_call from there would
 * wait for itself and is refused. */
static _Atomic int nested_rc;
static void on_reply_calls(void *udata, myc_msg *r) {
  myc_msg *rep = NULL;
  atomic_store(&nested_rc, myc_call(udata, "GET", "echo://x", NULL, 0, 100, &rep));
  if (rep) myc_msg_release(rep);
}

static void test_call_from_callback_refused(void **state) {
  myc_kernel *k = kernel_fmt(gate_ini, 2u, -1, 1000u);
  runner r;
  mode_start(k, WORKERS, &r);
  myc_ctx *host = myc_kernel_ctx(k);
  atomic_store(&nested_rc, 1);
  myc_msg *req;
  assert_int_equal(myc_msg_new(host, "GET", "echo://x", NULL, 0, &req), 0);
  assert_int_equal(myc_request(host, req, 5000, on_reply_calls, host), 0);
  uint64_t end = now_ms() + DEADLINE_MS;
  while (atomic_load(&nested_rc) == 1 && now_ms() < end) sleep_ms(1);
  assert_int_equal(atomic_load(&nested_rc), MYC_EDEADLK);
  assert_int_equal(run_stop(&r), 0);
  myc_kernel_free(k);
}

/* ==== Fairness ========================================================= */

static _Atomic long fair_seen = -1; /* flood messages handled at the reply */

static void on_fair_reply(void *udata, myc_msg *r) {
  myc_subsystem_stats st;
  myc_subsystem_get_stats(udata, "flood", &st);
  atomic_store(&fair_seen, (long)st.handled);
}

/* A subsystem flooded with 20 000 messages and a request to another one
 * sent after the flood: with one worker (or one loop) the request's reply
 * must come after a turn or two of the flood (256 messages a turn), not
 * after all of it. The flood's handler is parked in WAIT while both are
 * queued, so the order of events does not depend on timing. */
static void fairness_case(enum mode m) {
  gatepipe g = gate_pipe();
  myc_kernel *k = kernel_fmt(
      "[kernel]\nplugin_dir = %%BAD%%\nworkers = %u\nlog_level = error\npool_size = 30000\n"
      "[plugin flood]\npath = myc_w_gate.so\nschemes = flood\nqueue_capacity = 32768\nfd = %d\n"
      "[plugin echo]\npath = myc_w_gate.so\nschemes = echo\n",
      mode_workers(m, 1), g.rd);
  myc_ctx *host = myc_kernel_ctx(k);
  enum { FLOOD = 20000 };
  runner r;
  mode_start(k, m, &r);
  if (m != NO_LOOP) {
    assert_int_equal(myc_send_pooled(host, "WAIT", "flood://x", NULL, 0), 0);
    wait_parked(k, sub_named(k, "flood"));
  }
  for (int i = 0; i < FLOOD; i++) assert_int_equal(myc_send_pooled(host, "NOP", "flood://x", NULL, 0), 0);
  atomic_store(&fair_seen, -1);
  myc_msg *req;
  assert_int_equal(myc_msg_new(host, "GET", "echo://x", "ping", 4, &req), 0);
  assert_int_equal(myc_request(host, req, 60000, on_fair_reply, k), 0);
  if (m != NO_LOOP) gate_open(g, 1);
  uint64_t end = now_ms() + DEADLINE_MS;
  while (atomic_load(&fair_seen) < 0 && now_ms() < end) {
    if (m == NO_LOOP)
      myc_kernel_poll(k);
    else
      sleep_ms(1);
  }
  long seen = atomic_load(&fair_seen);
  print_message("fairness: the reply came after %ld of %d flood messages\n", seen, FLOOD);
  assert_true(seen >= 0);
  assert_true(seen <= 4 * 256);
  mode_stop(k, m, &r);
  if (m != NO_LOOP) {
    myc_subsystem_stats st;
    assert_int_equal(myc_subsystem_get_stats(k, "flood", &st), 0);
    assert_int_equal(st.handled, FLOOD + 1); /* shutdown drained the rest */
    assert_accounted(k);
  }
  myc_kernel_free(k);
  gate_close(g);
}

static void test_fairness_workers(void **state) { fairness_case(WORKERS); }
static void test_fairness_loop_thread(void **state) { fairness_case(LOOP_THREAD); }
static void test_fairness_no_loop(void **state) { fairness_case(NO_LOOP); }

/* ==== Idling =========================================================== */

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* After a burst of work, an idle kernel (workers spin briefly, then
 * sleep; the loop sleeps in epoll) uses almost no CPU: under 5% of one
 * core over a second. */
static void idle_case(enum mode m) {
  myc_kernel *k = kernel_fmt(gate_ini, mode_workers(m, 2), -1, 1000u);
  runner r;
  mode_start(k, m, &r);
  for (int i = 0; i < 200; i++) {
    char *body = NULL;
    assert_int_equal(myc_test_call(k, "GET", "echo://x", "x", &body), 0);
    free(body);
  }
  sleep_ms(100); /* let the spinning end */
  double c0 = cpu_seconds();
  uint64_t t0 = myc__now_ns();
  sleep_ms(1000);
  double used = cpu_seconds() - c0, wall = (double)(myc__now_ns() - t0) / 1e9;
  print_message("idle: %.1f ms CPU over %.0f ms\n", used * 1000, wall * 1000);
  assert_true(used < 0.05 * wall);
  mode_stop(k, m, &r);
  myc_kernel_free(k);
}

static void test_idle_workers(void **state) { idle_case(WORKERS); }
static void test_idle_loop_thread(void **state) { idle_case(LOOP_THREAD); }

/* ==== Shutdown ========================================================= */

typedef struct flooder {
  myc_kernel *k;
  pthread_t tid;
  long sent, refused, other;
} flooder;

/* Sends until the kernel refuses because it is shutting down. */
static void *flooder_main(void *arg) {
  flooder *f = arg;
  myc_ctx *host = myc_kernel_ctx(f->k);
  for (;;) {
    int rc = myc_send_pooled(host, "NOP", (f->sent & 1) ? "ctl://x" : "echo://x", NULL, 0);
    if (rc == 0)
      f->sent++;
    else if (rc == MYC_ESHUTDOWN)
      break;
    else if (rc == MYC_EFULL)
      f->refused++;
    else
      f->other++;
  }
  return NULL;
}

typedef struct kept_call {
  myc_kernel *k;
  pthread_t tid;
  int rc, status;
} kept_call;

/* A call the handler keeps and never answers. */
static void *kept_main(void *arg) {
  kept_call *c = arg;
  myc_msg *rep = NULL;
  c->rc = myc_call(myc_kernel_ctx(c->k), "KEEP", "keep://x", "never", 5, 60000, &rep);
  c->status = rep ? myc_msg_status(rep) : 1;
  if (rep) myc_msg_release(rep);
  return NULL;
}

/* Shutdown under load, by myc_kernel_shutdown or by SIGTERM: senders are
 * refused with MYC_ESHUTDOWN, queued messages are all handled, requests
 * nobody will answer get MYC_ESHUTDOWN (a blocked myc_call returns, an
 * async callback runs once), workers are joined, and every message is
 * accounted for. */
static void shutdown_case(enum mode m, bool by_signal) {
  myc_kernel *k = kernel_fmt(gate_ini, mode_workers(m, 2), -1, 1000u);
  runner r;
  mode_start(k, m, &r);
  if (by_signal) assert_int_equal(myc_kernel_handle_signals(k), 0);
  myc_ctx *host = myc_kernel_ctx(k);
  flooder fl[2];
  kept_call kc[2];
  for (int i = 0; i < 2; i++) {
    fl[i] = (flooder){.k = k};
    kc[i] = (kept_call){.k = k, .rc = 1};
    assert_int_equal(pthread_create(&fl[i].tid, NULL, flooder_main, &fl[i]), 0);
    assert_int_equal(pthread_create(&kc[i].tid, NULL, kept_main, &kc[i]), 0);
  }
  reply_log l = {.calls = 0};
  pthread_mutex_init(&l.mu, NULL);
  myc_msg *req;
  assert_int_equal(myc_msg_new(host, "KEEP", "keep://x", "never", 5, &req), 0);
  assert_int_equal(myc_request(host, req, 60000, on_logged_reply, &l), 0);
  /* Wait until the three kept requests are held by the handler. */
  uint64_t end = now_ms() + DEADLINE_MS;
  myc_subsystem_stats ks = {0};
  while (now_ms() < end && myc_subsystem_get_stats(k, "keep", &ks) == 0 && ks.handled < 3) sleep_ms(1);
  assert_int_equal(ks.handled, 3);
  sleep_ms(50);
  if (by_signal)
    raise(SIGTERM);
  else
    myc_kernel_shutdown(k, 0);
  assert_int_equal(pthread_join(r.tid, NULL), 0);
  assert_int_equal(r.rc, 0);
  for (int i = 0; i < 2; i++) {
    pthread_join(fl[i].tid, NULL);
    pthread_join(kc[i].tid, NULL);
    assert_int_equal(fl[i].other, 0);
    assert_true(fl[i].sent > 0);
    assert_int_equal(kc[i].rc, 0);
    assert_int_equal(kc[i].status, MYC_ESHUTDOWN);
  }
  assert_int_equal(log_calls(&l), 1);
  assert_int_equal(l.others, 1);
  if (!myc__idle(k)) dump_queues(k);
  assert_true(myc__idle(k));
  assert_int_equal(k->nstarted, 0);
  assert_accounted(k);
  myc_pool_stats ps;
  myc_pool_get_stats(k, &ps);
  assert_int_equal(ps.in_use, 0);
  assert_int_equal(myc_send_pooled(host, "NOP", "echo://x", NULL, 0), MYC_ESHUTDOWN);
  myc_kernel_free(k);
  pthread_mutex_destroy(&l.mu);
  if (by_signal) {
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
  }
}

static void test_shutdown_workers(void **state) { shutdown_case(WORKERS, false); }
static void test_shutdown_loop_thread(void **state) { shutdown_case(LOOP_THREAD, false); }
static void test_sigterm_workers(void **state) { shutdown_case(WORKERS, true); }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_actor_workers),
      cmocka_unit_test(test_actor_loop_thread),
      cmocka_unit_test(test_actor_no_loop),
      cmocka_unit_test(test_actor_timers),
      cmocka_unit_test(test_batch_partial),
      cmocka_unit_test(test_block_workers),
      cmocka_unit_test(test_block_loop_thread),
      cmocka_unit_test(test_block_no_loop_drives),
      cmocka_unit_test(test_deadlock_workers),
      cmocka_unit_test(test_deadlock_loop_thread),
      cmocka_unit_test(test_calls_workers),
      cmocka_unit_test(test_calls_loop_thread),
      cmocka_unit_test(test_calls_no_loop),
      cmocka_unit_test(test_timeout_workers),
      cmocka_unit_test(test_timeout_loop_thread),
      cmocka_unit_test(test_timeout_no_loop),
      cmocka_unit_test(test_reply_from_plugin_thread),
      cmocka_unit_test(test_call_from_callback_refused),
      cmocka_unit_test(test_fairness_workers),
      cmocka_unit_test(test_fairness_loop_thread),
      cmocka_unit_test(test_fairness_no_loop),
      cmocka_unit_test(test_idle_workers),
      cmocka_unit_test(test_idle_loop_thread),
      cmocka_unit_test(test_shutdown_workers),
      cmocka_unit_test(test_shutdown_loop_thread),
      cmocka_unit_test(test_sigterm_workers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
