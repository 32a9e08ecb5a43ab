/* bench_all: run every benchmark beside this program and summarise.
 *
 * Runs each executable named bench_* in this program's own directory
 * (except itself), in name order, as `bench_X --json [--messages N]
 * [--runs R]`, reading the one JSON object it prints on stdout (its
 * stderr passes through). Prints one table with a row per entry of each
 * benchmark's "results" (name, ns per op or per message, M/s, allocations)
 * and its top-level "ratio_*" members; with --json prints
 * {"benchmarks": {"bench_X": <its JSON>, ...}}. A benchmark that fails or
 * prints no valid JSON appears as {"error": "..."} and makes the exit
 * status 1. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlib.h"

/* ==== A small JSON reader ============================================== */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
  int type;
  double num;
  char *str;          /* J_STR                                         */
  struct jv **items;  /* J_ARR, J_OBJ                                  */
  char **keys;        /* J_OBJ                                         */
  size_t n;
} jv;

typedef struct jreader {
  const char *p;
  bool bad;
} jreader;

static void jv_free(jv *v) {
  if (!v) return;
  for (size_t i = 0; i < v->n; i++) {
    jv_free(v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->str);
  free(v);
}

static void skip_ws(jreader *r) {
  while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r') r->p++;
}

static char *read_string(jreader *r) {
  if (*r->p != '"') {
    r->bad = true;
    return NULL;
  }
  r->p++;
  size_t cap = 16, n = 0;
  char *s = malloc(cap);
  if (!s) bench_die("out of memory");
  while (*r->p && *r->p != '"') {
    char c = *r->p++;
    if (c == '\\') {
      c = *r->p++;
      switch (c) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u':
          for (int i = 0; i < 4; i++)
            if (!*r->p++) r->bad = true;
          c = '?';
          break;
        case '"': case '\\': case '/': break;
        default: r->bad = true;
      }
    } else if ((unsigned char)c < 0x20) {
      r->bad = true;
    }
    if (n + 2 > cap && !(s = realloc(s, cap *= 2))) bench_die("out of memory");
    s[n++] = c;
    if (r->bad) break;
  }
  if (*r->p != '"') r->bad = true;
  else r->p++;
  s[n] = '\0';
  return s;
}

static jv *read_value(jreader *r, int depth) {
  jv *v = calloc(1, sizeof(*v));
  if (!v) bench_die("out of memory");
  skip_ws(r);
  if (depth > 64) {
    r->bad = true;
    return v;
  }
  char c = *r->p;
  if (c == '{' || c == '[') {
    v->type = c == '{' ? J_OBJ : J_ARR;
    char close = c == '{' ? '}' : ']';
    r->p++;
    skip_ws(r);
    if (*r->p == close) {
      r->p++;
      return v;
    }
    for (;;) {
      char *key = NULL;
      if (v->type == J_OBJ) {
        skip_ws(r);
        key = read_string(r);
        skip_ws(r);
        if (*r->p != ':') r->bad = true;
        else r->p++;
      }
      jv *item = read_value(r, depth + 1);
      v->items = realloc(v->items, (v->n + 1) * sizeof(*v->items));
      if (!v->items) bench_die("out of memory");
      if (v->type == J_OBJ && !(v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys))))
        bench_die("out of memory");
      v->items[v->n] = item;
      if (v->keys) v->keys[v->n] = key;
      v->n++;
      if (r->bad) return v;
      skip_ws(r);
      if (*r->p == ',') {
        r->p++;
        continue;
      }
      if (*r->p == close) {
        r->p++;
        return v;
      }
      r->bad = true;
      return v;
    }
  }
  if (c == '"') {
    v->type = J_STR;
    v->str = read_string(r);
    return v;
  }
  if (!strncmp(r->p, "null", 4)) {
    r->p += 4;
    return v;
  }
  if (!strncmp(r->p, "true", 4) || !strncmp(r->p, "false", 5)) {
    v->type = J_BOOL;
    v->num = c == 't';
    r->p += c == 't' ? 4 : 5;
    return v;
  }
  char *end;
  errno = 0;
  v->type = J_NUM;
  v->num = strtod(r->p, &end);
  if (end == r->p || (c != '-' && (c < '0' || c > '9'))) r->bad = true;
  r->p = end;
  return v;
}

/* Parse text holding exactly one JSON value; NULL if it is not. */
static jv *jv_parse(const char *text) {
  jreader r = {text, false};
  jv *v = read_value(&r, 0);
  skip_ws(&r);
  if (r.bad || *r.p) {
    jv_free(v);
    return NULL;
  }
  return v;
}

static const jv *jv_get(const jv *o, const char *key) {
  if (!o || o->type != J_OBJ) return NULL;
  for (size_t i = 0; i < o->n; i++)
    if (o->keys[i] && !strcmp(o->keys[i], key)) return o->items[i];
  return NULL;
}

/* The first numeric member among `keys` (NULL-terminated), or NAN. */
static double jv_num_of(const jv *o, const char *const *keys) {
  for (; *keys; keys++) {
    const jv *v = jv_get(o, *keys);
    if (v && v->type == J_NUM) return v->num;
  }
  return NAN;
}

/* ==== Running the benchmarks ========================================== */

typedef struct entry {
  char name[NAME_MAX + 1];
  char *out;    /* its stdout                                        */
  jv *json;     /* parsed, or NULL                                   */
  char error[160];
} entry;

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* Run argv[0] with its stdout captured into *out. Returns the wait status
 * or -1. */
static int run_capture(char *const *argv, char **out) {
  int fd[2];
  if (pipe(fd) < 0) return -1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    close(fd[0]);
    close(fd[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    close(fd[1]);
    execv(argv[0], argv);
    fprintf(stderr, "bench_all: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(fd[1]);
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  if (!buf) bench_die("out of memory");
  for (;;) {
    if (n + 1024 > cap && !(buf = realloc(buf, cap *= 2))) bench_die("out of memory");
    ssize_t k = read(fd[0], buf + n, cap - n - 1);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    n += (size_t)k;
  }
  buf[n] = '\0';
  close(fd[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  *out = buf;
  return status;
}

/* This program's directory. */
static void self_dir(char *buf, size_t len, const char *argv0) {
  ssize_t n = readlink("/proc/self/exe", buf, len - 1);
  if (n <= 0) {
    snprintf(buf, len, "%s", argv0);
    n = (ssize_t)strlen(buf);
  }
  buf[n] = '\0';
  char *slash = strrchr(buf, '/');
  if (slash)
    *slash = '\0';
  else
    snprintf(buf, len, ".");
}

static entry *find_benchmarks(const char *dir, const char *self, size_t *count) {
  DIR *d = opendir(dir);
  if (!d) bench_die("cannot list %s: %s", dir, strerror(errno));
  entry *v = NULL;
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    const char *nm = de->d_name;
    if (strncmp(nm, "bench_", 6) || !strcmp(nm, self) || strchr(nm, '.')) continue;
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, nm);
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, X_OK) < 0) continue;
    if (!(v = realloc(v, (n + 1) * sizeof(*v)))) bench_die("out of memory");
    memset(&v[n], 0, sizeof(v[n]));
    snprintf(v[n].name, sizeof(v[n].name), "%s", nm);
    n++;
  }
  closedir(d);
  if (n) qsort(v, n, sizeof(*v), cmp_entry);
  *count = n;
  return v;
}

static void run_one(const char *dir, entry *e, const bench_opts *o) {
  char path[PATH_MAX], msgs[32], runs[32];
  snprintf(path, sizeof(path), "%s/%s", dir, e->name);
  snprintf(msgs, sizeof(msgs), "%llu", (unsigned long long)o->messages);
  snprintf(runs, sizeof(runs), "%u", o->runs);
  char *argv[8];
  int a = 0;
  argv[a++] = path;
  argv[a++] = "--json";
  if (o->messages) {
    argv[a++] = "--messages";
    argv[a++] = msgs;
  }
  argv[a++] = "--runs";
  argv[a++] = runs;
  argv[a] = NULL;
  fprintf(stderr, "bench_all: running %s\n", e->name);
  int st = run_capture(argv, &e->out);
  if (st < 0)
    snprintf(e->error, sizeof(e->error), "could not run: %s", strerror(errno));
  else if (WIFSIGNALED(st))
    snprintf(e->error, sizeof(e->error), "killed by signal %d", WTERMSIG(st));
  else if (WEXITSTATUS(st) != 0)
    snprintf(e->error, sizeof(e->error), "exit status %d", WEXITSTATUS(st));
  else if (!(e->json = jv_parse(e->out)) || e->json->type != J_OBJ)
    snprintf(e->error, sizeof(e->error), "did not print one JSON object on stdout");
  if (e->error[0]) fprintf(stderr, "bench_all: %s: %s\n", e->name, e->error);
}

/* ==== Output =========================================================== */

static void print_json(entry *v, size_t n) {
  bench_json *j = bench_json_new();
  bench_json_object(j, NULL);
  bench_json_object(j, "benchmarks");
  for (size_t i = 0; i < n; i++) {
    if (v[i].error[0]) {
      bench_json_object(j, v[i].name);
      bench_json_str(j, "error", v[i].error);
      bench_json_end(j);
    } else {
      size_t len = strlen(v[i].out);
      while (len && (v[i].out[len - 1] == '\n' || v[i].out[len - 1] == ' ')) v[i].out[--len] = '\0';
      bench_json_raw(j, v[i].name, v[i].out);
    }
  }
  bench_json_finish(j, stdout);
}

static void print_table(entry *v, size_t n, const bench_opts *o) {
  static const char *const h[] = {"benchmark", "case", "ns/op", "M/s", "allocs/op"};
  static const char *const ns_keys[] = {"ns_per_msg", "ns_per_op", "p50_ns", NULL};
  static const char *const rate_keys[] = {"msgs_per_sec", "ops_per_sec", NULL};
  static const char *const alloc_keys[] = {"allocs_per_msg", "allocs_per_op", NULL};
  char title[160], m[32];
  if (o->messages)
    snprintf(title, sizeof(title), "bench_all: --messages %s, median of %u runs",
             bench_group(m, sizeof(m), o->messages), o->runs);
  else
    snprintf(title, sizeof(title),
             "bench_all: each benchmark's default --messages, median of %u runs", o->runs);
  bench_table *t = bench_table_new(title, 5, h);
  for (size_t i = 0; i < n; i++) {
    if (v[i].error[0]) {
      char line[256];
      snprintf(line, sizeof(line), "%s: FAILED (%s)", v[i].name, v[i].error);
      bench_table_note(t, line);
      continue;
    }
    const jv *res = jv_get(v[i].json, "results");
    const jv *msgs = jv_get(v[i].json, "messages");
    for (size_t r = 0; res && res->type == J_ARR && r < res->n; r++) {
      const jv *c = res->items[r], *name = jv_get(c, "name");
      double ns = jv_num_of(c, ns_keys), rate = jv_num_of(c, rate_keys);
      double al = jv_num_of(c, alloc_keys);
      if (isnan(rate) && ns > 0) rate = 1e9 / ns;
      if (r == 0 && msgs && msgs->type == J_NUM)
        bench_table_cell(t, "%s (%s)", v[i].name, bench_group(m, sizeof(m), (uint64_t)msgs->num));
      else
        bench_table_cell(t, "%s", r == 0 ? v[i].name : "");
      bench_table_cell(t, "%s", name && name->type == J_STR ? name->str : "?");
      if (isnan(ns))
        bench_table_cell(t, "-");
      else
        bench_table_cell(t, "%.2f", ns);
      if (isnan(rate))
        bench_table_cell(t, "-");
      else
        bench_table_cell(t, "%.2f", rate / 1e6);
      if (isnan(al))
        bench_table_cell(t, "-");
      else
        bench_table_cell(t, "%.3g", al);
    }
    if (!res || res->type != J_ARR || !res->n) {
      bench_table_cell(t, "%s", v[i].name);
      bench_table_cell(t, "(no results)");
    }
    const jv *top = v[i].json;
    for (size_t k = 0; k < top->n; k++) {
      if (strncmp(top->keys[k], "ratio_", 6) || top->items[k]->type != J_NUM) continue;
      char line[200];
      snprintf(line, sizeof(line), "  %s %s = %.3f", v[i].name, top->keys[k], top->items[k]->num);
      bench_table_note(t, line);
    }
  }
  bench_table_print(t, stdout);
}

static const bench_spec spec = {
    .name = "bench_all",
    .summary = "Run every bench_* program in this directory and print one summary.",
    .default_messages = 0,
    .help_extra =
        "Each benchmark runs with --json, and with --messages and --runs when given\n"
        "(without --messages each uses its own default). Their stderr passes through.\n"
        "With --json: {\"benchmarks\": {\"bench_X\": <its JSON>, ...}}.",
};

int main(int argc, char **argv) {
  bench_opts o;
  bench_parse(argc, argv, &spec, &o);
  char dir[PATH_MAX];
  self_dir(dir, sizeof(dir), argv[0]);
  const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
  if (strncmp(self, "bench_all", 9)) self = "bench_all";
  size_t n;
  entry *v = find_benchmarks(dir, self, &n);
  if (!n) bench_die("no bench_* programs in %s", dir);
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    run_one(dir, &v[i], &o);
    failed |= v[i].error[0] != '\0';
  }
  if (o.json)
    print_json(v, n);
  else
    print_table(v, n, &o);
  for (size_t i = 0; i < n; i++) {
    free(v[i].out);
    jv_free(v[i].json);
  }
  free(v);
  return failed ? 1 : 0;
}
