/* Test plugin: a descriptor whose size is below MYC_PLUGIN_MIN_SIZE. */
#include <mycelia/plugin.h>

/* Never called: the host refuses the plugin first. */
static int l_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  *state = NULL;
  return 0;
}

/* Never called. */
static int l_handle(void *state, myc_msg *msg, const myc_match *match) { return 0; }

static const myc_plugin l_plugin = {
    MYC_ABI_MAJOR, MYC_ABI_MINOR, (uint32_t)offsetof(myc_plugin, init),
    .name = "l_short_desc",
    .version = "1.0.0",
    .description = "descriptor shorter than the ABI minimum",
    .init = l_init,
    .handle = l_handle,
};

/* Hand out the short descriptor. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) { return &l_plugin; }
