/* Test plugin: init succeeds, start() fails. The host binary must treat
 * that as a run-time failure (exit 1), and --check, which never starts
 * plugins, must still pass. */
#include <mycelia/plugin.h>

static const myc_host *H;

/* Nothing to set up. */
static int l_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  *state = NULL;
  return 0;
}

/* Refuse to start. */
static int l_start(void *state) { return MYC_EIO; }

/* Never reached: the kernel does not run. */
static int l_handle(void *state, myc_msg *msg, const myc_match *match) {
  return H->reply(msg, 0, NULL, 0);
}

static const myc_plugin l_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "l_startfail",
    .version = "1.0.0",
    .description = "start fails",
    .init = l_init,
    .start = l_start,
    .handle = l_handle,
};

/* Remember the host's table; refuse another major. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &l_plugin;
}
