/* Test plugin: the smallest complete plugin. Serves good:// and answers
 * every request with "good". The loader tests copy and link it around. */
#include <mycelia/plugin.h>

static const myc_host *H;

/* No state, no routes. */
static int l_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  *state = NULL;
  return 0;
}

/* Answer "good". */
static int l_handle(void *state, myc_msg *msg, const myc_match *match) {
  return H->reply(msg, 0, "good", 4);
}

static const char *const l_schemes[] = {"good", NULL};

static const myc_plugin l_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "l_good",
    .version = "1.0.0",
    .description = "minimal plugin for the loader tests",
    .schemes = l_schemes,
    .init = l_init,
    .handle = l_handle,
};

/* Remember the host's table; refuse another major. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &l_plugin;
}
