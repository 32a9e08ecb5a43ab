/* The mycelia binary from the outside: flags and exit codes, --check on
 * good and broken configs (errors read "FILE:LINE: ..."), --describe,
 * $MYCELIA_CONFIG, the console pipeline, and SIGTERM/SIGINT shutting down
 * cleanly with every plugin stopped and finalised. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "mycelia/mycelia.h"

#define BIN MYC_TEST_BUILD_DIR "/mycelia"

/* ==== Helpers ========================================================== */

/* Fail unless `s` starts with `prefix`. */
static void assert_prefix(const char *s, const char *prefix) {
  if (!s || strncmp(s, prefix, strlen(prefix)) != 0)
    fail_msg("expected \"%s\" to start with \"%s\"", s ? s : "(null)", prefix);
}

/* Number of '\n'-terminated lines in s, failing if the last one is not. */
static int count_lines(const char *s) {
  int n = 0;
  for (const char *p = s; *p; p++) n += *p == '\n';
  if (*s && s[strlen(s) - 1] != '\n') fail_msg("unterminated last line in \"%s\"", s);
  return n;
}

/* A config for a run: echo, kv logging to dir/kv.log, console. */
static char *run_config(const char *dir) {
  char *text = myc_test_fmt(
      "[kernel]\nplugin_dir = %s\nlog_level = warn\n"
      "[plugin echo]\n"
      "[plugin kv]\nfile = %s/kv.log\nfsync = never\n"
      "[plugin console]\n",
      MYC_TEST_PLUGIN_DIR, dir);
  char *path = myc_test_write_text(dir, "mycelia.ini", text);
  free(text);
  return path;
}

/* ==== Flags ============================================================ */

/* --version and -V: one line with the version and the ABI, exit 0. */
static void test_version(void **state) {
  static const char *const flags[] = {"--version", "-V"};
  for (size_t i = 0; i < 2; i++) {
    char *out, *err;
    assert_int_equal(myc_test_run(flags[i], NULL, &out, &err), 0);
    char want[64];
    snprintf(want, sizeof(want), "mycelia %s (plugin ABI %d.%d)\n", MYC_VERSION, MYC_ABI_MAJOR,
             MYC_ABI_MINOR);
    assert_string_equal(out, want);
    assert_string_equal(err, "");
    free(out);
    free(err);
  }
}

/* --help and -h: usage naming every flag on stdout, exit 0. */
static void test_help(void **state) {
  static const char *const flags[] = {"--help", "-h"};
  for (size_t i = 0; i < 2; i++) {
    char *out, *err;
    assert_int_equal(myc_test_run(flags[i], NULL, &out, &err), 0);
    assert_prefix(out, "usage: mycelia ");
    static const char *const words[] = {"-c", "--config", "--check", "--describe", "--version",
                                        "--help", "MYCELIA_CONFIG", "config/mycelia.ini"};
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++)
      myc_test_assert_has(out, words[w]);
    assert_string_equal(err, "");
    free(out);
    free(err);
  }
}

/* Usage errors: exit 2, usage on stderr, nothing on stdout. */
static void test_bad_usage(void **state) {
  static const struct {
    const char *args, *says;
  } cases[] = {
      {"--bogus", "bogus"},
      {"-x", "invalid option"},
      {"-c", "requires an argument"},
      {"--describe", "requires an argument"},
      {"extra", "unexpected argument 'extra'"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *out, *err;
    assert_int_equal(myc_test_run(cases[i].args, NULL, &out, &err), 2);
    assert_string_equal(out, "");
    myc_test_assert_has(err, cases[i].says);
    myc_test_assert_has(err, "usage: mycelia");
    free(out);
    free(err);
  }
}

/* ==== --check ========================================================== */

/* The shipped config/mycelia.ini, from a working directory whose
 * build/plugins is this build's plugin folder. */
static void test_check_shipped_config(void **state) {
  char *dir = myc_test_tmpdir();
  char *build = myc_test_fmt("%s/build", dir), *plugins = myc_test_fmt("%s/build/plugins", dir);
  assert_int_equal(mkdir(build, 0755), 0);
  assert_int_equal(symlink(MYC_TEST_PLUGIN_DIR, plugins), 0);
  char *args = myc_test_fmt("--check -c '%s/config/mycelia.ini'", MYC_TEST_SOURCE_DIR);
  char *out, *err;
  int rc = myc_test_run_at(dir, args, "PUT db://a/b c\n", &out, &err);
  if (rc != 0) fail_msg("exit %d: %s", rc, err);
  char *want = myc_test_fmt("%s/config/mycelia.ini: OK\n", MYC_TEST_SOURCE_DIR);
  assert_string_equal(out, want); /* the console did not run */
  free(want);
  free(out);
  free(err);
  free(args);
  free(build);
  free(plugins);
  myc_test_rmtree(dir);
  free(dir);
}

/* Every broken fixture: exit 2 and one line "mycelia: FILE:LINE: ...". */
static void test_check_bad_fixtures(void **state) {
  glob_t g;
  assert_int_equal(glob(MYC_TEST_SOURCE_DIR "/tests/configs/bad_*.ini", 0, NULL, &g), 0);
  assert_true(g.gl_pathc >= 10);
  for (size_t i = 0; i < g.gl_pathc; i++) {
    const char *rel = g.gl_pathv[i] + strlen(MYC_TEST_SOURCE_DIR) + 1;
    char *args = myc_test_fmt("--check -c %s", rel), *out, *err;
    int rc = myc_test_run(args, NULL, &out, &err);
    if (rc != 2) fail_msg("%s: exit %d, stderr: %s", rel, rc, err);
    assert_string_equal(out, "");
    char *prefix = myc_test_fmt("mycelia: %s:", rel);
    assert_prefix(err, prefix);
    const char *p = err + strlen(prefix);
    if (*p < '1' || *p > '9') fail_msg("%s: no line number: %s", rel, err);
    while (*p >= '0' && *p <= '9') p++;
    assert_prefix(p, ": ");
    assert_int_equal(count_lines(err), 1);
    free(prefix);
    free(args);
    free(out);
    free(err);
  }
  globfree(&g);

  char *out, *err;
  assert_int_equal(myc_test_run("-c tests/configs/bad_unknown_key.ini --check", NULL, &out, &err),
                   2);
  assert_prefix(err, "mycelia: tests/configs/bad_unknown_key.ini:4: [kernel] unknown key "
                     "'pool_sise'");
  free(out);
  free(err);
  assert_int_equal(myc_test_run("--check -c tests/configs/bad_load_missing_plugin.ini", NULL,
                                &out, &err),
                   2);
  assert_string_equal(err, "mycelia: tests/configs/bad_load_missing_plugin.ini:7: plugin "
                           "'ghost' (tests/plugins/myc_ghost.so): cannot open: No such file "
                           "or directory\n");
  free(out);
  free(err);
}

/* Configs that parse but fail while loading plugins: written into a temp
 * dir because they name this build's folders. */
static void test_check_plugin_errors(void **state) {
  char *dir = myc_test_tmpdir();
  static const struct {
    const char *ini;  /* %s: plugin folder */
    int line;
    const char *says;
  } cases[] = {
      {"[kernel]\nplugin_dir = %s\n[plugin kv]\ncolour = red\n", 4,
       "[plugin kv] unknown key 'colour' (known: file, fsync, fsync_interval_ms)"},
      {"[kernel]\nplugin_dir = %s\n[plugin kv]\nfsync = sometimes\n", 4,
       "[plugin kv] fsync = 'sometimes': expected one of always|interval|never"},
      {"[kernel]\nplugin_dir = %s\n\n[plugin kv]\nfsync_interval_ms = soon\n", 5,
       "[plugin kv] fsync_interval_ms = 'soon': expected an integer"},
      {"[kernel]\nplugin_dir = %s\n[plugin echo]\n[plugin ghost]\nenabled = yes\n", 4,
       "plugin 'ghost' (" MYC_TEST_PLUGIN_DIR "/myc_ghost.so): cannot open"},
      {"[kernel]\nplugin_dir = %s\n[plugin kv]\npath = myc_nokv.so\n", 4,
       "plugin 'kv' (" MYC_TEST_PLUGIN_DIR "/myc_nokv.so): cannot open"},
      {"[kernel]\nplugin_dir = %s\n[plugin echo]\n[plugin echo2]\npath = myc_echo.so\n", 4,
       "[plugin echo2] scheme 'echo' is already served by 'echo'"},
      {"[kernel]\nplugin_dir = %s/../test-plugins\n[plugin old]\npath = myc_l_abi2.so\n", 4,
       "plugin 'old' (" MYC_TEST_BAD_PLUGIN_DIR "/myc_l_abi2.so): built for ABI 2.0, this host "
       "speaks 1.0"},
      {"[kernel]\nplugin_dir = %s/../test-plugins\n[plugin l_noentry]\n", 3,
       "no entry symbol 'myc_plugin_entry_v1'"},
      {"[kernel]\nplugin_dir = %s/../test-plugins\n[plugin f]\npath = myc_l_initfail.so\n", 3,
       "plugin 'f' (" MYC_TEST_BAD_PLUGIN_DIR "/myc_l_initfail.so): init failed: deliberate "
       "failure of 'f' (fail = true)"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *text = myc_test_fmt(cases[i].ini, MYC_TEST_PLUGIN_DIR);
    char *path = myc_test_write_text(dir, "broken.ini", text);
    char *args = myc_test_fmt("--check -c '%s'", path), *out, *err;
    assert_int_equal(myc_test_run(args, NULL, &out, &err), 2);
    assert_string_equal(out, "");
    char *prefix = myc_test_fmt("mycelia: %s:%d: ", path, cases[i].line);
    assert_prefix(err, prefix);
    myc_test_assert_has(err, cases[i].says);
    assert_int_equal(count_lines(err), 1);
    free(prefix);
    free(args);
    free(out);
    free(err);
    free(path);
    free(text);
  }
  myc_test_rmtree(dir);
  free(dir);
}

/* A config that cannot be read at all, and no config at all. */
static void test_missing_config(void **state) {
  char *out, *err;
  assert_int_equal(myc_test_run("--check -c tests/configs/nope.ini", NULL, &out, &err), 2);
  assert_string_equal(err, "mycelia: tests/configs/nope.ini: cannot open: No such file or "
                           "directory\n");
  free(out);
  free(err);
  /* default: config/mycelia.ini relative to the working directory */
  char *dir = myc_test_tmpdir();
  assert_int_equal(myc_test_run_at(dir, "--check", NULL, &out, &err), 2);
  myc_test_assert_has(err, "config/mycelia.ini: cannot open");
  free(out);
  free(err);
  myc_test_rmtree(dir);
  free(dir);
}

/* A plugin whose start fails: --check passes (it starts nothing), a run
 * is a run-time failure with exit 1. */
static void test_start_failure(void **state) {
  char *dir = myc_test_tmpdir();
  char *cfg = myc_test_write_text(dir, "sf.ini",
                                  "[kernel]\nplugin_dir = " MYC_TEST_BAD_PLUGIN_DIR "\n"
                                  "[plugin good]\npath = myc_l_good.so\n"
                                  "[plugin sf]\npath = myc_l_startfail.so\n");
  char *args = myc_test_fmt("-c '%s' --check", cfg), *out, *err;
  assert_int_equal(myc_test_run(args, NULL, &out, &err), 0);
  free(out);
  free(err);
  free(args);
  args = myc_test_fmt("-c '%s'", cfg);
  assert_int_equal(myc_test_run(args, NULL, &out, &err), 1);
  assert_string_equal(err, "mycelia: plugin 'sf' (" MYC_TEST_BAD_PLUGIN_DIR
                           "/myc_l_startfail.so): start failed: input/output error\n");
  free(out);
  free(err);
  free(args);
  myc_test_rmtree(dir);
  free(cfg);
  free(dir);
}

/* ==== $MYCELIA_CONFIG ================================================== */

/* $MYCELIA_CONFIG stands in for -c, which wins over it. */
static void test_env_config(void **state) {
  char *dir = myc_test_tmpdir();
  char *good = run_config(dir);
  char *bad = myc_test_write_text(dir, "bad.ini", "[kernel]\nworkers = lots\n");
  char *out, *err;

  assert_int_equal(setenv("MYCELIA_CONFIG", good, 1), 0);
  assert_int_equal(myc_test_run("--check", NULL, &out, &err), 0);
  char *want = myc_test_fmt("%s: OK\n", good);
  assert_string_equal(out, want);
  free(want);
  free(out);
  free(err);
  /* it drives a real run too */
  assert_int_equal(myc_test_run("", "GET echo://x hello\n", &out, &err), 0);
  assert_string_equal(out, "OK hello\n");
  free(out);
  free(err);

  assert_int_equal(setenv("MYCELIA_CONFIG", bad, 1), 0);
  assert_int_equal(myc_test_run("--check", NULL, &out, &err), 2);
  want = myc_test_fmt(
      "mycelia: %s:2: [kernel] workers = 'lots': expected an integer from 0 to 64\n", bad);
  assert_string_equal(err, want);
  free(want);
  free(out);
  free(err);

  /* -c wins over the environment */
  char *args = myc_test_fmt("-c '%s' --check", good);
  assert_int_equal(myc_test_run(args, NULL, &out, &err), 0);
  free(args);
  free(out);
  free(err);

  /* --describe reads plugin_dir from $MYCELIA_CONFIG as well */
  assert_int_equal(setenv("MYCELIA_CONFIG", good, 1), 0);
  assert_int_equal(myc_test_run("--describe echo", NULL, &out, &err), 0);
  myc_test_assert_has(out, "file:    " MYC_TEST_PLUGIN_DIR "/myc_echo.so");
  free(out);
  free(err);

  assert_int_equal(unsetenv("MYCELIA_CONFIG"), 0);
  myc_test_rmtree(dir);
  free(good);
  free(bad);
  free(dir);
}

/* ==== --describe ======================================================= */

/* The name --describe gives a key's type. */
static const char *type_name(const myc_config_key *c) {
  static const char *const names[] = {"string", "int", "bool", "double", "enum"};
  return c->type >= 0 && c->type <= 4 ? names[c->type] : "?";
}

/* Every key of kv's own spec, read from the .so, appears with its type,
 * default and help. */
static void test_describe_kv(void **state) {
  char *dir = myc_test_tmpdir();
  char *cfg = run_config(dir);
  char *args = myc_test_fmt("-c '%s' --describe kv", cfg), *out, *err;
  assert_int_equal(myc_test_run(args, NULL, &out, &err), 0);

  void *h = dlopen(MYC_TEST_PLUGIN_DIR "/myc_kv.so", RTLD_NOW | RTLD_LOCAL);
  assert_non_null(h);
  const myc_plugin *(*entry)(const myc_host *);
  *(void **)&entry = dlsym(h, MYC_PLUGIN_ENTRY_NAME);
  assert_non_null(entry);
  const myc_plugin *d = entry(myc_host_table());
  assert_non_null(d);

  char *head = myc_test_fmt("%s %s: %s\n", d->name, d->version, d->description);
  assert_prefix(out, head);
  free(head);
  myc_test_assert_has(out, "file:    " MYC_TEST_PLUGIN_DIR "/myc_kv.so\n");
  myc_test_assert_has(out, "schemes: db\n");
  int keys = 0;
  for (const myc_config_key *c = d->config; c && c->key; c++, keys++) {
    /* the line that describes c */
    char *pat = myc_test_fmt("\n  %s ", c->key);
    const char *line = strstr(out, pat);
    if (!line) fail_msg("--describe kv does not list '%s':\n%s", c->key, out);
    const char *end = strchr(line + 1, '\n');
    char *text = strndup(line + 1, (size_t)(end - line - 1));
    myc_test_assert_has(text, type_name(c));
    if (c->type == MYC_CFG_ENUM) myc_test_assert_has(text, c->choices);
    myc_test_assert_has(text, c->required ? "required" : c->def ? c->def : "(none)");
    myc_test_assert_has(text, c->help);
    free(text);
    free(pat);
  }
  assert_true(keys >= 1);
  dlclose(h);
  free(out);
  free(err);
  free(args);

  /* a path instead of a name */
  assert_int_equal(myc_test_run("--describe " MYC_TEST_BAD_PLUGIN_DIR "/myc_l_spec.so", NULL, &out,
                                &err),
                   0);
  assert_prefix(out, "l_spec 1.2.3: plugin with a config spec of every type\n");
  myc_test_assert_has(out, "  mode ");
  myc_test_assert_has(out, "enum(fast|slow)");
  myc_test_assert_has(out, "  name ");
  myc_test_assert_has(out, "required");
  free(out);
  free(err);
  myc_test_rmtree(dir);
  free(cfg);
  free(dir);
}

/* --describe of what cannot be loaded: exit 2 and the reason. */
static void test_describe_errors(void **state) {
  char *dir = myc_test_tmpdir();
  char *cfg = run_config(dir);
  char *args = myc_test_fmt("-c '%s' --describe nosuch", cfg), *out, *err;
  assert_int_equal(myc_test_run(args, NULL, &out, &err), 2);
  assert_string_equal(out, "");
  myc_test_assert_has(err, "plugin 'nosuch' (" MYC_TEST_PLUGIN_DIR "/myc_nosuch.so): cannot open");
  assert_int_equal(count_lines(err), 1);
  free(out);
  free(err);
  free(args);

  /* the same checks as loading: a bad ABI is refused */
  assert_int_equal(myc_test_run("--describe " MYC_TEST_BAD_PLUGIN_DIR "/myc_l_abi2.so", NULL, &out,
                                &err),
                   2);
  myc_test_assert_has(err, "built for ABI 2.0, this host speaks 1.0");
  free(out);
  free(err);

  /* a plugin file others may write is refused by path too */
  char *copy = myc_test_fmt("%s/myc_copy.so", dir);
  myc_test_copy_file(MYC_TEST_BAD_PLUGIN_DIR "/myc_l_good.so", copy, 0664);
  args = myc_test_fmt("--describe '%s'", copy);
  assert_int_equal(myc_test_run(args, NULL, &out, &err), 2);
  myc_test_assert_has(err, "writable by group or others");
  free(out);
  free(err);
  assert_int_equal(chmod(copy, 0644), 0);
  assert_int_equal(myc_test_run(args, NULL, &out, &err), 0);
  assert_prefix(out, "l_good 1.0.0: ");
  free(out);
  free(err);
  free(args);
  free(copy);

  /* a broken config named with -c is reported, not ignored */
  assert_int_equal(myc_test_run("-c tests/configs/bad_range.ini --describe kv", NULL, &out, &err),
                   2);
  assert_prefix(err, "mycelia: tests/configs/bad_range.ini:3: ");
  free(out);
  free(err);
  myc_test_rmtree(dir);
  free(cfg);
  free(dir);
}

/* ==== The console pipeline ============================================= */

/* Lines in, one answer per line out, in order; exit 0 at end of input. */
static void test_pipeline(void **state) {
  char *dir = myc_test_tmpdir();
  char *cfg = run_config(dir);
  char *args = myc_test_fmt("-c '%s'", cfg), *out, *err;
  assert_int_equal(myc_test_run(args, "PUT db://users/1 {\"name\":\"ada\"}\nGET db://users/1\n",
                                &out, &err),
                   0);
  assert_string_equal(out, "OK\nOK {\"name\":\"ada\"}\n");
  free(out);
  free(err);

  /* errors by name, answers in input order, data from the last run */
  assert_int_equal(myc_test_run(args,
                                "GET nosuch://x\n"
                                "GET db://users/404\n"
                                "GET db://users/1\n"
                                "GET echo://e  two  spaces \n",
                                &out, &err),
                   0);
  char *l1 = out, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
  char *l4 = strchr(l3, '\n') + 1;
  assert_int_equal(count_lines(out), 4);
  assert_prefix(l1, "ERR ENOROUTE ");
  char *first = strndup(l1, (size_t)(l2 - l1));
  myc_test_assert_has(first, "nosuch://x");
  free(first);
  assert_prefix(l2, "ERR ENOENT ");
  assert_prefix(l3, "OK {\"name\":\"ada\"}\n");
  assert_string_equal(l4, "OK  two  spaces \n");
  free(out);
  free(err);
  free(args);
  myc_test_rmtree(dir);
  free(cfg);
  free(dir);
}

/* ==== Signals ========================================================== */

/* Start mycelia with `cfg`, stdin from a FIFO we keep open, PUT key=value,
 * wait for its OK, send `sig`, and expect exit 0. */
static void run_and_signal(const char *dir, const char *cfg, int sig, const char *key,
                           const char *value) {
  char *fifo = myc_test_fmt("%s/stdin", dir), *errf = myc_test_fmt("%s/stderr", dir);
  unlink(fifo);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  int wfd = open(fifo, O_RDWR | O_CLOEXEC); /* does not wait for a reader */
  assert_true(wfd >= 0);
  int pout[2];
  assert_int_equal(pipe2(pout, O_CLOEXEC), 0);

  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int in = open(fifo, O_RDONLY);
    int er = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || er < 0 || dup2(in, 0) < 0 || dup2(pout[1], 1) < 0 || dup2(er, 2) < 0 ||
        chdir(MYC_TEST_SOURCE_DIR) < 0)
      _exit(120);
    execl(BIN, BIN, "-c", cfg, (char *)NULL);
    _exit(121);
  }
  close(pout[1]);
  char *line = myc_test_fmt("PUT db://sig/%s %s\n", key, value);
  assert_int_equal(write(wfd, line, strlen(line)), (ssize_t)strlen(line));
  free(line);

  /* The answer proves the kernel is up and the handlers installed. */
  char got[256];
  size_t n = 0;
  while (n < 3) {
    ssize_t r = read(pout[0], got + n, sizeof(got) - 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      char *e = myc_test_read_file_or_empty(errf);
      fail_msg("mycelia ended before answering: %s", e);
    }
    n += (size_t)r;
  }
  got[n] = '\0';
  assert_string_equal(got, "OK\n");

  assert_int_equal(kill(pid, sig), 0);
  int st;
  while (waitpid(pid, &st, 0) < 0) assert_int_equal(errno, EINTR);
  ssize_t r = read(pout[0], got, sizeof(got));
  assert_int_equal(r, 0); /* nothing more was printed */
  close(pout[0]);
  close(wfd);
  char *e = myc_test_read_file_or_empty(errf);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    fail_msg("after signal %d: status 0x%x, stderr: %s", sig, st, e);
  free(e);
  free(fifo);
  free(errf);
}

/* A plugin folder of copies: echo, kv, console and l_initfail (which
 * records its lifecycle), with a config that runs all four. The kv log and
 * the lifecycle marker live in `dir`. */
static char *signal_config(const char *dir) {
  static const char *const files[] = {
      MYC_TEST_PLUGIN_DIR "/myc_echo.so", MYC_TEST_PLUGIN_DIR "/myc_kv.so",
      MYC_TEST_PLUGIN_DIR "/myc_console.so", MYC_TEST_BAD_PLUGIN_DIR "/myc_l_initfail.so"};
  char *pdir = myc_test_fmt("%s/plugins", dir);
  assert_int_equal(mkdir(pdir, 0755), 0);
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    char *to = myc_test_fmt("%s/%s", pdir, strrchr(files[i], '/') + 1);
    myc_test_copy_file(files[i], to, 0755);
    free(to);
  }
  char *text = myc_test_fmt(
      "[kernel]\nplugin_dir = %s\nlog_level = warn\n"
      "[plugin life]\npath = myc_l_initfail.so\nfail = false\nmarker = %s/life\n"
      "[plugin echo]\n"
      "[plugin kv]\nfile = %s/kv.log\nfsync = never\n"
      "[plugin console]\n",
      pdir, dir, dir);
  char *path = myc_test_write_text(dir, "signal.ini", text);
  free(text);
  free(pdir);
  return path;
}

/* After the signal every plugin was stopped and finalised, and a new run
 * reads the key back from the kv log. */
static void signal_test(int sig, const char *key) {
  char *dir = myc_test_tmpdir();
  char *cfg = signal_config(dir);
  char value[64];
  snprintf(value, sizeof(value), "v%d-%ld", sig, (long)getpid());
  run_and_signal(dir, cfg, sig, key, value);

  char *life = myc_test_fmt("%s/life", dir), *marks = myc_test_read_file_or_empty(life);
  assert_string_equal(marks, "init\nstart\nstop\nfini\n");
  free(marks);

  char *args = myc_test_fmt("-c '%s'", cfg), *in = myc_test_fmt("GET db://sig/%s\n", key);
  char *out, *err;
  assert_int_equal(myc_test_run(args, in, &out, &err), 0);
  char *want = myc_test_fmt("OK %s\n", value);
  assert_string_equal(out, want);
  free(want);
  free(out);
  free(err);
  /* the second run, ended by end of input, went through the same steps */
  marks = myc_test_read_file_or_empty(life);
  assert_string_equal(marks, "init\nstart\nstop\nfini\ninit\nstart\nstop\nfini\n");
  free(marks);
  free(life);
  free(in);
  free(args);
  myc_test_rmtree(dir);
  free(cfg);
  free(dir);
}

/* SIGTERM: clean stop, exit 0. */
static void test_sigterm(void **state) { signal_test(SIGTERM, "term"); }

/* SIGINT: clean stop, exit 0. */
static void test_sigint(void **state) { signal_test(SIGINT, "int"); }

/* Run every test. */
int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version),
      cmocka_unit_test(test_help),
      cmocka_unit_test(test_bad_usage),
      cmocka_unit_test(test_check_shipped_config),
      cmocka_unit_test(test_check_bad_fixtures),
      cmocka_unit_test(test_check_plugin_errors),
      cmocka_unit_test(test_missing_config),
      cmocka_unit_test(test_start_failure),
      cmocka_unit_test(test_env_config),
      cmocka_unit_test(test_describe_kv),
      cmocka_unit_test(test_describe_errors),
      cmocka_unit_test(test_pipeline),
      cmocka_unit_test(test_sigterm),
      cmocka_unit_test(test_sigint),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
