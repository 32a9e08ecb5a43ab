/* bench_pool: what the message pool costs (kernel/src/pool.c).
 *
 * Every case runs on a kernel built from a config with no plugins, on the
 * thread that built it (the loop thread, which owns the pool's magazine),
 * calling myc__pool_acquire / myc__pool_release directly:
 *
 *   acquire+release         one message out and back, N times: the cost a
 *                           pooled send pays for its message;
 *   acquire 256, release 256  the pattern of a batch of sends followed by
 *                           a poll that handles them;
 *   malloc+free (baseline)  what a non-pooling program pays instead;
 *   warmup                  myc_pool_warmup(W) on a fresh kernel, per message;
 *   grow from empty         W acquisitions held at once on a kernel with no
 *                           warmup: slabs are allocated on demand;
 *   release after growth    giving those W back: beyond pool_size they are
 *                           retired and their slabs freed.
 *
 * W = min(N, 100000), so --messages 10M does not hold 7 GB of messages.
 * The reuse rate (reused / acquired, myc_pool_get_stats) is reported for
 * the steady state and for a second round after growth. */
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"
#include "internal.h"

#define BATCH 256
#define HOLD_MAX 100000

static myc_kernel *make_kernel(uint64_t warmup) {
  char ini[256], *err = NULL;
  myc_config *cfg = NULL;
  myc_kernel *k = NULL;
  snprintf(ini, sizeof(ini),
           "[kernel]\npool_size = 2000\npool_warmup = %llu\nlog_level = error\n",
           (unsigned long long)warmup);
  if (myc_config_parse(ini, "bench_pool.ini", &cfg, &err) < 0 ||
      myc_kernel_new(cfg, &k, &err) < 0)
    bench_die("cannot build a kernel: %s", err ? err : "?");
  myc_config_free(cfg);
  return k;
}

/* ==== Cases ============================================================ */

typedef struct ctx {
  myc_kernel *warm; /* warmed up, shared by the steady-state cases */
  myc_msg **held;   /* room for HOLD_MAX messages                   */
} ctx;

static uint64_t case_pair(void *arg, uint64_t ops, bench_sample *s) {
  myc_kernel *k = ((ctx *)arg)->warm;
  bench_start(s);
  for (uint64_t i = 0; i < ops; i++) {
    myc_msg *m = myc__pool_acquire(k);
    if (!m) return 0;
    bench_keep(m);
    myc__pool_release(k, m);
  }
  bench_stop(s);
  return ops;
}

static uint64_t case_batch(void *arg, uint64_t ops, bench_sample *s) {
  ctx *c = arg;
  myc_kernel *k = c->warm;
  myc_msg **b = c->held;
  uint64_t done = 0;
  bench_start(s);
  while (done < ops) {
    unsigned n = ops - done < BATCH ? (unsigned)(ops - done) : BATCH;
    for (unsigned i = 0; i < n; i++)
      if (!(b[i] = myc__pool_acquire(k))) return 0;
    for (unsigned i = 0; i < n; i++) myc__pool_release(k, b[i]);
    done += n;
  }
  bench_stop(s);
  return done;
}

static uint64_t case_malloc(void *arg, uint64_t ops, bench_sample *s) {
  (void)arg;
  bench_start(s);
  for (uint64_t i = 0; i < ops; i++) {
    myc_msg *m = malloc(sizeof(*m));
    if (!m) return 0;
    m->magic = MYC__MAGIC_LIVE;
    bench_keep(m);
    free(m);
  }
  bench_stop(s);
  return ops;
}

static uint64_t case_warmup(void *arg, uint64_t ops, bench_sample *s) {
  (void)arg;
  uint64_t w = ops < HOLD_MAX ? ops : HOLD_MAX;
  myc_kernel *k = make_kernel(0);
  bench_start(s);
  int rc = myc_pool_warmup(k, w);
  bench_stop(s);
  myc_kernel_free(k);
  return rc < 0 ? 0 : w;
}

static uint64_t case_grow(void *arg, uint64_t ops, bench_sample *s) {
  ctx *c = arg;
  uint64_t w = ops < HOLD_MAX ? ops : HOLD_MAX;
  myc_kernel *k = make_kernel(0);
  bench_start(s);
  for (uint64_t i = 0; i < w; i++)
    if (!(c->held[i] = myc__pool_acquire(k))) return 0;
  bench_stop(s);
  for (uint64_t i = 0; i < w; i++) myc__pool_release(k, c->held[i]);
  myc_kernel_free(k);
  return w;
}

static uint64_t case_shrink(void *arg, uint64_t ops, bench_sample *s) {
  ctx *c = arg;
  uint64_t w = ops < HOLD_MAX ? ops : HOLD_MAX;
  myc_kernel *k = make_kernel(0);
  for (uint64_t i = 0; i < w; i++)
    if (!(c->held[i] = myc__pool_acquire(k))) return 0;
  bench_start(s);
  for (uint64_t i = 0; i < w; i++) myc__pool_release(k, c->held[i]);
  bench_stop(s);
  myc_kernel_free(k);
  return w;
}

/* Reuse after growth: grow to W, give back, take W again. */
static myc_pool_stats reuse_after_growth(ctx *c, uint64_t ops) {
  uint64_t w = ops < HOLD_MAX ? ops : HOLD_MAX;
  myc_kernel *k = make_kernel(0);
  myc_pool_stats st;
  for (int round = 0; round < 2; round++) {
    for (uint64_t i = 0; i < w; i++)
      if (!(c->held[i] = myc__pool_acquire(k))) bench_die("out of memory");
    for (uint64_t i = 0; i < w; i++) myc__pool_release(k, c->held[i]);
  }
  myc_pool_get_stats(k, &st);
  myc_kernel_free(k);
  return st;
}

/* ==== Main ============================================================= */

static const bench_spec spec = {
    .name = "bench_pool",
    .summary = "Message pool: acquire/release, warmup, growth and reuse rate.",
    .default_messages = 1000000,
    .help_extra =
        "Cases: acquire+release one at a time; acquire 256 then release 256;\n"
        "malloc+free of a message-sized block (baseline); warmup, growth from\n"
        "empty and release after growth over min(N, 100000) messages.",
};

int main(int argc, char **argv) {
  bench_opts o;
  bench_parse(argc, argv, &spec, &o);

  ctx c;
  c.warm = make_kernel(1000);
  c.held = malloc(HOLD_MAX * sizeof(*c.held));
  if (!c.held) bench_die("out of memory");

  bench_case cases[6];
  unsigned n = 0;
  cases[n++] = bench_run_case("acquire+release", o.runs, o.messages, case_pair, &c);
  cases[n++] = bench_run_case("acquire 256, release 256", o.runs, o.messages, case_batch, &c);
  cases[n++] = bench_run_case("malloc+free (baseline)", o.runs, o.messages, case_malloc, &c);
  cases[n++] = bench_run_case("warmup", o.runs, o.messages, case_warmup, &c);
  cases[n++] = bench_run_case("grow from empty", o.runs, o.messages, case_grow, &c);
  cases[n++] = bench_run_case("release after growth", o.runs, o.messages, case_shrink, &c);

  myc_pool_stats steady, grown;
  myc_pool_get_stats(c.warm, &steady);
  grown = reuse_after_growth(&c, o.messages);
  double ratio = cases[2].ns.median / cases[0].ns.median;

  if (o.json) {
    bench_json *j = bench_json_begin(spec.name, &o);
    bench_json_uint(j, "msg_size", sizeof(myc_msg));
    bench_json_array(j, "results");
    for (unsigned i = 0; i < n; i++) bench_cases_json(j, &cases[i]);
    bench_json_end(j);
    bench_json_num(j, "reuse_rate_steady", steady.reuse_rate);
    bench_json_num(j, "reuse_rate_after_growth", grown.reuse_rate);
    bench_json_uint(j, "created_after_growth", grown.created);
    bench_json_uint(j, "trimmed_after_growth", grown.trimmed);
    bench_json_num(j, "ratio_malloc_vs_pool", ratio);
    bench_json_finish(j, stdout);
  } else {
    char a[32], b[32];
    char title[160];
    snprintf(title, sizeof(title),
             "bench_pool: %s ops per case, median of %u runs (message: %zu bytes)",
             bench_group(a, sizeof(a), o.messages), o.runs, sizeof(myc_msg));
    bench_table *t = bench_cases_table(title);
    for (unsigned i = 0; i < n; i++) bench_cases_row(t, &cases[i]);
    bench_table_print(t, stdout);
    printf("\nmalloc+free costs %.2fx a pooled acquire+release\n", ratio);
    printf("reuse rate, steady state (warmup 1000): %.2f%% of %s acquisitions\n",
           100 * steady.reuse_rate, bench_group(a, sizeof(a), steady.acquired));
    printf("reuse rate, second round after growing to %s: %.2f%% (created %s, trimmed %llu)\n",
           bench_group(b, sizeof(b), o.messages < HOLD_MAX ? o.messages : HOLD_MAX),
           100 * grown.reuse_rate, bench_group(a, sizeof(a), grown.created),
           (unsigned long long)grown.trimmed);
  }
  myc_kernel_free(c.warm);
  free(c.held);
  return 0;
}
