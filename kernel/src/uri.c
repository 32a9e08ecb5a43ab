/* URI splitting: "scheme://path?query".
 *
 * This runs on every send, so it is one pass over the bytes, reads nothing
 * past `len`, needs no NUL terminator and allocates nothing. The scheme is
 * [A-Za-z][A-Za-z0-9+.-]* of at most 31 bytes; the rest may hold any byte
 * except controls (< 0x20, 0x7f) and space. Bytes >= 0x80 (UTF-8) pass. */
#include "internal.h"

#define MYC__SCHEME_MAX 31

static inline bool is_alpha(unsigned char c) {
  return (unsigned char)((c | 0x20) - 'a') < 26;
}

static inline bool is_scheme_char(unsigned char c) {
  return is_alpha(c) || (unsigned char)(c - '0') < 10 || c == '+' ||
         c == '-' || c == '.';
}

/* Control bytes, space and DEL are never allowed in a URI. */
static inline bool is_bad(unsigned char c) { return c <= 0x20 || c == 0x7f; }

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
    if (MYC__UNLIKELY(is_bad(u[i]))) return MYC_EURI;
    if (u[i] == '?') {
      q = i + 1;
      break;
    }
  }
  size_t path_end = q ? q - 1 : len;
  for (i = q; q && i < len; i++)
    if (MYC__UNLIKELY(is_bad(u[i]))) return MYC_EURI;

  out->scheme = uri;
  out->scheme_len = scheme_len;
  out->path_off = scheme_len + 3;
  out->path_len = path_end - out->path_off;
  out->query_off = q;
  return 0;
}
