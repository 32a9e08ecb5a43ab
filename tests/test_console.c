/* The console plugin (plugins/console) loaded for real: request lines in,
 * one answer line per request out, in input order, then a clean shutdown.
 * Input and output go through the plugin's `input`/`output` keys (and fd 0
 * for the stdin cases), with kv and echo as the services it talks to. */
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
  char in[128], out[128];
  myc_kernel *k;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  f->dir = myc_test_tmpdir();
  snprintf(f->in, sizeof f->in, "%s/in.txt", f->dir);
  snprintf(f->out, sizeof f->out, "%s/out.txt", f->dir);
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

/* Build a kernel with console (+ `console_keys`), kv and echo. */
static int boot(fx *f, const char *console_keys, char **err) {
  char *ini = myc_test_fmt(
      "[kernel]\nplugin_dir = %%PLUGINS%%\nlog_level = error\n"
      "[plugin console]\n%s\n[plugin kv]\n[plugin echo]\n",
      console_keys);
  int rc = myc_test_kernel_try(ini, &f->k, err);
  free(ini);
  return rc;
}

/* Boot with input/output files, optionally let `prep` talk to the kernel
 * first, run until the console shuts it down. Returns the exit code; the
 * output is in f->out. */
static int run_with(fx *f, void (*prep)(fx *)) {
  char keys[512], *err = NULL;
  snprintf(keys, sizeof keys, "input = %s\noutput = %s\n", f->in, f->out);
  if (boot(f, keys, &err) < 0) fail_msg("boot: %s", err ? err : "?");
  if (prep) prep(f);
  alarm(60); /* a console that never shuts down fails, not hangs */
  int code = myc_kernel_run(f->k);
  alarm(0);
  myc_kernel_free(f->k);
  f->k = NULL;
  return code;
}

/* Run `script` and expect exactly `want` and exit code 0. */
static void expect(fx *f, const char *script, const char *want) {
  myc_test_write_file(f->in, script, strlen(script));
  assert_int_equal(run_with(f, NULL), 0);
  char *got = myc_test_read_file(f->out);
  assert_string_equal(got, want);
  free(got);
}

/* ==== Tests ============================================================ */

static void test_put_get(void **state) {
  expect(*state, "PUT db://users/1 {\"name\":\"ada\"}\nGET db://users/1\n",
         "OK\nOK {\"name\":\"ada\"}\n");
}

static void test_lines(void **state) {
  expect(*state,
         "# a comment\n"
         "\n"
         "   \n"
         "PUT db://u/1 two  words here \n" /* spaces kept in the body */
         "GET db://u/1\r\n"                 /* CRLF */
         "GET db://u/2\n"
         "PATCH db://u/1\n"
         "GET db://u/\n"
         "onlyverb\n"
         "  # indented comment\n"
         "PUT echo://x a\rb\n"              /* CR inside a body */
         "DELETE db://u/1\n"
         "GET db://u/",                     /* no final newline */
         "OK\n"
         "OK two  words here \n"
         "ERR ENOENT no key '2' in bucket 'u'\n"
         "ERR EBADVERB verb 'PATCH' is not supported on a key: use GET, PUT "
         "or DELETE\n"
         "OK [\"1\"]\n"
         "ERR EINVAL expected 'VERB URI [BODY]'\n"
         "OK a\\rb\n"
         "OK\n"
         "OK []\n");
}

static void seed_newline(fx *f) {
  myc_msg *r = NULL;
  assert_int_equal(myc_call(myc_kernel_ctx(f->k), "PUT", "db://n/k",
                            "line1\nline2", 11, 2000, &r),
                   0);
  assert_int_equal(myc_msg_status(r), 0);
  myc_msg_release(r);
}

static void test_newlines_escaped(void **state) {
  fx *f = *state;
  myc_test_write_file(f->in, "GET db://n/k\n", 13);
  assert_int_equal(run_with(f, seed_newline), 0);
  char *got = myc_test_read_file(f->out);
  assert_string_equal(got, "OK line1\\nline2\n");
  free(got);
}

/* Sends that fail at once: "ERR NAME text: URI". */
static void test_send_errors(void **state) {
  fx *f = *state;
  const char *script = "GET nowhere://x\nGET not-a-uri\nGET db://u/1\n";
  myc_test_write_file(f->in, script, strlen(script));
  assert_int_equal(run_with(f, NULL), 0);
  char *got = myc_test_read_file(f->out);
  char *l2 = strchr(got, '\n');
  assert_non_null(l2);
  *l2++ = '\0';
  assert_true(strncmp(got, "ERR ENOROUTE ", 13) == 0);
  assert_true(strncmp(l2, "ERR EURI ", 9) == 0);
  assert_non_null(strstr(l2, "not-a-uri"));
  assert_non_null(strstr(l2, "\nERR ENOENT no key '1' in bucket 'u'\n"));
  free(got);
}

/* Far more lines than the in-flight window: every answer, in order. */
static void test_many_lines_in_order(void **state) {
  fx *f = *state;
  enum { N = 3000 };
  size_t cap = N * 64, len = 0, wlen = 0;
  char *script = malloc(cap), *want = malloc(cap);
  assert_non_null(script);
  assert_non_null(want);
  for (int i = 0; i < N; i++) {
    len += (size_t)snprintf(script + len, cap - len,
                            "PUT db://b%d/k%d v%d\nGET db://b%d/k%d\n", i % 5,
                            i, i, i % 5, i);
    wlen += (size_t)snprintf(want + wlen, cap - wlen, "OK\nOK v%d\n", i);
  }
  expect(f, script, want);
  free(script);
  free(want);
}

/* A line over 1 MiB is answered ETOOBIG; its neighbours are unharmed. */
static void test_long_line(void **state) {
  fx *f = *state;
  size_t big = (1u << 20) + 100;
  size_t cap = big + 256;
  char *script = malloc(cap);
  assert_non_null(script);
  size_t len =
      (size_t)snprintf(script, cap, "PUT echo://a first\nPUT echo://a ");
  memset(script + len, 'x', big);
  len += big;
  len += (size_t)snprintf(script + len, cap - len, "\nPUT echo://a last\n");
  myc_test_write_file(f->in, script, len);
  free(script);
  assert_int_equal(run_with(f, NULL), 0);
  char *got = myc_test_read_file(f->out);
  assert_true(strncmp(got, "OK first\nERR ETOOBIG ", 21) == 0);
  size_t n = strlen(got);
  assert_true(n > 9 && strcmp(got + n - 8, "OK last\n") == 0);
  assert_int_equal(strchr(strchr(strchr(got, '\n') + 1, '\n') + 1, '\n') -
                       got + 1,
                   (long)n); /* exactly three lines */
  free(got);
}

/* Run the console with `fd` as standard input (fd is closed) and check
 * that it exits 0 having printed exactly `want`. */
static void run_on_stdin(fx *f, int fd, const char *want) {
  char keys[256], *err = NULL;
  int saved = dup(0);
  assert_true(saved >= 0 && fd >= 0);
  assert_int_equal(dup2(fd, 0), 0);
  close(fd);
  snprintf(keys, sizeof keys, "output = %s\n", f->out);
  int rc = boot(f, keys, &err), code = -1;
  if (rc == 0) {
    alarm(60);
    code = myc_kernel_run(f->k);
    alarm(0);
  }
  dup2(saved, 0);
  close(saved);
  if (rc < 0) fail_msg("boot: %s", err ? err : "?");
  assert_int_equal(code, 0);
  char *got = myc_test_read_file(f->out);
  assert_string_equal(got, want);
  free(got);
}

/* stdin at /dev/null: immediate end of input, clean exit, no output. */
static void test_stdin_devnull(void **state) {
  run_on_stdin(*state, open("/dev/null", O_RDONLY), "");
}

/* stdin as a pipe, with the writer done before the kernel starts. */
static void test_stdin_pipe(void **state) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  const char *script = "PUT db://p/1 x\nGET db://p/1\n";
  ssize_t slen = (ssize_t)strlen(script);
  assert_int_equal(write(p[1], script, (size_t)slen), slen);
  close(p[1]);
  run_on_stdin(*state, p[0], "OK\nOK x\n");
}

static void test_bad_input(void **state) {
  fx *f = *state;
  char *err = NULL;
  assert_true(boot(f, "input = /nonexistent/lines.txt", &err) < 0);
  assert_non_null(err);
  assert_non_null(strstr(err, "/nonexistent/lines.txt"));
  free(err);
}

/* A read error (the input is a directory) ends the run with code 1. */
static void test_read_error(void **state) {
  fx *f = *state;
  char keys[256], *err = NULL;
  snprintf(keys, sizeof keys, "input = %s\noutput = %s\n", f->dir, f->out);
  if (boot(f, keys, &err) < 0) fail_msg("boot: %s", err ? err : "?");
  alarm(60);
  assert_int_equal(myc_kernel_run(f->k), 1);
  alarm(0);
}

/* Messages sent to console:// are printed. */
static void test_print(void **state) {
  expect(*state, "PRINT console://out hello there\n", "hello there\nOK\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_get, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(test_newlines_escaped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_send_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_lines_in_order, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stdin_devnull, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stdin_pipe, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_print, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
