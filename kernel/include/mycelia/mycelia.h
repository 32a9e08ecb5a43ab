/* Mycelia embedding API: run the kernel inside your own program.
 *
 * The typical life of an embedded kernel:
 *
 *   myc_config *cfg; myc_kernel *k; char *err = NULL;
 *   if (myc_config_load("mycelia.ini", &cfg, &err) < 0) { puts(err); ... }
 *   if (myc_kernel_new(cfg, &k, &err) < 0) { puts(err); ... }  // loads + inits
 *   myc_kernel_start(k);                                        // start()
 *   myc_send_pooled(myc_kernel_ctx(k), "PUT", "db://a/b", "1", 1);
 *   myc_kernel_run(k);            // until myc_kernel_shutdown() or a signal
 *   myc_kernel_free(k);           // drain, stop, fini, unload
 *   myc_config_free(cfg);
 *
 * Every error string handed back through `char **err` is malloc'd and owned
 * by the caller (free it). Message functions are the same ones plugins reach
 * through myc_host, with the host program acting as sender "host".
 */
#ifndef MYCELIA_MYCELIA_H
#define MYCELIA_MYCELIA_H

#include <stdbool.h>
#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MYC_VERSION "0.1.0"

typedef struct myc_kernel myc_kernel;
typedef struct myc_config myc_config;

/* ==== Errors and version =============================================== */

/* Text for a MYC_E* code ("unknown error" for others). Static. */
const char *myc_strerror(int code);
/* Name of a MYC_E* code, e.g. "ENOROUTE". Static. */
const char *myc_err_name(int code);
/* The library version string, MYC_VERSION. */
const char *myc_version(void);

/* ==== Configuration ==================================================== */

/* Parse an INI file. On failure returns MYC_ECONFIG (or MYC_EIO) and sets
 * *err to "FILE:LINE: message". */
int myc_config_load(const char *path, myc_config **out, char **err);
/* Parse INI text; `name` is used as the file name in errors. */
int myc_config_parse(const char *text, const char *name, myc_config **out,
                     char **err);
/* An empty config (all kernel defaults), to be filled with myc_config_set. */
int myc_config_new(myc_config **out);
/* Set `key` in `section` ("kernel" or "plugin NAME") as if read from a
 * file. Validates like the parser and reports errors the same way. */
int myc_config_set(myc_config *cfg, const char *section, const char *key,
                   const char *value, char **err);
/* The plugin folder the config names (owned by cfg). */
const char *myc_config_plugin_dir(const myc_config *cfg);
/* Free a config. The kernel keeps its own copy, so this may follow
 * myc_kernel_new at once. */
void myc_config_free(myc_config *cfg);

/* ==== Kernel lifecycle ================================================= */

/* Build a kernel: allocate the pool, load and check every enabled plugin,
 * check plugin keys against their specs, run every init, compile routes.
 * On failure nothing is left running and *err names the culprit. */
int myc_kernel_new(const myc_config *cfg, myc_kernel **out, char **err);
/* Call every plugin's start, in config order. */
int myc_kernel_start(myc_kernel *k, char **err);
/* Run the loop until shutdown is requested, then drain every queue.
 * Returns the exit code passed to shutdown. */
int myc_kernel_run(myc_kernel *k);
/* Dispatch whatever is queued and due, without waiting. Returns the number
 * of messages handled (>= 0). For workers = 0 only. */
int myc_kernel_poll(myc_kernel *k);
/* Ask the kernel to stop with `code`. Safe from any thread and from a
 * signal handler. */
void myc_kernel_shutdown(myc_kernel *k, int code);
/* Drain every queue, stop and finalise every plugin, unload, free. */
void myc_kernel_free(myc_kernel *k);
/* Install SIGINT/SIGTERM handlers that shut `k` down (SIGPIPE ignored),
 * and a fatal-signal handler (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT)
 * that prints which plugin and which message URI were being handled, then
 * lets the process die by the signal. */
int myc_kernel_handle_signals(myc_kernel *k);

/* The host program's own sender context (sender name "host"). */
myc_ctx *myc_kernel_ctx(myc_kernel *k);
/* The service table plugins receive. */
const myc_host *myc_host_table(void);

/* ==== Messages (the same functions as in myc_host) ===================== */
int myc_msg_new(myc_ctx *ctx, const char *verb, const char *uri,
                const void *body, size_t len, myc_msg **out);
int myc_msg_set_body(myc_msg *m, const void *body, size_t len);
int myc_msg_set_kind(myc_msg *m, int kind);
int myc_msg_set_content_type(myc_msg *m, const char *type);
const char *myc_msg_uri(const myc_msg *m, size_t *len);
const char *myc_msg_verb(const myc_msg *m);
const void *myc_msg_body(const myc_msg *m, size_t *len);
const char *myc_msg_content_type(const myc_msg *m);
int myc_msg_kind(const myc_msg *m);
int myc_msg_status(const myc_msg *m);
uint64_t myc_msg_id(const myc_msg *m);
uint64_t myc_msg_correlation(const myc_msg *m);
const char *myc_msg_sender(const myc_msg *m);
uint64_t myc_msg_timestamp(const myc_msg *m);
int myc_msg_is_request(const myc_msg *m);
int myc_msg_ref(myc_msg *m);
int myc_msg_release(myc_msg *m);

/* Send a message the caller owns: success moves it to the kernel, failure
 * leaves it with the caller. */
int myc_send(myc_ctx *ctx, myc_msg *m);
/* Send msgs[0..n) (all the caller's) in order: messages bound for one
 * subsystem one after another are queued with a single claim on its queue.
 * Returns how many were sent, counting from the front (the rest are still
 * the caller's), or the error of the first message if none was sent. */
int myc_send_batch(myc_ctx *ctx, myc_msg *const *msgs, unsigned n);
/* Pooled send: no message to manage. Failure is counted as rejected. */
int myc_send_pooled(myc_ctx *ctx, const char *verb, const char *uri,
                    const void *body, size_t len);
/* Send a request; fn runs exactly once with the reply (see myc_host). */
int myc_request(myc_ctx *ctx, myc_msg *m, uint32_t timeout_ms,
                myc_reply_fn fn, void *udata);
/* Answer a request (see myc_host.reply). */
int myc_reply(myc_msg *req, int status, const void *body, size_t len);
/* Synchronous request from the host program: send and run the loop (or
 * wait, with workers) until the reply arrives. On success *reply is owned
 * by the caller (release it); its status may still be an error. */
int myc_call(myc_ctx *ctx, const char *verb, const char *uri,
             const void *body, size_t len, uint32_t timeout_ms,
             myc_msg **reply);

/* ==== Statistics (always on) =========================================== */

typedef struct myc_pool_stats {
  uint64_t size;       /* messages allocated and not freed (free + in use) */
  uint64_t free;       /* messages waiting in the free list               */
  uint64_t in_use;     /* messages owned by someone                       */
  uint64_t created;    /* messages ever allocated                         */
  uint64_t reused;     /* acquisitions served from the free list          */
  uint64_t released;   /* releases back to the pool                       */
  uint64_t acquired;   /* acquisitions in all                             */
  uint64_t trimmed;    /* freed because the pool already kept pool_size   */
  uint64_t high_water; /* most messages in use at once                    */
  double reuse_rate;   /* reused / acquired, 0..1                         */
} myc_pool_stats;

typedef struct myc_stats {
  uint64_t sent;       /* sends attempted (send, send_pooled, request)    */
  uint64_t rejected;   /* sends that returned an error                    */
  uint64_t handled;    /* handler returned success                        */
  uint64_t errored;    /* handler failed, or dropped with an error reply  */
  uint64_t dropped;    /* removed by drop_oldest (also in errored)        */
  uint64_t replies;    /* replies delivered to requesters                 */
  uint64_t timeouts;   /* requests answered by a timeout                  */
  uint64_t late_replies; /* replies that came after a timeout, discarded  */
  uint64_t bad_releases; /* double releases and use-after-release caught  */
} myc_stats;

typedef struct myc_subsystem_stats {
  const char *name;
  uint64_t enqueued, handled, rejected, dropped, errors;
  uint32_t queue_len, queue_capacity;
} myc_subsystem_stats;

/* Pre-allocate `n` messages into the pool (beyond pool_size if asked). */
int myc_pool_warmup(myc_kernel *k, size_t n);
void myc_pool_get_stats(myc_kernel *k, myc_pool_stats *out);
void myc_kernel_get_stats(myc_kernel *k, myc_stats *out);
/* Stats of the subsystem serving plugin `name`; MYC_ENOENT if none. */
int myc_subsystem_get_stats(myc_kernel *k, const char *name,
                            myc_subsystem_stats *out);

/* ==== Introspection for --describe ==================================== */

/* Load plugin `plugin` (a name, found as plugin_dir/myc_NAME.so, or a path
 * containing '/') with the same checks as the kernel, and write a
 * description of it and its config keys to *out (malloc'd, caller frees). */
int myc_describe_plugin(const char *plugin_dir, const char *plugin, char **out,
                        char **err);

#ifdef __cplusplus
}
#endif
#endif /* MYCELIA_MYCELIA_H */
