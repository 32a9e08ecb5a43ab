/* bench_threads: messages between threads, against ZeroMQ inproc.
 *
 * Each Mycelia case builds a kernel with `workers` worker threads and one
 * echo subsystem per target (the real plugin, myc_echo.so, from the
 * build's plugins/ or --plugin-dir), queues of 4096 with overflow = block,
 * and a pool warmed up to hold everything in flight. Producers send 32-byte
 * bodies; the run ends when the subsystems have handled every message.
 * Producer 0 is the thread that created the kernel (it has a pool magazine
 * of its own); the others are plain threads of the program.
 *
 *   single  myc_send_pooled() per message
 *   batch   myc_send_batch() of 64 messages built with myc_msg_new()
 *
 * ZeroMQ (when built with libzmq): PUSH sockets, one per producer, connect
 * to one PULL socket over inproc://; the PULL thread receives every
 * message into a buffer. 32-byte messages, default high-water marks.
 *
 * Cases run interleaved within each run (all cases of run 1, then run
 * 2, ...), so every ratio compares figures taken side by side on a noisy
 * machine; the table shows the median of --runs runs with min and max.
 * JSON: results[] with name, producers, subsystems, workers, ns_per_msg,
 * msgs_per_sec, min/max; top level msgs_per_sec (1 producer, single
 * sends), zmq_msgs_per_sec and ratio_vs_zmq. */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchlib.h"
#include "mycelia/mycelia.h"

#ifdef MYC_HAVE_ZMQ
#include <zmq.h>
#endif

#define BODY_LEN 32
#define BATCH 64
#define MAX_PRODUCERS 8

static const char body32[BODY_LEN + 1] = "0123456789abcdef0123456789abcdef";

typedef enum { SYS_MYC, SYS_ZMQ } sys_kind;

typedef struct tcase {
  const char *name;
  sys_kind sys;
  unsigned producers, subsystems, workers, batch;
} tcase;

static const tcase cases[] = {
    {"mycelia 1 producer -> 1 subsystem", SYS_MYC, 1, 1, 1, 1},
    {"mycelia 1 producer -> 1 subsystem, batch 64", SYS_MYC, 1, 1, 1, BATCH},
    {"mycelia 2 producers -> 1 subsystem", SYS_MYC, 2, 1, 1, 1},
    {"mycelia 2 producers -> 2 subsystems", SYS_MYC, 2, 2, 2, 1},
    {"mycelia 2 producers -> 2 subsystems, batch 64", SYS_MYC, 2, 2, 2, BATCH},
#ifdef MYC_HAVE_ZMQ
    {"zeromq 1 PUSH -> PULL (inproc)", SYS_ZMQ, 1, 1, 0, 1},
    {"zeromq 2 PUSH -> PULL (inproc)", SYS_ZMQ, 2, 1, 0, 1},
#endif
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* ==== Mycelia ========================================================== */

typedef struct producer {
  myc_kernel *k;
  const tcase *c;
  unsigned idx;
  uint64_t n;
  _Atomic int *go;
  pthread_t tid;
  int rc;
} producer;

static myc_kernel *make_kernel(const char *plugin_dir, const tcase *c) {
  char ini[4096], *err = NULL;
  int n = snprintf(ini, sizeof(ini),
                   "[kernel]\nplugin_dir = %s\nworkers = %u\nqueue_capacity = 4096\n"
                   "overflow = block\nblock_timeout_ms = 600000\npool_size = %u\n"
                   "pool_warmup = %u\nlog_level = error\n",
                   plugin_dir, c->workers, 8192 * c->subsystems + 4096,
                   8192 * c->subsystems + 4096);
  for (unsigned i = 0; i < c->subsystems; i++)
    n += snprintf(ini + n, sizeof(ini) - (size_t)n,
                  "[plugin e%u]\npath = myc_echo.so\nschemes = e%u\n", i, i);
  myc_config *cfg = NULL;
  myc_kernel *k = NULL;
  if (myc_config_parse(ini, "bench_threads.ini", &cfg, &err) < 0 ||
      myc_kernel_new(cfg, &k, &err) < 0 || myc_kernel_start(k, &err) < 0)
    bench_die("cannot build the kernel: %s\n(is the echo plugin built? try --plugin-dir)",
              err ? err : "?");
  myc_config_free(cfg);
  return k;
}

/* Send p->n messages, one at a time or in batches. */
static __attribute__((noinline)) int produce(producer *p) {
  myc_ctx *ctx = myc_kernel_ctx(p->k);
  char uri[16];
  snprintf(uri, sizeof(uri), "e%u://x", p->idx % p->c->subsystems);
  if (p->c->batch <= 1) {
    for (uint64_t i = 0; i < p->n; i++) {
      int rc = myc_send_pooled(ctx, "PUT", uri, body32, BODY_LEN);
      if (rc < 0) return rc;
    }
    return 0;
  }
  myc_msg *batch[BATCH];
  for (uint64_t i = 0; i < p->n;) {
    unsigned b = p->n - i < BATCH ? (unsigned)(p->n - i) : BATCH;
    for (unsigned j = 0; j < b; j++) {
      int rc = myc_msg_new(ctx, "PUT", uri, body32, BODY_LEN, &batch[j]);
      if (rc < 0) return rc;
    }
    unsigned done = 0;
    while (done < b) {
      int rc = myc_send_batch(ctx, batch + done, b - done);
      if (rc < 0) return rc;
      done += (unsigned)rc;
    }
    i += b;
  }
  return 0;
}

static void *producer_main(void *arg) {
  producer *p = arg;
  while (!atomic_load_explicit(p->go, memory_order_acquire)) sched_yield();
  p->rc = produce(p);
  return NULL;
}

static uint64_t handled(myc_kernel *k, unsigned nsubs) {
  uint64_t h = 0;
  for (unsigned i = 0; i < nsubs; i++) {
    char name[16];
    myc_subsystem_stats st;
    snprintf(name, sizeof(name), "e%u", i);
    if (myc_subsystem_get_stats(k, name, &st) < 0) bench_die("no subsystem %s", name);
    h += st.handled;
  }
  return h;
}

/* One run: ns for `total` messages. */
static double run_myc(const char *plugin_dir, const tcase *c, uint64_t total) {
  myc_kernel *k = make_kernel(plugin_dir, c);
  _Atomic int go = 0;
  producer ps[MAX_PRODUCERS];
  for (unsigned i = 0; i < c->producers; i++) {
    ps[i] = (producer){.k = k, .c = c, .idx = i, .go = &go};
    ps[i].n = total / c->producers + (i == 0 ? total % c->producers : 0);
  }
  for (unsigned i = 1; i < c->producers; i++)
    if (pthread_create(&ps[i].tid, NULL, producer_main, &ps[i]) != 0) bench_die("pthread_create");
  uint64_t t0 = bench_now_ns();
  atomic_store_explicit(&go, 1, memory_order_release);
  ps[0].rc = produce(&ps[0]);
  for (unsigned i = 1; i < c->producers; i++) pthread_join(ps[i].tid, NULL);
  while (handled(k, c->subsystems) < total) {
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
  }
  uint64_t ns = bench_now_ns() - t0;
  for (unsigned i = 0; i < c->producers; i++)
    if (ps[i].rc < 0) bench_die("%s: producer %u: %s", c->name, i, myc_strerror(ps[i].rc));
  myc_kernel_free(k);
  return (double)ns;
}

/* ==== ZeroMQ =========================================================== */

#ifdef MYC_HAVE_ZMQ
typedef struct zpeer {
  void *zctx;
  uint64_t n;
  _Atomic int *go;
  pthread_t tid;
  int rc;
} zpeer;

static __attribute__((noinline)) int zmq_produce(zpeer *z) {
  void *s = zmq_socket(z->zctx, ZMQ_PUSH);
  if (!s || zmq_connect(s, "inproc://bench_threads") != 0) return -1;
  while (!atomic_load_explicit(z->go, memory_order_acquire)) sched_yield();
  int rc = 0;
  for (uint64_t i = 0; i < z->n && rc == 0; i++)
    if (zmq_send(s, body32, BODY_LEN, 0) != BODY_LEN) rc = -1;
  int linger = -1;
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
  zmq_close(s);
  return rc;
}

static void *zmq_producer_main(void *arg) {
  zpeer *z = arg;
  z->rc = zmq_produce(z);
  return NULL;
}

typedef struct zsink {
  void *pull;
  uint64_t n;
  pthread_t tid;
  int rc;
} zsink;

static void *zmq_sink_main(void *arg) {
  zsink *z = arg;
  char buf[64];
  for (uint64_t i = 0; i < z->n; i++)
    if (zmq_recv(z->pull, buf, sizeof(buf), 0) != BODY_LEN) {
      z->rc = -1;
      break;
    }
  bench_keep(buf);
  return NULL;
}

/* One run: producer 0 is this thread, the PULL socket has its own. */
static double run_zmq(const tcase *c, uint64_t total) {
  void *zctx = zmq_ctx_new();
  void *pull = zctx ? zmq_socket(zctx, ZMQ_PULL) : NULL;
  if (!pull || zmq_bind(pull, "inproc://bench_threads") != 0) bench_die("zmq: cannot bind");
  _Atomic int go = 0;
  zsink sink = {.pull = pull, .n = total};
  zpeer ps[MAX_PRODUCERS];
  for (unsigned i = 0; i < c->producers; i++)
    ps[i] = (zpeer){.zctx = zctx, .go = &go,
                    .n = total / c->producers + (i == 0 ? total % c->producers : 0)};
  if (pthread_create(&sink.tid, NULL, zmq_sink_main, &sink) != 0) bench_die("pthread_create");
  for (unsigned i = 1; i < c->producers; i++)
    if (pthread_create(&ps[i].tid, NULL, zmq_producer_main, &ps[i]) != 0) bench_die("pthread_create");
  /* Producer 0 connects before the clock starts, like the others. */
  void *s = zmq_socket(zctx, ZMQ_PUSH);
  if (!s || zmq_connect(s, "inproc://bench_threads") != 0) bench_die("zmq: cannot connect");
  uint64_t t0 = bench_now_ns();
  atomic_store_explicit(&go, 1, memory_order_release);
  for (uint64_t i = 0; i < ps[0].n; i++)
    if (zmq_send(s, body32, BODY_LEN, 0) != BODY_LEN) bench_die("zmq_send failed");
  pthread_join(sink.tid, NULL);
  uint64_t ns = bench_now_ns() - t0;
  for (unsigned i = 1; i < c->producers; i++) pthread_join(ps[i].tid, NULL);
  if (sink.rc < 0) bench_die("zmq_recv failed");
  for (unsigned i = 1; i < c->producers; i++)
    if (ps[i].rc < 0) bench_die("zmq producer %u failed", i);
  zmq_close(s);
  zmq_close(pull);
  zmq_ctx_term(zctx);
  return (double)ns;
}
#endif

/* ==== Report =========================================================== */

typedef struct result {
  bench_summary ns; /* ns per message over the runs */
} result;

static double rate(double ns_per_msg) { return ns_per_msg > 0 ? 1e9 / ns_per_msg : 0; }

/* The ZeroMQ case with as many producers, or the 1-producer one. */
static int zmq_peer(const tcase *c) {
  int any = -1;
  for (unsigned i = 0; i < NCASES; i++)
    if (cases[i].sys == SYS_ZMQ) {
      if (cases[i].producers == c->producers) return (int)i;
      if (any < 0) any = (int)i;
    }
  return any;
}

int main(int argc, char **argv) {
  static const bench_spec spec = {
      .name = "bench_threads",
      .summary = "messages between threads: Mycelia workers against ZeroMQ inproc",
      .default_messages = 2000000,
      .flags = BENCH_OPT_PLUGIN_DIR,
      .help_extra = "Producers send 32-byte messages to echo subsystems run by worker threads\n"
                    "(queues of 4096, overflow = block); ZeroMQ PUSH/PULL over inproc:// for\n"
                    "comparison when built with libzmq. Cases run interleaved in every run.\n"};
  bench_opts o;
  bench_parse(argc, argv, &spec, &o);
  const char *plugin_dir = o.plugin_dir ? o.plugin_dir : MYC_BENCH_PLUGIN_DIR;
  double *ns = calloc(NCASES * o.runs, sizeof(double));
  if (!ns) bench_die("out of memory");
  for (unsigned r = 0; r < o.runs; r++) {
    for (unsigned i = 0; i < NCASES; i++) {
      const tcase *c = &cases[i];
      double t = 0;
      if (c->sys == SYS_MYC) t = run_myc(plugin_dir, c, o.messages);
#ifdef MYC_HAVE_ZMQ
      else t = run_zmq(c, o.messages);
#endif
      ns[i * o.runs + r] = t / (double)o.messages;
      fprintf(stderr, "run %u/%u: %-48s %8.2f M msg/s\n", r + 1, o.runs, c->name,
              rate(t / (double)o.messages) / 1e6);
    }
  }
  result res[NCASES];
  for (unsigned i = 0; i < NCASES; i++) res[i].ns = bench_summarise(ns + i * o.runs, o.runs);
  free(ns);
  int z1 = zmq_peer(&cases[0]);
  double zmq_rate = z1 >= 0 ? rate(res[z1].ns.median) : 0;

  if (o.json) {
    bench_json *j = bench_json_begin(spec.name, &o);
    bench_json_array(j, "results");
    for (unsigned i = 0; i < NCASES; i++) {
      const tcase *c = &cases[i];
      bench_json_object(j, NULL);
      bench_json_str(j, "name", c->name);
      bench_json_str(j, "system", c->sys == SYS_MYC ? "mycelia" : "zeromq");
      bench_json_uint(j, "producers", c->producers);
      bench_json_uint(j, "subsystems", c->subsystems);
      bench_json_uint(j, "workers", c->workers);
      bench_json_uint(j, "batch", c->batch);
      bench_json_num(j, "ns_per_msg", res[i].ns.median);
      bench_json_num(j, "msgs_per_sec", rate(res[i].ns.median));
      bench_json_num(j, "min_msgs_per_sec", rate(res[i].ns.max));
      bench_json_num(j, "max_msgs_per_sec", rate(res[i].ns.min));
      int z = zmq_peer(c);
      if (c->sys == SYS_MYC && z >= 0)
        bench_json_num(j, "ratio_vs_zmq", res[z].ns.median / res[i].ns.median);
      bench_json_end(j);
    }
    bench_json_end(j);
    bench_json_num(j, "msgs_per_sec", rate(res[0].ns.median));
    if (z1 >= 0) {
      bench_json_num(j, "zmq_msgs_per_sec", zmq_rate);
      bench_json_num(j, "ratio_vs_zmq", rate(res[0].ns.median) / zmq_rate);
    } else {
      bench_json_null(j, "zmq_msgs_per_sec");
      bench_json_null(j, "ratio_vs_zmq");
    }
    bench_json_finish(j, stdout);
    return 0;
  }
  static const char *const h[] = {"case", "ns/msg", "M msg/s", "min", "max", "vs zmq"};
  char title[160];
  char grp[32];
  snprintf(title, sizeof(title), "bench_threads: %s messages of %d bytes, median of %u runs",
           bench_group(grp, sizeof(grp), o.messages), BODY_LEN, o.runs);
  bench_table *t = bench_table_new(title, 6, h);
  for (unsigned i = 0; i < NCASES; i++) {
    const tcase *c = &cases[i];
    int z = zmq_peer(c);
    bench_table_cell(t, "%s", c->name);
    bench_table_cell(t, "%.1f", res[i].ns.median);
    bench_table_cell(t, "%.2f", rate(res[i].ns.median) / 1e6);
    bench_table_cell(t, "%.2f", rate(res[i].ns.max) / 1e6);
    bench_table_cell(t, "%.2f", rate(res[i].ns.min) / 1e6);
    if (c->sys == SYS_MYC && z >= 0)
      bench_table_cell(t, "x%.2f", res[z].ns.median / res[i].ns.median);
    else
      bench_table_cell(t, "%s", "n/a");
  }
#ifndef MYC_HAVE_ZMQ
  bench_table_note(t, "ZeroMQ not built in (install libzmq3-dev and reconfigure)");
#endif
  bench_table_print(t, stdout);
  return 0;
}
