/* Pool tests (kernel/src/pool.c): warm-up, growth in slabs, trimming to
 * pool_size, the statistics, acquisition from foreign threads through the
 * shared list, and the poisoning of released messages. */
#include <pthread.h>
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

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

/* ==== Helpers ========================================================== */

/* A kernel without plugins whose pool keeps `size` and warms up `warm`. */
static myc_kernel *pool_kernel(unsigned size, unsigned warm) {
  char ini[256];
  snprintf(ini, sizeof(ini),
           "[kernel]\nplugin_dir = %%BAD%%\nlog_level = error\npool_size = %u\npool_warmup = %u\n",
           size, warm);
  return myc_test_kernel(ini);
}

/* The pool's statistics now. */
static myc_pool_stats stats(myc_kernel *k) {
  myc_pool_stats st;
  myc_pool_get_stats(k, &st);
  return st;
}

/* Misuses of released messages caught so far. */
static uint64_t bad_releases(myc_kernel *k) {
  myc_stats st;
  myc_kernel_get_stats(k, &st);
  return st.bad_releases;
}

/* Messages really waiting in the free lists (shared list + magazines),
 * counted by walking them. Only while no other thread uses the pool. */
static uint64_t walk_free(myc_kernel *k) {
  myc__pool *p = &k->pool;
  uint64_t n = 0;
  for (myc_msg *m = p->free; m; m = m->next) {
    assert_int_equal(m->magic, MYC__MAGIC_FREE);
    n++;
  }
  assert_int_equal(n, p->nfree);
  for (unsigned i = 0; i < p->ncaches; i++) {
    uint64_t c = 0;
    for (myc_msg *m = p->caches[i].free; m; m = m->next) {
      assert_int_equal(m->magic, MYC__MAGIC_FREE);
      c++;
    }
    assert_int_equal(c, p->caches[i].nfree);
    n += c;
  }
  return n;
}

#define GEN_FRESH 0u /* pool.c: the generation of a never-used message */

/* Free messages that were grown on demand but never handed out yet: their
 * first acquisition is a creation, not a reuse. */
static uint64_t walk_fresh(myc_kernel *k) {
  myc__pool *p = &k->pool;
  uint64_t n = 0;
  for (myc_msg *m = p->free; m; m = m->next) n += m->gen == GEN_FRESH;
  for (unsigned i = 0; i < p->ncaches; i++)
    for (myc_msg *m = p->caches[i].free; m; m = m->next) n += m->gen == GEN_FRESH;
  return n;
}

/* The statistics agree with each other and with the free lists. */
static void check_consistent(myc_kernel *k) {
  myc_pool_stats st = stats(k);
  assert_int_equal(st.size, st.created - st.trimmed);
  assert_int_equal(st.in_use, st.acquired - st.released);
  assert_int_equal(st.free + st.in_use, st.size);
  assert_int_equal(walk_free(k), st.free);
  assert_true(st.high_water >= st.in_use);
  assert_true(st.high_water <= st.created);
  assert_true(st.reused <= st.acquired);
}

/* A message from the pool, owned by the test. */
static myc_msg *new_msg(myc_kernel *k) {
  myc_msg *m = NULL;
  assert_int_equal(myc_msg_new(myc_kernel_ctx(k), "GET", "t://x", NULL, 0, &m), 0);
  assert_non_null(m);
  return m;
}

/* ==== Warm-up ========================================================== */

/* myc_pool_warmup(n) allocates exactly n messages up front, and using
 * them allocates nothing more. */
static void test_warmup_preallocates(void **unused) {
  myc_kernel *k = pool_kernel(2000, 0);
  myc_pool_stats st = stats(k);
  assert_int_equal(st.created, 0);
  assert_int_equal(st.size, 0);

  assert_int_equal(myc_pool_warmup(k, 300), 0);
  st = stats(k);
  assert_int_equal(st.created, 300);
  assert_int_equal(st.size, 300);
  assert_int_equal(st.free, 300);
  assert_int_equal(st.in_use, 0);
  assert_int_equal(walk_free(k), 300);

  myc_msg *m[300];
  for (int i = 0; i < 300; i++) m[i] = new_msg(k);
  st = stats(k);
  assert_int_equal(st.created, 300); /* no growth: all came from warm-up */
  assert_int_equal(st.in_use, 300);
  assert_int_equal(st.free, 0);
  assert_int_equal(st.reused, 300);  /* warmed messages count as reuse */
  for (int i = 0; i < 300; i++) assert_int_equal(myc_msg_release(m[i]), 0);
  check_consistent(k);
  myc_kernel_free(k);
}

/* pool_warmup in the config is applied by myc_kernel_new, even beyond
 * pool_size, and the warmed messages are not trimmed away on release. */
static void test_warmup_from_config(void **unused) {
  myc_kernel *k = pool_kernel(100, 500);
  myc_pool_stats st = stats(k);
  assert_int_equal(st.created, 500);
  assert_int_equal(st.size, 500);
  assert_int_equal(st.free, 500);
  myc_msg *m[500];
  for (int i = 0; i < 500; i++) m[i] = new_msg(k);
  for (int i = 0; i < 500; i++) assert_int_equal(myc_msg_release(m[i]), 0);
  st = stats(k);
  assert_int_equal(st.created, 500);
  assert_int_equal(st.trimmed, 0);
  assert_int_equal(st.free, 500);
  check_consistent(k);
  myc_kernel_free(k);
}

/* ==== Growth and trimming ============================================= */

/* Without warm-up the pool grows on demand in whole slabs of equal size,
 * not one message at a time. */
static void test_grows_in_slabs(void **unused) {
  enum { N = 1000 };
  myc_kernel *k = pool_kernel(10000, 0);
  myc_msg **m = calloc(N, sizeof(*m));
  uint64_t prev = 0, step = 0;
  unsigned growths = 0;
  for (int i = 0; i < N; i++) {
    m[i] = new_msg(k);
    uint64_t c = stats(k).created;
    if (c != prev) {
      uint64_t d = c - prev;
      if (step == 0) step = d;
      assert_int_equal(d, step); /* every slab has the same size */
      growths++;
      prev = c;
    }
  }
  assert_true(step > 1);
  assert_true(growths < N / 2);
  myc_pool_stats st = stats(k);
  assert_true(st.created >= N);
  assert_true(st.created - N < step); /* grown only when needed */
  assert_int_equal(st.free, st.created - N);
  assert_int_equal(st.reused, 0);     /* nothing was recycled yet */
  check_consistent(k);
  for (int i = 0; i < N; i++) assert_int_equal(myc_msg_release(m[i]), 0);
  check_consistent(k);
  free(m);
  myc_kernel_free(k);
}

/* Releases beyond pool_size free messages are trimmed (counted), the size
 * shrinks accordingly, and later acquisitions reuse exactly what was kept. */
static void test_trims_to_pool_size(void **unused) {
  enum { N = 1000, KEEP = 100 };
  myc_kernel *k = pool_kernel(KEEP, 0);
  myc_msg **m = calloc(N, sizeof(*m));
  for (int r = 0; r < 3; r++) {
    for (int i = 0; i < N; i++) m[i] = new_msg(k);
    myc_pool_stats before = stats(k);
    assert_true(before.size >= N);
    for (int i = 0; i < N; i++) assert_int_equal(myc_msg_release(m[i]), 0);
    myc_pool_stats st = stats(k);
    assert_int_equal(st.in_use, 0);
    assert_true(st.free <= KEEP);
    assert_true(st.free > 0);
    assert_int_equal(st.size, st.free);
    assert_int_equal(st.trimmed, st.created - st.size);
    assert_true(st.trimmed - before.trimmed >= N - KEEP);
    assert_true(st.size < before.size);
    check_consistent(k);

    /* The next round recycles every kept message that was used before,
     * hands out the never-used rest of a slab, and creates the others. */
    uint64_t recycled = st.free - walk_fresh(k), reused = st.reused;
    assert_true(recycled > 0);
    for (int i = 0; i < N; i++) m[i] = new_msg(k);
    assert_int_equal(stats(k).reused - reused, recycled);
    assert_true(stats(k).created - st.created >= N - st.free);
    for (int i = 0; i < N; i++) assert_int_equal(myc_msg_release(m[i]), 0);
  }
  check_consistent(k);
  free(m);
  myc_kernel_free(k);
}

/* Even pool_size = 1 works: at most one message is kept free. */
static void test_tiny_pool(void **unused) {
  myc_kernel *k = pool_kernel(1, 0);
  myc_msg *m[50];
  for (int r = 0; r < 3; r++) {
    for (int i = 0; i < 50; i++) m[i] = new_msg(k);
    for (int i = 0; i < 50; i++) assert_int_equal(myc_msg_release(m[i]), 0);
    myc_pool_stats st = stats(k);
    assert_int_equal(st.in_use, 0);
    assert_true(st.free <= 1);
    check_consistent(k);
  }
  myc_kernel_free(k);
}

/* ==== Statistics ======================================================= */

/* Every counter follows what was done. */
static void test_stats(void **unused) {
  myc_kernel *k = pool_kernel(2000, 0);
  myc_msg *m[15];
  for (int i = 0; i < 10; i++) m[i] = new_msg(k);
  for (int i = 0; i < 10; i++) myc_msg_release(m[i]);
  for (int i = 0; i < 10; i++) m[i] = new_msg(k);
  myc_pool_stats st = stats(k);
  assert_int_equal(st.acquired, 20);
  assert_int_equal(st.reused, 10);
  assert_int_equal(st.released, 10);
  assert_int_equal(st.in_use, 10);
  assert_int_equal(st.high_water, 10);
  assert_true(st.reuse_rate > 0.499 && st.reuse_rate < 0.501);
  check_consistent(k);

  for (int i = 10; i < 15; i++) m[i] = new_msg(k);
  assert_int_equal(stats(k).high_water, 15);
  for (int i = 0; i < 15; i++) myc_msg_release(m[i]);
  st = stats(k);
  assert_int_equal(st.in_use, 0);
  assert_int_equal(st.high_water, 15); /* a high-water mark stays */
  assert_int_equal(st.released, 25);
  assert_int_equal(st.acquired, 25);
  check_consistent(k);
  myc_kernel_free(k);
}

/* ==== Foreign threads ================================================== */

typedef struct thread_job {
  myc_kernel *k;
  myc_msg **msgs; /* release these (acquired elsewhere) if set          */
  int n;
  int rounds;
  int tag;
  int bad; /* messages found changed under our feet                    */
} thread_job;

/* Acquire n messages, release them. */
static void *acquire_release(void *arg) {
  thread_job *j = arg;
  myc_msg **m = calloc((size_t)j->n, sizeof(*m));
  char body[32];
  int len = snprintf(body, sizeof(body), "thread-%d", j->tag);
  for (int r = 0; r < j->rounds; r++) {
    for (int i = 0; i < j->n; i++)
      if (myc_msg_new(myc_kernel_ctx(j->k), "PUT", "t://x", body, (size_t)len, &m[i]) < 0) m[i] = NULL;
    for (int i = 0; i < j->n; i++) {
      size_t bl = 0;
      const char *b = m[i] ? myc_msg_body(m[i], &bl) : NULL;
      if (!b || bl != (size_t)len || memcmp(b, body, bl) != 0) j->bad++;
      if (m[i] && myc_msg_release(m[i]) < 0) j->bad++;
    }
  }
  free(m);
  return NULL;
}

/* Release messages handed over by another thread. */
static void *release_all(void *arg) {
  thread_job *j = arg;
  for (int i = 0; i < j->n; i++)
    if (myc_msg_release(j->msgs[i]) < 0) j->bad++;
  return NULL;
}

/* A thread that is not the kernel's uses the shared list under its lock,
 * never the loop thread's magazine. */
static void test_foreign_thread_uses_shared_list(void **unused) {
  myc_kernel *k = pool_kernel(1000, 0);
  myc__pool *p = &k->pool;
  uint64_t cache_acq = MYC__LOAD(p->caches[0].acquired);
  uint64_t cache_rel = MYC__LOAD(p->caches[0].released);
  thread_job j = {.k = k, .n = 200, .rounds = 1, .tag = 1};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, acquire_release, &j), 0);
  pthread_join(t, NULL);
  assert_int_equal(j.bad, 0);
  assert_int_equal(MYC__LOAD(p->caches[0].acquired), cache_acq);
  assert_int_equal(MYC__LOAD(p->caches[0].released), cache_rel);
  assert_int_equal(MYC__LOAD(p->acquired), 200);
  assert_int_equal(MYC__LOAD(p->released), 200);
  assert_int_equal(p->nfree, stats(k).free); /* all back in the shared list */
  assert_int_equal(stats(k).high_water, 200);
  check_consistent(k);

  /* Acquired here, released there: the messages go to the shared list. */
  myc_msg *m[100];
  for (int i = 0; i < 100; i++) m[i] = new_msg(k);
  uint64_t shared = p->nfree;
  thread_job r = {.k = k, .msgs = m, .n = 100};
  assert_int_equal(pthread_create(&t, NULL, release_all, &r), 0);
  pthread_join(t, NULL);
  assert_int_equal(r.bad, 0);
  assert_int_equal(p->nfree, shared + 100);
  assert_int_equal(MYC__LOAD(p->released), 300);
  assert_int_equal(stats(k).in_use, 0);
  check_consistent(k);

  /* Handing messages over repeatedly never makes the high-water mark
   * exceed what could ever have been in use. */
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < 100; i++) m[i] = new_msg(k);
    assert_int_equal(pthread_create(&t, NULL, release_all, &r), 0);
    pthread_join(t, NULL);
    assert_int_equal(r.bad, 0);
    check_consistent(k);
  }
  assert_true(stats(k).high_water >= 200);
  assert_true(stats(k).high_water <= stats(k).created);
  myc_kernel_free(k);
}

/* Two foreign threads and the loop thread acquire and release at once:
 * no message is handed to two owners, and the counts add up. */
static void test_threads_concurrently(void **unused) {
  myc_kernel *k = pool_kernel(300, 0);
  thread_job j[2] = {{.k = k, .n = 50, .rounds = 200, .tag = 1},
                     {.k = k, .n = 50, .rounds = 200, .tag = 2}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, acquire_release, &j[i]), 0);
  thread_job mine = {.k = k, .n = 50, .rounds = 200, .tag = 0};
  acquire_release(&mine);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  assert_int_equal(mine.bad, 0);
  assert_int_equal(j[0].bad, 0);
  assert_int_equal(j[1].bad, 0);
  myc_pool_stats st = stats(k);
  assert_int_equal(st.acquired, 3 * 50 * 200);
  assert_int_equal(st.released, 3 * 50 * 200);
  assert_int_equal(st.in_use, 0);
  assert_true(st.free <= 300);
  assert_true(st.high_water >= 50 && st.high_water <= 150);
  check_consistent(k);
  myc_kernel_free(k);
}

typedef struct churn {
  myc_kernel *k;
  _Atomic int stop;
  int bad;
} churn;

/* Acquire and release one message at a time until told to stop. */
static void *churn_one(void *arg) {
  churn *c = arg;
  while (!atomic_load(&c->stop)) {
    myc_msg *m;
    if (myc_msg_new(myc_kernel_ctx(c->k), "GET", "t://x", NULL, 0, &m) < 0 || myc_msg_release(m) < 0)
      c->bad++;
  }
  return NULL;
}

/* Statistics read while two threads churn never show more messages in use
 * than can be (each thread holds at most one), and never wrap below zero. */
static void test_stats_under_concurrency(void **unused) {
  myc_kernel *k = pool_kernel(100, 0);
  churn c = {.k = k};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, churn_one, &c), 0);
  uint64_t worst = 0, worst_free = 0;
  for (int i = 0; i < 200000; i++) {
    myc_pool_stats st = stats(k);
    if (st.in_use > worst) worst = st.in_use;
    if (st.free > worst_free) worst_free = st.free;
  }
  atomic_store(&c.stop, 1);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  assert_int_equal(c.bad, 0);
  assert_true(worst <= 2);
  assert_true(worst_free <= 100);
  assert_true(stats(k).high_water <= 2);
  assert_int_equal(stats(k).in_use, 0);
  check_consistent(k);
  myc_kernel_free(k);
}

/* ==== Poisoning ======================================================== */

/* A second release is refused with MYC_EBADMSG and counted. */
static void test_double_release(void **unused) {
  myc_kernel *k = pool_kernel(2000, 0);
  myc_msg *m = new_msg(k);
  uint32_t gen = m->gen;
  assert_int_equal(myc_msg_release(m), 0);
  assert_int_not_equal(m->gen, gen); /* a new generation */
  assert_int_equal(bad_releases(k), 0);
  assert_int_equal(myc_msg_release(m), MYC_EBADMSG);
  assert_int_equal(bad_releases(k), 1);
  assert_int_equal(myc_msg_release(m), MYC_EBADMSG);
  assert_int_equal(bad_releases(k), 2);
  assert_int_equal(stats(k).released, 1); /* the pool saw one release */
  check_consistent(k);

  /* With a reference: two releases are fine, the third is not. */
  m = new_msg(k);
  assert_int_equal(myc_msg_ref(m), 0);
  assert_int_equal(myc_msg_release(m), 0);
  assert_non_null(myc_msg_uri(m, NULL)); /* still live */
  assert_int_equal(myc_msg_release(m), 0);
  assert_int_equal(myc_msg_release(m), MYC_EBADMSG);
  assert_int_equal(bad_releases(k), 3);
  assert_int_equal(myc_msg_release(NULL), MYC_EINVAL);
  check_consistent(k);
  myc_kernel_free(k);
}

/* Every accessor refuses a released message and reports it. */
static void test_use_after_release(void **unused) {
  myc_kernel *k = pool_kernel(2000, 0);
  myc_msg *m = NULL;
  assert_int_equal(myc_msg_new(myc_kernel_ctx(k), "PUT", "t://a/b?c", "body", 4, &m), 0);
  assert_int_equal(myc_msg_release(m), 0);
#if defined(__SANITIZE_ADDRESS__)
  /* The payload of a released message is poisoned for ASan. */
  assert_true(__asan_address_is_poisoned(m->uri_inline));
  assert_true(__asan_address_is_poisoned(m->body_inline));
#endif
  uint64_t before = bad_releases(k);
  size_t len = 99;
  assert_null(myc_msg_uri(m, &len));
  assert_int_equal(len, 0);
  len = 99;
  assert_null(myc_msg_body(m, &len));
  assert_int_equal(len, 0);
  assert_null(myc_msg_verb(m));
  assert_null(myc_msg_content_type(m));
  assert_null(myc_msg_sender(m));
  assert_int_equal(myc_msg_kind(m), MYC_EBADMSG);
  assert_int_equal(myc_msg_status(m), MYC_EBADMSG);
  assert_int_equal(myc_msg_is_request(m), MYC_EBADMSG);
  assert_int_equal(myc_msg_id(m), 0);
  assert_int_equal(myc_msg_correlation(m), 0);
  assert_int_equal(myc_msg_timestamp(m), 0);
  assert_int_equal(myc_msg_ref(m), MYC_EBADMSG);
  assert_int_equal(myc_msg_set_body(m, "x", 1), MYC_EBADMSG);
  assert_int_equal(myc_msg_set_kind(m, MYC_KIND_EVENT), MYC_EBADMSG);
  assert_int_equal(myc_msg_set_content_type(m, "text/plain"), MYC_EBADMSG);
  assert_int_equal(myc_reply(m, 0, NULL, 0), MYC_EBADMSG);
  assert_int_equal(myc_send(myc_kernel_ctx(k), m), MYC_EBADMSG);
  assert_int_equal(bad_releases(k) - before, 17); /* each one reported */
  assert_int_equal(stats(k).in_use, 0);
  check_consistent(k);
  myc_kernel_free(k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_warmup_preallocates),
      cmocka_unit_test(test_warmup_from_config),
      cmocka_unit_test(test_grows_in_slabs),
      cmocka_unit_test(test_trims_to_pool_size),
      cmocka_unit_test(test_tiny_pool),
      cmocka_unit_test(test_stats),
      cmocka_unit_test(test_foreign_thread_uses_shared_list),
      cmocka_unit_test(test_threads_concurrently),
      cmocka_unit_test(test_stats_under_concurrency),
      cmocka_unit_test(test_double_release),
      cmocka_unit_test(test_use_after_release),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
