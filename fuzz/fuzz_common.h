/* Shared by the fuzz targets and by tests/test_fuzz_regressions.c, which
 * includes the targets' sources with MYC_FUZZ_NO_MAIN defined and replays
 * the corpus and every past finding through the same functions. */
#ifndef MYC_FUZZ_COMMON_H
#define MYC_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifndef MYC_FUZZ_PLUGIN_DIR
#define MYC_FUZZ_PLUGIN_DIR MYC_TEST_PLUGIN_DIR
#endif

/* An invariant the code under test broke: report it and abort, so the
 * fuzzer saves the input (and a replaying test fails). */
#define FUZZ_CHECK(cond)                                                     \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__,        \
              __LINE__, #cond);                                              \
      abort();                                                               \
    }                                                                        \
  } while (0)

/* A NUL-terminated copy of data[0..size) (caller frees). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  FUZZ_CHECK(s != NULL);
  if (size) memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

#endif
