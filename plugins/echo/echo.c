/* echo: answer every request with the body it carried.
 *
 * The throughput benchmarks run through this handler, so it does exactly
 * one body lookup and one reply and keeps no state. A message that is not a
 * request (send_pooled) makes reply() a no-op, which is the benchmark's
 * common case. */
#include <mycelia/plugin.h>

static const myc_host *H;

/* No state, no routes: the plugin serves whole schemes. */
static int echo_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  *state = NULL;
  return 0;
}

/* Reply with the request's own body (the kernel copies it into the reply
 * before the request goes back to the pool). */
static int echo_handle(void *state, myc_msg *msg, const myc_match *match) {
  size_t len;
  const void *body = H->msg_body(msg, &len);
  return H->reply(msg, 0, body, len);
}

static const char *const echo_schemes[] = {"echo", NULL};

static const myc_plugin echo_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "echo",
    .version = "1.0.0",
    .description = "Replies to every request with the body it received",
    .schemes = echo_schemes,
    .config = NULL,
    .init = echo_init,
    .start = NULL,
    .handle = echo_handle,
    .stop = NULL,
    .fini = NULL,
};

/* Remember the host's service table; refuse another ABI major. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &echo_plugin;
}
