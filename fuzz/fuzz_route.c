/* fuzz_route: the route pattern compiler and the segment-tree matcher.
 *
 * Input: the first byte says how many of the following '\n'-separated
 * lines are patterns (0..15); every other line is a path to match (paths
 * may hold any byte, NUL included). Each pattern is compiled with
 * myc__rtree_add and its verdict compared with a reference validator
 * (syntax, '*' last, at most MYC_MAX_PARAMS captures, no duplicate names,
 * no second pattern of the same shape). Each path is matched with
 * myc__rtree_match and compared with a reference that tries every accepted
 * pattern and keeps the one the precedence rule picks: at the first
 * segment where two candidates differ, literal beats {param} beats '*'.
 * The captures (offsets into the URI, lengths) must agree too. */
#include "fuzz_common.h"

#define FUZZ_MAX_PATTERNS 16
#define FUZZ_PATH_OFF 7 /* the path starts after "route://" minus one */

enum { K_LIT = 0, K_PARAM = 1, K_WILD = 2 };

/* A pattern as the reference sees it. */
typedef struct ref_pat {
  myc__route *route; /* the compiled route, NULL if refused             */
  unsigned nseg;
  int kind[256];
  const char *seg[256];
  size_t len[256];
} ref_pat;

/* ==== Reference validator ============================================== */

static int ref_name_ok(const char *s, size_t n) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return 0;
  }
  return 1;
}

/* Split and classify `pat`: 0 if it is well formed (ignoring conflicts),
 * -1 if not, -2 if it has more segments than the reference can hold. */
static int ref_compile(const char *pat, ref_pat *rp) {
  size_t plen = strlen(pat), start = 0;
  unsigned ncap = 0;
  rp->nseg = 0;
  for (size_t i = 0; i <= plen; i++) {
    if (i < plen && pat[i] != '/') continue;
    if (rp->nseg == 256) return -2; /* the reference's own limit: skip */
    const char *s = pat + start;
    size_t n = i - start;
    int kind = K_LIT;
    if (n == 1 && s[0] == '*') {
      kind = K_WILD;
      if (i < plen) return -1; /* not last */
    } else if (n > 0 && s[0] == '{') {
      if (s[n - 1] != '}' || !ref_name_ok(s + 1, n - 2)) return -1;
      if (memchr(s + 1, '}', n - 2) || memchr(s + 1, '{', n - 2)) return -1;
      kind = K_PARAM;
      s++;
      n -= 2;
    } else {
      for (size_t j = 0; j < n; j++)
        if (s[j] == '{' || s[j] == '}' || s[j] == '*') return -1;
    }
    if (kind != K_LIT) {
      if (ncap == MYC_MAX_PARAMS) return -1;
      const char *name = kind == K_WILD ? "*" : s;
      size_t nlen = kind == K_WILD ? 1 : n;
      for (unsigned j = 0; j < rp->nseg; j++) {
        if (rp->kind[j] == K_LIT) continue;
        const char *o = rp->kind[j] == K_WILD ? "*" : rp->seg[j];
        size_t olen = rp->kind[j] == K_WILD ? 1 : rp->len[j];
        if (olen == nlen && memcmp(o, name, nlen) == 0) return -1;
      }
      ncap++;
    }
    rp->kind[rp->nseg] = kind;
    rp->seg[rp->nseg] = s;
    rp->len[rp->nseg] = n;
    rp->nseg++;
    start = i + 1;
  }
  return 0;
}

/* Same shape: same kinds, same literals (parameter names do not count). */
static int ref_same_shape(const ref_pat *a, const ref_pat *b) {
  if (a->nseg != b->nseg) return 0;
  for (unsigned i = 0; i < a->nseg; i++) {
    if (a->kind[i] != b->kind[i]) return 0;
    if (a->kind[i] == K_LIT &&
        (a->len[i] != b->len[i] || memcmp(a->seg[i], b->seg[i], a->len[i])))
      return 0;
  }
  return 1;
}

/* ==== Reference matcher ================================================ */

/* Does `rp` match path[0..len)? Fills caps (offsets relative to path). */
static int ref_match_one(const ref_pat *rp, const char *path, size_t len,
                         size_t caps[][2]) {
  size_t pos = 0;
  unsigned ncap = 0;
  for (unsigned i = 0; i < rp->nseg; i++) {
    if (rp->kind[i] == K_WILD) {
      if (pos > len || len - pos == 0) return 0;
      caps[ncap][0] = pos;
      caps[ncap][1] = len - pos;
      return 1;
    }
    if (pos > len) return 0; /* the path ran out of segments */
    const char *s = path + pos;
    const char *slash = memchr(s, '/', len - pos);
    size_t n = slash ? (size_t)(slash - s) : len - pos;
    int last = i + 1 == rp->nseg;
    if (last != !slash) return 0; /* segment counts differ */
    if (rp->kind[i] == K_LIT) {
      if (n != rp->len[i] || memcmp(s, rp->seg[i], n) != 0) return 0;
    } else {
      if (n == 0) return 0;
      caps[ncap][0] = pos;
      caps[ncap][1] = n;
      ncap++;
    }
    pos += n + 1;
  }
  return 1;
}

/* Precedence: at the first segment whose kinds differ, the lower wins. */
static int ref_better(const ref_pat *a, const ref_pat *b) {
  for (unsigned i = 0; i < a->nseg && i < b->nseg; i++)
    if (a->kind[i] != b->kind[i]) return a->kind[i] < b->kind[i];
  FUZZ_CHECK(!"two matching patterns of the same shape");
  return 0;
}

/* ==== The target ======================================================== */

/* One input: compile the patterns, then match every path both ways. */
int myc_fuzz_route(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  unsigned npat = data[0] % FUZZ_MAX_PATTERNS;
  const char *p = (const char *)data + 1, *end = (const char *)data + size;
  static ref_pat pats[FUZZ_MAX_PATTERNS];
  unsigned n = 0;
  myc__rnode *root = NULL;

  /* Patterns. */
  while (n < npat && p <= end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    ref_pat *rp = &pats[n++];
    myc__route *r = calloc(1, sizeof(*r));
    FUZZ_CHECK(r != NULL);
    r->pattern = strndup(p, len); /* stops at a NUL, like a C caller */
    FUZZ_CHECK(r->pattern != NULL);
    r->tag = (int)n;
    int ref = ref_compile(r->pattern, rp), ok = ref == 0;
    if (ref == -2) {
      free(r->pattern);
      free(r);
      rp->route = NULL;
      p = nl ? nl + 1 : end + 1;
      continue;
    }
    for (unsigned j = 0; ok && j + 1 < n; j++)
      if (pats[j].route && ref_same_shape(&pats[j], rp)) ok = 0;
    char err[256];
    err[0] = '\0';
    int rc = myc__rtree_add(&root, r, err, sizeof(err));
    FUZZ_CHECK(rc == (ok ? 0 : MYC_EINVAL));
    if (rc == 0) {
      FUZZ_CHECK(r->nparams <= MYC_MAX_PARAMS && r->names[r->nparams] == NULL);
      rp->route = r;
    } else {
      FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
      free(r->names_buf);
      free(r->pattern);
      free(r);
      rp->route = NULL;
    }
    p = nl ? nl + 1 : end + 1;
  }

  /* Paths. */
  while (p <= end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (len > 60000) len = 60000;
    char *uri = malloc(FUZZ_PATH_OFF + len + 1);
    FUZZ_CHECK(uri != NULL);
    memcpy(uri, "route://", FUZZ_PATH_OFF);
    memcpy(uri + FUZZ_PATH_OFF, p, len);
    const char *path = uri + FUZZ_PATH_OFF;

    uint16_t params[MYC_MAX_PARAMS][2];
    uint8_t np = 0xee;
    const myc__route *got =
        myc__rtree_match(root, uri, path, len, params, &np);

    const ref_pat *best = NULL;
    size_t caps[MYC_MAX_PARAMS][2], bcaps[MYC_MAX_PARAMS][2];
    for (unsigned j = 0; j < n; j++) {
      if (!pats[j].route || !ref_match_one(&pats[j], path, len, caps)) continue;
      if (!best || ref_better(&pats[j], best)) {
        best = &pats[j];
        memcpy(bcaps, caps, sizeof(caps));
      }
    }
    FUZZ_CHECK(got == (best ? best->route : NULL));
    if (got) {
      FUZZ_CHECK(np == got->nparams);
      for (unsigned i = 0; i < np; i++) {
        FUZZ_CHECK(params[i][0] == FUZZ_PATH_OFF + bcaps[i][0]);
        FUZZ_CHECK(params[i][1] == bcaps[i][1]);
      }
    } else {
      FUZZ_CHECK(np == 0xee);
    }
    free(uri);
    p = nl ? nl + 1 : end + 1;
  }

  myc__rtree_free(root);
  for (unsigned j = 0; j < n; j++) {
    if (!pats[j].route) continue;
    free(pats[j].route->names_buf);
    free(pats[j].route->pattern);
    free(pats[j].route);
  }
  return 0;
}

#ifndef MYC_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return myc_fuzz_route(data, size);
}
#endif
