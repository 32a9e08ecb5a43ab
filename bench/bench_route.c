/* bench_route: what finding a message's subsystem and route costs
 * (kernel/src/router.c, kernel/src/uri.c), on a realistic table.
 *
 * The table: 48 schemes in the scheme hash table, and two route trees of a
 * REST-like API (20 resources), 864 patterns in all, with literals,
 * {params} (up to 3 per pattern) and trailing '*' wildcards:
 *
 *   api://  R, R/search, R/{id}, R/{id}/history, R/{id}/S (4 S per R),
 *           R/{id}/S/{sid}, R/export/ *, R/{id}/files/ *, health, static/ *
 *   api2:// the same under v1/ and v2/, plus v2/R/{id}/S/{sid}/notes/{nid}
 *
 * Lookups cycle over 64 prepared URIs per kind (checked against the
 * expected route once, untimed):
 *
 *   uri parse           myc__uri_parse of the mixed set;
 *   scheme hit / miss   myc__router_find;
 *   match literal       "users/search";
 *   match param         "orders/8812";
 *   match deep params   "v2/orders/8812/comments/77/notes/5" (3 params);
 *   match wildcard      "products/export/2024/01/report.csv";
 *   match miss          "nosuch/thing" (backtracks, finds nothing);
 *   match mixed         all of the above, interleaved;
 *   parse+find+match    what a send does before queueing, on the mixed set. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"
#include "internal.h"

#define PER_KIND 64

static const char *const resources[] = {
    "users",    "orders",  "products", "invoices", "customers", "carts",  "payments",
    "shipments", "reviews", "categories", "sessions", "tokens",  "files",  "images",
    "reports",  "teams",   "projects", "tasks",    "comments",  "tags"};
#define NRES (sizeof(resources) / sizeof(resources[0]))
static const char *const subs[] = {"comments", "tags", "members", "events"};
#define NSUB 4

static const char *const scheme_names[] = {
    "api",   "api2",  "db",     "echo",   "kv",     "http",   "https", "ws",
    "file",  "cache", "queue",  "log",    "metrics", "auth",  "user",  "mail",
    "sms",   "push",  "search", "index",  "blob",   "s3",     "git",   "timer",
    "cron",  "sched", "config", "secret", "vault",  "dns",    "ftp",   "ssh",
    "mqtt",  "amqp",  "kafka",  "redis",  "pg",     "mysql",  "sqlite", "graph",
    "ml",    "audit", "trace",  "event",  "stream", "object", "media", "kernel"};
#define NSCHEMES (sizeof(scheme_names) / sizeof(scheme_names[0]))

enum { K_LIT, K_PARAM, K_DEEP, K_WILD, K_MISS, K_MIXED, NKINDS };

typedef struct table {
  myc__router router;
  myc_ctx subs[NSCHEMES];
  myc__rnode *tree[2]; /* api, api2 */
  myc__route **routes;
  unsigned nroutes, caproutes;
} table;

typedef struct lookup {
  char uri[128];
  size_t len;
  myc__uri u;
  const myc__route *want; /* NULL: a miss */
  int tree;
} lookup;

typedef struct ctx {
  table t;
  lookup set[NKINDS][PER_KIND];
  int kind;
} ctx;

/* ==== The table ======================================================== */

static const myc__route *add_route(table *t, int tree, const char *fmt,
                                   const char *a, const char *b) {
  char pat[128], err[200];
  snprintf(pat, sizeof(pat), fmt, a, b);
  myc__route *r = calloc(1, sizeof(*r));
  if (!r || !(r->pattern = strdup(pat))) bench_die("out of memory");
  r->tag = (int)t->nroutes;
  r->sub = &t->subs[tree];
  if (myc__rtree_add(&t->tree[tree], r, err, sizeof(err)) < 0)
    bench_die("route '%s': %s", pat, err);
  if (t->nroutes == t->caproutes) {
    t->caproutes = t->caproutes ? 2 * t->caproutes : 256;
    t->routes = realloc(t->routes, t->caproutes * sizeof(*t->routes));
    if (!t->routes) bench_die("out of memory");
  }
  t->routes[t->nroutes++] = r;
  return r;
}

/* The patterns of one resource under `prefix` ("" or "v1/"). */
static void add_resource(table *t, int tree, const char *prefix, const char *res) {
  char p[64];
  snprintf(p, sizeof(p), "%s%s", prefix, res);
  add_route(t, tree, "%s", p, NULL);
  add_route(t, tree, "%s/search", p, NULL);
  add_route(t, tree, "%s/{id}", p, NULL);
  add_route(t, tree, "%s/{id}/history", p, NULL);
  for (unsigned s = 0; s < NSUB; s++) {
    add_route(t, tree, "%s/{id}/%s", p, subs[s]);
    add_route(t, tree, "%s/{id}/%s/{sid}", p, subs[s]);
  }
  add_route(t, tree, "%s/export/*", p, NULL);
  add_route(t, tree, "%s/{id}/files/*", p, NULL);
}

static void build_table(table *t) {
  memset(t, 0, sizeof(*t));
  if (myc__router_init(&t->router, NSCHEMES) < 0) bench_die("out of memory");
  for (unsigned i = 0; i < NSCHEMES; i++)
    if (myc__router_add_scheme(&t->router, scheme_names[i], &t->subs[i]) < 0)
      bench_die("scheme '%s' refused", scheme_names[i]);
  for (unsigned r = 0; r < NRES; r++) add_resource(t, 0, "", resources[r]);
  add_route(t, 0, "health", NULL, NULL);
  add_route(t, 0, "static/*", NULL, NULL);
  for (unsigned r = 0; r < NRES; r++) {
    add_resource(t, 1, "v1/", resources[r]);
    add_resource(t, 1, "v2/", resources[r]);
    add_route(t, 1, "v2/%s/{id}/comments/{sid}/notes/{nid}", resources[r], NULL);
  }
  add_route(t, 1, "v2/health", NULL, NULL);
  add_route(t, 1, "v1/static/*", NULL, NULL);
}

static void free_table(table *t) {
  for (unsigned i = 0; i < t->nroutes; i++) {
    free(t->routes[i]->pattern);
    free(t->routes[i]->names_buf);
    free(t->routes[i]);
  }
  free(t->routes);
  myc__rtree_free(t->tree[0]);
  myc__rtree_free(t->tree[1]);
  myc__router_destroy(&t->router);
}

/* The route whose pattern is exactly `pat`. */
static const myc__route *route_named(const table *t, const char *pat) {
  for (unsigned i = 0; i < t->nroutes; i++)
    if (!strcmp(t->routes[i]->pattern, pat)) return t->routes[i];
  bench_die("no route '%s'", pat);
}

/* ==== The lookups ====================================================== */

static void set_lookup(ctx *c, int kind, unsigned i, const char *want_pat,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void set_lookup(ctx *c, int kind, unsigned i, const char *want_pat,
                       const char *fmt, ...) {
  lookup *l = &c->set[kind][i];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(l->uri, sizeof(l->uri), fmt, ap);
  va_end(ap);
  l->len = strlen(l->uri);
  if (myc__uri_parse(l->uri, l->len, &l->u) < 0) bench_die("bad URI '%s'", l->uri);
  l->tree = l->u.scheme_len == 4 ? 1 : 0; /* "api2" */
  l->want = want_pat ? route_named(&c->t, want_pat) : NULL;
}

static void build_lookups(ctx *c) {
  char pat[128];
  for (unsigned i = 0; i < PER_KIND; i++) {
    const char *r = resources[i % NRES], *s = subs[i % NSUB];
    snprintf(pat, sizeof(pat), "%s/search", r);
    set_lookup(c, K_LIT, i, pat, "api://%s/search", r);
    snprintf(pat, sizeof(pat), "%s/{id}", r);
    set_lookup(c, K_PARAM, i, pat, "api://%s/%u", r, 1000 + i * 7919);
    snprintf(pat, sizeof(pat), "v2/%s/{id}/comments/{sid}/notes/{nid}", r);
    set_lookup(c, K_DEEP, i, pat, "api2://v2/%s/%u/comments/%u/notes/%u?x=1", r,
               8812 + i, 77 + i, 5 + i);
    snprintf(pat, sizeof(pat), "%s/export/*", r);
    set_lookup(c, K_WILD, i, pat, "api://%s/export/2024/%02u/report-%u.csv", r, 1 + i % 12, i);
    set_lookup(c, K_MISS, i, NULL, "api://%s/%u/%s/%u/nosuch", r, i, s, i);
  }
  for (unsigned i = 0; i < PER_KIND; i++) c->set[K_MIXED][i] = c->set[i % K_MIXED][i];
}

static const myc__route *match(const table *t, const lookup *l, uint16_t params[][2],
                               uint8_t *np) {
  return myc__rtree_match(t->tree[l->tree], l->uri, l->uri + l->u.path_off,
                          l->u.path_len, params, np);
}

/* Every prepared lookup finds what it should (untimed). */
static void check_lookups(ctx *c) {
  uint16_t params[MYC_MAX_PARAMS][2];
  for (int k = 0; k < NKINDS; k++)
    for (unsigned i = 0; i < PER_KIND; i++) {
      lookup *l = &c->set[k][i];
      uint8_t np = 0;
      if (myc__router_find(&c->t.router, l->uri, l->u.scheme_len) != &c->t.subs[l->tree])
        bench_die("scheme of '%s' not found", l->uri);
      const myc__route *r = match(&c->t, l, params, &np);
      if (r != l->want)
        bench_die("'%s' matched '%s', expected '%s'", l->uri, r ? r->pattern : "nothing",
                  l->want ? l->want->pattern : "nothing");
      if (r && np != r->nparams) bench_die("'%s': %u params", l->uri, np);
    }
}

/* ==== Cases ============================================================ */

static uint64_t case_parse(void *arg, uint64_t ops, bench_sample *s) {
  ctx *c = arg;
  myc__uri u;
  bench_start(s);
  for (uint64_t i = 0; i < ops; i++) {
    const lookup *l = &c->set[K_MIXED][i % PER_KIND];
    if (myc__uri_parse(l->uri, l->len, &u) < 0) return 0;
    bench_keep(&u);
  }
  bench_stop(s);
  return ops;
}

static uint64_t case_scheme(void *arg, uint64_t ops, bench_sample *s) {
  ctx *c = arg;
  static const char *const miss[] = {"nope", "apiv3", "dbx", "ech"};
  const char *names[64];
  size_t lens[64];
  for (unsigned i = 0; i < 64; i++) {
    names[i] = c->kind == K_MISS ? miss[i & 3] : scheme_names[i % NSCHEMES];
    lens[i] = strlen(names[i]);
  }
  bench_start(s);
  for (uint64_t i = 0; i < ops; i++) {
    myc_ctx *sub = myc__router_find(&c->t.router, names[i & 63], lens[i & 63]);
    if ((sub == NULL) != (c->kind == K_MISS)) return 0;
    bench_keep(sub);
  }
  bench_stop(s);
  return ops;
}

static uint64_t case_match(void *arg, uint64_t ops, bench_sample *s) {
  ctx *c = arg;
  const lookup *set = c->set[c->kind];
  uint16_t params[MYC_MAX_PARAMS][2];
  uint8_t np;
  uint64_t found = 0;
  bench_start(s);
  for (uint64_t i = 0; i < ops; i++) {
    const myc__route *r = match(&c->t, &set[i % PER_KIND], params, &np);
    found += r != NULL;
    bench_keep(params);
  }
  bench_stop(s);
  bench_keep(&found);
  return ops;
}

/* What myc__route_and_push and set_uri do before the queue. */
static uint64_t case_full(void *arg, uint64_t ops, bench_sample *s) {
  ctx *c = arg;
  uint16_t params[MYC_MAX_PARAMS][2];
  uint8_t np;
  myc__uri u;
  bench_start(s);
  for (uint64_t i = 0; i < ops; i++) {
    const lookup *l = &c->set[K_MIXED][i % PER_KIND];
    if (myc__uri_parse(l->uri, l->len, &u) < 0) return 0;
    myc_ctx *sub = myc__router_find(&c->t.router, l->uri, u.scheme_len);
    if (!sub) return 0;
    const myc__rnode *tree = sub == &c->t.subs[1] ? c->t.tree[1] : c->t.tree[0];
    const myc__route *r = myc__rtree_match(tree, l->uri, l->uri + u.path_off, u.path_len,
                                           params, &np);
    bench_keep(r);
  }
  bench_stop(s);
  return ops;
}

static const bench_spec spec = {
    .name = "bench_route",
    .summary = "Scheme lookup, URI parsing and compiled route matching on a realistic table.",
    .default_messages = 1000000,
    .help_extra =
        "Table: 48 schemes; 864 route patterns in two trees (literals, {params},\n"
        "trailing '*'). Cases: uri parse, scheme hit/miss, match literal, param,\n"
        "deep params (3), wildcard, miss, mixed, and parse+find+match.",
};

int main(int argc, char **argv) {
  bench_opts o;
  bench_parse(argc, argv, &spec, &o);
  ctx *c = calloc(1, sizeof(*c));
  if (!c) bench_die("out of memory");
  build_table(&c->t);
  build_lookups(c);
  check_lookups(c);

  static const struct {
    const char *name;
    int kind;
  } matches[] = {{"match literal", K_LIT},    {"match param", K_PARAM},
                 {"match deep params", K_DEEP}, {"match wildcard", K_WILD},
                 {"match miss", K_MISS},       {"match mixed", K_MIXED}};
  bench_case cases[16];
  unsigned n = 0;
  cases[n++] = bench_run_case("uri parse", o.runs, o.messages, case_parse, c);
  c->kind = K_LIT;
  cases[n++] = bench_run_case("scheme hit", o.runs, o.messages, case_scheme, c);
  c->kind = K_MISS;
  cases[n++] = bench_run_case("scheme miss", o.runs, o.messages, case_scheme, c);
  for (unsigned i = 0; i < sizeof(matches) / sizeof(matches[0]); i++) {
    c->kind = matches[i].kind;
    cases[n++] = bench_run_case(matches[i].name, o.runs, o.messages, case_match, c);
  }
  cases[n++] = bench_run_case("parse+find+match", o.runs, o.messages, case_full, c);

  if (o.json) {
    bench_json *j = bench_json_begin(spec.name, &o);
    bench_json_uint(j, "schemes", NSCHEMES);
    bench_json_uint(j, "patterns", c->t.nroutes);
    bench_json_array(j, "results");
    for (unsigned i = 0; i < n; i++) bench_cases_json(j, &cases[i]);
    bench_json_end(j);
    bench_json_finish(j, stdout);
  } else {
    char a[32], title[200];
    snprintf(title, sizeof(title),
             "bench_route: %s lookups per case, median of %u runs; %zu schemes, %u patterns",
             bench_group(a, sizeof(a), o.messages), o.runs, NSCHEMES, c->t.nroutes);
    bench_table *t = bench_cases_table(title);
    for (unsigned i = 0; i < n; i++) bench_cases_row(t, &cases[i]);
    bench_table_print(t, stdout);
  }
  free_table(&c->t);
  free(c);
  return 0;
}
