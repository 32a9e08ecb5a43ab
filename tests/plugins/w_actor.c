/* Test plugin w_actor: detects a broken actor rule and broken per-sender
 * order (tests/test_threads.c).
 *
 * Every message "SEQ" carries a body "LANE NUMBER": lanes are senders
 * (0..63), numbers count from 1 per lane. The handler checks that
 *  - no other thread is inside this subsystem (an atomic flag, and the
 *    per-lane table is a plain array: TSan reports any overlap too);
 *  - each lane's numbers arrive as 1, 2, 3, ... (FIFO per sender).
 * A repeating timer enters the same flag, so timers obey the rule too.
 *
 * Keys:
 *   forward  URI prefix: every SEQ is passed on there with lane + 32, from
 *            this plugin's handler (sends from handlers keep their order)
 *   threads  plugin-owned threads started by start(), each sending `count`
 *            SEQ messages to `target` on lanes 48, 49, ...
 *   count, target
 *   work     busy-loop iterations per message (widens the race window)
 *
 *   STATS    replies "received=N overlaps=O disorder=D timers=T forward_errors=F"
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mycelia/plugin.h>

static const myc_host *H;

#define LANES 64
#define MAX_THREADS 8

typedef struct actor actor;

typedef struct sender_thread {
  actor *a;
  pthread_t tid;
  int lane;
  int started;
} sender_thread;

struct actor {
  myc_ctx *ctx;
  _Atomic int inside;
  _Atomic uint64_t overlaps;
  uint64_t last[LANES]; /* plain on purpose: guarded by the actor rule */
  uint64_t received, disorder, timers, forward_errors;
  const char *forward;
  const char *target;
  long nthreads, count, work;
  _Atomic int stopping; /* sender threads give up when set */
  myc_timer *timer;
  sender_thread threads[MAX_THREADS];
};

static const myc_config_key actor_keys[] = {
    {"forward", MYC_CFG_STRING, NULL, 0, "URI prefix to pass every SEQ on to", NULL},
    {"threads", MYC_CFG_INT, "0", 0, "plugin-owned sender threads", NULL},
    {"count", MYC_CFG_INT, "0", 0, "messages per sender thread", NULL},
    {"target", MYC_CFG_STRING, NULL, 0, "URI the sender threads send to", NULL},
    {"work", MYC_CFG_INT, "50", 0, "busy-loop iterations per message", NULL},
    {NULL, 0, NULL, 0, NULL, NULL}};

/* Enter the subsystem: count an overlap if another thread is inside. */
static void enter(actor *a) {
  if (atomic_exchange(&a->inside, 1)) atomic_fetch_add(&a->overlaps, 1);
}

static void leave(actor *a) { atomic_store(&a->inside, 0); }

static void busy(long n) {
  for (volatile long i = 0; i < n; i++) {
  }
}

static int actor_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  actor *a = calloc(1, sizeof(*a));
  if (!a) {
    snprintf(err, errlen, "out of memory");
    return MYC_ENOMEM;
  }
  *state = a;
  a->ctx = ctx;
  a->forward = H->config_get(ctx, "forward");
  a->target = H->config_get(ctx, "target");
  a->nthreads = strtol(H->config_get(ctx, "threads"), NULL, 10);
  a->count = strtol(H->config_get(ctx, "count"), NULL, 10);
  a->work = strtol(H->config_get(ctx, "work"), NULL, 10);
  if (a->nthreads < 0 || a->nthreads > MAX_THREADS || (a->nthreads && !a->target)) {
    snprintf(err, errlen, "threads must be 0..%d and need a target", MAX_THREADS);
    return MYC_EINVAL;
  }
  return 0;
}

/* Timer callback: runs under the actor rule like the handler. */
static void on_timer(void *udata) {
  actor *a = udata;
  enter(a);
  a->timers++;
  busy(a->work);
  leave(a);
}

/* A plugin-owned thread: sends its lane's numbers in order, waiting
 * politely when the target's queue is full. */
static void *sender_main(void *arg) {
  sender_thread *t = arg;
  actor *a = t->a;
  char body[48];
  for (long i = 1; i <= a->count; i++) {
    int n = snprintf(body, sizeof(body), "%d %ld", t->lane, i);
    int rc;
    while ((rc = H->send_pooled(a->ctx, "SEQ", a->target, body, (size_t)n)) == MYC_EFULL &&
           !atomic_load(&a->stopping))
      sched_yield();
    if (rc < 0) break; /* shutting down */
  }
  return NULL;
}

static int actor_start(void *state) {
  actor *a = state;
  int rc = H->timer_start(a->ctx, 1, 1, on_timer, a, &a->timer);
  if (rc < 0) return rc;
  for (long i = 0; i < a->nthreads; i++) {
    sender_thread *t = &a->threads[i];
    t->a = a;
    t->lane = 48 + (int)i;
    if (pthread_create(&t->tid, NULL, sender_main, t) != 0) return MYC_ENOMEM;
    t->started = 1;
  }
  return 0;
}

/* Check one SEQ message and pass it on. */
static int on_seq(actor *a, myc_msg *msg) {
  size_t len;
  const char *b = H->msg_body(msg, &len);
  char text[48];
  if (len >= sizeof(text)) return MYC_EINVAL;
  memcpy(text, b, len);
  text[len] = '\0';
  int lane;
  unsigned long long seq;
  if (sscanf(text, "%d %llu", &lane, &seq) != 2 || lane < 0 || lane >= LANES) return MYC_EINVAL;
  a->received++;
  if (seq != a->last[lane] + 1) a->disorder++;
  a->last[lane] = seq;
  if (a->forward) {
    char uri[128], fwd[48];
    snprintf(uri, sizeof(uri), "%s", a->forward);
    int n = snprintf(fwd, sizeof(fwd), "%d %llu", lane + 32, seq);
    int rc;
    while ((rc = H->send_pooled(a->ctx, "SEQ", uri, fwd, (size_t)n)) == MYC_EFULL) sched_yield();
    if (rc < 0) a->forward_errors++;
  }
  return 0;
}

static int actor_handle(void *state, myc_msg *msg, const myc_match *match) {
  actor *a = state;
  enter(a);
  busy(a->work);
  int rc = 0;
  const char *verb = H->msg_verb(msg);
  if (strcmp(verb, "SEQ") == 0) {
    rc = on_seq(a, msg);
  } else if (strcmp(verb, "STATS") == 0) {
    char out[160];
    int n = snprintf(out, sizeof(out), "received=%llu overlaps=%llu disorder=%llu timers=%llu forward_errors=%llu",
                     (unsigned long long)a->received, (unsigned long long)atomic_load(&a->overlaps),
                     (unsigned long long)a->disorder, (unsigned long long)a->timers,
                     (unsigned long long)a->forward_errors);
    rc = H->reply(msg, 0, out, (size_t)n);
  } else {
    rc = MYC_EBADVERB;
  }
  leave(a);
  return rc;
}

/* Join the sender threads: no send after stop returns. */
static void actor_stop(void *state) {
  actor *a = state;
  atomic_store(&a->stopping, 1);
  for (long i = 0; i < a->nthreads; i++)
    if (a->threads[i].started) pthread_join(a->threads[i].tid, NULL);
  if (a->timer) H->timer_stop(a->timer);
}

static void actor_fini(void *state) { free(state); }

static const myc_plugin actor_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "w_actor",
    .version = "1.0.0",
    .description = "test: detects concurrent entry and per-sender disorder",
    .schemes = NULL,
    .config = actor_keys,
    .init = actor_init,
    .start = actor_start,
    .handle = actor_handle,
    .stop = actor_stop,
    .fini = actor_fini,
};

const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &actor_plugin;
}
