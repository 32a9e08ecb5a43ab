/* The kv plugin (plugins/kv) loaded for real through the embedding API:
 * verbs, routes, error replies, listing, persistence across kernels. The
 * store and log internals are covered by test_kv_store.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "mycelia/mycelia.h"

typedef struct fx {
  char *dir;
  char log[128];
  myc_kernel *k;
} fx;

/* Build and start a kernel with kv configured by `kv_keys` (lines of the
 * [plugin kv] section). Returns myc_kernel_new's code; *err on failure. */
static int boot(fx *f, const char *kv_keys, char **err) {
  char *ini = myc_test_fmt(
      "[kernel]\nplugin_dir = %%PLUGINS%%\n"
      "log_level = error\n[plugin kv]\n%s\n",
      kv_keys);
  int rc = myc_test_kernel_try(ini, &f->k, err);
  free(ini);
  if (rc < 0) return rc;
  return myc_kernel_start(f->k, err);
}

static void boot_ok(fx *f, const char *kv_keys) {
  char *err = NULL;
  int rc = boot(f, kv_keys, &err);
  if (rc < 0) fail_msg("boot: %s", err ? err : myc_strerror(rc));
}

static void boot_file(fx *f, const char *more) {
  char keys[512];
  snprintf(keys, sizeof keys, "file = %s\n%s", f->log, more ? more : "");
  boot_ok(f, keys);
}

static void halt(fx *f) {
  myc_kernel_free(f->k);
  f->k = NULL;
}

/* Call and expect `status`; the reply body must equal `want` (NULL: any).
 * Bodies are compared with their length (values may hold NULs). */
static void call_n(fx *f, const char *verb, const char *uri, const void *body,
                   size_t len, int status, const void *want, size_t wlen) {
  myc_msg *r = NULL;
  int rc = myc_call(myc_kernel_ctx(f->k), verb, uri, body, len, 2000, &r);
  assert_int_equal(rc, 0);
  assert_non_null(r);
  size_t blen = 0;
  const char *b = myc_msg_body(r, &blen);
  if (myc_msg_status(r) != status)
    fail_msg("%s %s: status %s, want %s (body '%.*s')", verb, uri,
             myc_err_name(myc_msg_status(r)), myc_err_name(status),
             (int)blen, b ? b : "");
  if (want) {
    if (blen != wlen || (wlen && memcmp(b, want, wlen) != 0))
      fail_msg("%s %s: body '%.*s', want '%.*s'", verb, uri, (int)blen,
               b ? b : "", (int)wlen, (const char *)want);
  }
  myc_msg_release(r);
}

static void call(fx *f, const char *verb, const char *uri, const char *body,
                 int status, const char *want) {
  call_n(f, verb, uri, body, body ? strlen(body) : 0, status, want,
         want ? strlen(want) : 0);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  f->dir = myc_test_tmpdir();
  snprintf(f->log, sizeof f->log, "%s/data/kv.log", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  myc_kernel_free(f->k);
  myc_test_remove_tree(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

/* ==== Tests ============================================================ */

static void test_verbs(void **state) {
  fx *f = *state;
  boot_ok(f, "");
  call(f, "GET", "db://users/1", NULL, MYC_ENOENT,
       "no key '1' in bucket 'users'");
  call(f, "PUT", "db://users/1", "{\"name\":\"ada\"}", 0, "");
  call(f, "GET", "db://users/1", NULL, 0, "{\"name\":\"ada\"}");
  call(f, "PUT", "db://users/1", "ada2", 0, "");
  call(f, "GET", "db://users/1", NULL, 0, "ada2");
  call(f, "PUT", "db://users/empty", NULL, 0, "");
  call(f, "GET", "db://users/empty", NULL, 0, "");
  call(f, "DELETE", "db://users/empty", NULL, 0, "");
  call(f, "DELETE", "db://users/empty", NULL, MYC_ENOENT,
       "no key 'empty' in bucket 'users'");
  call(f, "GET", "db://users/empty", NULL, MYC_ENOENT, NULL);
  /* wildcard keys may contain '/' */
  call(f, "PUT", "db://files/a/b/c.txt", "deep", 0, "");
  call(f, "GET", "db://files/a/b/c.txt", NULL, 0, "deep");
  call(f, "GET", "db://files/a", NULL, MYC_ENOENT, NULL);
  /* a query is not part of the key */
  call(f, "GET", "db://files/a/b/c.txt?x=1", NULL, 0, "deep");
}

static void test_bad_verbs(void **state) {
  fx *f = *state;
  boot_ok(f, "");
  myc_msg *r = NULL;
  assert_int_equal(myc_call(myc_kernel_ctx(f->k), "PATCH", "db://b/k", NULL,
                            0, 2000, &r),
                   0);
  assert_int_equal(myc_msg_status(r), MYC_EBADVERB);
  size_t n;
  const char *b = myc_msg_body(r, &n);
  char text[256];
  snprintf(text, sizeof text, "%.*s", (int)n, b);
  assert_non_null(strstr(text, "PATCH"));
  assert_non_null(strstr(text, "GET, PUT or DELETE"));
  myc_msg_release(r);
  call(f, "PUT", "db://b/", "x", MYC_EBADVERB, NULL);
  call(f, "DELETE", "db://b/", NULL, MYC_EBADVERB, NULL);
}

static void test_list(void **state) {
  fx *f = *state;
  boot_ok(f, "");
  call(f, "GET", "db://users/", NULL, 0, "[]");
  call(f, "PUT", "db://users/2", "b", 0, "");
  call(f, "PUT", "db://users/10", "c", 0, "");
  call(f, "PUT", "db://users/1", "a", 0, "");
  call(f, "PUT", "db://other/x", "a", 0, "");
  call(f, "GET", "db://users/", NULL, 0, "[\"1\",\"10\",\"2\"]");
  call(f, "PUT", "db://q/a\"b\\c", "x", 0, "");
  call(f, "GET", "db://q/", NULL, 0, "[\"a\\\"b\\\\c\"]");
  call(f, "DELETE", "db://other/x", NULL, 0, "");
  call(f, "GET", "db://other/", NULL, 0, "[]");
}

static void test_binary_values(void **state) {
  fx *f = *state;
  const char val[] = {'a', 0, 'b', '\n', 0, (char)0xff};
  boot_file(f, NULL);
  call_n(f, "PUT", "db://bin/k", val, sizeof val, 0, "", 0);
  call_n(f, "GET", "db://bin/k", NULL, 0, 0, val, sizeof val);
  halt(f);
  boot_file(f, NULL);
  call_n(f, "GET", "db://bin/k", NULL, 0, 0, val, sizeof val);
}

/* Data survives a restart, for every fsync policy; the parent directory
 * of `file` is created. */
static void test_persistence(void **state) {
  fx *f = *state;
  static const char *policies[] = {"fsync = always", "fsync = interval\n"
                                   "fsync_interval_ms = 5",
                                   "fsync = never"};
  char key[64];
  for (int p = 0; p < 3; p++) {
    boot_file(f, policies[p]);
    snprintf(key, sizeof key, "db://p/k%d", p);
    call(f, "PUT", key, policies[p], 0, "");
    call(f, "PUT", "db://p/gone", "x", 0, "");
    call(f, "DELETE", "db://p/gone", NULL, 0, "");
    halt(f);
    boot_file(f, NULL);
    for (int q = 0; q <= p; q++) {
      snprintf(key, sizeof key, "db://p/k%d", q);
      call(f, "GET", key, NULL, 0, policies[q]);
    }
    call(f, "GET", "db://p/gone", NULL, MYC_ENOENT, NULL);
    halt(f);
  }
}

/* A torn last record is dropped at the next start, the rest kept. */
static void test_torn_tail(void **state) {
  fx *f = *state;
  boot_file(f, "fsync = always");
  call(f, "PUT", "db://t/1", "one", 0, "");
  call(f, "PUT", "db://t/2", "two", 0, "");
  halt(f);
  struct stat st;
  assert_int_equal(stat(f->log, &st), 0);
  assert_int_equal(truncate(f->log, st.st_size - 2), 0);
  int fd = open(f->log, O_WRONLY | O_APPEND);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "\xde\xad\xbe\xef", 4), 4);
  close(fd);

  boot_file(f, NULL);
  call(f, "GET", "db://t/1", NULL, 0, "one");
  call(f, "GET", "db://t/2", NULL, MYC_ENOENT, NULL);
  call(f, "PUT", "db://t/3", "three", 0, "");
  halt(f);
  boot_file(f, NULL);
  call(f, "GET", "db://t/", NULL, 0, "[\"1\",\"3\"]");
}

/* Damage followed by good records: the kernel refuses to start and says
 * which file and where. */
static void test_corrupt_middle(void **state) {
  fx *f = *state;
  boot_file(f, "fsync = always");
  call(f, "PUT", "db://c/1", "one", 0, "");
  call(f, "PUT", "db://c/2", "two", 0, "");
  halt(f);
  int fd = open(f->log, O_RDWR);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, "X", 1, 8 + 20 + 1), 1); /* first record */
  close(fd);

  char keys[256], *err = NULL;
  snprintf(keys, sizeof keys, "file = %s\n", f->log);
  assert_true(boot(f, keys, &err) < 0);
  assert_null(f->k);
  assert_non_null(err);
  assert_non_null(strstr(err, f->log));
  assert_non_null(strstr(err, "offset 8"));
  free(err);
}

static void test_bad_file(void **state) {
  fx *f = *state;
  char *err = NULL;
  assert_true(boot(f, "file = /dev/null/kv.log", &err) < 0);
  assert_non_null(err);
  assert_non_null(strstr(err, "/dev/null/kv.log"));
  free(err);
}

/* Two kernels in one process, each with its own kv instance and file. */
static void test_two_kernels(void **state) {
  fx *f = *state;
  fx g = {.k = NULL};
  snprintf(g.log, sizeof g.log, "%s/other/kv.log", f->dir);
  boot_file(f, NULL);
  boot_file(&g, NULL);
  call(f, "PUT", "db://a/k", "from f", 0, "");
  call(&g, "PUT", "db://a/k", "from g", 0, "");
  call(f, "GET", "db://a/k", NULL, 0, "from f");
  call(&g, "GET", "db://a/k", NULL, 0, "from g");
  halt(&g);
  call(f, "GET", "db://a/k", NULL, 0, "from f");
}

/* The log takes an exclusive lock: a second instance on the same file is
 * refused with a clear reason. */
static void test_same_file_twice(void **state) {
  fx *f = *state;
  fx g = {.k = NULL};
  char keys[256], *err = NULL;
  boot_file(f, NULL);
  snprintf(keys, sizeof keys, "file = %s\n", f->log);
  assert_true(boot(&g, keys, &err) < 0);
  assert_non_null(err);
  assert_non_null(strstr(err, "lock"));
  free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_verbs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_verbs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list, setup, teardown),
      cmocka_unit_test_setup_teardown(test_binary_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_middle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_two_kernels, setup, teardown),
      cmocka_unit_test_setup_teardown(test_same_file_twice, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
