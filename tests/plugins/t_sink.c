/* Test plugin t_sink: serves sink:// and counts what it handles.
 *
 *   sink://err     the handler fails with MYC_EHANDLER
 *   sink://count   replies "handled=H requests=R errors=E" (this message
 *                  is not counted)
 *   anything else  counted and left alone (a request gets the kernel's
 *                  automatic empty OK)
 *
 * The overflow tests push a million messages through it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mycelia/plugin.h>

static const myc_host *H;

typedef struct sink {
  unsigned long long handled;  /* messages seen (count excluded)        */
  unsigned long long requests; /* of which requests                     */
  unsigned long long errors;   /* of which failed on purpose            */
} sink;

/* Allocate the counters. */
static int sink_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  sink *s = calloc(1, sizeof(*s));
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return MYC_ENOMEM;
  }
  *state = s;
  return 0;
}

/* True when the match's path is exactly `lit`. */
static int path_is(const myc_match *mt, const char *lit) {
  size_t n = strlen(lit);
  return mt->path.len == n && memcmp(mt->path.ptr, lit, n) == 0;
}

/* Count the message; fail it or report the counters when asked. */
static int sink_handle(void *state, myc_msg *msg, const myc_match *mt) {
  sink *s = state;
  if (path_is(mt, "count")) {
    char buf[128];
    int n = snprintf(buf, sizeof(buf), "handled=%llu requests=%llu errors=%llu", s->handled,
                     s->requests, s->errors);
    return H->reply(msg, 0, buf, (size_t)n);
  }
  s->handled++;
  if (H->msg_is_request(msg) == 1) s->requests++;
  if (path_is(mt, "err")) {
    s->errors++;
    return MYC_EHANDLER;
  }
  return 0;
}

/* Free the counters. */
static void sink_fini(void *state) { free(state); }

static const char *const sink_schemes[] = {"sink", NULL};

static const myc_plugin sink_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "t_sink",
    .version = "1.0.0",
    .description = "test plugin: counts what it handles",
    .schemes = sink_schemes,
    .init = sink_init,
    .handle = sink_handle,
    .fini = sink_fini,
};

/* Remember the host's table; refuse another major. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &sink_plugin;
}
