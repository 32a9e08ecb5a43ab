/* Sending: route a message to its subsystem's queue, apply the overflow
 * policy, and carry requests and replies.
 *
 * Accounting: every send attempt ends as a push onto a ring (counted by
 * the ring's tail) or as a rejection (counted here). Every pushed message
 * ends as handled, as a handler error, or as dropped with an error reply,
 * so at rest sent = handled + errored + rejected. */
#include <stdint.h>
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

/* Wait for room in a full ring, up to the subsystem's block timeout.
 *
 * A thread that runs the kernel (a worker, or the loop inside a handler)
 * must not wait: it may be the very thread that would make room, so it gets
 * MYC_EDEADLK. Any other thread registers in `blocked` and sleeps on the
 * subsystem's room_seq futex, which the runner bumps after taking messages
 * off a ring that has blocked senders. If nobody runs the kernel (workers
 * = 0 and no loop), the waiting thread drives it itself. */
static int block_push(myc_ctx *s, myc_msg *m) {
  myc_kernel *k = s->k;
  if (myc__tls_runner == k) return MYC_EDEADLK;
  uint64_t deadline = myc__now_ns() + (uint64_t)s->block_timeout_ms * 1000000ull;
  int rc;
  /* The runner usually makes room within microseconds: wait for it
   * without a system call first. */
  myc__spin sp = {0, 0};
  while (myc__spin_more(&sp))
    if (myc__ring_push(&s->ring, m)) return 0;
  atomic_fetch_add(&s->blocked, 1);
  for (;;) {
    uint32_t seq = atomic_load(&s->room_seq);
    if (myc__ring_push(&s->ring, m)) {
      rc = 0;
      break;
    }
    if (atomic_load(&k->phase) >= MYC__PHASE_DONE) {
      rc = MYC_ESHUTDOWN;
      break;
    }
    uint64_t now = myc__now_ns();
    if (now >= deadline) {
      rc = MYC_ETIMEDOUT;
      break;
    }
    if (!atomic_load(&k->threaded) && !atomic_load(&k->loop_active) && myc__drive_once(k) >= 0)
      continue;
    /* Someone else drains: sleep until room is made. Without workers and
     * without a loop, look again every millisecond in case the thread
     * driving the kernel leaves. */
    uint64_t until = deadline;
    if (!atomic_load(&k->threaded) && !atomic_load(&k->loop_active) && until > now + 1000000)
      until = now + 1000000;
    myc__futex_wait(&s->room_seq, seq, until);
  }
  atomic_fetch_sub(&s->blocked, 1);
  return rc;
}

/* Wake every sender blocked on a full queue: at shutdown nobody will make
 * room any more, and they return MYC_ESHUTDOWN. */
void myc__wake_blocked(myc_kernel *k) {
  for (unsigned i = 0; i <= k->nsubs; i++) {
    myc_ctx *s = i < k->nsubs ? k->subs[i] : k->kern;
    atomic_fetch_add(&s->room_seq, 1);
    myc__futex_wake(&s->room_seq);
  }
}

/* Check that `from` may send now, then find m's subsystem and route.
 * Returns the subsystem, or NULL with the (counted) rejection in *rc; m is
 * then untouched. */
static inline __attribute__((always_inline)) myc_ctx *route(myc_ctx *from, myc_msg *m, int *rc) {
  myc_kernel *k = from->k;
  int phase = atomic_load_explicit(&k->phase, memory_order_relaxed);
  if (MYC__UNLIKELY(phase < MYC__PHASE_READY)) return *rc = reject(k, NULL, MYC_ESTATE), NULL;
  if (MYC__UNLIKELY(phase >= MYC__PHASE_DONE ||
                    (from == k->host && atomic_load_explicit(&k->stop_requested, memory_order_relaxed))))
    return *rc = reject(k, NULL, MYC_ESHUTDOWN), NULL;

  const char *scheme = m->uri;
  size_t slen = (size_t)m->path_off - 3;
  myc_ctx *s = myc__router_find_padded(&k->router, scheme, slen);
  if (MYC__UNLIKELY(!s)) return *rc = reject(k, NULL, MYC_ENOROUTE), NULL;
  if (MYC__UNLIKELY(from->allow_send != NULL) && !allowed(from, scheme, slen))
    return *rc = reject(k, s, MYC_EPERM), NULL;
  if (s->routes) {
    m->route = myc__rtree_match(s->routes, m->uri, m->uri + m->path_off, m->path_len,
                                m->params, &m->nparams);
    if (MYC__UNLIKELY(!m->route)) return *rc = reject(k, s, MYC_ENOROUTE), NULL;
  }
  m->target = s;
  m->ts = atomic_load_explicit(&k->now_ns, memory_order_relaxed);
  m->flags |= MYC__F_KERNEL;
  return s;
}

/* Undo route(): m goes back to its owner unsent and uncounted. */
static void unroute(myc_msg *m) {
  m->flags &= (uint8_t)~MYC__F_KERNEL;
  m->target = NULL;
}

/* The ring of s is full: apply its overflow policy to m. */
static int overflow(myc_ctx *s, myc_msg *m) {
  int rc = MYC_EFULL;
  if (s->overflow == MYC__OVF_DROP_OLDEST) {
    do drop_oldest(s);
    while (!myc__ring_push(&s->ring, m));
    rc = 0;
  } else if (s->overflow == MYC__OVF_BLOCK) {
    rc = block_push(s, m);
  }
  if (rc < 0) {
    unroute(m);
    return reject(s->k, s, rc);
  }
  return 0;
}

/* After a successful push: make sure s runs. If the push raced with the
 * end of shutdown, nobody will run s again: take back what is queued (see
 * myc__sweep). The push and the sweep after phase = DONE are both
 * sequentially consistent, so one of the two sees the other. */
static inline __attribute__((always_inline)) void queued(myc_kernel *k, myc_ctx *s) {
  myc__schedule(k, s);
  if (MYC__UNLIKELY(atomic_load(&k->phase) >= MYC__PHASE_DONE)) myc__sweep(s);
}

/* Route m (already filled, sender set) and queue it. On failure m is
 * untouched and still the caller's. */
int myc__route_and_push(myc_ctx *from, myc_msg *m) {
  int rc;
  myc_ctx *s = route(from, m, &rc);
  if (MYC__UNLIKELY(!s)) return rc;
  if (MYC__UNLIKELY(!myc__ring_push(&s->ring, m)) && (rc = overflow(s, m)) < 0) return rc;
  queued(from->k, s);
  return 0;
}

/* Queue run[0..n), all routed to s: one claim for what fits, then the
 * overflow policy one message at a time. Returns how many were queued; on
 * a refusal sets *rc and hands the rest back unrouted. */
static unsigned enqueue_run(myc_ctx *s, myc_msg *const *run, unsigned n, int *rc) {
  unsigned q = myc__ring_push_many(&s->ring, run, n);
  while (q < n) {
    int r = overflow(s, run[q]);
    if (r < 0) {
      *rc = r;
      for (unsigned i = q + 1; i < n; i++) unroute(run[i]);
      break;
    }
    q++;
  }
  if (q) queued(s->k, s);
  return q;
}

/* Empty the queue of a subsystem that will not run again (the kernel is
 * done): each message counts as dropped, a request gets MYC_ESHUTDOWN. */
void myc__sweep(myc_ctx *s) {
  myc_msg *m;
  while ((m = myc__ring_pop(&s->ring))) {
    MYC__ADD(s->dropped, 1);
    static const char why[] = "the kernel shut down before this message was handled";
    myc__deliver_reply(m, MYC_ESHUTDOWN, why, sizeof(why) - 1, MYC_KIND_ERROR);
    myc__msg_unref(m);
  }
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

/* Send msgs[0..n) in order. Messages bound for the same subsystem one
 * after another are queued with a single claim on its ring and a single
 * wake-up. Returns how many were sent, from the front (the rest are still
 * the caller's), or the error of the first if none was. */
int myc_send_batch(myc_ctx *ctx, myc_msg *const *msgs, unsigned n) {
  if (!ctx || (n && !msgs) || n > INT32_MAX) return MYC_EINVAL;
  myc_kernel *k = ctx->k;
  unsigned done = 0;
  while (done < n) {
    myc_ctx *s = NULL;
    unsigned end = done;
    int rc = 0;
    for (; end < n; end++) {
      myc_msg *m = msgs[end];
      if (!m || m->magic != MYC__MAGIC_LIVE || (m->flags & MYC__F_KERNEL)) {
        if (m && m->magic == MYC__MAGIC_FREE) myc__bad_msg(k, m, "send");
        rc = reject(k, NULL, m ? MYC_EBADMSG : MYC_EINVAL);
        break;
      }
      m->sender = ctx;
      myc_ctx *t = route(ctx, m, &rc);
      if (!t) break;
      if (s && t != s) { /* the next run starts here */
        unroute(m);
        break;
      }
      s = t;
    }
    if (end > done) {
      int qrc = 0;
      unsigned q = enqueue_run(s, msgs + done, end - done, &qrc);
      done += q;
      if (qrc < 0) return done ? (int)done : qrc;
    }
    if (rc < 0) return done ? (int)done : rc;
  }
  return (int)done;
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

/* ==== Requests =========================================================
 *
 * A request carries a pending record. Its reply message is acquired when
 * the request is sent, so answering never fails for memory. The record has
 * two references: the request side (dropped when the request is answered
 * or found already answered) and the answer side (dropped once the reply
 * was consumed by the callback or by the myc_call thread). Whoever claims
 * `answered` first answers; everyone else counts a late reply. The record
 * stays in k->pend_list until its last reference goes, so the timeout scan
 * and shutdown can find every request still waiting. */

static void pend_unlink(myc__pending *p) {
  p->prev->next = p->next;
  p->next->prev = p->prev;
  p->next = p->prev = NULL;
  p->linked = false;
}

/* Drop one reference; the last one unlinks the record and recycles it. */
void myc__pending_unref(myc_kernel *k, myc__pending *p) {
  if (atomic_fetch_sub(&p->refs, 1) != 1) return;
  pthread_mutex_lock(&k->pend_mu);
  if (p->linked) pend_unlink(p);
  p->next = k->pend_free;
  k->pend_free = p;
  pthread_mutex_unlock(&k->pend_mu);
}

/* A pending record made from `tmpl`, from the free list (or the heap),
 * linked into the pending list: one lock for both. An asynchronous request
 * whose deadline is the earliest one wakes the loop, which may sleep past
 * it otherwise. NULL when out of memory. */
static myc__pending *pend_open(myc_kernel *k, const myc__pending *tmpl) {
  pthread_mutex_lock(&k->pend_mu);
  myc__pending *p = k->pend_free;
  if (p) {
    k->pend_free = p->next;
  } else {
    pthread_mutex_unlock(&k->pend_mu);
    if (!(p = malloc(sizeof(*p)))) return NULL;
    pthread_mutex_lock(&k->pend_mu);
  }
  *p = *tmpl;
  myc__pending *h = &k->pend_list;
  p->next = h;
  p->prev = h->prev;
  h->prev->next = p;
  h->prev = p;
  p->linked = true;
  bool earlier = false;
  if (p->fn && p->deadline_ns < atomic_load_explicit(&k->pend_min, memory_order_relaxed)) {
    atomic_store_explicit(&k->pend_min, p->deadline_ns, memory_order_relaxed);
    earlier = true;
  }
  pthread_mutex_unlock(&k->pend_mu);
  if (earlier) myc__loop_wake(&k->loop);
  return p;
}

/* Prepare the reply of request m in advance: it echoes the request's URI
 * and verb and carries its id as correlation. */
static myc_msg *reply_new(myc_kernel *k, const myc_msg *m) {
  myc_msg *r = myc__pool_acquire(k);
  if (!r) return NULL;
  if (m->uri_len >= MYC__URI_INLINE) {
    r->uri = malloc((size_t)m->uri_len + 1);
    if (!r->uri) {
      r->uri = r->uri_inline;
      myc__pool_release(k, r);
      return NULL;
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
  return r;
}

/* Send m as a request answered through fn(udata) or, with fn NULL, to a
 * myc_call thread waiting on the record. */
static int request_start(myc_ctx *ctx, myc_msg *m, uint32_t timeout_ms, myc_reply_fn fn,
                         void *udata, myc__pending **out) {
  myc_kernel *k = ctx->k;
  if (!m || m->magic != MYC__MAGIC_LIVE || (m->flags & MYC__F_KERNEL)) {
    if (m && m->magic == MYC__MAGIC_FREE) myc__bad_msg(k, m, "send as a request");
    return reject(k, NULL, m ? MYC_EBADMSG : MYC_EINVAL);
  }
  myc_msg *r = reply_new(k, m);
  if (!r) return reject(k, NULL, MYC_ENOMEM);
  if (!timeout_ms) timeout_ms = k->cfg->request_timeout_ms;
  /* Three references: the request side, the answer side, and ours until
   * the request is armed (queued). The timeout scan and shutdown leave an
   * unarmed record alone, so a send that fails can take it back whole. */
  myc__pending tmpl = {.requester = ctx,
                       .fn = fn,
                       .udata = udata,
                       .req_id = m->id,
                       .timeout_ms = timeout_ms,
                       .deadline_ns = myc__now_ns() + (uint64_t)timeout_ms * 1000000ull,
                       .reply = r,
                       .refs = 3};
  myc__pending *p = pend_open(k, &tmpl);
  if (!p) {
    myc__pool_release(k, r);
    return reject(k, NULL, MYC_ENOMEM);
  }
  m->sender = ctx;
  m->pending = p;
  m->flags |= MYC__F_REQUEST;

  int rc = myc__route_and_push(ctx, m);
  if (rc < 0) {
    m->flags &= (uint8_t)~MYC__F_REQUEST;
    m->pending = NULL;
    myc__pool_release(k, r);
    p->reply = NULL;
    atomic_store(&p->refs, 1);
    myc__pending_unref(k, p);
    return rc;
  }
  atomic_store(&p->armed, 1);
  if (out) *out = p;
  myc__pending_unref(k, p);
  return 0;
}

int myc_request(myc_ctx *ctx, myc_msg *m, uint32_t timeout_ms,
                myc_reply_fn fn, void *udata) {
  if (!ctx || !fn) return MYC_EINVAL;
  return request_start(ctx, m, timeout_ms, fn, udata, NULL);
}

/* Send m as a request whose reply a myc_call thread collects from *out:
 * once (*out)->done is set, (*out)->reply is the caller's, and the caller
 * drops the answer side with myc__pending_unref. */
int myc__request_sync(myc_ctx *ctx, myc_msg *m, uint32_t timeout_ms, myc__pending **out) {
  return request_start(ctx, m, timeout_ms, NULL, NULL, out);
}

/* Fill the prepared reply and hand it over: to the requester's inbox, or
 * straight to the myc_call thread waiting for it. The caller holds a
 * reference to p and has claimed p->answered. */
static void answer(myc_kernel *k, myc__pending *p, myc_ctx *from, int status,
                   const void *body, size_t len) {
  myc_msg *r = p->reply;
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
  r->flags |= MYC__F_KERNEL;
  if (!p->fn) {
    /* A thread waits in myc_call: no hop through an inbox. */
    MYC__ADD(k->replies, 1);
    atomic_store(&p->done, 1);
    int how = atomic_load(&p->waiting);
    if (how == MYC__WAIT_FUTEX)
      myc__futex_wake(&p->done);
    else if (how == MYC__WAIT_LOOP)
      myc__loop_wake(&k->loop);
    return;
  }
  p->reply = NULL;
  r->pending = p;
  r->ev.type = MYC__EV_REPLY;
  myc__inbox_push(p->requester, &r->ev);
}

static bool claim(myc__pending *p) {
  return atomic_exchange(&p->answered, 1) == 0;
}

/* Give `req` its one reply. Returns MYC_ESTATE if it already had one; a
 * message nobody waits for takes the reply as a no-op. The REPLIED flag is
 * set with an atomic or: a handler that kept the request may reply from
 * its own thread while the kernel looks at the flags. */
int myc__deliver_reply(myc_msg *req, int status, const void *body,
                       size_t len, int kind) {
  (void)kind;
  if (MYC__LIKELY(!(__atomic_load_n(&req->flags, __ATOMIC_RELAXED) & MYC__F_REQUEST))) return 0;
  if (__atomic_fetch_or(&req->flags, MYC__F_REPLIED, __ATOMIC_ACQ_REL) & MYC__F_REPLIED)
    return MYC_ESTATE;
  myc_kernel *k = req->k;
  myc__pending *p = req->pending;
  req->pending = NULL;
  if (claim(p))
    answer(k, p, req->target, status, body, len);
  else
    MYC__ADD(k->late_replies, 1);
  myc__pending_unref(k, p);
  return 0;
}

int myc_reply(myc_msg *req, int status, const void *body, size_t len) {
  if (MYC__UNLIKELY(!req || req->magic != MYC__MAGIC_LIVE)) {
    if (req && req->magic == MYC__MAGIC_FREE) myc__bad_msg(req->k, req, "reply to");
    return MYC_EBADMSG;
  }
  if (status > 0 || (len && !body)) return MYC_EINVAL;
  /* Checked before the one reply is used up, so the handler can still
   * answer with an error. */
  if (len > req->k->cfg->max_body_size) return MYC_ETOOBIG;
  return myc__deliver_reply(req, status, body, len, 0);
}

/* Run a reply on the requester's thread: call back, then recycle. */
void myc__run_reply(myc_msg *r) {
  myc_kernel *k = r->k;
  myc__pending *p = r->pending;
  r->pending = NULL;
  MYC__ADD(k->replies, 1);
  /* The reply is lent to the callback: releasing it without a ref is
   * refused (see myc_msg_release). */
  myc_msg *outer = myc__tls_msg;
  myc__tls_msg = r;
  p->fn(p->udata, r);
  myc__tls_msg = outer;
  myc__pending_unref(k, p);
  myc__msg_unref(r);
}

/* Answer p, already claimed by the caller, with error `status`. */
static void answer_error(myc_kernel *k, myc__pending *p, int status) {
  char why[96];
  int n;
  if (status == MYC_ETIMEDOUT) {
    MYC__ADD(k->timeouts, 1);
    n = snprintf(why, sizeof(why), "no reply within %u ms", p->timeout_ms);
  } else {
    n = snprintf(why, sizeof(why), "%s", myc_strerror(status));
  }
  answer(k, p, NULL, status, why, (size_t)n);
}

/* Answer p with an error unless someone answered it first. The caller
 * holds a reference to p. Returns true if this call answered. */
bool myc__pending_expire(myc_kernel *k, myc__pending *p, int status) {
  if (!claim(p)) return false;
  answer_error(k, p, status);
  return true;
}

/* Collect the requests in pend_list that `due` selects, claimed and with
 * an extra reference each, and answer them outside the lock. Sets
 * k->pend_min to the earliest deadline left unanswered. */
static void expire_where(myc_kernel *k, int status, uint64_t now, bool all) {
  myc__pending *due = NULL;
  uint64_t min = UINT64_MAX;
  pthread_mutex_lock(&k->pend_mu);
  for (myc__pending *p = k->pend_list.next; p != &k->pend_list; p = p->next) {
    if (atomic_load_explicit(&p->answered, memory_order_relaxed)) continue;
    /* myc_call threads time out by themselves; a request still being
     * sent (unarmed) is left to its sender until it is queued. */
    bool hit = all || (p->fn && p->deadline_ns <= now);
    if (!hit || !atomic_load(&p->armed)) {
      if (p->fn && p->deadline_ns < min) min = p->deadline_ns;
      continue;
    }
    if (!claim(p)) continue;
    atomic_fetch_add(&p->refs, 1); /* linked, so at least one is held */
    p->due_next = due;
    due = p;
  }
  atomic_store_explicit(&k->pend_min, min, memory_order_relaxed);
  pthread_mutex_unlock(&k->pend_mu);
  while (due) {
    myc__pending *p = due;
    due = p->due_next;
    answer_error(k, p, status);
    myc__pending_unref(k, p);
  }
}

/* Answer every asynchronous request whose deadline passed with
 * MYC_ETIMEDOUT. Costs one atomic load when none is due. */
void myc__check_timeouts(myc_kernel *k) {
  uint64_t now = myc__now_ns();
  if (now < atomic_load_explicit(&k->pend_min, memory_order_relaxed)) return;
  expire_where(k, MYC_ETIMEDOUT, now, false);
}

/* Answer every request still waiting with `status` (shutdown). */
void myc__answer_all(myc_kernel *k, int status) {
  expire_where(k, status, 0, true);
}

/* Earliest request deadline in ms from now, -1 if none. */
int myc__next_deadline_ms(myc_kernel *k) {
  uint64_t min = atomic_load_explicit(&k->pend_min, memory_order_relaxed);
  if (min == UINT64_MAX) return -1;
  uint64_t now = myc__now_ns();
  if (min <= now) return 0;
  uint64_t ms = (min - now + 999999) / 1000000;
  return ms > INT32_MAX ? INT32_MAX : (int)ms;
}
