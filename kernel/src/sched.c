/* Scheduling: subsystems are actors.
 *
 * A subsystem with work (queued messages or inbox events) sits in the run
 * queue at most once, guarded by its `scheduled` flag; whoever pops it is
 * the only thread in its handler until it clears the flag. With workers = 0
 * the thread driving the loop pops; with workers = N, N threads do. A
 * sender pushes, then schedules if the flag was clear; a runner clears the
 * flag, then looks again. Both sides use sequentially consistent operations
 * (the ring's tail CAS, the flag, the inbox CAS), so one of them always
 * sees the other's work and nothing is stranded.
 *
 * Fairness: a runner takes at most MYC__BUDGET messages per turn and then
 * goes to the back of the run queue if anyone else waits. When nobody
 * waits, a worker keeps its subsystem and lingers briefly for the next
 * message, so a steady stream from another thread costs no run-queue
 * traffic per message.
 *
 * Idling: a worker with nothing to do spins for up to MYC__SPIN_NS, then
 * sleeps on a condition variable; a sender signals it only if a worker
 * sleeps. An idle kernel therefore costs no CPU. */
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

#define RLX memory_order_relaxed

_Thread_local myc_kernel *myc__tls_runner;
_Thread_local myc_ctx *myc__tls_current;
_Thread_local myc_msg *myc__tls_msg;

#define MYC__BATCH 32
#define MYC__BUDGET 256     /* messages per turn: one flood cannot starve others */
#define MYC__SPIN_NS 50000  /* how long an idle thread spins before sleeping     */
#define MYC__PAUSE_NS 500  /* ... of which it pauses without yielding the CPU  */

/* ==== Waiting ========================================================== */

/* Sleep while *word == val, until woken or deadline_ns (CLOCK_MONOTONIC,
 * 0: no deadline). Spurious returns are allowed: callers loop. */
void myc__futex_wait(_Atomic uint32_t *word, uint32_t val, uint64_t deadline_ns) {
  struct timespec ts, *tp = NULL;
  if (deadline_ns) {
    ts.tv_sec = (time_t)(deadline_ns / 1000000000ull);
    ts.tv_nsec = (long)(deadline_ns % 1000000000ull);
    tp = &ts;
  }
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, val, tp,
          NULL, FUTEX_BITSET_MATCH_ANY);
}

/* Wake every thread sleeping on `word`. */
void myc__futex_wake(_Atomic uint32_t *word) {
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, NULL, NULL, 0);
}

/* One step of a bounded wait: pause for the first few microseconds (a
 * reply or a message from another core usually comes by then), then yield
 * the CPU between looks, since on a busy machine the thread we wait for
 * may need this very core; false once MYC__SPIN_NS have passed. */
bool myc__spin_more(myc__spin *sp) {
  CPU_RELAX(); /* some 10 to 50 ns on current x86 */
  if (++sp->n & 15) return true; /* the clock is not free: look at it now and then */
  uint64_t now = myc__now_ns();
  if (!sp->start) sp->start = now;
  uint64_t t = now - sp->start;
  if (t >= MYC__SPIN_NS) return false;
  if (t >= MYC__PAUSE_NS) sched_yield();
  return true;
}

/* Spin while *word is zero (see myc__spin_more) or until *stop is set.
 * Returns true when *word became non-zero. */
bool myc__spin_until(const _Atomic unsigned *word, const _Atomic int *stop) {
  myc__spin sp = {0, 0};
  for (;;) {
    if (atomic_load_explicit(word, memory_order_acquire)) return true;
    if (stop && atomic_load_explicit(stop, RLX)) return false;
    if (!myc__spin_more(&sp)) return false;
  }
}

/* ==== Run queue ======================================================== */

static void runq_push(myc_kernel *k, myc_ctx *s) {
  pthread_mutex_lock(&k->runq_mu);
  s->runq_next = NULL;
  if (k->runq_tail)
    k->runq_tail->runq_next = s;
  else
    k->runq_head = s;
  k->runq_tail = s;
  k->runq_len_plain++;
  atomic_store(&k->runq_len, k->runq_len_plain);
  if (k->nidle) pthread_cond_signal(&k->runq_cv);
  pthread_mutex_unlock(&k->runq_mu);
  /* Without workers the loop runs subsystems: wake it if it sleeps. */
  if (!atomic_load_explicit(&k->threaded, RLX)) myc__loop_wake(&k->loop);
}

static myc_ctx *runq_pop_locked(myc_kernel *k) {
  myc_ctx *s = k->runq_head;
  if (!s) return NULL;
  k->runq_head = s->runq_next;
  if (!k->runq_head) k->runq_tail = NULL;
  k->runq_len_plain--;
  atomic_store(&k->runq_len, k->runq_len_plain);
  return s;
}

/* Put `s` in the run queue unless it is there or running. */
void myc__schedule(myc_kernel *k, myc_ctx *s) {
  if (atomic_load(&s->scheduled)) return;
  if (atomic_exchange(&s->scheduled, 1)) return;
  runq_push(k, s);
}

/* Push an event onto a subsystem's inbox (any thread) and schedule it. */
void myc__inbox_push(myc_ctx *s, myc__event *ev) {
  myc__event *head = atomic_load(&s->inbox);
  do ev->next = head;
  while (!atomic_compare_exchange_weak(&s->inbox, &head, ev));
  myc__schedule(s->k, s);
}

static bool has_work(myc_ctx *s) {
  return atomic_load(&s->inbox) != NULL ||
         atomic_load(&s->ring.tail) != atomic_load(&s->ring.head);
}

/* Cheaper than has_work for spinning: looks at the head cell only, which
 * the next message's producer writes anyway, instead of the tail counter
 * every producer updates. */
static bool ready_soon(myc_ctx *s) {
  if (atomic_load_explicit(&s->inbox, RLX)) return true;
  myc__ring *r = &s->ring;
  if (!r->cells) return false; /* the host context has an inbox only */
  uint64_t h = atomic_load_explicit(&r->head, RLX);
  return atomic_load_explicit(&r->cells[h & r->mask].seq, memory_order_acquire) == h + 1;
}

/* Clear the flag, then look again: work that raced in is not lost. */
static void unschedule(myc_kernel *k, myc_ctx *s) {
  atomic_store(&s->scheduled, 0);
  if (has_work(s)) myc__schedule(k, s);
}

/* ==== Running a subsystem ============================================= */

/* Hand one message to its handler and settle its reply and ownership. */
static void dispatch(myc_ctx *s, myc_msg *m) {
  myc_match mt;
  const myc__route *r = m->route;
  mt.route = r ? r->tag : -1;
  mt.names = r ? r->names : NULL;
  mt.nparams = m->nparams;
  mt.path.ptr = m->uri + m->path_off;
  mt.path.len = m->path_len;
  if (m->query_off) {
    mt.query.ptr = m->uri + m->query_off;
    mt.query.len = (size_t)m->uri_len - m->query_off;
  } else {
    mt.query.ptr = m->uri + m->uri_len;
    mt.query.len = 0;
  }
  for (unsigned i = 0; i < m->nparams; i++) {
    mt.params[i].ptr = m->uri + m->params[i][0];
    mt.params[i].len = m->params[i][1];
  }
  myc__tls_current = s;
  myc__tls_msg = m;
  int rc = s->desc->handle(s->state, m, &mt);
  myc__tls_msg = NULL;
  myc__tls_current = NULL;
  if (MYC__LIKELY(rc >= 0))
    MYC__INC(s->handled, 1);
  else
    MYC__INC(s->errors, 1);
  /* A handler that kept the message may reply from another thread right
   * now: read the flags atomically (myc__deliver_reply sets REPLIED with
   * an atomic or, so exactly one reply wins). */
  uint8_t f = __atomic_load_n(&m->flags, __ATOMIC_ACQUIRE);
  if (MYC__UNLIKELY((f & (MYC__F_REQUEST | MYC__F_REPLIED)) == MYC__F_REQUEST)) {
    if (rc < 0) {
      char why[96];
      int n = snprintf(why, sizeof(why), "handler of '%s' failed: %s", s->name, myc_strerror(rc));
      myc__deliver_reply(m, rc, why, (size_t)n, MYC_KIND_ERROR);
    } else if (atomic_load(&m->refs) == 1) {
      /* Done without replying and without keeping it: success, no body. */
      myc__deliver_reply(m, 0, NULL, 0, MYC_KIND_REPLY);
    }
  }
  myc__msg_unref(m);
}

/* Room was made in a full ring: wake the senders blocked on it. The
 * read-modify-write on `blocked` pairs with the sender's increment, so
 * either we see the sender or the sender sees the room. */
static void room_made(myc_ctx *s) {
  if (atomic_fetch_add(&s->blocked, 0) == 0) return;
  atomic_fetch_add(&s->room_seq, 1);
  myc__futex_wake(&s->room_seq);
}

/* Run every inbox event of `s` (replies, timers, fd readiness) in the
 * order they arrived. */
static void run_inbox(myc_ctx *s) {
  myc__event *ev = atomic_exchange(&s->inbox, NULL);
  if (!ev) return;
  myc__event *fifo = NULL; /* the inbox is a stack: reverse it */
  while (ev) {
    myc__event *n = ev->next;
    ev->next = fifo;
    fifo = ev;
    ev = n;
  }
  myc__tls_current = s;
  while (fifo) {
    myc__event *n = fifo->next;
    if (fifo->type == MYC__EV_REPLY)
      myc__run_reply((myc_msg *)((char *)fifo - offsetof(myc_msg, ev)));
    else
      myc__loop_run_event(fifo);
    fifo = n;
  }
  myc__tls_current = NULL;
}

/* Run `s`: every inbox event, then up to `budget` queued messages. */
unsigned myc__run_sub(myc_ctx *s, unsigned budget) {
  if (atomic_load_explicit(&s->inbox, RLX)) run_inbox(s);
  unsigned done = 0;
  if (!s->desc) return 0;
  myc_msg *batch[MYC__BATCH];
  while (done < budget) {
    unsigned want = budget - done < MYC__BATCH ? budget - done : MYC__BATCH;
    unsigned n = myc__ring_pop_many(&s->ring, batch, want);
    if (!n) break;
    if (MYC__UNLIKELY(s->overflow == MYC__OVF_BLOCK)) room_made(s);
    /* Messages written on another core: start fetching them all now
     * instead of missing the cache once per message. */
    for (unsigned i = 0; i < n; i++) {
      __builtin_prefetch(batch[i]);
      __builtin_prefetch((char *)batch[i] + 64);
    }
    for (unsigned i = 0; i < n; i++) {
      if (i + 1 < n) __builtin_prefetch(batch[i + 1]);
      dispatch(s, batch[i]);
    }
    done += n;
  }
  return done;
}

/* One pass over the subsystems queued now (the loop, workers = 0). */
unsigned myc__run_ready(myc_kernel *k) {
  unsigned total = 0;
  pthread_mutex_lock(&k->runq_mu);
  unsigned n = k->runq_len_plain;
  pthread_mutex_unlock(&k->runq_mu);
  while (n--) {
    pthread_mutex_lock(&k->runq_mu);
    myc_ctx *s = runq_pop_locked(k);
    pthread_mutex_unlock(&k->runq_mu);
    if (!s) break;
    total += myc__run_sub(s, MYC__BUDGET);
    unschedule(k, s);
  }
  return total;
}

/* ==== Workers (workers = N) =========================================== */

typedef struct worker_arg {
  myc_kernel *k;
  unsigned idx;
} worker_arg;

/* The next subsystem to run: spin briefly, then sleep until a sender
 * signals. NULL once the workers are asked to stop and nothing is left. */
static myc_ctx *worker_next(myc_kernel *k) {
  myc__spin_until(&k->runq_len, &k->workers_stop);
  pthread_mutex_lock(&k->runq_mu);
  myc_ctx *s;
  while (!(s = runq_pop_locked(k)) && !atomic_load(&k->workers_stop)) {
    k->nidle++;
    pthread_cond_wait(&k->runq_cv, &k->runq_mu);
    k->nidle--;
  }
  /* Counted busy under the lock that took it off the queue, so the pair
   * (queued, busy) never shows the subsystem in neither place. */
  if (s) atomic_fetch_add(&k->busy, 1);
  pthread_mutex_unlock(&k->runq_mu);
  return s;
}

/* Wait briefly for more work for `s` while no other subsystem waits.
 * True if work came. */
static bool linger(myc_kernel *k, myc_ctx *s) {
  myc__spin sp = {0, 0};
  for (;;) {
    if (ready_soon(s)) return true;
    if (atomic_load_explicit(&k->runq_len, RLX) || atomic_load_explicit(&k->workers_stop, RLX))
      return false;
    if (!myc__spin_more(&sp)) return false;
  }
}

/* Own `s` (popped from the run queue) for turns of MYC__BUDGET messages
 * until it runs dry or another subsystem waits for a worker. */
static void worker_run(myc_kernel *k, myc_ctx *s) {
  for (;;) {
    myc__run_sub(s, MYC__BUDGET);
    if (atomic_load_explicit(&k->runq_len, RLX)) break; /* take turns */
    if (!has_work(s) && !linger(k, s)) break;
  }
  unschedule(k, s);
  atomic_fetch_sub(&k->busy, 1);
}

static void *worker_main(void *arg) {
  worker_arg *a = arg;
  myc_kernel *k = a->k;
  myc__pool_bind(k, a->idx);
  myc__tls_runner = k;
  free(a);
  myc_ctx *s;
  while ((s = worker_next(k))) worker_run(k, s);
  myc__pool_unbind(k);
  myc__tls_runner = NULL;
  return NULL;
}

/* Start k->nworkers threads. From here on they run every subsystem. */
int myc__workers_start(myc_kernel *k) {
  if (!k->nworkers) return 0;
  k->workers = calloc(k->nworkers, sizeof(pthread_t));
  if (!k->workers) return MYC_ENOMEM;
  atomic_store(&k->workers_stop, 0);
  atomic_store(&k->threaded, 1);
  for (unsigned i = 0; i < k->nworkers; i++) {
    worker_arg *a = malloc(sizeof(*a));
    if (!a) goto fail;
    a->k = k;
    a->idx = i + 1;
    if (pthread_create(&k->workers[i], NULL, worker_main, a) != 0) {
      free(a);
      goto fail;
    }
    k->nstarted = i + 1;
  }
  return 0;
fail:
  myc__workers_join(k);
  return MYC_ENOMEM;
}

/* Stop and join the workers. They finish what the run queue holds first;
 * whatever is scheduled later is run by the loop's thread. */
void myc__workers_join(myc_kernel *k) {
  if (!k->workers) return;
  pthread_mutex_lock(&k->runq_mu);
  atomic_store(&k->workers_stop, 1);
  pthread_cond_broadcast(&k->runq_cv);
  pthread_mutex_unlock(&k->runq_mu);
  for (unsigned i = 0; i < k->nstarted; i++) pthread_join(k->workers[i], NULL);
  k->nstarted = 0;
  free(k->workers);
  k->workers = NULL;
  atomic_store(&k->threaded, 0);
}

/* True when no subsystem has work and no worker is inside one. The run
 * queue is not consulted: an entry whose work was swept at shutdown is
 * no work. A snapshot: with workers running it can be briefly wrong, so
 * shutdown joins the workers and then drains once more on its own thread. */
bool myc__idle(myc_kernel *k) {
  if (atomic_load(&k->busy)) return false;
  for (unsigned i = 0; i < k->nsubs; i++)
    if (has_work(k->subs[i])) return false;
  return !has_work(k->host) && !has_work(k->kern);
}
