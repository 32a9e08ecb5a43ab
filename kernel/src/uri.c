/* URI splitting: "scheme://path?query".
 *
 * This runs on every send, so it is one pass over the bytes, reads nothing
 * past `len`, needs no NUL terminator and allocates nothing. The scheme is
 * [A-Za-z][A-Za-z0-9+.-]* of at most 31 bytes; the rest may hold any byte
 * except controls (< 0x20, 0x7f) and space. Bytes >= 0x80 (UTF-8) pass. */
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
