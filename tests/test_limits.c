/* Limits and the ABI boundary.
 *
 * [kernel] max_uri_length and max_body_size are enforced wherever a URI or
 * a body enters a message (msg_new, send_pooled, msg_set_body, reply) with
 * MYC_ETOOBIG, and the refusal is counted. Every entry of the myc_host
 * table is called here with NULL and garbage arguments, through the table
 * itself, as a plugin would: each refuses with a defined code (or NULL)
 * and nothing crashes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "internal.h"

static const myc_host *H;

static void noop_timer(void *udata) { (void)udata; }
static void noop_io(void *udata, int fd, unsigned events) { (void)udata, (void)fd, (void)events; }
static void noop_reply(void *udata, myc_msg *r) { (void)udata, (void)r; }

/* A URI of exactly `len` bytes: "echo://" then 'a's (caller frees). */
static char *uri_of(size_t len) {
  char *u = malloc(len + 1);
  assert_non_null(u);
  memcpy(u, "echo://", 7);
  memset(u + 7, 'a', len - 7);
  u[len] = '\0';
  return u;
}

/* ==== Limits =========================================================== */

/* max_uri_length: a URI of that length passes (through the heap when it
 * is longer than the inline buffer), one byte more is ETOOBIG everywhere,
 * however long the string really is. */
static void test_max_uri_length(void **state) {
  myc_kernel *k = myc_test_kernel(
      "[kernel]\nplugin_dir = %PLUGINS%\nlog_level = error\nmax_uri_length = 300\n"
      "[plugin echo]\n");
  myc_ctx *host = myc_kernel_ctx(k);
  char *ok = uri_of(300), *big = uri_of(301), *huge = uri_of(200000);
  myc_msg *m = NULL;
  assert_int_equal(H->msg_new(host, "GET", ok, "x", 1, &m), 0);
  size_t len = 0;
  assert_string_equal(H->msg_uri(m, &len), ok);
  assert_int_equal(len, 300);
  assert_int_equal(H->msg_release(m), 0);
  assert_int_equal(H->msg_new(host, "GET", big, "x", 1, &m), MYC_ETOOBIG);
  assert_null(m);
  assert_int_equal(H->msg_new(host, "GET", huge, NULL, 0, &m), MYC_ETOOBIG);

  myc_stats st;
  myc_kernel_get_stats(k, &st);
  uint64_t rejected = st.rejected;
  assert_int_equal(H->send_pooled(host, "GET", big, NULL, 0), MYC_ETOOBIG);
  assert_int_equal(H->send_pooled(host, "GET", huge, NULL, 0), MYC_ETOOBIG);
  assert_int_equal(H->send_pooled(host, "GET", ok, NULL, 0), 0);
  while (myc_kernel_poll(k) > 0) {
  }
  myc_kernel_get_stats(k, &st);
  assert_int_equal(st.rejected - rejected, 2);
  assert_int_equal(st.sent, st.handled + st.errored + st.rejected);

  /* A request at the limit round-trips (the reply copies the URI). */
  char *body = NULL;
  assert_int_equal(myc_test_call(k, "GET", ok, "round", &body), 0);
  assert_string_equal(body, "round");
  free(body);
  assert_int_equal(myc_test_call(k, "GET", big, "x", NULL), MYC_ETOOBIG);
  free(ok);
  free(big);
  free(huge);
  myc_kernel_free(k);
}

/* The default limit is 2048; the smallest allowed is 16. */
static void test_uri_limit_defaults(void **state) {
  myc_kernel *k = myc_test_kernel("[kernel]\nlog_level = error\n");
  char *ok = uri_of(2048), *big = uri_of(2049);
  myc_msg *m = NULL;
  assert_int_equal(H->msg_new(myc_kernel_ctx(k), "GET", ok, NULL, 0, &m), 0);
  assert_int_equal(H->msg_release(m), 0);
  assert_int_equal(H->msg_new(myc_kernel_ctx(k), "GET", big, NULL, 0, &m), MYC_ETOOBIG);
  free(ok);
  free(big);
  myc_kernel_free(k);
  char *err = myc_test_kernel_error("[kernel]\nmax_uri_length = 15\n");
  assert_non_null(strstr(err, "test.ini:2:"));
  free(err);
}

/* max_body_size: msg_new, msg_set_body, send_pooled and reply refuse one
 * byte more with ETOOBIG and leave the message as it was; an absurd
 * length is refused without being read. */
static void test_max_body_size(void **state) {
  myc_kernel *k = myc_test_kernel(
      "[kernel]\nplugin_dir = %PLUGINS%\nlog_level = error\nmax_body_size = 1000\n"
      "[plugin echo]\n");
  myc_ctx *host = myc_kernel_ctx(k);
  char body[1001];
  memset(body, 'b', sizeof(body));
  myc_msg *m = NULL;
  assert_int_equal(H->msg_new(host, "PUT", "echo://x", body, 1001, &m), MYC_ETOOBIG);
  assert_null(m);
  assert_int_equal(H->msg_new(host, "PUT", "echo://x", body, SIZE_MAX, &m), MYC_ETOOBIG);
  assert_int_equal(H->msg_new(host, "PUT", "echo://x", "small", 5, &m), 0);
  assert_int_equal(H->msg_set_body(m, body, 1001), MYC_ETOOBIG);
  size_t len = 0;
  assert_memory_equal(H->msg_body(m, &len), "small", 5);
  assert_int_equal(len, 5);
  assert_int_equal(H->msg_set_body(m, body, 1000), 0);
  H->msg_body(m, &len);
  assert_int_equal(len, 1000);
  assert_int_equal(H->msg_release(m), 0);
  assert_int_equal(H->send_pooled(host, "PUT", "echo://x", body, 1001), MYC_ETOOBIG);

  /* The full size round-trips through echo's reply. */
  myc_msg *r = NULL;
  assert_int_equal(myc_call(host, "PUT", "echo://x", body, 1000, 5000, &r), 0);
  assert_int_equal(H->msg_status(r), 0);
  H->msg_body(r, &len);
  assert_int_equal(len, 1000);
  assert_int_equal(H->msg_release(r), 0);
  myc_kernel_free(k);

  /* max_body_size = 0: only empty bodies. */
  k = myc_test_kernel("[kernel]\nlog_level = error\nmax_body_size = 0\n");
  assert_int_equal(H->msg_new(myc_kernel_ctx(k), "PUT", "kernel://stats", "x", 1, &m),
                   MYC_ETOOBIG);
  assert_int_equal(H->msg_new(myc_kernel_ctx(k), "PUT", "kernel://stats", NULL, 0, &m), 0);
  assert_int_equal(H->msg_release(m), 0);
  myc_kernel_free(k);
}

/* The limits reach users too: the console answers an over-long line with
 * the kernel's ETOOBIG and carries on. */
static void test_limits_through_console(void **state) {
  char *dir = myc_test_tmpdir(), path[512], *out = NULL, *err = NULL;
  snprintf(path, sizeof(path), "%s/limits.ini", dir);
  char *ini = myc_test_expand(
      "[kernel]\nplugin_dir = %PLUGINS%\nlog_level = error\nmax_uri_length = 20\n"
      "max_body_size = 4\n[plugin console]\n[plugin echo]\n");
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(ini, f);
  fclose(f);
  free(ini);
  char args[600];
  snprintf(args, sizeof(args), "-c '%s'", path);
  int rc = myc_test_run(args,
                        "GET echo://short body\n"
                        "GET echo://much-longer-than-twenty x\n"
                        "GET echo://ok toolong\n",
                        &out, &err);
  assert_int_equal(rc, 0);
  assert_string_equal(out,
                      "OK body\n"
                      "ERR ETOOBIG too large: echo://much-longer-than-twenty\n"
                      "ERR ETOOBIG too large: echo://ok\n");
  free(out);
  free(err);
  myc_test_rmtree(dir);
  free(dir);
}

/* ==== The host table with bad arguments =============================== */

/* The table's header: this ABI, the whole table. */
static void test_table_header(void **state) {
  assert_int_equal(H->abi_major, MYC_ABI_MAJOR);
  assert_int_equal(H->abi_minor, MYC_ABI_MINOR);
  assert_int_equal(H->size, sizeof(myc_host));
  assert_true(MYC_HOST_HAS(H, err_name));
  assert_string_equal(H->strerror(0), "success");
  assert_string_equal(H->strerror(12345), "unknown error");
  assert_string_equal(H->strerror(INT_MIN), "unknown error");
  assert_string_equal(H->err_name(INT_MAX), "EUNKNOWN");
  assert_string_equal(H->err_name(MYC_EPERM), "EPERM");
}

/* Registration, identity and logging with NULLs, outside init. */
static void test_table_registration_args(void **state) {
  myc_kernel *k = myc_test_kernel("[kernel]\nlog_level = error\n");
  myc_ctx *host = myc_kernel_ctx(k);
  assert_int_equal(H->register_scheme(NULL, "x"), MYC_EINVAL);
  assert_int_equal(H->register_scheme(host, NULL), MYC_EINVAL);
  assert_int_equal(H->register_scheme(host, "late"), MYC_ESTATE);
  assert_int_equal(H->register_route(NULL, "a", 1), MYC_EINVAL);
  assert_int_equal(H->register_route(host, NULL, 1), MYC_EINVAL);
  assert_int_equal(H->register_route(host, "a/{b}", 1), MYC_ESTATE);
  assert_null(H->config_get(NULL, "k"));
  assert_null(H->config_get(host, NULL));
  assert_null(H->config_get(host, "k"));
  assert_null(H->name(NULL));
  assert_string_equal(H->name(host), "host");
  H->log(NULL, MYC_LOG_DEBUG, "no context %d", 1);
  H->log(host, -7, "a negative level still prints");
  H->log(host, MYC_LOG_ERROR, NULL);
  H->shutdown(NULL, 3);
  myc_kernel_free(k);
  myc_kernel *none = (myc_kernel *)1;
  char *err = (char *)1;
  assert_int_equal(myc_kernel_new(NULL, &none, &err), MYC_EINVAL);
  assert_null(err);
}

/* Registration with bad arguments inside init (h_faulty init = badargs):
 * each refused, the good ones kept, and the kernel starts. */
static void test_registration_args_in_init(void **state) {
  myc_kernel *k = myc_test_kernel(
      "[kernel]\nplugin_dir = %BAD%\nlog_level = error\n[plugin h_faulty]\ninit = badargs\n");
  char *r = NULL;
  assert_int_equal(myc_test_call(k, "GET", "faulty://report", NULL, &r), 0);
  assert_string_equal(r,
                      "null_scheme=EINVAL empty_scheme=EINVAL digit_scheme=EINVAL "
                      "long_scheme=EINVAL space_scheme=EINVAL good_scheme=OK null_route=EINVAL "
                      "open_brace=EINVAL star_inside=EINVAL nine_params=EINVAL good_route=OK "
                      "same_shape=EINVAL report_route=OK null_ctx=EINVAL unknown_key=NULL "
                      "null_key=NULL ");
  free(r);
  /* The scheme it registered, in any case, reaches its route. */
  assert_int_equal(myc_test_call(k, "GET", "GOOD+1.X-Y://report", NULL, NULL), 0);
  assert_int_equal(myc_test_call(k, "GET", "faulty://nowhere", NULL, NULL), MYC_ENOROUTE);
  myc_kernel_free(k);
}

/* Message calls with NULL: refused, *out cleared, nothing counted as
 * owned. */
static void test_table_message_nulls(void **state) {
  myc_kernel *k = myc_test_kernel("[kernel]\nlog_level = error\n");
  myc_ctx *host = myc_kernel_ctx(k);
  myc_msg *m = (myc_msg *)1;
  assert_int_equal(H->msg_new(NULL, "GET", "kernel://stats", NULL, 0, &m), MYC_EINVAL);
  assert_int_equal(H->msg_new(host, "GET", "kernel://stats", NULL, 0, NULL), MYC_EINVAL);
  assert_int_equal(H->msg_new(host, "GET", NULL, NULL, 0, &m), MYC_EURI);
  assert_null(m);
  assert_int_equal(H->msg_new(host, "GET", "", NULL, 0, &m), MYC_EURI);
  assert_int_equal(H->msg_new(host, "GET", "kernel:/stats", NULL, 0, &m), MYC_EURI);
  assert_int_equal(H->msg_new(host, "GET", "kernel://a b", NULL, 0, &m), MYC_EURI);
  assert_int_equal(H->msg_new(host, "GET", "kernel://x", NULL, 5, &m), MYC_EINVAL);
  assert_int_equal(H->msg_new(host, "G ET", "kernel://x", NULL, 0, &m), MYC_EINVAL);
  assert_int_equal(H->msg_new(host, "VERYLONGVERBNAME", "kernel://x", NULL, 0, &m), MYC_EINVAL);
  assert_int_equal(H->msg_new(host, NULL, "kernel://x", NULL, 0, &m), 0);
  assert_string_equal(H->msg_verb(m), "");
  /* Setters on a good message with bad values. */
  assert_int_equal(H->msg_set_body(m, NULL, 3), MYC_EINVAL);
  assert_int_equal(H->msg_set_body(m, NULL, 0), 0);
  assert_int_equal(H->msg_set_kind(m, MYC_KIND_REPLY), MYC_EINVAL);
  assert_int_equal(H->msg_set_kind(m, -1), MYC_EINVAL);
  assert_int_equal(H->msg_set_kind(m, 1000), MYC_EINVAL);
  assert_int_equal(H->msg_set_kind(m, MYC_KIND_EVENT), 0);
  assert_int_equal(H->msg_set_content_type(m, NULL), MYC_EINVAL);
  assert_int_equal(H->msg_set_content_type(m, "0123456789012345678901234567890123"),
                   MYC_EINVAL);
  assert_int_equal(H->msg_set_content_type(m, "text/plain"), 0);
  assert_string_equal(H->msg_content_type(m), "text/plain");
  /* reply() on a message nobody waits for: a no-op. */
  assert_int_equal(H->reply(m, 0, "x", 1), 0);
  assert_int_equal(H->reply(m, 1, NULL, 0), MYC_EINVAL);
  assert_int_equal(H->msg_release(m), 0);

  /* NULL message everywhere. */
  size_t len = 7;
  assert_null(H->msg_uri(NULL, &len));
  assert_int_equal(len, 0);
  assert_null(H->msg_uri(NULL, NULL));
  assert_null(H->msg_verb(NULL));
  len = 7;
  assert_null(H->msg_body(NULL, &len));
  assert_int_equal(len, 0);
  assert_null(H->msg_content_type(NULL));
  assert_int_equal(H->msg_kind(NULL), MYC_EBADMSG);
  assert_int_equal(H->msg_status(NULL), MYC_EBADMSG);
  assert_int_equal(H->msg_id(NULL), 0);
  assert_int_equal(H->msg_correlation(NULL), 0);
  assert_null(H->msg_sender(NULL));
  assert_int_equal(H->msg_timestamp(NULL), 0);
  assert_int_equal(H->msg_is_request(NULL), MYC_EBADMSG);
  assert_int_equal(H->msg_ref(NULL), MYC_EBADMSG);
  assert_int_equal(H->msg_release(NULL), MYC_EINVAL);
  assert_int_equal(H->msg_set_body(NULL, "x", 1), MYC_EBADMSG);
  assert_int_equal(H->msg_set_kind(NULL, 0), MYC_EBADMSG);
  assert_int_equal(H->msg_set_content_type(NULL, "x"), MYC_EBADMSG);
  assert_int_equal(H->reply(NULL, 0, NULL, 0), MYC_EBADMSG);

  /* Sends with NULL. */
  assert_int_equal(H->send(NULL, NULL), MYC_EINVAL);
  assert_int_equal(H->send(host, NULL), MYC_EINVAL);
  assert_int_equal(H->send_pooled(NULL, "GET", "kernel://stats", NULL, 0), MYC_EINVAL);
  assert_int_equal(H->send_pooled(host, "GET", NULL, NULL, 0), MYC_EURI);
  assert_int_equal(H->send_pooled(host, "GET", "kernel://stats", NULL, 1), MYC_EINVAL);
  assert_int_equal(H->request(NULL, NULL, 0, noop_reply, NULL), MYC_EINVAL);
  assert_int_equal(H->request(host, NULL, 0, noop_reply, NULL), MYC_EINVAL);
  assert_int_equal(H->msg_new(host, "GET", "kernel://stats", NULL, 0, &m), 0);
  assert_int_equal(H->request(host, m, 0, NULL, NULL), MYC_EINVAL);
  assert_int_equal(H->send(NULL, m), MYC_EINVAL);
  /* Sent once, the message is the kernel's: a second send is refused. */
  assert_int_equal(H->send(host, m), 0);
  assert_int_equal(H->send(host, m), MYC_EBADMSG);
  assert_int_equal(H->msg_set_body(m, "x", 1), MYC_ESTATE);
  while (myc_kernel_poll(k) > 0) {
  }
  myc_stats st;
  myc_kernel_get_stats(k, &st);
  assert_int_equal(st.sent, st.handled + st.errored + st.rejected);
  assert_int_equal(st.bad_releases, 0);
  myc_pool_stats ps;
  myc_pool_get_stats(k, &ps);
  assert_int_equal(ps.in_use, 0);
  myc_kernel_free(k);
}

/* Garbage that is not a message at all (zeroes, a byte pattern): every
 * call that takes a message refuses it without touching it. */
static void test_table_garbage_messages(void **state) {
  myc_kernel *k = myc_test_kernel("[kernel]\nlog_level = error\n");
  myc_ctx *host = myc_kernel_ctx(k);
  static myc_msg fakes[2];
  memset(&fakes[0], 0, sizeof(fakes[0]));
  memset(&fakes[1], 0xa5, sizeof(fakes[1]));
  for (int i = 0; i < 2; i++) {
    myc_msg *g = &fakes[i];
    myc_msg copy = *g;
    size_t len = 1;
    assert_null(H->msg_uri(g, &len));
    assert_null(H->msg_verb(g));
    assert_null(H->msg_body(g, &len));
    assert_null(H->msg_content_type(g));
    assert_null(H->msg_sender(g));
    assert_int_equal(H->msg_kind(g), MYC_EBADMSG);
    assert_int_equal(H->msg_status(g), MYC_EBADMSG);
    assert_int_equal(H->msg_is_request(g), MYC_EBADMSG);
    assert_int_equal(H->msg_id(g), 0);
    assert_int_equal(H->msg_ref(g), MYC_EBADMSG);
    assert_int_equal(H->msg_release(g), MYC_EBADMSG);
    assert_int_equal(H->msg_set_body(g, "x", 1), MYC_EBADMSG);
    assert_int_equal(H->msg_set_kind(g, 0), MYC_EBADMSG);
    assert_int_equal(H->send(host, g), MYC_EBADMSG);
    assert_int_equal(H->request(host, g, 0, noop_reply, NULL), MYC_EBADMSG);
    assert_int_equal(H->reply(g, 0, NULL, 0), MYC_EBADMSG);
    assert_memory_equal(&copy, g, sizeof(copy));
  }
  myc_stats st;
  myc_kernel_get_stats(k, &st);
  assert_int_equal(st.bad_releases, 0); /* never ours, so not a release bug */
  assert_int_equal(st.sent, st.rejected);
  myc_kernel_free(k);
}

/* Timers and descriptor watches with bad arguments, including delays so
 * long that the deadline would wrap around. */
static void test_table_loop_args(void **state) {
  myc_kernel *k = myc_test_kernel("[kernel]\nlog_level = error\n");
  myc_ctx *host = myc_kernel_ctx(k);
  myc_timer *t = NULL;
  assert_int_equal(H->timer_start(NULL, 1, 0, noop_timer, NULL, &t), MYC_EINVAL);
  assert_int_equal(H->timer_start(host, 1, 0, NULL, NULL, &t), MYC_EINVAL);
  assert_int_equal(H->timer_start(host, 1, 0, noop_timer, NULL, NULL), MYC_EINVAL);
  assert_int_equal(H->timer_start(host, UINT64_MAX, 0, noop_timer, NULL, &t), MYC_EINVAL);
  assert_int_equal(H->timer_start(host, 1, UINT64_MAX / 1000, noop_timer, NULL, &t),
                   MYC_EINVAL);
  assert_null(t);
  /* A year is fine: it just does not fire. */
  assert_int_equal(H->timer_start(host, 365ull * 86400000, 0, noop_timer, NULL, &t), 0);
  assert_non_null(t);
  assert_int_equal(H->timer_stop(t), 0);
  assert_int_equal(H->timer_stop(NULL), MYC_EINVAL);

  int fds[2];
  assert_int_equal(pipe(fds), 0);
  myc_io *w = NULL;
  assert_int_equal(H->io_watch(NULL, fds[0], MYC_IO_READ, noop_io, NULL, &w), MYC_EINVAL);
  assert_int_equal(H->io_watch(host, -1, MYC_IO_READ, noop_io, NULL, &w), MYC_EINVAL);
  assert_int_equal(H->io_watch(host, fds[0], 0, noop_io, NULL, &w), MYC_EINVAL);
  assert_int_equal(H->io_watch(host, fds[0], MYC_IO_HUP, noop_io, NULL, &w), MYC_EINVAL);
  assert_int_equal(H->io_watch(host, fds[0], MYC_IO_READ | 0x100, noop_io, NULL, &w),
                   MYC_EINVAL);
  assert_int_equal(H->io_watch(host, fds[0], MYC_IO_READ, NULL, NULL, &w), MYC_EINVAL);
  assert_int_equal(H->io_watch(host, fds[0], MYC_IO_READ, noop_io, NULL, NULL), MYC_EINVAL);
  /* A descriptor that is not open. */
  assert_int_equal(H->io_watch(host, 100000, MYC_IO_READ, noop_io, NULL, &w), MYC_EIO);
  assert_null(w);
  assert_int_equal(H->io_watch(host, fds[0], MYC_IO_READ, noop_io, NULL, &w), 0);
  /* The same descriptor twice. */
  myc_io *w2 = NULL;
  assert_int_equal(H->io_watch(host, fds[0], MYC_IO_READ, noop_io, NULL, &w2), MYC_EEXIST);
  assert_int_equal(H->io_stop(w), 0);
  assert_int_equal(H->io_stop(w), 0); /* twice: harmless */
  assert_int_equal(H->io_stop(NULL), MYC_EINVAL);
  myc_kernel_free(k);
  close(fds[0]);
  close(fds[1]);
}

static int setup(void **state) {
  H = myc_host_table();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_max_uri_length),
      cmocka_unit_test(test_uri_limit_defaults),
      cmocka_unit_test(test_max_body_size),
      cmocka_unit_test(test_limits_through_console),
      cmocka_unit_test(test_table_header),
      cmocka_unit_test(test_table_registration_args),
      cmocka_unit_test(test_registration_args_in_init),
      cmocka_unit_test(test_table_message_nulls),
      cmocka_unit_test(test_table_garbage_messages),
      cmocka_unit_test(test_table_loop_args),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
