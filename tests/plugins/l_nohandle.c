/* Test plugin: a descriptor without the required handle callback. */
#include <mycelia/plugin.h>

/* Never called: the host refuses the plugin first. */
static int l_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  *state = NULL;
  return 0;
}

static const myc_plugin l_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "l_nohandle",
    .version = "1.0.0",
    .description = "has no handle callback",
    .init = l_init,
    .handle = NULL,
};

/* Hand out the incomplete descriptor. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) { return &l_plugin; }
