/* The benchmarks (bench/) keep building and running: each bench_* program
 * in the build's bench/ folder runs with a tiny --messages and one run,
 * and must exit 0 and print one JSON object holding its contract keys.
 * Nothing here looks at a time: a slow machine cannot fail it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BENCH_DIR MYC_TEST_BUILD_DIR "/bench"

/* Run `cmd`, return its exit status and its stdout in *out (caller frees). */
static int run(const char *cmd, char **out) {
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  assert_non_null(buf);
  size_t k;
  while ((k = fread(buf + n, 1, cap - n - 1, p)) > 0) {
    n += k;
    if (n + 1 == cap) {
      buf = realloc(buf, cap *= 2);
      assert_non_null(buf);
    }
  }
  buf[n] = '\0';
  int st = pclose(p);
  *out = buf;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void expect_key(const char *bench, const char *json, const char *key) {
  if (!strstr(json, key)) fail_msg("%s --json: no %s in:\n%s", bench, key, json);
}

/* Exactly one JSON object on stdout: '{' first, '}' last, one line. */
static void expect_one_object(const char *bench, const char *out) {
  size_t len = strlen(out);
  while (len && (out[len - 1] == '\n' || out[len - 1] == ' ')) len--;
  if (len < 2 || out[0] != '{' || out[len - 1] != '}' || memchr(out, '\n', len))
    fail_msg("%s --json did not print one JSON object:\n%s", bench, out);
}

/* The benchmark programs in the build, sorted; NULL if none was built. */
static char **list_benchmarks(size_t *count) {
  DIR *d = opendir(BENCH_DIR);
  *count = 0;
  if (!d) return NULL;
  char **v = NULL;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (strncmp(de->d_name, "bench_", 6) || strchr(de->d_name, '.')) continue;
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", BENCH_DIR, de->d_name);
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, X_OK) < 0) continue;
    v = realloc(v, (*count + 1) * sizeof(*v));
    assert_non_null(v);
    v[(*count)++] = strdup(de->d_name);
  }
  closedir(d);
  for (size_t i = 1; i < *count; i++) /* insertion sort: a handful */
    for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
      char *t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  return v;
}

static void free_list(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* Every bench_* program: exit 0, one JSON object naming itself. */
static void test_every_benchmark_runs(void **state) {
  (void)state;
  size_t n;
  char **names = list_benchmarks(&n);
  if (!names) skip(); /* built with MYCELIA_BUILD_BENCH=OFF */
  assert_true(n >= 5);
  for (size_t i = 0; i < n; i++) {
    char cmd[4200], *out;
    snprintf(cmd, sizeof(cmd), "'%s/%s' --messages 1000 --runs 1 --json", BENCH_DIR, names[i]);
    int rc = run(cmd, &out);
    if (rc != 0) fail_msg("%s exited with %d; stdout:\n%s", cmd, rc, out);
    expect_one_object(names[i], out);
    if (!strcmp(names[i], "bench_all")) {
      expect_key(names[i], out, "{\"benchmarks\":{");
      for (size_t j = 0; j < n; j++) {
        char key[300];
        if (!strcmp(names[j], "bench_all")) continue;
        snprintf(key, sizeof(key), "\"%s\":{\"benchmark\":\"%s\"", names[j], names[j]);
        expect_key(names[i], out, key);
      }
      expect_key(names[i], out, "\"ratio_pooled_vs_bare\":");
    } else {
      char key[300];
      snprintf(key, sizeof(key), "{\"benchmark\":\"%s\",\"messages\":1000,\"runs\":1", names[i]);
      expect_key(names[i], out, key);
      expect_key(names[i], out, "\"results\":[");
    }
    free(out);
  }
  free_list(names, n);
}

/* bench_integrated's JSON contract, and zero allocations per pooled send
 * (a count, not a time: the shim counts them; null under sanitizers). */
static void test_integrated_contract(void **state) {
  (void)state;
  char *out;
  int rc = run("'" BENCH_DIR "/bench_integrated' --messages 1000 --runs 1 --json", &out);
  if (rc == 127) { /* built with MYCELIA_BUILD_BENCH=OFF */
    free(out);
    skip();
  }
  assert_int_equal(rc, 0);
  static const char *const keys[] = {
      "\"benchmark\":\"bench_integrated\"", "\"messages\":1000", "\"runs\":1",
      "\"results\":[{\"name\":\"send\",", "{\"name\":\"send_pooled\",",
      "\"msgs_per_sec\":", "\"ns_per_msg\":", "\"allocs_per_msg\":",
      "\"heap_growth_bytes\":", "\"reuse_rate\":", "\"min_msgs_per_sec\":",
      "\"max_msgs_per_sec\":", "\"bare_loop\":{\"msgs_per_sec\":",
      "\"ratio_pooled_vs_bare\":", "\"ratio_pooled_vs_send\":",
      "\"seed\":{", "\"send_msgs_per_sec\":80645", "\"send_pooled_msgs_per_sec\":89286"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
    expect_key("bench_integrated", out, keys[i]);
  if (strstr(out, "\"allocs_counted\":true")) {
    const char *p = strstr(out, "{\"name\":\"send_pooled\",");
    const char *a = p ? strstr(p, "\"allocs_per_msg\":") : NULL;
    assert_non_null(a);
    if (strncmp(a, "\"allocs_per_msg\":0,", 19))
      fail_msg("send_pooled allocates on the heap in steady state: %.40s", a);
  }
  free(out);
}

/* --help prints usage and exits 0; a bad option exits 2. */
static void test_usage(void **state) {
  (void)state;
  char *out;
  int rc = run("'" BENCH_DIR "/bench_queue' --help", &out);
  if (rc == 127) {
    free(out);
    skip();
  }
  assert_int_equal(rc, 0);
  assert_non_null(strstr(out, "--messages"));
  free(out);
  rc = run("'" BENCH_DIR "/bench_queue' --no-such-option 2>/dev/null", &out);
  assert_int_equal(rc, 2);
  assert_string_equal(out, "");
  free(out);
  rc = run("'" BENCH_DIR "/bench_queue' --messages 0 2>/dev/null", &out);
  assert_int_equal(rc, 2);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_benchmark_runs),
      cmocka_unit_test(test_integrated_contract),
      cmocka_unit_test(test_usage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
