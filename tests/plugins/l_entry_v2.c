/* Test plugin: built for a future ABI, so it exports only
 * myc_plugin_entry_v2. The host must name that symbol in its refusal. */
#include <mycelia/plugin.h>

/* Written out by hand: MYC_PLUGIN_ENTRY would say v1 here. */
MYC_EXPORT const void *myc_plugin_entry_v2(const void *host);

/* Never called by a 1.x host. */
const void *myc_plugin_entry_v2(const void *host) { return host; }
