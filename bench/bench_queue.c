/* bench_queue: what a subsystem's queue costs (kernel/src/ring.c).
 *
 * A ring of the kernel's default capacity (1024) on one thread, calling
 * myc__ring_* directly (the pointers pushed are dummies, never read):
 *
 *   push+pop                 one in, one out, N times;
 *   push 256, pop 256        a batch of sends, then popping one at a time;
 *   push 256, pop_many 32    the scheduler's pattern: it pops batches of 32;
 *   push 256, pop_many 256   the largest batch a turn takes;
 *   plain ring (baseline)    the same push 256 / pop 256 on a single-thread
 *                            array ring with no atomics: the floor.
 *
 * Every case counts messages (one push and one pop each). */
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"
#include "internal.h"

#define CAPACITY 1024
#define BATCH 256

typedef struct ctx {
  myc__ring ring;
  myc_msg *dummies[BATCH]; /* distinct non-NULL pointers */
  unsigned pop_batch;
} ctx;

static uint64_t case_pair(void *arg, uint64_t ops, bench_sample *s) {
  ctx *c = arg;
  myc__ring *r = &c->ring;
  bench_start(s);
  for (uint64_t i = 0; i < ops; i++) {
    if (!myc__ring_push(r, c->dummies[i & (BATCH - 1)])) return 0;
    myc_msg *m = myc__ring_pop(r);
    if (!m) return 0;
    bench_keep(m);
  }
  bench_stop(s);
  return ops;
}

static uint64_t case_batch_single(void *arg, uint64_t ops, bench_sample *s) {
  ctx *c = arg;
  myc__ring *r = &c->ring;
  uint64_t done = 0;
  bench_start(s);
  while (done < ops) {
    unsigned n = ops - done < BATCH ? (unsigned)(ops - done) : BATCH;
    for (unsigned i = 0; i < n; i++)
      if (!myc__ring_push(r, c->dummies[i])) return 0;
    for (unsigned i = 0; i < n; i++) {
      myc_msg *m = myc__ring_pop(r);
      if (!m) return 0;
      bench_keep(m);
    }
    done += n;
  }
  bench_stop(s);
  return done;
}

static uint64_t case_batch_many(void *arg, uint64_t ops, bench_sample *s) {
  ctx *c = arg;
  myc__ring *r = &c->ring;
  myc_msg *out[BATCH];
  uint64_t done = 0;
  bench_start(s);
  while (done < ops) {
    unsigned n = ops - done < BATCH ? (unsigned)(ops - done) : BATCH;
    for (unsigned i = 0; i < n; i++)
      if (!myc__ring_push(r, c->dummies[i])) return 0;
    for (unsigned got = 0; got < n;) {
      unsigned k = myc__ring_pop_many(r, out, c->pop_batch);
      if (!k) return 0;
      bench_keep(out);
      got += k;
    }
    done += n;
  }
  bench_stop(s);
  return done;
}

/* The floor: a power-of-two array ring with plain indices. */
typedef struct plain_ring {
  myc_msg **cells;
  uint64_t head, tail, mask;
} plain_ring;

static __attribute__((noinline)) int plain_push(plain_ring *r, myc_msg *m) {
  if (r->tail - r->head > r->mask) return 0;
  r->cells[r->tail++ & r->mask] = m;
  return 1;
}

static __attribute__((noinline)) myc_msg *plain_pop(plain_ring *r) {
  if (r->head == r->tail) return NULL;
  return r->cells[r->head++ & r->mask];
}

static uint64_t case_plain(void *arg, uint64_t ops, bench_sample *s) {
  ctx *c = arg;
  myc_msg *cells[CAPACITY];
  plain_ring r = {cells, 0, 0, CAPACITY - 1};
  uint64_t done = 0;
  bench_start(s);
  while (done < ops) {
    unsigned n = ops - done < BATCH ? (unsigned)(ops - done) : BATCH;
    for (unsigned i = 0; i < n; i++)
      if (!plain_push(&r, c->dummies[i])) return 0;
    for (unsigned i = 0; i < n; i++) {
      myc_msg *m = plain_pop(&r);
      if (!m) return 0;
      bench_keep(m);
    }
    done += n;
  }
  bench_stop(s);
  return done;
}

static const bench_spec spec = {
    .name = "bench_queue",
    .summary = "Subsystem queue (bounded MPMC ring): push/pop, single and batched.",
    .default_messages = 1000000,
    .help_extra =
        "Cases: push+pop one at a time; push 256 then pop 256 one by one;\n"
        "push 256 then pop_many in batches of 32 and of 256; and the same on a\n"
        "plain single-thread array ring (baseline). Ring capacity 1024.",
};

int main(int argc, char **argv) {
  bench_opts o;
  bench_parse(argc, argv, &spec, &o);

  ctx *c = calloc(1, sizeof(*c));
  if (!c || myc__ring_init(&c->ring, CAPACITY) < 0) bench_die("out of memory");
  static char dummy[BATCH];
  for (unsigned i = 0; i < BATCH; i++) c->dummies[i] = (myc_msg *)(void *)&dummy[i];

  bench_case cases[5];
  unsigned n = 0;
  cases[n++] = bench_run_case("push+pop", o.runs, o.messages, case_pair, c);
  cases[n++] = bench_run_case("push 256, pop 256", o.runs, o.messages, case_batch_single, c);
  c->pop_batch = 32;
  cases[n++] = bench_run_case("push 256, pop_many 32", o.runs, o.messages, case_batch_many, c);
  c->pop_batch = 256;
  cases[n++] = bench_run_case("push 256, pop_many 256", o.runs, o.messages, case_batch_many, c);
  cases[n++] = bench_run_case("plain ring (baseline)", o.runs, o.messages, case_plain, c);
  if (myc__ring_len(&c->ring) != 0) bench_die("the ring is not empty after the runs");

  if (o.json) {
    bench_json *j = bench_json_begin(spec.name, &o);
    bench_json_uint(j, "capacity", myc__ring_cap(&c->ring));
    bench_json_array(j, "results");
    for (unsigned i = 0; i < n; i++) bench_cases_json(j, &cases[i]);
    bench_json_end(j);
    bench_json_finish(j, stdout);
  } else {
    char a[32], title[160];
    snprintf(title, sizeof(title),
             "bench_queue: %s messages per case (push + pop each), median of %u runs, "
             "capacity %llu",
             bench_group(a, sizeof(a), o.messages), o.runs,
             (unsigned long long)myc__ring_cap(&c->ring));
    bench_table *t = bench_cases_table(title);
    for (unsigned i = 0; i < n; i++) bench_cases_row(t, &cases[i]);
    bench_table_print(t, stdout);
  }
  myc__ring_destroy(&c->ring);
  free(c);
  return 0;
}
