/* console: drive the kernel from lines of text.
 *
 * Reads "VERB URI [BODY]" lines from standard input (or the `input` file),
 * sends each as a request and prints one line per request, in input order:
 *
 *   OK                       success, empty body
 *   OK BODY                  success
 *   ERR NAME message         error reply (message = body, or the code's text)
 *   ERR NAME text: URI       the send itself failed
 *
 * Newlines in a body are printed as "\n" (and CR as "\r") so every answer
 * is one line. Blank lines and '#' comments produce nothing. At the end of
 * input, once every answer is printed, the console asks the kernel to shut
 * down with 0 (1 after a read error).
 *
 * Reading is done on the kernel's loop through io_watch, one read() per
 * readiness, never O_NONBLOCK (stdin may be shared with a terminal). At most
 * CON_WINDOW requests are in flight; when the window is full the watch is
 * stopped and resumed as answers come in. The console also serves its own
 * scheme: any message to console:// prints its body. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <mycelia/plugin.h>

static const myc_host *H;

#define CON_WINDOW 64            /* requests in flight (power of two)  */
#define CON_MAX_LINE (1u << 20)  /* longer lines are refused           */
#define CON_CHUNK 4096           /* bytes per read()                   */

typedef struct con_state con_state;

/* One answer line waiting to be printed, indexed by sequence number. */
typedef struct con_slot {
  con_state *con;
  int done;   /* the answer is in `out`                                */
  char *out;  /* malloc'd line without '\n'; NULL + done: out of memory */
  size_t len;
} con_slot;

struct con_state {
  myc_ctx *ctx;
  int fd;             /* input; ours to close if own_fd                */
  int own_fd;
  FILE *out;          /* stdout, or the `output` file if own_out       */
  int own_out;
  int prompt;
  int prompted;       /* a prompt is showing                           */
  myc_io *watch;      /* non-NULL while reading                        */
  char *buf;          /* unconsumed input bytes buf[0..len)            */
  size_t len, cap;
  int discarding;     /* inside an over-long line: drop to newline     */
  int eof;            /* no more input (end, or read error)            */
  int exit_code;
  int finished;       /* shutdown was requested                        */
  int in_pump;        /* re-entrancy guard                             */
  uint64_t next_seq;  /* sequence number of the next request line      */
  uint64_t flush_seq; /* next answer to print                          */
  con_slot slots[CON_WINDOW];
};

static void con_pump(con_state *c);

/* ==== Building answer lines ============================================ */

/* A growable string; `oom` sticks once an allocation failed. */
typedef struct con_str {
  char *p;
  size_t len, cap;
  int oom;
} con_str;

/* Append p[0..n), doubling the buffer as needed. */
static void con_add(con_str *s, const void *p, size_t n) {
  if (s->oom) return;
  if (s->len + n > s->cap) {
    size_t cap = s->cap ? s->cap : 64;
    while (cap < s->len + n) cap *= 2;
    char *np = realloc(s->p, cap);
    if (!np) {
      s->oom = 1;
      return;
    }
    s->p = np;
    s->cap = cap;
  }
  if (n) memcpy(s->p + s->len, p, n);
  s->len += n;
}

/* Append a C string. */
static void con_adds(con_str *s, const char *z) { con_add(s, z, strlen(z)); }

/* Append body bytes with LF and CR written as two-character escapes. */
static void con_add_body(con_str *s, const char *p, size_t n) {
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] != '\n' && p[i] != '\r') continue;
    con_add(s, p + run, i - run);
    con_add(s, p[i] == '\n' ? "\\n" : "\\r", 2);
    run = i + 1;
  }
  con_add(s, p + run, n - run);
}

/* ==== Ordered output =================================================== */

/* The ring slot of sequence number `seq`. */
static con_slot *con_slot_at(con_state *c, uint64_t seq) {
  return &c->slots[seq & (CON_WINDOW - 1)];
}

/* True while fewer than CON_WINDOW lines await printing. */
static int con_room(const con_state *c) {
  return c->next_seq - c->flush_seq < CON_WINDOW;
}

/* Claim the slot of the next request line. Callers check con_room. */
static con_slot *con_slot_take(con_state *c) {
  con_slot *slot = con_slot_at(c, c->next_seq++);
  slot->con = c;
  slot->done = 0;
  slot->out = NULL;
  slot->len = 0;
  return slot;
}

/* Hand the finished line in `s` to the slot (the slot now owns it). */
static void con_slot_finish(con_slot *slot, con_str *s) {
  if (s->oom) {
    free(s->p);
    s->p = NULL;
  }
  slot->out = s->p;
  slot->len = s->len;
  slot->done = 1;
}

/* Finish a slot with "ERR NAME text[: uri]". */
static void con_slot_fail(con_slot *slot, int code, const char *text,
                          const char *uri) {
  con_str s = {0};
  con_adds(&s, "ERR ");
  con_adds(&s, H->err_name(code));
  con_adds(&s, " ");
  con_adds(&s, text);
  if (uri) {
    con_adds(&s, ": ");
    con_adds(&s, uri);
  }
  con_slot_finish(slot, &s);
}

/* Print every answer that is ready and next in line; fflush once after
 * the batch. Returns how many lines were printed. */
static int con_flush(con_state *c) {
  int n = 0;
  while (c->flush_seq < c->next_seq) {
    con_slot *slot = con_slot_at(c, c->flush_seq);
    if (!slot->done) break;
    if (slot->out) {
      fwrite(slot->out, 1, slot->len, c->out);
      fputc('\n', c->out);
    } else {
      fputs("ERR ENOMEM out of memory\n", c->out);
    }
    free(slot->out);
    slot->out = NULL;
    slot->done = 0;
    c->flush_seq++;
    n++;
  }
  if (n) {
    c->prompted = 0;
    fflush(c->out);
  }
  return n;
}

/* ==== Requests ========================================================= */

/* The reply to the request of `udata` (a slot): format it into the slot
 * and print whatever became printable. The reply belongs to the kernel. */
static void con_on_reply(void *udata, myc_msg *reply) {
  con_slot *slot = udata;
  con_state *c = slot->con;
  int status = H->msg_status(reply);
  size_t len = 0;
  const char *body = H->msg_body(reply, &len);
  if (!body) len = 0;

  con_str s = {0};
  if (status >= 0) {
    con_adds(&s, "OK");
    if (len) {
      con_adds(&s, " ");
      con_add_body(&s, body, len);
    }
  } else {
    con_adds(&s, "ERR ");
    con_adds(&s, H->err_name(status));
    con_adds(&s, " ");
    if (len) con_add_body(&s, body, len);
    else con_adds(&s, H->strerror(status));
  }
  con_slot_finish(slot, &s);
  con_pump(c);
}

/* Separators between VERB and URI. */
static int con_is_space(char ch) { return ch == ' ' || ch == '\t'; }

/* Turn one input line p[0..n) into a request (or an immediate answer).
 * The line is modified in place: verb and URI get NUL-terminated, which
 * is safe because p[n] is the '\n' or spare byte after the line. */
static void con_line(con_state *c, char *p, size_t n) {
  while (n && p[n - 1] == '\r') n--;
  size_t i = 0;
  while (i < n && con_is_space(p[i])) i++;
  if (i == n || p[i] == '#') return; /* blank or comment: no answer */

  con_slot *slot = con_slot_take(c);
  char *verb = p + i;
  while (i < n && !con_is_space(p[i])) i++;
  size_t verb_end = i;
  while (i < n && con_is_space(p[i])) i++;
  char *uri = p + i;
  while (i < n && !con_is_space(p[i])) i++;
  size_t uri_end = i;
  if (uri == p + uri_end) {
    con_slot_fail(slot, MYC_EINVAL, "expected 'VERB URI [BODY]'", NULL);
    return;
  }
  const char *body = "";
  size_t blen = 0;
  if (uri_end < n) { /* exactly one separator; the rest is the body */
    body = p + uri_end + 1;
    blen = n - uri_end - 1;
  }
  p[verb_end] = '\0';
  p[uri_end] = '\0';

  myc_msg *m = NULL;
  int rc = H->msg_new(c->ctx, verb, uri, body, blen, &m);
  if (rc >= 0) {
    rc = H->request(c->ctx, m, 0, con_on_reply, slot);
    if (rc < 0) H->msg_release(m);
  }
  if (rc < 0) con_slot_fail(slot, rc, H->strerror(rc), uri);
}

/* A line longer than CON_MAX_LINE: answer it with ETOOBIG. */
static void con_too_big(con_state *c) {
  char text[80];
  snprintf(text, sizeof text, "line longer than %u bytes skipped",
           CON_MAX_LINE);
  con_slot_fail(con_slot_take(c), MYC_ETOOBIG, text, NULL);
}

/* Consume complete lines from the buffer while the window has room.
 * Returns the number of bytes consumed. */
static size_t con_take_lines(con_state *c) {
  size_t pos = 0;
  while (con_room(c) && pos < c->len) {
    char *start = c->buf + pos;
    size_t avail = c->len - pos;
    char *nl = memchr(start, '\n', avail);
    if (c->discarding) {
      if (!nl) {
        pos = c->len;
        break;
      }
      pos += (size_t)(nl - start) + 1;
      c->discarding = 0;
      continue;
    }
    if (nl) {
      size_t n = (size_t)(nl - start);
      if (n > CON_MAX_LINE) con_too_big(c);
      else con_line(c, start, n);
      pos += n + 1;
      continue;
    }
    if (avail > CON_MAX_LINE) {
      con_too_big(c);
      c->discarding = 1;
      pos = c->len;
    } else if (c->eof) { /* last line without a newline */
      con_line(c, start, avail);
      pos = c->len;
    }
    break;
  }
  if (pos) {
    memmove(c->buf, c->buf + pos, c->len - pos);
    c->len -= pos;
  }
  return pos;
}

/* ==== Reading ========================================================== */

static void con_on_readable(void *udata, int fd, unsigned events);

/* Watch the input while more of it is wanted: not at its end and with
 * room in the window. Once stopped because the window filled up, resume
 * only when it is half empty, so the watch is not re-created per reply. */
static void con_update_watch(con_state *c) {
  uint64_t inflight = c->next_seq - c->flush_seq;
  int want = !c->eof && !c->finished &&
             (c->watch ? inflight < CON_WINDOW : inflight <= CON_WINDOW / 2);
  if (want && !c->watch) {
    int rc = H->io_watch(c->ctx, c->fd, MYC_IO_READ, con_on_readable, c,
                         &c->watch);
    if (rc < 0) {
      H->log(c->ctx, MYC_LOG_ERROR, "cannot watch the input (fd %d): %s",
             c->fd, H->strerror(rc));
      c->watch = NULL;
      c->eof = 1;
      c->exit_code = 1;
    }
  } else if (!want && c->watch) {
    H->io_stop(c->watch);
    c->watch = NULL;
  }
}

/* Process what is buffered, print what is ready, adjust the watch, and
 * shut the kernel down once the input is over and fully answered. */
static void con_pump(con_state *c) {
  /* A reply delivered from inside request() only fills its slot; the
   * loop below prints it. */
  if (c->in_pump) return;
  c->in_pump = 1;
  for (;;) {
    while (con_take_lines(c) | (size_t)con_flush(c))
      ;
    int was_eof = c->eof;
    con_update_watch(c); /* may end the input if the watch fails */
    if (c->eof == was_eof) break;
  }
  c->in_pump = 0;

  if (c->eof && !c->finished && c->len == 0 && c->next_seq == c->flush_seq) {
    c->finished = 1;
    fflush(c->out);
    H->shutdown(c->ctx, c->exit_code);
  } else if (c->prompt && !c->prompted && !c->eof &&
             c->next_seq == c->flush_seq) {
    fputs("> ", c->out);
    fflush(c->out);
    c->prompted = 1;
  }
}

/* The input is readable: one read() of up to CON_CHUNK bytes. */
static void con_on_readable(void *udata, int fd, unsigned events) {
  con_state *c = udata;
  if (c->eof) return;
  if (c->cap - c->len < CON_CHUNK + 1) {
    size_t cap = c->cap ? c->cap * 2 : 2 * CON_CHUNK;
    while (cap - c->len < CON_CHUNK + 1) cap *= 2;
    char *nb = realloc(c->buf, cap);
    if (!nb) {
      H->log(c->ctx, MYC_LOG_ERROR, "out of memory reading input");
      c->eof = 1;
      c->exit_code = 1;
      goto pump;
    }
    c->buf = nb;
    c->cap = cap;
  }
  ssize_t n = read(c->fd, c->buf + c->len, CON_CHUNK);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return;
    H->log(c->ctx, MYC_LOG_ERROR, "reading input: %s", strerror(errno));
    c->eof = 1;
    c->exit_code = 1;
  } else if (n == 0) {
    c->eof = 1;
  } else {
    c->len += (size_t)n;
  }
pump:
  con_pump(c);
}

/* ==== Serving console:// =============================================== */

/* Print the body of any message sent to console:// and reply 0. */
static int con_handle(void *state, myc_msg *msg, const myc_match *match) {
  con_state *c = state;
  size_t len = 0;
  const void *body = H->msg_body(msg, &len);
  if (body && len) fwrite(body, 1, len, c->out);
  fputc('\n', c->out);
  fflush(c->out);
  return H->reply(msg, 0, NULL, 0);
}

/* ==== Lifecycle ======================================================== */

/* true/yes/on/1 (the kernel has already validated the value). */
static int con_bool(const char *v) {
  return v && (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
               strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0);
}

/* Read the config and open the input and output (failing init, with the
 * file named, if either cannot be opened). */
static int con_init(myc_ctx *ctx, void **state, char *err, size_t errlen) {
  con_state *c = calloc(1, sizeof *c);
  *state = c;
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return MYC_ENOMEM;
  }
  c->ctx = ctx;
  c->fd = 0;
  c->out = stdout;
  c->prompt = con_bool(H->config_get(ctx, "prompt"));

  const char *in = H->config_get(ctx, "input");
  if (in && *in && strcmp(in, "-") != 0) {
    c->fd = open(in, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0) {
      snprintf(err, errlen, "cannot open input '%s': %s", in, strerror(errno));
      return MYC_EIO;
    }
    c->own_fd = 1;
  }
  const char *out = H->config_get(ctx, "output");
  if (out && *out && strcmp(out, "-") != 0) {
    c->out = fopen(out, "we");
    if (!c->out) {
      c->out = stdout;
      snprintf(err, errlen, "cannot open output '%s': %s", out,
               strerror(errno));
      return MYC_EIO;
    }
    c->own_out = 1;
  }
  return 0;
}

/* Start reading (every plugin is initialised, so requests can go out). */
static int con_start(void *state) {
  con_state *c = state;
  con_pump(c);
  return 0;
}

/* Stop reading and print the answers that are in. */
static void con_stop(void *state) {
  con_state *c = state;
  if (c->watch) {
    H->io_stop(c->watch);
    c->watch = NULL;
  }
  c->finished = 1;
  con_flush(c);
  fflush(c->out);
}

/* Free everything; unanswered slots are dropped. Safe after a failed
 * init. */
static void con_fini(void *state) {
  con_state *c = state;
  if (!c) return;
  for (size_t i = 0; i < CON_WINDOW; i++) free(c->slots[i].out);
  free(c->buf);
  if (c->own_fd) close(c->fd);
  if (c->own_out) fclose(c->out);
  else if (c->out) fflush(c->out);
  free(c);
}

static const char *const con_schemes[] = {"console", NULL};

static const myc_config_key con_config[] = {
    {"prompt", MYC_CFG_BOOL, "false", 0,
     "print \"> \" when waiting for a line (for interactive use)", NULL},
    {"input", MYC_CFG_STRING, "-", 0,
     "file to read request lines from; \"-\" is standard input", NULL},
    {"output", MYC_CFG_STRING, "-", 0,
     "file to write answers to (truncated); \"-\" is standard output", NULL},
    {NULL, 0, NULL, 0, NULL, NULL},
};

static const myc_plugin con_plugin = {
    MYC_PLUGIN_HEADER,
    .name = "console",
    .version = "1.0.0",
    .description = "Sends 'VERB URI [BODY]' lines from stdin as requests "
                   "and prints the replies in order",
    .schemes = con_schemes,
    .config = con_config,
    .init = con_init,
    .start = con_start,
    .handle = con_handle,
    .stop = con_stop,
    .fini = con_fini,
};

/* Remember the host's service table; refuse another ABI major. */
const myc_plugin *MYC_PLUGIN_ENTRY(const myc_host *host) {
  if (!host || host->abi_major != MYC_ABI_MAJOR) return NULL;
  H = host;
  return &con_plugin;
}
