/* Private structures shared by the kernel's source files. Nothing here is
 * part of the ABI: plugins see only opaque pointers. */
#ifndef MYC_INTERNAL_H
#define MYC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mycelia/mycelia.h"

#define MYC__LIKELY(x) __builtin_expect(!!(x), 1)
#define MYC__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Single-writer counter bump: a plain load and store, so a reader on
 * another thread sees a torn-free value without a locked instruction. */
#define MYC__INC(c, n)                                                       \
  atomic_store_explicit(&(c), atomic_load_explicit(&(c), memory_order_relaxed) + (n), \
                        memory_order_relaxed)
#define MYC__LOAD(c) atomic_load_explicit(&(c), memory_order_relaxed)
#define MYC__ADD(c, n) atomic_fetch_add_explicit(&(c), (n), memory_order_relaxed)

typedef struct myc__ring myc__ring;
typedef struct myc__route myc__route;
typedef struct myc__rnode myc__rnode;
typedef struct myc__pending myc__pending;
typedef struct myc__tcache myc__tcache;
typedef struct myc__loop myc__loop;
typedef struct myc__pcfg myc__pcfg;

/* ==== Messages ========================================================= */

/* An item waiting in a subsystem's inbox: a reply message, a timer firing
 * or fd readiness. Run by the thread that runs the subsystem. */
typedef struct myc__event {
  struct myc__event *next;
  int type; /* MYC__EV_* */
} myc__event;
enum { MYC__EV_REPLY = 1, MYC__EV_TIMER = 2, MYC__EV_IO = 3 };


#define MYC__URI_INLINE 192 /* >= MYC__SCHEME_PAD: lookups read 32 bytes */
#define MYC__BODY_INLINE 256
#define MYC__VERB_MAX 16
#define MYC__CTYPE_MAX 32

#define MYC__MAGIC_LIVE 0x4d594331u /* "MYC1" */
#define MYC__MAGIC_FREE 0xdeadf4eeu

enum {
  MYC__F_REQUEST = 1,   /* someone waits for a reply                     */
  MYC__F_REPLIED = 2,   /* the one reply was given                       */
  MYC__F_KERNEL = 4,    /* owned by the kernel (queued or being handled) */
  MYC__F_HEAP_URI = 8,  /* uri points to the heap                        */
  MYC__F_HEAP_BODY = 16 /* body points to the heap                       */
};

struct myc_msg {
  /* -- first cache line: what the hot path touches -- */
  uint32_t magic;
  _Atomic uint32_t refs;
  uint32_t gen;         /* bumped at every return to the pool            */
  uint8_t kind;
  uint8_t flags;
  uint8_t nparams;
  uint8_t slab_idx;
  int32_t status;
  uint16_t uri_len;
  uint16_t path_off;    /* path = uri[path_off .. path_off+path_len)     */
  uint16_t path_len;
  uint16_t query_off;   /* query = uri[query_off .. uri_len), 0 if none  */
  uint32_t body_len;
  uint32_t body_cap;
  myc_msg *next;        /* free list, inbox, drain lists                 */
  myc_kernel *k;
  myc_ctx *sender;      /* NULL only while free                          */
  myc_ctx *target;      /* resolved at send                              */
  const myc__route *route;
  char *uri;
  char *body;
  /* -- second cache line: the rest of what every message uses -- */
  uint64_t id;
  uint64_t corr;
  uint64_t ts;
  myc__pending *pending; /* requests and replies                          */
  char verb[MYC__VERB_MAX];
  char ctype[MYC__CTYPE_MAX];
  char uri_inline[MYC__URI_INLINE];
  char body_inline[MYC__BODY_INLINE];
  /* -- cold: routes with parameters, replies, retirement -- */
  uint16_t params[MYC_MAX_PARAMS][2]; /* offset, length into uri          */
  myc__event ev;         /* a reply travels to its requester as an event  */
  struct myc__slab *slab;
};

/* ==== Pool (pool.c) ==================================================== */

struct myc__slab {
  uint32_t n;       /* messages in the slab                               */
  uint32_t retired; /* messages given up because the pool was full        */
  size_t idx;       /* position in the pool's slab table                  */
  myc_msg msgs[];
};

/* Per-thread magazine: the owning thread pops and pushes without atomics.
 * Counters have one writer each and are summed by readers. */
struct myc__tcache {
  /* Own cache line: magazines of threads on different cores sit side by
   * side in the pool, and sharing a line costs a miss per message. */
  _Alignas(64) _Atomic(uintptr_t) owner; /* thread marker of its user     */
  myc_msg *free;
  uint32_t nfree;
  uint32_t max;
  uint64_t next_id, id_end;
  int64_t live;          /* acquired - released through this magazine     */
  _Atomic int64_t hw;    /* the most `live` has been                      */
  _Atomic uint64_t acquired, reused, released;
};

typedef struct myc__pool {
  pthread_mutex_t mu;
  myc_msg *free; /* shared free list                                      */
  uint64_t nfree;
  uint64_t keep;  /* most messages kept free in the shared list           */
  uint32_t cache_max;
  _Atomic uint64_t created, trimmed, acquired, reused, released, high_water;
  _Atomic uint64_t next_id; /* id blocks are handed out from here         */
  struct myc__slab **slabs; /* every live slab (NULL: freed)              */
  size_t nslabs, capslabs;
  myc__tcache caches[1 + 64]; /* [0] the loop thread, [1..] workers       */
  unsigned ncaches;
} myc__pool;

int myc__pool_init(myc__pool *p, myc_kernel *k, uint64_t pool_size,
                   unsigned nthreads);
void myc__pool_destroy(myc__pool *p);
int myc__pool_warmup(myc__pool *p, myc_kernel *k, size_t n);
myc_msg *myc__pool_acquire(myc_kernel *k);
void myc__pool_release(myc_kernel *k, myc_msg *m);
void myc__pool_stats(myc__pool *p, myc_pool_stats *out);
/* Bind the calling thread to cache `idx` of k (the loop is 0). */
void myc__pool_bind(myc_kernel *k, unsigned idx);
void myc__pool_unbind(myc_kernel *k);
uint64_t myc__pool_in_use(myc__pool *p);

/* ==== Bounded MPMC ring (ring.c) ======================================= */

typedef struct myc__cell {
  _Atomic uint64_t seq;
  myc_msg *msg;
} myc__cell;

struct myc__ring {
  _Alignas(64) _Atomic uint64_t tail; /* enqueue position = total pushed  */
  _Alignas(64) _Atomic uint64_t head; /* dequeue position                  */
  _Alignas(64) myc__cell *cells;
  uint64_t mask;
};

int myc__ring_init(myc__ring *r, uint32_t capacity);
void myc__ring_destroy(myc__ring *r);
bool myc__ring_push(myc__ring *r, myc_msg *m);
/* Append up to n messages with one claim; returns how many (0: full). */
unsigned myc__ring_push_many(myc__ring *r, myc_msg *const *msgs, unsigned n);
myc_msg *myc__ring_pop(myc__ring *r);
/* Pop up to max messages into out[]; returns how many. */
unsigned myc__ring_pop_many(myc__ring *r, myc_msg **out, unsigned max);
uint64_t myc__ring_len(const myc__ring *r);
static inline uint64_t myc__ring_cap(const myc__ring *r) { return r->mask + 1; }

/* ==== Routing (router.c) =============================================== */

struct myc__route {
  char *pattern;
  int tag;
  unsigned nparams;
  const char *names[MYC_MAX_PARAMS + 1];
  char *names_buf;
  myc_ctx *sub;
  int line;        /* for error messages: where the plugin was configured */
};

#define MYC__SCHEME_MAX 31
#define MYC__SCHEME_PAD 32 /* bytes a padded lookup may read               */

typedef struct myc__scheme {
  uint64_t key[4];  /* lowercased name, zero-padded: compared by words  */
  uint64_t hash;
  uint32_t len;
  char *name;
  myc_ctx *sub;
} myc__scheme;

typedef struct myc__router {
  myc__scheme *slots;    /* open addressing, power of two               */
  uint64_t mask;
  unsigned nschemes;
} myc__router;

int myc__router_init(myc__router *r, unsigned nschemes);
void myc__router_destroy(myc__router *r);
int myc__router_add_scheme(myc__router *r, const char *scheme, myc_ctx *sub);
myc_ctx *myc__router_find(const myc__router *r, const char *scheme,
                          size_t len);
myc_ctx *myc__router_find_padded(const myc__router *r, const char *s, size_t len);
bool myc__scheme_valid(const char *s, size_t len);

/* Parse route->pattern and add it to the tree. On a bad pattern returns
 * MYC_EINVAL and writes the reason into err. */
int myc__rtree_add(myc__rnode **root, myc__route *route, char *err,
                   size_t errlen);
void myc__rtree_free(myc__rnode *root);
/* Match `path` (not NUL-terminated). Captures into params (offsets are
 * relative to `base`). */
const myc__route *myc__rtree_match(const myc__rnode *root, const char *base,
                                   const char *path, size_t len,
                                   uint16_t params[][2], uint8_t *nparams);

/* Split "scheme://path?query". Returns 0 or MYC_EURI. */
typedef struct myc__uri {
  const char *scheme;
  size_t scheme_len;
  size_t path_off, path_len, query_off; /* query_off 0: no query */
} myc__uri;
int myc__uri_parse(const char *uri, size_t len, myc__uri *out);

/* ==== Config (config.c) ================================================ */

enum { MYC__OVF_REJECT = 0, MYC__OVF_DROP_OLDEST = 1, MYC__OVF_BLOCK = 2 };

typedef struct myc__kv {
  char *key, *value;
  int line;
} myc__kv;

struct myc__pcfg {
  char *name;
  int line;             /* the [plugin NAME] line                         */
  bool enabled;
  char *path;
  int path_line;
  char **schemes;       /* NULL: the plugin's defaults                    */
  unsigned nschemes;
  int schemes_line;
  uint32_t queue_capacity; /* 0: kernel default                           */
  int overflow;         /* -1: kernel default                             */
  uint32_t block_timeout_ms;
  char **allow_send;    /* NULL: may send anywhere                        */
  unsigned nallow;
  myc__kv *keys;        /* plugin-specific keys                           */
  unsigned nkeys;
};

struct myc_config {
  char *file;
  char *plugin_dir;
  uint64_t pool_size, pool_warmup;
  uint32_t queue_capacity;
  int overflow;
  unsigned workers;
  int log_level;
  uint32_t request_timeout_ms;
  uint32_t block_timeout_ms;
  uint32_t max_uri_length, max_body_size;
  myc__pcfg *plugins;
  unsigned nplugins;
};

myc_config *myc__config_dup(const myc_config *c);
const myc__pcfg *myc__config_find(const myc_config *c, const char *name);
/* Validate `value` against a spec key. Returns NULL or a static reason. */
const char *myc__config_check_value(const myc_config_key *spec,
                                    const char *value);
bool myc__parse_bool(const char *s, bool *out);
int myc__parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* ==== Loader (loader.c) ================================================ */

typedef struct myc__lib {
  void *handle;
  char *file;              /* the resolved path                           */
  const myc_plugin *desc;
} myc__lib;

/* Open and check a plugin file. On failure *err names plugin, file and
 * reason. `dir` may be NULL to skip the directory check. */
int myc__loader_open(const char *dir, const char *path, const char *plugin,
                     myc__lib *out, char **err);
void myc__loader_close(myc__lib *lib);

/* ==== Loop (loop.c) ==================================================== */


struct myc_timer {
  myc__event ev;
  myc_ctx *sub;
  uint64_t due_ns, repeat_ns;
  myc_timer_fn fn;
  void *udata;
  unsigned heap_idx;   /* position in the loop's heap, UINT32_MAX: none  */
  _Atomic int queued;  /* in the inbox                                    */
  bool stopped;
  bool running;        /* its callback runs now (under the loop's mu)     */
  myc_timer *all_next; /* the subsystem's list, for cleanup              */
};

struct myc_io {
  myc__event ev;
  myc_ctx *sub;
  int fd;
  unsigned events, fired;
  myc_io_fn fn;
  void *udata;
  bool always_ready;   /* regular file: epoll refuses, so always ready    */
  bool stopped;
  bool running;        /* its callback runs now (under the loop's mu)     */
  _Atomic int queued;
  myc_io *all_next;
};

struct myc__loop {
  int epfd;
  int wakefd;
  _Atomic int sleeping;
  pthread_mutex_t mu;   /* timers heap                                    */
  myc_timer **heap;
  unsigned nheap, capheap;
  unsigned nio;         /* watches ever started: poll() checks fds then   */
  unsigned nstopped;    /* stopped timers and watches not yet freed       */
};

int myc__loop_init(myc__loop *l);
void myc__loop_destroy(myc__loop *l);
void myc__loop_wake(myc__loop *l);
/* Wait up to timeout_ms (-1: until woken) and queue what became ready. */
void myc__loop_wait(myc_kernel *k, int timeout_ms);
/* ms until the next timer (-1: none). */
int myc__loop_next_timeout(myc_kernel *k);
void myc__loop_fire_timers(myc_kernel *k, uint64_t now);
void myc__loop_run_event(myc__event *ev);
void myc__loop_forget(myc_ctx *s);
int myc__timer_start(myc_ctx *ctx, uint64_t first_ms, uint64_t repeat_ms,
                     myc_timer_fn fn, void *udata, myc_timer **out);
int myc__timer_stop(myc_timer *t);
int myc__io_watch(myc_ctx *ctx, int fd, unsigned events, myc_io_fn fn,
                  void *udata, myc_io **out);
int myc__io_stop(myc_io *w);

/* ==== Subsystems and the kernel (kernel.c, sched.c) ==================== */

/* A request waiting for its one reply. Whoever sets `answered` first (the
 * handler's reply, an error, a timeout, shutdown) answers; later replies
 * are counted as late and dropped. */
typedef struct myc__pending {
  myc__pending *next, *prev; /* k->pend_list, under k->pend_mu             */
  myc__pending *due_next;    /* a scan's private list                     */
  myc_ctx *requester;
  myc_reply_fn fn;           /* NULL: a myc_call thread waits on `done`    */
  void *udata;
  uint64_t req_id;
  uint64_t deadline_ns;
  uint32_t timeout_ms;
  bool linked;               /* in pend_list (under pend_mu)               */
  myc_msg *reply;            /* acquired up front: a reply cannot fail     */
  _Atomic int answered;      /* claimed by exactly one answer              */
  _Atomic int armed;         /* the request was queued: scans may answer   */
  _Atomic int refs;          /* request side + answer side (+ a scanner)   */
  _Atomic uint32_t done;     /* myc_call: futex word, 1 once reply is set  */
  _Atomic int waiting;       /* myc_call: MYC__WAIT_* (how it sleeps)      */
} myc__pending;

enum { MYC__WAIT_NONE = 0, MYC__WAIT_FUTEX = 1, MYC__WAIT_LOOP = 2 };

enum { MYC__PHASE_LOAD = 0, MYC__PHASE_INIT, MYC__PHASE_READY,
       MYC__PHASE_RUNNING, MYC__PHASE_STOPPING, MYC__PHASE_DONE };

/* A subsystem: one per plugin instance, plus the host program's context
 * and the kernel's own kernel:// service. It is also the plugin's
 * sender identity (myc_ctx). Fields are grouped by who writes them, so a
 * sender on one core and the runner on another do not share a written
 * cache line. */
struct myc_ctx {
  /* -- read-mostly: every sender reads these -- */
  myc_kernel *k;
  char *name;
  const myc_plugin *desc;    /* NULL for the host context                 */
  void *state;
  myc__rnode *routes;        /* NULL: the plugin has no routes            */
  char **allow_send;         /* NULL: anything                            */
  unsigned nallow;
  int overflow;
  uint32_t block_timeout_ms;
  int phase;
  bool initialised;
  bool started;
  const myc__pcfg *cfg;      /* NULL for host/kernel                      */
  myc__lib lib;
  myc__route **pending_routes;
  unsigned npending_routes;
  char **schemes;
  unsigned nschemes;

  myc__ring ring;            /* head, tail and cells on their own lines   */

  /* -- scheduling: senders and the runner -- */
  _Alignas(64) _Atomic int scheduled; /* in the run queue or running      */
  myc_ctx *runq_next;                 /* under k->runq_mu                 */
  _Atomic(myc__event *) inbox; /* LIFO stack, reversed when taken          */
  _Atomic int blocked;       /* senders waiting for room (overflow=block) */
  _Atomic uint32_t room_seq; /* futex word: bumped when room was made     */

  /* -- counters written by the runner only (enqueued is ring.tail) -- */
  _Alignas(64) _Atomic uint64_t handled, errors;

  /* -- counters written by senders -- */
  _Alignas(64) _Atomic uint64_t rejected, dropped;

  myc_timer *timers;         /* every timer of this subsystem             */
  myc_io *ios;
};

struct myc_kernel {
  myc_config *cfg;
  myc__pool pool;
  myc__router router;
  myc__loop loop;
  myc_ctx **subs;            /* plugin subsystems, config order           */
  unsigned nsubs;
  myc_ctx *host;             /* the embedding program                     */
  myc_ctx *kern;             /* kernel://                                 */
  uint64_t start_ns;
  pthread_t *workers;
  unsigned nworkers;         /* configured                                */
  unsigned nstarted;         /* running now                               */

  /* -- read by every send -- */
  _Alignas(64) _Atomic int phase;
  _Atomic int stop_requested;
  _Atomic int exit_code;
  _Atomic int loop_active;   /* myc_kernel_run is running                 */
  _Atomic int loop_held;     /* a thread drives the loop (run/poll/call)  */
  _Atomic int threaded;      /* workers run the subsystems now            */
  _Atomic int workers_stop;

  _Alignas(64) _Atomic uint64_t now_ns; /* refreshed by the loop          */

  /* -- the run queue -- */
  _Alignas(64) pthread_mutex_t runq_mu;
  pthread_cond_t runq_cv;
  myc_ctx *runq_head, *runq_tail;
  unsigned runq_len_plain;   /* under runq_mu                             */
  unsigned nidle;            /* workers asleep on runq_cv (under runq_mu) */
  _Atomic unsigned runq_len; /* the same, readable without the lock       */
  _Alignas(64) _Atomic unsigned busy; /* workers inside a subsystem       */

  /* -- requests -- */
  _Alignas(64) pthread_mutex_t pend_mu;
  myc__pending pend_list;    /* sentinel                                  */
  myc__pending *pend_free;
  _Atomic uint64_t pend_min; /* no deadline in pend_list before this      */

  _Alignas(64) _Atomic uint64_t rejected_noroute; /* before a subsystem    */
  _Atomic uint64_t replies, timeouts, late_replies, bad_releases;
};

/* kernel.c */
uint64_t myc__now_ns(void);
void myc__log(myc_kernel *k, int level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void myc__bad_msg(myc_kernel *k, const myc_msg *m, const char *what);
int myc__ctx_new(myc_kernel *k, const char *name, myc_ctx **out);
int myc__ctx_add_scheme(myc_ctx *s, const char *scheme);
void myc__ctx_free(myc_ctx *s);
/* Drive a kernel nobody runs for one pass (workers = 0, or workers not
 * running). Returns messages handled, or -1 if another thread drives it. */
int myc__drive_once(myc_kernel *k);
int myc__deliver_reply(myc_msg *req, int status, const void *body,
                       size_t len, int kind);

/* msg.c */
int myc__msg_set_body(myc_msg *m, const void *body, size_t len);
int myc__msg_fill(myc_msg *m, myc_ctx *from, const char *verb,
                  const char *uri, const void *body, size_t len);
void myc__msg_unref(myc_msg *m);

/* send.c */
int myc__route_and_push(myc_ctx *from, myc_msg *m);
void myc__run_reply(myc_msg *r);
void myc__pending_unref(myc_kernel *k, myc__pending *p);
int myc__next_deadline_ms(myc_kernel *k);
/* Send m as a request whose reply a myc_call thread waits for. */
int myc__request_sync(myc_ctx *ctx, myc_msg *m, uint32_t timeout_ms,
                      myc__pending **out);
/* Answer p with `status` unless it has its answer already. */
bool myc__pending_expire(myc_kernel *k, myc__pending *p, int status);
/* Answer every request still waiting with `status` (shutdown). */
void myc__answer_all(myc_kernel *k, int status);
/* Wake every sender blocked on a full queue (shutdown). */
void myc__wake_blocked(myc_kernel *k);
/* Drop what a subsystem that will not run again still has queued. */
void myc__sweep(myc_ctx *s);

/* sched.c */
extern _Thread_local myc_kernel *myc__tls_runner; /* kernel this thread runs */
extern _Thread_local myc_ctx *myc__tls_current;   /* handler running here    */
extern _Thread_local myc_msg *myc__tls_msg;       /* message being handled   */
void myc__schedule(myc_kernel *k, myc_ctx *s);
void myc__inbox_push(myc_ctx *s, myc__event *ev);
/* Run one subsystem: its inbox, then up to `budget` queued messages.
 * Returns the number of messages handled. */
unsigned myc__run_sub(myc_ctx *s, unsigned budget);
/* Run everything runnable once. Returns messages handled. */
unsigned myc__run_ready(myc_kernel *k);
void myc__check_timeouts(myc_kernel *k);
int myc__workers_start(myc_kernel *k);
void myc__workers_join(myc_kernel *k);
bool myc__idle(myc_kernel *k);
/* Bounded busy-waiting: a few microseconds of pauses, then yields, then
 * give up (after MYC__SPIN_NS) so the caller can sleep. */
typedef struct myc__spin {
  uint64_t start;
  unsigned n;
} myc__spin;
bool myc__spin_more(myc__spin *sp);
/* Spin while `*word` is zero; true if it became non-zero. */
bool myc__spin_until(const _Atomic unsigned *word, const _Atomic int *stop);
/* Sleep until *word != val, a wake, or deadline_ns (0: no deadline). */
void myc__futex_wait(_Atomic uint32_t *word, uint32_t val, uint64_t deadline_ns);
void myc__futex_wake(_Atomic uint32_t *word);

/* crash.c: the fatal-signal report (installed by handle_signals) */
int myc__crash_install(void);

/* kernel_service.c: kernel:// */
extern const myc_plugin myc__kernel_plugin;
/* errors.c */
char *myc__strdup(const char *s);
char *myc__asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
