/* Ring tests (kernel/src/ring.c): FIFO order, capacity rounding, full and
 * empty, pop_many, wrap-around, and two producers feeding one consumer.
 * The ring never looks inside its messages, so the tests queue tagged
 * integers cast to pointers. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

/* A fake message carrying v (never dereferenced). */
static myc_msg *tag(uint64_t v) { return (myc_msg *)(uintptr_t)v; }
static uint64_t untag(const myc_msg *m) { return (uint64_t)(uintptr_t)m; }

/* Items ever pushed: tail only grows. */
static uint64_t pushed(const myc__ring *r) { return atomic_load(&r->tail); }

/* ==== Single thread ==================================================== */

/* Messages come out in the order they went in. */
static void test_fifo(void **unused) {
  myc__ring r;
  assert_int_equal(myc__ring_init(&r, 64), 0);
  assert_null(myc__ring_pop(&r));
  for (uint64_t i = 1; i <= 50; i++) assert_true(myc__ring_push(&r, tag(i)));
  assert_int_equal(myc__ring_len(&r), 50);
  for (uint64_t i = 1; i <= 50; i++) assert_int_equal(untag(myc__ring_pop(&r)), i);
  assert_null(myc__ring_pop(&r));
  assert_int_equal(myc__ring_len(&r), 0);
  assert_int_equal(pushed(&r), 50);
  myc__ring_destroy(&r);
}

/* The capacity is the smallest power of two >= the request (at least 2),
 * and exactly that many messages fit. */
static void test_capacity_rounding(void **unused) {
  const uint32_t asks[] = {0, 1, 2, 3, 5, 8, 9, 15, 16, 17, 100, 1000, 1024, 1025, 4097};
  for (size_t a = 0; a < sizeof(asks) / sizeof(asks[0]); a++) {
    myc__ring r;
    assert_int_equal(myc__ring_init(&r, asks[a]), 0);
    uint64_t cap = myc__ring_cap(&r);
    assert_true(cap >= 2);
    assert_int_equal(cap & (cap - 1), 0);         /* a power of two */
    assert_true(cap >= asks[a]);                   /* enough room    */
    assert_true(cap == 2 || cap / 2 < asks[a]);    /* the smallest   */
    uint64_t n = 0;
    while (myc__ring_push(&r, tag(n + 1))) {
      n++;
      assert_true(n <= cap);
    }
    assert_int_equal(n, cap);
    assert_int_equal(myc__ring_len(&r), cap);
    myc__ring_destroy(&r);
  }
}

/* A full ring refuses a push without losing anything; one pop makes room
 * for exactly one more. */
static void test_full_and_empty(void **unused) {
  myc__ring r;
  assert_int_equal(myc__ring_init(&r, 8), 0);
  for (uint64_t i = 1; i <= 8; i++) assert_true(myc__ring_push(&r, tag(i)));
  assert_false(myc__ring_push(&r, tag(99)));
  assert_false(myc__ring_push(&r, tag(99)));
  assert_int_equal(pushed(&r), 8); /* refused pushes are not counted */
  assert_int_equal(untag(myc__ring_pop(&r)), 1);
  assert_true(myc__ring_push(&r, tag(9)));
  assert_false(myc__ring_push(&r, tag(99)));
  for (uint64_t i = 2; i <= 9; i++) assert_int_equal(untag(myc__ring_pop(&r)), i);
  assert_null(myc__ring_pop(&r));
  assert_null(myc__ring_pop(&r));
  assert_int_equal(myc__ring_len(&r), 0);
  myc__ring_destroy(&r);
}

/* pop_many takes up to `max` in order, and no more than are queued. */
static void test_pop_many(void **unused) {
  myc__ring r;
  myc_msg *out[16];
  assert_int_equal(myc__ring_init(&r, 16), 0);
  assert_int_equal(myc__ring_pop_many(&r, out, 16), 0);
  for (uint64_t i = 1; i <= 10; i++) assert_true(myc__ring_push(&r, tag(i)));
  assert_int_equal(myc__ring_pop_many(&r, out, 4), 4);
  for (unsigned i = 0; i < 4; i++) assert_int_equal(untag(out[i]), i + 1);
  memset(out, 0, sizeof(out));
  assert_int_equal(myc__ring_pop_many(&r, out, 16), 6);
  for (unsigned i = 0; i < 6; i++) assert_int_equal(untag(out[i]), i + 5);
  assert_null(out[6]); /* nothing written past what was taken */
  assert_int_equal(myc__ring_pop_many(&r, out, 16), 0);
  assert_int_equal(myc__ring_pop_many(&r, out, 0), 0);
  myc__ring_destroy(&r);
}

/* Positions wrap around the cells many times with order intact, with
 * batches of every size up to and including the capacity. */
static void test_wraparound(void **unused) {
  myc__ring r;
  myc_msg *out[8];
  assert_int_equal(myc__ring_init(&r, 8), 0);
  uint64_t next_in = 1, next_out = 1;
  for (unsigned round = 0; round < 20000; round++) {
    unsigned in = 1 + round % 8;
    for (unsigned i = 0; i < in; i++) assert_true(myc__ring_push(&r, tag(next_in++)));
    if (in == 8) assert_false(myc__ring_push(&r, tag(0)));
    unsigned want = 1 + (round * 7) % 8, got = 0;
    while (got < in) {
      unsigned n = myc__ring_pop_many(&r, out, want);
      assert_true(n > 0 && n <= want);
      for (unsigned i = 0; i < n; i++) assert_int_equal(untag(out[i]), next_out++);
      got += n;
    }
    assert_int_equal(got, in);
    assert_int_equal(myc__ring_len(&r), 0);
  }
  assert_int_equal(next_in, next_out);
  assert_int_equal(pushed(&r), next_in - 1);
  assert_true(pushed(&r) > 1000 * myc__ring_cap(&r));
  myc__ring_destroy(&r);
}

/* ==== Threads ========================================================== */

enum { PER_PRODUCER = 200000 };

typedef struct producer {
  myc__ring *r;
  uint64_t id;
} producer;

/* Push PER_PRODUCER tagged items (id in the high bits, 1.. in the low),
 * waiting while the ring is full. */
static void *produce(void *arg) {
  producer *p = arg;
  for (uint64_t i = 1; i <= PER_PRODUCER; i++) {
    myc_msg *m = tag(p->id << 32 | i);
    while (!myc__ring_push(p->r, m)) sched_yield();
  }
  return NULL;
}

/* Two producers, one consumer using pop and pop_many: every item arrives
 * exactly once, and each producer's items arrive in order. */
static void test_two_producers_one_consumer(void **unused) {
  myc__ring r;
  assert_int_equal(myc__ring_init(&r, 16), 0);
  producer p[2] = {{&r, 1}, {&r, 2}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, produce, &p[i]), 0);
  uint64_t last[3] = {0, 0, 0}, total = 0;
  myc_msg *out[8];
  while (total < 2ull * PER_PRODUCER) {
    unsigned n;
    if (total % 3 == 0) {
      myc_msg *m = myc__ring_pop(&r);
      n = m ? 1 : 0;
      out[0] = m;
    } else {
      n = myc__ring_pop_many(&r, out, 8);
    }
    if (n == 0) {
      sched_yield();
      continue;
    }
    for (unsigned i = 0; i < n; i++) {
      uint64_t v = untag(out[i]), id = v >> 32, seq = v & 0xffffffffu;
      assert_true(id == 1 || id == 2);
      assert_int_equal(seq, last[id] + 1); /* in order, none lost or doubled */
      last[id] = seq;
    }
    total += n;
  }
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  assert_int_equal(last[1], PER_PRODUCER);
  assert_int_equal(last[2], PER_PRODUCER);
  assert_null(myc__ring_pop(&r));
  assert_int_equal(pushed(&r), 2ull * PER_PRODUCER);
  myc__ring_destroy(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fifo),
      cmocka_unit_test(test_capacity_rounding),
      cmocka_unit_test(test_full_and_empty),
      cmocka_unit_test(test_pop_many),
      cmocka_unit_test(test_wraparound),
      cmocka_unit_test(test_two_producers_one_consumer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
