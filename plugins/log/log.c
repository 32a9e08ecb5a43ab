/* log: write messages as log lines.
 *
 *   ANY log://LEVEL/COMPONENT  BODY  ->  "TIMESTAMP LEVEL COMPONENT BODY\n"
 *
 * LEVEL is error, warn, info or debug (any case); lines above `level`
 * are dropped (still answered OK). TIMESTAMP is UTC with milliseconds,
 * e.g. 2024-05-01T12:00:00.123Z; LEVEL is written in capitals. Newlines in
 * the body are written as "\n" (CR as "\r") so every entry is one line.
 * Each line is one write(2) to a file opened O_APPEND (`file`), or to
 * standard error.
 *
 * SIGHUP reopens the file, for logrotate. The plugin has no thread: its
 * signal handler only bumps a counter, and the file is reopened on the
 * subsystem's own thread, before the next line is written or at the next
 * tick of a timer on the kernel's loop, whichever comes first. The handler
 * is installed only while some instance logs to a file with `sighup` on;
 * it calls the handler it replaced, and the old one is put back when the
 * last such instance finishes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <mycelia/plugin.h>

static const myc_host *H;

#define LOG_HUP_CHECK_MS 500 /* how soon an idle instance lets go of the
                                rotated file                           */
#define LOG_LINE_STACK 1024  /* lines up to this long need no malloc    */

enum { LOG_ROUTE_ENTRY = 1 };

typedef struct log_state {
  myc_ctx *ctx;
  int fd;            /* the file, or STDERR_FILENO                   */
  char *path;        /* NULL: standard error                         */
  int level;         /* MYC_LOG_*: lines above it are dropped        */
  int hup;           /* this instance counts in log_hup_users        */
  unsigned hup_seen; /* log_hup_gen when the file was last opened    */
  myc_timer *timer;  /* reopen check, between start and stop         */
} log_state;

static const char *const log_levels[] = {"error", "warn", "info", "debug"};
static const char *const log_levels_uc[] = {"ERROR", "WARN", "INFO", "DEBUG"};

/* ==== SIGHUP =========================================================== */

/* Shared by every instance in the process (the .so is loaded once). */
static atomic_uint log_hup_gen;           /* SIGHUPs seen               */
static pthread_mutex_t log_hup_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned log_hup_users;            /* instances needing SIGHUP   */
static struct sigaction log_hup_old;      /* what we replaced           */

/* The signal handler: count, then pass the signal on to the handler we
 * replaced (if it was a function: SIG_DFL would kill the process, which
 * is what installing ours is meant to prevent). Async-signal-safe. */
static void log_on_sighup(int sig, siginfo_t *info, void *uctx) {
  atomic_fetch_add(&log_hup_gen, 1);
  if (log_hup_old.sa_flags & SA_SIGINFO) {
    if (log_hup_old.sa_sigaction) log_hup_old.sa_sigaction(sig, info, uctx);
  } else if (log_hup_old.sa_handler != SIG_DFL &&
             log_hup_old.sa_handler != SIG_IGN) {
    log_hup_old.sa_handler(sig);
  }
}

/* Install the handler for the first user. Returns 0 or MYC_EIO. */
static int log_hup_acquire(void) {
  int rc = 0;
  pthread_mutex_lock(&log_hup_mu);
  if (log_hup_users == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = log_on_sighup;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGHUP, NULL, &log_hup_old) < 0 ||
        sigaction(SIGHUP, &sa, NULL) < 0)
      rc = MYC_EIO;
  }
  if (rc == 0) log_hup_users++;
  pthread_mutex_unlock(&log_hup_mu);
  return rc;
}

/* The last user is gone: put the old handler back. If someone installed a
 * handler over ours since, ours may still be called through theirs, so
 * this file must then never be unloaded: pin it. */
static void log_hup_release(log_state *s) {
  pthread_mutex_lock(&log_hup_mu);
  if (--log_hup_users == 0) {
    struct sigaction cur;
    if (sigaction(SIGHUP, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
        cur.sa_sigaction == log_on_sighup) {
      sigaction(SIGHUP, &log_hup_old, NULL);
    } else {
      Dl_info dl;
      if (dladdr((void *)log_on_sighup, &dl) && dl.dli_fname)
        dlopen(dl.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
      H->log(s->ctx, MYC_LOG_WARN,
             "another SIGHUP handler was installed over the log plugin's; "
             "leaving both in place");
    }
  }
  pthread_mutex_unlock(&log_hup_mu);
}

/* ==== The file ========================================================= */

/* Open s->path for appending. Returns the fd or -1 (errno set). */
static int log_open(const log_state *s) {
  return open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/* After a SIGHUP: open the file again (it may have been renamed) and
 * switch to it. On failure keep writing to the old one and say so. */
static void log_reopen_if_hup(log_state *s) {
  unsigned gen = atomic_load(&log_hup_gen);
  if (!s->path || gen == s->hup_seen) return;
  s->hup_seen = gen;
  int fd = log_open(s);
  if (fd < 0) {
    H->log(s->ctx, MYC_LOG_ERROR, "SIGHUP: cannot reopen '%s': %s", s->path,
           strerror(errno));
    return;
  }
  close(s->fd);
  s->fd = fd;
}

/* Timer on the kernel's loop: reopen promptly even with nothing to log. */
static void log_tick(void *udata) { log_reopen_if_hup(udata); }

/* ==== Lines ============================================================ */

/* Index of `name` (len bytes) in log_levels, or -1. */
static int log_level_of(const char *name, size_t len) {
  for (int i = 0; i < 4; i++)
    if (strlen(log_levels[i]) == len && strncasecmp(log_levels[i], name, len) == 0)
      return i;
  return -1;
}

/* Bytes the body takes once CR and LF are escaped. */
static size_t log_escaped_len(const char *p, size_t n) {
  size_t out = n;
  for (size_t i = 0; i < n; i++)
    if (p[i] == '\n' || p[i] == '\r') out++;
  return out;
}

/* Copy the body into dst with CR and LF escaped; returns bytes written. */
static size_t log_escape(char *dst, const char *p, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '\n' || p[i] == '\r') {
      dst[o++] = '\\';
      dst[o++] = p[i] == '\n' ? 'n' : 'r';
    } else {
      dst[o++] = p[i];
    }
  }
  return o;
}

/* "2024-05-01T12:00:00.123Z" into buf (at least 32 bytes). */
static int log_timestamp(char *buf, size_t cap) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  return (int)n + snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Write one line, normally with a single write(2). Returns 0, MYC_ENOMEM,
 * or MYC_EIO with errno saying why. */
static int log_write(log_state *s, int level, myc_slice comp, const char *body,
                     size_t blen) {
  char stack[LOG_LINE_STACK], ts[40];
  int tl = log_timestamp(ts, sizeof(ts));
  size_t ebody = log_escaped_len(body, blen);
  size_t need = (size_t)tl + 1 + 5 + 1 + comp.len + 1 + ebody + 1;
  char *line = need <= sizeof(stack) ? stack : malloc(need);
  if (!line) return MYC_ENOMEM;
  int n = snprintf(line, need, "%s %s %.*s", ts, log_levels_uc[level],
                   (int)comp.len, comp.ptr);
  size_t len = n < 0 ? 0 : (size_t)n;
  if (blen) {
    line[len++] = ' ';
    len += log_escape(line + len, body, blen);
  }
  line[len++] = '\n';

  int rc = 0, e = 0;
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(s->fd, line + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      e = w < 0 ? errno : EIO;
      rc = MYC_EIO;
      break;
    }
    off += (size_t)w;
  }
  if (line != stack) free(line);
  errno = e;
  return rc;
}

/* ==== Plugin callbacks ================================================= */

/* Write the message as a line; an unknown LEVEL is EINVAL, a failed write
 * EIO (both with a reason). Any verb is accepted. */
static int log_handle(void *state, myc_msg *msg, const myc_match *match) {
  log_state *s = state;
  if (match->route != LOG_ROUTE_ENTRY) return MYC_ENOROUTE;
  int level = log_level_of(match->params[0].ptr, match->params[0].len);
  if (level < 0) {
    char why[160];
    int n = snprintf(why, sizeof(why),
                     "unknown level '%.*s' (expected error, warn, info or debug)",
                     (int)(match->params[0].len > 32 ? 32 : match->params[0].len),
                     match->params[0].ptr);
    return H->reply(msg, MYC_EINVAL, why, n < 0 ? 0 : (size_t)n);
  }
  if (level > s->level) return 0; /* filtered: answered OK, not written */
  log_reopen_if_hup(s);
  size_t blen = 0;
  const char *body = H->msg_body(msg, &blen);
  int rc = log_write(s, level, match->params[1], body ? body : "", body ? blen : 0);
  if (rc == MYC_EIO) {
    char why[300];
    int n = snprintf(why, sizeof(why), "cannot write to %s: %s",
                     s->path ? s->path : "standard error", strerror(errno));
    return H->reply(msg, rc, why, n < 0 ? 0 : (size_t)n);
  }
  return rc;
}

/* Read the config, open the file and register the route. Fails naming
 * the file if it cannot be opened. */
static int log_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  log_state *s = calloc(1, sizeof(*s));
  *state = s;
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return MYC_ENOMEM;
  }
  s->ctx = ctx;
  s->fd = STDERR_FILENO;
  const char *lv = H->config_get(ctx, "level");
  s->level = lv ? log_level_of(lv, strlen(lv)) : MYC_LOG_INFO;
  if (s->level < 0) s->level = MYC_LOG_INFO; /* validated by the kernel */

  const char *file = H->config_get(ctx, "file");
  if (file && *file && strcmp(file, "-") != 0) {
    if (!(s->path = strdup(file))) {
      snprintf(err, errlen, "out of memory");
      return MYC_ENOMEM;
    }
    s->fd = log_open(s);
    if (s->fd < 0) {
      snprintf(err, errlen, "cannot open log file '%s': %s", file, strerror(errno));
      return MYC_EIO;
    }
    const char *hup = H->config_get(ctx, "sighup");
    if (!hup || strcasecmp(hup, "true") == 0 || strcasecmp(hup, "yes") == 0 ||
        strcasecmp(hup, "on") == 0 || strcmp(hup, "1") == 0) {
      if (log_hup_acquire() < 0) {
        snprintf(err, errlen, "cannot install a SIGHUP handler: %s", strerror(errno));
        return MYC_EIO;
      }
      s->hup = 1;
      s->hup_seen = atomic_load(&log_hup_gen);
    }
  }
  int rc = H->register_route(ctx, "{level}/{component}", LOG_ROUTE_ENTRY);
  if (rc < 0) {
    snprintf(err, errlen, "cannot register {level}/{component}: %s", H->strerror(rc));
    return rc;
  }
  return 0;
}

/* With SIGHUP handling on, check for a rotation every LOG_HUP_CHECK_MS. */
static int log_start(void *state) {
  log_state *s = state;
  if (!s->hup) return 0;
  return H->timer_start(s->ctx, LOG_HUP_CHECK_MS, LOG_HUP_CHECK_MS, log_tick, s,
                        &s->timer);
}

/* Stop the reopen timer; nothing is handled after this. */
static void log_stop(void *state) {
  log_state *s = state;
  if (s->timer) H->timer_stop(s->timer);
  s->timer = NULL;
}

/* Give the SIGHUP handler back, close the file, free. Safe after a
 * failed init. */
static void log_fini(void *state) {
  log_state *s = state;
  if (!s) return;
  if (s->hup) log_hup_release(s);
  if (s->path && s->fd >= 0) close(s->fd);
  free(s->path);
  free(s);
}

static const char *const log_schemes[] = {"log", NULL};

static const myc_config_key log_config[] = {
    {"file", MYC_CFG_STRING, "-", 0,
     "file to append lines to; \"-\" is standard error", NULL},
    {"level", MYC_CFG_ENUM, "info", 0,
     "most verbose level written; lines above it are dropped",
     "error|warn|info|debug"},
    {"sighup", MYC_CFG_BOOL, "true", 0,
     "reopen the file on SIGHUP (for logrotate); installs a signal handler",
     NULL},
    {NULL, 0, NULL, 0, NULL, NULL},
};

static const myc_plugin log_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "log",
    .version = "1.0.0",
    .description = "Writes log://LEVEL/COMPONENT bodies as timestamped lines "
                   "to a file or stderr; reopens the file on SIGHUP",
    .schemes = log_schemes,
    .config = log_config,
    .init = log_init,
    .start = log_start,
    .handle = log_handle,
    .stop = log_stop,
    .fini = log_fini,
};

/* Remember the host's service table; refuse another ABI major. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &log_plugin;
}
