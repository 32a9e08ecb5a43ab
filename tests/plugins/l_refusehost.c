/* Test plugin: its entry function returns NULL, as a plugin does when the
 * host lacks a service it needs. The host must refuse it cleanly. */
#include <mycelia/plugin.h>

/* Refuse every host. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) { return NULL; }
