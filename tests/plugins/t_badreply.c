/* Test plugin t_badreply: serves bad:// with handlers that break (or test)
 * the one-reply rule.
 *
 *   bad://twice          reply "first", then "second" (the second reply's
 *                        code is remembered)
 *   bad://silent         return 0 without replying
 *   bad://fail/{n}       return -n without replying
 *   bad://errreply/{n}   reply with status -n and body "custom", return 0
 *   bad://replyfail      reply "ok", then return MYC_EHANDLER
 *   bad://after          reply, then check the request is still intact
 *                        (live, same verb/URI/body, no longer a request,
 *                        setters refused); fails with MYC_EHANDLER if not
 *   bad://relself        release the message without holding a reference
 *                        (the code msg_release returned is remembered),
 *                        then check it is still intact as above
 *   bad://ask            ask echo://ask with this message's body and answer
 *                        with "got:" + echo's reply from the reply callback
 *   bad://last           reply "rc=N": the code remembered last
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mycelia/plugin.h>

static const myc_host *H;

enum { R_TWICE, R_SILENT, R_FAIL, R_ERRREPLY, R_REPLYFAIL, R_AFTER, R_RELSELF, R_ASK, R_LAST };

typedef struct bad {
  myc_ctx *ctx;
  int last_rc;
} bad;

/* Register the routes and allocate the state. */
static int bad_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  static const struct {
    const char *pattern;
    int tag;
  } routes[] = {{"twice", R_TWICE},         {"silent", R_SILENT},       {"fail/{n}", R_FAIL},
                {"errreply/{n}", R_ERRREPLY}, {"replyfail", R_REPLYFAIL}, {"after", R_AFTER},
                {"relself", R_RELSELF},     {"ask", R_ASK},             {"last", R_LAST}};
  bad *b = calloc(1, sizeof(*b));
  if (!b) {
    snprintf(err, errlen, "out of memory");
    return MYC_ENOMEM;
  }
  *state = b;
  b->ctx = ctx;
  for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
    int rc = H->register_route(ctx, routes[i].pattern, routes[i].tag);
    if (rc < 0) {
      snprintf(err, errlen, "register_route(%s): %s", routes[i].pattern, H->strerror(rc));
      return rc;
    }
  }
  return 0;
}

/* The number in the route's first parameter. */
static int param_num(const myc_match *mt) {
  char num[16];
  size_t n = mt->params[0].len < sizeof(num) - 1 ? mt->params[0].len : sizeof(num) - 1;
  memcpy(num, mt->params[0].ptr, n);
  num[n] = '\0';
  return atoi(num);
}

/* A copy of what a handler sees of a message, to compare later. */
typedef struct snapshot {
  char verb[32];
  char uri[256];
  char body[256];
  size_t uri_len, body_len;
} snapshot;

/* Copy what m reads as now into *s. */
static void take(const myc_msg *m, snapshot *s) {
  const char *v = H->msg_verb(m);
  const char *u = H->msg_uri(m, &s->uri_len);
  const void *b = H->msg_body(m, &s->body_len);
  snprintf(s->verb, sizeof(s->verb), "%s", v ? v : "");
  if (s->uri_len >= sizeof(s->uri)) s->uri_len = sizeof(s->uri) - 1;
  if (s->body_len >= sizeof(s->body)) s->body_len = sizeof(s->body) - 1;
  if (u) memcpy(s->uri, u, s->uri_len);
  if (b) memcpy(s->body, b, s->body_len);
}

/* True when m is live and reads as the snapshot said. */
static int intact(const myc_msg *m, const snapshot *was) {
  snapshot now;
  memset(&now, 0, sizeof(now));
  if (!H->msg_verb(m)) return 0;
  take(m, &now);
  return strcmp(now.verb, was->verb) == 0 && now.uri_len == was->uri_len &&
         memcmp(now.uri, was->uri, was->uri_len) == 0 && now.body_len == was->body_len &&
         memcmp(now.body, was->body, was->body_len) == 0;
}

typedef struct ask_ctx {
  myc_msg *orig;
} ask_ctx;

/* Echo answered: pass its body on to the request that asked. */
static void on_echo(void *udata, myc_msg *reply) {
  ask_ctx *a = udata;
  size_t len;
  const char *body = H->msg_body(reply, &len);
  char buf[300];
  int n = snprintf(buf, sizeof(buf), "got:%.*s", (int)(len > 256 ? 256 : len), body ? body : "");
  if (H->msg_status(reply) < 0)
    H->reply(a->orig, H->msg_status(reply), buf, (size_t)n);
  else
    H->reply(a->orig, 0, buf, (size_t)n);
  H->msg_release(a->orig);
  free(a);
}

/* Keep the request and ask echo:// for its body. */
static int ask(bad *b, myc_msg *msg) {
  size_t len;
  const void *body = H->msg_body(msg, &len);
  myc_msg *q;
  int rc = H->msg_new(b->ctx, "GET", "echo://ask", body, len, &q);
  if (rc < 0) return rc;
  ask_ctx *a = malloc(sizeof(*a));
  if (!a) {
    H->msg_release(q);
    return MYC_ENOMEM;
  }
  a->orig = msg;
  H->msg_ref(msg);
  rc = H->request(b->ctx, q, 0, on_echo, a);
  if (rc < 0) {
    H->msg_release(q);
    H->msg_release(msg);
    free(a);
  }
  return rc;
}

/* Do what the route says (see the top of this file). */
static int bad_handle(void *state, myc_msg *msg, const myc_match *mt) {
  bad *b = state;
  snapshot was;
  char buf[64];
  int n;
  switch (mt->route) {
    case R_TWICE:
      H->reply(msg, 0, "first", 5);
      b->last_rc = H->reply(msg, 0, "second", 6);
      return 0;
    case R_SILENT:
      return 0;
    case R_FAIL:
      return -param_num(mt);
    case R_ERRREPLY:
      return H->reply(msg, -param_num(mt), "custom", 6);
    case R_REPLYFAIL:
      H->reply(msg, 0, "ok", 2);
      return MYC_EHANDLER;
    case R_AFTER:
      memset(&was, 0, sizeof(was));
      take(msg, &was);
      if (H->reply(msg, 0, "after", 5) < 0) return MYC_EHANDLER;
      if (!intact(msg, &was) || H->msg_is_request(msg) != 0) return MYC_EHANDLER;
      if (H->msg_set_body(msg, "x", 1) != MYC_ESTATE) return MYC_EHANDLER;
      return 0;
    case R_RELSELF:
      memset(&was, 0, sizeof(was));
      take(msg, &was);
      b->last_rc = H->msg_release(msg);
      return intact(msg, &was) ? 0 : MYC_EHANDLER;
    case R_ASK:
      return ask(b, msg);
    case R_LAST:
      n = snprintf(buf, sizeof(buf), "rc=%d", b->last_rc);
      return H->reply(msg, 0, buf, (size_t)n);
    default:
      return MYC_ENOROUTE;
  }
}

/* Free the state. */
static void bad_fini(void *state) { free(state); }

static const char *const bad_schemes[] = {"bad", NULL};

static const myc_plugin bad_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "t_badreply",
    .version = "1.0.0",
    .description = "test plugin: handlers that break the one-reply rule",
    .schemes = bad_schemes,
    .init = bad_init,
    .handle = bad_handle,
    .fini = bad_fini,
};

/* Remember the host's table; refuse another major. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &bad_plugin;
}
