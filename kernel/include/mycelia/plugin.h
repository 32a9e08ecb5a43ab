/* Mycelia plugin ABI.
 *
 * A plugin includes this one header, links against nothing of Mycelia's and
 * exports exactly one symbol: the entry function MYC_PLUGIN_ENTRY, whose name
 * carries the ABI major version. The entry function receives the host's
 * service table and returns a static descriptor.
 *
 * Compatibility rules (see docs/plugins.md):
 *  - myc_host and myc_plugin both begin with abi_major, abi_minor and size
 *    and are append-only: fields are never reordered or removed.
 *  - The host refuses a plugin built for another major. Fields beyond a
 *    plugin's `size` are treated as absent.
 *  - A plugin checks MYC_HOST_HAS(host, field) before calling a service
 *    added after ABI 1.0.
 *  - Kernel objects (myc_ctx, myc_msg, myc_timer, myc_io) are opaque; use
 *    the accessors in the service table.
 */
#ifndef MYCELIA_PLUGIN_H
#define MYCELIA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MYC_ABI_MAJOR 1
#define MYC_ABI_MINOR 0

/* ==== Errors ============================================================
 * Every function that can fail returns 0 (or a non-negative count) on
 * success and a negative MYC_E* code on failure. Names and texts are
 * available through host->err_name() and host->strerror(). */
#define MYC_ERRNO_MAP(X)                                                     \
  X(ENOMEM, -1, "out of memory")                                             \
  X(EINVAL, -2, "invalid argument")                                          \
  X(ENOROUTE, -3, "no subsystem or route serves this URI")                   \
  X(EFULL, -4, "the subsystem's queue is full")                              \
  X(EDROPPED, -5, "dropped by the queue's drop_oldest policy")               \
  X(ETIMEDOUT, -6, "timed out")                                              \
  X(EPERM, -7, "not permitted")                                              \
  X(ESTATE, -8, "not allowed in the current state")                          \
  X(EEXIST, -9, "already exists")                                            \
  X(ENOENT, -10, "not found")                                                \
  X(EURI, -11, "malformed URI")                                              \
  X(ETOOBIG, -12, "too large")                                               \
  X(EABI, -13, "incompatible plugin ABI")                                    \
  X(ELOAD, -14, "cannot load plugin")                                        \
  X(ECONFIG, -15, "invalid configuration")                                   \
  X(EIO, -16, "input/output error")                                          \
  X(ESHUTDOWN, -17, "the kernel is shutting down")                           \
  X(EHANDLER, -18, "the handler failed")                                     \
  X(ENOTSUP, -19, "not supported")                                           \
  X(EBADMSG, -20, "message already released or not owned by the caller")     \
  X(ENOREPLY, -21, "the request was released without a reply")              \
  X(EDEADLK, -22, "operation would deadlock")                                \
  X(EBADVERB, -23, "verb not supported by this subsystem")

enum {
#define MYC__ERR_ENUM(name, code, text) MYC_##name = code,
  MYC_ERRNO_MAP(MYC__ERR_ENUM)
#undef MYC__ERR_ENUM
  MYC_OK = 0
};

/* ==== Opaque kernel objects ============================================ */
typedef struct myc_ctx myc_ctx;     /* a plugin's handle on the kernel    */
typedef struct myc_msg myc_msg;     /* a message (pooled)                 */
typedef struct myc_timer myc_timer; /* a timer on the kernel's loop       */
typedef struct myc_io myc_io;       /* a file-descriptor watch            */

/* ==== Plain data shared with plugins =================================== */

/* A view of bytes owned by someone else; not NUL-terminated. */
typedef struct myc_slice {
  const char *ptr;
  size_t len;
} myc_slice;

#define MYC_MAX_PARAMS 8

/* What the router found for a message. Filled by the kernel on the
 * handler's stack; every slice points into the message's own URI, so it is
 * valid exactly as long as the message is. */
typedef struct myc_match {
  int route;                      /* tag given to register_route, or -1   */
  unsigned nparams;               /* captured parameters                  */
  myc_slice path;                 /* after "scheme://", before '?'        */
  myc_slice query;                /* after '?', empty if none             */
  myc_slice params[MYC_MAX_PARAMS];
  const char *const *names;       /* parameter names ("*" for wildcard)   */
} myc_match;

/* Message kinds (metadata; the kernel sets REPLY and ERROR itself). */
enum {
  MYC_KIND_COMMAND = 0,
  MYC_KIND_QUERY = 1,
  MYC_KIND_EVENT = 2,
  MYC_KIND_REPLY = 3,
  MYC_KIND_ERROR = 4
};

/* Log levels. */
enum { MYC_LOG_ERROR = 0, MYC_LOG_WARN = 1, MYC_LOG_INFO = 2, MYC_LOG_DEBUG = 3 };

/* Readiness events for io_watch. */
enum { MYC_IO_READ = 1, MYC_IO_WRITE = 2, MYC_IO_HUP = 4 };

/* Config key types. Values are validated by the kernel before init. */
enum {
  MYC_CFG_STRING = 0,
  MYC_CFG_INT = 1,    /* signed 64-bit decimal                            */
  MYC_CFG_BOOL = 2,   /* true/false, yes/no, on/off, 1/0                  */
  MYC_CFG_DOUBLE = 3,
  MYC_CFG_ENUM = 4    /* one of `choices`, written "a|b|c"                */
};

/* One key of a plugin's config spec. A spec is an array terminated by an
 * entry whose key is NULL. Strings must be static. */
typedef struct myc_config_key {
  const char *key;
  int type;              /* MYC_CFG_*                                     */
  const char *def;       /* default as text, or NULL for none             */
  int required;          /* non-zero: the config must set it              */
  const char *help;      /* one line for --describe and the docs          */
  const char *choices;   /* MYC_CFG_ENUM only: "a|b|c"                    */
} myc_config_key;

/* Callbacks a plugin hands to the kernel. They all run on the thread that
 * runs the plugin's subsystem (the kernel's loop when workers = 0). */
typedef void (*myc_reply_fn)(void *udata, myc_msg *reply);
typedef void (*myc_timer_fn)(void *udata);
typedef void (*myc_io_fn)(void *udata, int fd, unsigned events);

/* ==== The host's service table ========================================= */
typedef struct myc_host {
  uint16_t abi_major;
  uint16_t abi_minor;
  uint32_t size;

  /* --- registration: allowed only inside init, else MYC_ESTATE -------- */

  /* Serve `scheme` (letters, digits, '+', '-', '.'). MYC_EEXIST if taken. */
  int (*register_scheme)(myc_ctx *ctx, const char *scheme);
  /* Route paths matching `pattern` to handle() with match->route = tag.
   * Segments are literals, {name} parameters, or a final '*' that takes
   * the rest of the path. Literal beats {param} beats '*'. */
  int (*register_route)(myc_ctx *ctx, const char *pattern, int tag);

  /* --- identity and config -------------------------------------------- */

  /* The value of `key` from this plugin's section, or its default; NULL
   * if neither. Owned by the kernel, valid until fini returns. */
  const char *(*config_get)(myc_ctx *ctx, const char *key);
  /* The plugin instance's name as written in [plugin NAME]. */
  const char *(*name)(myc_ctx *ctx);
  /* printf-style log line tagged with the plugin's name. */
  void (*log)(myc_ctx *ctx, int level, const char *fmt, ...)
#if defined(__GNUC__)
      __attribute__((format(printf, 3, 4)))
#endif
      ;

  /* --- messages ------------------------------------------------------- */

  /* Take a message from the pool. On success *out is owned by the caller
   * until a successful send/request or msg_release. */
  int (*msg_new)(myc_ctx *ctx, const char *verb, const char *uri,
                 const void *body, size_t len, myc_msg **out);
  /* Replace the body (copied). Only on a message the caller owns. */
  int (*msg_set_body)(myc_msg *m, const void *body, size_t len);
  int (*msg_set_kind)(myc_msg *m, int kind);
  int (*msg_set_content_type)(myc_msg *m, const char *type);

  const char *(*msg_uri)(const myc_msg *m, size_t *len);
  const char *(*msg_verb)(const myc_msg *m);
  const void *(*msg_body)(const myc_msg *m, size_t *len);
  const char *(*msg_content_type)(const myc_msg *m); /* "" if unset      */
  int (*msg_kind)(const myc_msg *m);
  int (*msg_status)(const myc_msg *m);       /* 0 or a MYC_E* code       */
  uint64_t (*msg_id)(const myc_msg *m);
  uint64_t (*msg_correlation)(const myc_msg *m); /* reply: request's id  */
  const char *(*msg_sender)(const myc_msg *m);   /* plugin name or "host" */
  uint64_t (*msg_timestamp)(const myc_msg *m);   /* ns, CLOCK_MONOTONIC  */
  int (*msg_is_request)(const myc_msg *m);       /* awaits a reply?      */

  /* Keep a message beyond the callback that received it. Each ref needs
   * one msg_release. A request kept this way may be replied to later. */
  int (*msg_ref)(myc_msg *m);
  /* Drop the caller's reference. Releasing twice returns MYC_EBADMSG and
   * is reported. */
  int (*msg_release)(myc_msg *m);

  /* --- sending -------------------------------------------------------- */

  /* Send a message the caller owns. Success moves ownership to the
   * kernel; failure leaves it with the caller. */
  int (*send)(myc_ctx *ctx, myc_msg *m);
  /* Take a message from the pool, fill and send it. Nothing to release. */
  int (*send_pooled)(myc_ctx *ctx, const char *verb, const char *uri,
                     const void *body, size_t len);
  /* Send `m` as a request. fn(udata, reply) runs exactly once, on this
   * plugin's thread: with the handler's reply, an error reply, or an
   * MYC_ETIMEDOUT error after timeout_ms (0 = the kernel default). The
   * reply belongs to the kernel during fn; msg_ref it to keep it. */
  int (*request)(myc_ctx *ctx, myc_msg *m, uint32_t timeout_ms,
                 myc_reply_fn fn, void *udata);
  /* Answer a request: status 0 for success, or a MYC_E* code with an
   * explanatory body. Only the first reply counts (later: MYC_ESTATE).
   * Replying to a message that is not a request is a no-op. */
  int (*reply)(myc_msg *req, int status, const void *body, size_t len);

  /* --- the kernel's loop --------------------------------------------- */

  /* Run fn after first_ms, then every repeat_ms (0 = once). */
  int (*timer_start)(myc_ctx *ctx, uint64_t first_ms, uint64_t repeat_ms,
                     myc_timer_fn fn, void *udata, myc_timer **out);
  int (*timer_stop)(myc_timer *t);
  /* Call fn when fd is ready for `events` (MYC_IO_*). */
  int (*io_watch)(myc_ctx *ctx, int fd, unsigned events, myc_io_fn fn,
                  void *udata, myc_io **out);
  int (*io_stop)(myc_io *w);
  /* Ask the kernel to drain every queue and exit with `code`. */
  void (*shutdown)(myc_ctx *ctx, int code);

  /* --- errors --------------------------------------------------------- */
  const char *(*strerror)(int code);
  const char *(*err_name)(int code);
} myc_host;

/* True when the host provides `field` (added after 1.0). */
#define MYC_HOST_HAS(host, field)                                            \
  ((host)->size >= offsetof(myc_host, field) + sizeof((host)->field))

/* ==== The plugin's descriptor ========================================== */
typedef struct myc_plugin {
  uint16_t abi_major;       /* MYC_ABI_MAJOR                              */
  uint16_t abi_minor;       /* MYC_ABI_MINOR                              */
  uint32_t size;            /* sizeof(myc_plugin)                         */
  const char *name;         /* default instance name, e.g. "kv"           */
  const char *version;      /* the plugin's own version, e.g. "1.0.0"     */
  const char *description;  /* one line                                   */
  const char *const *schemes; /* NULL-terminated default schemes or NULL  */
  const myc_config_key *config; /* spec terminated by {NULL}, or NULL     */

  /* Required. Allocate state, read config, register schemes and routes.
   * On failure return a MYC_E* code and write a reason into err. */
  int (*init)(myc_ctx *ctx, void **state, char *err, size_t errlen);
  /* Optional. Every plugin is initialised before any is started; sends
   * are allowed from here on. */
  int (*start)(void *state);
  /* Required. Handle one message. Return 0, or a MYC_E* code: the kernel
   * then answers a request with that error unless the handler replied.
   * The message belongs to the kernel; msg_ref it to keep it. */
  int (*handle)(void *state, myc_msg *msg, const myc_match *match);
  /* Optional. Called after every queue is drained; no more handle(). */
  void (*stop)(void *state);
  /* Optional. Free state. Called once, even if init failed. */
  void (*fini)(void *state);
} myc_plugin;

/* The smallest descriptor a 1.x host accepts. */
#define MYC_PLUGIN_MIN_SIZE                                                  \
  (offsetof(myc_plugin, fini) + sizeof(void (*)(void *)))

/* Fill the header of a descriptor. */
#define MYC_PLUGIN_HEADER MYC_ABI_MAJOR, MYC_ABI_MINOR, sizeof(myc_plugin)

/* ==== The one exported symbol ========================================== */
#define MYC__CAT2(a, b) a##b
#define MYC__CAT(a, b) MYC__CAT2(a, b)
#define MYC__STR2(a) #a
#define MYC__STR(a) MYC__STR2(a)
#define MYC_PLUGIN_ENTRY MYC__CAT(myc_plugin_entry_v, MYC_ABI_MAJOR)
#define MYC_PLUGIN_ENTRY_NAME MYC__STR(MYC_PLUGIN_ENTRY)

#if defined(__GNUC__)
#define MYC_EXPORT __attribute__((visibility("default")))
#else
#define MYC_EXPORT
#endif

/* Defined by the plugin: remember `host`, return the static descriptor.
 * Return NULL to refuse the host (e.g. a host too old for a service). */
MYC_EXPORT const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host);

#ifdef __cplusplus
}
#endif
#endif /* MYCELIA_PLUGIN_H */
