/* The service table handed to plugins, and the services that exist only
 * for them: registration, config lookup, logging, --describe. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ==== Registration (init only) ======================================== */

static int register_scheme(myc_ctx *ctx, const char *scheme) {
  if (!ctx || !scheme) return MYC_EINVAL;
  if (ctx->phase != MYC__PHASE_INIT) return MYC_ESTATE;
  int rc = myc__ctx_add_scheme(ctx, scheme);
  if (rc == MYC_EEXIST) {
    myc_ctx *o = myc__router_find(&ctx->k->router, scheme, strlen(scheme));
    myc__log(ctx->k, MYC_LOG_ERROR, ctx->name, "scheme '%s' is already served by '%s'", scheme,
             o ? o->name : "?");
  }
  return rc;
}

static int register_route(myc_ctx *ctx, const char *pattern, int tag) {
  if (!ctx || !pattern) return MYC_EINVAL;
  if (ctx->phase != MYC__PHASE_INIT) return MYC_ESTATE;
  myc__route **v = realloc(ctx->pending_routes, (ctx->npending_routes + 1) * sizeof(*v));
  if (!v) return MYC_ENOMEM;
  ctx->pending_routes = v;
  myc__route *r = calloc(1, sizeof(*r));
  if (!r || !(r->pattern = myc__strdup(pattern))) {
    free(r);
    return MYC_ENOMEM;
  }
  r->tag = tag;
  r->sub = ctx;
  char why[256];
  int rc = myc__rtree_add(&ctx->routes, r, why, sizeof(why));
  if (rc < 0) {
    myc__log(ctx->k, MYC_LOG_ERROR, ctx->name, "%s", why);
    free(r->names_buf);
    free(r->pattern);
    free(r);
    return rc;
  }
  v[ctx->npending_routes++] = r;
  return 0;
}

/* ==== Identity, config, logging ======================================= */

static const char *config_get(myc_ctx *ctx, const char *key) {
  if (!ctx || !key || !ctx->cfg) return NULL;
  for (unsigned i = 0; i < ctx->cfg->nkeys; i++)
    if (strcmp(ctx->cfg->keys[i].key, key) == 0) return ctx->cfg->keys[i].value;
  for (const myc_config_key *c = ctx->desc ? ctx->desc->config : NULL; c && c->key; c++)
    if (strcmp(c->key, key) == 0) return c->def;
  return NULL;
}

static const char *ctx_name(myc_ctx *ctx) { return ctx ? ctx->name : NULL; }

static void ctx_log(myc_ctx *ctx, int level, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  if (!fmt) return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  myc__log(ctx ? ctx->k : NULL, level, ctx ? ctx->name : NULL, "%s", line);
}

static void ctx_shutdown(myc_ctx *ctx, int code) {
  if (ctx) myc_kernel_shutdown(ctx->k, code);
}

/* ==== The table ======================================================== */

static const myc_host host_table = {
    .abi_major = MYC_ABI_MAJOR,
    .abi_minor = MYC_ABI_MINOR,
    .size = sizeof(myc_host),
    .register_scheme = register_scheme,
    .register_route = register_route,
    .config_get = config_get,
    .name = ctx_name,
    .log = ctx_log,
    .msg_new = myc_msg_new,
    .msg_set_body = myc_msg_set_body,
    .msg_set_kind = myc_msg_set_kind,
    .msg_set_content_type = myc_msg_set_content_type,
    .msg_uri = myc_msg_uri,
    .msg_verb = myc_msg_verb,
    .msg_body = myc_msg_body,
    .msg_content_type = myc_msg_content_type,
    .msg_kind = myc_msg_kind,
    .msg_status = myc_msg_status,
    .msg_id = myc_msg_id,
    .msg_correlation = myc_msg_correlation,
    .msg_sender = myc_msg_sender,
    .msg_timestamp = myc_msg_timestamp,
    .msg_is_request = myc_msg_is_request,
    .msg_ref = myc_msg_ref,
    .msg_release = myc_msg_release,
    .send = myc_send,
    .send_pooled = myc_send_pooled,
    .request = myc_request,
    .reply = myc_reply,
    .timer_start = myc__timer_start,
    .timer_stop = myc__timer_stop,
    .io_watch = myc__io_watch,
    .io_stop = myc__io_stop,
    .shutdown = ctx_shutdown,
    .strerror = myc_strerror,
    .err_name = myc_err_name,
};

const myc_host *myc_host_table(void) { return &host_table; }

/* ==== --describe ======================================================= */

static const char *type_name(int type) {
  switch (type) {
    case MYC_CFG_STRING: return "string";
    case MYC_CFG_INT: return "int";
    case MYC_CFG_BOOL: return "bool";
    case MYC_CFG_DOUBLE: return "double";
    case MYC_CFG_ENUM: return "enum";
    default: return "?";
  }
}

int myc_describe_plugin(const char *plugin_dir, const char *plugin, char **out, char **err) {
  myc__lib lib;
  char path[512];
  *out = NULL;
  if (err) *err = NULL;
  if (strchr(plugin, '/'))
    snprintf(path, sizeof(path), "%s", plugin);
  else
    snprintf(path, sizeof(path), "myc_%s.so", plugin);
  char *e = NULL;
  int rc = myc__loader_open(strchr(plugin, '/') ? NULL : plugin_dir, path, plugin, &lib, &e);
  if (rc < 0) {
    if (err)
      *err = e;
    else
      free(e);
    return rc;
  }
  const myc_plugin *d = lib.desc;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) {
    myc__loader_close(&lib);
    return MYC_ENOMEM;
  }
  fprintf(f, "%s %s: %s\n", d->name, d->version ? d->version : "?",
          d->description ? d->description : "");
  fprintf(f, "file:    %s\n", lib.file);
  fprintf(f, "abi:     %u.%u\n", d->abi_major, d->abi_minor);
  fprintf(f, "schemes:");
  for (const char *const *s = d->schemes; s && *s; s++) fprintf(f, " %s", *s);
  fprintf(f, "%s\n", d->schemes && d->schemes[0] ? "" : " (none)");
  fprintf(f, "config keys:%s\n", d->config && d->config->key ? "" : " (none)");
  for (const myc_config_key *c = d->config; c && c->key; c++) {
    char type[96];
    if (c->type == MYC_CFG_ENUM && c->choices)
      snprintf(type, sizeof(type), "enum(%s)", c->choices);
    else
      snprintf(type, sizeof(type), "%s", type_name(c->type));
    fprintf(f, "  %-18s %-24s %-10s %s%s\n", c->key, type,
            c->required ? "required" : (c->def ? c->def : "(none)"),
            c->help ? c->help : "", "");
  }
  fclose(f);
  myc__loader_close(&lib);
  *out = buf;
  return 0;
}
