#include "helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

myc_kernel *myc_test_kernel(const char *ini) {
  char *text = myc_test_expand(ini), *err = NULL;
  myc_config *cfg = NULL;
  myc_kernel *k = NULL;
  if (myc_config_parse(text, "test.ini", &cfg, &err) < 0 || myc_kernel_new(cfg, &k, &err) < 0) {
    print_error("kernel failed: %s\n", err ? err : "?");
    free(err);
    free(text);
    myc_config_free(cfg);
    fail();
  }
  myc_config_free(cfg);
  free(text);
  return k;
}

char *myc_test_kernel_error(const char *ini) {
  char *text = myc_test_expand(ini), *err = NULL;
  myc_config *cfg = NULL;
  myc_kernel *k = NULL;
  int rc = myc_config_parse(text, "test.ini", &cfg, &err);
  if (rc == 0) rc = myc_kernel_new(cfg, &k, &err);
  myc_config_free(cfg);
  free(text);
  if (rc == 0) {
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

void myc_test_rmtree(const char *path) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
  assert_int_equal(system(cmd), 0);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return strdup("");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  size_t got = fread(s, 1, (size_t)n, f);
  s[got] = '\0';
  fclose(f);
  return s;
}

int myc_test_run(const char *args, const char *input, char **out, char **err) {
  char *dir = myc_test_tmpdir();
  char in[300], o[300], e[300], cmd[4096];
  snprintf(in, sizeof(in), "%s/in", dir);
  snprintf(o, sizeof(o), "%s/out", dir);
  snprintf(e, sizeof(e), "%s/err", dir);
  FILE *f = fopen(in, "w");
  assert_non_null(f);
  if (input) fputs(input, f);
  fclose(f);
  snprintf(cmd, sizeof(cmd), "cd '%s' && '%s/mycelia' %s <'%s' >'%s' 2>'%s'", MYC_TEST_SOURCE_DIR,
           MYC_TEST_BUILD_DIR, args, in, o, e);
  int st = system(cmd);
  if (out) *out = slurp(o);
  if (err) *err = slurp(e);
  myc_test_rmtree(dir);
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
