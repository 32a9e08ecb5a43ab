/* Test plugin w_gate: handlers that block, fill queues and answer late,
 * for the threading tests (tests/test_threads.c).
 *
 *   WAIT   block until a byte can be read from the `fd` key's descriptor
 *          (a pipe the test writes to: the gate), at most 10 s; replies
 *          "opened" or "closed"
 *   GET    reply with the request's body (an echo)
 *   NOP    nothing
 *   SPIN   body = microseconds of busy work
 *   FILL   body = a URI: send NOP there until a send fails (at most a
 *          million); replies the error's name, or "none"
 *   KEEP   body = milliseconds, or "never": keep the request and let the
 *          plugin's own thread reply "kept" after that long. "never" ones
 *          are released without a reply by stop().
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mycelia/plugin.h>

static const myc_host *H;

typedef struct kept {
  struct kept *next;
  myc_msg *msg;
  uint64_t due_ns; /* UINT64_MAX: never */
} kept;

typedef struct gate {
  myc_ctx *ctx;
  int fd;
  pthread_t tid;
  int started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  kept *list;
  int stop;
} gate;

static const myc_config_key gate_keys[] = {
    {"fd", MYC_CFG_INT, "-1", 0, "descriptor WAIT reads a byte from", NULL},
    {NULL, 0, NULL, 0, NULL, NULL}};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int gate_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  gate *g = calloc(1, sizeof(*g));
  if (!g) {
    snprintf(err, errlen, "out of memory");
    return MYC_ENOMEM;
  }
  *state = g;
  g->ctx = ctx;
  g->fd = (int)strtol(H->config_get(ctx, "fd"), NULL, 10);
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  return 0;
}

/* The plugin's own thread: replies to kept requests when they are due. */
static void *replier(void *arg) {
  gate *g = arg;
  pthread_mutex_lock(&g->mu);
  while (!g->stop) {
    uint64_t now = now_ns(), next = UINT64_MAX;
    kept **pp = &g->list;
    while (*pp) {
      kept *e = *pp;
      if (e->due_ns <= now) {
        *pp = e->next;
        pthread_mutex_unlock(&g->mu);
        H->reply(e->msg, 0, "kept", 4);
        H->msg_release(e->msg);
        free(e);
        pthread_mutex_lock(&g->mu);
        pp = &g->list; /* the list may have changed */
        continue;
      }
      if (e->due_ns < next) next = e->due_ns;
      pp = &e->next;
    }
    if (g->stop) break;
    if (next == UINT64_MAX) {
      pthread_cond_wait(&g->cv, &g->mu);
    } else {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      uint64_t wait = next > now ? next - now : 0;
      uint64_t t = (uint64_t)ts.tv_nsec + wait;
      ts.tv_sec += (time_t)(t / 1000000000ull);
      ts.tv_nsec = (long)(t % 1000000000ull);
      pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
  }
  pthread_mutex_unlock(&g->mu);
  return NULL;
}

static int gate_start(void *state) {
  gate *g = state;
  if (pthread_create(&g->tid, NULL, replier, g) != 0) return MYC_ENOMEM;
  g->started = 1;
  return 0;
}

static int on_keep(gate *g, myc_msg *msg, const char *arg) {
  kept *e = calloc(1, sizeof(*e));
  if (!e) return MYC_ENOMEM;
  e->due_ns = strcmp(arg, "never") == 0 ? UINT64_MAX : now_ns() + strtoull(arg, NULL, 10) * 1000000ull;
  H->msg_ref(msg);
  e->msg = msg;
  pthread_mutex_lock(&g->mu);
  e->next = g->list;
  g->list = e;
  pthread_cond_signal(&g->cv);
  pthread_mutex_unlock(&g->mu);
  return 0;
}

static int gate_handle(void *state, myc_msg *msg, const myc_match *match) {
  gate *g = state;
  const char *verb = H->msg_verb(msg);
  size_t len;
  const char *body = H->msg_body(msg, &len);
  char arg[256];
  snprintf(arg, sizeof(arg), "%.*s", (int)len, body ? body : "");
  if (strcmp(verb, "NOP") == 0) return 0;
  if (strcmp(verb, "GET") == 0) return H->reply(msg, 0, body, len);
  if (strcmp(verb, "WAIT") == 0) {
    struct pollfd p = {.fd = g->fd, .events = POLLIN};
    int n = g->fd >= 0 ? poll(&p, 1, 10000) : 0;
    char c;
    if (n == 1 && read(g->fd, &c, 1) == 1) return H->reply(msg, 0, "opened", 6);
    return H->reply(msg, 0, "closed", 6);
  }
  if (strcmp(verb, "SPIN") == 0) {
    uint64_t end = now_ns() + strtoull(arg, NULL, 10) * 1000ull;
    while (now_ns() < end) {
    }
    return 0;
  }
  if (strcmp(verb, "FILL") == 0) {
    int rc = 0;
    for (int i = 0; i < 1000000 && rc == 0; i++) rc = H->send_pooled(g->ctx, "NOP", arg, NULL, 0);
    const char *name = rc < 0 ? H->err_name(rc) : "none";
    return H->reply(msg, 0, name, strlen(name));
  }
  if (strcmp(verb, "KEEP") == 0) return on_keep(g, msg, arg);
  return MYC_EBADVERB;
}

/* Stop the replier; release what it still holds without replying. */
static void gate_stop(void *state) {
  gate *g = state;
  pthread_mutex_lock(&g->mu);
  g->stop = 1;
  pthread_cond_signal(&g->cv);
  pthread_mutex_unlock(&g->mu);
  if (g->started) pthread_join(g->tid, NULL);
  g->started = 0;
  while (g->list) {
    kept *e = g->list;
    g->list = e->next;
    H->msg_release(e->msg);
    free(e);
  }
}

static void gate_fini(void *state) {
  gate *g = state;
  if (!g) return;
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->cv);
  free(g);
}

static const myc_plugin gate_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "w_gate",
    .version = "1.0.0",
    .description = "test: blocking, filling and late-replying handlers",
    .schemes = NULL,
    .config = gate_keys,
    .init = gate_init,
    .start = gate_start,
    .handle = gate_handle,
    .stop = gate_stop,
    .fini = gate_fini,
};

const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &gate_plugin;
}
