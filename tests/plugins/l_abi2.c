/* Test plugin: a descriptor that claims ABI 2.0 behind the v1 entry
 * symbol. The host must refuse it ("built for ABI 2.0"). */
#include <mycelia/plugin.h>

/* Never called: the host refuses the plugin first. */
static int l_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  *state = NULL;
  return 0;
}

/* Never called. */
static int l_handle(void *state, myc_msg *msg, const myc_match *match) { return 0; }

static const myc_plugin l_plugin = {
    2, 0, sizeof(myc_plugin),
    .name = "l_abi2",
    .version = "2.0.0",
    .description = "claims ABI 2.0",
    .init = l_init,
    .handle = l_handle,
};

/* Hand out the descriptor whatever the host. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) { return &l_plugin; }
