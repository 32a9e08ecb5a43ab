/* Sending: route a message to its subsystem's queue, apply the overflow
 * policy, and carry requests and replies.
 *
 * Accounting: every send attempt ends as a push onto a ring (counted by
 * the ring's tail) or as a rejection (counted here). Every pushed message
 * ends as handled, as a handler error, or as dropped with an error reply,
 * so at rest sent = handled + errored + rejected. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* ==== Routing ========================================================== */

static bool allowed(const myc_ctx *from, const char *scheme, size_t len) {
  for (unsigned i = 0; i < from->nallow; i++)
    if (strlen(from->allow_send[i]) == len && strncasecmp(from->allow_send[i], scheme, len) == 0)
      return true;
  return false;
}

static int reject(myc_kernel *k, myc_ctx *sub, int rc) {
  if (sub)
    MYC__ADD(sub->rejected, 1);
  else
    MYC__ADD(k->rejected_noroute, 1);
  return rc;
}

/* Drop the oldest queued message of `s` to make room: a request gets its
 * error reply, and the loss is counted. */
static void drop_oldest(myc_ctx *s) {
  myc_msg *victim = myc__ring_pop(&s->ring);
  if (!victim) return;
  MYC__ADD(s->dropped, 1);
  if (victim->flags & MYC__F_REQUEST) {
    static const char why[] = "dropped: the queue was full (overflow = drop_oldest)";
    myc__deliver_reply(victim, MYC_EDROPPED, why, sizeof(why) - 1, MYC_KIND_ERROR);
  }
  myc__msg_unref(victim);
}

/* Wait for room in a full ring, up to the subsystem's block timeout. */
static int block_push(myc_ctx *s, myc_msg *m) {
  if (myc__tls_runner == s->k) return MYC_EDEADLK; /* we are the consumer */
  uint64_t deadline = myc__now_ns() + (uint64_t)s->block_timeout_ms * 1000000ull;
  for (unsigned spin = 0;; spin++) {
    if (myc__ring_push(&s->ring, m)) return 0;
    if (myc__now_ns() >= deadline) return MYC_ETIMEDOUT;
    if (spin < 64) {
      sched_yield();
    } else {
      struct timespec ts = {0, 50000};
      nanosleep(&ts, NULL);
    }
  }
}

/* Route m (already filled, sender set) and queue it. On failure m is
 * untouched and still the caller's. */
int myc__route_and_push(myc_ctx *from, myc_msg *m) {
  myc_kernel *k = from->k;
  int phase = atomic_load_explicit(&k->phase, memory_order_relaxed);
  if (MYC__UNLIKELY(phase < MYC__PHASE_READY)) return reject(k, NULL, MYC_ESTATE);
  if (MYC__UNLIKELY(phase >= MYC__PHASE_DONE ||
                    (from == k->host && atomic_load_explicit(&k->stop_requested, memory_order_relaxed))))
    return reject(k, NULL, MYC_ESHUTDOWN);

  const char *scheme = m->uri;
  size_t slen = (size_t)m->path_off - 3;
  myc_ctx *s = myc__router_find_padded(&k->router, scheme, slen);
  if (MYC__UNLIKELY(!s)) return reject(k, NULL, MYC_ENOROUTE);
  if (MYC__UNLIKELY(from->allow_send != NULL) && !allowed(from, scheme, slen))
    return reject(k, s, MYC_EPERM);
  if (s->routes) {
    m->route = myc__rtree_match(s->routes, m->uri, m->uri + m->path_off, m->path_len,
                                m->params, &m->nparams);
    if (MYC__UNLIKELY(!m->route)) return reject(k, s, MYC_ENOROUTE);
  }
  m->target = s;
  m->ts = atomic_load_explicit(&k->now_ns, memory_order_relaxed);
  m->flags |= MYC__F_KERNEL;
  if (MYC__UNLIKELY(!myc__ring_push(&s->ring, m))) {
    int rc = MYC_EFULL;
    if (s->overflow == MYC__OVF_DROP_OLDEST) {
      do drop_oldest(s);
      while (!myc__ring_push(&s->ring, m));
      rc = 0;
    } else if (s->overflow == MYC__OVF_BLOCK) {
      rc = block_push(s, m);
    }
    if (rc < 0) {
      m->flags &= (uint8_t)~MYC__F_KERNEL;
      m->target = NULL;
      return reject(k, s, rc);
    }
  }
  myc__schedule(k, s);
  return 0;
}

/* ==== The public send calls =========================================== */

int myc_send(myc_ctx *ctx, myc_msg *m) {
  if (!ctx) return MYC_EINVAL;
  if (!m || m->magic != MYC__MAGIC_LIVE || (m->flags & MYC__F_KERNEL)) {
    if (m && m->magic == MYC__MAGIC_FREE) myc__bad_msg(ctx->k, m, "send");
    return reject(ctx->k, NULL, m ? MYC_EBADMSG : MYC_EINVAL);
  }
  m->sender = ctx;
  return myc__route_and_push(ctx, m);
}

int myc_send_pooled(myc_ctx *ctx, const char *verb, const char *uri,
                    const void *body, size_t len) {
  if (!ctx) return MYC_EINVAL;
  myc_kernel *k = ctx->k;
  myc_msg *m = myc__pool_acquire(k);
  if (MYC__UNLIKELY(!m)) return reject(k, NULL, MYC_ENOMEM);
  int rc = myc__msg_fill(m, ctx, verb, uri, body, len);
  if (MYC__UNLIKELY(rc < 0))
    reject(k, NULL, rc);
  else
    rc = myc__route_and_push(ctx, m);
  if (MYC__UNLIKELY(rc < 0)) myc__pool_release(k, m);
  return rc;
}

/* ==== Requests ========================================================= */

static myc__pending *pending_new(myc_kernel *k) {
  pthread_mutex_lock(&k->pend_mu);
  myc__pending *p = k->pend_free;
  if (p) k->pend_free = p->next;
  pthread_mutex_unlock(&k->pend_mu);
  if (!p) p = malloc(sizeof(*p));
  if (p) memset(p, 0, sizeof(*p));
  return p;
}

/* Drop one of the pending record's two references (request side, answer
 * side); the last one recycles it. */
void myc__pending_unref(myc_kernel *k, myc__pending *p) {
  if (atomic_fetch_sub(&p->refs, 1) != 1) return;
  pthread_mutex_lock(&k->pend_mu);
  p->next = k->pend_free;
  k->pend_free = p;
  pthread_mutex_unlock(&k->pend_mu);
}

static void pend_link(myc_kernel *k, myc__pending *p) {
  myc__pending *h = &k->pend_list;
  p->next = h;
  p->prev = h->prev;
  h->prev->next = p;
  h->prev = p;
}

static void pend_unlink(myc__pending *p) {
  p->prev->next = p->next;
  p->next->prev = p->prev;
  p->next = p->prev = NULL;
}

int myc_request(myc_ctx *ctx, myc_msg *m, uint32_t timeout_ms,
                myc_reply_fn fn, void *udata) {
  if (!ctx || !fn) return MYC_EINVAL;
  myc_kernel *k = ctx->k;
  if (!m || m->magic != MYC__MAGIC_LIVE || (m->flags & MYC__F_KERNEL)) {
    if (m && m->magic == MYC__MAGIC_FREE) myc__bad_msg(k, m, "send as a request");
    return reject(k, NULL, m ? MYC_EBADMSG : MYC_EINVAL);
  }
  myc__pending *p = pending_new(k);
  myc_msg *r = p ? myc__pool_acquire(k) : NULL;
  if (!r) {
    free(p);
    return reject(k, NULL, MYC_ENOMEM);
  }
  /* The reply is prepared now, so answering can never fail for memory. */
  if (m->uri_len >= MYC__URI_INLINE) {
    r->uri = malloc((size_t)m->uri_len + 1);
    if (!r->uri) {
      r->uri = r->uri_inline;
      myc__pool_release(k, r);
      free(p);
      return reject(k, NULL, MYC_ENOMEM);
    }
    r->flags |= MYC__F_HEAP_URI;
  }
  memcpy(r->uri, m->uri, (size_t)m->uri_len + 1);
  r->uri_len = m->uri_len;
  r->path_off = m->path_off;
  r->path_len = m->path_len;
  r->query_off = m->query_off;
  memcpy(r->verb, m->verb, sizeof(r->verb));
  r->corr = m->id;
  r->kind = MYC_KIND_REPLY;

  if (!timeout_ms) timeout_ms = k->cfg->request_timeout_ms;
  p->requester = ctx;
  p->fn = fn;
  p->udata = udata;
  p->req_id = m->id;
  p->timeout_ms = timeout_ms;
  p->deadline_ns = myc__now_ns() + (uint64_t)timeout_ms * 1000000ull;
  p->reply = r;
  atomic_store(&p->refs, 2);
  m->sender = ctx;
  m->pending = p;
  m->flags |= MYC__F_REQUEST;
  pthread_mutex_lock(&k->pend_mu);
  pend_link(k, p);
  pthread_mutex_unlock(&k->pend_mu);

  int rc = myc__route_and_push(ctx, m);
  if (rc < 0) {
    pthread_mutex_lock(&k->pend_mu);
    pend_unlink(p);
    pthread_mutex_unlock(&k->pend_mu);
    m->flags &= (uint8_t)~MYC__F_REQUEST;
    m->pending = NULL;
    myc__pool_release(k, r);
    atomic_store(&p->refs, 1);
    myc__pending_unref(k, p);
  }
  return rc;
}

/* Fill the prepared reply and hand it to the requester's inbox. */
static void answer(myc_kernel *k, myc__pending *p, myc_ctx *from, int status,
                   const void *body, size_t len) {
  myc_msg *r = p->reply;
  p->reply = NULL;
  r->status = status;
  r->kind = status < 0 ? MYC_KIND_ERROR : MYC_KIND_REPLY;
  r->sender = from;
  r->ts = atomic_load_explicit(&k->now_ns, memory_order_relaxed);
  if (len && myc__msg_set_body(r, body, len) < 0) {
    static const char why[] = "the reply body could not be stored";
    r->status = MYC_ENOMEM;
    r->kind = MYC_KIND_ERROR;
    myc__msg_set_body(r, why, sizeof(why) - 1);
  }
  r->pending = p;
  r->flags |= MYC__F_KERNEL;
  r->ev.type = MYC__EV_REPLY;
  myc__inbox_push(p->requester, &r->ev);
}

/* Give `req` its one reply. Returns MYC_ESTATE if it already had one; a
 * message nobody waits for takes the reply as a no-op. */
int myc__deliver_reply(myc_msg *req, int status, const void *body,
                       size_t len, int kind) {
  (void)kind;
  if (MYC__LIKELY(!(req->flags & MYC__F_REQUEST))) return 0;
  if (req->flags & MYC__F_REPLIED) return MYC_ESTATE;
  myc_kernel *k = req->k;
  req->flags |= MYC__F_REPLIED;
  myc__pending *p = req->pending;
  req->pending = NULL;
  pthread_mutex_lock(&k->pend_mu);
  bool late = p->answered;
  if (!late) {
    p->answered = 1;
    pend_unlink(p);
  }
  pthread_mutex_unlock(&k->pend_mu);
  if (late) {
    MYC__ADD(k->late_replies, 1);
  } else {
    answer(k, p, req->target, status, body, len);
  }
  myc__pending_unref(k, p);
  return 0;
}

int myc_reply(myc_msg *req, int status, const void *body, size_t len) {
  if (MYC__UNLIKELY(!req || req->magic != MYC__MAGIC_LIVE)) {
    if (req && req->magic == MYC__MAGIC_FREE) myc__bad_msg(req->k, req, "reply to");
    return MYC_EBADMSG;
  }
  if (status > 0) return MYC_EINVAL;
  return myc__deliver_reply(req, status, body, len, 0);
}

/* Run a reply on the requester's thread: call back, then recycle. */
void myc__run_reply(myc_msg *r) {
  myc_kernel *k = r->k;
  myc__pending *p = r->pending;
  r->pending = NULL;
  MYC__ADD(k->replies, 1);
  p->fn(p->udata, r);
  myc__pending_unref(k, p);
  myc__msg_unref(r);
}

/* Answer every request whose deadline passed with MYC_ETIMEDOUT. */
void myc__check_timeouts(myc_kernel *k) {
  uint64_t now = myc__now_ns();
  myc__pending *due = NULL;
  pthread_mutex_lock(&k->pend_mu);
  for (myc__pending *p = k->pend_list.next, *n; p != &k->pend_list; p = n) {
    n = p->next;
    if (p->deadline_ns > now) continue;
    p->answered = 1;
    pend_unlink(p);
    p->next = due;
    due = p;
  }
  pthread_mutex_unlock(&k->pend_mu);
  while (due) {
    myc__pending *p = due;
    due = p->next;
    char why[MYC__URI_INLINE + 64];
    int n = snprintf(why, sizeof(why), "no reply within %u ms", p->timeout_ms);
    MYC__ADD(k->timeouts, 1);
    answer(k, p, NULL, MYC_ETIMEDOUT, why, (size_t)n);
  }
}

/* Earliest request deadline in ms from now, -1 if none. */
int myc__next_deadline_ms(myc_kernel *k) {
  int ms = -1;
  uint64_t now = myc__now_ns();
  pthread_mutex_lock(&k->pend_mu);
  for (myc__pending *p = k->pend_list.next; p != &k->pend_list; p = p->next) {
    int d = p->deadline_ns <= now ? 0 : (int)((p->deadline_ns - now + 999999) / 1000000);
    if (ms < 0 || d < ms) ms = d;
  }
  pthread_mutex_unlock(&k->pend_mu);
  return ms;
}
