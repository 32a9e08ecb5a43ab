/* kv: a key-value store served as db://BUCKET/KEY.
 *
 *   GET    db://B/K   -> the value, or ENOENT
 *   PUT    db://B/K   -> store the body (may be empty), reply empty
 *   DELETE db://B/K   -> reply empty, or ENOENT
 *   GET    db://B/    -> the bucket's keys, sorted, as a JSON array
 *
 * This file is the plugin glue: config, routes, verbs and replies. The
 * table lives in store.c, durability in kvlog.c. With `file` set, every
 * change is appended to the log before it is applied and answered
 * (write-ahead), and the log is replayed at init. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mycelia/plugin.h>

#include "kvlog.h"
#include "store.h"

static const myc_host *H;

enum { KV_ROUTE_LIST = 1, KV_ROUTE_KEY = 2 };
enum { KV_SYNC_ALWAYS = 0, KV_SYNC_INTERVAL = 1, KV_SYNC_NEVER = 2 };

typedef struct kv_state {
  myc_ctx *ctx;
  kv_store *store;
  kv_log *log;        /* NULL: memory only                  */
  int sync_mode;      /* KV_SYNC_*                          */
  uint64_t interval_ms;
  myc_timer *timer;   /* interval syncing, between start and stop */
} kv_state;

/* ==== Replay and logging callbacks ===================================== */

/* Apply one replayed record to the store. */
static int kv_apply(void *udata, int op, const char *b, size_t blen,
                    const char *k, size_t klen, const void *v, size_t vlen) {
  kv_state *s = udata;
  if (op == KV_OP_DEL) {
    kv_store_del(s->store, b, blen, k, klen);
    return 0;
  }
  return kv_store_put(s->store, b, blen, k, klen, v, vlen) < 0 ? MYC_ENOMEM : 0;
}

/* Forward a warning from the log (torn tail skipped) to the kernel log. */
static void kv_warn(void *udata, const char *msg) {
  kv_state *s = udata;
  H->log(s->ctx, MYC_LOG_WARN, "%s", msg);
}

/* Repeating timer: make appended records durable, at most once a tick. */
static void kv_tick(void *udata) {
  kv_state *s = udata;
  char err[256];
  if (kv_log_dirty(s->log) && kv_log_sync(s->log, err, sizeof err) < 0)
    H->log(s->ctx, MYC_LOG_ERROR, "%s", err);
}

/* ==== Replies ========================================================== */

/* Reply with a printf-formatted error text. */
static int kv_reply_err(myc_msg *msg, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int kv_reply_err(myc_msg *msg, int code, const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof text) n = sizeof text - 1;
  return H->reply(msg, code, text, (size_t)n);
}

/* Bytes needed to write k[0..n) as JSON string contents. */
static size_t kv_json_len(const char *k, size_t n) {
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)k[i];
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' ||
        c == '\r' || c == '\t')
      len += 2;
    else if (c < 0x20)
      len += 6;
    else
      len += 1;
  }
  return len;
}

/* Write k[0..n) JSON-escaped at p; returns the end. */
static char *kv_json_put(char *p, const char *k, size_t n) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)k[i];
    const char *esc = NULL;
    switch (c) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    default: break;
    }
    if (esc) {
      *p++ = esc[0];
      *p++ = esc[1];
    } else if (c < 0x20) {
      memcpy(p, "\\u00", 4);
      p[4] = hex[c >> 4];
      p[5] = hex[c & 15];
      p += 6;
    } else {
      *p++ = (char)c;
    }
  }
  return p;
}

/* GET db://B/: reply with the sorted keys of bucket B as a JSON array. The
 * array is built in one malloc'd buffer that is freed after the reply
 * (which copies it). */
static int kv_list(kv_state *s, myc_msg *msg, myc_slice b) {
  kv_bytes *keys = NULL;
  size_t n = 0, len = 2;
  char *json = NULL;
  int rc;
  if (kv_store_keys(s->store, b.ptr, b.len, &keys, &n) < 0) goto oom;
  for (size_t i = 0; i < n; i++)
    len += kv_json_len(keys[i].ptr, keys[i].len) + 2 + (i > 0);
  json = malloc(len);
  if (!json) goto oom;
  char *p = json;
  *p++ = '[';
  for (size_t i = 0; i < n; i++) {
    if (i) *p++ = ',';
    *p++ = '"';
    p = kv_json_put(p, keys[i].ptr, keys[i].len);
    *p++ = '"';
  }
  *p++ = ']';
  rc = H->reply(msg, 0, json, (size_t)(p - json));
  free(json);
  free(keys);
  return rc;

oom:
  free(keys);
  return kv_reply_err(msg, MYC_ENOMEM, "out of memory listing bucket '%.*s'",
                      (int)b.len, b.ptr);
}

/* GET/PUT/DELETE db://B/K. */
static int kv_key(kv_state *s, myc_msg *msg, const char *verb, myc_slice b,
                  myc_slice k) {
  char err[512];
  size_t vlen;
  int rc;

  if (strcasecmp(verb, "GET") == 0) {
    const void *v = kv_store_get(s->store, b.ptr, b.len, k.ptr, k.len, &vlen);
    if (!v)
      return kv_reply_err(msg, MYC_ENOENT, "no key '%.*s' in bucket '%.*s'",
                          (int)k.len, k.ptr, (int)b.len, b.ptr);
    return H->reply(msg, 0, v, vlen);
  }

  if (strcasecmp(verb, "PUT") == 0) {
    const void *body = H->msg_body(msg, &vlen);
    if (s->log) {
      rc = kv_log_append(s->log, KV_OP_PUT, b.ptr, b.len, k.ptr, k.len, body,
                         vlen, s->sync_mode == KV_SYNC_ALWAYS, err,
                         sizeof err);
      if (rc < 0) return kv_reply_err(msg, rc, "%s", err);
    }
    if (kv_store_put(s->store, b.ptr, b.len, k.ptr, k.len, body, vlen) < 0)
      return kv_reply_err(msg, MYC_ENOMEM, "out of memory storing '%.*s/%.*s'",
                          (int)b.len, b.ptr, (int)k.len, k.ptr);
    return H->reply(msg, 0, NULL, 0);
  }

  if (strcasecmp(verb, "DELETE") == 0) {
    if (!kv_store_get(s->store, b.ptr, b.len, k.ptr, k.len, &vlen))
      return kv_reply_err(msg, MYC_ENOENT, "no key '%.*s' in bucket '%.*s'",
                          (int)k.len, k.ptr, (int)b.len, b.ptr);
    if (s->log) {
      rc = kv_log_append(s->log, KV_OP_DEL, b.ptr, b.len, k.ptr, k.len, NULL,
                         0, s->sync_mode == KV_SYNC_ALWAYS, err, sizeof err);
      if (rc < 0) return kv_reply_err(msg, rc, "%s", err);
    }
    kv_store_del(s->store, b.ptr, b.len, k.ptr, k.len);
    return H->reply(msg, 0, NULL, 0);
  }

  return kv_reply_err(msg, MYC_EBADVERB,
                      "verb '%s' is not supported on a key: use GET, PUT "
                      "or DELETE",
                      verb);
}

/* Dispatch on the route the kernel matched. The params are slices into
 * the message's URI: bucket = params[0], key = params[1]. */
static int kv_handle(void *state, myc_msg *msg, const myc_match *m) {
  kv_state *s = state;
  const char *verb = H->msg_verb(msg);

  if (m->route == KV_ROUTE_KEY && m->nparams >= 2 && m->params[1].len > 0)
    return kv_key(s, msg, verb, m->params[0], m->params[1]);
  if ((m->route == KV_ROUTE_LIST || m->route == KV_ROUTE_KEY) &&
      m->nparams >= 1) {
    if (strcasecmp(verb, "GET") != 0)
      return kv_reply_err(msg, MYC_EBADVERB,
                          "verb '%s' is not supported on a bucket: use GET "
                          "to list its keys",
                          verb);
    return kv_list(s, msg, m->params[0]);
  }
  return kv_reply_err(msg, MYC_EURI,
                      "expected BUCKET/KEY or BUCKET/ after the scheme, got "
                      "'%.*s'",
                      (int)m->path.len, m->path.ptr);
}

/* ==== Lifecycle ======================================================== */

/* Read the config, open and replay the log, register the routes. */
static int kv_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  int rc = MYC_ENOMEM;
  kv_state *s = calloc(1, sizeof *s);
  *state = s;
  if (!s) goto oom;
  s->ctx = ctx;
  if (!(s->store = kv_store_new())) goto oom;

  const char *mode = H->config_get(ctx, "fsync");
  if (!mode || strcmp(mode, "interval") == 0) s->sync_mode = KV_SYNC_INTERVAL;
  else if (strcmp(mode, "always") == 0) s->sync_mode = KV_SYNC_ALWAYS;
  else if (strcmp(mode, "never") == 0) s->sync_mode = KV_SYNC_NEVER;
  else {
    snprintf(err, errlen, "fsync = %s: expected always, interval or never",
             mode);
    return MYC_ECONFIG;
  }
  const char *iv = H->config_get(ctx, "fsync_interval_ms");
  char *end = NULL;
  long long ms = iv ? strtoll(iv, &end, 10) : 1000;
  if ((iv && (*end || end == iv)) || ms <= 0) {
    snprintf(err, errlen, "fsync_interval_ms = %s: expected a positive "
             "number of milliseconds", iv ? iv : "");
    return MYC_ECONFIG;
  }
  s->interval_ms = (uint64_t)ms;

  const char *file = H->config_get(ctx, "file");
  if (file && *file) {
    rc = kv_log_open(file, kv_apply, kv_warn, s, &s->log, err, errlen);
    if (rc < 0) return rc;
    H->log(ctx, MYC_LOG_INFO, "%s: replayed, %zu keys in %zu buckets", file,
           kv_store_count(s->store), kv_store_buckets(s->store));
  }

  if ((rc = H->register_route(ctx, "{bucket}/", KV_ROUTE_LIST)) < 0 ||
      (rc = H->register_route(ctx, "{bucket}/*", KV_ROUTE_KEY)) < 0) {
    snprintf(err, errlen, "cannot register routes: %s", H->strerror(rc));
    return rc;
  }
  return 0;

oom:
  snprintf(err, errlen, "out of memory");
  return rc;
}

/* Start the interval sync timer (fsync = interval with a file). */
static int kv_start(void *state) {
  kv_state *s = state;
  if (!s->log || s->sync_mode != KV_SYNC_INTERVAL) return 0;
  int rc = H->timer_start(s->ctx, s->interval_ms, s->interval_ms, kv_tick, s,
                          &s->timer);
  if (rc < 0)
    H->log(s->ctx, MYC_LOG_ERROR, "cannot start the fsync timer: %s",
           H->strerror(rc));
  return rc;
}

/* No more messages: stop the timer and make everything durable. */
static void kv_stop(void *state) {
  kv_state *s = state;
  char err[256];
  if (s->timer) {
    H->timer_stop(s->timer);
    s->timer = NULL;
  }
  if (s->log && kv_log_sync(s->log, err, sizeof err) < 0)
    H->log(s->ctx, MYC_LOG_ERROR, "%s", err);
}

/* Sync (for runs that never started), close and free. Safe after a failed
 * init: every field may still be NULL. */
static void kv_fini(void *state) {
  kv_state *s = state;
  char err[256];
  if (!s) return;
  if (s->log && kv_log_sync(s->log, err, sizeof err) < 0)
    H->log(s->ctx, MYC_LOG_ERROR, "%s", err);
  kv_log_close(s->log);
  kv_store_free(s->store);
  free(s);
}

static const char *const kv_schemes[] = {"db", NULL};

static const myc_config_key kv_config[] = {
    {"file", MYC_CFG_STRING, NULL, 0,
     "append-only log file; replayed at start (unset: memory only)", NULL},
    {"fsync", MYC_CFG_ENUM, "interval", 0,
     "when to fdatasync the log: after every change, every "
     "fsync_interval_ms, or only at shutdown",
     "always|interval|never"},
    {"fsync_interval_ms", MYC_CFG_INT, "1000", 0,
     "longest time a change stays unsynced with fsync = interval", NULL},
    {NULL, 0, NULL, 0, NULL, NULL},
};

static const myc_plugin kv_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "kv",
    .version = "1.0.0",
    .description = "Key-value store with an append-only log (db://BUCKET/KEY)",
    .schemes = kv_schemes,
    .config = kv_config,
    .init = kv_init,
    .start = kv_start,
    .handle = kv_handle,
    .stop = kv_stop,
    .fini = kv_fini,
};

/* Remember the host's service table; refuse another ABI major. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &kv_plugin;
}
