/* benchlib: command line, timing, tables, JSON and the malloc-counting
 * shim shared by the benchmarks. See benchlib.h. */
#include "benchlib.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ==== Malloc-counting shim ============================================= */

/* Sanitizers replace malloc themselves: no shim there. GCC says so with
 * __SANITIZE_*__, clang with __has_feature, the build with MYC_SANITIZE. */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) ||      \
    __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer) || defined(MYC_SANITIZE)
#define BENCH_SHIM 0
#else
#define BENCH_SHIM 1
#endif

static _Atomic uint64_t g_allocs, g_frees, g_bytes;

#if BENCH_SHIM
#include <sys/single_threaded.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

#define RLX memory_order_relaxed

/* While the process has one thread (glibc tracks it), a relaxed load and
 * store do the job of a locked add at a fraction of the cost, so counting
 * barely slows the allocations it counts. Bytes live are not tracked per
 * call (that needs malloc_usable_size on every call); bench_alloc_now()
 * asks glibc (mallinfo2) instead. */
static inline void add_u64(_Atomic uint64_t *c, uint64_t n) {
  if (__libc_single_threaded)
    atomic_store_explicit(c, atomic_load_explicit(c, RLX) + n, RLX);
  else
    atomic_fetch_add_explicit(c, n, RLX);
}

static inline void *note_alloc(void *p, size_t requested) {
  if (p) {
    add_u64(&g_allocs, 1);
    add_u64(&g_bytes, requested);
  }
  return p;
}

void *malloc(size_t n) { return note_alloc(__libc_malloc(n), n); }

void *calloc(size_t n, size_t size) {
  return note_alloc(__libc_calloc(n, size), n * size);
}

void free(void *p) {
  if (!p) return;
  add_u64(&g_frees, 1);
  __libc_free(p);
}

/* One allocation, whether it grows in place, moves or starts from NULL. */
void *realloc(void *p, size_t n) { return note_alloc(__libc_realloc(p, n), n); }

int posix_memalign(void **out, size_t align, size_t n) {
  if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
  void *p = __libc_memalign(align, n);
  if (!p && n) return ENOMEM;
  *out = note_alloc(p, n);
  return 0;
}

void *aligned_alloc(size_t align, size_t n) {
  return note_alloc(__libc_memalign(align, n), n);
}

void *memalign(size_t align, size_t n) {
  return note_alloc(__libc_memalign(align, n), n);
}
#endif /* BENCH_SHIM */

bool bench_alloc_enabled(void) { return BENCH_SHIM; }

bench_alloc bench_alloc_now(void) {
  bench_alloc a;
  a.allocs = atomic_load_explicit(&g_allocs, memory_order_relaxed);
  a.frees = atomic_load_explicit(&g_frees, memory_order_relaxed);
  a.bytes = atomic_load_explicit(&g_bytes, memory_order_relaxed);
#if BENCH_SHIM
  struct mallinfo2 mi = mallinfo2(); /* in use: arena chunks + mmapped */
  a.live = (int64_t)(mi.uordblks + mi.hblkhd);
#else
  a.live = 0;
#endif
  return a;
}

bench_alloc bench_alloc_since(bench_alloc start) {
  bench_alloc now = bench_alloc_now();
  now.allocs -= start.allocs;
  now.frees -= start.frees;
  now.bytes -= start.bytes;
  now.live -= start.live;
  return now;
}

/* ==== Small helpers ==================================================== */

void bench_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("bench: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) bench_die("out of memory");
  return q;
}

const char *bench_group(char *buf, size_t len, uint64_t n) {
  char digits[32];
  int nd = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n);
  size_t o = 0;
  for (int i = 0; i < nd && o + 1 < len; i++) {
    if (i && (nd - i) % 3 == 0 && o + 2 < len) buf[o++] = ',';
    buf[o++] = digits[i];
  }
  if (len) buf[o < len ? o : len - 1] = '\0';
  return buf;
}

/* ==== Command line ===================================================== */

static void usage(FILE *f, const bench_spec *s) {
  char def[32];
  fprintf(f, "usage: %s [--messages N] [--runs R]%s%s [--json] [--help]\n\n%s\n\n",
          s->name, (s->flags & BENCH_OPT_SIZE) ? " [--size BYTES]" : "",
          (s->flags & BENCH_OPT_PLUGIN_DIR) ? " [--plugin-dir DIR]" : "",
          s->summary);
  if (s->default_messages)
    fprintf(f, "  --messages N     messages (or operations) per run (default %s)\n",
            bench_group(def, sizeof(def), s->default_messages));
  else
    fprintf(f, "  --messages N     messages (or operations) per run\n");
  fprintf(f, "  --runs R         repeat R times, report median, min and max (default 5)\n");
  if (s->flags & BENCH_OPT_SIZE)
    fprintf(f, "  --size BYTES     message body size (default %zu)\n", s->default_size);
  if (s->flags & BENCH_OPT_PLUGIN_DIR)
    fprintf(f, "  --plugin-dir DIR where myc_*.so are (default the build's plugins/)\n");
  fprintf(f, "  --json           print exactly one JSON object on stdout\n");
  fprintf(f, "  --help           this text\n");
  fprintf(f, "\nNumbers take k, M, G suffixes (10M = 10000000).\n");
  if (s->help_extra) fprintf(f, "\n%s\n", s->help_extra);
}

static bool parse_num(const char *s, uint64_t *out) {
  uint64_t v = 0;
  bool any = false;
  for (; *s; s++) {
    if (*s == '_' || *s == ',') continue;
    if (*s < '0' || *s > '9') break;
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + (uint64_t)(*s - '0');
    any = true;
  }
  uint64_t mul = 1;
  if (*s == 'k' || *s == 'K') mul = 1000, s++;
  else if (*s == 'M' || *s == 'm') mul = 1000000, s++;
  else if (*s == 'G' || *s == 'g') mul = 1000000000, s++;
  if (!any || *s || v > UINT64_MAX / mul) return false;
  *out = v * mul;
  return true;
}

static void bad_usage(const bench_spec *s, const char *fmt, const char *arg) {
  fprintf(stderr, "%s: ", s->name);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, " (try --help)\n");
  exit(2);
}

void bench_parse(int argc, char **argv, const bench_spec *spec,
                 bench_opts *out) {
  memset(out, 0, sizeof(*out));
  out->messages = spec->default_messages;
  out->runs = 5;
  out->size = spec->default_size;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val = NULL;
    char name[32];
    const char *eq = strchr(a, '=');
    size_t n = eq ? (size_t)(eq - a) : strlen(a);
    if (n >= sizeof(name)) n = sizeof(name) - 1;
    memcpy(name, a, n);
    name[n] = '\0';
    bool takes = !strcmp(name, "--messages") || !strcmp(name, "--runs") ||
                 ((spec->flags & BENCH_OPT_SIZE) && !strcmp(name, "--size")) ||
                 ((spec->flags & BENCH_OPT_PLUGIN_DIR) && !strcmp(name, "--plugin-dir"));
    if (takes) {
      if (eq)
        val = eq + 1;
      else if (i + 1 < argc)
        val = argv[++i];
      else
        bad_usage(spec, "%s needs a value", name);
    } else if (eq) {
      bad_usage(spec, "unknown option '%s'", a);
    }
    uint64_t v = 0;
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
      usage(stdout, spec);
      exit(0);
    } else if (!strcmp(name, "--json")) {
      out->json = true;
    } else if (!strcmp(name, "--messages")) {
      if (!parse_num(val, &v) || v == 0)
        bad_usage(spec, "--messages wants a positive number, not '%s'", val);
      out->messages = v;
    } else if (!strcmp(name, "--runs")) {
      if (!parse_num(val, &v) || v == 0 || v > 1000)
        bad_usage(spec, "--runs wants a number from 1 to 1000, not '%s'", val);
      out->runs = (unsigned)v;
    } else if (!strcmp(name, "--size") && (spec->flags & BENCH_OPT_SIZE)) {
      if (!parse_num(val, &v) || v > (1u << 30))
        bad_usage(spec, "--size wants a byte count up to 1G, not '%s'", val);
      out->size = (size_t)v;
    } else if (!strcmp(name, "--plugin-dir") && (spec->flags & BENCH_OPT_PLUGIN_DIR)) {
      out->plugin_dir = val;
    } else {
      bad_usage(spec, "unknown option '%s'", a);
    }
  }
}

/* ==== Timing =========================================================== */

uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

bench_summary bench_summarise(const double *v, unsigned n) {
  bench_summary s = {NAN, NAN, NAN};
  if (!n) return s;
  double *c = xrealloc(NULL, n * sizeof(*c));
  memcpy(c, v, n * sizeof(*c));
  qsort(c, n, sizeof(*c), cmp_double);
  s.min = c[0];
  s.max = c[n - 1];
  s.median = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
  free(c);
  return s;
}

/* ==== Text table ======================================================= */

struct bench_table {
  char *title;
  unsigned ncols;
  char **cells;     /* row-major; a note row is one cell then NULLs     */
  bool *note;       /* per row                                          */
  size_t ncells, cap, nrows;
};

static char *xvasprintf(const char *fmt, va_list ap) {
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) bench_die("out of memory");
  return s;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(xrealloc(NULL, n), s, n);
}

static void table_push(bench_table *t, char *cell) {
  if (t->ncells == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 64;
    t->cells = xrealloc(t->cells, t->cap * sizeof(*t->cells));
  }
  if (t->ncells % t->ncols == 0) {
    t->note = xrealloc(t->note, (t->nrows + 1) * sizeof(*t->note));
    t->note[t->nrows++] = false;
  }
  t->cells[t->ncells++] = cell;
}

bench_table *bench_table_new(const char *title, unsigned ncols,
                             const char *const *headers) {
  bench_table *t = xrealloc(NULL, sizeof(*t));
  memset(t, 0, sizeof(*t));
  t->title = title ? xstrdup(title) : NULL;
  t->ncols = ncols ? ncols : 1;
  for (unsigned i = 0; i < ncols; i++) table_push(t, xstrdup(headers[i]));
  return t;
}

void bench_table_cell(bench_table *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  table_push(t, xvasprintf(fmt, ap));
  va_end(ap);
}

void bench_table_note(bench_table *t, const char *text) {
  while (t->ncells % t->ncols) table_push(t, xstrdup(""));
  table_push(t, text ? xstrdup(text) : NULL);
  t->note[t->nrows - 1] = true;
  for (unsigned i = 1; i < t->ncols; i++) table_push(t, NULL);
}

void bench_table_print(bench_table *t, FILE *f) {
  size_t *w = calloc(t->ncols, sizeof(*w));
  if (!w) bench_die("out of memory");
  while (t->ncells % t->ncols) table_push(t, xstrdup(""));
  for (size_t r = 0; r < t->nrows; r++) {
    if (t->note[r]) continue;
    for (unsigned c = 0; c < t->ncols; c++) {
      size_t n = strlen(t->cells[r * t->ncols + c]);
      if (n > w[c]) w[c] = n;
    }
  }
  /* A column is right-aligned (numbers) unless a cell starts with a word. */
  bool *left = calloc(t->ncols, sizeof(*left));
  if (!left) bench_die("out of memory");
  left[0] = true;
  for (size_t r = 1; r < t->nrows; r++) {
    if (t->note[r]) continue;
    for (unsigned c = 1; c < t->ncols; c++) {
      const char *cell = t->cells[r * t->ncols + c];
      bool word = ((cell[0] | 0x20) >= 'a' && (cell[0] | 0x20) <= 'z') &&
                  !(cell[0] == 'x' && cell[1] >= '0' && cell[1] <= '9') &&
                  strcmp(cell, "n/a") != 0;
      if (word) left[c] = true;
    }
  }
  size_t total = 0;
  for (unsigned c = 0; c < t->ncols; c++) total += w[c] + (c ? 2 : 0);
  if (t->title) fprintf(f, "\n%s\n", t->title);
  for (size_t r = 0; r < t->nrows; r++) {
    char **row = &t->cells[r * t->ncols];
    if (t->note[r]) {
      if (row[0])
        fprintf(f, "%s\n", row[0]);
      else
        for (size_t i = 0; i < total; i++) fputc(i + 1 == total ? '\n' : '-', f);
      continue;
    }
    for (unsigned c = 0; c < t->ncols; c++) {
      bool last = c + 1 == t->ncols;
      if (c) fputs("  ", f);
      if (left[c])
        fprintf(f, "%-*s", last ? 0 : (int)w[c], row[c]);
      else
        fprintf(f, "%*s", (int)w[c], row[c]);
    }
    fputc('\n', f);
    if (r == 0)
      for (size_t i = 0; i < total; i++) fputc(i + 1 == total ? '\n' : '-', f);
  }
  for (size_t i = 0; i < t->ncells; i++) free(t->cells[i]);
  free(t->cells);
  free(t->note);
  free(t->title);
  free(t);
  free(w);
  free(left);
}

/* ==== JSON ============================================================= */

#define JSON_DEPTH 32

struct bench_json {
  char *buf;
  size_t len, cap;
  unsigned depth;
  unsigned count[JSON_DEPTH]; /* members written at each level   */
  char closer[JSON_DEPTH];    /* '}' or ']' for each open level   */
};

static void jput(bench_json *j, const char *s, size_t n) {
  if (j->len + n + 1 > j->cap) {
    while (j->len + n + 1 > j->cap) j->cap = j->cap ? j->cap * 2 : 1024;
    j->buf = xrealloc(j->buf, j->cap);
  }
  memcpy(j->buf + j->len, s, n);
  j->len += n;
  j->buf[j->len] = '\0';
}

static void jputs(bench_json *j, const char *s) { jput(j, s, strlen(s)); }

static void jstring(bench_json *j, const char *s) {
  jputs(j, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      jput(j, esc, 2);
    } else if (c < 0x20) {
      snprintf(esc, sizeof(esc), "\\u%04x", c);
      jputs(j, esc);
    } else {
      jput(j, (const char *)&c, 1);
    }
  }
  jputs(j, "\"");
}

/* Comma and key before a value. */
static void jkey(bench_json *j, const char *key) {
  if (j->depth && j->count[j->depth - 1]++) jputs(j, ",");
  if (key) {
    jstring(j, key);
    jputs(j, ":");
  }
}

bench_json *bench_json_new(void) {
  bench_json *j = xrealloc(NULL, sizeof(*j));
  memset(j, 0, sizeof(*j));
  jputs(j, "");
  return j;
}

static void jopen(bench_json *j, const char *key, const char *bracket) {
  if (j->depth == JSON_DEPTH) bench_die("JSON nested too deep");
  jkey(j, key);
  jputs(j, bracket);
  j->closer[j->depth] = bracket[0] == '{' ? '}' : ']';
  j->count[j->depth++] = 0;
}

void bench_json_object(bench_json *j, const char *key) { jopen(j, key, "{"); }
void bench_json_array(bench_json *j, const char *key) { jopen(j, key, "["); }

/* Close the innermost object or array, whichever it is. */
void bench_json_end(bench_json *j) {
  if (!j->depth) return;
  j->depth--;
  jput(j, &j->closer[j->depth], 1);
}

void bench_json_num(bench_json *j, const char *key, double v) {
  char b[64];
  jkey(j, key);
  if (!isfinite(v)) {
    jputs(j, "null");
    return;
  }
  if (v == (double)(int64_t)v && fabs(v) < 9e15)
    snprintf(b, sizeof(b), "%lld", (long long)v);
  else
    snprintf(b, sizeof(b), "%.10g", v);
  jputs(j, b);
}

void bench_json_uint(bench_json *j, const char *key, uint64_t v) {
  char b[32];
  snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
  jkey(j, key);
  jputs(j, b);
}

void bench_json_int(bench_json *j, const char *key, int64_t v) {
  char b[32];
  snprintf(b, sizeof(b), "%lld", (long long)v);
  jkey(j, key);
  jputs(j, b);
}

void bench_json_str(bench_json *j, const char *key, const char *v) {
  jkey(j, key);
  if (v)
    jstring(j, v);
  else
    jputs(j, "null");
}

void bench_json_bool(bench_json *j, const char *key, bool v) {
  jkey(j, key);
  jputs(j, v ? "true" : "false");
}

void bench_json_null(bench_json *j, const char *key) {
  jkey(j, key);
  jputs(j, "null");
}

void bench_json_raw(bench_json *j, const char *key, const char *json) {
  jkey(j, key);
  jputs(j, json);
}

bench_json *bench_json_begin(const char *benchmark, const bench_opts *o) {
  bench_json *j = bench_json_new();
  bench_json_object(j, NULL);
  bench_json_str(j, "benchmark", benchmark);
  bench_json_uint(j, "messages", o->messages);
  bench_json_uint(j, "runs", o->runs);
  return j;
}

void bench_json_finish(bench_json *j, FILE *f) {
  while (j->depth) bench_json_end(j);
  fputs(j->buf, f);
  fputc('\n', f);
  fflush(f);
  free(j->buf);
  free(j);
}

/* ==== Measured cases =================================================== */

bench_case bench_run_case(const char *name, unsigned runs, uint64_t ops,
                          bench_fn fn, void *arg) {
  bench_case c;
  memset(&c, 0, sizeof(c));
  snprintf(c.name, sizeof(c.name), "%s", name);
  double *ns = xrealloc(NULL, runs * sizeof(*ns));
  double *al = xrealloc(NULL, runs * sizeof(*al));
  double *gr = xrealloc(NULL, runs * sizeof(*gr));
  for (unsigned r = 0; r < runs; r++) {
    bench_sample s = {0, {0, 0, 0, 0}};
    uint64_t done = fn(arg, ops, &s);
    if (!done) bench_die("case '%s' failed", name);
    c.ops = done;
    ns[r] = (double)s.ns / (double)done;
    al[r] = (double)s.alloc.allocs / (double)done;
    gr[r] = (double)s.alloc.live / (double)done;
  }
  c.ns = bench_summarise(ns, runs);
  c.allocs_per_op = bench_summarise(al, runs).median;
  c.growth_per_op = bench_summarise(gr, runs).median;
  free(ns);
  free(al);
  free(gr);
  return c;
}

bench_table *bench_cases_table(const char *title) {
  static const char *const h[] = {"case", "ns/op", "min", "max", "M ops/s",
                                  "allocs/op", "heap B/op"};
  return bench_table_new(title, 7, h);
}

void bench_cases_row(bench_table *t, const bench_case *c) {
  bench_table_cell(t, "%s", c->name);
  bench_table_cell(t, "%.2f", c->ns.median);
  bench_table_cell(t, "%.2f", c->ns.min);
  bench_table_cell(t, "%.2f", c->ns.max);
  bench_table_cell(t, "%.2f", c->ns.median > 0 ? 1e3 / c->ns.median : 0.0);
  if (bench_alloc_enabled()) {
    bench_table_cell(t, "%.4g", c->allocs_per_op);
    bench_table_cell(t, "%.4g", c->growth_per_op);
  } else {
    bench_table_cell(t, "n/a");
    bench_table_cell(t, "n/a");
  }
}

void bench_cases_json(bench_json *j, const bench_case *c) {
  bench_json_object(j, NULL);
  bench_json_str(j, "name", c->name);
  bench_json_uint(j, "ops", c->ops);
  bench_json_num(j, "ns_per_op", c->ns.median);
  bench_json_num(j, "ops_per_sec", c->ns.median > 0 ? 1e9 / c->ns.median : NAN);
  bench_json_num(j, "min_ns_per_op", c->ns.min);
  bench_json_num(j, "max_ns_per_op", c->ns.max);
  bench_json_num(j, "allocs_per_op", bench_alloc_enabled() ? c->allocs_per_op : NAN);
  bench_json_num(j, "heap_growth_bytes_per_op",
                 bench_alloc_enabled() ? c->growth_per_op : NAN);
  bench_json_end(j);
}
