/* Error names and texts, from the one table in plugin.h. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *myc_strerror(int code) {
  switch (code) {
    case 0: return "success";
#define MYC__ERR_TEXT(name, c, text) case c: return text;
    MYC_ERRNO_MAP(MYC__ERR_TEXT)
#undef MYC__ERR_TEXT
    default: return "unknown error";
  }
}

const char *myc_err_name(int code) {
  switch (code) {
    case 0: return "OK";
#define MYC__ERR_NAME(name, c, text) case c: return #name;
    MYC_ERRNO_MAP(MYC__ERR_NAME)
#undef MYC__ERR_NAME
    default: return "EUNKNOWN";
  }
}

const char *myc_version(void) { return MYC_VERSION; }

char *myc__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

char *myc__asprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *s = malloc((size_t)n + 1);
  if (!s) return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}
