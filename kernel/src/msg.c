/* Messages: building, reading, references and release.
 *
 * Exactly one owner at a time: the caller after myc_msg_new, the kernel
 * after a successful send. Extra owners take references. Every accessor
 * checks that the message is live, so a use after release through the
 * API is caught and reported instead of reading recycled data. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ==== Checks =========================================================== */

static inline bool live(const myc_msg *m) {
  return m && MYC__LIKELY(m->magic == MYC__MAGIC_LIVE);
}

/* Report a message used after release (or never valid). */
static bool check(const myc_msg *m, const char *what) {
  if (live(m)) return true;
  if (m && m->magic == MYC__MAGIC_FREE) myc__bad_msg(m->k, m, what);
  return false;
}

/* ==== Filling ========================================================== */

/* Verb characters: letters, digits, '_' and '-'. */
static const unsigned char verb_ok[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['_'] = 1, ['-'] = 1};

static int set_verb(myc_msg *m, const char *verb) {
  size_t i = 0;
  if (!verb) verb = "";
  for (unsigned char c; (c = (unsigned char)verb[i]) != 0; i++) {
    if (MYC__UNLIKELY(!verb_ok[c] || i >= MYC__VERB_MAX - 1)) return MYC_EINVAL;
    m->verb[i] = (char)c;
  }
  m->verb[i] = '\0';
  return 0;
}

static int set_uri(myc_msg *m, const char *uri) {
  if (!uri) return MYC_EURI;
  size_t max = m->k->cfg->max_uri_length;
  size_t len = strnlen(uri, max + 1);
  if (len > max) return MYC_ETOOBIG;
  myc__uri u;
  if (myc__uri_parse(uri, len, &u) < 0) return MYC_EURI;
  char *dst = m->uri_inline;
  if (MYC__UNLIKELY(len >= MYC__URI_INLINE)) {
    if (!(dst = malloc(len + 1))) return MYC_ENOMEM;
    m->flags |= MYC__F_HEAP_URI;
  }
  memcpy(dst, uri, len);
  dst[len] = '\0';
  m->uri = dst;
  m->uri_len = (uint16_t)len;
  m->path_off = (uint16_t)u.path_off;
  m->path_len = (uint16_t)u.path_len;
  m->query_off = (uint16_t)u.query_off;
  return 0;
}

/* Copy `len` bytes of body in, growing to the heap when they do not fit
 * inline. The body is always NUL-terminated for convenience. */
int myc__msg_set_body(myc_msg *m, const void *body, size_t len) {
  if (len > m->k->cfg->max_body_size) return MYC_ETOOBIG;
  if (len && !body) return MYC_EINVAL;
  if (len >= m->body_cap) {
    char *b = malloc(len + 1);
    if (!b) return MYC_ENOMEM;
    if (m->flags & MYC__F_HEAP_BODY) free(m->body);
    m->body = b;
    m->body_cap = (uint32_t)len + 1;
    m->flags |= MYC__F_HEAP_BODY;
  }
  if (len) memcpy(m->body, body, len);
  m->body[len] = '\0';
  m->body_len = (uint32_t)len;
  return 0;
}

/* Fill a freshly acquired message. */
int myc__msg_fill(myc_msg *m, myc_ctx *from, const char *verb,
                  const char *uri, const void *body, size_t len) {
  int rc;
  m->sender = from;
  if ((rc = set_verb(m, verb)) < 0) return rc;
  if ((rc = set_uri(m, uri)) < 0) return rc;
  if (len && (rc = myc__msg_set_body(m, body, len)) < 0) return rc;
  return 0;
}

/* Take a message from the pool and fill it; see myc_host.msg_new. */
int myc_msg_new(myc_ctx *ctx, const char *verb, const char *uri,
                const void *body, size_t len, myc_msg **out) {
  if (!ctx || !out) return MYC_EINVAL;
  *out = NULL;
  myc_msg *m = myc__pool_acquire(ctx->k);
  if (!m) return MYC_ENOMEM;
  int rc = myc__msg_fill(m, ctx, verb, uri, body, len);
  if (rc < 0) {
    myc__pool_release(ctx->k, m);
    return rc;
  }
  *out = m;
  return 0;
}

/* Setters work only on a message the caller owns (not sent). */
static int owned(myc_msg *m) {
  if (!check(m, "modify")) return MYC_EBADMSG;
  if (m->flags & MYC__F_KERNEL) return MYC_ESTATE;
  return 0;
}

int myc_msg_set_body(myc_msg *m, const void *body, size_t len) {
  int rc = owned(m);
  return rc < 0 ? rc : myc__msg_set_body(m, body, len);
}

int myc_msg_set_kind(myc_msg *m, int kind) {
  int rc = owned(m);
  if (rc < 0) return rc;
  if (kind < MYC_KIND_COMMAND || kind > MYC_KIND_EVENT) return MYC_EINVAL;
  m->kind = (uint8_t)kind;
  return 0;
}

int myc_msg_set_content_type(myc_msg *m, const char *type) {
  int rc = owned(m);
  if (rc < 0) return rc;
  if (!type || strlen(type) >= MYC__CTYPE_MAX) return MYC_EINVAL;
  strcpy(m->ctype, type);
  return 0;
}

/* ==== Reading ========================================================== */

const char *myc_msg_uri(const myc_msg *m, size_t *len) {
  if (!check(m, "read the URI of")) {
    if (len) *len = 0;
    return NULL;
  }
  if (len) *len = m->uri_len;
  return m->uri;
}

const char *myc_msg_verb(const myc_msg *m) {
  return check(m, "read the verb of") ? m->verb : NULL;
}

const void *myc_msg_body(const myc_msg *m, size_t *len) {
  if (MYC__UNLIKELY(!check(m, "read the body of"))) {
    if (len) *len = 0;
    return NULL;
  }
  if (len) *len = m->body_len;
  return m->body;
}

const char *myc_msg_content_type(const myc_msg *m) {
  return check(m, "read the content type of") ? m->ctype : NULL;
}

int myc_msg_kind(const myc_msg *m) {
  return check(m, "read the kind of") ? m->kind : MYC_EBADMSG;
}

int myc_msg_status(const myc_msg *m) {
  return check(m, "read the status of") ? m->status : MYC_EBADMSG;
}

uint64_t myc_msg_id(const myc_msg *m) { return check(m, "read the id of") ? m->id : 0; }

uint64_t myc_msg_correlation(const myc_msg *m) {
  return check(m, "read the correlation id of") ? m->corr : 0;
}

const char *myc_msg_sender(const myc_msg *m) {
  if (!check(m, "read the sender of")) return NULL;
  return m->sender ? m->sender->name : "host";
}

uint64_t myc_msg_timestamp(const myc_msg *m) {
  return check(m, "read the timestamp of") ? m->ts : 0;
}

int myc_msg_is_request(const myc_msg *m) {
  if (!check(m, "inspect")) return MYC_EBADMSG;
  return (m->flags & MYC__F_REQUEST) && !(m->flags & MYC__F_REPLIED);
}

/* ==== References ======================================================= */

int myc_msg_ref(myc_msg *m) {
  if (!check(m, "take a reference to")) return MYC_EBADMSG;
  atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  return 0;
}

/* The last reference is gone: a request nobody answered gets its one
 * reply now (ENOREPLY), then the message goes back to the pool. */
static void final_release(myc_msg *m) {
  if ((m->flags & (MYC__F_REQUEST | MYC__F_REPLIED)) == MYC__F_REQUEST) {
    static const char why[] = "the handler released the request without replying";
    myc__deliver_reply(m, MYC_ENOREPLY, why, sizeof(why) - 1, MYC_KIND_ERROR);
  }
  myc__pool_release(m->k, m);
}

/* Drop one reference (the kernel's own path: m is known to be live). */
void myc__msg_unref(myc_msg *m) {
  /* Holding the only reference, nobody else can change the count: skip
   * the locked instruction. */
  if (MYC__LIKELY(atomic_load_explicit(&m->refs, memory_order_acquire) == 1) ||
      atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
    atomic_store_explicit(&m->refs, 0, memory_order_relaxed);
    final_release(m);
  }
}

int myc_msg_release(myc_msg *m) {
  if (!m) return MYC_EINVAL;
  if (m->magic != MYC__MAGIC_LIVE) {
    if (m->magic == MYC__MAGIC_FREE) myc__bad_msg(m->k, m, "release");
    return MYC_EBADMSG;
  }
  /* The message a handler or reply callback runs for holds the kernel's
   * reference until it returns: releasing that one would recycle it under
   * the kernel's feet. Only references taken with msg_ref may go. */
  if (MYC__UNLIKELY(m == myc__tls_msg &&
                    atomic_load_explicit(&m->refs, memory_order_acquire) == 1)) {
    MYC__ADD(m->k->bad_releases, 1);
    myc__log(m->k, MYC_LOG_ERROR, myc__tls_current ? myc__tls_current->name : NULL,
             "tried to release message %p while the kernel still owns it: release only "
             "references taken with msg_ref", (const void *)m);
    return MYC_EBADMSG;
  }
  myc__msg_unref(m);
  return 0;
}
