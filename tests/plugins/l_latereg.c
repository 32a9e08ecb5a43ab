/* Test plugin: registers late:// and route "probe" in init (allowed), then
 * tries register_scheme and register_route again in start() and in
 * handle(), where the kernel must answer MYC_ESTATE. A request to
 * late://probe replies "start=S,R handle=S,R" with the four results. */
#include <stdio.h>
#include <stdlib.h>

#include <mycelia/plugin.h>

static const myc_host *H;

typedef struct l_state {
  myc_ctx *ctx;
  int start_scheme, start_route;
} l_state;

/* Register late:// and late://probe: both must succeed here. */
static int l_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  l_state *s = calloc(1, sizeof(*s));
  if (!s) return MYC_ENOMEM;
  *state = s;
  s->ctx = ctx;
  s->start_scheme = s->start_route = 1; /* "start() never ran" */
  int rc = H->register_scheme(ctx, "late");
  if (rc == 0) rc = H->register_route(ctx, "probe", 1);
  if (rc < 0) snprintf(err, errlen, "registration in init failed: %s", H->err_name(rc));
  return rc;
}

/* Registration after init: record what the kernel says. */
static int l_start(void *state) {
  l_state *s = state;
  s->start_scheme = H->register_scheme(s->ctx, "late2");
  s->start_route = H->register_route(s->ctx, "other", 2);
  return 0;
}

/* Try once more from a handler and reply with all four results. */
static int l_handle(void *state, myc_msg *msg, const myc_match *match) {
  l_state *s = state;
  int hs = H->register_scheme(s->ctx, "late3");
  int hr = H->register_route(s->ctx, "another", 3);
  char buf[96];
  int n = snprintf(buf, sizeof(buf), "start=%d,%d handle=%d,%d", s->start_scheme,
                   s->start_route, hs, hr);
  return H->reply(msg, 0, buf, (size_t)n);
}

/* Free the state. */
static void l_fini(void *state) { free(state); }

static const myc_plugin l_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "l_latereg",
    .version = "1.0.0",
    .description = "tries to register outside init",
    .init = l_init,
    .start = l_start,
    .handle = l_handle,
    .fini = l_fini,
};

/* Remember the host's table; refuse another major. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &l_plugin;
}
