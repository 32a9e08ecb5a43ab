/* benchlib: what every Mycelia benchmark shares.
 *
 * A benchmark is one program, bench/bench_NAME.c, linked with benchlib.c.
 * It takes the common command line (bench_parse), repeats its measurement
 * --runs times and reports the median with min and max (bench_summarise),
 * either as an aligned table (bench_table_*) or, with --json, as exactly
 * one JSON object on stdout and nothing else there (bench_json_*).
 * Progress and diagnostics go to stderr.
 *
 * JSON convention, so bench_all can summarise any benchmark:
 *
 *   {"benchmark": "bench_NAME", "messages": N, "runs": R,
 *    "results": [{"name": "...", "ns_per_op" or "ns_per_msg": ...,
 *                 "ops_per_sec" or "msgs_per_sec": ..., ...}, ...], ...}
 *
 * Heap allocations are counted, not estimated: benchlib.c defines malloc,
 * calloc, realloc, free, posix_memalign, aligned_alloc and memalign for
 * the whole process (kernel and dlopen'ed plugins included). They forward
 * to glibc's __libc_* functions and count calls and bytes requested with
 * relaxed atomics (a plain load and store while the process has a single
 * thread). Bytes in use come from glibc's own books (mallinfo2) when a
 * snapshot is taken, so the shim adds a few instructions per call and no
 * extra call. In sanitizer builds (MYC_SANITIZE, or a compiler that says
 * ASan/TSan/MSan is on), which bring their own allocator, the shim is
 * left out and bench_alloc_enabled() returns false.
 *
 * Timing belongs to benchmarks only: nothing here fails because the
 * machine is slow. */
#ifndef MYC_BENCHLIB_H
#define MYC_BENCHLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ==== Command line ===================================================== */

enum {
  BENCH_OPT_SIZE = 1,       /* the benchmark takes --size BYTES           */
  BENCH_OPT_PLUGIN_DIR = 2  /* the benchmark takes --plugin-dir DIR       */
};

/* What a benchmark declares about itself. */
typedef struct bench_spec {
  const char *name;           /* "bench_pool": also the JSON "benchmark"  */
  const char *summary;        /* one line for --help                      */
  uint64_t default_messages;  /* --messages when not given                */
  size_t default_size;        /* --size when not given                    */
  unsigned flags;             /* BENCH_OPT_*                              */
  const char *help_extra;     /* more --help text (what is measured), or NULL */
} bench_spec;

/* The parsed command line. */
typedef struct bench_opts {
  uint64_t messages;          /* --messages N (>= 1)                      */
  unsigned runs;              /* --runs R (>= 1, default 5)               */
  bool json;                  /* --json                                   */
  size_t size;                /* --size BYTES (BENCH_OPT_SIZE only)       */
  const char *plugin_dir;     /* --plugin-dir DIR, else NULL              */
} bench_opts;

/* Parse argv. Prints usage and exits 0 on --help; prints the problem and
 * exits 2 on a bad or unknown option. Numbers accept k/M/G suffixes
 * (10M = 10000000) and digit-separating underscores (10_000). */
void bench_parse(int argc, char **argv, const bench_spec *spec,
                 bench_opts *out);

/* ==== Timing =========================================================== */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* Median, min and max of n values (n >= 1; the array is not changed). */
typedef struct bench_summary {
  double median, min, max;
} bench_summary;
bench_summary bench_summarise(const double *v, unsigned n);

/* Keep the compiler from optimising away a value or the stores behind a
 * pointer. */
static inline void bench_keep(const void *p) {
  __asm__ __volatile__("" : : "r"(p) : "memory");
}

/* ==== Heap allocations ================================================= */

typedef struct bench_alloc {
  uint64_t allocs;  /* malloc, calloc, realloc and aligned allocations    */
  uint64_t frees;   /* free() of a non-NULL pointer                       */
  uint64_t bytes;   /* bytes requested by those allocations               */
  int64_t live;     /* heap bytes in use now (mallinfo2), process-wide    */
} bench_alloc;

/* True when the counting shim is active (not in a sanitizer build). */
bool bench_alloc_enabled(void);
/* A snapshot of the process-wide counters (mallinfo2 walks the arena's
 * bins: microseconds, so keep it out of tight loops). */
bench_alloc bench_alloc_now(void);
/* What happened since `start` (live: the growth, may be negative). */
bench_alloc bench_alloc_since(bench_alloc start);

/* ==== Text table ======================================================= */

typedef struct bench_table bench_table;

/* A table with ncols columns and these headers. The first column is
 * left-aligned; another is right-aligned unless one of its cells starts
 * with a word (letters; "n/a" and "x2.5" count as numbers). Aborts on out
 * of memory. */
bench_table *bench_table_new(const char *title, unsigned ncols,
                             const char *const *headers);
/* Append a cell to the current row; after ncols cells a new row starts. */
void bench_table_cell(bench_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A row spanning the table (a note or a separator when text is NULL). */
void bench_table_note(bench_table *t, const char *text);
/* Print to f and free the table. */
void bench_table_print(bench_table *t, FILE *f);

/* ==== JSON ============================================================= */

typedef struct bench_json bench_json;

/* Start the top-level object with "benchmark", "messages" and "runs". */
bench_json *bench_json_begin(const char *benchmark, const bench_opts *o);
/* An empty writer, for a top-level value of your own (open one first). */
bench_json *bench_json_new(void);
/* Open/close an object or an array. `key` is the member name inside an
 * object and must be NULL inside an array or at the top. */
void bench_json_object(bench_json *j, const char *key);
void bench_json_array(bench_json *j, const char *key);
void bench_json_end(bench_json *j);
/* Members. A number that is not finite is written as null. */
void bench_json_num(bench_json *j, const char *key, double v);
void bench_json_uint(bench_json *j, const char *key, uint64_t v);
void bench_json_int(bench_json *j, const char *key, int64_t v);
void bench_json_str(bench_json *j, const char *key, const char *v);
void bench_json_bool(bench_json *j, const char *key, bool v);
void bench_json_null(bench_json *j, const char *key);
/* Text that is already one valid JSON value, copied as it is. */
void bench_json_raw(bench_json *j, const char *key, const char *json);
/* Close whatever is still open, print one line to f, free the writer. */
void bench_json_finish(bench_json *j, FILE *f);

/* ==== Measured cases =================================================== */

/* The timed section of one run: bench_start() right before the work,
 * bench_stop() right after, so set-up and checks stay out. */
typedef struct bench_sample {
  uint64_t ns;
  bench_alloc alloc;
} bench_sample;

static inline void bench_start(bench_sample *s) {
  s->alloc = bench_alloc_now();
  s->ns = bench_now_ns();
}

static inline void bench_stop(bench_sample *s) {
  uint64_t t = bench_now_ns();
  s->ns = t - s->ns;
  s->alloc = bench_alloc_since(s->alloc);
}

/* One run of a case: do up to `ops` operations between bench_start and
 * bench_stop on *s; return how many were done (0: the case failed). */
typedef uint64_t (*bench_fn)(void *arg, uint64_t ops, bench_sample *s);

/* A case measured over several runs. */
typedef struct bench_case {
  char name[64];
  uint64_t ops;            /* operations per run                          */
  bench_summary ns;        /* ns per operation over the runs              */
  double allocs_per_op;    /* heap allocations per operation (median)     */
  double growth_per_op;    /* heap growth in bytes per operation (median) */
} bench_case;

/* Run fn `runs` times with `ops` operations each. Dies if fn fails. */
bench_case bench_run_case(const char *name, unsigned runs, uint64_t ops,
                          bench_fn fn, void *arg);
/* A table of cases: bench_cases_table() makes it, bench_cases_row() adds
 * one case (ns/op median, min, max, M ops/s, allocs/op, heap B/op). */
bench_table *bench_cases_table(const char *title);
void bench_cases_row(bench_table *t, const bench_case *c);
/* One case as an object of the "results" array: name, ops, ns_per_op,
 * ops_per_sec, min_ns_per_op, max_ns_per_op, allocs_per_op,
 * heap_growth_bytes_per_op. */
void bench_cases_json(bench_json *j, const bench_case *c);

/* ==== Small helpers ==================================================== */

/* Print to stderr and exit 1 (a benchmark that cannot measure). */
void bench_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Format n with thousands separators ("10,000,000") into buf. */
const char *bench_group(char *buf, size_t len, uint64_t n);

#endif
