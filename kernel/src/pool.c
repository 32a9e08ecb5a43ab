/* The message pool.
 *
 * Messages are allocated in slabs and recycled through free lists:
 *  - each kernel thread (the loop, every worker) has a magazine (tcache)
 *    it pops and pushes without atomics;
 *  - a shared free list under a mutex serves every other thread and
 *    refills or absorbs the magazines in batches.
 * The shared list keeps at most `keep` messages; beyond that a released
 * message is retired, and a slab whose messages are all retired is freed.
 * Statistics are always on: counters have one writer each and are summed
 * when read.
 *
 * Released messages are marked (magic, generation) so a second release or
 * a use after release through the API is caught; under AddressSanitizer
 * their payload is also poisoned, so a handler reading freed data is
 * reported at once. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define MYC__POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define MYC__UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define MYC__POISON(p, n) ((void)(p), (void)(n))
#define MYC__UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define MYC__SLAB_MSGS 64
#define MYC__ID_BLOCK 1024
#define MYC__PAYLOAD_OFF offsetof(myc_msg, uri_inline)
#define MYC__PAYLOAD_LEN (offsetof(myc_msg, params) - MYC__PAYLOAD_OFF) /* URI and body */

/* Generation 0 marks a message grown on demand that nobody used yet: its
 * first acquisition is a creation, not a reuse. Warmed-up messages start
 * at 1, so using them counts as reuse, as in the original kernel. */
#define MYC__GEN_FRESH 0u

static _Thread_local myc_kernel *tls_k;
static _Thread_local myc__tcache *tls_c;
static _Thread_local char tls_marker;

/* ==== Slabs (called with p->mu held, or before any thread exists) ===== */

/* Allocate a slab of n messages and chain them into *list. */
static int slab_new(myc__pool *p, myc_kernel *k, uint32_t n, uint32_t gen,
                    myc_msg **list, uint64_t *count) {
  if (p->nslabs == p->capslabs) {
    size_t cap = p->capslabs ? p->capslabs * 2 : 16;
    struct myc__slab **v = realloc(p->slabs, cap * sizeof(*v));
    if (!v) return MYC_ENOMEM;
    p->slabs = v;
    p->capslabs = cap;
  }
  struct myc__slab *s = malloc(sizeof(*s) + (size_t)n * sizeof(myc_msg));
  if (!s) return MYC_ENOMEM;
  s->n = n;
  s->retired = 0;
  s->idx = p->nslabs;
  p->slabs[p->nslabs++] = s;
  for (uint32_t i = 0; i < n; i++) {
    myc_msg *m = &s->msgs[i];
    memset(m, 0, MYC__PAYLOAD_OFF);
    m->magic = MYC__MAGIC_FREE;
    m->gen = gen;
    m->k = k;
    m->slab = s;
    m->next = *list;
    *list = m;
    MYC__POISON((char *)m + MYC__PAYLOAD_OFF, MYC__PAYLOAD_LEN);
  }
  *count += n;
  MYC__ADD(p->created, n);
  return 0;
}

/* Give up a free message for good; free its slab once all are given up. */
static void retire(myc__pool *p, myc_msg *m) {
  struct myc__slab *s = m->slab;
  MYC__ADD(p->trimmed, 1);
  if (++s->retired == s->n) {
    p->slabs[s->idx] = NULL;
    MYC__UNPOISON(s, sizeof(*s) + (size_t)s->n * sizeof(myc_msg));
    free(s);
  }
}

/* Messages per slab grown on demand: a whole slab, but never more than
 * the shared list may keep, so a small pool_size still bounds the free
 * messages (a slab's leftovers wait in the shared list). */
static uint32_t grow_n(const myc__pool *p) {
  if (p->keep >= MYC__SLAB_MSGS) return MYC__SLAB_MSGS;
  return p->keep ? (uint32_t)p->keep : 1;
}

/* ==== Set-up =========================================================== */

/* Prepare the pool: `pool_size` is the most messages kept free; each of
 * `nthreads` kernel threads gets a magazine with a share of it. */
int myc__pool_init(myc__pool *p, myc_kernel *k, uint64_t pool_size,
                   unsigned nthreads) {
  memset(p, 0, sizeof(*p));
  if (nthreads < 1) nthreads = 1;
  if (nthreads > sizeof(p->caches) / sizeof(p->caches[0]))
    return MYC_EINVAL;
  if (pthread_mutex_init(&p->mu, NULL) != 0) return MYC_ENOMEM;
  uint64_t share = pool_size / (nthreads + 1);
  p->cache_max = (uint32_t)(share > 512 ? 512 : share);
  p->keep = pool_size - (uint64_t)p->cache_max * nthreads;
  p->ncaches = nthreads;
  atomic_store(&p->next_id, 1);
  for (unsigned i = 0; i < nthreads; i++) p->caches[i].max = p->cache_max;
  (void)k;
  return 0;
}

/* Free every slab, and the heap parts of messages nobody gave back. */
void myc__pool_destroy(myc__pool *p) {
  for (size_t i = 0; i < p->nslabs; i++) {
    struct myc__slab *s = p->slabs[i];
    if (!s) continue;
    MYC__UNPOISON(s, sizeof(*s) + (size_t)s->n * sizeof(myc_msg));
    for (uint32_t j = 0; j < s->n; j++) {
      myc_msg *m = &s->msgs[j];
      if (m->magic != MYC__MAGIC_LIVE) continue;
      if (m->flags & MYC__F_HEAP_URI) free(m->uri);
      if (m->flags & MYC__F_HEAP_BODY) free(m->body);
    }
    free(s);
  }
  free(p->slabs);
  pthread_mutex_destroy(&p->mu);
  if (tls_c && tls_c >= p->caches && tls_c < p->caches + p->ncaches) {
    tls_c = NULL;
    tls_k = NULL;
  }
}

/* Pre-allocate n messages into the shared list and keep them there. */
int myc__pool_warmup(myc__pool *p, myc_kernel *k, size_t n) {
  int rc = 0;
  pthread_mutex_lock(&p->mu);
  while (n > 0) {
    uint32_t chunk = n > 4096 ? 4096 : (uint32_t)n;
    rc = slab_new(p, k, chunk, MYC__GEN_FRESH + 1, &p->free, &p->nfree);
    if (rc < 0) break;
    n -= chunk;
  }
  if (p->nfree > p->keep) p->keep = p->nfree;
  pthread_mutex_unlock(&p->mu);
  return rc;
}

/* Make the calling thread the user of magazine idx. */
void myc__pool_bind(myc_kernel *k, unsigned idx) {
  myc__tcache *c = &k->pool.caches[idx];
  atomic_store_explicit(&c->owner, (uintptr_t)&tls_marker, memory_order_release);
  tls_k = k;
  tls_c = c;
}

/* Stop using the calling thread's magazine of k (it stays with the pool). */
void myc__pool_unbind(myc_kernel *k) {
  if (tls_k != k) return;
  atomic_store_explicit(&tls_c->owner, 0, memory_order_release);
  tls_k = NULL;
  tls_c = NULL;
}

static inline myc__tcache *cache_for(myc_kernel *k) {
  myc__tcache *c = tls_c;
  if (MYC__LIKELY(tls_k == k) &&
      atomic_load_explicit(&c->owner, memory_order_relaxed) ==
          (uintptr_t)&tls_marker)
    return c;
  return NULL;
}

/* ==== Acquire and release ============================================= */

/* Reset the fields a new owner relies on. */
static inline void msg_reset(myc_kernel *k, myc_msg *m, uint64_t id) {
  MYC__UNPOISON((char *)m + MYC__PAYLOAD_OFF, MYC__PAYLOAD_LEN);
  m->magic = MYC__MAGIC_LIVE;
  atomic_store_explicit(&m->refs, 1, memory_order_relaxed);
  m->kind = MYC_KIND_COMMAND;
  m->flags = 0;
  m->nparams = 0;
  m->status = 0;
  m->uri_len = 0;
  m->query_off = 0;
  m->body_len = 0;
  m->body_cap = MYC__BODY_INLINE;
  m->next = NULL;
  m->k = k;
  m->target = NULL;
  m->route = NULL;
  m->uri = m->uri_inline;
  m->body = m->body_inline;
  m->id = id;
  m->corr = 0;
  m->pending = NULL;
  m->ctype[0] = '\0';
  m->verb[0] = '\0';
  m->body_inline[0] = '\0'; /* an empty body reads as "" too */
}

static void note_in_use(myc__pool *p, uint64_t in_use) {
  uint64_t hw = MYC__LOAD(p->high_water);
  while (in_use > hw &&
         !atomic_compare_exchange_weak_explicit(&p->high_water, &hw, in_use,
                                                memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

/* Releases over every counter. */
static uint64_t sum_released(myc__pool *p) {
  uint64_t r = MYC__LOAD(p->released);
  for (unsigned i = 0; i < p->ncaches; i++) r += MYC__LOAD(p->caches[i].released);
  return r;
}

/* Acquisitions (and reuses) over every counter. */
static uint64_t sum_acquired(myc__pool *p, uint64_t *reused) {
  uint64_t a = MYC__LOAD(p->acquired), u = MYC__LOAD(p->reused);
  for (unsigned i = 0; i < p->ncaches; i++) {
    a += MYC__LOAD(p->caches[i].acquired);
    u += MYC__LOAD(p->caches[i].reused);
  }
  if (reused) *reused = u;
  return a;
}

/* Read acquisitions and releases as of one moment while other threads
 * work: releases before and after the acquisitions must agree, else a
 * message acquired and released in between would make the difference
 * wrap below zero. */
static void snapshot(myc__pool *p, uint64_t *acq, uint64_t *reused, uint64_t *rel) {
  uint64_t r = sum_released(p), a = 0;
  for (int tries = 0; tries < 16; tries++) {
    a = sum_acquired(p, reused);
    uint64_t again = sum_released(p);
    if (again == r) break;
    r = again;
  }
  *acq = a;
  *rel = r < a ? r : a;
}

/* Messages in use: acquisitions minus releases over every counter. */
uint64_t myc__pool_in_use(myc__pool *p) {
  uint64_t a, r;
  snapshot(p, &a, NULL, &r);
  return a - r;
}

/* Refill an empty magazine from the shared list, growing it if empty. */
static void refill(myc_kernel *k, myc__pool *p, myc__tcache *c) {
  pthread_mutex_lock(&p->mu);
  uint32_t want = c->max / 2 ? c->max / 2 : 1;
  if (p->nfree == 0) slab_new(p, k, grow_n(p), MYC__GEN_FRESH, &p->free, &p->nfree);
  while (p->free && c->nfree < want) {
    myc_msg *m = p->free;
    p->free = m->next;
    p->nfree--;
    m->next = c->free;
    c->free = m;
    c->nfree++;
  }
  pthread_mutex_unlock(&p->mu);
}

/* Put m on the shared list, or retire it if the list keeps enough
 * (p->mu held). */
static void shared_put(myc__pool *p, myc_msg *m) {
  if (p->nfree >= p->keep) {
    retire(p, m);
  } else {
    m->next = p->free;
    p->free = m;
    p->nfree++;
  }
}

/* Move half of a full magazine to the shared list (retiring overflow). */
static void spill(myc__pool *p, myc__tcache *c) {
  pthread_mutex_lock(&p->mu);
  uint32_t n = c->nfree / 2 ? c->nfree / 2 : 1;
  while (n-- && c->free) {
    myc_msg *m = c->free;
    c->free = m->next;
    c->nfree--;
    shared_put(p, m);
  }
  pthread_mutex_unlock(&p->mu);
}

/* Take a message from the pool, owned by the caller with one reference.
 * Returns NULL only when memory is exhausted. */
myc_msg *myc__pool_acquire(myc_kernel *k) {
  myc__pool *p = &k->pool;
  myc__tcache *c = cache_for(k);
  myc_msg *m;
  uint64_t id;
  if (MYC__LIKELY(c != NULL)) {
    if (MYC__UNLIKELY(!c->free)) {
      refill(k, p, c);
      if (!c->free) return NULL;
    }
    m = c->free;
    c->free = m->next;
    c->nfree--;
    if (MYC__LIKELY(c->free != NULL)) {
      /* The free list is a chain through the messages themselves: fetch
       * the next one's hot lines now so the next acquire does not stall. */
      __builtin_prefetch(c->free, 1, 3);
      __builtin_prefetch((char *)c->free + 64, 1, 3);
      __builtin_prefetch((char *)c->free + 128, 1, 3);
    }
    if (MYC__UNLIKELY(c->next_id == c->id_end)) {
      c->next_id = atomic_fetch_add(&p->next_id, MYC__ID_BLOCK);
      c->id_end = c->next_id + MYC__ID_BLOCK;
    }
    id = c->next_id++;
    MYC__INC(c->acquired, 1);
    if (m->gen != MYC__GEN_FRESH) MYC__INC(c->reused, 1);
    /* Per-magazine high-water mark: exact when one thread acquires and
     * releases, without reading other threads' counters per message. */
    if (MYC__UNLIKELY(++c->live > MYC__LOAD(c->hw))) atomic_store_explicit(&c->hw, c->live, memory_order_relaxed);
  } else {
    pthread_mutex_lock(&p->mu);
    if (!p->free) slab_new(p, k, grow_n(p), MYC__GEN_FRESH, &p->free, &p->nfree);
    m = p->free;
    if (m) {
      p->free = m->next;
      p->nfree--;
      MYC__INC(p->acquired, 1);
      if (m->gen != MYC__GEN_FRESH) MYC__INC(p->reused, 1);
    }
    pthread_mutex_unlock(&p->mu);
    if (!m) return NULL;
    id = atomic_fetch_add(&p->next_id, 1);
    note_in_use(p, myc__pool_in_use(p));
  }
  msg_reset(k, m, id);
  return m;
}

/* Return a message whose last reference is gone. Frees heap parts, marks
 * it released and recycles it. */
void myc__pool_release(myc_kernel *k, myc_msg *m) {
  myc__pool *p = &k->pool;
  if (MYC__UNLIKELY(m->flags & (MYC__F_HEAP_URI | MYC__F_HEAP_BODY))) {
    if (m->flags & MYC__F_HEAP_URI) free(m->uri);
    if (m->flags & MYC__F_HEAP_BODY) free(m->body);
  }
  m->magic = MYC__MAGIC_FREE;
  m->flags = 0;
  if (++m->gen == MYC__GEN_FRESH) m->gen = MYC__GEN_FRESH + 1;
  MYC__POISON((char *)m + MYC__PAYLOAD_OFF, MYC__PAYLOAD_LEN);
  myc__tcache *c = cache_for(k);
  if (MYC__LIKELY(c != NULL)) {
    m->next = c->free;
    c->free = m;
    c->nfree++;
    c->live--;
    MYC__INC(c->released, 1);
    if (MYC__UNLIKELY(c->nfree > c->max)) spill(p, c);
    return;
  }
  pthread_mutex_lock(&p->mu);
  MYC__INC(p->released, 1);
  shared_put(p, m);
  pthread_mutex_unlock(&p->mu);
}

/* Fill *out from every counter. */
void myc__pool_stats(myc__pool *p, myc_pool_stats *out) {
  memset(out, 0, sizeof(*out));
  uint64_t acquired, reused, released;
  /* Trimmed messages were released first and acquired messages were
   * created first: reading in this order keeps every difference >= 0. */
  out->trimmed = MYC__LOAD(p->trimmed);
  snapshot(p, &acquired, &reused, &released);
  out->created = MYC__LOAD(p->created);
  out->size = out->created - out->trimmed;
  out->acquired = acquired;
  out->reused = reused;
  out->released = released;
  out->in_use = acquired - released;
  out->free = out->size > out->in_use ? out->size - out->in_use : 0;
  /* Magazines and the shared list each know their own peak; with one
   * thread at work this is exact, with several an upper bound. */
  uint64_t hw = 0;
  for (unsigned i = 0; i < p->ncaches; i++) hw += (uint64_t)MYC__LOAD(p->caches[i].hw);
  uint64_t shared = MYC__LOAD(p->high_water);
  out->high_water = hw > shared ? hw : shared;
  if (out->high_water < out->in_use) out->high_water = out->in_use;
  /* Releases on another thread than the acquisition leave a magazine's
   * count high; no more can ever have been in use than were created. */
  if (out->high_water > out->created) out->high_water = out->created;
  out->reuse_rate = acquired ? (double)reused / (double)acquired : 0.0;
}
