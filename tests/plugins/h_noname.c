/* h_noname: a descriptor without a name, which the loader refuses
 * ("descriptor has no name"). Used by tests/test_coverage_extra.c. */
#include <mycelia/plugin.h>

static int nn_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  *state = NULL;
  return 0;
}

static int nn_handle(void *state, myc_msg *msg, const myc_match *match) { return 0; }

static const myc_plugin nn_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "",
    .version = "0",
    .description = "no name",
    .init = nn_init,
    .handle = nn_handle,
};

MYC_EXPORT const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) { return &nn_plugin; }
