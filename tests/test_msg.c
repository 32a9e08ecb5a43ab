/* Message tests (kernel/src/msg.c): inline and heap URIs and bodies, the
 * configured limits, URI and verb validation, setters, and ownership
 * across send: a failed send leaves the message with the caller, a
 * successful one hands it to the kernel. Sends go to the real echo
 * plugin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
#include "internal.h"

/* ==== Helpers ========================================================== */

/* A kernel with echo (queue of `cap`, reject on overflow) and the given
 * limits (0: the default). */
static myc_kernel *echo_kernel(unsigned cap, unsigned max_uri, unsigned max_body) {
  char ini[512];
  int n = snprintf(ini, sizeof(ini), "[kernel]\nplugin_dir = %%PLUGINS%%\nlog_level = error\n");
  if (max_uri) n += snprintf(ini + n, sizeof(ini) - (size_t)n, "max_uri_length = %u\n", max_uri);
  if (max_body) n += snprintf(ini + n, sizeof(ini) - (size_t)n, "max_body_size = %u\n", max_body);
  snprintf(ini + n, sizeof(ini) - (size_t)n, "[plugin echo]\nqueue_capacity = %u\noverflow = reject\n",
           cap ? cap : 64);
  myc_kernel *k = myc_test_kernel(ini);
  assert_int_equal(myc_kernel_start(k, NULL), 0);
  return k;
}

/* Messages taken from the pool and not given back. */
static uint64_t in_use(myc_kernel *k) {
  myc_pool_stats st;
  myc_pool_get_stats(k, &st);
  return st.in_use;
}

/* Misuses of released messages caught so far. */
static uint64_t bad_releases(myc_kernel *k) {
  myc_stats st;
  myc_kernel_get_stats(k, &st);
  return st.bad_releases;
}

/* "echo://" followed by 'a's up to exactly `len` bytes (caller frees). */
static char *uri_of_len(size_t len) {
  assert_true(len >= 8);
  char *u = malloc(len + 1);
  memcpy(u, "echo://", 7);
  memset(u + 7, 'a', len - 7);
  u[len] = '\0';
  return u;
}

/* `len` bytes of varied content (caller frees). */
static char *bytes_of_len(size_t len) {
  char *b = malloc(len ? len : 1);
  for (size_t i = 0; i < len; i++) b[i] = (char)('!' + (i * 7) % 90);
  return b;
}

/* Poll until nothing is left to do. */
static void settle(myc_kernel *k) {
  for (int i = 0; i < 1000 && !myc__idle(k); i++) myc_kernel_poll(k);
  myc_kernel_poll(k);
  assert_true(myc__idle(k));
}

static int ncalls;
static int last_status, last_kind;
static uint64_t last_corr;
static char last_sender[32];

/* Reply callback: count and remember what the reply said. */
static void on_reply(void *udata, myc_msg *reply) {
  ncalls++;
  last_status = myc_msg_status(reply);
  last_kind = myc_msg_kind(reply);
  last_corr = myc_msg_correlation(reply);
  snprintf(last_sender, sizeof(last_sender), "%s", myc_msg_sender(reply));
  (void)udata;
}

/* ==== Inline and heap storage ========================================= */

/* A URI shorter than the inline buffer lives in the message; a longer one
 * on the heap. Both read back exactly and route. */
static void test_uri_inline_and_heap(void **unused) {
  myc_kernel *k = echo_kernel(0, 0, 0);
  const size_t lens[] = {8, MYC__URI_INLINE - 1, MYC__URI_INLINE, MYC__URI_INLINE + 1, 1000};
  for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    char *u = uri_of_len(lens[i]);
    myc_msg *m;
    assert_int_equal(myc_msg_new(myc_kernel_ctx(k), "GET", u, NULL, 0, &m), 0);
    bool heap = lens[i] >= MYC__URI_INLINE; /* the NUL must fit inline too */
    assert_int_equal(!!(m->flags & MYC__F_HEAP_URI), heap);
    assert_true(heap ? m->uri != m->uri_inline : m->uri == m->uri_inline);
    size_t len;
    assert_string_equal(myc_msg_uri(m, &len), u);
    assert_int_equal(len, lens[i]);
    assert_int_equal(myc_msg_release(m), 0);

    /* Through the kernel and back: the reply carries the same URI. */
    myc_msg *r = NULL;
    assert_int_equal(myc_call(myc_kernel_ctx(k), "GET", u, "x", 1, 5000, &r), 0);
    assert_int_equal(myc_msg_status(r), 0);
    assert_string_equal(myc_msg_uri(r, &len), u);
    assert_int_equal(len, lens[i]);
    assert_int_equal(myc_msg_release(r), 0);
    free(u);
  }
  assert_int_equal(in_use(k), 0);
  myc_kernel_free(k);
}

/* A body shorter than the inline buffer lives in the message; a longer
 * one on the heap, also when set later; echo returns it byte for byte. */
static void test_body_inline_and_heap(void **unused) {
  myc_kernel *k = echo_kernel(0, 0, 0);
  const size_t lens[] = {0, 1, MYC__BODY_INLINE - 1, MYC__BODY_INLINE, MYC__BODY_INLINE + 1, 100000};
  for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    char *b = bytes_of_len(lens[i]);
    myc_msg *m;
    assert_int_equal(myc_msg_new(myc_kernel_ctx(k), "PUT", "echo://b", b, lens[i], &m), 0);
    bool heap = lens[i] >= MYC__BODY_INLINE;
    assert_int_equal(!!(m->flags & MYC__F_HEAP_BODY), heap);
    assert_true(heap ? m->body != m->body_inline : m->body == m->body_inline);
    size_t len;
    const char *got = myc_msg_body(m, &len);
    assert_int_equal(len, lens[i]);
    if (lens[i]) assert_memory_equal(got, b, lens[i]);
    assert_int_equal(got[len], '\0'); /* always terminated */

    /* Replace with a small body, then a large one. */
    assert_int_equal(myc_msg_set_body(m, "tiny", 4), 0);
    got = myc_msg_body(m, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(got, "tiny", 4);
    assert_int_equal(myc_msg_set_body(m, b, lens[i]), 0);
    got = myc_msg_body(m, &len);
    assert_int_equal(len, lens[i]);
    if (lens[i]) assert_memory_equal(got, b, lens[i]);
    assert_int_equal(myc_msg_release(m), 0);

    myc_msg *r = NULL;
    assert_int_equal(myc_call(myc_kernel_ctx(k), "PUT", "echo://b", b, lens[i], 5000, &r), 0);
    got = myc_msg_body(r, &len);
    assert_int_equal(len, lens[i]);
    if (lens[i]) assert_memory_equal(got, b, lens[i]);
    assert_int_equal(myc_msg_release(r), 0);
    free(b);
  }
  /* Growing an inline body past the inline size moves it to the heap. */
  myc_msg *m;
  assert_int_equal(myc_msg_new(myc_kernel_ctx(k), "PUT", "echo://b", "s", 1, &m), 0);
  assert_false(m->flags & MYC__F_HEAP_BODY);
  char *big = bytes_of_len(5000);
  assert_int_equal(myc_msg_set_body(m, big, 5000), 0);
  assert_true(m->flags & MYC__F_HEAP_BODY);
  size_t len;
  assert_memory_equal(myc_msg_body(m, &len), big, 5000);
  assert_int_equal(len, 5000);
  assert_int_equal(myc_msg_set_body(m, NULL, 0), 0);
  assert_non_null(myc_msg_body(m, &len));
  assert_int_equal(len, 0);
  assert_int_equal(myc_msg_set_body(m, NULL, 3), MYC_EINVAL);
  assert_int_equal(myc_msg_release(m), 0);
  free(big);
  assert_int_equal(in_use(k), 0);
  myc_kernel_free(k);
}

/* ==== Limits and validation =========================================== */

/* max_uri_length and max_body_size are enforced with MYC_ETOOBIG by every
 * way of building a message, and a refused message costs nothing. */
static void test_limits(void **unused) {
  enum { MAX_URI = 300, MAX_BODY = 1000 };
  myc_kernel *k = echo_kernel(0, MAX_URI, MAX_BODY);
  myc_ctx *host = myc_kernel_ctx(k);
  char *u_ok = uri_of_len(MAX_URI), *u_big = uri_of_len(MAX_URI + 1);
  char *b = bytes_of_len(MAX_BODY + 1);
  myc_msg *m = (myc_msg *)&m;

  assert_int_equal(myc_msg_new(host, "GET", u_big, NULL, 0, &m), MYC_ETOOBIG);
  assert_null(m);
  assert_int_equal(myc_msg_new(host, "PUT", "echo://x", b, MAX_BODY + 1, &m), MYC_ETOOBIG);
  assert_null(m);
  assert_int_equal(myc_send_pooled(host, "GET", u_big, NULL, 0), MYC_ETOOBIG);
  assert_int_equal(myc_send_pooled(host, "PUT", "echo://x", b, MAX_BODY + 1), MYC_ETOOBIG);
  myc_msg *r = (myc_msg *)&r;
  assert_int_equal(myc_call(host, "PUT", "echo://x", b, MAX_BODY + 1, 5000, &r), MYC_ETOOBIG);
  assert_null(r);
  assert_int_equal(in_use(k), 0);

  /* Exactly at the limits is fine. */
  assert_int_equal(myc_msg_new(host, "PUT", u_ok, b, MAX_BODY, &m), 0);
  assert_int_equal(myc_msg_set_body(m, b, MAX_BODY + 1), MYC_ETOOBIG);
  size_t len;
  myc_msg_body(m, &len);
  assert_int_equal(len, MAX_BODY); /* a refused body leaves the old one */
  assert_int_equal(myc_send(host, m), 0);
  assert_int_equal(myc_send_pooled(host, "PUT", u_ok, b, MAX_BODY), 0);
  settle(k);
  assert_int_equal(in_use(k), 0);
  free(u_ok);
  free(u_big);
  free(b);
  myc_kernel_free(k);
}

/* Malformed URIs are refused with MYC_EURI. */
static void test_bad_uris(void **unused) {
  myc_kernel *k = echo_kernel(0, 0, 0);
  myc_ctx *host = myc_kernel_ctx(k);
  const char *bad[] = {"",           "echo",          "echo:",        "echo:/x",   "echo//x",
                       "://x",       "1echo://x",     "ec ho://x",    "echo://a b", "echo://a\nb",
                       "echo://a\tb", "echo://a\x7f", "echo://x?a b", "-e://x",
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa://x"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    myc_msg *m = NULL;
    int rc = myc_msg_new(host, "GET", bad[i], NULL, 0, &m);
    if (rc != MYC_EURI) print_error("URI '%s' gave %d\n", bad[i], rc);
    assert_int_equal(rc, MYC_EURI);
    assert_null(m);
    assert_int_equal(myc_send_pooled(host, "GET", bad[i], NULL, 0), MYC_EURI);
  }
  myc_msg *m = NULL;
  assert_int_equal(myc_msg_new(host, "GET", NULL, NULL, 0, &m), MYC_EURI);
  /* Accepted: empty path, query, odd but legal characters. */
  const char *good[] = {"echo://", "echo://a/b/c", "echo://a?x=1&y=2", "echo://a?",
                        "e+c.h-o://x", "ECHO://x", "echo://\xc3\xa9t\xc3\xa9"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    assert_int_equal(myc_msg_new(host, "GET", good[i], NULL, 0, &m), 0);
    assert_string_equal(myc_msg_uri(m, NULL), good[i]);
    assert_int_equal(myc_msg_release(m), 0);
  }
  assert_int_equal(in_use(k), 0);
  myc_kernel_free(k);
}

/* Verbs: letters, digits, '_' and '-', at most MYC__VERB_MAX - 1 bytes. */
static void test_verbs(void **unused) {
  myc_kernel *k = echo_kernel(0, 0, 0);
  myc_ctx *host = myc_kernel_ctx(k);
  char longest[MYC__VERB_MAX], too_long[MYC__VERB_MAX + 1];
  memset(longest, 'V', sizeof(longest) - 1);
  longest[sizeof(longest) - 1] = '\0';
  memset(too_long, 'V', sizeof(too_long) - 1);
  too_long[sizeof(too_long) - 1] = '\0';
  const char *good[] = {"GET", "put", "DELETE", "x", "my-verb_2", longest};
  const char *bad[] = {"GE T", "GET\n", "a/b", "a.b", "\xc3\xa9", "a:b", too_long};
  myc_msg *m;
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    assert_int_equal(myc_msg_new(host, good[i], "echo://x", NULL, 0, &m), 0);
    assert_string_equal(myc_msg_verb(m), good[i]);
    assert_int_equal(myc_msg_release(m), 0);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    m = NULL;
    assert_int_equal(myc_msg_new(host, bad[i], "echo://x", NULL, 0, &m), MYC_EINVAL);
    assert_null(m);
    assert_int_equal(myc_send_pooled(host, bad[i], "echo://x", NULL, 0), MYC_EINVAL);
  }
  assert_int_equal(in_use(k), 0);
  myc_kernel_free(k);
}

/* Kind and content type: settable on an owned message, read back, and
 * REPLY/ERROR are the kernel's to set. */
static void test_setters_and_metadata(void **unused) {
  myc_kernel *k = echo_kernel(0, 0, 0);
  myc_ctx *host = myc_kernel_ctx(k);
  myc_msg *m, *m2;
  assert_int_equal(myc_msg_new(host, "GET", "echo://x", NULL, 0, &m), 0);
  assert_int_equal(myc_msg_new(host, "GET", "echo://x", NULL, 0, &m2), 0);
  assert_int_equal(myc_msg_kind(m), MYC_KIND_COMMAND);
  assert_string_equal(myc_msg_content_type(m), "");
  assert_string_equal(myc_msg_sender(m), "host");
  assert_int_equal(myc_msg_status(m), 0);
  assert_int_equal(myc_msg_is_request(m), 0);
  assert_true(myc_msg_id(m) != 0);
  assert_true(myc_msg_id(m) != myc_msg_id(m2));
  assert_int_equal(myc_msg_set_kind(m, MYC_KIND_EVENT), 0);
  assert_int_equal(myc_msg_kind(m), MYC_KIND_EVENT);
  assert_int_equal(myc_msg_set_kind(m, MYC_KIND_QUERY), 0);
  assert_int_equal(myc_msg_kind(m), MYC_KIND_QUERY);
  assert_int_equal(myc_msg_set_kind(m, MYC_KIND_REPLY), MYC_EINVAL);
  assert_int_equal(myc_msg_set_kind(m, MYC_KIND_ERROR), MYC_EINVAL);
  assert_int_equal(myc_msg_set_kind(m, 99), MYC_EINVAL);
  assert_int_equal(myc_msg_kind(m), MYC_KIND_QUERY);
  assert_int_equal(myc_msg_set_content_type(m, "application/json"), 0);
  assert_string_equal(myc_msg_content_type(m), "application/json");
  char ct[MYC__CTYPE_MAX + 1];
  memset(ct, 't', sizeof(ct) - 1);
  ct[sizeof(ct) - 1] = '\0';
  assert_int_equal(myc_msg_set_content_type(m, ct), MYC_EINVAL);
  assert_int_equal(myc_msg_set_content_type(m, NULL), MYC_EINVAL);
  assert_string_equal(myc_msg_content_type(m), "application/json");

  /* The reply: kind REPLY, correlated with the request, sent by echo. */
  uint64_t id = myc_msg_id(m2);
  assert_int_equal(myc_msg_is_request(m2), 0);
  ncalls = 0;
  assert_int_equal(myc_request(host, m2, 0, on_reply, NULL), 0);
  settle(k);
  assert_int_equal(ncalls, 1);
  assert_int_equal(last_status, 0);
  assert_int_equal(last_kind, MYC_KIND_REPLY);
  assert_int_equal(last_corr, id);
  assert_string_equal(last_sender, "echo");
  assert_int_equal(myc_msg_release(m), 0);
  assert_int_equal(in_use(k), 0);
  myc_kernel_free(k);
}

/* ==== Ownership ======================================================== */

/* A failed send leaves the message with the caller, unchanged: it can be
 * modified, retried or released. */
static void test_failed_send_keeps_ownership(void **unused) {
  myc_kernel *k = echo_kernel(2, 0, 0);
  myc_ctx *host = myc_kernel_ctx(k);
  myc_msg *m;
  assert_int_equal(myc_msg_new(host, "GET", "nowhere://x", "b", 1, &m), 0);
  assert_int_equal(myc_send(host, m), MYC_ENOROUTE);
  assert_string_equal(myc_msg_uri(m, NULL), "nowhere://x");
  assert_int_equal(myc_msg_set_body(m, "changed", 7), 0);
  assert_int_equal(myc_request(host, m, 0, on_reply, NULL), MYC_ENOROUTE);
  assert_int_equal(myc_msg_is_request(m), 0);
  assert_int_equal(myc_msg_release(m), 0);

  /* A full queue: refused with MYC_EFULL, retried once there is room. */
  assert_int_equal(myc_send_pooled(host, "GET", "echo://fill", NULL, 0), 0);
  assert_int_equal(myc_send_pooled(host, "GET", "echo://fill", NULL, 0), 0);
  assert_int_equal(myc_msg_new(host, "GET", "echo://retry", "r", 1, &m), 0);
  uint64_t before = in_use(k);
  assert_int_equal(myc_send(host, m), MYC_EFULL);
  assert_int_equal(myc_msg_set_body(m, "again", 5), 0); /* still ours */
  ncalls = 0;
  assert_int_equal(myc_request(host, m, 0, on_reply, NULL), MYC_EFULL);
  assert_int_equal(in_use(k), before); /* the prepared reply went back */
  assert_int_equal(myc_msg_is_request(m), 0);
  settle(k);
  assert_int_equal(ncalls, 0); /* a refused request is never answered */
  assert_int_equal(myc_request(host, m, 0, on_reply, NULL), 0);
  settle(k);
  assert_int_equal(ncalls, 1);
  assert_int_equal(last_status, 0);
  assert_int_equal(in_use(k), 0);

  myc_subsystem_stats ss;
  assert_int_equal(myc_subsystem_get_stats(k, "echo", &ss), 0);
  assert_int_equal(ss.rejected, 2);
  assert_int_equal(ss.enqueued, 3);
  assert_int_equal(ss.handled, 3);
  myc_kernel_free(k);
}

/* A successful send moves the message to the kernel: setters refuse it,
 * it cannot be sent again, and once handled it is back in the pool, so
 * releasing it is caught. */
static void test_successful_send_moves_ownership(void **unused) {
  myc_kernel *k = echo_kernel(0, 0, 0);
  myc_ctx *host = myc_kernel_ctx(k);
  myc_msg *m;
  assert_int_equal(myc_msg_new(host, "GET", "echo://x", "b", 1, &m), 0);
  assert_int_equal(myc_send(host, m), 0);
  assert_int_equal(myc_msg_set_body(m, "x", 1), MYC_ESTATE);
  assert_int_equal(myc_msg_set_kind(m, MYC_KIND_EVENT), MYC_ESTATE);
  assert_int_equal(myc_msg_set_content_type(m, "text/plain"), MYC_ESTATE);
  assert_int_equal(myc_send(host, m), MYC_EBADMSG);
  assert_int_equal(myc_request(host, m, 0, on_reply, NULL), MYC_EBADMSG);
  assert_int_equal(in_use(k), 1);
  settle(k);
  assert_int_equal(in_use(k), 0);
  uint64_t bad = bad_releases(k);
  assert_int_equal(myc_msg_release(m), MYC_EBADMSG);
  assert_int_equal(bad_releases(k), bad + 1);

  /* The same for a request. */
  assert_int_equal(myc_msg_new(host, "GET", "echo://x", "b", 1, &m), 0);
  ncalls = 0;
  assert_int_equal(myc_request(host, m, 0, on_reply, NULL), 0);
  assert_int_equal(myc_msg_set_body(m, "x", 1), MYC_ESTATE);
  assert_int_equal(myc_request(host, m, 0, on_reply, NULL), MYC_EBADMSG);
  settle(k);
  assert_int_equal(ncalls, 1);
  assert_int_equal(in_use(k), 0);
  assert_int_equal(myc_msg_release(m), MYC_EBADMSG);
  myc_kernel_free(k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_uri_inline_and_heap),
      cmocka_unit_test(test_body_inline_and_heap),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_bad_uris),
      cmocka_unit_test(test_verbs),
      cmocka_unit_test(test_setters_and_metadata),
      cmocka_unit_test(test_failed_send_keeps_ownership),
      cmocka_unit_test(test_successful_send_moves_ownership),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
