/* fuzz_console: the console plugin's line protocol, end to end.
 *
 * The console's own source is compiled in (unchanged), so the fuzzer sees
 * its branches. Each input becomes the console's input file (a memfd,
 * read through io_watch in CON_CHUNK pieces exactly as in production);
 * the console runs on a fresh kernel with echo and kernel:// until it has
 * answered everything and asked for shutdown. Checks:
 *  - exactly one answer line per request line (blank and '#' lines get
 *    none), each starting "OK" or "ERR ", in input order;
 *  - a request to echo:// that succeeds is answered with its own body
 *    (CR and LF escaped);
 *  - the console finishes (no stall), every message goes back to the pool
 *    and the kernel's books balance. */
#include "fuzz_common.h"

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../plugins/console/console.c"

static myc_config *fuzz_con_cfg;
static void *fuzz_con_echo; /* keeps echo mapped between kernels */

/* The config every run uses: echo and kernel://, quiet. Echo stays loaded
 * for the whole run: in the fuzz build it carries coverage counters, which
 * must not be unmapped by the kernel's dlclose. */
static void fuzz_con_setup(void) {
  if (fuzz_con_cfg) return;
  char ini[1024];
  char *err = NULL;
  fuzz_con_echo = dlopen(MYC_FUZZ_PLUGIN_DIR "/myc_echo.so", RTLD_NOW | RTLD_LOCAL);
  FUZZ_CHECK(fuzz_con_echo != NULL);
  snprintf(ini, sizeof(ini),
           "[kernel]\nplugin_dir = %s\nlog_level = error\npool_size = 256\nqueue_capacity = 128\n"
           "[plugin echo]\n",
           MYC_FUZZ_PLUGIN_DIR);
  FUZZ_CHECK(myc_config_parse(ini, "fuzz.ini", &fuzz_con_cfg, &err) == 0);
  FUZZ_CHECK(MYC_PLUGIN_ENTRY(myc_host_table()) == &con_plugin);
}

/* Free the shared config (for the replaying test). */
void myc_fuzz_console_cleanup(void) {
  myc_config_free(fuzz_con_cfg);
  fuzz_con_cfg = NULL;
  if (fuzz_con_echo) dlclose(fuzz_con_echo);
  fuzz_con_echo = NULL;
}

/* What the console should print for one request line p[0..n), when the
 * reference can tell: "OK BODY" for an echo:// request that the kernel
 * accepts. Returns 1 and fills *want (malloc'd) then, else 0. */
static int expect_echo(const char *p, size_t n, char **want, size_t *wlen) {
  while (n && p[n - 1] == '\r') n--;
  size_t i = 0;
  while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
  size_t v0 = i;
  while (i < n && p[i] != ' ' && p[i] != '\t') i++;
  size_t v1 = i;
  while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
  size_t u0 = i;
  while (i < n && p[i] != ' ' && p[i] != '\t') i++;
  size_t u1 = i;
  if (u1 == u0 || u1 - u0 < 7 || memcmp(p + u0, "echo://", 7) != 0) return 0;
  /* A verb the kernel takes: 1..15 of [A-Za-z0-9_-]. */
  if (v1 - v0 >= 16) return 0;
  for (size_t j = v0; j < v1; j++) {
    char c = p[j];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return 0;
  }
  /* A URI the kernel takes: no control bytes or NUL. */
  for (size_t j = u0; j < u1; j++)
    if ((unsigned char)p[j] < 0x20 || p[j] == 0x7f) return 0;
  const char *body = u1 < n ? p + u1 + 1 : p + n;
  size_t blen = u1 < n ? n - u1 - 1 : 0;
  char *w = malloc(3 + 2 * blen + 1), *o = w;
  FUZZ_CHECK(w != NULL);
  memcpy(o, "OK", 2);
  o += 2;
  if (blen) *o++ = ' ';
  for (size_t j = 0; j < blen; j++) {
    if (body[j] == '\n' || body[j] == '\r') {
      *o++ = '\\';
      *o++ = body[j] == '\n' ? 'n' : 'r';
    } else {
      *o++ = body[j];
    }
  }
  *want = w;
  *wlen = (size_t)(o - w);
  return 1;
}

/* Compare the console's output with the input, line by line. */
static void check_output(const char *in, size_t size, const char *out,
                         size_t olen) {
  const char *p = in, *end = in + size, *o = out, *oend = out + olen;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    size_t t = n;
    while (t && p[t - 1] == '\r') t--;
    size_t i = 0;
    while (i < t && (p[i] == ' ' || p[i] == '\t')) i++;
    if (i < t && p[i] != '#') {
      const char *onl = memchr(o, '\n', (size_t)(oend - o));
      FUZZ_CHECK(onl != NULL); /* one answer per request line */
      size_t alen = (size_t)(onl - o);
      FUZZ_CHECK((alen >= 2 && memcmp(o, "OK", 2) == 0 &&
                  (alen == 2 || o[2] == ' ')) ||
                 (alen >= 4 && memcmp(o, "ERR ", 4) == 0));
      char *want;
      size_t wlen;
      if (alen >= 2 && o[0] == 'O' && expect_echo(p, n, &want, &wlen)) {
        FUZZ_CHECK(alen == wlen && memcmp(o, want, wlen) == 0);
        free(want);
      }
      o = onl + 1;
    }
    p += n + 1;
  }
  FUZZ_CHECK(o == oend); /* nothing more was printed */
}

/* One input: run the console over it on a fresh kernel. */
int myc_fuzz_console(const uint8_t *data, size_t size) {
  fuzz_con_setup();
  myc_kernel *k = NULL;
  char *err = NULL;
  FUZZ_CHECK(myc_kernel_new(fuzz_con_cfg, &k, &err) == 0);
  FUZZ_CHECK(myc_kernel_start(k, &err) == 0);

  int fd = memfd_create("console-input", MFD_CLOEXEC);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(write(fd, data, size) == (ssize_t)size);
  FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0);
  char *out = NULL;
  size_t olen = 0;
  FILE *of = open_memstream(&out, &olen);
  FUZZ_CHECK(of != NULL);

  void *state = NULL;
  char why[256];
  FUZZ_CHECK(con_plugin.init(myc_kernel_ctx(k), &state, why, sizeof(why)) == 0);
  con_state *c = state;
  c->fd = fd;
  c->own_fd = 1;
  c->out = of;
  FUZZ_CHECK(con_plugin.start(c) == 0);
  for (unsigned long iter = 0; !c->finished; iter++) {
    myc_kernel_poll(k);
    FUZZ_CHECK(iter < 10000000); /* the console stalled */
  }
  FUZZ_CHECK(c->exit_code == 0);
  while (myc_kernel_poll(k) > 0) {
  }
  con_plugin.stop(c);
  con_plugin.fini(c);

  myc_stats st;
  myc_pool_stats ps;
  myc_kernel_get_stats(k, &st);
  myc_pool_get_stats(k, &ps);
  FUZZ_CHECK(st.sent == st.handled + st.errored + st.rejected);
  FUZZ_CHECK(ps.in_use == 0);
  FUZZ_CHECK(st.bad_releases == 0);
  myc_kernel_free(k);

  fclose(of);
  check_output((const char *)data, size, out, olen);
  free(out);
  return 0;
}

#ifndef MYC_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return myc_fuzz_console(data, size);
}
#endif
