/* bench_latency: request/reply round trips between threads, against
 * ZeroMQ inproc.
 *
 * Mycelia: the thread that created the kernel calls myc_call() on the
 * echo plugin (myc_echo.so from the build's plugins/ or --plugin-dir) with
 * a 32-byte body and waits for the reply, which a worker thread produces
 * (workers = 1 or 2: the handler's thread, spinning briefly between
 * messages) or the loop's thread (workers = 0, myc_kernel_run in a thread
 * of its own). Every round trip is timed on its own; after --messages / 10
 * warm-up calls, --messages calls are measured.
 *
 * ZeroMQ: a PAIR socket pair over inproc://, the other end in a thread
 * that sends every 32-byte message straight back.
 *
 * Reported per case: p50, p99, p99.9 and max of one run's round trips, the
 * median of each over --runs runs (cases interleaved within each run).
 * JSON: results[] with name, p50_ns, p99_ns, p999_ns, max_ns, mean_ns;
 * top level the same keys for "myc_call, 1 worker" and zmq_p50_ns ... */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"
#include "mycelia/mycelia.h"

#ifdef MYC_HAVE_ZMQ
#include <zmq.h>
#endif

#define BODY_LEN 32

static const char body32[BODY_LEN + 1] = "0123456789abcdef0123456789abcdef";

typedef enum { SYS_MYC, SYS_ZMQ } sys_kind;

typedef struct lcase {
  const char *name;
  sys_kind sys;
  unsigned workers; /* 0: a loop thread runs the handlers */
} lcase;

static const lcase cases[] = {
    {"myc_call, 1 worker", SYS_MYC, 1},
    {"myc_call, 2 workers", SYS_MYC, 2},
    {"myc_call, loop thread (workers = 0)", SYS_MYC, 0},
#ifdef MYC_HAVE_ZMQ
    {"zeromq PAIR round trip (inproc)", SYS_ZMQ, 0},
#endif
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

enum { P50, P99, P999, PMAX, PMEAN, NSTATS };
static const char *const stat_keys[NSTATS] = {"p50_ns", "p99_ns", "p999_ns", "max_ns", "mean_ns"};

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Percentiles of n samples (sorted in place). */
static void percentiles(uint64_t *v, uint64_t n, double out[NSTATS]) {
  qsort(v, n, sizeof(*v), cmp_u64);
  double sum = 0;
  for (uint64_t i = 0; i < n; i++) sum += (double)v[i];
  out[P50] = (double)v[(n - 1) * 50 / 100];
  out[P99] = (double)v[(n - 1) * 99 / 100];
  out[P999] = (double)v[(n - 1) * 999 / 1000];
  out[PMAX] = (double)v[n - 1];
  out[PMEAN] = sum / (double)n;
}

/* ==== Mycelia ========================================================== */

typedef struct loop_thread {
  myc_kernel *k;
  pthread_t tid;
} loop_thread;

static void *loop_main(void *arg) {
  loop_thread *l = arg;
  myc_kernel_run(l->k);
  return NULL;
}

static myc_kernel *make_kernel(const char *plugin_dir, unsigned workers) {
  char ini[1024], *err = NULL;
  snprintf(ini, sizeof(ini),
           "[kernel]\nplugin_dir = %s\nworkers = %u\npool_warmup = 1000\nlog_level = error\n"
           "[plugin echo]\n",
           plugin_dir, workers);
  myc_config *cfg = NULL;
  myc_kernel *k = NULL;
  if (myc_config_parse(ini, "bench_latency.ini", &cfg, &err) < 0 ||
      myc_kernel_new(cfg, &k, &err) < 0 || myc_kernel_start(k, &err) < 0)
    bench_die("cannot build the kernel: %s\n(is the echo plugin built? try --plugin-dir)",
              err ? err : "?");
  myc_config_free(cfg);
  return k;
}

/* One round trip through myc_call; the reply must echo the body. */
static __attribute__((noinline)) void call_once(myc_ctx *ctx) {
  myc_msg *r = NULL;
  int rc = myc_call(ctx, "GET", "echo://x", body32, BODY_LEN, 10000, &r);
  if (rc < 0) bench_die("myc_call: %s", myc_strerror(rc));
  size_t len = 0;
  myc_msg_body(r, &len);
  if (myc_msg_status(r) != 0 || len != BODY_LEN) bench_die("myc_call: bad reply");
  myc_msg_release(r);
}

static void run_myc(const char *plugin_dir, const lcase *c, uint64_t n, uint64_t *samples) {
  myc_kernel *k = make_kernel(plugin_dir, c->workers);
  loop_thread l = {.k = k};
  if (!c->workers && pthread_create(&l.tid, NULL, loop_main, &l) != 0) bench_die("pthread_create");
  myc_ctx *ctx = myc_kernel_ctx(k);
  for (uint64_t i = 0; i < n / 10 + 100; i++) call_once(ctx);
  for (uint64_t i = 0; i < n; i++) {
    uint64_t t0 = bench_now_ns();
    call_once(ctx);
    samples[i] = bench_now_ns() - t0;
  }
  if (!c->workers) {
    myc_kernel_shutdown(k, 0);
    pthread_join(l.tid, NULL);
  }
  myc_kernel_free(k);
}

/* ==== ZeroMQ =========================================================== */

#ifdef MYC_HAVE_ZMQ
typedef struct zecho {
  void *s;
  uint64_t n;
  pthread_t tid;
  int rc;
} zecho;

static void *zmq_echo_main(void *arg) {
  zecho *z = arg;
  char buf[64];
  for (uint64_t i = 0; i < z->n; i++) {
    int got = zmq_recv(z->s, buf, sizeof(buf), 0);
    if (got != BODY_LEN || zmq_send(z->s, buf, (size_t)got, 0) != got) {
      z->rc = -1;
      break;
    }
  }
  return NULL;
}

static void run_zmq(uint64_t n, uint64_t *samples) {
  void *zctx = zmq_ctx_new();
  void *a = zctx ? zmq_socket(zctx, ZMQ_PAIR) : NULL;
  void *b = zctx ? zmq_socket(zctx, ZMQ_PAIR) : NULL;
  if (!a || !b || zmq_bind(a, "inproc://bench_latency") != 0 ||
      zmq_connect(b, "inproc://bench_latency") != 0)
    bench_die("zmq: cannot set up the PAIR sockets");
  uint64_t warm = n / 10 + 100;
  zecho z = {.s = b, .n = warm + n};
  if (pthread_create(&z.tid, NULL, zmq_echo_main, &z) != 0) bench_die("pthread_create");
  char buf[64];
  for (uint64_t i = 0; i < warm + n; i++) {
    uint64_t t0 = bench_now_ns();
    if (zmq_send(a, body32, BODY_LEN, 0) != BODY_LEN || zmq_recv(a, buf, sizeof(buf), 0) != BODY_LEN)
      bench_die("zmq round trip failed");
    if (i >= warm) samples[i - warm] = bench_now_ns() - t0;
  }
  pthread_join(z.tid, NULL);
  if (z.rc < 0) bench_die("zmq echo thread failed");
  zmq_close(a);
  zmq_close(b);
  zmq_ctx_term(zctx);
}
#endif

/* ==== Report =========================================================== */

static int zmq_case(void) {
  for (unsigned i = 0; i < NCASES; i++)
    if (cases[i].sys == SYS_ZMQ) return (int)i;
  return -1;
}

int main(int argc, char **argv) {
  static const bench_spec spec = {
      .name = "bench_latency",
      .summary = "request/reply round trips between threads: myc_call against ZeroMQ PAIR",
      .default_messages = 200000,
      .flags = BENCH_OPT_PLUGIN_DIR,
      .help_extra = "Times every round trip: myc_call to the echo plugin run by a worker (or\n"
                    "the loop's thread), and a ZeroMQ PAIR echo over inproc:// when built with\n"
                    "libzmq. 32-byte bodies. Prints p50, p99, p99.9 and max.\n"};
  bench_opts o;
  bench_parse(argc, argv, &spec, &o);
  const char *plugin_dir = o.plugin_dir ? o.plugin_dir : MYC_BENCH_PLUGIN_DIR;
  uint64_t *samples = malloc(o.messages * sizeof(*samples));
  double *stats = calloc(NCASES * NSTATS * o.runs, sizeof(double));
  if (!samples || !stats) bench_die("out of memory");
  for (unsigned r = 0; r < o.runs; r++) {
    for (unsigned i = 0; i < NCASES; i++) {
      const lcase *c = &cases[i];
      if (c->sys == SYS_MYC) run_myc(plugin_dir, c, o.messages, samples);
#ifdef MYC_HAVE_ZMQ
      else run_zmq(o.messages, samples);
#endif
      double st[NSTATS];
      percentiles(samples, o.messages, st);
      for (unsigned s = 0; s < NSTATS; s++) stats[(i * NSTATS + s) * o.runs + r] = st[s];
      fprintf(stderr, "run %u/%u: %-38s p50 %6.0f  p99 %7.0f  p99.9 %8.0f  max %9.0f ns\n", r + 1,
              o.runs, c->name, st[P50], st[P99], st[P999], st[PMAX]);
    }
  }
  free(samples);
  double med[NCASES][NSTATS];
  for (unsigned i = 0; i < NCASES; i++)
    for (unsigned s = 0; s < NSTATS; s++)
      med[i][s] = bench_summarise(stats + (i * NSTATS + s) * o.runs, o.runs).median;
  free(stats);
  int z = zmq_case();

  if (o.json) {
    bench_json *j = bench_json_begin(spec.name, &o);
    bench_json_array(j, "results");
    for (unsigned i = 0; i < NCASES; i++) {
      bench_json_object(j, NULL);
      bench_json_str(j, "name", cases[i].name);
      bench_json_str(j, "system", cases[i].sys == SYS_MYC ? "mycelia" : "zeromq");
      bench_json_uint(j, "workers", cases[i].workers);
      for (unsigned s = 0; s < NSTATS; s++) bench_json_num(j, stat_keys[s], med[i][s]);
      bench_json_end(j);
    }
    bench_json_end(j);
    for (unsigned s = 0; s < NSTATS; s++) bench_json_num(j, stat_keys[s], med[0][s]);
    for (unsigned s = 0; s < NSTATS; s++) {
      char key[32];
      snprintf(key, sizeof(key), "zmq_%s", stat_keys[s]);
      if (z >= 0)
        bench_json_num(j, key, med[z][s]);
      else
        bench_json_null(j, key);
    }
    bench_json_finish(j, stdout);
    return 0;
  }
  static const char *const h[] = {"case", "p50 ns", "p99 ns", "p99.9 ns", "max ns", "mean ns"};
  char title[160], grp[32];
  snprintf(title, sizeof(title), "bench_latency: %s round trips of %d bytes, median of %u runs",
           bench_group(grp, sizeof(grp), o.messages), BODY_LEN, o.runs);
  bench_table *t = bench_table_new(title, 6, h);
  for (unsigned i = 0; i < NCASES; i++) {
    bench_table_cell(t, "%s", cases[i].name);
    for (unsigned s = 0; s < NSTATS; s++) bench_table_cell(t, "%.0f", med[i][s]);
  }
#ifndef MYC_HAVE_ZMQ
  bench_table_note(t, "ZeroMQ not built in (install libzmq3-dev and reconfigure)");
#endif
  bench_table_print(t, stdout);
  return 0;
}
