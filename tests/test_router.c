/* Router tests: URI splitting, the scheme table and the route tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

/* ==== Helpers ========================================================== */

/* A copy of s without its NUL, in a block of exactly len bytes, so ASan
 * reports any read past len. */
static char *exact(const char *s, size_t len) {
  char *p = malloc(len ? len : 1);
  assert_non_null(p);
  memcpy(p, s, len);
  return p;
}

static int parse(const char *s, size_t len, myc__uri *u) {
  char *p = exact(s, len);
  memset(u, 0xa5, sizeof(*u));
  int rc = myc__uri_parse(p, len, u);
  if (rc == 0) u->scheme = s + (u->scheme - p); /* rebase before free */
  free(p);
  return rc;
}

static void route_init(myc__route *r, const char *pattern, int tag) {
  memset(r, 0, sizeof(*r));
  r->pattern = myc__strdup(pattern);
  assert_non_null(r->pattern);
  r->tag = tag;
}

static void route_fini(myc__route *r) {
  free(r->pattern);
  free(r->names_buf);
  memset(r, 0, sizeof(*r));
}

static int add(myc__rnode **root, myc__route *r, const char *pattern, int tag,
               char *err, size_t errlen) {
  route_init(r, pattern, tag);
  if (err && errlen) err[0] = '\0';
  return myc__rtree_add(root, r, err, errlen);
}

typedef struct result {
  int tag;                      /* -1: no match */
  unsigned n;
  char caps[MYC_MAX_PARAMS][128];
  uint16_t params[MYC_MAX_PARAMS][2];
  const char *const *names;
} result;

/* Match `path` placed inside "t://PATH?q=1" (exact-size, no NUL). */
static result run(const myc__rnode *root, const char *path) {
  result res;
  memset(&res, 0, sizeof(res));
  size_t plen = strlen(path), ulen = 4 + plen + 4;
  char *uri = malloc(ulen);
  assert_non_null(uri);
  memcpy(uri, "t://", 4);
  memcpy(uri + 4, path, plen);
  memcpy(uri + 4 + plen, "?q=1", 4);
  uint8_t n = 0xff;
  const myc__route *r = myc__rtree_match(root, uri, uri + 4, plen, res.params, &n);
  res.tag = r ? r->tag : -1;
  if (r) {
    assert_int_equal(n, r->nparams);
    res.n = n;
    res.names = r->names;
    for (unsigned i = 0; i < n; i++) {
      assert_true(res.params[i][0] >= 4);
      assert_true(res.params[i][0] + res.params[i][1] <= 4 + plen);
      assert_true(res.params[i][1] < sizeof(res.caps[i]));
      memcpy(res.caps[i], uri + res.params[i][0], res.params[i][1]);
      res.caps[i][res.params[i][1]] = '\0';
    }
  }
  free(uri);
  return res;
}

/* ==== URI ============================================================== */

static void test_uri_good(void **state) {
  (void)state;
  myc__uri u;
  const char *s = "db://bucket/key?x=1";
  assert_int_equal(parse(s, strlen(s), &u), 0);
  assert_ptr_equal(u.scheme, s);
  assert_int_equal(u.scheme_len, 2);
  assert_int_equal(u.path_off, 5);
  assert_int_equal(u.path_len, 10);
  assert_memory_equal(s + u.path_off, "bucket/key", 10);
  assert_int_equal(u.query_off, 16);
  assert_memory_equal(s + u.query_off, "x=1", 3);

  s = "x://";
  assert_int_equal(parse(s, 4, &u), 0);
  assert_int_equal(u.scheme_len, 1);
  assert_int_equal(u.path_off, 4);
  assert_int_equal(u.path_len, 0);
  assert_int_equal(u.query_off, 0);

  s = "x://a?"; /* empty query, still present */
  assert_int_equal(parse(s, 6, &u), 0);
  assert_int_equal(u.path_len, 1);
  assert_int_equal(u.query_off, 6);

  s = "x://?q";
  assert_int_equal(parse(s, 6, &u), 0);
  assert_int_equal(u.path_len, 0);
  assert_int_equal(u.query_off, 5);

  s = "x://a?b?c"; /* first '?' splits */
  assert_int_equal(parse(s, strlen(s), &u), 0);
  assert_int_equal(u.path_len, 1);
  assert_int_equal(u.query_off, 6);

  s = "A+b.c-D9://p/q/"; /* scheme chars, case kept as given */
  assert_int_equal(parse(s, strlen(s), &u), 0);
  assert_int_equal(u.scheme_len, 8);
  assert_int_equal(u.path_len, 4);

  s = "x://caf\xc3\xa9/\xe2\x82\xac?k=\xc3\xa9"; /* UTF-8 is fine */
  assert_int_equal(parse(s, strlen(s), &u), 0);
  assert_int_equal(u.path_len, 9);

  s = "x:///a//b"; /* path keeps leading and doubled slashes */
  assert_int_equal(parse(s, strlen(s), &u), 0);
  assert_int_equal(u.path_len, 5);
  assert_memory_equal(s + u.path_off, "/a//b", 5);

  /* 31-byte scheme is the limit. */
  char buf[64];
  memset(buf, 'a', 31);
  memcpy(buf + 31, "://x", 4);
  assert_int_equal(parse(buf, 35, &u), 0);
  assert_int_equal(u.scheme_len, 31);
  assert_int_equal(u.path_off, 34);
}

static void test_uri_bad(void **state) {
  (void)state;
  static const char *bad[] = {
      "",         "x",        "x:",       "x:/",      "x:/a",     "x:a",
      "x//a",     "://a",     "1x://a",   "-x://a",   "+x://a",   ".x://a",
      "x_y://a",  "x y://a",  " x://a",   "x ://a",   "x://a b",  "x://a\tb",
      "x://a\nb", "x://\x7f", "x://a?b c", "x://a?\r", "x://a?b\x1f",
      "x:://a",   "x:\\\\a",  "\xc3\xa9://a",
  };
  myc__uri u;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (myc__uri_parse(bad[i], strlen(bad[i]), &u) != MYC_EURI)
      fail_msg("accepted bad URI #%zu '%s'", i, bad[i]);
    assert_int_equal(parse(bad[i], strlen(bad[i]), &u), MYC_EURI);
  }
  /* Embedded NUL counts as a control byte. */
  assert_int_equal(parse("x://a\0b", 7, &u), MYC_EURI);
  assert_int_equal(parse("x://a?\0", 7, &u), MYC_EURI);
  /* 32-byte scheme is too long. */
  char buf[64];
  memset(buf, 'a', 32);
  memcpy(buf + 32, "://x", 4);
  assert_int_equal(parse(buf, 36, &u), MYC_EURI);
  /* NULL input. */
  assert_int_equal(myc__uri_parse(NULL, 0, &u), MYC_EURI);
}

static void test_uri_not_terminated(void **state) {
  (void)state;
  myc__uri u;
  /* Cut inside a longer string: only len bytes count. */
  const char *s = "db://a/b?q=1 trailing garbage\x01";
  assert_int_equal(parse(s, 6, &u), 0);
  assert_int_equal(u.path_len, 1);
  assert_int_equal(u.query_off, 0);
  assert_int_equal(parse(s, 9, &u), 0);
  assert_int_equal(u.path_len, 3);
  assert_int_equal(u.query_off, 9);
  assert_int_equal(parse(s, 12, &u), 0);
  assert_int_equal(u.query_off, 9);
  assert_int_equal(parse(s, 13, &u), MYC_EURI); /* takes the space */
  /* Prefixes of "db://" in exact-size buffers: no over-read (ASan). */
  for (size_t n = 0; n < 5; n++) assert_int_equal(parse("db://", n, &u), MYC_EURI);
  assert_int_equal(parse("db://", 5, &u), 0);
  assert_int_equal(parse("abcdefghij", 10, &u), MYC_EURI);
  assert_int_equal(parse("db:/", 4, &u), MYC_EURI);
}

/* ==== Scheme table ===================================================== */

static void test_scheme_valid(void **state) {
  (void)state;
  assert_true(myc__scheme_valid("db", 2));
  assert_true(myc__scheme_valid("a", 1));
  assert_true(myc__scheme_valid("HTTP", 4));
  assert_true(myc__scheme_valid("a1+b-c.d", 8));
  assert_true(myc__scheme_valid("dbXYZ", 2)); /* only len bytes count */
  assert_false(myc__scheme_valid("", 0));
  assert_false(myc__scheme_valid(NULL, 0));
  assert_false(myc__scheme_valid("1a", 2));
  assert_false(myc__scheme_valid("+a", 2));
  assert_false(myc__scheme_valid("a b", 3));
  assert_false(myc__scheme_valid("a_b", 3));
  assert_false(myc__scheme_valid("a:", 2));
  assert_false(myc__scheme_valid("a/", 2));
  assert_false(myc__scheme_valid("\xc3\xa9", 2));
  char buf[40];
  memset(buf, 'z', sizeof(buf));
  assert_true(myc__scheme_valid(buf, 31));
  assert_false(myc__scheme_valid(buf, 32));
}

static void test_scheme_table(void **state) {
  (void)state;
  int a, b, c;
  myc_ctx *ca = (myc_ctx *)&a, *cb = (myc_ctx *)&b, *cc = (myc_ctx *)&c;
  myc__router r;
  assert_int_equal(myc__router_init(&r, 3), 0);
  assert_true(r.mask + 1 >= 6);
  assert_int_equal((r.mask + 1) & r.mask, 0); /* power of two */

  assert_null(myc__router_find(&r, "db", 2));
  assert_int_equal(myc__router_add_scheme(&r, "db", ca), 0);
  assert_int_equal(myc__router_add_scheme(&r, "kernel", cb), 0);
  assert_int_equal(myc__router_add_scheme(&r, "Mixed", cc), 0);
  assert_int_equal(r.nschemes, 3);

  assert_ptr_equal(myc__router_find(&r, "db", 2), ca);
  assert_ptr_equal(myc__router_find(&r, "DB", 2), ca);
  assert_ptr_equal(myc__router_find(&r, "Db", 2), ca);
  assert_ptr_equal(myc__router_find(&r, "kernel", 6), cb);
  assert_ptr_equal(myc__router_find(&r, "KeRnEl", 6), cb);
  assert_ptr_equal(myc__router_find(&r, "mixed", 5), cc);
  assert_ptr_equal(myc__router_find(&r, "MIXED", 5), cc);
  /* Not NUL-terminated: only len bytes count. */
  assert_ptr_equal(myc__router_find(&r, "dbx", 2), ca);
  assert_ptr_equal(myc__router_find(&r, "db://x", 2), ca);
  assert_null(myc__router_find(&r, "dbx", 3));
  assert_null(myc__router_find(&r, "d", 1));
  assert_null(myc__router_find(&r, "kernels", 7));
  assert_null(myc__router_find(&r, "", 0));
  /* A control byte must not fold onto a scheme character. */
  assert_null(myc__router_find(&r, "d\x02", 2));

  assert_int_equal(myc__router_add_scheme(&r, "db", cb), MYC_EEXIST);
  assert_int_equal(myc__router_add_scheme(&r, "DB", cb), MYC_EEXIST);
  assert_int_equal(myc__router_add_scheme(&r, "MIXED", cb), MYC_EEXIST);
  assert_ptr_equal(myc__router_find(&r, "db", 2), ca);

  assert_int_equal(myc__router_add_scheme(&r, "", ca), MYC_EINVAL);
  assert_int_equal(myc__router_add_scheme(&r, "9p", ca), MYC_EINVAL);
  assert_int_equal(myc__router_add_scheme(&r, "a b", ca), MYC_EINVAL);
  assert_int_equal(myc__router_add_scheme(&r, "a_b", ca), MYC_EINVAL);
  assert_int_equal(myc__router_add_scheme(&r, "db:", ca), MYC_EINVAL);
  assert_int_equal(myc__router_add_scheme(&r, NULL, ca), MYC_EINVAL);
  assert_int_equal(myc__router_add_scheme(&r, "abcdefghijklmnopqrstuvwxyz012345", ca),
                   MYC_EINVAL);
  assert_int_equal(myc__router_add_scheme(&r, "abcdefghijklmnopqrstuvwxyz01234", ca), 0);
  assert_ptr_equal(myc__router_find(&r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234", 31), ca);
  assert_int_equal(r.nschemes, 4);

  /* Stored names are lowercase copies. */
  unsigned seen = 0;
  for (uint64_t i = 0; i <= r.mask; i++) {
    if (!r.slots[i].name) continue;
    seen++;
    for (const char *p = r.slots[i].name; *p; p++)
      assert_false(*p >= 'A' && *p <= 'Z');
    assert_int_equal(strlen(r.slots[i].name), r.slots[i].len);
  }
  assert_int_equal(seen, 4);

  myc__router_destroy(&r);
  assert_null(r.slots);
  myc__router_destroy(&r); /* idempotent */
  assert_null(myc__router_find(&r, "db", 2));
}

static void test_scheme_grow(void **state) {
  (void)state;
  enum { N = 300 };
  static int subs[N];
  char name[32];
  myc__router r;
  assert_int_equal(myc__router_init(&r, 0), 0);
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof(name), "s%d.x", i);
    assert_int_equal(myc__router_add_scheme(&r, name, (myc_ctx *)&subs[i]), 0);
    assert_true(2 * (uint64_t)r.nschemes <= r.mask + 1); /* load <= 0.5 */
  }
  assert_int_equal(r.nschemes, N);
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof(name), "S%d.X", i);
    assert_ptr_equal(myc__router_find(&r, name, strlen(name)), (myc_ctx *)&subs[i]);
    assert_int_equal(myc__router_add_scheme(&r, name, NULL), MYC_EEXIST);
  }
  assert_null(myc__router_find(&r, "s300.x", 6));
  myc__router_destroy(&r);
}

/* ==== Route tree ======================================================= */

static void test_route_precedence(void **state) {
  (void)state;
  myc__rnode *root = NULL;
  myc__route rt[3];
  char err[256];
  /* Registration order must not matter: wildcard first. */
  assert_int_equal(add(&root, &rt[0], "users/*", 3, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &rt[1], "users/{id}", 2, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &rt[2], "users/me", 1, err, sizeof(err)), 0);

  result m = run(root, "users/me");
  assert_int_equal(m.tag, 1);
  assert_int_equal(m.n, 0);
  assert_null(m.names[0]);
  m = run(root, "users/42");
  assert_int_equal(m.tag, 2);
  assert_int_equal(m.n, 1);
  assert_string_equal(m.caps[0], "42");
  assert_string_equal(m.names[0], "id");
  assert_int_equal(m.params[0][0], 4 + 6); /* offset from the URI's start */
  assert_int_equal(m.params[0][1], 2);
  m = run(root, "users/me/x");
  assert_int_equal(m.tag, 3);
  assert_string_equal(m.caps[0], "me/x");
  assert_string_equal(m.names[0], "*");
  m = run(root, "users/42/x/y");
  assert_int_equal(m.tag, 3);
  assert_string_equal(m.caps[0], "42/x/y");
  assert_int_equal(run(root, "users/").tag, -1); /* nothing non-empty */
  assert_int_equal(run(root, "users").tag, -1);
  assert_int_equal(run(root, "").tag, -1);
  assert_int_equal(run(root, "Users/me").tag, -1); /* paths are case-sensitive */
  assert_int_equal(run(root, "users/me2").tag, 2);
  assert_int_equal(run(root, "users/m").tag, 2);

  myc__rtree_free(root);
  for (int i = 0; i < 3; i++) route_fini(&rt[i]);
}

static void test_route_backtracking(void **state) {
  (void)state;
  myc__rnode *root = NULL;
  myc__route rt[6];
  char err[256];
  assert_int_equal(add(&root, &rt[0], "a/b/c", 1, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &rt[1], "a/{x}/d", 2, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &rt[2], "a/*", 3, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &rt[3], "{p}/x/y", 4, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &rt[4], "p/{q}/z", 5, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &rt[5], "*", 6, err, sizeof(err)), 0);

  result m = run(root, "a/b/c");
  assert_int_equal(m.tag, 1);
  m = run(root, "a/b/d"); /* literal 'b' fails deeper, {x} succeeds */
  assert_int_equal(m.tag, 2);
  assert_int_equal(m.n, 1);
  assert_string_equal(m.caps[0], "b");
  assert_string_equal(m.names[0], "x");
  m = run(root, "a/z/d");
  assert_int_equal(m.tag, 2);
  assert_string_equal(m.caps[0], "z");
  m = run(root, "a/b/e"); /* both fail deeper: the wildcard */
  assert_int_equal(m.tag, 3);
  assert_string_equal(m.caps[0], "b/e");
  m = run(root, "a/b/c/d");
  assert_int_equal(m.tag, 3);
  assert_string_equal(m.caps[0], "b/c/d");
  /* Literal 'p' then {q} captures "x" and fails; the capture must be
   * replaced when {p} takes over at the top. */
  m = run(root, "p/x/y");
  assert_int_equal(m.tag, 4);
  assert_int_equal(m.n, 1);
  assert_string_equal(m.caps[0], "p");
  assert_string_equal(m.names[0], "p");
  m = run(root, "p/k/z");
  assert_int_equal(m.tag, 5);
  assert_string_equal(m.caps[0], "k");
  assert_string_equal(m.names[0], "q");
  /* Everything else falls to the root wildcard. */
  m = run(root, "p/k/w");
  assert_int_equal(m.tag, 6);
  assert_string_equal(m.caps[0], "p/k/w");
  m = run(root, "a");
  assert_int_equal(m.tag, 6);
  assert_string_equal(m.caps[0], "a");
  m = run(root, "/");
  assert_int_equal(m.tag, 6);
  assert_string_equal(m.caps[0], "/");
  assert_int_equal(run(root, "").tag, -1);

  myc__rtree_free(root);
  for (int i = 0; i < 6; i++) route_fini(&rt[i]);
}

static void test_route_empty_segments(void **state) {
  (void)state;
  myc__rnode *root = NULL;
  myc__route rt[7];
  char err[256];
  assert_int_equal(add(&root, &rt[0], "bucket/", 1, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &rt[1], "bucket/{key}", 2, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &rt[2], "bucket", 3, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &rt[3], "", 4, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &rt[4], "/x", 5, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &rt[5], "a//b", 6, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &rt[6], "c/{id}/", 7, err, sizeof(err)), 0);

  assert_int_equal(run(root, "bucket/").tag, 1);
  result m = run(root, "bucket/k1");
  assert_int_equal(m.tag, 2);
  assert_string_equal(m.caps[0], "k1");
  assert_int_equal(run(root, "bucket").tag, 3);
  assert_int_equal(run(root, "").tag, 4);
  assert_int_equal(run(root, "/x").tag, 5);
  assert_int_equal(run(root, "a//b").tag, 6);
  m = run(root, "c/9/");
  assert_int_equal(m.tag, 7);
  assert_string_equal(m.caps[0], "9");
  assert_int_equal(run(root, "bucket//").tag, -1);
  assert_int_equal(run(root, "bucket/k/").tag, -1);
  assert_int_equal(run(root, "/").tag, -1);
  assert_int_equal(run(root, "x").tag, -1);
  assert_int_equal(run(root, "a/b").tag, -1);
  assert_int_equal(run(root, "c//").tag, -1); /* {id} needs a non-empty segment */
  assert_int_equal(run(root, "c/9").tag, -1);

  myc__rtree_free(root);
  for (int i = 0; i < 7; i++) route_fini(&rt[i]);
}

static void test_route_wildcard(void **state) {
  (void)state;
  myc__rnode *root = NULL;
  myc__route rt[3];
  char err[256];
  assert_int_equal(add(&root, &rt[0], "files/*", 1, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &rt[1], "u/{id}/*", 2, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &rt[2], "files/{name}/meta", 3, err, sizeof(err)), 0);
  assert_int_equal(rt[0].nparams, 1);
  assert_string_equal(rt[0].names[0], "*");
  assert_null(rt[0].names[1]);

  result m = run(root, "files/a/b/c.txt");
  assert_int_equal(m.tag, 1);
  assert_int_equal(m.n, 1);
  assert_string_equal(m.caps[0], "a/b/c.txt");
  assert_int_equal(m.params[0][0], 4 + 6);
  m = run(root, "files/x");
  assert_int_equal(m.tag, 1);
  assert_string_equal(m.caps[0], "x");
  m = run(root, "files//"); /* remaining bytes "/" are non-empty */
  assert_int_equal(m.tag, 1);
  assert_string_equal(m.caps[0], "/");
  m = run(root, "files/n/meta");
  assert_int_equal(m.tag, 3);
  assert_string_equal(m.caps[0], "n");
  m = run(root, "files/n/meta/x");
  assert_int_equal(m.tag, 1);
  assert_string_equal(m.caps[0], "n/meta/x");
  assert_int_equal(run(root, "files/").tag, -1);
  assert_int_equal(run(root, "files").tag, -1);

  m = run(root, "u/7/a/b");
  assert_int_equal(m.tag, 2);
  assert_int_equal(m.n, 2);
  assert_string_equal(m.caps[0], "7");
  assert_string_equal(m.caps[1], "a/b");
  assert_string_equal(m.names[0], "id");
  assert_string_equal(m.names[1], "*");
  assert_null(m.names[2]);
  assert_int_equal(run(root, "u/7/").tag, -1);
  assert_int_equal(run(root, "u//x").tag, -1);

  myc__rtree_free(root);
  for (int i = 0; i < 3; i++) route_fini(&rt[i]);
}

static void test_route_params(void **state) {
  (void)state;
  myc__rnode *root = NULL;
  myc__route rt[2];
  char err[256];
  assert_int_equal(add(&root, &rt[0], "users/{id}/posts/{post_id}/*", 1, err, sizeof(err)), 0);
  assert_int_equal(rt[0].nparams, 3);
  assert_string_equal(rt[0].names[0], "id");
  assert_string_equal(rt[0].names[1], "post_id");
  assert_string_equal(rt[0].names[2], "*");
  assert_null(rt[0].names[3]);
  assert_non_null(rt[0].names_buf);
  const char *p8 = "{a}/{_b}/{C9}/{d}/{e}/{f}/{g}/*";
  assert_int_equal(add(&root, &rt[1], p8, 2, err, sizeof(err)), 0);
  assert_int_equal(rt[1].nparams, MYC_MAX_PARAMS);
  assert_string_equal(rt[1].names[1], "_b");
  assert_string_equal(rt[1].names[2], "C9");
  assert_null(rt[1].names[MYC_MAX_PARAMS]);

  result m = run(root, "users/alice/posts/17/comments/3");
  assert_int_equal(m.tag, 1);
  assert_int_equal(m.n, 3);
  assert_string_equal(m.caps[0], "alice");
  assert_string_equal(m.caps[1], "17");
  assert_string_equal(m.caps[2], "comments/3");
  assert_int_equal(m.params[0][0], 4 + 6);
  assert_int_equal(m.params[1][0], 4 + 18);
  assert_int_equal(m.params[2][0], 4 + 21);

  m = run(root, "1/2/3/4/5/6/7/8/9");
  assert_int_equal(m.tag, 2);
  assert_int_equal(m.n, 8);
  assert_string_equal(m.caps[0], "1");
  assert_string_equal(m.caps[6], "7");
  assert_string_equal(m.caps[7], "8/9");
  assert_int_equal(run(root, "1/2/3/4/5/6/7").tag, -1);

  /* A route without captures has no names and no buffer. */
  myc__route plain;
  assert_int_equal(add(&root, &plain, "static/x", 3, err, sizeof(err)), 0);
  assert_int_equal(plain.nparams, 0);
  assert_null(plain.names[0]);
  assert_null(plain.names_buf);

  assert_null(myc__rtree_match(NULL, "", "", 0, m.params, &(uint8_t){0}));
  myc__rtree_free(NULL);
  myc__rtree_free(root);
  route_fini(&rt[0]);
  route_fini(&rt[1]);
  route_fini(&plain);
}

static void test_route_conflicts(void **state) {
  (void)state;
  myc__rnode *root = NULL;
  myc__route ok[4], bad;
  char err[256];
  assert_int_equal(add(&root, &ok[0], "users/{id}", 1, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &ok[1], "files/*", 2, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &ok[2], "a/b", 3, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &ok[3], "users/{id}/x", 4, err, sizeof(err)), 0);

  static const struct { const char *pat, *msg; } cases[] = {
      {"users/{name}", "pattern 'users/{name}' conflicts with 'users/{id}'"},
      {"users/{id}", "pattern 'users/{id}' conflicts with 'users/{id}'"},
      {"files/*", "pattern 'files/*' conflicts with 'files/*'"},
      {"a/b", "pattern 'a/b' conflicts with 'a/b'"},
      {"users/{z}/x", "pattern 'users/{z}/x' conflicts with 'users/{id}/x'"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    assert_int_equal(add(&root, &bad, cases[i].pat, 99, err, sizeof(err)), MYC_EINVAL);
    assert_string_equal(err, cases[i].msg);
    assert_null(bad.names_buf);
    route_fini(&bad);
  }
  /* The originals still win. */
  result m = run(root, "users/7");
  assert_int_equal(m.tag, 1);
  assert_string_equal(m.names[0], "id");
  assert_int_equal(run(root, "files/q").tag, 2);
  assert_int_equal(run(root, "a/b").tag, 3);
  assert_int_equal(run(root, "users/7/x").tag, 4);

  /* Same prefix, different shapes: no conflict. */
  myc__route more[3];
  assert_int_equal(add(&root, &more[0], "users/*", 5, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &more[1], "users/me", 6, err, sizeof(err)), 0);
  assert_int_equal(add(&root, &more[2], "a/b/", 7, err, sizeof(err)), 0);
  assert_int_equal(run(root, "users/me").tag, 6);
  assert_int_equal(run(root, "users/7/y").tag, 5);
  assert_int_equal(run(root, "a/b/").tag, 7);

  myc__rtree_free(root);
  for (int i = 0; i < 4; i++) route_fini(&ok[i]);
  for (int i = 0; i < 3; i++) route_fini(&more[i]);
}

static void test_route_bad_patterns(void **state) {
  (void)state;
  static const struct { const char *pat, *msg; } cases[] = {
      {"a/{id", "pattern 'a/{id': unterminated '{'"},
      {"a/{x/y}", "pattern 'a/{x/y}': unterminated '{'"},
      {"a/*/b", "pattern 'a/*/b': '*' must be the last segment"},
      {"*/", "pattern '*/': '*' must be the last segment"},
      {"a/{}", "pattern 'a/{}': empty parameter name"},
      {"a/{1x}", "pattern 'a/{1x}': bad parameter name '1x'"},
      {"a/{x-y}", "pattern 'a/{x-y}': bad parameter name 'x-y'"},
      {"{ x}", "pattern '{ x}': bad parameter name ' x'"},
      {"a/{id}x", "pattern 'a/{id}x': text after '}' in segment '{id}x'"},
      {"a/x{id}", "pattern 'a/x{id}': '{' inside literal segment 'x{id}'"},
      {"a/b}", "pattern 'a/b}': '}' inside literal segment 'b}'"},
      {"a/x*", "pattern 'a/x*': '*' inside literal segment 'x*'"},
      {"**", "pattern '**': '*' inside literal segment '**'"},
      {"{a}/{a}", "pattern '{a}/{a}': duplicate parameter name 'a'"},
      {"{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}",
       "pattern '{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}': more than 8 parameters"},
      {"{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/*",
       "pattern '{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/*': more than 8 parameters"},
  };
  myc__rnode *root = NULL;
  myc__route r;
  char err[256];
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    assert_int_equal(add(&root, &r, cases[i].pat, 1, err, sizeof(err)), MYC_EINVAL);
    assert_string_equal(err, cases[i].msg);
    assert_null(r.names_buf);
    route_fini(&r);
  }
  assert_null(root); /* nothing was built */

  /* A short buffer truncates; no buffer at all is fine too. */
  char small[12];
  memset(small, 'x', sizeof(small));
  assert_int_equal(add(&root, &r, "a/{id", 1, small, sizeof(small)), MYC_EINVAL);
  assert_string_equal(small, "pattern 'a/");
  route_fini(&r);
  assert_int_equal(add(&root, &r, "a/{id", 1, NULL, 0), MYC_EINVAL);
  route_fini(&r);
  memset(&r, 0, sizeof(r));
  assert_int_equal(myc__rtree_add(&root, &r, err, sizeof(err)), MYC_EINVAL);
  assert_null(root);
}

static void test_route_many(void **state) {
  (void)state;
  enum { N = 300, K = 5 };
  myc__route *rt = calloc(N * K, sizeof(*rt));
  assert_non_null(rt);
  myc__rnode *root = NULL;
  char pat[128], path[128], err[256], want[64];

  /* Insert in a scrambled order (coprime stride). */
  for (int j = 0; j < N * K; j++) {
    int idx = (int)(((long)j * 7919) % (N * K)), i = idx / K;
    switch (idx % K) {
      case 0: snprintf(pat, sizeof(pat), "svc%d/items", i); break;
      case 1: snprintf(pat, sizeof(pat), "svc%d/items/{id}", i); break;
      case 2: snprintf(pat, sizeof(pat), "svc%d/items/{id}/tags/{tag}", i); break;
      case 3: snprintf(pat, sizeof(pat), "svc%d/files/*", i); break;
      case 4: snprintf(pat, sizeof(pat), "svc%d/items/special", i); break;
    }
    assert_int_equal(add(&root, &rt[idx], pat, idx, err, sizeof(err)), 0);
  }

  for (int i = 0; i < N; i++) {
    snprintf(path, sizeof(path), "svc%d/items", i);
    result m = run(root, path);
    assert_int_equal(m.tag, i * K + 0);
    assert_int_equal(m.n, 0);

    snprintf(path, sizeof(path), "svc%d/items/k%d", i, i * 3);
    snprintf(want, sizeof(want), "k%d", i * 3);
    m = run(root, path);
    assert_int_equal(m.tag, i * K + 1);
    assert_int_equal(m.n, 1);
    assert_string_equal(m.caps[0], want);

    snprintf(path, sizeof(path), "svc%d/items/special/tags/t%d", i, i);
    snprintf(want, sizeof(want), "t%d", i);
    m = run(root, path);
    assert_int_equal(m.tag, i * K + 2);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.caps[0], "special");
    assert_string_equal(m.caps[1], want);

    snprintf(path, sizeof(path), "svc%d/files/d%d/f.txt", i, i);
    snprintf(want, sizeof(want), "d%d/f.txt", i);
    m = run(root, path);
    assert_int_equal(m.tag, i * K + 3);
    assert_string_equal(m.caps[0], want);

    snprintf(path, sizeof(path), "svc%d/items/special", i);
    assert_int_equal(run(root, path).tag, i * K + 4);

    snprintf(path, sizeof(path), "svc%d/other", i);
    assert_int_equal(run(root, path).tag, -1);
    snprintf(path, sizeof(path), "svc%d/items/x/tags", i);
    assert_int_equal(run(root, path).tag, -1);
  }
  assert_int_equal(run(root, "svc300/items").tag, -1);
  assert_int_equal(run(root, "svc/items").tag, -1);

  myc__rtree_free(root);
  for (int j = 0; j < N * K; j++) route_fini(&rt[j]);
  free(rt);
}

/* ---- Differential test against a naive matcher ----------------------- */

static uint64_t rng_state;
static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state % n);
}

typedef struct seg {
  const char *s;
  size_t len;
} seg;

static unsigned split(const char *s, size_t len, seg *out, unsigned max) {
  unsigned n = 0;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i == len || s[i] == '/') {
      assert_true(n < max);
      out[n].s = s + start;
      out[n].len = i - start;
      n++;
      start = i + 1;
    }
  }
  return n;
}

/* Match one pattern the slow way. kinds[] gets 0 literal, 1 param, 2 wild
 * per pattern segment; caps[] the captures (offset in path, length). */
static bool naive_match(const char *pat, const char *path, size_t len,
                        int *kinds, unsigned *nk, size_t caps[][2],
                        unsigned *ncap) {
  seg ps[32], xs[64];
  unsigned np = split(pat, strlen(pat), ps, 32);
  unsigned nx = split(path, len, xs, 64);
  *ncap = 0;
  *nk = np;
  for (unsigned k = 0; k < np; k++) {
    if (ps[k].len == 1 && ps[k].s[0] == '*') {
      kinds[k] = 2;
      if (k >= nx) return false;
      size_t off = (size_t)(xs[k].s - path);
      if (off >= len) return false;
      caps[*ncap][0] = off;
      caps[*ncap][1] = len - off;
      (*ncap)++;
      return true;
    }
    if (k >= nx) return false;
    if (ps[k].len && ps[k].s[0] == '{') {
      kinds[k] = 1;
      if (!xs[k].len) return false;
      caps[*ncap][0] = (size_t)(xs[k].s - path);
      caps[*ncap][1] = xs[k].len;
      (*ncap)++;
    } else {
      kinds[k] = 0;
      if (ps[k].len != xs[k].len || memcmp(ps[k].s, xs[k].s, xs[k].len)) return false;
    }
  }
  return np == nx;
}

static void test_route_random(void **state) {
  (void)state;
  static const char *pseg[] = {"a", "b", "", "{p}", "{q}", "*", "ab"};
  static const char *xseg[] = {"a", "b", "", "ab", "x"};
  enum { TRIALS = 60, PATS = 40, PATHS = 300 };
  unsigned compared = 0, matched = 0;
  rng_state = 0x9e3779b97f4a7c15ull;

  for (int t = 0; t < TRIALS; t++) {
    myc__route rt[PATS];
    bool ok[PATS];
    myc__rnode *root = NULL;
    char err[256];
    for (int i = 0; i < PATS; i++) {
      char pat[64] = "";
      unsigned nseg = 1 + rnd(4), names = 0;
      for (unsigned k = 0; k < nseg; k++) {
        const char *s = pseg[rnd(sizeof(pseg) / sizeof(pseg[0]))];
        if (s[0] == '*' && k + 1 < nseg) s = "a";
        if (s[0] == '{') s = names++ ? "{q}" : "{p}"; /* unique names */
        if (names > 2) s = "b";
        if (k) strcat(pat, "/");
        strcat(pat, s);
      }
      int rc = add(&root, &rt[i], pat, i, err, sizeof(err));
      ok[i] = rc == 0;
      if (rc != 0) assert_non_null(strstr(err, "conflicts with"));
    }
    for (int j = 0; j < PATHS; j++) {
      char path[64] = "";
      unsigned nseg = 1 + rnd(5);
      for (unsigned k = 0; k < nseg; k++) {
        if (k) strcat(path, "/");
        strcat(path, xseg[rnd(sizeof(xseg) / sizeof(xseg[0]))]);
      }
      size_t len = strlen(path);
      /* Reference: the matching route with the smallest kind sequence. */
      int best = -1, bk[32], kinds[32];
      unsigned bnk = 0, nk, ncap, bncap = 0;
      size_t caps[MYC_MAX_PARAMS][2], bcaps[MYC_MAX_PARAMS][2];
      for (int i = 0; i < PATS; i++) {
        if (!ok[i] || !naive_match(rt[i].pattern, path, len, kinds, &nk, caps, &ncap))
          continue;
        bool better = best < 0;
        for (unsigned k = 0; !better && k < nk && k < bnk; k++) {
          if (kinds[k] != bk[k]) {
            better = kinds[k] < bk[k];
            break;
          }
        }
        if (better) {
          best = i;
          bnk = nk;
          bncap = ncap;
          memcpy(bk, kinds, sizeof(kinds));
          memcpy(bcaps, caps, sizeof(caps));
        }
      }
      result m = run(root, path);
      if (m.tag != best)
        fail_msg("path '%s': tree gave %d ('%s'), reference %d ('%s')", path,
                 m.tag, m.tag >= 0 ? rt[m.tag].pattern : "-", best,
                 best >= 0 ? rt[best].pattern : "-");
      compared++;
      if (best < 0) continue;
      matched++;
      assert_int_equal(m.n, bncap);
      for (unsigned c = 0; c < bncap; c++) {
        assert_int_equal(m.params[c][0], 4 + bcaps[c][0]);
        assert_int_equal(m.params[c][1], bcaps[c][1]);
      }
    }
    myc__rtree_free(root);
    for (int i = 0; i < PATS; i++) route_fini(&rt[i]);
  }
  assert_int_equal(compared, TRIALS * PATHS);
  assert_true(matched > compared / 10); /* the test exercises real matches */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_uri_good),
      cmocka_unit_test(test_uri_bad),
      cmocka_unit_test(test_uri_not_terminated),
      cmocka_unit_test(test_scheme_valid),
      cmocka_unit_test(test_scheme_table),
      cmocka_unit_test(test_scheme_grow),
      cmocka_unit_test(test_route_precedence),
      cmocka_unit_test(test_route_backtracking),
      cmocka_unit_test(test_route_empty_segments),
      cmocka_unit_test(test_route_wildcard),
      cmocka_unit_test(test_route_params),
      cmocka_unit_test(test_route_conflicts),
      cmocka_unit_test(test_route_bad_patterns),
      cmocka_unit_test(test_route_many),
      cmocka_unit_test(test_route_random),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
