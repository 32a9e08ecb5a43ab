/* bench_integrated: the seed's table, measured through the real kernel.
 *
 * Messages go from the host program through a kernel into the real echo
 * plugin, loaded from myc_echo.so, and back to the pool. Each run builds a
 * fresh kernel from INI text (plugin_dir = the build's plugins/ or
 * --plugin-dir, pool_warmup = 1000, workers = 0, one [plugin echo]),
 * untimed, then times N messages sent in batches of 256, each batch
 * followed by myc_kernel_poll() to dispatch it (queues are bounded at
 * 1024), and a final poll until the queue is empty. Variants:
 *
 *   send         the caller builds every message itself, as a program that
 *                does not pool would: per message it mallocs a URI buffer
 *                and snprintf()s "echo://users/<i>" into it, mallocs a body
 *                buffer and copies the body into it, then myc_msg_new(),
 *                myc_send(), and frees both buffers (myc_msg_new copies).
 *                So 2 allocations per message are the caller's own.
 *   send_pooled  myc_send_pooled(ctx, "PUT", "echo://users/123", body, len)
 *                with a constant URI and body: nothing to build or free.
 *   bare loop    no kernel, plain C (DESIGN.md section 7): pop a message
 *                from a free list, FNV-1a hash of the URI's scheme, lookup
 *                in a scheme table, push to / pop from a plain array ring
 *                (same 256 batches), an indirect call to a handler that
 *                reads the body, push back to the free list.
 *
 * The body is `{"action":"get"}` (16 bytes, as in the seed) or --size
 * bytes. The variants run interleaved within each run (bare, send,
 * send_pooled), so ratios compare measurements taken side by side; a
 * reported ratio is the median of the per-run ratios.
 *
 * Rows: duration, throughput, heap growth (bytes live after the timed
 * section minus before, from the counting shim), heap growth per message,
 * heap allocations per message (counted by the shim during the timed
 * section), bytes allocated per message, pool reuse rate
 * (myc_pool_get_stats: reused / acquired). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"
#include "mycelia/mycelia.h"

#define BATCH 256
#define URI_CAP 48

/* The seed's table (INTEGRATION-RESULTS.md), 10,000 messages. */
#define SEED_MESSAGES 10000
#define SEED_SEND_RATE 80645.0
#define SEED_POOLED_RATE 89286.0
#define SEED_SEND_MS 124.0
#define SEED_POOLED_MS 112.0
#define SEED_SEND_GROWTH (0.15 * 1024 * 1024)
#define SEED_POOLED_GROWTH (0.01 * 1024 * 1024)

enum { V_BARE, V_SEND, V_POOLED, NVARIANTS };
static const char *const variant_names[NVARIANTS] = {"bare_loop", "send", "send_pooled"};

typedef struct run {
  double ns;           /* the timed section                             */
  bench_alloc alloc;   /* allocations during it                         */
  double reuse_rate;   /* the kernel's pool after the run               */
  uint64_t created;    /* messages the pool allocated during the run    */
} run;

typedef struct bench {
  bench_opts o;
  const char *plugin_dir;
  char *body;          /* the body template, o.size bytes               */
  run *runs[NVARIANTS];
} bench;

/* ==== The kernel ======================================================= */

static myc_kernel *make_kernel(const bench *b) {
  char ini[4096], *err = NULL;
  myc_config *cfg = NULL;
  myc_kernel *k = NULL;
  snprintf(ini, sizeof(ini),
           "[kernel]\nplugin_dir = %s\npool_warmup = 1000\nworkers = 0\nlog_level = error\n"
           "[plugin echo]\n",
           b->plugin_dir);
  if (myc_config_parse(ini, "bench_integrated.ini", &cfg, &err) < 0 ||
      myc_kernel_new(cfg, &k, &err) < 0 || myc_kernel_start(k, &err) < 0)
    bench_die("cannot build the kernel: %s\n(is the echo plugin built? try --plugin-dir)",
              err ? err : "?");
  myc_config_free(cfg);
  return k;
}

/* Dispatch until nothing is queued. */
static void drain(myc_kernel *k) {
  while (myc_kernel_poll(k) > 0) {
  }
}

/* Every message was handled and none was rejected. */
static void check_handled(myc_kernel *k, uint64_t n, const char *variant) {
  myc_subsystem_stats st;
  if (myc_subsystem_get_stats(k, "echo", &st) < 0) bench_die("no echo subsystem");
  if (st.handled != n || st.rejected || st.errors || st.queue_len)
    bench_die("%s: echo handled %" PRIu64 " of %" PRIu64 " (rejected %" PRIu64
              ", errors %" PRIu64 ", queued %u)",
              variant, st.handled, n, st.rejected, st.errors, st.queue_len);
}

/* The timed loops are functions of their own (never inlined) so a
 * profiler can collect exactly them, e.g.
 *   valgrind --tool=callgrind --collect-atstart=no
 *            --toggle-collect=timed_send_pooled bench_integrated ... */
static __attribute__((noinline)) int timed_send(myc_kernel *k, myc_ctx *ctx, uint64_t n,
                                                const char *body, size_t len) {
  int rc = 0;
  for (uint64_t i = 0; i < n && rc >= 0;) {
    uint64_t end = n - i < BATCH ? n : i + BATCH;
    for (; i < end; i++) {
      char *uri = malloc(URI_CAP);
      char *buf = malloc(len + 1);
      if (!uri || !buf) bench_die("out of memory");
      snprintf(uri, URI_CAP, "echo://users/%" PRIu64, i);
      memcpy(buf, body, len);
      buf[len] = '\0';
      myc_msg *m;
      rc = myc_msg_new(ctx, "PUT", uri, buf, len, &m);
      if (rc >= 0 && (rc = myc_send(ctx, m)) < 0) myc_msg_release(m);
      free(uri);
      free(buf);
      if (rc < 0) break;
    }
    myc_kernel_poll(k);
  }
  drain(k);
  return rc;
}

static __attribute__((noinline)) int timed_send_pooled(myc_kernel *k, myc_ctx *ctx, uint64_t n,
                                                       const char *body, size_t len) {
  int rc = 0;
  for (uint64_t i = 0; i < n && rc >= 0;) {
    uint64_t end = n - i < BATCH ? n : i + BATCH;
    for (; i < end; i++)
      if ((rc = myc_send_pooled(ctx, "PUT", "echo://users/123", body, len)) < 0) break;
    myc_kernel_poll(k);
  }
  drain(k);
  return rc;
}

static void run_kernel_variant(bench *b, int v, run *out) {
  myc_kernel *k = make_kernel(b);
  myc_ctx *ctx = myc_kernel_ctx(k);
  myc_pool_stats before, after;
  myc_pool_get_stats(k, &before);
  bench_sample s;
  int rc;
  bench_start(&s);
  if (v == V_SEND)
    rc = timed_send(k, ctx, b->o.messages, b->body, b->o.size);
  else
    rc = timed_send_pooled(k, ctx, b->o.messages, b->body, b->o.size);
  bench_stop(&s);
  if (rc < 0) bench_die("%s failed: %s", variant_names[v], myc_strerror(rc));
  check_handled(k, b->o.messages, variant_names[v]);
  myc_pool_get_stats(k, &after);
  out->ns = (double)s.ns;
  out->alloc = s.alloc;
  out->reuse_rate = after.reuse_rate;
  out->created = after.created - before.created;
  myc_kernel_free(k);
}

/* ==== The bare loop ==================================================== */

typedef struct bmsg {
  struct bmsg *next;
  const char *uri;
  size_t uri_len;
  const void *body;
  size_t body_len;
  uint64_t id;
  struct bsub *target;
} bmsg;

typedef void (*bhandler)(void *state, bmsg *m);

typedef struct bsub {
  bhandler handle;
  void *state;
} bsub;

typedef struct bscheme {
  uint64_t hash;
  const char *name;
  size_t len;
  bsub *sub;
} bscheme;

static __attribute__((noinline)) void bare_echo(void *state, bmsg *m) {
  *(uint64_t *)state += m->body_len;
}

static inline uint64_t fnv1a(const char *s, size_t len) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
}

static void run_bare(bench *b, run *out) {
  enum { POOL = 1024, SLOTS = 16 };
  bmsg *msgs = calloc(POOL, sizeof(*msgs)), *free_list = NULL;
  bmsg *ring[POOL];
  uint64_t head = 0, tail = 0, sink = 0;
  bsub echo = {bare_echo, &sink};
  bscheme table[SLOTS];
  if (!msgs) bench_die("out of memory");
  memset(table, 0, sizeof(table));
  for (unsigned i = 0; i < POOL; i++) {
    msgs[i].next = free_list;
    free_list = &msgs[i];
  }
  bench_keep(&echo); /* the handler is reached through memory, as in a kernel */
  uint64_t h = fnv1a("echo", 4);
  table[h & (SLOTS - 1)] = (bscheme){h, "echo", 4, &echo};
  bench_keep(table);

  const char *uri = "echo://users/123";
  size_t uri_len = strlen(uri);
  const uint64_t n = b->o.messages;
  bench_sample s;
  bench_start(&s);
  for (uint64_t i = 0; i < n;) {
    uint64_t end = n - i < BATCH ? n : i + BATCH;
    for (; i < end; i++) {
      bmsg *m = free_list; /* pool pop */
      free_list = m->next;
      m->uri = uri;
      m->uri_len = uri_len;
      m->body = b->body;
      m->body_len = b->o.size;
      m->id = i;
      size_t sl = 0; /* the scheme, its hash and its subsystem */
      while (sl < m->uri_len && m->uri[sl] != ':') sl++;
      uint64_t hh = fnv1a(m->uri, sl);
      bscheme *e = &table[hh & (SLOTS - 1)];
      if (e->hash != hh || e->len != sl || memcmp(e->name, m->uri, sl)) bench_die("bare: no route");
      m->target = e->sub;
      ring[tail++ & (POOL - 1)] = m; /* ring push */
    }
    while (head != tail) {
      bmsg *m = ring[head++ & (POOL - 1)]; /* ring pop */
      m->target->handle(m->target->state, m);
      m->next = free_list; /* pool push */
      free_list = m;
    }
  }
  bench_stop(&s);
  bench_keep(&sink);
  if (sink != n * b->o.size) bench_die("bare: handler ran %" PRIu64 " bytes", sink);
  out->ns = (double)s.ns;
  out->alloc = s.alloc;
  out->reuse_rate = NAN;
  out->created = 0;
  free(msgs);
}

/* ==== Results ========================================================== */

typedef struct summary {
  bench_summary rate;      /* msg/s over runs                             */
  double ms;               /* duration of the median run                  */
  double allocs_per_msg;   /* medians over runs                           */
  double alloc_bytes_per_msg;
  double growth;           /* heap growth, bytes                          */
  double reuse_rate;
  double created;
} summary;

static summary summarise(const bench *b, int v) {
  unsigned r = b->o.runs;
  double n = (double)b->o.messages;
  double *x = malloc(r * 6 * sizeof(double));
  if (!x) bench_die("out of memory");
  double *rate = x, *al = x + r, *ab = x + 2 * r, *gr = x + 3 * r, *ru = x + 4 * r,
         *cr = x + 5 * r;
  for (unsigned i = 0; i < r; i++) {
    const run *p = &b->runs[v][i];
    rate[i] = n * 1e9 / p->ns;
    al[i] = (double)p->alloc.allocs / n;
    ab[i] = (double)p->alloc.bytes / n;
    gr[i] = (double)p->alloc.live;
    ru[i] = p->reuse_rate;
    cr[i] = (double)p->created;
  }
  summary s;
  s.rate = bench_summarise(rate, r);
  s.ms = n / s.rate.median * 1e3;
  s.allocs_per_msg = bench_summarise(al, r).median;
  s.alloc_bytes_per_msg = bench_summarise(ab, r).median;
  s.growth = bench_summarise(gr, r).median;
  s.reuse_rate = bench_summarise(ru, r).median;
  s.created = bench_summarise(cr, r).median;
  free(x);
  return s;
}

/* Median over runs of rate(a) / rate(b), both from the same run. */
static double ratio(const bench *b, int va, int vb) {
  double *x = malloc(b->o.runs * sizeof(double));
  if (!x) bench_die("out of memory");
  for (unsigned i = 0; i < b->o.runs; i++) x[i] = b->runs[vb][i].ns / b->runs[va][i].ns;
  double m = bench_summarise(x, b->o.runs).median;
  free(x);
  return m;
}

static void print_json(const bench *b, const summary *s, double r_bare, double r_send) {
  bench_json *j = bench_json_begin("bench_integrated", &b->o);
  bench_json_uint(j, "size", b->o.size);
  bench_json_bool(j, "allocs_counted", bench_alloc_enabled());
  bench_json_array(j, "results");
  for (int v = V_SEND; v <= V_POOLED; v++) {
    const summary *p = &s[v];
    double n = (double)b->o.messages;
    bench_json_object(j, NULL);
    bench_json_str(j, "name", variant_names[v]);
    bench_json_num(j, "msgs_per_sec", p->rate.median);
    bench_json_num(j, "ns_per_msg", 1e9 / p->rate.median);
    bench_json_num(j, "allocs_per_msg", bench_alloc_enabled() ? p->allocs_per_msg : NAN);
    bench_json_num(j, "heap_growth_bytes", bench_alloc_enabled() ? p->growth : NAN);
    bench_json_num(j, "reuse_rate", p->reuse_rate);
    bench_json_num(j, "min_msgs_per_sec", p->rate.min);
    bench_json_num(j, "max_msgs_per_sec", p->rate.max);
    bench_json_num(j, "duration_ms", p->ms);
    bench_json_num(j, "heap_growth_bytes_per_msg",
                   bench_alloc_enabled() ? p->growth / n : NAN);
    bench_json_num(j, "alloc_bytes_per_msg",
                   bench_alloc_enabled() ? p->alloc_bytes_per_msg : NAN);
    bench_json_num(j, "pool_created", p->created);
    bench_json_num(j, "speedup_vs_seed",
                   p->rate.median / (v == V_SEND ? SEED_SEND_RATE : SEED_POOLED_RATE));
    bench_json_end(j);
  }
  bench_json_end(j);
  bench_json_object(j, "bare_loop");
  bench_json_num(j, "msgs_per_sec", s[V_BARE].rate.median);
  bench_json_num(j, "ns_per_msg", 1e9 / s[V_BARE].rate.median);
  bench_json_num(j, "min_msgs_per_sec", s[V_BARE].rate.min);
  bench_json_num(j, "max_msgs_per_sec", s[V_BARE].rate.max);
  bench_json_end(j);
  bench_json_num(j, "ratio_pooled_vs_bare", r_bare);
  bench_json_num(j, "ratio_pooled_vs_send", r_send);
  bench_json_object(j, "seed");
  bench_json_uint(j, "messages", SEED_MESSAGES);
  bench_json_num(j, "send_msgs_per_sec", SEED_SEND_RATE);
  bench_json_num(j, "send_pooled_msgs_per_sec", SEED_POOLED_RATE);
  bench_json_end(j);
  bench_json_finish(j, stdout);
}

/* "0.15 MB" style, like the seed's table. */
static const char *fmt_bytes(char *buf, size_t len, double bytes) {
  if (!bench_alloc_enabled())
    snprintf(buf, len, "n/a");
  else if (fabs(bytes) >= 1024 * 1024)
    snprintf(buf, len, "%.2f MB", bytes / (1024 * 1024));
  else if (fabs(bytes) >= 1024)
    snprintf(buf, len, "%.2f KB", bytes / 1024);
  else
    snprintf(buf, len, "%.0f B", bytes);
  return buf;
}

static void print_table(const bench *b, const summary *s, double r_bare, double r_send) {
  static const char *const h[] = {"Metric", "seed send()", "seed sendPooled()", "send",
                                  "send_pooled", "pooled vs send"};
  char t1[64], t2[64], title[256];
  const summary *sd = &s[V_SEND], *sp = &s[V_POOLED];
  double n = (double)b->o.messages;
  snprintf(title, sizeof(title),
           "bench_integrated: %s messages, host -> kernel -> echo (myc_echo.so) -> pool, "
           "%zu-byte body, median of %u runs",
           bench_group(t1, sizeof(t1), b->o.messages), b->o.size, b->o.runs);
  bench_table *t = bench_table_new(title, 6, h);

  bench_table_cell(t, "Duration");
  bench_table_cell(t, "%.0f ms", SEED_SEND_MS);
  bench_table_cell(t, "%.0f ms", SEED_POOLED_MS);
  bench_table_cell(t, "%.3f ms", sd->ms);
  bench_table_cell(t, "%.3f ms", sp->ms);
  bench_table_cell(t, "%.1f%% faster", 100 * (1 - sp->ms / sd->ms));

  bench_table_cell(t, "Throughput");
  bench_table_cell(t, "%s msg/s", bench_group(t1, sizeof(t1), (uint64_t)SEED_SEND_RATE));
  bench_table_cell(t, "%s msg/s", bench_group(t2, sizeof(t2), (uint64_t)SEED_POOLED_RATE));
  bench_table_cell(t, "%s msg/s", bench_group(t1, sizeof(t1), (uint64_t)sd->rate.median));
  bench_table_cell(t, "%s msg/s", bench_group(t2, sizeof(t2), (uint64_t)sp->rate.median));
  bench_table_cell(t, "x%.2f", r_send);

  bench_table_cell(t, "  min .. max");
  bench_table_cell(t, "%s", "");
  bench_table_cell(t, "%s", "");
  bench_table_cell(t, "%.2f .. %.2f M", sd->rate.min / 1e6, sd->rate.max / 1e6);
  bench_table_cell(t, "%.2f .. %.2f M", sp->rate.min / 1e6, sp->rate.max / 1e6);
  bench_table_cell(t, "%s", "");

  bench_table_cell(t, "Time per message");
  bench_table_cell(t, "%.1f us", 1e6 / SEED_SEND_RATE);
  bench_table_cell(t, "%.1f us", 1e6 / SEED_POOLED_RATE);
  bench_table_cell(t, "%.1f ns", 1e9 / sd->rate.median);
  bench_table_cell(t, "%.1f ns", 1e9 / sp->rate.median);
  bench_table_cell(t, "%s", "");

  bench_table_cell(t, "Speedup vs seed");
  bench_table_cell(t, "x1");
  bench_table_cell(t, "x1");
  bench_table_cell(t, "x%.0f", sd->rate.median / SEED_SEND_RATE);
  bench_table_cell(t, "x%.0f", sp->rate.median / SEED_POOLED_RATE);
  bench_table_cell(t, "%s", "");

  bench_table_cell(t, "Heap growth");
  bench_table_cell(t, "0.15 MB");
  bench_table_cell(t, "0.01 MB");
  bench_table_cell(t, "%s", fmt_bytes(t1, sizeof(t1), sd->growth));
  bench_table_cell(t, "%s", fmt_bytes(t2, sizeof(t2), sp->growth));
  bench_table_cell(t, "%s", "");

  bench_table_cell(t, "Memory/msg (growth)");
  bench_table_cell(t, "0.02 KB");
  bench_table_cell(t, "0.00 KB");
  bench_table_cell(t, "%s", fmt_bytes(t1, sizeof(t1), sd->growth / n));
  bench_table_cell(t, "%s", fmt_bytes(t2, sizeof(t2), sp->growth / n));
  bench_table_cell(t, "%s", "");

  bench_table_cell(t, "Heap allocations/msg");
  bench_table_cell(t, "not counted");
  bench_table_cell(t, "not counted");
  if (bench_alloc_enabled()) {
    bench_table_cell(t, "%.4g", sd->allocs_per_msg);
    bench_table_cell(t, "%.4g", sp->allocs_per_msg);
  } else {
    bench_table_cell(t, "n/a");
    bench_table_cell(t, "n/a");
  }
  bench_table_cell(t, "%s", "");

  bench_table_cell(t, "Bytes allocated/msg");
  bench_table_cell(t, "%s", "");
  bench_table_cell(t, "%s", "");
  bench_table_cell(t, "%s", fmt_bytes(t1, sizeof(t1), sd->alloc_bytes_per_msg));
  bench_table_cell(t, "%s", fmt_bytes(t2, sizeof(t2), sp->alloc_bytes_per_msg));
  bench_table_cell(t, "%s", "");

  bench_table_cell(t, "Pool reuse rate");
  bench_table_cell(t, "%s", "");
  bench_table_cell(t, "100.00%%");
  bench_table_cell(t, "%.2f%%", 100 * sd->reuse_rate);
  bench_table_cell(t, "%.2f%%", 100 * sp->reuse_rate);
  bench_table_cell(t, "%s", "");
  bench_table_print(t, stdout);

  printf("\nseed: the JavaScript original, %d messages (INTEGRATION-RESULTS.md)\n",
         SEED_MESSAGES);
  printf("bare loop (plain C, no kernel): %s msg/s, %.1f ns/msg\n",
         bench_group(t1, sizeof(t1), (uint64_t)s[V_BARE].rate.median),
         1e9 / s[V_BARE].rate.median);
  printf("send_pooled / bare loop = %.2f   (target >= 0.4)\n", r_bare);
  printf("send_pooled / send      = %.2f   (target >= 1.5)\n", r_send);
  if (!bench_alloc_enabled()) printf("(allocation counts unavailable under a sanitizer)\n");
}

/* ==== Main ============================================================= */

static const bench_spec spec = {
    .name = "bench_integrated",
    .summary = "The seed's send() vs sendPooled() table, through a real kernel and "
               "the echo plugin.",
    .default_messages = SEED_MESSAGES,
    .default_size = 16,
    .flags = BENCH_OPT_SIZE | BENCH_OPT_PLUGIN_DIR,
    .help_extra =
        "send:        per message, malloc + snprintf the URI, malloc + copy the body,\n"
        "             myc_msg_new, myc_send, free both buffers.\n"
        "send_pooled: myc_send_pooled with a constant URI and body.\n"
        "bare loop:   plain C free list + FNV scheme hash + array ring + indirect call.\n"
        "Batches of 256 sends, then myc_kernel_poll. Body: {\"action\":\"get\"} or --size "
        "bytes.\n"
        "Profiling: MYC_BENCH_ONLY=send_pooled (or send, bare_loop) runs one variant and\n"
        "prints one line on stderr; the timed loops are the functions timed_send and\n"
        "timed_send_pooled (callgrind --toggle-collect=timed_send_pooled).",
};

int main(int argc, char **argv) {
  bench b;
  memset(&b, 0, sizeof(b));
  bench_parse(argc, argv, &spec, &b.o);
  b.plugin_dir = b.o.plugin_dir ? b.o.plugin_dir : MYC_BENCH_PLUGIN_DIR;

  static const char tmpl[] = "{\"action\":\"get\"}";
  b.body = malloc(b.o.size + 1);
  if (!b.body) bench_die("out of memory");
  for (size_t i = 0; i < b.o.size; i++)
    b.body[i] = i < sizeof(tmpl) - 1 ? tmpl[i] : 'x';
  b.body[b.o.size] = '\0';
  for (int v = 0; v < NVARIANTS; v++)
    if (!(b.runs[v] = calloc(b.o.runs, sizeof(run)))) bench_die("out of memory");

  /* Profiling: MYC_BENCH_ONLY=VARIANT runs that variant alone and prints
   * one line, so a sampling profiler sees nothing else. */
  const char *only = getenv("MYC_BENCH_ONLY");
  if (only && *only) {
    int v = -1;
    for (int i = 0; i < NVARIANTS; i++)
      if (!strcmp(only, variant_names[i])) v = i;
    if (v < 0) bench_die("MYC_BENCH_ONLY: no variant '%s' (bare_loop, send, send_pooled)", only);
    for (unsigned r = 0; r < b.o.runs; r++) {
      if (v == V_BARE)
        run_bare(&b, &b.runs[v][r]);
      else
        run_kernel_variant(&b, v, &b.runs[v][r]);
    }
    summary one = summarise(&b, v);
    fprintf(stderr, "%s: %.0f msg/s, %.2f ns/msg (median of %u)\n", only, one.rate.median,
            1e9 / one.rate.median, b.o.runs);
    for (int i = 0; i < NVARIANTS; i++) free(b.runs[i]);
    free(b.body);
    return 0;
  }

  for (unsigned r = 0; r < b.o.runs; r++) {
    run_bare(&b, &b.runs[V_BARE][r]);
    run_kernel_variant(&b, V_SEND, &b.runs[V_SEND][r]);
    run_kernel_variant(&b, V_POOLED, &b.runs[V_POOLED][r]);
  }

  summary s[NVARIANTS];
  for (int v = 0; v < NVARIANTS; v++) s[v] = summarise(&b, v);
  double r_bare = ratio(&b, V_POOLED, V_BARE), r_send = ratio(&b, V_POOLED, V_SEND);
  if (b.o.json)
    print_json(&b, s, r_bare, r_send);
  else
    print_table(&b, s, r_bare, r_send);

  for (int v = 0; v < NVARIANTS; v++) free(b.runs[v]);
  free(b.body);
  return 0;
}
