/* The log plugin (plugins/log) loaded for real: line format, level
 * filter, escaping, stderr, errors, and reopening on SIGHUP with the
 * process's own SIGHUP handler kept and given back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

typedef struct fx {
  char *dir;
  char log[256];
  myc_kernel *k;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  f->dir = myc_test_tmpdir();
  snprintf(f->log, sizeof(f->log), "%s/app.log", f->dir);
  signal(SIGHUP, SIG_DFL);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  myc_kernel_free(f->k);
  myc_test_rmtree(f->dir);
  free(f->dir);
  free(f);
  signal(SIGHUP, SIG_DFL);
  return 0;
}

/* Start a kernel with [plugin log] file = f->log and `keys` (more lines
 * of that section). */
static void boot(fx *f, const char *keys) {
  char ini[1024];
  snprintf(ini, sizeof(ini),
           "[kernel]\nplugin_dir = %%PLUGINS%%\n[plugin log]\nfile = %s\n%s\n",
           f->log, keys ? keys : "");
  f->k = myc_test_kernel(ini);
  assert_int_equal(myc_kernel_start(f->k, NULL), 0);
}

/* Send one entry and expect the reply status `want`. */
static void put(fx *f, const char *uri, const char *body, int want) {
  char *reply = NULL;
  assert_int_equal(myc_test_call(f->k, "PUT", uri, body, &reply), want);
  free(reply);
}

/* `line` is "YYYY-MM-DDTHH:MM:SS.mmmZ" followed by `rest`. */
static void assert_entry(const char *line, const char *rest) {
  static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
  size_t n = strlen(shape);
  assert_true(strlen(line) >= n);
  for (size_t i = 0; i < n; i++) {
    if (shape[i] == 'd')
      assert_true(line[i] >= '0' && line[i] <= '9');
    else
      assert_int_equal(line[i], shape[i]);
  }
  assert_string_equal(line + n, rest);
}

/* Lines of `text` as an array (modifies text); returns the count. */
static size_t split_lines(char *text, char **lines, size_t max) {
  size_t n = 0;
  for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < max;
       l = strtok_r(NULL, "\n", &save))
    lines[n++] = l;
  return n;
}

static void test_writes_a_line(void **state) {
  fx *f = *state;
  boot(f, NULL);
  put(f, "log://info/web", "GET /index.html 200", 0);
  char *text = myc_test_read_file_or_empty(f->log);
  assert_int_equal(text[strlen(text) - 1], '\n');
  text[strlen(text) - 1] = '\0';
  assert_entry(text, " INFO web GET /index.html 200");
  free(text);
}

static void test_empty_body_and_any_verb(void **state) {
  fx *f = *state;
  char *reply = NULL;
  boot(f, NULL);
  assert_int_equal(myc_test_call(f->k, "POST", "log://WARN/db", NULL, &reply), 0);
  free(reply);
  char *text = myc_test_read_file_or_empty(f->log);
  assert_entry(text, " WARN db\n");
  free(text);
}

static void test_level_filter(void **state) {
  fx *f = *state;
  boot(f, "level = warn");
  put(f, "log://debug/a", "d", 0);
  put(f, "log://info/a", "i", 0);
  put(f, "log://warn/a", "w", 0);
  put(f, "log://error/a", "e", 0);
  char *text = myc_test_read_file_or_empty(f->log), *lines[8];
  assert_int_equal(split_lines(text, lines, 8), 2);
  assert_entry(lines[0], " WARN a w");
  assert_entry(lines[1], " ERROR a e");
  free(text);
}

static void test_newlines_are_escaped(void **state) {
  fx *f = *state;
  boot(f, NULL);
  put(f, "log://info/x", "one\ntwo\r\nthree", 0);
  char *text = myc_test_read_file_or_empty(f->log);
  assert_entry(text, " INFO x one\\ntwo\\r\\nthree\n");
  free(text);
}

static void test_long_body(void **state) {
  fx *f = *state;
  size_t n = 20000;
  char *body = malloc(n + 1), *want = malloc(n + 32);
  memset(body, 'b', n);
  body[n] = '\0';
  snprintf(want, n + 32, " DEBUG big %s\n", body);
  boot(f, "level = debug");
  put(f, "log://debug/big", body, 0);
  char *text = myc_test_read_file_or_empty(f->log);
  assert_entry(text, want);
  free(text);
  free(body);
  free(want);
}

static void test_unknown_level_is_einval(void **state) {
  fx *f = *state;
  char *reply = NULL;
  boot(f, NULL);
  assert_int_equal(myc_test_call(f->k, "PUT", "log://loud/x", "b", &reply), MYC_EINVAL);
  assert_non_null(strstr(reply, "unknown level 'loud'"));
  free(reply);
  /* Not LEVEL/COMPONENT: refused at send. */
  assert_int_equal(myc_test_call(f->k, "PUT", "log://info", "b", NULL), MYC_ENOROUTE);
  assert_int_equal(myc_test_call(f->k, "PUT", "log://info/a/b", "b", NULL), MYC_ENOROUTE);
  char *text = myc_test_read_file_or_empty(f->log);
  assert_string_equal(text, "");
  free(text);
}

static void test_stderr_by_default(void **state) {
  fx *f = *state;
  int saved = dup(STDERR_FILENO);
  FILE *cap = fopen(f->log, "w+");
  assert_non_null(cap);
  f->k = myc_test_kernel(
      "[kernel]\nplugin_dir = %PLUGINS%\nlog_level = error\n[plugin log]\n");
  assert_int_equal(myc_kernel_start(f->k, NULL), 0);
  fflush(stderr);
  dup2(fileno(cap), STDERR_FILENO);
  char *reply = NULL;
  int rc = myc_test_call(f->k, "PUT", "log://error/core", "to stderr", &reply);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  fclose(cap);
  free(reply);
  assert_int_equal(rc, 0);
  /* No file, no SIGHUP handler. */
  struct sigaction cur;
  sigaction(SIGHUP, NULL, &cur);
  assert_true(cur.sa_handler == SIG_DFL);
  char *text = myc_test_read_file_or_empty(f->log);
  assert_entry(text, " ERROR core to stderr\n");
  free(text);
}

static void test_sighup_reopens_the_file(void **state) {
  fx *f = *state;
  char rotated[300];
  snprintf(rotated, sizeof(rotated), "%s.1", f->log);
  boot(f, NULL);
  put(f, "log://info/app", "before", 0);
  assert_int_equal(rename(f->log, rotated), 0);
  put(f, "log://info/app", "still old", 0); /* no SIGHUP yet: old file */
  assert_int_equal(raise(SIGHUP), 0);       /* would kill us if unhandled */
  put(f, "log://info/app", "after", 0);

  char *old = myc_test_read_file_or_empty(rotated), *cur = myc_test_read_file_or_empty(f->log);
  char *lines[4];
  assert_int_equal(split_lines(old, lines, 4), 2);
  assert_entry(lines[0], " INFO app before");
  assert_entry(lines[1], " INFO app still old");
  assert_entry(cur, " INFO app after\n");
  free(old);
  free(cur);

  /* The default disposition is back once the kernel is gone. */
  myc_kernel_free(f->k);
  f->k = NULL;
  struct sigaction sa;
  sigaction(SIGHUP, NULL, &sa);
  assert_true(!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL);
}

static volatile sig_atomic_t own_hups;
static void own_handler(int sig) { own_hups++; }

static void test_sighup_chains_to_the_old_handler(void **state) {
  fx *f = *state;
  char rotated[300];
  snprintf(rotated, sizeof(rotated), "%s.1", f->log);
  own_hups = 0;
  signal(SIGHUP, own_handler);
  boot(f, NULL);
  put(f, "log://info/app", "one", 0);
  assert_int_equal(rename(f->log, rotated), 0);
  raise(SIGHUP);
  assert_int_equal(own_hups, 1); /* ours was called through the plugin's */
  put(f, "log://info/app", "two", 0);
  char *cur = myc_test_read_file_or_empty(f->log);
  assert_entry(cur, " INFO app two\n");
  free(cur);

  myc_kernel_free(f->k);
  f->k = NULL;
  struct sigaction sa;
  sigaction(SIGHUP, NULL, &sa);
  assert_true(sa.sa_handler == own_handler);
}

/* A handler installed over the plugin's is left alone when it finishes. */
static void test_later_handler_is_kept(void **state) {
  fx *f = *state;
  boot(f, NULL);
  own_hups = 0;
  signal(SIGHUP, own_handler);
  myc_kernel_free(f->k);
  f->k = NULL;
  struct sigaction sa;
  sigaction(SIGHUP, NULL, &sa);
  assert_true(sa.sa_handler == own_handler);
  raise(SIGHUP);
  assert_int_equal(own_hups, 1);
}

static void test_sighup_off(void **state) {
  fx *f = *state;
  boot(f, "sighup = false");
  struct sigaction sa;
  sigaction(SIGHUP, NULL, &sa);
  assert_true(!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL);
  put(f, "log://info/a", "x", 0);
}

static void test_two_instances_share_the_handler(void **state) {
  fx *f = *state;
  char ini[1024], other[300], rotated[300];
  snprintf(other, sizeof(other), "%s/b.log", f->dir);
  snprintf(rotated, sizeof(rotated), "%s/b.log.1", f->dir);
  snprintf(ini, sizeof(ini),
           "[kernel]\nplugin_dir = %%PLUGINS%%\n"
           "[plugin log]\nfile = %s\n"
           "[plugin log2]\npath = myc_log.so\nschemes = log2\nfile = %s\n",
           f->log, other);
  f->k = myc_test_kernel(ini);
  assert_int_equal(myc_kernel_start(f->k, NULL), 0);
  put(f, "log2://info/b", "one", 0);
  assert_int_equal(rename(other, rotated), 0);
  raise(SIGHUP);
  put(f, "log2://info/b", "two", 0);
  put(f, "log://info/a", "three", 0);
  char *cur = myc_test_read_file_or_empty(other), *a = myc_test_read_file_or_empty(f->log);
  assert_entry(cur, " INFO b two\n");
  assert_entry(a, " INFO a three\n");
  free(cur);
  free(a);
}

static void test_config_errors(void **state) {
  fx *f = *state;
  char *err = myc_test_kernel_error(
      "[kernel]\nplugin_dir = %PLUGINS%\n[plugin log]\nfile = /nonexistent/dir/x.log\n");
  assert_non_null(strstr(err, "cannot open log file '/nonexistent/dir/x.log'"));
  free(err);
  err = myc_test_kernel_error("[kernel]\nplugin_dir = %PLUGINS%\n[plugin log]\nlevel = loud\n");
  assert_non_null(strstr(err, "level"));
  assert_non_null(strstr(err, "error|warn|info|debug"));
  free(err);
  (void)f;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_writes_a_line, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_body_and_any_verb, setup, teardown),
      cmocka_unit_test_setup_teardown(test_level_filter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_newlines_are_escaped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_long_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_level_is_einval, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stderr_by_default, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sighup_reopens_the_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sighup_chains_to_the_old_handler, setup, teardown),
      cmocka_unit_test_setup_teardown(test_later_handler_is_kept, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sighup_off, setup, teardown),
      cmocka_unit_test_setup_teardown(test_two_instances_share_the_handler, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
