/* timer: send a message to `target` every `interval_ms`.
 *
 *   [plugin heartbeat]
 *   path        = myc_timer.so
 *   target      = log://info/heartbeat
 *   interval_ms = 5000
 *   count       = 0            ; 0: until shutdown
 *
 * The ticks come from a repeating timer on the kernel's loop (timer_start),
 * so the plugin has no thread, and its callback runs on the subsystem's
 * own thread like a handler. Each tick is one pooled send of `verb`
 * `target` with `body`: fire and forget, no reply expected. After `count`
 * ticks (if set) the timer stops; at shutdown it stops with the kernel.
 *
 * A failed send (no route, full queue, ...) is counted and logged when
 * the error first appears or changes, not on every tick. The plugin has no
 * scheme of its own; give it one (`schemes = tick`) to read its counters:
 * GET tick://  ->  {"sent":N,"failed":N,"ticks":N,"count":N,"running":true} */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mycelia/plugin.h>

static const myc_host *H;

#define TM_INTERVAL_MAX 86400000LL /* one day */
#define TM_VERB_MAX 15

typedef struct tm_state {
  myc_ctx *ctx;
  const char *target;   /* config strings: owned by the kernel       */
  const char *verb;
  const char *body;
  size_t body_len;
  uint64_t interval_ms;
  uint64_t count;       /* ticks to run; 0: no limit                 */
  uint64_t ticks;       /* ticks run                                 */
  uint64_t sent, failed;
  int last_rc;          /* result of the last send, for logging      */
  myc_timer *timer;     /* between start and the last tick or stop   */
} tm_state;

/* ==== Ticking ========================================================== */

/* One tick: send, count, log a change of fortune, stop after `count`. */
static void tm_tick(void *udata) {
  tm_state *s = udata;
  int rc = H->send_pooled(s->ctx, s->verb, s->target, s->body, s->body_len);
  s->ticks++;
  if (rc < 0) {
    s->failed++;
    if (rc != s->last_rc)
      H->log(s->ctx, MYC_LOG_WARN, "cannot send %s %s: %s (logged once until it changes)",
             s->verb, s->target, H->strerror(rc));
  } else {
    s->sent++;
    if (s->last_rc < 0)
      H->log(s->ctx, MYC_LOG_INFO, "sending %s %s again", s->verb, s->target);
  }
  s->last_rc = rc;
  if (s->count && s->ticks >= s->count && s->timer) {
    H->timer_stop(s->timer);
    s->timer = NULL;
  }
}

/* ==== Config =========================================================== */

/* Parse an integer key (already checked to be one by the kernel) and
 * require lo <= value <= hi. Returns 0 or MYC_ECONFIG with err filled. */
static int tm_int(myc_ctx *ctx, const char *key, long long lo, long long hi,
                  uint64_t *out, char *err, size_t errlen) {
  const char *v = H->config_get(ctx, key);
  errno = 0;
  char *end = NULL;
  long long n = v ? strtoll(v, &end, 10) : 0;
  if (!v || errno || *end || n < lo || n > hi) {
    snprintf(err, errlen, "%s = '%s': expected an integer from %lld to %lld",
             key, v ? v : "", lo, hi);
    return MYC_ECONFIG;
  }
  *out = (uint64_t)n;
  return 0;
}

/* A verb the kernel accepts: 1 to 15 of A-Z a-z 0-9 _ -. */
static int tm_verb_ok(const char *v) {
  size_t n = strlen(v);
  if (n == 0 || n > TM_VERB_MAX) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = v[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

/* ==== Plugin callbacks ================================================= */

/* Read and check the config. Nothing is sent before start. */
static int tm_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  tm_state *s = calloc(1, sizeof(*s));
  *state = s;
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return MYC_ENOMEM;
  }
  s->ctx = ctx;
  s->target = H->config_get(ctx, "target");
  s->verb = H->config_get(ctx, "verb");
  s->body = H->config_get(ctx, "body");
  if (!s->body) s->body = "";
  s->body_len = strlen(s->body);
  const char *sep = s->target ? strstr(s->target, "://") : NULL;
  if (!sep || sep == s->target) {
    snprintf(err, errlen, "target = '%s': expected a URI such as log://info/tick",
             s->target ? s->target : "");
    return MYC_ECONFIG;
  }
  if (!s->verb || !tm_verb_ok(s->verb)) {
    snprintf(err, errlen, "verb = '%s': expected 1 to %d of A-Z a-z 0-9 _ -",
             s->verb ? s->verb : "", TM_VERB_MAX);
    return MYC_ECONFIG;
  }
  int rc = tm_int(ctx, "interval_ms", 1, TM_INTERVAL_MAX, &s->interval_ms, err, errlen);
  if (rc == 0) rc = tm_int(ctx, "count", 0, INT64_MAX, &s->count, err, errlen);
  return rc;
}

/* Every plugin is initialised: start ticking. */
static int tm_start(void *state) {
  tm_state *s = state;
  return H->timer_start(s->ctx, s->interval_ms, s->interval_ms, tm_tick, s, &s->timer);
}

/* GET on the plugin's scheme (if it has one): the counters as JSON. */
static int tm_handle(void *state, myc_msg *msg, const myc_match *match) {
  tm_state *s = state;
  if (strcmp(H->msg_verb(msg), "GET") != 0) return MYC_EBADVERB;
  char text[256];
  int n = snprintf(text, sizeof(text),
                   "{\"sent\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"ticks\":%" PRIu64
                   ",\"count\":%" PRIu64 ",\"running\":%s}",
                   s->sent, s->failed, s->ticks, s->count, s->timer ? "true" : "false");
  if (n < 0) return MYC_EINVAL;
  return H->reply(msg, 0, text, (size_t)n);
}

/* Shutdown: no more ticks. */
static void tm_stop(void *state) {
  tm_state *s = state;
  if (s->timer) H->timer_stop(s->timer);
  s->timer = NULL;
}

/* Free the state (the timer's memory is the kernel's). */
static void tm_fini(void *state) { free(state); }

static const myc_config_key tm_config[] = {
    {"target", MYC_CFG_STRING, NULL, 1, "URI every tick is sent to", NULL},
    {"verb", MYC_CFG_STRING, "PUT", 0, "verb of the messages sent", NULL},
    {"body", MYC_CFG_STRING, NULL, 0, "body of the messages sent (unset: empty)", NULL},
    {"interval_ms", MYC_CFG_INT, "1000", 0,
     "time between ticks, also before the first (1 to 86400000)", NULL},
    {"count", MYC_CFG_INT, "0", 0, "ticks to run, then stop; 0 runs until shutdown",
     NULL},
    {NULL, 0, NULL, 0, NULL, NULL},
};

static const myc_plugin tm_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "timer",
    .version = "1.0.0",
    .description = "Sends a message to a configured URI every interval_ms, "
                   "from the kernel's loop",
    .schemes = NULL,
    .config = tm_config,
    .init = tm_init,
    .start = tm_start,
    .handle = tm_handle,
    .stop = tm_stop,
    .fini = tm_fini,
};

/* Remember the host's service table; refuse another ABI major. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &tm_plugin;
}
