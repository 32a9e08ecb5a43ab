/* kernel:// — the kernel's own subsystem, built like a plugin: stats,
 * pool, plugins and routes, each answered with one line of JSON. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { R_STATS, R_POOL, R_PLUGINS, R_ROUTES };

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static void json_schemes(FILE *f, const myc_ctx *s) {
  fputc('[', f);
  for (unsigned i = 0; i < s->nschemes; i++) {
    if (i) fputc(',', f);
    json_str(f, s->schemes[i]);
  }
  fputc(']', f);
}

static const char *overflow_name(int o) {
  return o == MYC__OVF_DROP_OLDEST ? "drop_oldest" : o == MYC__OVF_BLOCK ? "block" : "reject";
}

static void stats(FILE *f, myc_kernel *k) {
  myc_stats st;
  myc_kernel_get_stats(k, &st);
  fprintf(f,
          "{\"sent\":%llu,\"handled\":%llu,\"errored\":%llu,\"rejected\":%llu,\"dropped\":%llu,"
          "\"replies\":%llu,\"timeouts\":%llu,\"late_replies\":%llu,\"bad_releases\":%llu,"
          "\"uptime_ms\":%llu,\"workers\":%u,\"subsystems\":[",
          (unsigned long long)st.sent, (unsigned long long)st.handled,
          (unsigned long long)st.errored, (unsigned long long)st.rejected,
          (unsigned long long)st.dropped, (unsigned long long)st.replies,
          (unsigned long long)st.timeouts, (unsigned long long)st.late_replies,
          (unsigned long long)st.bad_releases,
          (unsigned long long)((myc__now_ns() - k->start_ns) / 1000000), k->nworkers);
  for (unsigned i = 0; i <= k->nsubs; i++) {
    myc_ctx *s = i < k->nsubs ? k->subs[i] : k->kern;
    myc_subsystem_stats ss;
    myc_subsystem_get_stats(k, s->name, &ss);
    fprintf(f, "%s{\"name\":", i ? "," : "");
    json_str(f, s->name);
    fprintf(f,
            ",\"enqueued\":%llu,\"handled\":%llu,\"rejected\":%llu,\"dropped\":%llu,"
            "\"errors\":%llu,\"queue_len\":%u,\"queue_capacity\":%u,\"overflow\":\"%s\"}",
            (unsigned long long)ss.enqueued, (unsigned long long)ss.handled,
            (unsigned long long)ss.rejected, (unsigned long long)ss.dropped,
            (unsigned long long)ss.errors, ss.queue_len, ss.queue_capacity,
            overflow_name(s->overflow));
  }
  fputs("]}", f);
}

static void pool(FILE *f, myc_kernel *k) {
  myc_pool_stats p;
  myc_pool_get_stats(k, &p);
  fprintf(f,
          "{\"pool_size\":%llu,\"size\":%llu,\"free\":%llu,\"in_use\":%llu,\"created\":%llu,"
          "\"reused\":%llu,\"released\":%llu,\"acquired\":%llu,\"trimmed\":%llu,"
          "\"high_water\":%llu,\"reuse_rate\":%.4f}",
          (unsigned long long)k->cfg->pool_size, (unsigned long long)p.size,
          (unsigned long long)p.free, (unsigned long long)p.in_use,
          (unsigned long long)p.created, (unsigned long long)p.reused,
          (unsigned long long)p.released, (unsigned long long)p.acquired,
          (unsigned long long)p.trimmed, (unsigned long long)p.high_water, p.reuse_rate);
}

static void plugins(FILE *f, myc_kernel *k) {
  fputc('[', f);
  for (unsigned i = 0; i < k->nsubs; i++) {
    const myc_ctx *s = k->subs[i];
    fprintf(f, "%s{\"name\":", i ? "," : "");
    json_str(f, s->name);
    fputs(",\"plugin\":", f);
    json_str(f, s->desc->name);
    fputs(",\"version\":", f);
    json_str(f, s->desc->version);
    fputs(",\"description\":", f);
    json_str(f, s->desc->description);
    fputs(",\"file\":", f);
    json_str(f, s->lib.file);
    fprintf(f, ",\"abi\":\"%u.%u\",\"schemes\":", s->desc->abi_major, s->desc->abi_minor);
    json_schemes(f, s);
    fputc('}', f);
  }
  fputc(']', f);
}

static void routes(FILE *f, myc_kernel *k) {
  fputc('[', f);
  for (unsigned i = 0; i <= k->nsubs; i++) {
    const myc_ctx *s = i < k->nsubs ? k->subs[i] : k->kern;
    fprintf(f, "%s{\"plugin\":", i ? "," : "");
    json_str(f, s->name);
    fputs(",\"schemes\":", f);
    json_schemes(f, s);
    fputs(",\"routes\":[", f);
    for (unsigned j = 0; j < s->npending_routes; j++) {
      fprintf(f, "%s{\"pattern\":", j ? "," : "");
      json_str(f, s->pending_routes[j]->pattern);
      fprintf(f, ",\"tag\":%d}", s->pending_routes[j]->tag);
    }
    fputs("]}", f);
  }
  fputc(']', f);
}

static int kinit(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  const myc_host *h = myc_host_table();
  *state = ctx->k;
  if (h->register_route(ctx, "stats", R_STATS) < 0 || h->register_route(ctx, "pool", R_POOL) < 0 ||
      h->register_route(ctx, "plugins", R_PLUGINS) < 0 ||
      h->register_route(ctx, "routes", R_ROUTES) < 0) {
    snprintf(err, errlen, "cannot register kernel routes");
    return MYC_ENOMEM;
  }
  return 0;
}

static int khandle(void *state, myc_msg *msg, const myc_match *m) {
  myc_kernel *k = state;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return MYC_ENOMEM;
  switch (m->route) {
    case R_STATS: stats(f, k); break;
    case R_POOL: pool(f, k); break;
    case R_PLUGINS: plugins(f, k); break;
    default: routes(f, k); break;
  }
  fclose(f);
  int rc = myc_reply(msg, 0, buf, len);
  free(buf);
  return rc;
}

const myc_plugin myc__kernel_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "kernel",
    .version = MYC_VERSION,
    .description = "the kernel's own service: stats, pool, plugins, routes",
    .init = kinit,
    .handle = khandle,
};
