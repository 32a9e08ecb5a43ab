/* A bounded multi-producer multi-consumer ring (Dmitry Vyukov's design).
 *
 * Each cell carries a sequence number that says whether it is free for the
 * producer at position `pos` (seq == pos) or holds a message for the
 * consumer at `pos` (seq == pos + 1). Producers claim a position with one
 * compare-and-swap; consumers likewise, and pop_many claims a whole run of
 * ready cells with a single one. Capacity is a power of two. `tail` only
 * grows, so it doubles as the count of messages ever enqueued. */
#include <stdlib.h>

#include "internal.h"

#define ACQ memory_order_acquire
#define REL memory_order_release
#define RLX memory_order_relaxed

/* Allocate cells for `capacity` (rounded up to a power of two, >= 2). */
int myc__ring_init(myc__ring *r, uint32_t capacity) {
  uint64_t cap = 2;
  while (cap < capacity) cap <<= 1;
  r->cells = malloc(cap * sizeof(*r->cells));
  if (!r->cells) return MYC_ENOMEM;
  for (uint64_t i = 0; i < cap; i++) {
    atomic_store_explicit(&r->cells[i].seq, i, RLX);
    r->cells[i].msg = NULL;
  }
  r->mask = cap - 1;
  atomic_store_explicit(&r->head, 0, RLX);
  atomic_store_explicit(&r->tail, 0, RLX);
  return 0;
}

void myc__ring_destroy(myc__ring *r) {
  free(r->cells);
  r->cells = NULL;
}

/* Append m. Returns false when the ring is full. */
bool myc__ring_push(myc__ring *r, myc_msg *m) {
  uint64_t pos = atomic_load_explicit(&r->tail, RLX);
  for (;;) {
    myc__cell *c = &r->cells[pos & r->mask];
    uint64_t seq = atomic_load_explicit(&c->seq, ACQ);
    int64_t dif = (int64_t)(seq - pos);
    if (dif == 0) {
      /* seq_cst: a sender's "push, then look at the scheduled flag" and a
       * runner's "clear the flag, then look at the tail" must not both
       * miss (see sched.c). On x86 this is the same lock cmpxchg. */
      if (atomic_compare_exchange_weak_explicit(&r->tail, &pos, pos + 1, memory_order_seq_cst,
                                                RLX)) {
        c->msg = m;
        atomic_store_explicit(&c->seq, pos + 1, REL);
        return true;
      }
    } else if (dif < 0) {
      return false;
    } else {
      pos = atomic_load_explicit(&r->tail, RLX);
    }
  }
}

/* Append up to n messages in order with one claim. Returns how many were
 * appended: 0 when the ring is full, fewer than n when it fills up. */
unsigned myc__ring_push_many(myc__ring *r, myc_msg *const *msgs, unsigned n) {
  uint64_t pos = atomic_load_explicit(&r->tail, RLX);
  for (;;) {
    unsigned k = 0;
    while (k < n && atomic_load_explicit(&r->cells[(pos + k) & r->mask].seq, ACQ) == pos + k) k++;
    if (k == 0) {
      uint64_t seq = atomic_load_explicit(&r->cells[pos & r->mask].seq, ACQ);
      if ((int64_t)(seq - pos) < 0) return 0; /* full */
      pos = atomic_load_explicit(&r->tail, RLX);
      continue;
    }
    /* The cells were free and nobody claimed pos: if tail is still pos,
     * all k are ours. seq_cst as in myc__ring_push. */
    if (atomic_compare_exchange_weak_explicit(&r->tail, &pos, pos + k, memory_order_seq_cst, RLX)) {
      for (unsigned i = 0; i < k; i++) {
        myc__cell *c = &r->cells[(pos + i) & r->mask];
        c->msg = msgs[i];
        atomic_store_explicit(&c->seq, pos + i + 1, REL);
      }
      return k;
    }
  }
}

/* Remove the oldest message, or return NULL when empty. */
myc_msg *myc__ring_pop(myc__ring *r) {
  myc_msg *m;
  return myc__ring_pop_many(r, &m, 1) ? m : NULL;
}

/* Remove up to max messages in FIFO order with one claim. */
unsigned myc__ring_pop_many(myc__ring *r, myc_msg **out, unsigned max) {
  uint64_t pos = atomic_load_explicit(&r->head, RLX);
  for (;;) {
    unsigned n = 0;
    while (n < max) {
      myc__cell *c = &r->cells[(pos + n) & r->mask];
      if (atomic_load_explicit(&c->seq, ACQ) != pos + n + 1) break;
      n++;
    }
    if (n == 0) {
      /* Empty, or a producer has claimed the cell but not filled it yet:
       * either way nothing is ready at the head. */
      uint64_t now = atomic_load_explicit(&r->head, RLX);
      if (now == pos) return 0;
      pos = now;
      continue;
    }
    if (atomic_compare_exchange_weak_explicit(&r->head, &pos, pos + n, RLX, RLX)) {
      for (unsigned i = 0; i < n; i++) {
        myc__cell *c = &r->cells[(pos + i) & r->mask];
        out[i] = c->msg;
        atomic_store_explicit(&c->seq, pos + i + r->mask + 1, REL);
      }
      return n;
    }
  }
}

/* Messages waiting (a snapshot). */
uint64_t myc__ring_len(const myc__ring *r) {
  uint64_t t = atomic_load_explicit(&r->tail, RLX);
  uint64_t h = atomic_load_explicit(&r->head, RLX);
  return t > h ? t - h : 0;
}
