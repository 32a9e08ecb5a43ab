/* The kernel object: bootstrap (load, check, init, compile), the loop,
 * shutdown (drain, stop, fini, unload) and statistics. */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* ==== Small services =================================================== */

uint64_t myc__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *level_name(int level) {
  static const char *names[] = {"error", "warn", "info", "debug"};
  return level >= 0 && level <= 3 ? names[level] : "log";
}

/* One line on stderr: "mycelia: LEVEL: WHO: text". */
void myc__log(myc_kernel *k, int level, const char *who, const char *fmt, ...) {
  if (k && k->cfg && level > k->cfg->log_level) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  fprintf(stderr, "mycelia: %s: %s%s%s\n", level_name(level), who ? who : "",
          who ? ": " : "", line);
}

/* Report a message used after its release: counted and logged. */
void myc__bad_msg(myc_kernel *k, const myc_msg *m, const char *what) {
  if (!k) return;
  MYC__ADD(k->bad_releases, 1);
  myc__log(k, MYC_LOG_ERROR, myc__tls_current ? myc__tls_current->name : NULL,
           "tried to %s message %p after it was released (generation %u): "
           "take a reference with msg_ref to keep a message",
           what, (const void *)m, m->gen);
}

/* ==== Subsystems ======================================================= */

int myc__ctx_new(myc_kernel *k, const char *name, myc_ctx **out) {
  myc_ctx *s = calloc(1, sizeof(*s));
  if (!s || !(s->name = myc__strdup(name))) {
    free(s);
    return MYC_ENOMEM;
  }
  s->k = k;
  *out = s;
  return 0;
}

void myc__ctx_free(myc_ctx *s) {
  if (!s) return;
  myc__loop_forget(s);
  myc__ring_destroy(&s->ring);
  myc__rtree_free(s->routes);
  for (unsigned i = 0; i < s->npending_routes; i++) {
    free(s->pending_routes[i]->pattern);
    free(s->pending_routes[i]->names_buf);
    free(s->pending_routes[i]);
  }
  free(s->pending_routes);
  for (unsigned i = 0; i < s->nschemes; i++) free(s->schemes[i]);
  free(s->schemes);
  myc__loader_close(&s->lib);
  free(s->name);
  free(s);
}

/* Remember a scheme the subsystem serves (for kernel://plugins). */
int myc__ctx_add_scheme(myc_ctx *s, const char *scheme) {
  int rc = myc__router_add_scheme(&s->k->router, scheme, s);
  if (rc < 0) return rc;
  char **v = realloc(s->schemes, (s->nschemes + 1) * sizeof(*v));
  if (!v) return MYC_ENOMEM;
  s->schemes = v;
  if (!(v[s->nschemes] = myc__strdup(scheme))) return MYC_ENOMEM;
  s->nschemes++;
  return 0;
}

/* ==== Bootstrap ======================================================== */

static int fail(char **err, char *msg) {
  if (err)
    *err = msg;
  else
    free(msg);
  return MYC_ECONFIG;
}

/* Check the plugin's section against its config spec. */
static int check_keys(myc_kernel *k, myc_ctx *s, char **err) {
  const myc__pcfg *pc = s->cfg;
  const myc_config_key *spec = s->desc->config;
  const char *file = k->cfg->file;
  for (unsigned i = 0; i < pc->nkeys; i++) {
    const myc_config_key *key = NULL;
    for (const myc_config_key *c = spec; c && c->key; c++)
      if (strcmp(c->key, pc->keys[i].key) == 0) key = c;
    if (!key) {
      char known[512] = "";
      size_t n = 0;
      for (const myc_config_key *c = spec; c && c->key && n < sizeof(known) - 64; c++)
        n += (size_t)snprintf(known + n, sizeof(known) - n, "%s%s", n ? ", " : "", c->key);
      return fail(err, myc__asprintf("%s:%d: [plugin %s] unknown key '%s' (%s%s)", file,
                                     pc->keys[i].line, pc->name, pc->keys[i].key,
                                     n ? "known: " : "this plugin takes no keys", known));
    }
    const char *why = myc__config_check_value(key, pc->keys[i].value);
    if (why)
      return fail(err, myc__asprintf("%s:%d: [plugin %s] %s = '%s': %s", file, pc->keys[i].line,
                                     pc->name, key->key, pc->keys[i].value, why));
  }
  for (const myc_config_key *c = spec; c && c->key; c++) {
    bool found = false;
    for (unsigned i = 0; i < pc->nkeys; i++)
      if (strcmp(c->key, pc->keys[i].key) == 0) found = true;
    if (c->required && !found)
      return fail(err, myc__asprintf("%s:%d: [plugin %s] missing required key '%s' (%s)", file,
                                     pc->line, pc->name, c->key, c->help ? c->help : ""));
  }
  return 0;
}

/* Create the subsystem of one [plugin NAME] section and load its file. */
static int add_plugin(myc_kernel *k, const myc__pcfg *pc, char **err) {
  const myc_config *cfg = k->cfg;
  myc_ctx *s;
  char *e = NULL;
  if (myc__ctx_new(k, pc->name, &s) < 0) return fail(err, myc__strdup("out of memory"));
  k->subs[k->nsubs++] = s;
  s->cfg = pc;
  s->overflow = pc->overflow >= 0 ? pc->overflow : cfg->overflow;
  s->block_timeout_ms = pc->block_timeout_ms != UINT32_MAX ? pc->block_timeout_ms : cfg->block_timeout_ms;
  s->allow_send = pc->allow_send;
  s->nallow = pc->nallow;
  if (myc__ring_init(&s->ring, pc->queue_capacity ? pc->queue_capacity : cfg->queue_capacity) < 0)
    return fail(err, myc__strdup("out of memory"));
  char def[128];
  snprintf(def, sizeof(def), "myc_%s.so", pc->name);
  if (myc__loader_open(cfg->plugin_dir, pc->path ? pc->path : def, pc->name, &s->lib, &e) < 0) {
    int rc = fail(err, myc__asprintf("%s:%d: %s", cfg->file, pc->path_line ? pc->path_line : pc->line, e));
    free(e);
    return rc;
  }
  s->desc = s->lib.desc;
  int rc = check_keys(k, s, err);
  if (rc < 0) return rc;

  const char *const *schemes = (const char *const *)pc->schemes;
  unsigned n = pc->nschemes;
  if (!schemes) {
    schemes = s->desc->schemes;
    for (n = 0; schemes && schemes[n]; n++) {
    }
  }
  for (unsigned i = 0; i < n; i++) {
    rc = myc__ctx_add_scheme(s, schemes[i]);
    if (rc == MYC_EEXIST) {
      myc_ctx *other = myc__router_find(&k->router, schemes[i], strlen(schemes[i]));
      return fail(err, myc__asprintf("%s:%d: [plugin %s] scheme '%s' is already served by '%s'",
                                     cfg->file, pc->schemes ? pc->schemes_line : pc->line,
                                     pc->name, schemes[i], other ? other->name : "?"));
    }
    if (rc < 0)
      return fail(err, myc__asprintf("%s:%d: [plugin %s] cannot serve scheme '%s': %s", cfg->file,
                                     pc->line, pc->name, schemes[i], myc_strerror(rc)));
  }
  return 0;
}

/* Run one subsystem's init; registration is open only during it. */
static int init_one(myc_kernel *k, myc_ctx *s, char **err) {
  char why[512] = "";
  s->phase = MYC__PHASE_INIT;
  int rc = s->desc->init(s, &s->state, why, sizeof(why));
  s->initialised = true;
  s->phase = MYC__PHASE_READY;
  if (rc >= 0) return 0;
  why[sizeof(why) - 1] = '\0';
  if (s->cfg)
    return fail(err, myc__asprintf("%s:%d: plugin '%s' (%s): init failed: %s", k->cfg->file,
                                   s->cfg->line, s->name, s->lib.file,
                                   why[0] ? why : myc_strerror(rc)));
  return fail(err, myc__asprintf("%s: init failed: %s", s->name, why[0] ? why : myc_strerror(rc)));
}

static int make_kernel_ctx(myc_kernel *k, char **err) {
  if (myc__ctx_new(k, "host", &k->host) < 0 || myc__ctx_new(k, "kernel", &k->kern) < 0)
    return fail(err, myc__strdup("out of memory"));
  myc_ctx *s = k->kern;
  s->desc = &myc__kernel_plugin;
  s->overflow = MYC__OVF_REJECT;
  if (myc__ring_init(&s->ring, k->cfg->queue_capacity) < 0 || myc__ctx_add_scheme(s, "kernel") < 0)
    return fail(err, myc__strdup("out of memory"));
  return 0;
}

int myc_kernel_new(const myc_config *cfg, myc_kernel **out, char **err) {
  char *e = NULL;
  int rc;
  if (err) *err = NULL;
  if (!cfg || !out) return MYC_EINVAL;
  *out = NULL;
  myc_kernel *k = calloc(1, sizeof(*k));
  if (!k) return fail(err, myc__strdup("out of memory"));
  k->loop.epfd = -1;
  k->pend_list.next = k->pend_list.prev = &k->pend_list;
  atomic_store(&k->pend_min, UINT64_MAX);
  pthread_mutex_init(&k->runq_mu, NULL);
  pthread_cond_init(&k->runq_cv, NULL);
  pthread_mutex_init(&k->pend_mu, NULL);
  k->start_ns = myc__now_ns();
  atomic_store(&k->now_ns, k->start_ns);
  if (!(k->cfg = myc__config_dup(cfg))) {
    rc = fail(&e, myc__strdup("out of memory"));
    goto fail;
  }
  k->nworkers = k->cfg->workers;
  if (myc__loop_init(&k->loop) < 0) {
    rc = fail(&e, myc__strdup("cannot create the event loop (epoll/eventfd)"));
    goto fail;
  }
  if (myc__pool_init(&k->pool, k, k->cfg->pool_size, 1 + k->nworkers) < 0 ||
      myc__pool_warmup(&k->pool, k, k->cfg->pool_warmup) < 0 ||
      myc__router_init(&k->router, 8 + 2 * k->cfg->nplugins) < 0 ||
      !(k->subs = calloc(k->cfg->nplugins + 1, sizeof(*k->subs)))) {
    rc = fail(&e, myc__strdup("out of memory"));
    goto fail;
  }
  myc__pool_bind(k, 0);
  if ((rc = make_kernel_ctx(k, &e)) < 0) goto fail;
  for (unsigned i = 0; i < k->cfg->nplugins; i++) {
    if (!k->cfg->plugins[i].enabled) continue;
    if ((rc = add_plugin(k, &k->cfg->plugins[i], &e)) < 0) goto fail;
  }
  if ((rc = init_one(k, k->kern, &e)) < 0) goto fail;
  for (unsigned i = 0; i < k->nsubs; i++)
    if ((rc = init_one(k, k->subs[i], &e)) < 0) goto fail;
  atomic_store(&k->phase, MYC__PHASE_READY);
  *out = k;
  return 0;
fail:
  myc_kernel_free(k);
  if (err)
    *err = e;
  else
    free(e);
  return rc < 0 ? rc : MYC_ECONFIG;
}

int myc_kernel_start(myc_kernel *k, char **err) {
  if (err) *err = NULL;
  if (atomic_load(&k->phase) != MYC__PHASE_READY) return MYC_ESTATE;
  for (unsigned i = 0; i < k->nsubs; i++) {
    myc_ctx *s = k->subs[i];
    /* A plugin without start() is started all the same: its stop() runs. */
    int rc = s->desc->start ? s->desc->start(s->state) : 0;
    if (rc < 0) {
      if (err)
        *err = myc__asprintf("plugin '%s' (%s): start failed: %s", s->name, s->lib.file,
                             myc_strerror(rc));
      return rc;
    }
    s->started = true;
  }
  int rc = myc__workers_start(k);
  if (rc < 0) {
    if (err) *err = myc__strdup("cannot start worker threads");
    return rc;
  }
  atomic_store(&k->phase, MYC__PHASE_RUNNING);
  return 0;
}

/* ==== The loop =========================================================
 *
 * At most one thread at a time drives the loop (timers, descriptors,
 * request timeouts and, without workers, the subsystems): the thread in
 * myc_kernel_run, or else a thread inside myc_kernel_poll, myc_call or a
 * blocked send that found nobody driving. `loop_held` is that role;
 * myc__tls_runner marks the thread holding it, so a handler it runs cannot
 * wait for itself. */

static bool loop_enter(myc_kernel *k, myc_kernel **saved) {
  int free_ = 0;
  if (!atomic_compare_exchange_strong(&k->loop_held, &free_, 1)) return false;
  *saved = myc__tls_runner;
  myc__tls_runner = k;
  return true;
}

static void loop_leave(myc_kernel *k, myc_kernel *saved) {
  myc__tls_runner = saved;
  atomic_store(&k->loop_held, 0);
}

/* Timers, request timeouts and (if asked) descriptors, without blocking. */
static void tick(myc_kernel *k, bool poll_fds) {
  uint64_t now = myc__now_ns();
  atomic_store_explicit(&k->now_ns, now, memory_order_relaxed);
  if (poll_fds) myc__loop_wait(k, 0);
  myc__loop_fire_timers(k, now);
  myc__check_timeouts(k);
}

/* Does this loop run the subsystems (no workers running)? */
static bool loop_runs_subs(myc_kernel *k) { return !atomic_load_explicit(&k->threaded, memory_order_relaxed); }

/* One pass: what is runnable, then timers and timeouts, then what they
 * made runnable. Returns messages handled. */
static int poll_once(myc_kernel *k) {
  bool run = loop_runs_subs(k);
  int n = run ? (int)myc__run_ready(k) : 0;
  tick(k, __atomic_load_n(&k->loop.nio, __ATOMIC_RELAXED) > 0);
  if (run) n += (int)myc__run_ready(k);
  return n;
}

/* Sleep until woken, a timer or request deadline is due, a descriptor is
 * ready, or max_ms passed (-1: no limit). Senders wake the loop only when
 * `sleeping` is set, so the flag is set before the last look. */
static void loop_sleep(myc_kernel *k, int max_ms) {
  int t = myc__loop_next_timeout(k), d = myc__next_deadline_ms(k);
  if (d >= 0 && (t < 0 || d < t)) t = d;
  if (max_ms >= 0 && (t < 0 || t > max_ms)) t = max_ms;
  atomic_store(&k->loop.sleeping, 1);
  if (!(loop_runs_subs(k) && atomic_load(&k->runq_len)) && !atomic_load(&k->stop_requested))
    myc__loop_wait(k, t);
  atomic_store(&k->loop.sleeping, 0);
}

int myc__drive_once(myc_kernel *k) {
  myc_kernel *saved = NULL;
  if (!loop_enter(k, &saved)) return -1;
  int n = poll_once(k);
  loop_leave(k, saved);
  return n;
}

int myc_kernel_poll(myc_kernel *k) {
  int n = myc__drive_once(k);
  return n < 0 ? 0 : n;
}

/* Run until idle, or for 10 s at most (a subsystem that keeps sending to
 * itself never idles). Without workers, this thread runs the subsystems. */
static void drain(myc_kernel *k) {
  uint64_t deadline = myc__now_ns() + 10ull * 1000000000ull;
  while (!myc__idle(k)) {
    if (myc__now_ns() >= deadline) {
      myc__log(k, MYC_LOG_ERROR, NULL, "shutdown: queues still busy after 10 s; giving up draining");
      return;
    }
    if (loop_runs_subs(k)) {
      myc__run_ready(k);
    } else {
      struct timespec ts = {0, 100000};
      nanosleep(&ts, NULL);
    }
    tick(k, false);
  }
}

/* Drain every queue, answer every request still waiting, join the
 * workers, stop every plugin, and refuse sends from then on. The caller
 * holds the loop role. */
static void shutdown_now(myc_kernel *k) {
  int phase = atomic_load(&k->phase);
  if (phase < MYC__PHASE_READY || phase >= MYC__PHASE_STOPPING) return;
  atomic_store(&k->stop_requested, 1);
  drain(k);
  /* Requests nobody will answer now (kept by a plugin, or waiting on
   * something that stopped) get MYC_ESHUTDOWN, and their callbacks run. */
  myc__answer_all(k, MYC_ESHUTDOWN);
  drain(k);
  myc__workers_join(k);
  drain(k); /* whatever was scheduled as the workers left */
  atomic_store(&k->phase, MYC__PHASE_STOPPING);
  for (unsigned i = k->nsubs; i-- > 0;) {
    myc_ctx *s = k->subs[i];
    if (s->started && s->desc->stop) s->desc->stop(s->state);
    s->started = false;
  }
  drain(k); /* what stop() sent */
  myc__answer_all(k, MYC_ESHUTDOWN);
  drain(k);
  atomic_store(&k->phase, MYC__PHASE_DONE);
  /* Sends that passed their checks before DONE may still land: they are
   * swept here or by the sender itself (see myc__route_and_push). */
  for (unsigned i = 0; i < k->nsubs; i++) myc__sweep(k->subs[i]);
  myc__sweep(k->kern);
  myc__wake_blocked(k);
}

int myc_kernel_run(myc_kernel *k) {
  if (atomic_load(&k->phase) == MYC__PHASE_READY) {
    int rc = myc_kernel_start(k, NULL);
    if (rc < 0) return 1;
  }
  /* A thread inside myc_call or a blocked send may drive the loop right
   * now; it hands over when it sees loop_active. */
  atomic_store(&k->loop_active, 1);
  myc__loop_wake(&k->loop); /* a driver asleep in the loop: look up */
  myc_kernel *saved = NULL;
  while (!loop_enter(k, &saved)) {
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
  }
  while (!atomic_load(&k->stop_requested)) {
    bool run = loop_runs_subs(k);
    if (run) myc__run_ready(k);
    tick(k, run && __atomic_load_n(&k->loop.nio, __ATOMIC_RELAXED) > 0);
    if (run && (atomic_load(&k->runq_len) || myc__spin_until(&k->runq_len, &k->stop_requested)))
      continue;
    loop_sleep(k, -1);
  }
  shutdown_now(k);
  /* Once the role is released, myc_kernel_free may run: touch k no more. */
  int code = atomic_load(&k->exit_code);
  atomic_store(&k->loop_active, 0);
  loop_leave(k, saved);
  return code;
}

void myc_kernel_shutdown(myc_kernel *k, int code) {
  if (!atomic_exchange(&k->stop_requested, 1)) atomic_store(&k->exit_code, code);
  uint64_t one = 1;
  ssize_t rc = write(k->loop.wakefd, &one, sizeof(one));
  (void)rc;
}

void myc_kernel_free(myc_kernel *k) {
  if (!k) return;
  myc_kernel *saved = NULL;
  /* The loop role is free unless the embedder frees a running kernel. */
  while (atomic_load(&k->phase) >= MYC__PHASE_READY && !loop_enter(k, &saved)) {
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
  }
  if (atomic_load(&k->phase) >= MYC__PHASE_READY) {
    shutdown_now(k);
    loop_leave(k, saved);
  }
  myc__workers_join(k); /* a kernel that failed to start */
  for (unsigned i = k->nsubs; i-- > 0;) {
    myc_ctx *s = k->subs[i];
    if (s->initialised && s->desc->fini) s->desc->fini(s->state);
  }
  for (unsigned i = 0; i < k->nsubs; i++) myc__ctx_free(k->subs[i]);
  myc__ctx_free(k->kern);
  myc__ctx_free(k->host);
  free(k->subs);
  myc__pool_unbind(k);
  if (k->cfg) myc__pool_destroy(&k->pool);
  myc__router_destroy(&k->router);
  myc__loop_destroy(&k->loop);
  for (myc__pending *p = k->pend_free, *n; p; p = n) {
    n = p->next;
    free(p);
  }
  for (myc__pending *p = k->pend_list.next, *n; p != &k->pend_list; p = n) {
    n = p->next;
    free(p);
  }
  pthread_mutex_destroy(&k->runq_mu);
  pthread_cond_destroy(&k->runq_cv);
  pthread_mutex_destroy(&k->pend_mu);
  myc_config_free(k->cfg);
  if (myc__tls_runner == k) myc__tls_runner = NULL;
  free(k);
}

/* ==== Signals ========================================================== */

static myc_kernel *_Atomic sig_kernel;

static void on_signal(int sig) {
  myc_kernel *k = atomic_load(&sig_kernel);
  if (k && !atomic_load(&k->stop_requested)) {
    myc_kernel_shutdown(k, 0);
    return;
  }
  /* A second signal while draining: stop at once. */
  signal(sig, SIG_DFL);
  raise(sig);
}

int myc_kernel_handle_signals(myc_kernel *k) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  atomic_store(&sig_kernel, k);
  if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) return MYC_EIO;
  signal(SIGPIPE, SIG_IGN);
  return myc__crash_install();
}

/* ==== Host program helpers ============================================ */

myc_ctx *myc_kernel_ctx(myc_kernel *k) { return k->host; }

/* Wait for the reply of the synchronous request p. Spin briefly (with
 * spinning workers a reply takes microseconds), then: if nobody runs the
 * kernel, drive it from here; else sleep on p->done. At the deadline, claim
 * the request and answer it with MYC_ETIMEDOUT ourselves. */
static void call_wait(myc_kernel *k, myc__pending *p) {
  bool expired = false;
  if (atomic_load(&k->threaded) || atomic_load(&k->loop_active))
    myc__spin_until((const _Atomic unsigned *)&p->done, NULL);
  while (!atomic_load(&p->done)) {
    uint64_t now = myc__now_ns();
    if (!expired && now >= p->deadline_ns) {
      myc__pending_expire(k, p, MYC_ETIMEDOUT);
      expired = true;
      continue;
    }
    bool nobody = !atomic_load(&k->threaded) && !atomic_load(&k->loop_active);
    myc_kernel *saved = NULL;
    if (nobody && loop_enter(k, &saved)) {
      /* Drive the loop until the reply, the deadline, or a hand-over. */
      while (!atomic_load(&p->done) && !atomic_load(&k->loop_active) && !atomic_load(&k->threaded)) {
        now = myc__now_ns();
        if (now >= p->deadline_ns) break;
        if (poll_once(k) > 0 || atomic_load(&p->done)) continue;
        int ms = (int)((p->deadline_ns - now + 999999) / 1000000);
        atomic_store(&p->waiting, MYC__WAIT_LOOP);
        if (!atomic_load(&p->done)) loop_sleep(k, ms);
        atomic_store(&p->waiting, MYC__WAIT_NONE);
      }
      loop_leave(k, saved);
      continue;
    }
    /* Someone else runs the kernel. Without workers and without
     * myc_kernel_run that someone may leave: look again every ms. */
    uint64_t until = expired ? 0 : p->deadline_ns;
    if (nobody) until = now + 1000000;
    atomic_store(&p->waiting, MYC__WAIT_FUTEX);
    if (!atomic_load(&p->done)) myc__futex_wait(&p->done, 0, until);
    atomic_store(&p->waiting, MYC__WAIT_NONE);
  }
}

int myc_call(myc_ctx *ctx, const char *verb, const char *uri, const void *body,
             size_t len, uint32_t timeout_ms, myc_msg **reply) {
  if (!ctx || !reply) return MYC_EINVAL;
  *reply = NULL;
  myc_kernel *k = ctx->k;
  /* A handler or callback waiting here would wait for itself. */
  if (myc__tls_current || myc__tls_runner == k) return MYC_EDEADLK;
  myc_msg *m;
  int rc = myc_msg_new(ctx, verb, uri, body, len, &m);
  if (rc < 0) return rc;
  myc__pending *p;
  rc = myc__request_sync(ctx, m, timeout_ms, &p);
  if (rc < 0) {
    myc_msg_release(m);
    return rc;
  }
  call_wait(k, p);
  *reply = p->reply;
  p->reply = NULL;
  myc__pending_unref(k, p);
  return 0;
}

/* ==== Statistics ======================================================= */

int myc_pool_warmup(myc_kernel *k, size_t n) { return myc__pool_warmup(&k->pool, k, n); }

void myc_pool_get_stats(myc_kernel *k, myc_pool_stats *out) { myc__pool_stats(&k->pool, out); }

static void sub_stats(const myc_ctx *s, myc_subsystem_stats *o) {
  o->name = s->name;
  o->enqueued = atomic_load(&s->ring.tail);
  o->handled = MYC__LOAD(s->handled);
  o->rejected = MYC__LOAD(s->rejected);
  o->dropped = MYC__LOAD(s->dropped);
  o->errors = MYC__LOAD(s->errors);
  o->queue_len = s->ring.cells ? (uint32_t)myc__ring_len(&s->ring) : 0;
  o->queue_capacity = s->ring.cells ? (uint32_t)myc__ring_cap(&s->ring) : 0;
}

void myc_kernel_get_stats(myc_kernel *k, myc_stats *out) {
  memset(out, 0, sizeof(*out));
  out->rejected = MYC__LOAD(k->rejected_noroute);
  for (unsigned i = 0; i <= k->nsubs; i++) {
    myc_subsystem_stats st;
    sub_stats(i < k->nsubs ? k->subs[i] : k->kern, &st);
    out->sent += st.enqueued + st.rejected;
    out->rejected += st.rejected;
    out->handled += st.handled;
    out->errored += st.errors + st.dropped;
    out->dropped += st.dropped;
  }
  out->sent += MYC__LOAD(k->rejected_noroute);
  out->replies = MYC__LOAD(k->replies);
  out->timeouts = MYC__LOAD(k->timeouts);
  out->late_replies = MYC__LOAD(k->late_replies);
  out->bad_releases = MYC__LOAD(k->bad_releases);
}

int myc_subsystem_get_stats(myc_kernel *k, const char *name, myc_subsystem_stats *out) {
  for (unsigned i = 0; i <= k->nsubs; i++) {
    myc_ctx *s = i < k->nsubs ? k->subs[i] : k->kern;
    if (strcmp(s->name, name) == 0) {
      sub_stats(s, out);
      return 0;
    }
  }
  return MYC_ENOENT;
}

const char *myc_config_plugin_dir(const myc_config *cfg) { return cfg->plugin_dir; }
