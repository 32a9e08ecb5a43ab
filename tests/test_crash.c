/* Crash reports: a plugin that kills the process is named on the way out.
 *
 * Each case runs the host binary on a config whose only plugin is
 * tests/plugins/h_faulty.c, which sends itself one message at start; its
 * handler then dereferences NULL, overflows its stack or calls abort().
 * The process must die by that signal (the handler re-raises with the
 * default action), and stderr must name the plugin, its file, the verb
 * and the URI. Sanitizer runtimes keep their own fatal-signal handlers
 * off for the child (ASAN_OPTIONS/TSAN_OPTIONS), so ours is the one that
 * reports. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define SAN_OPTIONS                                                          \
  "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:"          \
  "handle_abort=0:allow_user_segv_handler=1:detect_leaks=0"

/* Run mycelia with h_faulty sending itself `uri` at start. Returns the
 * wait status; *err gets stderr (caller frees). */
static int run_crashing(const char *uri, char **err) {
  char *dir = myc_test_tmpdir();
  char cfg[512], errpath[512];
  snprintf(cfg, sizeof(cfg), "%s/crash.ini", dir);
  snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
  FILE *f = fopen(cfg, "w");
  assert_non_null(f);
  fprintf(f,
          "[kernel]\nplugin_dir = %s\nlog_level = error\n"
          "[plugin crashy]\npath = myc_h_faulty.so\nschemes = crashy\nstart_send = %s\n",
          MYC_TEST_BAD_PLUGIN_DIR, uri);
  fclose(f);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int nul = open("/dev/null", O_RDWR);
    if (fd < 0 || nul < 0) _exit(120);
    dup2(nul, 0);
    dup2(nul, 1);
    dup2(fd, 2);
    setenv("ASAN_OPTIONS", SAN_OPTIONS, 1);
    setenv("TSAN_OPTIONS", SAN_OPTIONS, 1);
    setenv("UBSAN_OPTIONS", SAN_OPTIONS, 1);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < 32; s++) sigaction(s, &dfl, NULL); /* not cmocka's */
    alarm(60); /* a crash that does not happen must not hang the suite */
    execl(MYC_TEST_BUILD_DIR "/mycelia", "mycelia", "-c", cfg, (char *)NULL);
    _exit(121);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  f = fopen(errpath, "r");
  assert_non_null(f);
  char buf[8192];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  fclose(f);
  *err = strdup(buf);
  myc_test_rmtree(dir);
  free(dir);
  return status;
}

/* The report names the signal, the plugin, its file and the message. */
static void check_report(const char *err, const char *sig, const char *uri) {
  char want[512];
  snprintf(want, sizeof(want), "mycelia: fatal signal %s", sig);
  if (!strstr(err, want)) fail_msg("no '%s' in:\n%s", want, err);
  assert_non_null(strstr(err, "in plugin 'crashy' (" MYC_TEST_BAD_PLUGIN_DIR "/myc_h_faulty.so)"));
  snprintf(want, sizeof(want), "while handling GET '%s'\n", uri);
  if (!strstr(err, want)) fail_msg("no '%s' in:\n%s", want, err);
}

/* A NULL dereference in a handler: SIGSEGV at address 0, reported. */
static void test_segv_in_handler(void **state) {
  char *err = NULL;
  int st = run_crashing("crashy://crash", &err);
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), SIGSEGV);
  check_report(err, "11 (SIGSEGV) at address 0x0 ", "crashy://crash");
  free(err);
}

/* A stack overflow: the report still comes (from the alternate stack). */
static void test_stack_overflow(void **state) {
  char *err = NULL;
  int st = run_crashing("crashy://overflow?depth=all", &err);
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), SIGSEGV);
  check_report(err, "11 (SIGSEGV)", "crashy://overflow?depth=all");
  free(err);
}

/* abort() in a handler: SIGABRT, reported, no fault address. */
static void test_abort_in_handler(void **state) {
  char *err = NULL;
  int st = run_crashing("crashy://abort", &err);
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), SIGABRT);
  check_report(err, "6 (SIGABRT) in plugin", "crashy://abort");
  free(err);
}

/* A crash in a reply callback names the request the reply answers. */
static void test_segv_in_reply_callback(void **state) {
  char *err = NULL;
  int st = run_crashing("crashy://crash_reply", &err);
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), SIGSEGV);
  if (!strstr(err, "in plugin 'crashy' (" MYC_TEST_BAD_PLUGIN_DIR
                   "/myc_h_faulty.so) while handling the reply to GET 'crashy://report'\n"))
    fail_msg("unexpected report:\n%s", err);
  free(err);
}

/* A crash in a timer callback: the plugin, and no message. */
static void test_segv_in_timer(void **state) {
  char *err = NULL;
  int st = run_crashing("crashy://crash_timer", &err);
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), SIGSEGV);
  if (!strstr(err, "at address 0x0 in plugin 'crashy' (" MYC_TEST_BAD_PLUGIN_DIR
                   "/myc_h_faulty.so) in a timer or I/O callback\n"))
    fail_msg("unexpected report:\n%s", err);
  free(err);
}

/* A plugin that does not crash: nothing is reported, clean exit on
 * SIGTERM as before. */
static void test_no_crash_no_report(void **state) {
  char *out = NULL, *err = NULL;
  char *dir = myc_test_tmpdir(), cfg[512], args[600];
  snprintf(cfg, sizeof(cfg), "%s/ok.ini", dir);
  FILE *f = fopen(cfg, "w");
  assert_non_null(f);
  fprintf(f, "[kernel]\nplugin_dir = %s\nlog_level = error\n[plugin console]\n[plugin echo]\n",
          MYC_TEST_PLUGIN_DIR);
  fclose(f);
  snprintf(args, sizeof(args), "-c '%s'", cfg);
  assert_int_equal(myc_test_run(args, "GET echo://x hi\n", &out, &err), 0);
  assert_string_equal(out, "OK hi\n");
  assert_null(strstr(err, "fatal signal"));
  free(out);
  free(err);
  myc_test_rmtree(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_segv_in_handler),
      cmocka_unit_test(test_stack_overflow),
      cmocka_unit_test(test_abort_in_handler),
      cmocka_unit_test(test_segv_in_reply_callback),
      cmocka_unit_test(test_segv_in_timer),
      cmocka_unit_test(test_no_crash_no_report),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
