/* hello: the smallest useful Mycelia plugin, to copy and rename.
 *
 *   GET hello://greet/NAME   ->  "GREETING, NAME"
 *
 * It shows each part a plugin has: the one exported entry function, the
 * descriptor, a config key with a default (`greeting`), a route with a
 * parameter registered in init, state owned by the plugin, and a handler
 * that replies. Build it with the installed SDK (see README.md):
 *
 *   mycelia_add_plugin(hello hello.c)                       # CMake
 *   cc $(pkg-config --cflags mycelia-plugin) -shared -fPIC \
 *      -fvisibility=hidden -o myc_hello.so hello.c          # by hand
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mycelia/plugin.h> /* the only Mycelia header a plugin needs */

/* The host's service table, handed to the entry function. Every service
 * (messages, replies, config, timers) is reached through it. */
static const myc_host *H;

enum { ROUTE_GREET = 1 }; /* tag reported in myc_match.route */

/* Per-instance state: [plugin hello] and [plugin hello2] each get one. */
typedef struct hello_state {
  const char *greeting; /* owned by the kernel, valid until fini */
} hello_state;

/* Read the config and register the route. Registration is allowed only
 * here. On failure, say why in err and return a MYC_E* code; fini still
 * runs, with whatever *state holds. */
static int hello_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  hello_state *h = calloc(1, sizeof(*h));
  *state = h;
  if (!h) {
    snprintf(err, errlen, "out of memory");
    return MYC_ENOMEM;
  }
  h->greeting = H->config_get(ctx, "greeting"); /* the default if unset */
  int rc = H->register_route(ctx, "greet/{name}", ROUTE_GREET);
  if (rc < 0) {
    snprintf(err, errlen, "cannot register greet/{name}: %s", H->strerror(rc));
    return rc;
  }
  return 0;
}

/* Answer GET hello://greet/NAME. The message belongs to the kernel and is
 * released when this returns; match->params point into its URI. Returning
 * a MYC_E* code makes the kernel answer the request with that error. */
static int hello_handle(void *state, myc_msg *msg, const myc_match *match) {
  hello_state *h = state;
  if (match->route != ROUTE_GREET) return MYC_ENOROUTE;
  if (strcmp(H->msg_verb(msg), "GET") != 0) return MYC_EBADVERB;

  const myc_slice *name = &match->params[0]; /* not NUL-terminated */
  char text[512];
  int n = snprintf(text, sizeof(text), "%s, %.*s", h->greeting,
                   (int)name->len, name->ptr);
  if (n < 0) return MYC_EINVAL;
  if ((size_t)n >= sizeof(text)) n = (int)sizeof(text) - 1;
  return H->reply(msg, 0, text, (size_t)n); /* the body is copied */
}

/* Free the state. Runs once, also after a failed init. */
static void hello_fini(void *state) { free(state); }

static const char *const hello_schemes[] = {"hello", NULL};

/* The config spec: checked by the kernel before init, printed by
 * `mycelia --describe hello`. */
static const myc_config_key hello_config[] = {
    {"greeting", MYC_CFG_STRING, "Hello", 0, "word put before the name", NULL},
    {NULL, 0, NULL, 0, NULL, NULL},
};

static const myc_plugin hello_plugin = {
    MYC_PLUGIN_HEADER, /* abi_major, abi_minor, size */
    .name = "hello",
    .version = "1.0.0",
    .description = "Greets: GET hello://greet/NAME replies 'GREETING, NAME'",
    .schemes = hello_schemes,
    .config = hello_config,
    .init = hello_init,
    .handle = hello_handle,
    .fini = hello_fini,
};

/* The one exported symbol (myc_plugin_entry_v1): keep the host's table,
 * refuse a host of another ABI major, hand back the descriptor. */
MYC_EXPORT const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &hello_plugin;
}
