#include "helpers.h"

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static char *replace_all(const char *s, const char *what, const char *with) {
  size_t wl = strlen(what), nl = strlen(with), n = 0;
  for (const char *p = strstr(s, what); p; p = strstr(p + wl, what)) n++;
  char *out = malloc(strlen(s) + n * nl + 1), *o = out;
  const char *p;
  while ((p = strstr(s, what))) {
    memcpy(o, s, (size_t)(p - s));
    o += p - s;
    memcpy(o, with, nl);
    o += nl;
    s = p + wl;
  }
  strcpy(o, s);
  return out;
}

char *myc_test_expand(const char *ini) {
  char *a = replace_all(ini, "%PLUGINS%", MYC_TEST_PLUGIN_DIR);
  char *b = replace_all(a, "%BAD%", MYC_TEST_BAD_PLUGIN_DIR);
  free(a);
  return b;
}

int myc_test_kernel_try(const char *ini, myc_kernel **k, char **err) {
  char *text = myc_test_expand(ini);
  myc_config *cfg = NULL;
  *k = NULL;
  int rc = myc_config_parse(text, "test.ini", &cfg, err);
  if (rc == 0) rc = myc_kernel_new(cfg, k, err);
  myc_config_free(cfg);
  free(text);
  return rc;
}

myc_kernel *myc_test_kernel(const char *ini) {
  char *err = NULL;
  myc_kernel *k = NULL;
  if (myc_test_kernel_try(ini, &k, &err) < 0) {
    print_error("kernel failed: %s\n", err ? err : "?");
    free(err);
    fail();
  }
  return k;
}

char *myc_test_kernel_error(const char *ini) {
  char *err = NULL;
  myc_kernel *k = NULL;
  if (myc_test_kernel_try(ini, &k, &err) == 0) {
    myc_kernel_free(k);
    fail_msg("expected the kernel to refuse this config");
  }
  assert_non_null(err);
  return err;
}

char *myc_test_tmpdir(void) {
  char tmpl[] = "/tmp/myc-test-XXXXXX";
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  return strdup(d);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

int myc_test_remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -1;
  return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

void myc_test_rmtree(const char *path) {
  if (myc_test_remove_tree(path) < 0) fail_msg("cannot remove %s: %s", path, strerror(errno));
}

int myc_test_run(const char *args, const char *input, char **out, char **err) {
  return myc_test_run_at(MYC_TEST_SOURCE_DIR, args, input, out, err);
}

int myc_test_run_at(const char *cwd, const char *args, const char *input, char **out,
                    char **err) {
  char *dir = myc_test_tmpdir();
  char *in = myc_test_write_text(dir, "in", input ? input : "");
  char *o = myc_test_fmt("%s/out", dir), *e = myc_test_fmt("%s/err", dir);
  char *cmd = myc_test_fmt("cd '%s' && '%s/mycelia' %s <'%s' >'%s' 2>'%s'", cwd,
                           MYC_TEST_BUILD_DIR, args, in, o, e);
  int st = system(cmd);
  if (out) *out = myc_test_read_file_or_empty(o);
  if (err) *err = myc_test_read_file_or_empty(e);
  myc_test_rmtree(dir);
  free(cmd);
  free(in);
  free(o);
  free(e);
  free(dir);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int myc_test_call(myc_kernel *k, const char *verb, const char *uri, const char *body, char **reply) {
  myc_msg *r = NULL;
  int rc = myc_call(myc_kernel_ctx(k), verb, uri, body, body ? strlen(body) : 0, 5000, &r);
  if (rc < 0) {
    if (reply) *reply = NULL;
    return rc;
  }
  size_t len;
  const char *b = myc_msg_body(r, &len);
  if (reply) *reply = strndup(b, len);
  rc = myc_msg_status(r);
  myc_msg_release(r);
  return rc;
}

char *myc_test_fmt(const char *f, ...) {
  char *s = NULL;
  va_list ap;
  va_start(ap, f);
  assert_true(vasprintf(&s, f, ap) >= 0);
  va_end(ap);
  return s;
}

void myc_test_assert_has(const char *hay, const char *needle) {
  if (!hay || !strstr(hay, needle))
    fail_msg("expected to find \"%s\" in \"%s\"", needle, hay ? hay : "(null)");
}

/* The whole file, or NULL if it cannot be opened or read. */
static char *read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t cap = 0, len = 0, n;
  do {
    if (cap - len < 4096 + 1) {
      cap = cap ? cap * 2 : 8192;
      char *grown = realloc(buf, cap);
      assert_non_null(grown);
      buf = grown;
    }
    n = fread(buf + len, 1, 4096, f);
    len += n;
  } while (n > 0);
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return NULL;
  }
  buf[len] = '\0';
  return buf;
}

char *myc_test_read_file(const char *path) {
  char *s = read_all(path);
  if (!s) fail_msg("cannot read %s", path);
  return s;
}

char *myc_test_read_file_or_empty(const char *path) {
  char *s = read_all(path);
  return s ? s : strdup("");
}

void myc_test_write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) fail_msg("cannot create %s: %s", path, strerror(errno));
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

char *myc_test_write_text(const char *dir, const char *name, const char *text) {
  char *path = myc_test_fmt("%s/%s", dir, name);
  myc_test_write_file(path, text, strlen(text));
  return path;
}

void myc_test_copy_file(const char *from, const char *to, mode_t mode) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  assert_non_null(in);
  assert_non_null(out);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), in)) > 0) assert_int_equal(fwrite(buf, 1, n, out), n);
  fclose(in);
  assert_int_equal(fclose(out), 0);
  assert_int_equal(chmod(to, mode), 0);
}
