/* Test plugin: serves take:// and, in init, also tries to register the
 * scheme named by `scheme` (default "echo"), which another plugin serves.
 * With strict = true (the default) init fails with the kernel's answer;
 * with strict = false it carries on and a request to take:// replies
 * "rc=N" with what register_scheme returned. */
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
  int rc;
} l_state;

/* Register take://, then the contested scheme. */
static int l_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  l_state *s = calloc(1, sizeof(*s));
  if (!s) return MYC_ENOMEM;
  *state = s;
  int rc = H->register_scheme(ctx, "take");
  if (rc < 0) {
    snprintf(err, errlen, "cannot serve 'take': %s", H->strerror(rc));
    return rc;
  }
  const char *scheme = H->config_get(ctx, "scheme");
  const char *strict = H->config_get(ctx, "strict");
  s->rc = H->register_scheme(ctx, scheme);
  if (s->rc < 0 && l_bool(strict)) {
    snprintf(err, errlen, "cannot serve '%s': %s (%s)", scheme, H->strerror(s->rc),
             H->err_name(s->rc));
    return s->rc;
  }
  return 0;
}

/* Reply with register_scheme's result. */
static int l_handle(void *state, myc_msg *msg, const myc_match *match) {
  const l_state *s = state;
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "rc=%d", s->rc);
  return H->reply(msg, 0, buf, (size_t)n);
}

/* Free the state. */
static void l_fini(void *state) { free(state); }

static const myc_config_key l_config[] = {
    {"scheme", MYC_CFG_STRING, "echo", 0, "scheme to try to take in init", NULL},
    {"strict", MYC_CFG_BOOL, "true", 0, "fail init when the scheme is taken", NULL},
    {NULL, 0, NULL, 0, NULL, NULL},
};

static const myc_plugin l_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "l_takescheme",
    .version = "1.0.0",
    .description = "registers a scheme another plugin serves",
    .config = l_config,
    .init = l_init,
    .handle = l_handle,
    .fini = l_fini,
};

/* Remember the host's table; refuse another major. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &l_plugin;
}
