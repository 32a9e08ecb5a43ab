/* Test plugin t_slow: serves slow:// and keeps requests beyond its handler.
 *
 *   slow://keep        take a reference and hold the message, no reply
 *   slow://defer/{ms}  take a reference, reply "deferred" from a timer
 *                      after ms milliseconds, then release
 *   slow://flush       reply to every held message with this message's
 *                      body and release it; replies "replied=N failed=F"
 *                      (F: replies that returned an error)
 *   slow://free        release every held message without replying;
 *                      replies "freed=N"
 *   slow://count       replies "held=N deferred=D"
 *
 * stop() releases whatever is still held, so nothing outlives the kernel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mycelia/plugin.h>

static const myc_host *H;

enum { R_KEEP, R_DEFER, R_FLUSH, R_FREE, R_COUNT };

typedef struct deferral {
  struct deferral *next;
  struct slow *owner;
  myc_msg *msg;
} deferral;

typedef struct slow {
  myc_ctx *ctx;
  myc_msg **held;
  size_t nheld, capheld;
  deferral *deferred; /* waiting for their timer                          */
  size_t ndeferred;
} slow;

/* Register the routes and allocate the state. */
static int slow_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  slow *s = calloc(1, sizeof(*s));
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return MYC_ENOMEM;
  }
  *state = s;
  s->ctx = ctx;
  int rc = 0;
  if ((rc = H->register_route(ctx, "keep", R_KEEP)) < 0 ||
      (rc = H->register_route(ctx, "defer/{ms}", R_DEFER)) < 0 ||
      (rc = H->register_route(ctx, "flush", R_FLUSH)) < 0 ||
      (rc = H->register_route(ctx, "free", R_FREE)) < 0 ||
      (rc = H->register_route(ctx, "count", R_COUNT)) < 0) {
    snprintf(err, errlen, "register_route: %s", H->strerror(rc));
    return rc;
  }
  return 0;
}

/* Hold a reference to msg until flush or free. */
static int hold(slow *s, myc_msg *msg) {
  if (s->nheld == s->capheld) {
    size_t cap = s->capheld ? 2 * s->capheld : 16;
    myc_msg **v = realloc(s->held, cap * sizeof(*v));
    if (!v) return MYC_ENOMEM;
    s->held = v;
    s->capheld = cap;
  }
  int rc = H->msg_ref(msg);
  if (rc < 0) return rc;
  s->held[s->nheld++] = msg;
  return 0;
}

/* Unlink a deferral from its owner's list. */
static void unlink_deferral(deferral *d) {
  for (deferral **pp = &d->owner->deferred; *pp; pp = &(*pp)->next)
    if (*pp == d) {
      *pp = d->next;
      d->owner->ndeferred--;
      return;
    }
}

/* Timer: answer the deferred request and let it go. */
static void on_timer(void *udata) {
  deferral *d = udata;
  unlink_deferral(d);
  H->reply(d->msg, 0, "deferred", 8);
  H->msg_release(d->msg);
  free(d);
}

/* Keep msg and answer it from a timer after the number of ms in the path. */
static int defer(slow *s, myc_msg *msg, const myc_match *mt) {
  char num[24];
  size_t n = mt->params[0].len < sizeof(num) - 1 ? mt->params[0].len : sizeof(num) - 1;
  memcpy(num, mt->params[0].ptr, n);
  num[n] = '\0';
  deferral *d = calloc(1, sizeof(*d));
  if (!d) return MYC_ENOMEM;
  d->owner = s;
  d->msg = msg;
  int rc = H->msg_ref(msg);
  if (rc < 0) {
    free(d);
    return rc;
  }
  myc_timer *t;
  rc = H->timer_start(s->ctx, strtoull(num, NULL, 10), 0, on_timer, d, &t);
  if (rc < 0) {
    H->msg_release(msg);
    free(d);
    return rc;
  }
  d->next = s->deferred;
  s->deferred = d;
  s->ndeferred++;
  return 0;
}

/* Release every held message, replying first when `body` is given.
 * Returns how many replies failed. */
static size_t let_go(slow *s, int reply, const void *body, size_t len) {
  size_t failed = 0;
  for (size_t i = 0; i < s->nheld; i++) {
    if (reply && H->reply(s->held[i], 0, body, len) < 0) failed++;
    H->msg_release(s->held[i]);
  }
  s->nheld = 0;
  return failed;
}

/* Do what the route says (see the top of this file). */
static int slow_handle(void *state, myc_msg *msg, const myc_match *mt) {
  slow *s = state;
  char buf[96];
  int n;
  switch (mt->route) {
    case R_KEEP:
      return hold(s, msg);
    case R_DEFER:
      return defer(s, msg, mt);
    case R_FLUSH: {
      size_t len, held = s->nheld;
      const void *body = H->msg_body(msg, &len);
      size_t failed = let_go(s, 1, body, len);
      n = snprintf(buf, sizeof(buf), "replied=%zu failed=%zu", held, failed);
      return H->reply(msg, 0, buf, (size_t)n);
    }
    case R_FREE: {
      size_t held = s->nheld;
      let_go(s, 0, NULL, 0);
      n = snprintf(buf, sizeof(buf), "freed=%zu", held);
      return H->reply(msg, 0, buf, (size_t)n);
    }
    case R_COUNT:
      n = snprintf(buf, sizeof(buf), "held=%zu deferred=%zu", s->nheld, s->ndeferred);
      return H->reply(msg, 0, buf, (size_t)n);
    default:
      return MYC_ENOROUTE;
  }
}

/* Nothing more will be handled: let every kept message go. Deferred ones
 * whose timer will no longer run are released too. */
static void slow_stop(void *state) {
  slow *s = state;
  let_go(s, 0, NULL, 0);
  while (s->deferred) {
    deferral *d = s->deferred;
    s->deferred = d->next;
    H->msg_release(d->msg);
    free(d);
  }
  s->ndeferred = 0;
}

/* Free the state (stop has released every message). */
static void slow_fini(void *state) {
  slow *s = state;
  if (!s) return;
  free(s->held);
  free(s);
}

static const char *const slow_schemes[] = {"slow", NULL};

static const myc_plugin slow_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "t_slow",
    .version = "1.0.0",
    .description = "test plugin: keeps requests and answers them later",
    .schemes = slow_schemes,
    .init = slow_init,
    .handle = slow_handle,
    .stop = slow_stop,
    .fini = slow_fini,
};

/* Remember the host's table; refuse another major. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &slow_plugin;
}
