/* Unit tests for the kv plugin's store (plugins/kv/store.c) and its
 * append-only log (plugins/kv/kvlog.c), compiled in directly: the plugin
 * itself is a dlopen'd module with nothing to link against. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"

#include "../plugins/kv/kvlog.c"
#include "../plugins/kv/store.c"

/* ==== Fixtures ========================================================= */

typedef struct fx {
  char *dir;
  char path[128];
  kv_store *store;
  char warn[512];
  int nwarn;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  f->dir = myc_test_tmpdir();
  /* nested: the log must create its parent directories */
  snprintf(f->path, sizeof f->path, "%s/a/b/kv.log", f->dir);
  f->store = kv_store_new();
  *state = f;
  return f->store ? 0 : -1;
}

static int teardown(void **state) {
  fx *f = *state;
  myc_test_remove_tree(f->dir);
  kv_store_free(f->store);
  free(f->dir);
  free(f);
  return 0;
}

/* Replay callback: the same as the plugin's. */
static int apply(void *udata, int op, const char *b, size_t blen,
                 const char *k, size_t klen, const void *v, size_t vlen) {
  fx *f = udata;
  if (op == KV_OP_DEL) {
    kv_store_del(f->store, b, blen, k, klen);
    return 0;
  }
  return kv_store_put(f->store, b, blen, k, klen, v, vlen) < 0 ? MYC_ENOMEM
                                                                : 0;
}

static void warn(void *udata, const char *msg) {
  fx *f = udata;
  snprintf(f->warn, sizeof f->warn, "%s", msg);
  f->nwarn++;
}

/* Reopen the log into a fresh store. Returns kv_log_open's result. */
static int reopen(fx *f, kv_log **l, char *err, size_t errlen) {
  kv_store_free(f->store);
  f->store = kv_store_new();
  f->nwarn = 0;
  f->warn[0] = '\0';
  return kv_log_open(f->path, apply, warn, f, l, err, errlen);
}

/* Log and apply a PUT, as the plugin does. */
static void put(fx *f, kv_log *l, const char *b, const char *k,
                const void *v, size_t vlen) {
  char err[256];
  assert_int_equal(kv_log_append(l, KV_OP_PUT, b, strlen(b), k, strlen(k), v,
                                 vlen, 0, err, sizeof err),
                   0);
  assert_int_equal(kv_store_put(f->store, b, strlen(b), k, strlen(k), v, vlen),
                   0);
}

static void del(fx *f, kv_log *l, const char *b, const char *k) {
  char err[256];
  assert_int_equal(kv_log_append(l, KV_OP_DEL, b, strlen(b), k, strlen(k),
                                 NULL, 0, 1, err, sizeof err),
                   0);
  assert_int_equal(kv_store_del(f->store, b, strlen(b), k, strlen(k)), 1);
}

/* The value of b/k as a NUL-terminated string (test values have no NUL),
 * or NULL. Points into the store. */
static const char *get(fx *f, const char *b, const char *k, size_t *vlen) {
  size_t n = 0;
  const char *v = kv_store_get(f->store, b, strlen(b), k, strlen(k), &n);
  if (vlen) *vlen = n;
  return v;
}

static off_t file_size(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return st.st_size;
}

/* ==== CRC ============================================================== */

static void test_crc32(void **state) {
  (void)state;
  assert_int_equal(kv_crc32(0, "123456789", 9), 0xcbf43926u);
  assert_int_equal(kv_crc32(0, "", 0), 0);
  /* incremental == one shot */
  uint32_t c = kv_crc32(kv_crc32(0, "1234", 4), "56789", 5);
  assert_int_equal(c, 0xcbf43926u);
}

/* ==== Store ============================================================ */

static void test_store_put_get_delete(void **state) {
  fx *f = *state;
  kv_store *s = f->store;
  size_t n;
  assert_null(kv_store_get(s, "users", 5, "1", 1, &n));
  assert_int_equal(kv_store_put(s, "users", 5, "1", 1, "ada", 3), 0);
  assert_int_equal(kv_store_put(s, "users", 5, "2", 1, "bob", 3), 0);
  assert_int_equal(kv_store_put(s, "other", 5, "1", 1, "x", 1), 0);
  const char *v = kv_store_get(s, "users", 5, "1", 1, &n);
  assert_non_null(v);
  assert_int_equal(n, 3);
  assert_memory_equal(v, "ada", 3);
  assert_int_equal(kv_store_count(s), 3);
  assert_int_equal(kv_store_buckets(s), 2);

  /* overwrite, then an empty value */
  assert_int_equal(kv_store_put(s, "users", 5, "1", 1, "lovelace", 8), 0);
  v = kv_store_get(s, "users", 5, "1", 1, &n);
  assert_int_equal(n, 8);
  assert_memory_equal(v, "lovelace", 8);
  assert_int_equal(kv_store_put(s, "users", 5, "1", 1, "", 0), 0);
  v = kv_store_get(s, "users", 5, "1", 1, &n);
  assert_non_null(v);
  assert_int_equal(n, 0);
  assert_int_equal(kv_store_count(s), 3);

  /* a key in one bucket is not in another */
  assert_null(kv_store_get(s, "other", 5, "2", 1, &n));

  assert_int_equal(kv_store_del(s, "users", 5, "1", 1), 1);
  assert_int_equal(kv_store_del(s, "users", 5, "1", 1), 0);
  assert_int_equal(kv_store_del(s, "nope", 4, "1", 1), 0);
  assert_null(kv_store_get(s, "users", 5, "1", 1, &n));
  assert_int_equal(kv_store_del(s, "other", 5, "1", 1), 1);
  assert_int_equal(kv_store_buckets(s), 1); /* "other" emptied and freed */
  assert_int_equal(kv_store_count(s), 1);
}

static void test_store_nul_bytes(void **state) {
  fx *f = *state;
  const char val[] = {'a', 0, 'b', 0, 0, 'c'};
  size_t n;
  assert_int_equal(kv_store_put(f->store, "b", 1, "k", 1, val, sizeof val), 0);
  const char *v = kv_store_get(f->store, "b", 1, "k", 1, &n);
  assert_int_equal(n, sizeof val);
  assert_memory_equal(v, val, sizeof val);
  /* names are length-counted too */
  assert_int_equal(kv_store_put(f->store, "b", 1, "k\0x", 3, "1", 1), 0);
  assert_non_null(kv_store_get(f->store, "b", 1, "k\0x", 3, &n));
  assert_int_equal(kv_store_count(f->store), 2);
}

static void test_store_list_sorted(void **state) {
  fx *f = *state;
  const char *keys[] = {"b", "a", "ab", "10", "2", "1"};
  for (size_t i = 0; i < 6; i++)
    kv_store_put(f->store, "l", 1, keys[i], strlen(keys[i]), "v", 1);
  kv_store_put(f->store, "m", 1, "zz", 2, "v", 1);

  kv_bytes *out;
  size_t n;
  assert_int_equal(kv_store_keys(f->store, "l", 1, &out, &n), 0);
  const char *want[] = {"1", "10", "2", "a", "ab", "b"};
  assert_int_equal(n, 6);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(out[i].len, strlen(want[i]));
    assert_memory_equal(out[i].ptr, want[i], out[i].len);
  }
  free(out);

  assert_int_equal(kv_store_keys(f->store, "none", 4, &out, &n), 0);
  assert_null(out);
  assert_int_equal(n, 0);
}

static void test_store_many_keys(void **state) {
  fx *f = *state;
  char k[32], v[32], b[16];
  size_t n;
  enum { N = 20000, B = 37 };
  for (int i = 0; i < N; i++) {
    int kl = snprintf(k, sizeof k, "key-%d", i);
    int vl = snprintf(v, sizeof v, "value-%d", i * 7);
    int bl = snprintf(b, sizeof b, "b%d", i % B);
    assert_int_equal(kv_store_put(f->store, b, (size_t)bl, k, (size_t)kl, v,
                                  (size_t)vl),
                     0);
  }
  assert_int_equal(kv_store_count(f->store), N);
  assert_int_equal(kv_store_buckets(f->store), B);
  for (int i = 0; i < N; i++) {
    int kl = snprintf(k, sizeof k, "key-%d", i);
    int vl = snprintf(v, sizeof v, "value-%d", i * 7);
    int bl = snprintf(b, sizeof b, "b%d", i % B);
    const char *got = kv_store_get(f->store, b, (size_t)bl, k, (size_t)kl, &n);
    assert_non_null(got);
    assert_int_equal(n, (size_t)vl);
    assert_memory_equal(got, v, n);
  }
  kv_bytes *keys;
  assert_int_equal(kv_store_keys(f->store, "b0", 2, &keys, &n), 0);
  assert_int_equal(n, (N + B - 1) / B);
  for (size_t i = 1; i < n; i++)
    assert_true(kv_bytes_cmp(&keys[i - 1], &keys[i]) < 0);
  free(keys);
  /* delete every other key, check the rest */
  for (int i = 0; i < N; i += 2) {
    int kl = snprintf(k, sizeof k, "key-%d", i);
    int bl = snprintf(b, sizeof b, "b%d", i % B);
    assert_int_equal(kv_store_del(f->store, b, (size_t)bl, k, (size_t)kl), 1);
  }
  assert_int_equal(kv_store_count(f->store), N / 2);
  for (int i = 0; i < N; i++) {
    int kl = snprintf(k, sizeof k, "key-%d", i);
    int bl = snprintf(b, sizeof b, "b%d", i % B);
    const void *got = kv_store_get(f->store, b, (size_t)bl, k, (size_t)kl, &n);
    if (i % 2) assert_non_null(got);
    else assert_null(got);
  }
}

/* ==== Log ============================================================== */

static void test_log_replay(void **state) {
  fx *f = *state;
  char err[512] = "";
  kv_log *l;
  const char nul[] = {'x', 0, 'y', 0};
  assert_int_equal(kv_log_open(f->path, apply, warn, f, &l, err, sizeof err),
                   0);
  assert_int_equal(kv_log_size(l), 8); /* just the file header */
  put(f, l, "users", "1", "{\"name\":\"ada\"}", 14);
  put(f, l, "users", "2", "bob", 3);
  put(f, l, "users", "1", "ada2", 4); /* overwrite */
  put(f, l, "bin", "k", nul, sizeof nul);
  put(f, l, "e", "empty", "", 0);
  put(f, l, "gone", "x", "1", 1);
  del(f, l, "users", "2");
  del(f, l, "gone", "x");
  assert_false(kv_log_dirty(l)); /* a synced append covers earlier ones */
  put(f, l, "e", "tmp", "t", 1);
  del(f, l, "e", "tmp");
  put(f, l, "e", "tmp2", "t", 1);
  assert_true(kv_log_dirty(l));
  assert_int_equal(kv_log_sync(l, err, sizeof err), 0);
  assert_false(kv_log_dirty(l));
  assert_int_equal(kv_log_size(l), (uint64_t)file_size(f->path));
  kv_log_close(l);

  assert_int_equal(reopen(f, &l, err, sizeof err), 0);
  assert_int_equal(f->nwarn, 0);
  size_t n;
  const char *v = get(f, "users", "1", &n);
  assert_non_null(v);
  assert_int_equal(n, 4);
  assert_memory_equal(v, "ada2", 4);
  assert_null(get(f, "users", "2", NULL));
  assert_null(get(f, "gone", "x", NULL));
  v = get(f, "bin", "k", &n);
  assert_int_equal(n, sizeof nul);
  assert_memory_equal(v, nul, sizeof nul);
  assert_non_null(get(f, "e", "empty", &n));
  assert_int_equal(n, 0);
  assert_int_equal(kv_store_count(f->store), 4);
  assert_int_equal(kv_store_buckets(f->store), 3);

  /* appends after a replay land after the old data */
  put(f, l, "users", "3", "cy", 2);
  kv_log_close(l);
  assert_int_equal(reopen(f, &l, err, sizeof err), 0);
  assert_int_equal(kv_store_count(f->store), 5);
  assert_non_null(get(f, "users", "3", NULL));
  kv_log_close(l);
}

/* Cut the last record short and append garbage: the tail is skipped with a
 * warning naming file and offset, and the file is cut back to it. */
static void test_log_torn_tail(void **state) {
  fx *f = *state;
  char err[512] = "", want[256];
  kv_log *l;
  assert_int_equal(kv_log_open(f->path, apply, warn, f, &l, err, sizeof err),
                   0);
  put(f, l, "b", "1", "one", 3);
  put(f, l, "b", "2", "two", 3);
  uint64_t good = kv_log_size(l);
  put(f, l, "b", "3", "three-three-three", 17);
  uint64_t full = kv_log_size(l);
  kv_log_close(l);

  assert_int_equal(truncate(f->path, (off_t)full - 5), 0);
  int fd = open(f->path, O_WRONLY | O_APPEND);
  assert_true(fd >= 0);
  const char garbage[] = "\x13\x37garbage garbage garbage\xff\xfe";
  assert_int_equal(write(fd, garbage, sizeof garbage), sizeof garbage);
  close(fd);

  assert_int_equal(reopen(f, &l, err, sizeof err), 0);
  assert_int_equal(f->nwarn, 1);
  snprintf(want, sizeof want, "%s: torn record at offset %llu skipped",
           f->path, (unsigned long long)good);
  assert_non_null(strstr(f->warn, want));
  assert_int_equal(file_size(f->path), (off_t)good);
  assert_int_equal(kv_log_size(l), good);
  assert_int_equal(kv_store_count(f->store), 2);
  assert_null(get(f, "b", "3", NULL));

  /* new appends follow valid data: the next open is clean */
  put(f, l, "b", "4", "four", 4);
  kv_log_close(l);
  assert_int_equal(reopen(f, &l, err, sizeof err), 0);
  assert_int_equal(f->nwarn, 0);
  assert_int_equal(kv_store_count(f->store), 3);
  assert_non_null(get(f, "b", "4", NULL));
  kv_log_close(l);
}

/* A crash in the middle of a write: the record is just short. */
static void test_log_torn_short(void **state) {
  fx *f = *state;
  char err[512] = "";
  kv_log *l;
  assert_int_equal(kv_log_open(f->path, apply, warn, f, &l, err, sizeof err),
                   0);
  put(f, l, "b", "1", "one", 3);
  uint64_t good = kv_log_size(l);
  put(f, l, "b", "2", "two", 3);
  uint64_t full = kv_log_size(l);
  kv_log_close(l);
  static const off_t cuts[] = {1, 4, 5, 9, 12, 25, 28};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    /* cut inside the crc, the value, the names, the header */
    assert_int_equal(truncate(f->path, (off_t)full - cuts[i]), 0);
    assert_int_equal(reopen(f, &l, err, sizeof err), 0);
    assert_int_equal(f->nwarn, 1);
    assert_int_equal(file_size(f->path), (off_t)good);
    assert_int_equal(kv_store_count(f->store), 1);
    put(f, l, "b", "2", "two", 3);
    kv_log_close(l);
  }
}

/* A damaged record with good ones after it: refuse to start. */
static void test_log_corrupt_middle(void **state) {
  fx *f = *state;
  char err[512] = "", want[256];
  kv_log *l;
  assert_int_equal(kv_log_open(f->path, apply, warn, f, &l, err, sizeof err),
                   0);
  put(f, l, "b", "1", "one", 3);
  uint64_t second = kv_log_size(l);
  put(f, l, "b", "2", "two", 3);
  put(f, l, "b", "3", "three", 5);
  kv_log_close(l);
  off_t size = file_size(f->path);

  /* flip one byte of the second record's value */
  int fd = open(f->path, O_RDWR);
  assert_true(fd >= 0);
  char c;
  off_t at = (off_t)second + 20 + 2;
  assert_int_equal(pread(fd, &c, 1, at), 1);
  c ^= 0x20;
  assert_int_equal(pwrite(fd, &c, 1, at), 1);
  close(fd);

  l = (kv_log *)1;
  assert_int_equal(reopen(f, &l, err, sizeof err), MYC_EIO);
  assert_null(l);
  snprintf(want, sizeof want, "kv log '%s' is corrupt at offset %llu",
           f->path, (unsigned long long)second);
  assert_non_null(strstr(err, want));
  assert_int_equal(file_size(f->path), size); /* untouched */
}

static void test_log_foreign_file(void **state) {
  fx *f = *state;
  char err[512] = "";
  kv_log *l;
  assert_int_equal(kv_log_open(f->path, apply, warn, f, &l, err, sizeof err),
                   0);
  kv_log_close(l);
  FILE *fp = fopen(f->path, "w");
  fputs("this is not a kv log\n", fp);
  fclose(fp);
  assert_int_equal(reopen(f, &l, err, sizeof err), MYC_EIO);
  assert_non_null(strstr(err, f->path));
  assert_non_null(strstr(err, "not a mycelia kv log"));
  assert_int_equal(file_size(f->path), 21); /* never truncated */

  /* a short file that is not a prefix of the header is foreign too */
  fp = fopen(f->path, "w");
  fputs("ab", fp);
  fclose(fp);
  assert_int_equal(reopen(f, &l, err, sizeof err), MYC_EIO);
}

/* A crash while writing the header of a new file. */
static void test_log_torn_header(void **state) {
  fx *f = *state;
  char err[512] = "";
  kv_log *l;
  assert_int_equal(kv_log_open(f->path, apply, warn, f, &l, err, sizeof err),
                   0);
  kv_log_close(l);
  assert_int_equal(truncate(f->path, 3), 0);
  assert_int_equal(reopen(f, &l, err, sizeof err), 0);
  assert_int_equal(f->nwarn, 1);
  assert_int_equal(file_size(f->path), 8);
  put(f, l, "b", "1", "x", 1);
  kv_log_close(l);
  assert_int_equal(reopen(f, &l, err, sizeof err), 0);
  assert_int_equal(kv_store_count(f->store), 1);
  kv_log_close(l);
}

static void test_log_errors(void **state) {
  fx *f = *state;
  char err[512] = "";
  kv_log *l, *l2;

  /* a second open of the same file is refused while the first holds it */
  assert_int_equal(kv_log_open(f->path, apply, warn, f, &l, err, sizeof err),
                   0);
  assert_int_equal(kv_log_open(f->path, apply, warn, f, &l2, err, sizeof err),
                   MYC_EIO);
  assert_non_null(strstr(err, f->path));
  assert_non_null(strstr(err, "lock"));

  /* names and values over the limits */
  char *big = calloc(1, KV_LOG_MAX_NAME + 1);
  assert_int_equal(kv_log_append(l, KV_OP_PUT, "b", 1, big,
                                 KV_LOG_MAX_NAME + 1, "v", 1, 0, err,
                                 sizeof err),
                   MYC_ETOOBIG);
  free(big);
  kv_log_close(l);

  /* a parent that is a file: mkdir -p fails, naming the path */
  char bad[160];
  snprintf(bad, sizeof bad, "%s/a/b/kv.log/sub/x.log", f->dir);
  assert_int_equal(kv_log_open(bad, apply, warn, f, &l, err, sizeof err),
                   MYC_EIO);
  assert_null(l);
  assert_non_null(strstr(err, bad));
  assert_non_null(strstr(err, strerror(ENOTDIR)));

  /* a directory where the file should be */
  snprintf(bad, sizeof bad, "%s/a", f->dir);
  assert_int_equal(kv_log_open(bad, apply, warn, f, &l, err, sizeof err),
                   MYC_EIO);
  assert_non_null(strstr(err, bad));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc32),
      cmocka_unit_test_setup_teardown(test_store_put_get_delete, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_store_nul_bytes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_list_sorted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_store_many_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_replay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_torn_tail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_torn_short, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_corrupt_middle, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_log_foreign_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_torn_header, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
