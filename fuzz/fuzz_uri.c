/* fuzz_uri: the URI splitter, the scheme table and the message URI path.
 *
 * Each input is one URI candidate (any bytes). It is checked three ways:
 *  - myc__uri_parse against a slow reference written from the spec in
 *    uri.c, field by field;
 *  - the scheme it names, looked up in a router holding a few schemes
 *    (in any case), against a linear reference, and added to a fresh
 *    router, which must then find it in upper case and refuse it twice;
 *  - myc_msg_new and myc_send_pooled on a kernel (kernel:// only) with the
 *    NUL-terminated text: the error must be the one the reference expects,
 *    and the kernel's books must balance after the queue is drained. */
#include "fuzz_common.h"

#include <strings.h>

#define FUZZ_URI_MAX 2048 /* the kernel's default max_uri_length */

/* ==== Reference ========================================================= */

static int ref_alpha(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int ref_scheme_char(unsigned char c) {
  return ref_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
         c == '.';
}

/* The spec of uri.c, spelled out slowly. */
static int ref_uri_parse(const unsigned char *u, size_t len, myc__uri *out) {
  size_t s = 0;
  if (len == 0 || !ref_alpha(u[0])) return MYC_EURI;
  while (s < len && ref_scheme_char(u[s])) s++;
  if (s > 31) return MYC_EURI;
  if (len < s + 3 || memcmp(u + s, "://", 3) != 0) return MYC_EURI;
  for (size_t i = s + 3; i < len; i++)
    if (u[i] <= 0x20 || u[i] == 0x7f) return MYC_EURI;
  const unsigned char *q = memchr(u + s + 3, '?', len - s - 3);
  out->scheme = (const char *)u;
  out->scheme_len = s;
  out->path_off = s + 3;
  out->path_len = (q ? (size_t)(q - u) : len) - (s + 3);
  out->query_off = q ? (size_t)(q - u) + 1 : 0;
  return 0;
}

/* ==== State kept across inputs ========================================== */

static const char *const fuzz_uri_schemes[] = {
    "db", "echo", "kernel2", "a+b.c-d", "x", "abcdefghijklmnopqrstuvwxyz01234",
    "abcdefgh", "abcdefghi", "q1", "Q2-", NULL};

static myc__router fuzz_uri_router;
static myc_ctx *fuzz_uri_subs[16];
static myc_kernel *fuzz_uri_kernel;

/* The router with every scheme above (tags are fake subsystem pointers),
 * and a kernel with nothing but kernel://. */
static void fuzz_uri_setup(void) {
  if (fuzz_uri_kernel) return;
  FUZZ_CHECK(myc__router_init(&fuzz_uri_router, 2) == 0);
  for (unsigned i = 0; fuzz_uri_schemes[i]; i++) {
    fuzz_uri_subs[i] = (myc_ctx *)(uintptr_t)(0x1000 + 16 * i);
    FUZZ_CHECK(myc__router_add_scheme(&fuzz_uri_router, fuzz_uri_schemes[i],
                                      fuzz_uri_subs[i]) == 0);
  }
  myc_config *cfg = NULL;
  char *err = NULL;
  FUZZ_CHECK(myc_config_parse("[kernel]\nlog_level = error\npool_size = 64\n",
                              "fuzz.ini", &cfg, &err) == 0);
  FUZZ_CHECK(myc_kernel_new(cfg, &fuzz_uri_kernel, &err) == 0);
  myc_config_free(cfg);
}

/* Free what fuzz_uri_setup made (for the replaying test). */
void myc_fuzz_uri_cleanup(void) {
  if (!fuzz_uri_kernel) return;
  myc__router_destroy(&fuzz_uri_router);
  myc_kernel_free(fuzz_uri_kernel);
  fuzz_uri_kernel = NULL;
}

/* The fake subsystem serving s[0..len) in any case, or NULL. */
static myc_ctx *ref_find(const char *s, size_t len) {
  for (unsigned i = 0; fuzz_uri_schemes[i]; i++)
    if (strlen(fuzz_uri_schemes[i]) == len &&
        strncasecmp(fuzz_uri_schemes[i], s, len) == 0)
      return fuzz_uri_subs[i];
  return NULL;
}

/* ==== The checks ======================================================== */

static void check_parse(const uint8_t *data, size_t size) {
  myc__uri a, b;
  memset(&a, 0x5a, sizeof(a));
  int rc = myc__uri_parse((const char *)data, size, &a);
  int want = ref_uri_parse(data, size, &b);
  FUZZ_CHECK(rc == want);
  if (rc < 0) return;
  FUZZ_CHECK(a.scheme == (const char *)data);
  FUZZ_CHECK(a.scheme_len == b.scheme_len);
  FUZZ_CHECK(a.path_off == b.path_off);
  FUZZ_CHECK(a.path_len == b.path_len);
  FUZZ_CHECK(a.query_off == b.query_off);
  FUZZ_CHECK(a.path_off + a.path_len <= size);
  FUZZ_CHECK(a.query_off == 0 || (a.query_off <= size &&
                                  data[a.query_off - 1] == '?'));
  FUZZ_CHECK(myc__scheme_valid((const char *)data, a.scheme_len));

  /* The scheme table agrees with a linear search, in any case. */
  FUZZ_CHECK(myc__router_find(&fuzz_uri_router, a.scheme, a.scheme_len) ==
             ref_find(a.scheme, a.scheme_len));
}

/* Any prefix of the input as a scheme name: valid names go in once and
 * are found in any case; invalid ones are refused. */
static void check_add_scheme(const uint8_t *data, size_t size) {
  char name[40];
  size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
  memcpy(name, data, n);
  name[n] = '\0';
  size_t len = strlen(name);
  myc__router r;
  FUZZ_CHECK(myc__router_init(&r, 1) == 0);
  bool valid = myc__scheme_valid(name, len);
  int rc = myc__router_add_scheme(&r, name, (myc_ctx *)&r);
  FUZZ_CHECK(rc == (valid ? 0 : MYC_EINVAL));
  if (valid) {
    char upper[40];
    for (size_t i = 0; i <= len; i++)
      upper[i] = (char)((name[i] >= 'a' && name[i] <= 'z') ? name[i] - 32
                                                            : name[i]);
    FUZZ_CHECK(myc__router_find(&r, upper, len) == (myc_ctx *)&r);
    FUZZ_CHECK(myc__router_add_scheme(&r, upper, NULL) == MYC_EEXIST);
    if (len > 1) FUZZ_CHECK(myc__router_find(&r, name, len - 1) == NULL);
  }
  myc__router_destroy(&r);
}

/* The message path: msg_new and send_pooled on the NUL-terminated text. */
static void check_kernel(const uint8_t *data, size_t size) {
  myc_kernel *k = fuzz_uri_kernel;
  myc_ctx *host = myc_kernel_ctx(k);
  char *uri = fuzz_cstr(data, size);
  size_t len = strlen(uri);
  myc__uri u;
  int want = len > FUZZ_URI_MAX ? MYC_ETOOBIG
             : ref_uri_parse((const unsigned char *)uri, len, &u) < 0 ? MYC_EURI
                                                                      : 0;
  myc_msg *m = NULL;
  int rc = myc_msg_new(host, "GET", uri, data, size < 64 ? size : 64, &m);
  FUZZ_CHECK(rc == want);
  if (rc == 0) {
    size_t got = 0;
    const char *s = myc_msg_uri(m, &got);
    FUZZ_CHECK(got == len && memcmp(s, uri, len) == 0 && s[len] == '\0');
    FUZZ_CHECK(myc_msg_release(m) == 0);
  } else {
    FUZZ_CHECK(m == NULL);
  }

  myc_stats before, after;
  myc_kernel_get_stats(k, &before);
  rc = myc_send_pooled(host, "GET", uri, NULL, 0);
  if (want < 0) {
    FUZZ_CHECK(rc == want);
  } else if (u.scheme_len == 6 && strncasecmp(uri, "kernel", 6) == 0) {
    static const char *const paths[] = {"stats", "pool", "plugins", "routes"};
    bool known = false;
    for (unsigned i = 0; i < 4; i++)
      known |= u.path_len == strlen(paths[i]) &&
               memcmp(uri + u.path_off, paths[i], u.path_len) == 0;
    FUZZ_CHECK(rc == (known ? 0 : MYC_ENOROUTE));
  } else {
    FUZZ_CHECK(rc == MYC_ENOROUTE);
  }
  while (myc_kernel_poll(k) > 0) {
  }
  myc_kernel_get_stats(k, &after);
  FUZZ_CHECK(after.sent == before.sent + 1);
  FUZZ_CHECK(after.sent == after.handled + after.errored + after.rejected);
  myc_pool_stats ps;
  myc_pool_get_stats(k, &ps);
  FUZZ_CHECK(ps.in_use == 0);
  free(uri);
}

/* One input through all three checks. */
int myc_fuzz_uri(const uint8_t *data, size_t size) {
  fuzz_uri_setup();
  check_parse(data, size);
  check_add_scheme(data, size);
  check_kernel(data, size);
  return 0;
}

#ifndef MYC_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return myc_fuzz_uri(data, size);
}
#endif
