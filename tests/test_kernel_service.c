/* kernel://, the kernel's own subsystem: stats, pool, plugins and routes
 * answer with one well-formed JSON document whose numbers agree with what
 * the test sent; anything else under kernel:// is refused at send. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "mycelia/mycelia.h"

/* ==== A small JSON checker ============================================= */

/* Recursive-descent validation of RFC 8259 JSON; advances *p past one
 * value. Returns false at the first error. */
static bool j_value(const char **p, int depth);

/* Skip JSON whitespace. */
static void j_ws(const char **p) {
  while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r') (*p)++;
}

/* A string, escapes included. */
static bool j_string(const char **p) {
  if (**p != '"') return false;
  for ((*p)++; **p != '"'; (*p)++) {
    unsigned char c = (unsigned char)**p;
    if (c < 0x20) return false;
    if (c == '\\') {
      (*p)++;
      if (**p == 'u') {
        for (int i = 0; i < 4; i++)
          if (!isxdigit((unsigned char)*++*p)) return false;
      } else if (!strchr("\"\\/bfnrt", **p) || !**p) {
        return false;
      }
    }
  }
  (*p)++;
  return true;
}

/* A number: -?int frac? exp?. */
static bool j_number(const char **p) {
  const char *s = *p;
  if (*s == '-') s++;
  if (*s == '0')
    s++;
  else if (isdigit((unsigned char)*s))
    while (isdigit((unsigned char)*s)) s++;
  else
    return false;
  if (*s == '.') {
    if (!isdigit((unsigned char)*++s)) return false;
    while (isdigit((unsigned char)*s)) s++;
  }
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '+' || *s == '-') s++;
    if (!isdigit((unsigned char)*s)) return false;
    while (isdigit((unsigned char)*s)) s++;
  }
  *p = s;
  return true;
}

/* '[' or '{' up to its closing bracket. */
static bool j_container(const char **p, int depth) {
  char close = **p == '{' ? '}' : ']';
  bool object = close == '}';
  (*p)++;
  j_ws(p);
  if (**p == close) {
    (*p)++;
    return true;
  }
  for (;;) {
    j_ws(p);
    if (object) {
      if (!j_string(p)) return false;
      j_ws(p);
      if (*(*p)++ != ':') return false;
    }
    if (!j_value(p, depth + 1)) return false;
    j_ws(p);
    if (**p == ',') {
      (*p)++;
      continue;
    }
    if (**p != close) return false;
    (*p)++;
    return true;
  }
}

/* Any JSON value, at most 64 levels deep. */
static bool j_value(const char **p, int depth) {
  if (depth > 64) return false;
  j_ws(p);
  switch (**p) {
    case '{':
    case '[': return j_container(p, depth);
    case '"': return j_string(p);
    case 't': return strncmp(*p, "true", 4) == 0 ? (*p += 4, true) : false;
    case 'f': return strncmp(*p, "false", 5) == 0 ? (*p += 5, true) : false;
    case 'n': return strncmp(*p, "null", 4) == 0 ? (*p += 4, true) : false;
    default: return j_number(p);
  }
}

/* Fail unless `s` is exactly one JSON value. */
static void assert_json(const char *s) {
  const char *p = s;
  if (!j_value(&p, 0)) fail_msg("not JSON near offset %td: %s", p - s, s);
  j_ws(&p);
  if (*p) fail_msg("trailing bytes after JSON at offset %td: %s", p - s, s);
}

/* ==== Helpers ========================================================== */

/* The unsigned number after "key": in `json`, searching from the first
 * occurrence of `anchor` (from the start if NULL). */
static uint64_t j_u64(const char *json, const char *anchor, const char *key) {
  const char *from = json;
  if (anchor && !(from = strstr(json, anchor))) fail_msg("no \"%s\" in %s", anchor, json);
  char pat[64];
  snprintf(pat, sizeof(pat), "\"%s\":", key);
  const char *at = strstr(from, pat);
  if (!at) fail_msg("no %s after \"%s\" in %s", pat, anchor ? anchor : "", json);
  at += strlen(pat);
  if (!isdigit((unsigned char)*at)) fail_msg("%s is not a number in %s", pat, json);
  return strtoull(at, NULL, 10);
}

/* GET `uri`, expect success and a JSON body (returned, caller frees). */
static char *get_json(myc_kernel *k, const char *uri) {
  char *reply = NULL;
  int rc = myc_test_call(k, "GET", uri, NULL, &reply);
  if (rc != 0) fail_msg("%s: %s (%s)", uri, myc_err_name(rc), reply ? reply : "");
  assert_json(reply);
  return reply;
}

#define ECHO_KV                                                             \
  "[kernel]\nplugin_dir = %PLUGINS%\nlog_level = error\npool_size = 64\n"   \
  "pool_warmup = 40\nqueue_capacity = 256\n"                                \
  "[plugin echo]\n"                                                         \
  "[plugin store]\npath = myc_kv.so\nschemes = db, cache\n"

/* ==== kernel://stats ==================================================== */

/* Counters in kernel://stats match the sends the test made. */
static void test_stats_counts(void **state) {
  myc_kernel *k = myc_test_kernel(ECHO_KV);
  myc_ctx *h = myc_kernel_ctx(k);
  char *reply;
  for (int i = 0; i < 5; i++) {
    assert_int_equal(myc_test_call(k, "GET", "echo://x", "hi", &reply), 0);
    assert_string_equal(reply, "hi");
    free(reply);
  }
  for (int i = 0; i < 2; i++) assert_int_equal(myc_send_pooled(h, "PUT", "echo://y", "b", 1), 0);
  assert_int_equal(myc_kernel_poll(k), 2);
  for (int i = 0; i < 3; i++)
    assert_int_equal(myc_send_pooled(h, "GET", "nosuch://z", NULL, 0), MYC_ENOROUTE);
  assert_int_equal(myc_send_pooled(h, "GET", "kernel://nosuch", NULL, 0), MYC_ENOROUTE);

  /* 5 + 2 + 3 + 1 sends, and this request itself (not yet handled, its
   * reply not yet delivered while the handler writes the numbers). */
  char *s = get_json(k, "kernel://stats");
  assert_int_equal(j_u64(s, NULL, "sent"), 12);
  assert_int_equal(j_u64(s, NULL, "handled"), 7);
  assert_int_equal(j_u64(s, NULL, "errored"), 0);
  assert_int_equal(j_u64(s, NULL, "rejected"), 4);
  assert_int_equal(j_u64(s, NULL, "dropped"), 0);
  assert_int_equal(j_u64(s, NULL, "replies"), 5);
  assert_int_equal(j_u64(s, NULL, "timeouts"), 0);
  assert_int_equal(j_u64(s, NULL, "bad_releases"), 0);
  assert_int_equal(j_u64(s, NULL, "workers"), 0);
  (void)j_u64(s, NULL, "uptime_ms");
  myc_test_assert_has(s, "\"subsystems\":[");
  assert_int_equal(j_u64(s, "{\"name\":\"echo\"", "enqueued"), 7);
  assert_int_equal(j_u64(s, "{\"name\":\"echo\"", "handled"), 7);
  assert_int_equal(j_u64(s, "{\"name\":\"echo\"", "rejected"), 0);
  assert_int_equal(j_u64(s, "{\"name\":\"echo\"", "queue_capacity"), 256);
  assert_int_equal(j_u64(s, "{\"name\":\"store\"", "enqueued"), 0);
  assert_int_equal(j_u64(s, "{\"name\":\"kernel\"", "enqueued"), 1);
  assert_int_equal(j_u64(s, "{\"name\":\"kernel\"", "handled"), 0);
  assert_int_equal(j_u64(s, "{\"name\":\"kernel\"", "rejected"), 1);
  myc_test_assert_has(s, "\"overflow\":\"reject\"");
  free(s);

  /* the first stats request now counts as handled and answered */
  s = get_json(k, "kernel://stats");
  assert_int_equal(j_u64(s, NULL, "sent"), 13);
  assert_int_equal(j_u64(s, NULL, "handled"), 8);
  assert_int_equal(j_u64(s, NULL, "replies"), 6);
  assert_int_equal(j_u64(s, "{\"name\":\"kernel\"", "handled"), 1);
  free(s);

  /* the same numbers through the C API */
  myc_stats st;
  myc_kernel_get_stats(k, &st);
  assert_int_equal(st.sent, 13);
  assert_int_equal(st.handled, 9);
  assert_int_equal(st.sent, st.handled + st.errored + st.rejected);
  myc_kernel_free(k);
}

/* Per-plugin queue settings show in the subsystem list. */
static void test_stats_subsystem_settings(void **state) {
  myc_kernel *k = myc_test_kernel("[kernel]\nplugin_dir = %PLUGINS%\nlog_level = error\n"
                                  "[plugin echo]\nqueue_capacity = 8\noverflow = drop_oldest\n");
  char *s = get_json(k, "kernel://stats?pretty=no");
  const char *echo = strstr(s, "{\"name\":\"echo\"");
  assert_non_null(echo);
  assert_int_equal(j_u64(echo, NULL, "queue_capacity"), 8);
  myc_test_assert_has(echo, "\"overflow\":\"drop_oldest\"");
  free(s);
  myc_kernel_free(k);
}

/* ==== kernel://pool ===================================================== */

/* kernel://pool agrees with myc_pool_get_stats taken around it and with
 * itself. */
static void test_pool(void **state) {
  myc_kernel *k = myc_test_kernel(ECHO_KV);
  char *reply;
  for (int i = 0; i < 10; i++) {
    assert_int_equal(myc_test_call(k, "GET", "echo://p", "x", &reply), 0);
    free(reply);
  }
  myc_pool_stats before, after;
  myc_pool_get_stats(k, &before);
  char *s = get_json(k, "kernel://pool");
  myc_pool_get_stats(k, &after);

  assert_int_equal(j_u64(s, NULL, "pool_size"), 64);
  uint64_t size = j_u64(s, NULL, "size"), fr = j_u64(s, NULL, "free");
  uint64_t in_use = j_u64(s, NULL, "in_use"), created = j_u64(s, NULL, "created");
  uint64_t reused = j_u64(s, NULL, "reused"), released = j_u64(s, NULL, "released");
  uint64_t acquired = j_u64(s, NULL, "acquired"), trimmed = j_u64(s, NULL, "trimmed");
  uint64_t hw = j_u64(s, NULL, "high_water");
  myc_test_assert_has(s, "\"reuse_rate\":");
  double rate = strtod(strstr(s, "\"reuse_rate\":") + 13, NULL);

  /* warmup really allocated */
  assert_true(created >= 40);
  /* the reply was taken between the two snapshots */
  assert_true(acquired > before.acquired && acquired <= after.acquired);
  assert_true(acquired >= 10); /* at least the ten echo requests */
  assert_true(released >= before.released && released <= after.released);
  assert_true(created >= before.created && created <= after.created);
  /* and is consistent with itself */
  assert_int_equal(size, created - trimmed);
  assert_int_equal(size, fr + in_use);
  assert_int_equal(in_use, acquired - released);
  assert_true(in_use >= 1); /* the kernel://pool request itself */
  assert_true(hw >= in_use);
  assert_true(reused <= acquired);
  assert_true(rate >= (double)reused / (double)acquired - 0.0001 &&
              rate <= (double)reused / (double)acquired + 0.0001);
  free(s);
  myc_kernel_free(k);
}

/* ==== kernel://plugins ================================================== */

/* Name, version and description from --describe's first line. */
static void describe(const char *plugin, char *version, char *desc, size_t n) {
  char *out = NULL, *err = NULL;
  if (myc_describe_plugin(MYC_TEST_PLUGIN_DIR, plugin, &out, &err) < 0)
    fail_msg("describe %s: %s", plugin, err ? err : "?");
  const char *sp = strchr(out, ' '), *colon = strstr(out, ": "), *nl = strchr(out, '\n');
  assert_non_null(sp);
  assert_non_null(colon);
  assert_non_null(nl);
  snprintf(version, n, "%.*s", (int)(colon - sp - 1), sp + 1);
  snprintf(desc, n, "%.*s", (int)(nl - colon - 2), colon + 2);
  free(out);
}

/* kernel://plugins lists each instance with its descriptor's facts. */
static void test_plugins(void **state) {
  myc_kernel *k = myc_test_kernel(ECHO_KV);
  char *s = get_json(k, "kernel://plugins");
  char want[1024], version[256], desc[256];

  describe("echo", version, desc, sizeof(version));
  snprintf(want, sizeof(want),
           "{\"name\":\"echo\",\"plugin\":\"echo\",\"version\":\"%s\",\"description\":\"%s\","
           "\"file\":\"%s/myc_echo.so\",\"abi\":\"1.0\",\"schemes\":[\"echo\"]}",
           version, desc, MYC_TEST_PLUGIN_DIR);
  myc_test_assert_has(s, want);

  describe("kv", version, desc, sizeof(version));
  snprintf(want, sizeof(want),
           "{\"name\":\"store\",\"plugin\":\"kv\",\"version\":\"%s\",\"description\":\"%s\","
           "\"file\":\"%s/myc_kv.so\",\"abi\":\"1.0\",\"schemes\":[\"db\",\"cache\"]}",
           version, desc, MYC_TEST_PLUGIN_DIR);
  myc_test_assert_has(s, want);
  assert_true(s[0] == '[');
  assert_null(strstr(s, "\"name\":\"kernel\"")); /* plugins only */
  free(s);
  myc_kernel_free(k);

  k = myc_test_kernel("[kernel]\nplugin_dir = %PLUGINS%\n");
  s = get_json(k, "kernel://plugins");
  assert_string_equal(s, "[]");
  free(s);
  myc_kernel_free(k);
}

/* ==== kernel://routes =================================================== */

/* kernel://routes lists every subsystem's schemes and route patterns. */
static void test_routes(void **state) {
  myc_kernel *k = myc_test_kernel(ECHO_KV);
  char *s = get_json(k, "kernel://routes");
  myc_test_assert_has(s, "{\"plugin\":\"echo\",\"schemes\":[\"echo\"],\"routes\":[]}");
  const char *store = strstr(s, "{\"plugin\":\"store\",\"schemes\":[\"db\",\"cache\"],\"routes\":[");
  assert_non_null(store);
  myc_test_assert_has(store, "{\"pattern\":\"{bucket}/\",\"tag\":");
  myc_test_assert_has(store, "{\"pattern\":\"{bucket}/*\",\"tag\":");
  const char *kern = strstr(s, "{\"plugin\":\"kernel\",\"schemes\":[\"kernel\"],\"routes\":[");
  assert_non_null(kern);
  myc_test_assert_has(kern, "\"pattern\":\"stats\"");
  myc_test_assert_has(kern, "\"pattern\":\"pool\"");
  myc_test_assert_has(kern, "\"pattern\":\"plugins\"");
  myc_test_assert_has(kern, "\"pattern\":\"routes\"");
  free(s);
  myc_kernel_free(k);

  /* tags exactly as the plugin registered them */
  k = myc_test_kernel("[kernel]\nplugin_dir = %BAD%\nlog_level = error\n"
                      "[plugin spec]\npath = myc_l_spec.so\nname = x\n");
  s = get_json(k, "kernel://routes");
  myc_test_assert_has(s,
                      "{\"plugin\":\"spec\",\"schemes\":[\"spec\"],\"routes\":["
                      "{\"pattern\":\"conf\",\"tag\":1},{\"pattern\":\"users/{id}\",\"tag\":7}]}");
  free(s);
  assert_int_equal(myc_test_call(k, "GET", "spec://users/42", NULL, &s), 0);
  assert_string_equal(s, "id=42");
  free(s);
  myc_kernel_free(k);
}

/* ==== Anything else ===================================================== */

/* Anything but the four routes is refused at send with ENOROUTE. */
static void test_unknown_paths(void **state) {
  myc_kernel *k = myc_test_kernel(ECHO_KV);
  myc_ctx *h = myc_kernel_ctx(k);
  static const char *const bad[] = {"kernel://nosuch", "kernel://", "kernel://stats/more",
                                    "kernel://Stats"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(myc_send_pooled(h, "GET", bad[i], NULL, 0), MYC_ENOROUTE);
    char *reply = NULL;
    assert_int_equal(myc_test_call(k, "GET", bad[i], NULL, &reply), MYC_ENOROUTE);
    assert_null(reply);
  }
  myc_subsystem_stats ks;
  assert_int_equal(myc_subsystem_get_stats(k, "kernel", &ks), 0);
  assert_int_equal(ks.rejected, 8);
  assert_int_equal(ks.enqueued, 0);
  /* a query string does not change the route */
  char *s = get_json(k, "kernel://pool?verbose=1");
  myc_test_assert_has(s, "\"pool_size\":64");
  free(s);
  myc_kernel_free(k);
}

/* Run every test. */
int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stats_counts),
      cmocka_unit_test(test_stats_subsystem_settings),
      cmocka_unit_test(test_pool),
      cmocka_unit_test(test_plugins),
      cmocka_unit_test(test_routes),
      cmocka_unit_test(test_unknown_paths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
