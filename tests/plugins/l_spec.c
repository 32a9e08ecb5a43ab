/* Test plugin with a config spec of every type: name (string, required),
 * count (int, default 3), flag (bool, default false), mode (enum
 * fast|slow, default fast), ratio (double, no default). Serves spec:// with
 * two routes: "conf" replies "name=.. count=.. flag=.. mode=.. ratio=.."
 * as config_get sees them, and "users/{id}" replies the captured id. */
#include <stdio.h>

#include <mycelia/plugin.h>

static const myc_host *H;

enum { R_CONF = 1, R_USER = 7 };

/* Register the two routes; the state is the context. */
static int l_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  *state = ctx;
  int rc = H->register_route(ctx, "conf", R_CONF);
  if (rc == 0) rc = H->register_route(ctx, "users/{id}", R_USER);
  if (rc < 0) snprintf(err, errlen, "cannot register routes: %s", H->err_name(rc));
  return rc;
}

/* "(null)"-safe text of a config value. */
static const char *l_val(myc_ctx *ctx, const char *key) {
  const char *v = H->config_get(ctx, key);
  return v ? v : "-";
}

/* Answer per route. */
static int l_handle(void *state, myc_msg *msg, const myc_match *match) {
  myc_ctx *ctx = state;
  char buf[512];
  int n;
  if (match->route == R_USER)
    n = snprintf(buf, sizeof(buf), "id=%.*s", (int)match->params[0].len, match->params[0].ptr);
  else
    n = snprintf(buf, sizeof(buf), "name=%s count=%s flag=%s mode=%s ratio=%s",
                 l_val(ctx, "name"), l_val(ctx, "count"), l_val(ctx, "flag"),
                 l_val(ctx, "mode"), l_val(ctx, "ratio"));
  return H->reply(msg, 0, buf, (size_t)n);
}

static const char *const l_schemes[] = {"spec", NULL};

static const myc_config_key l_config[] = {
    {"name", MYC_CFG_STRING, NULL, 1, "what to call it", NULL},
    {"count", MYC_CFG_INT, "3", 0, "how many", NULL},
    {"flag", MYC_CFG_BOOL, "false", 0, "on or off", NULL},
    {"mode", MYC_CFG_ENUM, "fast", 0, "how to run", "fast|slow"},
    {"ratio", MYC_CFG_DOUBLE, NULL, 0, "a fraction", NULL},
    {NULL, 0, NULL, 0, NULL, NULL},
};

static const myc_plugin l_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "l_spec",
    .version = "1.2.3",
    .description = "plugin with a config spec of every type",
    .schemes = l_schemes,
    .config = l_config,
    .init = l_init,
    .handle = l_handle,
};

/* Remember the host's table; refuse another major. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &l_plugin;
}
