/* Routing: the scheme table and the per-subsystem route trees.
 *
 * Schemes live in an open-addressing hash table (linear probing, load
 * <= 0.5) filled at bootstrap and read-only afterwards, so lookups need no
 * lock. A scheme (at most 31 bytes) is folded to lowercase into four
 * zero-padded 64-bit words; the hash mixes the words and a lookup compares
 * them, so the hot path does a handful of word operations instead of a
 * multiply per byte.
 *
 * Inside a subsystem, route patterns compile into a segment tree. A path is
 * split at '/' into segments (n slashes make n + 1 segments, so "" is one
 * empty segment and "a/" is "a" then ""). Every tree edge consumes one
 * segment:
 *  - literal children, kept sorted by (length, bytes) and binary searched;
 *  - one parameter child, "{name}", taking one non-empty segment;
 *  - a wildcard "*" route, taking all the remaining bytes (non-empty,
 *    slashes included).
 * A route hangs off the node its last segment leads to. Matching tries
 * literal, then parameter, then wildcard, backing up when a branch fails
 * deeper. Since every edge consumes exactly one segment, a node is always
 * reached at the same path offset, so a match visits each node at most
 * once and recursion is bounded by the tree's depth. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ==== Scheme table ===================================================== */

#define MYC__FNV_PRIME 1099511628211ull
#define MYC__ROUTER_MIN_SLOTS 8

static inline unsigned char ascii_lower(unsigned char c) {
  return (unsigned char)(c - 'A') < 26 ? (unsigned char)(c | 0x20) : c;
}

static inline uint64_t load64(const char *p) {
  uint64_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

/* Fold a valid scheme s[0..len) into zero-padded lowercase words and
 * return their hash. `s` must have MYC__SCHEME_PAD readable bytes. For
 * scheme characters ([A-Za-z0-9+.-]) setting bit 0x20 lowercases letters
 * and leaves the others as they are, so no per-byte test is needed. */
static inline uint64_t scheme_key(const char *s, size_t len, uint64_t w[4]) {
  for (unsigned i = 0; i < 4; i++) {
    size_t off = (size_t)i * 8;
    uint64_t v = 0;
    if (off < len) {
      v = load64(s + off) | 0x2020202020202020ull;
      if (len - off < 8) v &= (1ull << ((len - off) * 8)) - 1;
    }
    w[i] = v;
  }
  uint64_t h = (w[0] ^ (w[1] * MYC__FNV_PRIME) ^ (w[2] << 17) ^ (w[3] << 41) ^ len) *
               0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

/* Smallest power of two >= 2 * n, at least MYC__ROUTER_MIN_SLOTS. */
static uint64_t slots_for(uint64_t n) {
  uint64_t cap = MYC__ROUTER_MIN_SLOTS;
  while (cap < 2 * n) cap <<= 1;
  return cap;
}

/* Place an entry known to be absent; the table has a free slot. */
static void slot_put(myc__scheme *slots, uint64_t mask, const myc__scheme *e) {
  uint64_t i = e->hash & mask;
  while (slots[i].name) i = (i + 1) & mask;
  slots[i] = *e;
}

static int router_grow(myc__router *r) {
  uint64_t cap = (r->mask + 1) * 2;
  myc__scheme *slots = calloc(cap, sizeof(*slots));
  if (!slots) return MYC_ENOMEM;
  for (uint64_t i = 0; i <= r->mask; i++)
    if (r->slots[i].name) slot_put(slots, cap - 1, &r->slots[i]);
  free(r->slots);
  r->slots = slots;
  r->mask = cap - 1;
  return 0;
}

/* Set up an empty table sized for `nschemes` at load <= 0.5. Returns 0 or
 * MYC_ENOMEM. Release with myc__router_destroy. */
int myc__router_init(myc__router *r, unsigned nschemes) {
  uint64_t cap = slots_for(nschemes);
  r->slots = calloc(cap, sizeof(*r->slots));
  if (!r->slots) {
    r->mask = 0;
    r->nschemes = 0;
    return MYC_ENOMEM;
  }
  r->mask = cap - 1;
  r->nschemes = 0;
  return 0;
}

/* Free the table and the scheme names it owns (not the subsystems). Safe
 * on a zeroed or already destroyed router. */
void myc__router_destroy(myc__router *r) {
  if (r->slots)
    for (uint64_t i = 0; i <= r->mask; i++) free(r->slots[i].name);
  free(r->slots);
  r->slots = NULL;
  r->mask = 0;
  r->nschemes = 0;
}

/* Map `scheme` (copied, stored lowercase) to `sub`. Returns 0, MYC_EINVAL
 * for a bad name, MYC_EEXIST if the scheme is taken (in any case), or
 * MYC_ENOMEM. Grows the table if needed: bootstrap only, not thread-safe. */
int myc__router_add_scheme(myc__router *r, const char *scheme, myc_ctx *sub) {
  if (!r->slots || !scheme) return MYC_EINVAL;
  size_t len = strlen(scheme);
  if (!myc__scheme_valid(scheme, len)) return MYC_EINVAL;
  if (myc__router_find(r, scheme, len)) return MYC_EEXIST;
  if (2 * ((uint64_t)r->nschemes + 1) > r->mask + 1) {
    int rc = router_grow(r);
    if (rc < 0) return rc;
  }
  myc__scheme e;
  e.name = malloc(len + 1);
  if (!e.name) return MYC_ENOMEM;
  for (size_t i = 0; i < len; i++)
    e.name[i] = (char)ascii_lower((unsigned char)scheme[i]);
  e.name[len] = '\0';
  e.len = (uint32_t)len;
  char pad[MYC__SCHEME_PAD] = {0};
  memcpy(pad, scheme, len);
  e.hash = scheme_key(pad, len, e.key);
  e.sub = sub;
  slot_put(r->slots, r->mask, &e);
  r->nschemes++;
  return 0;
}

/* The subsystem serving the valid scheme s[0..len), where s has
 * MYC__SCHEME_PAD readable bytes (a message's URI buffer always has), or
 * NULL. Hot path: a few word operations, no allocation, no lock. */
myc_ctx *myc__router_find_padded(const myc__router *r, const char *s, size_t len) {
  if (MYC__UNLIKELY(len == 0 || len > MYC__SCHEME_MAX)) return NULL;
  if (MYC__LIKELY(len <= 8)) {
    /* Most schemes fit one word: the same hash as scheme_key, unrolled. */
    uint64_t w0 = (load64(s) | 0x2020202020202020ull) & (~0ull >> (64 - len * 8));
    uint64_t h = (w0 ^ len) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    for (uint64_t i = h & r->mask;; i = (i + 1) & r->mask) {
      const myc__scheme *e = &r->slots[i];
      if (!e->name) return NULL;
      if (e->hash == h && e->key[0] == w0 && e->len == len) return e->sub;
    }
  }
  uint64_t w[4];
  uint64_t h = scheme_key(s, len, w);
  for (uint64_t i = h & r->mask;; i = (i + 1) & r->mask) {
    const myc__scheme *e = &r->slots[i];
    if (!e->name) return NULL;
    if (e->hash == h && e->len == len && e->key[0] == w[0] && e->key[1] == w[1] &&
        e->key[2] == w[2] && e->key[3] == w[3])
      return e->sub;
  }
}

/* The subsystem serving scheme[0..len) (any case, not NUL-terminated), or
 * NULL for an unknown or invalid scheme. */
myc_ctx *myc__router_find(const myc__router *r, const char *scheme, size_t len) {
  if (!r->slots || !myc__scheme_valid(scheme, len)) return NULL;
  char pad[MYC__SCHEME_PAD] = {0};
  memcpy(pad, scheme, len);
  return myc__router_find_padded(r, pad, len);
}

/* ==== Route tree ======================================================= */

typedef struct myc__redge {
  const char *seg;  /* the child's literal segment (stored in the child) */
  uint32_t len;
  myc__rnode *node;
} myc__redge;

struct myc__rnode {
  myc__redge *lits;         /* sorted by (len, bytes)                     */
  uint32_t nlits, caplits;
  myc__rnode *param;        /* "{name}" child                             */
  const myc__route *route;  /* a pattern ending at this node              */
  const myc__route *wild;   /* a pattern ending in "*" below this node    */
  char seg[];               /* literal segment that leads here, if any    */
};

enum { SEG_LIT, SEG_PARAM, SEG_WILD };

static inline int seg_cmp(const myc__redge *e, const char *s, size_t len) {
  if (e->len != len) return e->len < len ? -1 : 1;
  return memcmp(e->seg, s, len);
}

/* Index of the literal child s[0..len), or where it would be inserted
 * (with *found = false). */
static uint32_t lit_search(const myc__rnode *n, const char *s, size_t len,
                           bool *found) {
  uint32_t lo = 0, hi = n->nlits;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    int c = seg_cmp(&n->lits[mid], s, len);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = false;
  return lo;
}

static myc__rnode *node_new(const char *seg, size_t len) {
  myc__rnode *n = calloc(1, sizeof(*n) + len + 1);
  if (n && len) memcpy(n->seg, seg, len);
  return n;
}

/* The literal child s[0..len) of n, created if absent. NULL: no memory. */
static myc__rnode *lit_child(myc__rnode *n, const char *s, size_t len) {
  bool found;
  uint32_t at = lit_search(n, s, len, &found);
  if (found) return n->lits[at].node;
  if (n->nlits == n->caplits) {
    uint32_t cap = n->caplits ? n->caplits * 2 : 2;
    myc__redge *v = realloc(n->lits, cap * sizeof(*v));
    if (!v) return NULL;
    n->lits = v;
    n->caplits = cap;
  }
  myc__rnode *c = node_new(s, len);
  if (!c) return NULL;
  memmove(&n->lits[at + 1], &n->lits[at], (n->nlits - at) * sizeof(*n->lits));
  n->lits[at].seg = c->seg;
  n->lits[at].len = (uint32_t)len;
  n->lits[at].node = c;
  n->nlits++;
  return c;
}

static inline bool is_name_start(unsigned char c) {
  return (unsigned char)((c | 0x20) - 'a') < 26 || c == '_';
}

static inline bool is_name_char(unsigned char c) {
  return is_name_start(c) || (unsigned char)(c - '0') < 10;
}

/* Classify pattern segment s[0..len). Returns SEG_* or -1 with the reason
 * (without the "pattern '...': " prefix) written into why. For a parameter,
 * name and name_len give its name. */
static int seg_classify(const char *s, size_t len, const char **name,
                        size_t *name_len, char *why, size_t whylen) {
  if (len == 1 && s[0] == '*') return SEG_WILD;
  if (len > 0 && s[0] == '{') {
    const char *close = memchr(s, '}', len);
    if (!close) {
      snprintf(why, whylen, "unterminated '{'");
      return -1;
    }
    if ((size_t)(close - s) != len - 1) {
      snprintf(why, whylen, "text after '}' in segment '%.*s'", (int)len, s);
      return -1;
    }
    size_t n = len - 2;
    if (n == 0) {
      snprintf(why, whylen, "empty parameter name");
      return -1;
    }
    bool ok = is_name_start((unsigned char)s[1]);
    for (size_t i = 2; ok && i <= n; i++) ok = is_name_char((unsigned char)s[i]);
    if (!ok) {
      snprintf(why, whylen, "bad parameter name '%.*s'", (int)n, s + 1);
      return -1;
    }
    *name = s + 1;
    *name_len = n;
    return SEG_PARAM;
  }
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '{' || s[i] == '}' || s[i] == '*') {
      snprintf(why, whylen, "'%c' inside literal segment '%.*s'", s[i],
               (int)len, s);
      return -1;
    }
  }
  return SEG_LIT;
}

static int add_fail(char *err, size_t errlen, const char *pattern,
                    const char *why) {
  if (err && errlen) snprintf(err, errlen, "pattern '%s': %s", pattern, why);
  return MYC_EINVAL;
}

/* Compile route->pattern into the tree at *root (created if NULL) and hang
 * `route` off it. Fills route->nparams, route->names (NULL-terminated) and
 * route->names_buf (malloc'd; the caller frees it with route->pattern).
 * The route must outlive the tree. Returns 0, MYC_ENOMEM, or MYC_EINVAL
 * with the reason in err (bad syntax, '*' not last, too many or duplicate
 * parameters, or a pattern of the same shape already registered). */
int myc__rtree_add(myc__rnode **root, myc__route *route, char *err,
                   size_t errlen) {
  char why[160];
  struct { const char *s; size_t len; } caps[MYC_MAX_PARAMS];
  unsigned ncap = 0;

  if (!root || !route || !route->pattern) {
    if (err && errlen) snprintf(err, errlen, "no pattern");
    return MYC_EINVAL;
  }
  const char *pat = route->pattern;
  size_t plen = strlen(pat);

  /* Pass 1: validate everything before touching the tree. */
  for (size_t pos = 0;;) {
    const char *s = pat + pos, *slash = memchr(s, '/', plen - pos);
    size_t len = slash ? (size_t)(slash - s) : plen - pos;
    const char *name = "*";
    size_t name_len = 1;
    int kind = seg_classify(s, len, &name, &name_len, why, sizeof(why));
    if (kind < 0) return add_fail(err, errlen, pat, why);
    if (kind == SEG_WILD && slash)
      return add_fail(err, errlen, pat, "'*' must be the last segment");
    if (kind != SEG_LIT) {
      if (ncap == MYC_MAX_PARAMS) {
        snprintf(why, sizeof(why), "more than %d parameters", MYC_MAX_PARAMS);
        return add_fail(err, errlen, pat, why);
      }
      for (unsigned i = 0; i < ncap; i++) {
        if (caps[i].len == name_len && !memcmp(caps[i].s, name, name_len)) {
          snprintf(why, sizeof(why), "duplicate parameter name '%.*s'",
                   (int)name_len, name);
          return add_fail(err, errlen, pat, why);
        }
      }
      caps[ncap].s = name;
      caps[ncap].len = name_len;
      ncap++;
    }
    if (!slash) break;
    pos += len + 1;
  }

  /* Pass 2: walk down, creating nodes. A conflict means the whole path
   * already existed, so a rejected pattern leaves nothing behind; nodes
   * left by ENOMEM are empty and harmless. */
  if (!*root && !(*root = node_new(NULL, 0))) return MYC_ENOMEM;
  myc__rnode *n = *root;
  const myc__route **slot = NULL;
  for (size_t pos = 0; !slot;) {
    const char *s = pat + pos, *slash = memchr(s, '/', plen - pos);
    size_t len = slash ? (size_t)(slash - s) : plen - pos;
    if (len == 1 && s[0] == '*') {
      slot = &n->wild;
      break;
    }
    if (len > 0 && s[0] == '{') {
      if (!n->param && !(n->param = node_new(NULL, 0))) return MYC_ENOMEM;
      n = n->param;
    } else if (!(n = lit_child(n, s, len))) {
      return MYC_ENOMEM;
    }
    if (!slash) slot = &n->route;
    pos += len + 1;
  }
  if (*slot) {
    if (err && errlen)
      snprintf(err, errlen, "pattern '%s' conflicts with '%s'", pat,
               (*slot)->pattern);
    return MYC_EINVAL;
  }

  /* Names: copies of the captured names, NUL-separated, in one block. */
  char *buf = NULL;
  if (ncap) {
    size_t total = 0;
    for (unsigned i = 0; i < ncap; i++) total += caps[i].len + 1;
    if (!(buf = malloc(total))) return MYC_ENOMEM;
  }
  char *p = buf;
  for (unsigned i = 0; i < ncap; i++) {
    memcpy(p, caps[i].s, caps[i].len);
    p[caps[i].len] = '\0';
    route->names[i] = p;
    p += caps[i].len + 1;
  }
  route->names[ncap] = NULL;
  route->names_buf = buf;
  route->nparams = ncap;
  *slot = route;
  return 0;
}

/* Free the tree's nodes (not the routes, which the caller owns). */
void myc__rtree_free(myc__rnode *root) {
  if (!root) return;
  for (uint32_t i = 0; i < root->nlits; i++) myc__rtree_free(root->lits[i].node);
  free(root->lits);
  myc__rtree_free(root->param);
  free(root);
}

/* Match path[pos..len) against the subtree n, where pos starts a segment
 * and `ncap` captures are already in params. `off` is path - base. */
static const myc__route *rmatch(const myc__rnode *n, const char *path,
                                size_t len, size_t pos, size_t off,
                                uint16_t params[][2], unsigned ncap) {
  const char *s = path + pos;
  size_t rest = len - pos;
  const char *slash = rest ? memchr(s, '/', rest) : NULL;
  size_t seg = slash ? (size_t)(slash - s) : rest;
  const myc__route *r;

  if (n->nlits) {
    bool found;
    uint32_t at = lit_search(n, s, seg, &found);
    if (found) {
      const myc__rnode *c = n->lits[at].node;
      if (!slash) {
        if (c->route) return c->route;
      } else if ((r = rmatch(c, path, len, pos + seg + 1, off, params, ncap))) {
        return r;
      }
    }
  }
  if (n->param && seg) {
    params[ncap][0] = (uint16_t)(off + pos);
    params[ncap][1] = (uint16_t)seg;
    if (!slash) {
      if (n->param->route) return n->param->route;
    } else if ((r = rmatch(n->param, path, len, pos + seg + 1, off, params,
                           ncap + 1))) {
      return r;
    }
  }
  if (n->wild && rest) {
    params[ncap][0] = (uint16_t)(off + pos);
    params[ncap][1] = (uint16_t)rest;
    return n->wild;
  }
  return NULL;
}

/* Find the route for path[0..len) (not NUL-terminated; path lies inside
 * base). On a match, fills params[0..*nparams) with (offset from base,
 * length) in pattern order and returns the route; otherwise NULL (params
 * may have been written). Hot path: no allocation. */
const myc__route *myc__rtree_match(const myc__rnode *root, const char *base,
                                   const char *path, size_t len,
                                   uint16_t params[][2], uint8_t *nparams) {
  if (!root) return NULL;
  const myc__route *r =
      rmatch(root, path, len, 0, (size_t)(path - base), params, 0);
  if (r) *nparams = (uint8_t)r->nparams;
  return r;
}
