/* h_faulty: a deliberately misbehaving plugin for tests/test_faults.c and
 * tests/test_crash.c. It serves faulty:// (and whatever `init` makes it
 * try); each path is one kind of misbehaviour, and what the kernel
 * answered is written to a log that GET faulty://report returns (and
 * clears), so the test can check every outcome.
 *
 * Config: init = ok | fail | take_scheme | take_scheme_ignore | badargs
 * (registration with bad arguments), scheme = the scheme take_scheme
 * tries (default echo), start_send = a URI sent to at start (for the
 * crash tests, which run the host binary). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mycelia/plugin.h>

static const myc_host *H;

typedef struct faulty {
  myc_ctx *ctx;
  char log[2048];
  size_t len;
  myc_msg *kept;          /* kept without a reference: a bug on purpose */
  const char *kept_body;  /* its body pointer, read raw later           */
  myc_timer *timer;
} faulty;

/* Append "key=value " to the log. */
static void note(faulty *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (f->len < sizeof(f->log)) {
    int n = vsnprintf(f->log + f->len, sizeof(f->log) - f->len, fmt, ap);
    if (n > 0) f->len += (size_t)n;
    if (f->len > sizeof(f->log) - 1) f->len = sizeof(f->log) - 1;
  }
  va_end(ap);
}

/* The name of a return code, "OK" for 0. */
static const char *rcname(int rc) { return H->err_name(rc < 0 ? rc : 0); }

/* ==== Misbehaviours ==================================================== */

/* Read the kept message through the API after the kernel recycled it:
 * every accessor must refuse, and the release must be caught. */
static void use_kept(void *udata) {
  faulty *f = udata;
  size_t len = 99;
  note(f, "uri=%s ", H->msg_uri(f->kept, &len) ? "live" : "NULL");
  note(f, "len=%zu ", len);
  note(f, "body=%s ", H->msg_body(f->kept, NULL) ? "live" : "NULL");
  note(f, "kind=%s ", rcname(H->msg_kind(f->kept)));
  note(f, "ref=%s ", rcname(H->msg_ref(f->kept)));
  note(f, "set_body=%s ", rcname(H->msg_set_body(f->kept, "x", 1)));
  note(f, "release=%s ", rcname(H->msg_release(f->kept)));
  note(f, "send=%s ", rcname(H->send(f->ctx, f->kept)));
  note(f, "reply=%s ", rcname(H->reply(f->kept, 0, NULL, 0)));
  f->kept = NULL;
}

/* Read the kept body's bytes directly: under AddressSanitizer the pool
 * has poisoned them, so this is reported and the process dies. */
static void use_kept_raw(void *udata) {
  faulty *f = udata;
  volatile char c = f->kept_body[0];
  note(f, "raw=%d ", (int)c);
  f->kept_body = NULL;
}

/* Try every way to send to `uri`: pooled, msg_new + send, and request.
 * A message refused at send is still ours and must release cleanly. */
static void on_reply(void *udata, myc_msg *reply) {
  faulty *f = udata;
  note(f, "reply_status=%s ", rcname(H->msg_status(reply)));
}

static void send_all_ways(faulty *f, const char *uri) {
  note(f, "send_pooled=%s ", rcname(H->send_pooled(f->ctx, "GET", uri, "p", 1)));
  myc_msg *m = NULL;
  int rc = H->msg_new(f->ctx, "GET", uri, "s", 1, &m);
  if (rc == 0) {
    rc = H->send(f->ctx, m);
    if (rc < 0) note(f, "release_after_send=%s ", rcname(H->msg_release(m)));
  }
  note(f, "send=%s ", rcname(rc));
  m = NULL;
  rc = H->msg_new(f->ctx, "GET", uri, "r", 1, &m);
  if (rc == 0) {
    rc = H->request(f->ctx, m, 0, on_reply, f);
    if (rc < 0) note(f, "release_after_request=%s ", rcname(H->msg_release(m)));
  }
  note(f, "request=%s ", rcname(rc));
}

/* Bad arguments to reply(), then one good reply. */
static int bad_replies(faulty *f, myc_msg *msg) {
  note(f, "reply_null_body=%s ", rcname(H->reply(msg, 0, NULL, 5)));
  note(f, "reply_positive=%s ", rcname(H->reply(msg, 5, NULL, 0)));
  size_t big = 70000; /* the tests set max_body_size = 65536 */
  char *b = calloc(1, big);
  if (b) {
    note(f, "reply_too_big=%s ", rcname(H->reply(msg, 0, b, big)));
    free(b);
  }
  note(f, "is_request=%d ", H->msg_is_request(msg));
  return H->reply(msg, 0, f->log, f->len);
}

#if defined(__GNUC__)
#define NO_SANITIZE __attribute__((noinline, no_sanitize("undefined", "address")))
#else
#define NO_SANITIZE
#endif

/* Die of a NULL dereference (no sanitizer may catch it first). */
NO_SANITIZE static int crash_null(void) {
  int *volatile p = NULL; /* opaque to the optimiser: the store happens */
  *p = 42;
  return *p;
}

static volatile int overflow_limit = -1; /* never reached */

/* Recurse until the stack runs out. */
NO_SANITIZE static int crash_overflow(int depth) {
  volatile char pad[512];
  pad[0] = (char)depth;
  if (depth == overflow_limit) return 0;
  return crash_overflow(depth + 1) + pad[0];
}

/* A reply callback and a timer that crash. */
static void crash_reply_cb(void *udata, myc_msg *reply) {
  (void)udata, (void)reply;
  crash_null();
}

static void crash_timer_cb(void *udata) {
  (void)udata;
  crash_null();
}

/* ==== Callbacks ======================================================== */

static int faulty_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  faulty *f = calloc(1, sizeof(*f));
  *state = f;
  if (!f) {
    snprintf(err, errlen, "out of memory");
    return MYC_ENOMEM;
  }
  f->ctx = ctx;
  const char *mode = H->config_get(ctx, "init");
  const char *scheme = H->config_get(ctx, "scheme");
  if (strcmp(mode, "fail") == 0) {
    snprintf(err, errlen, "deliberate init failure");
    return MYC_EHANDLER;
  }
  if (strcmp(mode, "badargs") == 0) {
    /* Registration with bad arguments: refused, never half-done. */
    note(f, "null_scheme=%s ", rcname(H->register_scheme(ctx, NULL)));
    note(f, "empty_scheme=%s ", rcname(H->register_scheme(ctx, "")));
    note(f, "digit_scheme=%s ", rcname(H->register_scheme(ctx, "1db")));
    note(f, "long_scheme=%s ", rcname(H->register_scheme(ctx, "abcdefghijklmnopqrstuvwxyz0123456")));
    note(f, "space_scheme=%s ", rcname(H->register_scheme(ctx, "a b")));
    note(f, "good_scheme=%s ", rcname(H->register_scheme(ctx, "Good+1.x-y")));
    note(f, "null_route=%s ", rcname(H->register_route(ctx, NULL, 1)));
    note(f, "open_brace=%s ", rcname(H->register_route(ctx, "a/{", 1)));
    note(f, "star_inside=%s ", rcname(H->register_route(ctx, "x/*/y", 1)));
    note(f, "nine_params=%s ", rcname(H->register_route(ctx, "{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", 1)));
    note(f, "good_route=%s ", rcname(H->register_route(ctx, "ok/{id}", 2)));
    note(f, "same_shape=%s ", rcname(H->register_route(ctx, "ok/{other}", 3)));
    note(f, "report_route=%s ", rcname(H->register_route(ctx, "report", 4)));
    note(f, "null_ctx=%s ", rcname(H->register_route(NULL, "z", 1)));
    note(f, "unknown_key=%s ", H->config_get(ctx, "no_such_key") ? "set" : "NULL");
    note(f, "null_key=%s ", H->config_get(ctx, NULL) ? "set" : "NULL");
    H->log(ctx, MYC_LOG_DEBUG, NULL);
    H->log(ctx, 99, "odd level %d", 99);
  }
  if (strncmp(mode, "take_scheme", 11) == 0) {
    int rc = H->register_scheme(ctx, scheme);
    note(f, "take_scheme=%s ", rcname(rc));
    if (rc < 0 && strcmp(mode, "take_scheme") == 0) {
      snprintf(err, errlen, "register_scheme('%s'): %s", scheme, H->strerror(rc));
      return rc;
    }
  }
  return 0;
}

static int faulty_start(void *state) {
  faulty *f = state;
  const char *uri = H->config_get(f->ctx, "start_send");
  if (uri && *uri) return H->send_pooled(f->ctx, "GET", uri, NULL, 0);
  return 0;
}

static int faulty_handle(void *state, myc_msg *msg, const myc_match *m) {
  faulty *f = state;
  char path[256];
  size_t n = m->path.len < sizeof(path) - 1 ? m->path.len : sizeof(path) - 1;
  memcpy(path, m->path.ptr, n);
  path[n] = '\0';

  if (strncmp(path, "error/", 6) == 0) return -atoi(path + 6);
  if (strcmp(path, "report") == 0) {
    int rc = H->reply(msg, 0, f->log, f->len);
    f->len = 0;
    f->log[0] = '\0';
    return rc;
  }
  if (strcmp(path, "twice") == 0) {
    note(f, "first=%s ", rcname(H->reply(msg, 0, "first", 5)));
    note(f, "second=%s ", rcname(H->reply(msg, 0, "second", 6)));
    note(f, "third=%s ", rcname(H->reply(msg, MYC_EIO, "third", 5)));
    return 0;
  }
  if (strcmp(path, "keep") == 0 || strcmp(path, "keep_raw") == 0) {
    f->kept = msg; /* no msg_ref: the kernel recycles it after we return */
    f->kept_body = H->msg_body(msg, NULL);
    int raw = path[4] == '_';
    return H->timer_start(f->ctx, 0, 0, raw ? use_kept_raw : use_kept, f, &f->timer);
  }
  if (strcmp(path, "noroute") == 0) {
    send_all_ways(f, "nowhere://x");
    return H->reply(msg, 0, f->log, f->len);
  }
  if (strcmp(path, "sendto") == 0) {
    size_t blen = 0;
    const char *body = H->msg_body(msg, &blen);
    char uri[512];
    snprintf(uri, sizeof(uri), "%.*s", (int)blen, body);
    send_all_ways(f, uri);
    return 0;
  }
  if (strcmp(path, "forward") == 0) {
    note(f, "ref=%s ", rcname(H->msg_ref(msg)));
    note(f, "forward=%s ", rcname(H->send(f->ctx, msg)));
    note(f, "request=%s ", rcname(H->request(f->ctx, msg, 0, on_reply, f)));
    note(f, "set_body=%s ", rcname(H->msg_set_body(msg, "x", 1)));
    note(f, "unref=%s ", rcname(H->msg_release(msg)));
    return 0;
  }
  if (strcmp(path, "register") == 0) {
    note(f, "scheme=%s ", rcname(H->register_scheme(f->ctx, "late")));
    note(f, "route=%s ", rcname(H->register_route(f->ctx, "late/{x}", 1)));
    return 0;
  }
  if (strcmp(path, "badreply") == 0) return bad_replies(f, msg);
  if (strcmp(path, "crash") == 0) return crash_null();
  if (strcmp(path, "crash_reply") == 0 || strcmp(path, "crash_timer") == 0) {
    if (path[6] == 't') return H->timer_start(f->ctx, 0, 0, crash_timer_cb, f, &f->timer);
    /* Ask ourselves for a report; the callback crashes on the answer. */
    size_t ulen = 0;
    const char *uri = H->msg_uri(msg, &ulen);
    char to[300];
    size_t sl = (size_t)(strstr(uri, "://") - uri);
    snprintf(to, sizeof(to), "%.*s://report", (int)sl, uri);
    myc_msg *q = NULL;
    int rc = H->msg_new(f->ctx, "GET", to, NULL, 0, &q);
    if (rc == 0 && (rc = H->request(f->ctx, q, 0, crash_reply_cb, f)) < 0) H->msg_release(q);
    return rc;
  }
  if (strcmp(path, "overflow") == 0) return crash_overflow(0);
  if (strcmp(path, "abort") == 0) abort();
  return MYC_ENOROUTE;
}

static void faulty_fini(void *state) { free(state); }

static const char *const faulty_schemes[] = {"faulty", NULL};

static const myc_config_key faulty_config[] = {
    {"init", MYC_CFG_ENUM, "ok", 0, "how init misbehaves", "ok|fail|take_scheme|take_scheme_ignore|badargs"},
    {"scheme", MYC_CFG_STRING, "echo", 0, "the scheme take_scheme tries to take", NULL},
    {"start_send", MYC_CFG_STRING, NULL, 0, "a URI to send to at start", NULL},
    {NULL, 0, NULL, 0, NULL, NULL},
};

static const myc_plugin faulty_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "h_faulty",
    .version = "1.0.0",
    /* Quotes, a backslash and a tab: kernel://plugins must escape them. */
    .description = "misbehaves \"on purpose\" \\ for the\thardening tests",
    .schemes = faulty_schemes,
    .config = faulty_config,
    .init = faulty_init,
    .start = faulty_start,
    .handle = faulty_handle,
    .fini = faulty_fini,
};

MYC_EXPORT const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  H = host;
  return &faulty_plugin;
}
