/* Crash reports: when a plugin takes the process down, say which.
 *
 * myc_kernel_handle_signals installs one handler for the fatal signals
 * (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT). It prints a single line
 *
 *   mycelia: fatal signal 11 (SIGSEGV) at address 0x0 in plugin 'NAME'
 *   (FILE) while handling GET 'URI'
 *
 * from the thread-locals the scheduler sets around every handler call
 * (myc__tls_current, myc__tls_msg), then re-raises with the default
 * action (SA_RESETHAND), so the process still dies by the signal (core dump and exit
 * status as usual). Everything in the handler is async-signal-safe: fixed
 * buffers and write(2), no stdio, no malloc, no locks. It runs on an
 * alternate stack, so a plugin that overflows its stack is reported too
 * (on the thread that installed the handler; worker threads report every
 * other fault on their own stacks). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define CRASH_ALTSTACK (64 * 1024)
#define CRASH_URI_MAX 512 /* URI bytes shown; longer ones end in "..." */

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define N_CRASH_SIGNALS (sizeof(crash_signals) / sizeof(crash_signals[0]))

#ifdef MYC_COVERAGE
void __gcov_dump(void);
#endif

static char crash_stack[CRASH_ALTSTACK] __attribute__((aligned(64)));
static _Atomic int crash_installed;

/* ==== A line built without the C library's formatting ================= */

typedef struct crash_line {
  char buf[1024];
  size_t len;
} crash_line;

/* Append p[0..n), silently cut at the buffer's end (keeping room for
 * the final newline). */
static void put(crash_line *l, const char *p, size_t n) {
  size_t room = sizeof(l->buf) - 1 - l->len;
  if (n > room) n = room;
  memcpy(l->buf + l->len, p, n);
  l->len += n;
}

/* Append a C string of at most `max` bytes; NULL prints "?". */
static void put_str(crash_line *l, const char *s, size_t max) {
  if (!s) s = "?";
  size_t n = 0;
  while (n < max && s[n]) n++;
  put(l, s, n);
}

/* Append an unsigned number in decimal. */
static void put_dec(crash_line *l, unsigned long v) {
  char d[24];
  size_t i = sizeof(d);
  do d[--i] = (char)('0' + v % 10);
  while ((v /= 10) && i);
  put(l, d + i, sizeof(d) - i);
}

/* Append a pointer-sized value as 0x-prefixed hex. */
static void put_hex(crash_line *l, uintptr_t v) {
  char d[2 + 2 * sizeof(v)];
  size_t i = sizeof(d);
  do d[--i] = "0123456789abcdef"[v & 15];
  while ((v >>= 4) && i > 2);
  d[--i] = 'x';
  d[--i] = '0';
  put(l, d + i, sizeof(d) - i);
}

static const char *signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default: return "signal";
  }
}

/* Write the whole line to stderr, retrying short writes. */
static void write_all(const char *p, size_t n) {
  while (n) {
    ssize_t w = write(STDERR_FILENO, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

/* ==== The handler ====================================================== */

/* Describe the plugin and message this thread was running. Only reads
 * memory the kernel owns and keeps mapped while a handler runs. */
static void describe(crash_line *l) {
  const myc_ctx *s = myc__tls_current;
  const myc_msg *m = myc__tls_msg;
  if (!s) {
    put_str(l, " outside any plugin handler", 64);
    return;
  }
  put_str(l, " in plugin '", 64);
  put_str(l, s->name, 64);
  put_str(l, "'", 1);
  if (s->lib.file) {
    put_str(l, " (", 2);
    put_str(l, s->lib.file, 256);
    put_str(l, ")", 1);
  }
  if (!m) {
    put_str(l, " in a timer or I/O callback", 64);
    return;
  }
  if (m->magic != MYC__MAGIC_LIVE || !m->uri) {
    put_str(l, " while handling a message already released", 64);
    return;
  }
  /* A reply carries its request's verb and URI. */
  if (m->kind == MYC_KIND_REPLY || m->kind == MYC_KIND_ERROR)
    put_str(l, " while handling the reply to ", 32);
  else
    put_str(l, " while handling ", 16);
  put_str(l, m->verb, sizeof(m->verb));
  put_str(l, " '", 2);
  size_t n = m->uri_len;
  put(l, m->uri, n > CRASH_URI_MAX ? CRASH_URI_MAX : n);
  if (n > CRASH_URI_MAX) put_str(l, "...", 3);
  put_str(l, "'", 1);
}

/* Report, then die by the same signal with its default action. */
static void on_fatal(int sig, siginfo_t *si, void *uctx) {
  (void)uctx;
  crash_line l;
  l.len = 0;
  put_str(&l, "mycelia: fatal signal ", 32);
  put_dec(&l, (unsigned long)sig);
  put_str(&l, " (", 2);
  put_str(&l, signal_name(sig), 16);
  put_str(&l, ")", 1);
  if (si && (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL)) {
    put_str(&l, " at address ", 16);
    put_hex(&l, (uintptr_t)si->si_addr);
  }
  describe(&l);
  l.buf[l.len++] = '\n';
  write_all(l.buf, l.len);

#ifdef MYC_COVERAGE
  /* Coverage builds only: a process killed by a signal never writes its
   * counters, so the crash tests would show this file as unrun. */
  __gcov_dump();
#endif
  /* SA_RESETHAND already restored the default action (so a fault in the
   * lines above kills at once); unblock and raise to die by it. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  raise(sig);
}

/* Install the fatal-signal handler and this thread's alternate stack.
 * Idempotent: later calls (another kernel) change nothing. Returns 0 or
 * MYC_EIO. */
int myc__crash_install(void) {
  if (atomic_exchange(&crash_installed, 1)) return 0;
  stack_t ss;
  memset(&ss, 0, sizeof(ss));
  ss.ss_sp = crash_stack;
  ss.ss_size = sizeof(crash_stack);
  if (sigaltstack(&ss, NULL) < 0) return MYC_EIO;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_fatal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < N_CRASH_SIGNALS; i++)
    if (sigaction(crash_signals[i], &sa, NULL) < 0) return MYC_EIO;
  return 0;
}
