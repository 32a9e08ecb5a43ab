/* The kernel's loop: epoll for file descriptors, an eventfd to be woken
 * from other threads, and a binary heap of timers. Nothing here calls
 * plugin code: a due timer or a ready descriptor becomes an event in its
 * subsystem's inbox, run by whichever thread runs that subsystem, so the
 * actor rule (one thread in a subsystem at a time) holds for callbacks too.
 * Queue draining never costs a syscall: the loop sleeps only when the run
 * queue is empty, and senders write the eventfd only if it sleeps. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

/* The longest timer delay or period accepted: about 292 years in ms, so
 * now + delay in ns cannot wrap a uint64_t. */
#define MYC__TIMER_MAX_MS (UINT64_MAX / 1000000ull / 2)

int myc__loop_init(myc__loop *l) {
  memset(l, 0, sizeof(*l));
  l->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (l->epfd < 0) return MYC_EIO;
  l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (l->wakefd < 0) goto fail;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0) goto fail;
  pthread_mutex_init(&l->mu, NULL);
  return 0;
fail:
  if (l->wakefd >= 0) close(l->wakefd);
  close(l->epfd);
  l->epfd = l->wakefd = -1;
  return MYC_EIO;
}

void myc__loop_destroy(myc__loop *l) {
  if (l->epfd < 0) return;
  close(l->wakefd);
  close(l->epfd);
  free(l->heap);
  pthread_mutex_destroy(&l->mu);
  l->epfd = -1;
}

/* Wake the loop if it sleeps. Async-signal-safe. */
void myc__loop_wake(myc__loop *l) {
  uint64_t one = 1;
  if (atomic_load(&l->sleeping)) {
    ssize_t rc = write(l->wakefd, &one, sizeof(one));
    (void)rc;
  }
}

/* ==== Timers =========================================================== */

static void heap_swap(myc__loop *l, unsigned a, unsigned b) {
  myc_timer *t = l->heap[a];
  l->heap[a] = l->heap[b];
  l->heap[b] = t;
  l->heap[a]->heap_idx = a;
  l->heap[b]->heap_idx = b;
}

static void heap_up(myc__loop *l, unsigned i) {
  while (i > 0) {
    unsigned p = (i - 1) / 2;
    if (l->heap[p]->due_ns <= l->heap[i]->due_ns) break;
    heap_swap(l, i, p);
    i = p;
  }
}

static void heap_down(myc__loop *l, unsigned i) {
  for (;;) {
    unsigned c = 2 * i + 1, m = i;
    if (c < l->nheap && l->heap[c]->due_ns < l->heap[m]->due_ns) m = c;
    if (c + 1 < l->nheap && l->heap[c + 1]->due_ns < l->heap[m]->due_ns) m = c + 1;
    if (m == i) return;
    heap_swap(l, i, m);
    i = m;
  }
}

static int heap_push(myc__loop *l, myc_timer *t) {
  if (l->nheap == l->capheap) {
    unsigned cap = l->capheap ? l->capheap * 2 : 16;
    myc_timer **h = realloc(l->heap, cap * sizeof(*h));
    if (!h) return MYC_ENOMEM;
    l->heap = h;
    l->capheap = cap;
  }
  t->heap_idx = l->nheap;
  l->heap[l->nheap++] = t;
  heap_up(l, t->heap_idx);
  return 0;
}

static void heap_remove(myc__loop *l, myc_timer *t) {
  unsigned i = t->heap_idx;
  if (i == UINT32_MAX) return;
  t->heap_idx = UINT32_MAX;
  if (i != --l->nheap) {
    l->heap[i] = l->heap[l->nheap];
    l->heap[i]->heap_idx = i;
    heap_down(l, i);
    heap_up(l, i);
  }
}

/* Start a timer owned by subsystem ctx (see myc_host.timer_start). */
int myc__timer_start(myc_ctx *ctx, uint64_t first_ms, uint64_t repeat_ms,
                       myc_timer_fn fn, void *udata, myc_timer **out) {
  /* Beyond MYC__TIMER_MAX_MS the deadline in ns would wrap. */
  if (!ctx || !fn || !out || first_ms > MYC__TIMER_MAX_MS || repeat_ms > MYC__TIMER_MAX_MS)
    return MYC_EINVAL;
  myc_kernel *k = ctx->k;
  myc_timer *t = calloc(1, sizeof(*t));
  if (!t) return MYC_ENOMEM;
  t->ev.type = MYC__EV_TIMER;
  t->sub = ctx;
  t->fn = fn;
  t->udata = udata;
  t->repeat_ns = repeat_ms * 1000000ull;
  t->due_ns = myc__now_ns() + first_ms * 1000000ull;
  t->heap_idx = UINT32_MAX;
  myc__loop *l = &k->loop;
  pthread_mutex_lock(&l->mu);
  int rc = heap_push(l, t);
  if (rc == 0) {
    t->all_next = ctx->timers;
    ctx->timers = t;
  }
  pthread_mutex_unlock(&l->mu);
  if (rc < 0) {
    free(t);
    return rc;
  }
  myc__loop_wake(l);
  *out = t;
  return 0;
}

/* Stop a timer. Its memory stays with the subsystem until it is freed. */
int myc__timer_stop(myc_timer *t) {
  if (!t) return MYC_EINVAL;
  myc__loop *l = &t->sub->k->loop;
  pthread_mutex_lock(&l->mu);
  if (!t->stopped) l->nstopped++;
  t->stopped = true;
  heap_remove(l, t);
  pthread_mutex_unlock(&l->mu);
  return 0;
}

/* Move due timers to their subsystems' inboxes. */
void myc__loop_fire_timers(myc_kernel *k, uint64_t now) {
  myc__loop *l = &k->loop;
  pthread_mutex_lock(&l->mu);
  while (l->nheap && l->heap[0]->due_ns <= now) {
    myc_timer *t = l->heap[0];
    heap_remove(l, t);
    if (t->repeat_ns) {
      t->due_ns += t->repeat_ns;
      if (t->due_ns <= now) t->due_ns = now + t->repeat_ns;
      heap_push(l, t);
    }
    if (!atomic_exchange(&t->queued, 1)) myc__inbox_push(t->sub, &t->ev);
  }
  pthread_mutex_unlock(&l->mu);
}

/* ms until the next timer, -1 if none. */
int myc__loop_next_timeout(myc_kernel *k) {
  myc__loop *l = &k->loop;
  int ms = -1;
  pthread_mutex_lock(&l->mu);
  if (l->nheap) {
    uint64_t now = myc__now_ns(), due = l->heap[0]->due_ns;
    ms = due <= now ? 0 : (int)((due - now + 999999) / 1000000);
  }
  pthread_mutex_unlock(&l->mu);
  return ms;
}

/* ==== File descriptors ================================================ */

static int io_arm(myc__loop *l, myc_io *w, int op) {
  struct epoll_event ev = {.events = EPOLLONESHOT, .data.ptr = w};
  if (w->events & MYC_IO_READ) ev.events |= EPOLLIN | EPOLLRDHUP;
  if (w->events & MYC_IO_WRITE) ev.events |= EPOLLOUT;
  return epoll_ctl(l->epfd, op, w->fd, &ev);
}

/* Watch fd for ctx (see myc_host.io_watch). Regular files cannot be
 * polled; they are always ready, as poll(2) would say. */
int myc__io_watch(myc_ctx *ctx, int fd, unsigned events, myc_io_fn fn,
                    void *udata, myc_io **out) {
  if (!ctx || fd < 0 || !fn || !out || !(events & (MYC_IO_READ | MYC_IO_WRITE)) ||
      (events & ~(unsigned)(MYC_IO_READ | MYC_IO_WRITE | MYC_IO_HUP)))
    return MYC_EINVAL;
  myc__loop *l = &ctx->k->loop;
  myc_io *w = calloc(1, sizeof(*w));
  if (!w) return MYC_ENOMEM;
  w->ev.type = MYC__EV_IO;
  w->sub = ctx;
  w->fd = fd;
  w->events = events;
  w->fn = fn;
  w->udata = udata;
  if (io_arm(l, w, EPOLL_CTL_ADD) < 0) {
    if (errno != EPERM) {
      free(w);
      return errno == EEXIST ? MYC_EEXIST : MYC_EIO;
    }
    w->always_ready = true;
  }
  pthread_mutex_lock(&l->mu);
  w->all_next = ctx->ios;
  ctx->ios = w;
  __atomic_fetch_add(&l->nio, 1, __ATOMIC_RELAXED); /* read by the loop without l->mu */
  pthread_mutex_unlock(&l->mu);
  if (w->always_ready) {
    w->fired = events & (MYC_IO_READ | MYC_IO_WRITE);
    atomic_store(&w->queued, 1);
    myc__inbox_push(ctx, &w->ev);
  }
  *out = w;
  return 0;
}

/* Stop watching. The watch's memory stays with the subsystem. */
int myc__io_stop(myc_io *w) {
  if (!w) return MYC_EINVAL;
  myc__loop *l = &w->sub->k->loop;
  pthread_mutex_lock(&l->mu);
  if (!w->stopped) {
    if (!w->always_ready) epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    l->nstopped++;
  }
  w->stopped = true;
  pthread_mutex_unlock(&l->mu);
  return 0;
}

/* Free the stopped timers and watches of one subsystem that no inbox holds
 * and no callback runs (called with l->mu held). */
static void sweep_sub(myc__loop *l, myc_ctx *s) {
  for (myc_timer **pt = &s->timers; *pt;) {
    myc_timer *t = *pt;
    if (t->stopped && !t->running && !atomic_load(&t->queued)) {
      *pt = t->all_next;
      l->nstopped--;
      free(t);
    } else {
      pt = &t->all_next;
    }
  }
  for (myc_io **pw = &s->ios; *pw;) {
    myc_io *w = *pw;
    if (w->stopped && !w->running && !atomic_load(&w->queued)) {
      *pw = w->all_next;
      l->nstopped--;
      free(w);
    } else {
      pw = &w->all_next;
    }
  }
}

/* Reclaim stopped timers and watches. Runs on the loop thread between two
 * epoll waits, so no event array still points at them. */
static void sweep(myc_kernel *k) {
  myc__loop *l = &k->loop;
  pthread_mutex_lock(&l->mu);
  if (l->nstopped) {
    for (unsigned i = 0; i < k->nsubs; i++) sweep_sub(l, k->subs[i]);
    if (k->host) sweep_sub(l, k->host);
    if (k->kern) sweep_sub(l, k->kern);
  }
  pthread_mutex_unlock(&l->mu);
}

/* Run an inbox event (timer or io) on the subsystem's thread. */
void myc__loop_run_event(myc__event *ev) {
  if (ev->type == MYC__EV_TIMER) {
    myc_timer *t = (myc_timer *)ev;
    myc__loop *tl = &t->sub->k->loop;
    pthread_mutex_lock(&tl->mu);
    bool run = !t->stopped && !atomic_load(&t->sub->k->stop_requested);
    t->running = run;
    atomic_store(&t->queued, 0);
    pthread_mutex_unlock(&tl->mu);
    if (!run) return;
    t->fn(t->udata);
    pthread_mutex_lock(&tl->mu);
    t->running = false;
    pthread_mutex_unlock(&tl->mu);
    return;
  }
  myc_io *w = (myc_io *)ev;
  myc__loop *l = &w->sub->k->loop;
  pthread_mutex_lock(&l->mu);
  /* Once shutdown is asked for, input is no longer accepted. */
  bool run = !w->stopped && !atomic_load(&w->sub->k->stop_requested);
  w->running = run;
  atomic_store(&w->queued, 0);
  pthread_mutex_unlock(&l->mu);
  if (!run) return;
  w->fn(w->udata, w->fd, w->fired);
  pthread_mutex_lock(&l->mu);
  w->running = false;
  if (!w->stopped) {
    if (w->always_ready) {
      atomic_store(&w->queued, 1);
      myc__inbox_push(w->sub, &w->ev);
    } else {
      io_arm(l, w, EPOLL_CTL_MOD);
    }
  }
  pthread_mutex_unlock(&l->mu);
}

/* Wait for descriptors or the next timer, up to timeout_ms, and queue what
 * became ready. */
void myc__loop_wait(myc_kernel *k, int timeout_ms) {
  myc__loop *l = &k->loop;
  struct epoll_event evs[32];
  sweep(k);
  int n = epoll_wait(l->epfd, evs, 32, timeout_ms);
  for (int i = 0; i < n; i++) {
    myc_io *w = evs[i].data.ptr;
    if (!w) {
      uint64_t v;
      ssize_t rc = read(l->wakefd, &v, sizeof(v));
      (void)rc;
      continue;
    }
    unsigned fired = 0;
    if (evs[i].events & EPOLLIN) fired |= MYC_IO_READ;
    if (evs[i].events & EPOLLOUT) fired |= MYC_IO_WRITE;
    if (evs[i].events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) fired |= MYC_IO_HUP | (w->events & MYC_IO_READ);
    pthread_mutex_lock(&l->mu);
    if (!w->stopped && !atomic_exchange(&w->queued, 1)) {
      w->fired = fired;
      myc__inbox_push(w->sub, &w->ev);
    }
    pthread_mutex_unlock(&l->mu);
  }
  myc__loop_fire_timers(k, myc__now_ns());
}

/* Free every timer and watch of a subsystem (at shutdown). */
void myc__loop_forget(myc_ctx *s) {
  myc__loop *l = &s->k->loop;
  pthread_mutex_lock(&l->mu);
  for (myc_timer *t = s->timers, *n; t; t = n) {
    n = t->all_next;
    heap_remove(l, t);
    free(t);
  }
  for (myc_io *w = s->ios, *n; w; w = n) {
    n = w->all_next;
    if (!w->stopped && !w->always_ready) epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    free(w);
  }
  s->timers = NULL;
  s->ios = NULL;
  pthread_mutex_unlock(&l->mu);
}

