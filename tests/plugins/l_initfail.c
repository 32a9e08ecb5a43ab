/* Test plugin: init allocates state and then fails with a reason (unless
 * fail = false). Every lifecycle callback appends its name ("init",
 * "start", "stop", "fini") as a line to the file named by `marker`, so a
 * test can see that fini runs exactly once, also after a failed init,
 * never for a plugin that was not initialised, and that a signal stops and
 * finalises every plugin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mycelia/plugin.h>

static const myc_host *H;

/* True for the kernel's spellings of true: true, yes, on, 1. */
static int l_bool(const char *v) {
  return v && (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
               strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0);
}

typedef struct l_state {
  char *marker;
} l_state;

/* Append `what` and a newline to the marker file, if there is one. */
static void l_mark(const l_state *s, const char *what) {
  if (!s->marker) return;
  FILE *f = fopen(s->marker, "a");
  if (!f) return;
  fprintf(f, "%s\n", what);
  fclose(f);
}

/* Allocate state, mark, then fail when `fail` is true. */
static int l_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  l_state *s = calloc(1, sizeof(*s));
  if (!s) return MYC_ENOMEM;
  *state = s;
  const char *marker = H->config_get(ctx, "marker");
  if (marker && !(s->marker = strdup(marker))) return MYC_ENOMEM;
  l_mark(s, "init");
  const char *fail = H->config_get(ctx, "fail");
  if (l_bool(fail)) {
    snprintf(err, errlen, "deliberate failure of '%s' (fail = true)", H->name(ctx));
    return MYC_EIO;
  }
  return 0;
}

/* Answer "alive". */
static int l_handle(void *state, myc_msg *msg, const myc_match *match) {
  return H->reply(msg, 0, "alive", 5);
}

/* Mark. */
static int l_start(void *state) {
  l_mark(state, "start");
  return 0;
}

/* Mark. */
static void l_stop(void *state) { l_mark(state, "stop"); }

/* Mark and free. */
static void l_fini(void *state) {
  l_state *s = state;
  if (!s) return;
  l_mark(s, "fini");
  free(s->marker);
  free(s);
}

static const myc_config_key l_config[] = {
    {"marker", MYC_CFG_STRING, NULL, 0, "file that records init and fini", NULL},
    {"fail", MYC_CFG_BOOL, "true", 0, "make init fail", NULL},
    {NULL, 0, NULL, 0, NULL, NULL},
};

static const myc_plugin l_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "l_initfail",
    .version = "1.0.0",
    .description = "init fails with a reason",
    .config = l_config,
    .init = l_init,
    .start = l_start,
    .handle = l_handle,
    .stop = l_stop,
    .fini = l_fini,
};

/* Remember the host's table; refuse another major. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &l_plugin;
}
