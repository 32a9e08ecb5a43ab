/* Scheduling: subsystems are actors.
 *
 * A subsystem with work (queued messages or inbox events) sits in the run
 * queue at most once, guarded by its `scheduled` flag; whoever pops it is
 * the only thread in its handler until it puts it back. With workers = 0
 * the loop thread pops; with workers = N, N threads do. A sender pushes,
 * then schedules if the flag was clear; a runner clears the flag, then
 * looks again: both sides use sequentially consistent operations, so one
 * of them always sees the other's work and nothing is stranded. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

_Thread_local myc_kernel *myc__tls_runner;
_Thread_local myc_ctx *myc__tls_current;
_Thread_local myc_msg *myc__tls_msg;

#define MYC__BATCH 32
#define MYC__BUDGET 256 /* messages per turn: one flood cannot starve others */

/* ==== Run queue ======================================================== */

static void runq_push(myc_kernel *k, myc_ctx *s) {
  pthread_mutex_lock(&k->runq_mu);
  s->runq_next = NULL;
  if (k->runq_tail)
    k->runq_tail->runq_next = s;
  else
    k->runq_head = s;
  k->runq_tail = s;
  atomic_store(&k->runq_len, k->runq_len_plain + 1);
  k->runq_len_plain++;
  if (k->nworkers) pthread_cond_signal(&k->runq_cv);
  pthread_mutex_unlock(&k->runq_mu);
  if (!k->nworkers) myc__loop_wake(&k->loop);
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
  if (MYC__UNLIKELY((m->flags & (MYC__F_REQUEST | MYC__F_REPLIED)) == MYC__F_REQUEST)) {
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

/* Run `s`: every inbox event, then up to `budget` queued messages. */
unsigned myc__run_sub(myc_ctx *s, unsigned budget) {
  myc__event *ev = atomic_exchange(&s->inbox, NULL);
  if (ev) {
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
  unsigned done = 0;
  if (!s->desc) return 0;
  myc_msg *batch[MYC__BATCH];
  while (done < budget) {
    unsigned want = budget - done < MYC__BATCH ? budget - done : MYC__BATCH;
    unsigned n = myc__ring_pop_many(&s->ring, batch, want);
    if (!n) break;
    for (unsigned i = 0; i < n; i++) dispatch(s, batch[i]);
    done += n;
  }
  return done;
}

/* One pass over the subsystems queued now (workers = 0). */
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

static void *worker_main(void *arg) {
  worker_arg *a = arg;
  myc_kernel *k = a->k;
  myc__pool_bind(k, a->idx);
  myc__tls_runner = k;
  free(a);
  for (;;) {
    /* Spin briefly for latency, then sleep so an idle kernel costs
     * nothing. */
    for (int i = 0; i < 4000 && !atomic_load_explicit(&k->runq_len, memory_order_relaxed) &&
                    !atomic_load_explicit(&k->workers_stop, memory_order_relaxed);
         i++)
      CPU_RELAX();
    pthread_mutex_lock(&k->runq_mu);
    myc_ctx *s;
    while (!(s = runq_pop_locked(k)) && !atomic_load(&k->workers_stop))
      pthread_cond_wait(&k->runq_cv, &k->runq_mu);
    pthread_mutex_unlock(&k->runq_mu);
    if (!s) break;
    atomic_fetch_add(&k->busy, 1);
    myc__run_sub(s, MYC__BUDGET);
    unschedule(k, s);
    atomic_fetch_sub(&k->busy, 1);
  }
  myc__pool_unbind(k);
  myc__tls_runner = NULL;
  return NULL;
}

/* Start k->nworkers threads. */
int myc__workers_start(myc_kernel *k) {
  if (!k->nworkers) return 0;
  k->workers = calloc(k->nworkers, sizeof(pthread_t));
  if (!k->workers) return MYC_ENOMEM;
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

/* Stop and join the workers (their queues must be drained first). */
void myc__workers_join(myc_kernel *k) {
  pthread_mutex_lock(&k->runq_mu);
  atomic_store(&k->workers_stop, 1);
  pthread_cond_broadcast(&k->runq_cv);
  pthread_mutex_unlock(&k->runq_mu);
  for (unsigned i = 0; i < k->nstarted; i++) pthread_join(k->workers[i], NULL);
  k->nstarted = 0;
  free(k->workers);
  k->workers = NULL;
}

/* True when no subsystem has work and no worker is inside one. */
bool myc__idle(myc_kernel *k) {
  if (atomic_load(&k->runq_len) || atomic_load(&k->busy)) return false;
  for (unsigned i = 0; i < k->nsubs; i++)
    if (has_work(k->subs[i])) return false;
  return !has_work(k->host) && !has_work(k->kern);
}
