/* embed: run the Mycelia kernel inside a program, configured from code.
 *
 *   embed [PLUGIN_DIR]
 *
 * Builds a kernel with the echo plugin from PLUGIN_DIR (default
 * build/plugins), sends a batch of pooled messages, makes one synchronous
 * call, prints the counters and shuts down. Exits 0 when every counter
 * adds up, 1 otherwise. docs/embedding.md walks through it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mycelia/mycelia.h>

#define BATCH 5000

/* Print `what` and the malloc'd error text (which we own), free it. */
static void report(const char *what, char *err) {
  fprintf(stderr, "embed: %s: %s\n", what, err ? err : "unknown error");
  free(err);
}

/* A kernel with [kernel] plugin_dir = dir and [plugin echo]. Returns NULL
 * on failure (reported). The caller owns the kernel. */
static myc_kernel *make_kernel(const char *dir) {
  myc_config *cfg = NULL;
  myc_kernel *k = NULL;
  char *err = NULL;
  if (myc_config_new(&cfg) < 0) {
    report("config", NULL);
    return NULL;
  }
  if (myc_config_set(cfg, "kernel", "plugin_dir", dir, &err) < 0 ||
      myc_config_set(cfg, "kernel", "pool_warmup", "256", &err) < 0 ||
      myc_config_set(cfg, "plugin echo", "enabled", "true", &err) < 0) {
    report("config", err);
    goto out;
  }
  if (myc_kernel_new(cfg, &k, &err) < 0) report("kernel", err);
out:
  myc_config_free(cfg); /* the kernel keeps its own copy */
  return k;
}

/* Fire-and-forget: BATCH pooled sends. A full queue (MYC_EFULL) leaves the
 * message with us, so run the loop once and try again. Returns the number
 * of messages the kernel took. */
static unsigned send_batch(myc_kernel *k) {
  myc_ctx *host = myc_kernel_ctx(k);
  unsigned sent = 0;
  while (sent < BATCH) {
    int rc = myc_send_pooled(host, "PUT", "echo://batch", "x", 1);
    if (rc == MYC_EFULL) {
      myc_kernel_poll(k);
      continue;
    }
    if (rc < 0) {
      fprintf(stderr, "embed: send: %s\n", myc_strerror(rc));
      break;
    }
    sent++;
  }
  while (myc_kernel_poll(k) > 0) /* drain what is still queued */
    ;
  return sent;
}

/* One request and its reply: myc_call runs the loop until the answer is
 * in. The reply is ours to release. Returns 0 if echo answered `text`. */
static int call_echo(myc_kernel *k, const char *text) {
  myc_msg *reply = NULL;
  int rc = myc_call(myc_kernel_ctx(k), "GET", "echo://hello", text,
                    strlen(text), 1000, &reply);
  if (rc < 0) {
    fprintf(stderr, "embed: call: %s\n", myc_strerror(rc));
    return -1;
  }
  size_t len;
  const char *body = myc_msg_body(reply, &len);
  int status = myc_msg_status(reply);
  printf("echo replied: status %s, body '%.*s'\n",
         status < 0 ? myc_err_name(status) : "OK", (int)len, body);
  rc = status == 0 && len == strlen(text) && memcmp(body, text, len) == 0 ? 0 : -1;
  myc_msg_release(reply);
  return rc;
}

/* Print the counters; return 0 if every message is accounted for. */
static int print_stats(myc_kernel *k, unsigned batch) {
  myc_stats st;
  myc_pool_stats ps;
  myc_subsystem_stats es;
  myc_kernel_get_stats(k, &st);
  myc_pool_get_stats(k, &ps);
  if (myc_subsystem_get_stats(k, "echo", &es) < 0) return -1;
  printf("kernel: sent %llu handled %llu errored %llu rejected %llu replies %llu\n",
         (unsigned long long)st.sent, (unsigned long long)st.handled,
         (unsigned long long)st.errored, (unsigned long long)st.rejected,
         (unsigned long long)st.replies);
  printf("pool:   created %llu reused %llu in use %llu reuse rate %.3f\n",
         (unsigned long long)ps.created, (unsigned long long)ps.reused,
         (unsigned long long)ps.in_use, ps.reuse_rate);
  printf("echo:   handled %llu queue %u/%u\n", (unsigned long long)es.handled,
         es.queue_len, es.queue_capacity);
  if (st.sent != st.handled + st.errored + st.rejected) return -1;
  return es.handled == batch + 1 ? 0 : -1; /* the batch and the call */
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "build/plugins";
  char *err = NULL;
  int rc = 1;
  myc_kernel *k = make_kernel(dir);
  if (!k) return 1;
  if (myc_kernel_start(k, &err) < 0) {
    report("start", err);
    goto out;
  }
  unsigned sent = send_batch(k);
  printf("sent %u pooled messages\n", sent);
  if (sent != BATCH || call_echo(k, "hello from embed") < 0) goto out;
  if (print_stats(k, sent) < 0) {
    fprintf(stderr, "embed: the counters do not add up\n");
    goto out;
  }
  puts("embed: OK");
  rc = 0;
out:
  myc_kernel_free(k); /* drains, stops and unloads every plugin */
  return rc;
}
