/* URI splitting: "scheme://path?query".
 *
 * This runs on every send, so it is one pass over the bytes, reads nothing
 * past `len`, needs no NUL terminator and allocates nothing. The scheme is
 * [A-Za-z][A-Za-z0-9+.-]* of at most 31 bytes; the rest may hold any byte
 * except controls (< 0x20, 0x7f) and space. Bytes >= 0x80 (UTF-8) pass. */
#include <string.h>

#include "internal.h"



/* Byte classes, looked up once per byte on the hot path. */
enum { C_SCHEME = 1, C_ALPHA = 2, C_BAD = 4, C_QUERY = 8 };

#define R10(c) c, c, c, c, c, c, c, c, c, c
static const unsigned char cls[256] = {
    /* 0x00-0x20: controls and space */
    R10(C_BAD), R10(C_BAD), R10(C_BAD), C_BAD, C_BAD, C_BAD,
    /* 0x21-0x2f: ! " # $ % & ' ( ) * + , - . / */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, C_SCHEME, 0, C_SCHEME, C_SCHEME, 0,
    /* 0x30-0x39 digits */
    R10(C_SCHEME),
    /* 0x3a-0x40: : ; < = > ? @ */
    0, 0, 0, 0, 0, C_QUERY, 0,
    /* 0x41-0x5a A-Z */
    R10(C_SCHEME | C_ALPHA), R10(C_SCHEME | C_ALPHA), C_SCHEME | C_ALPHA, C_SCHEME | C_ALPHA,
    C_SCHEME | C_ALPHA, C_SCHEME | C_ALPHA, C_SCHEME | C_ALPHA, C_SCHEME | C_ALPHA,
    /* 0x5b-0x60 */
    0, 0, 0, 0, 0, 0,
    /* 0x61-0x7a a-z */
    R10(C_SCHEME | C_ALPHA), R10(C_SCHEME | C_ALPHA), C_SCHEME | C_ALPHA, C_SCHEME | C_ALPHA,
    C_SCHEME | C_ALPHA, C_SCHEME | C_ALPHA, C_SCHEME | C_ALPHA, C_SCHEME | C_ALPHA,
    /* 0x7b-0x7f: { | } ~ DEL */
    0, 0, 0, 0, C_BAD,
    /* 0x80-0xff: UTF-8 passes */
};
_Static_assert(sizeof(cls) == 256, "one class per byte");

static inline bool is_alpha(unsigned char c) { return cls[c] & C_ALPHA; }
static inline bool is_scheme_char(unsigned char c) { return cls[c] & C_SCHEME; }

/* True if s[0..len) is a valid scheme name (any case). */
bool myc__scheme_valid(const char *s, size_t len) {
  if (!s || len == 0 || len > MYC__SCHEME_MAX) return false;
  if (!is_alpha((unsigned char)s[0])) return false;
  for (size_t i = 1; i < len; i++)
    if (!is_scheme_char((unsigned char)s[i])) return false;
  return true;
}

/* Split uri[0..len) into scheme, path and query. Fills *out and returns 0,
 * or returns MYC_EURI and leaves *out untouched. query_off is the index of
 * the byte after the first '?' (so "x://a?" has an empty query at len), or
 * 0 when there is no '?'. */
int myc__uri_parse(const char *uri, size_t len, myc__uri *out) {
  const unsigned char *u = (const unsigned char *)uri;
  size_t i = 1, q = 0;

  if (MYC__UNLIKELY(!u || len == 0 || !is_alpha(u[0]))) return MYC_EURI;
  while (i < len && is_scheme_char(u[i])) i++;
  /* i is the scheme's length; "://" must follow at once. */
  if (MYC__UNLIKELY(i > MYC__SCHEME_MAX || len - i < 3 || u[i] != ':' ||
                    u[i + 1] != '/' || u[i + 2] != '/'))
    return MYC_EURI;

  size_t scheme_len = i;
  for (i += 3; i < len; i++) {
    unsigned char c = cls[u[i]];
    if (MYC__UNLIKELY(c & (C_BAD | C_QUERY))) {
      if (c & C_BAD) return MYC_EURI;
      q = i + 1;
      break;
    }
  }
  size_t path_end = q ? q - 1 : len;
  for (i = q; q && i < len; i++)
    if (MYC__UNLIKELY(cls[u[i]] & C_BAD)) return MYC_EURI;

  out->scheme = uri;
  out->scheme_len = scheme_len;
  out->path_off = scheme_len + 3;
  out->path_len = path_end - out->path_off;
  out->query_off = q;
  return 0;
}

static inline uint64_t load64(const char *p) {
  uint64_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
/* Bytes of w below 0x21 (controls, space; bytes >= 0x80 never count). */
#define LOW_BYTES(w) (((w) - 0x21 * ONES) & ~(w) & HIGHS)
/* Bytes of w equal to c. */
#define EQ_BYTES(w, c) ((((w) ^ ((c) * ONES)) - ONES) & ~((w) ^ ((c) * ONES)) & HIGHS)

/* Copy the NUL-terminated `src` into dst[0..cap) and split it (the hot
 * path of every send). The path is checked eight bytes at a time for
 * controls, space, DEL and '?'; only a word holding one of them is looked
 * at byte by byte. cap must be a multiple of 8. Returns 0 and fills *out
 * and *len; MYC_EURI for a malformed URI; or 1 when the URI is longer than
 * min(cap - 8, max): the caller then takes the general path. */
int myc__uri_copy(char *dst, size_t cap, const char *src, size_t max,
                  myc__uri *out, size_t *len) {
  size_t lim = cap - 8 < max ? cap - 8 : max;
  size_t n = strnlen(src, lim + 1);
  if (MYC__UNLIKELY(n > lim)) return 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
  const unsigned char *u = (const unsigned char *)dst;
  size_t i = 0, q = 0;
  if (MYC__UNLIKELY(!(cls[u[0]] & C_ALPHA))) return MYC_EURI;
  while (cls[u[++i]] & C_SCHEME) {
  }
  size_t scheme_len = i;
  if (MYC__UNLIKELY(scheme_len > MYC__SCHEME_MAX || u[i] != ':' || u[i + 1] != '/' ||
                    u[i + 2] != '/'))
    return MYC_EURI;
  for (i += 3; i < n; i += 8) {
    uint64_t w = load64(dst + i); /* i + 8 <= n + 7 <= cap - 1 */
    if (n - i < 8) {
      uint64_t keep = ~0ull >> (64 - (n - i) * 8);
      w = (w & keep) | (0x6161616161616161ull & ~keep); /* pad with 'a' */
    }
    if (MYC__UNLIKELY(LOW_BYTES(w) | EQ_BYTES(w, 0x7f) | EQ_BYTES(w, '?'))) break;
  }
  for (; i < n; i++) { /* only after a '?' or a bad byte */
    unsigned char k = cls[u[i]];
    if (k & C_BAD) return MYC_EURI;
    if ((k & C_QUERY) && !q) q = i + 1;
  }
  out->scheme = dst;
  out->scheme_len = scheme_len;
  out->path_off = scheme_len + 3;
  out->path_len = (q ? q - 1 : n) - out->path_off;
  out->query_off = q;
  *len = n;
  return 0;
}
