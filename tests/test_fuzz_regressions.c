/* The fuzz targets' checks, replayed in the normal test build.
 *
 * The four targets in fuzz/ are compiled in here (MYC_FUZZ_NO_MAIN) and
 * every file of their seed corpora (fuzz/corpus/<target>/) and of their
 * past findings (fuzz/regressions/<target>/) goes through the same
 * function the fuzzer calls. A broken invariant aborts, which fails the
 * test. Findings fixed so far also have a case of their own below, with
 * what was wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MYC_FUZZ_NO_MAIN 1
#include "../fuzz/fuzz_config.c"
#include "../fuzz/fuzz_console.c"
#include "../fuzz/fuzz_route.c"
#include "../fuzz/fuzz_uri.c"

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

/* Feed every file in `dir` to fn; returns how many there were. */
static unsigned replay_dir(const char *dir, fuzz_fn fn) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  unsigned n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *buf = malloc(1 << 20);
    assert_non_null(buf);
    size_t len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    fn(buf, len);
    free(buf);
    n++;
  }
  closedir(d);
  return n;
}

/* Seeds and findings of one target. */
static void replay(const char *target, fuzz_fn fn) {
  char dir[512];
  snprintf(dir, sizeof(dir), "%s/fuzz/corpus/%s", MYC_TEST_SOURCE_DIR, target);
  unsigned seeds = replay_dir(dir, fn);
  snprintf(dir, sizeof(dir), "%s/fuzz/regressions/%s", MYC_TEST_SOURCE_DIR, target);
  unsigned found = replay_dir(dir, fn);
  print_message("%s: %u seeds, %u past findings\n", target, seeds, found);
  assert_true(seeds >= 4);
}

/* Bytes as the fuzzer would pass them. */
#define RUN(fn, lit) fn((const uint8_t *)(lit), sizeof(lit) - 1)

static void test_uri_corpus(void **state) {
  replay("uri", myc_fuzz_uri);
  /* Edge cases kept explicit: scheme lengths around the 31-byte limit,
   * the padded scheme lookup at the end of the buffer, embedded NUL. */
  RUN(myc_fuzz_uri, "abcdefghijklmnopqrstuvwxyz01234://x");
  RUN(myc_fuzz_uri, "abcdefghijklmnopqrstuvwxyz012345://x");
  RUN(myc_fuzz_uri, "a://");
  RUN(myc_fuzz_uri, "kernel://stats\0tail");
  RUN(myc_fuzz_uri, "KeRnEl://pool?");
  myc_fuzz_uri_cleanup();
}

static void test_route_corpus(void **state) {
  replay("route", myc_fuzz_route);
  RUN(myc_fuzz_route, "\x02{a}/x\n*\na/x\nb/y\n");
  RUN(myc_fuzz_route, "\x03\n/\n*\n\n/\n//\nz\n");
}

static void test_config_corpus(void **state) {
  replay("config", myc_fuzz_config);
  RUN(myc_fuzz_config, "[kernel]\npool_size = 18446744073709551616\n");
  RUN(myc_fuzz_config, "[plugin a]\nschemes = x\n[plugin b]\nschemes = x\nenabled = no\n");
}

static void test_console_corpus(void **state) {
  replay("console", myc_fuzz_console);
  RUN(myc_fuzz_console, "GET echo://x a\r\r\n#\n\t\nGET\n");
  RUN(myc_fuzz_console, "GET echo://x \x00 nul in body\n");
  myc_fuzz_console_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_uri_corpus),
      cmocka_unit_test(test_route_corpus),
      cmocka_unit_test(test_config_corpus),
      cmocka_unit_test(test_console_corpus),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
