/* Append-only log for the kv store (format and rules in kvlog.h). */
#include "kvlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <mycelia/plugin.h>

#define KV_FILE_MAGIC "MYCKVL1\n"
#define KV_FILE_MAGIC_LEN 8
#define KV_REC_MAGIC 0x3152564bu /* "KVR1" read as little-endian u32 */
#define KV_REC_HDR 20
#define KV_REC_CRC 4

struct kv_log {
  int fd;
  int dirty;     /* appended since the last fdatasync                */
  uint64_t size; /* end of the last good record = where appends land */
  char *path;
};

/* ==== CRC-32 =========================================================== */

/* Half-byte table for the reflected polynomial 0xEDB88320: 16 constants
 * instead of 256, two lookups per byte, no initialisation to race on. */
static const uint32_t kv_crc_tab[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
    0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
    0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c};

uint32_t kv_crc32(uint32_t crc, const void *p, size_t n) {
  const unsigned char *b = p;
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= b[i];
    crc = (crc >> 4) ^ kv_crc_tab[crc & 15];
    crc = (crc >> 4) ^ kv_crc_tab[crc & 15];
  }
  return ~crc;
}

/* ==== Helpers ========================================================== */

/* Little-endian u32 store and load, independent of the host's order. */
static void kv_put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

static uint32_t kv_get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* snprintf into err, tolerating a NULL or empty buffer. */
static void kv_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void kv_errf(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* mkdir -p for the directory part of `path` (nothing for a bare name).
 * Returns 0, or -1 with errno set and the failing prefix in err. */
static int kv_mkdirs_for(const char *path, char *err, size_t errlen) {
  char *dir = strdup(path);
  int rc = -1;
  if (!dir) {
    errno = ENOMEM;
    kv_errf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) { /* "file" or "/file": nothing to create */
    rc = 0;
    goto done;
  }
  *slash = '\0';
  for (char *p = dir + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char c = *p;
    *p = '\0';
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
      kv_errf(err, errlen, "cannot create directory '%s' for kv log '%s': %s",
              dir, path, strerror(errno));
      goto done;
    }
    *p = c;
    if (c == '\0') break;
  }
  rc = 0;
done:
  free(dir);
  return rc;
}

/* fsync the directory holding `path`, so a newly created file's name is
 * durable too. Best effort: some file systems refuse it. */
static void kv_sync_dir(const char *path) {
  char *dir = strdup(path);
  if (!dir) return;
  char *slash = strrchr(dir, '/');
  const char *d = ".";
  if (slash == dir) d = "/";
  else if (slash) *slash = '\0', d = dir;
  int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  free(dir);
}

/* Write every byte of iov[0..n) (adjusting iov in place on short writes).
 * Returns 0 or -1 with errno set. */
static int kv_writev_all(int fd, struct iovec *iov, int n) {
  while (n > 0) {
    ssize_t w = writev(fd, iov, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    while (n > 0 && (size_t)w >= iov->iov_len) {
      w -= (ssize_t)iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (char *)iov->iov_base + w;
      iov->iov_len -= (size_t)w;
    }
  }
  return 0;
}

/* ==== Records ========================================================== */

typedef struct kv_rec {
  int op;
  const char *bucket, *key;
  const void *val;
  size_t blen, klen, vlen;
} kv_rec;

/* Decode the record at p[0..avail). Returns its total length, or 0 when
 * the bytes are not one whole valid record (short, bad header or CRC). */
static size_t kv_rec_parse(const unsigned char *p, size_t avail, kv_rec *r) {
  if (avail < KV_REC_HDR + KV_REC_CRC) return 0;
  if (kv_get32(p) != KV_REC_MAGIC) return 0;
  int op = p[4];
  if ((op != KV_OP_PUT && op != KV_OP_DEL) || p[5] || p[6] || p[7]) return 0;
  uint32_t blen = kv_get32(p + 8), klen = kv_get32(p + 12),
           vlen = kv_get32(p + 16);
  if (blen > KV_LOG_MAX_NAME || klen > KV_LOG_MAX_NAME ||
      vlen > KV_LOG_MAX_VALUE || (op == KV_OP_DEL && vlen))
    return 0;
  uint64_t total = (uint64_t)KV_REC_HDR + blen + klen + vlen + KV_REC_CRC;
  if (total > avail) return 0;
  size_t body = (size_t)total - KV_REC_CRC;
  if (kv_crc32(0, p, body) != kv_get32(p + body)) return 0;
  r->op = op;
  r->bucket = (const char *)p + KV_REC_HDR;
  r->blen = blen;
  r->key = r->bucket + blen;
  r->klen = klen;
  r->val = r->key + klen;
  r->vlen = vlen;
  return (size_t)total;
}

/* True if a valid record starts anywhere in data[from..size). Only used
 * after a bad record, to tell a torn tail from damage in the middle. */
static int kv_valid_after(const unsigned char *data, size_t size,
                          size_t from) {
  kv_rec r;
  for (size_t off = from; off + KV_REC_HDR + KV_REC_CRC <= size; off++) {
    if (data[off] != 'K') continue; /* cheap pre-filter on the magic */
    if (kv_rec_parse(data + off, size - off, &r)) return 1;
  }
  return 0;
}

/* Cut the file back to `size` bytes and make that durable. */
static int kv_truncate(kv_log *l, uint64_t size) {
  if (ftruncate(l->fd, (off_t)size) < 0) return -1;
  if (fdatasync(l->fd) < 0) return -1;
  l->size = size;
  return 0;
}

/* Write the file header into an empty file. */
static int kv_write_header(kv_log *l) {
  struct iovec iov = {(void *)KV_FILE_MAGIC, KV_FILE_MAGIC_LEN};
  if (kv_writev_all(l->fd, &iov, 1) < 0) return -1;
  if (fdatasync(l->fd) < 0) return -1;
  l->size = KV_FILE_MAGIC_LEN;
  return 0;
}

/* Replay data[0..size) (the whole file) through apply. Repairs a torn
 * tail; fails on a foreign file or on corruption in the middle. */
static int kv_replay(kv_log *l, const unsigned char *data, size_t size,
                     kv_log_apply_fn apply, kv_log_warn_fn warn, void *udata,
                     char *err, size_t errlen) {
  char msg[512];
  if (size < KV_FILE_MAGIC_LEN) {
    if (memcmp(data, KV_FILE_MAGIC, size) != 0) goto foreign;
    snprintf(msg, sizeof msg, "%s: torn file header (%zu bytes) rewritten",
             l->path, size);
    if (warn) warn(udata, msg);
    if (kv_truncate(l, 0) < 0 || kv_write_header(l) < 0) goto io_fail;
    return 0;
  }
  if (memcmp(data, KV_FILE_MAGIC, KV_FILE_MAGIC_LEN) != 0) goto foreign;

  size_t off = KV_FILE_MAGIC_LEN;
  while (off < size) {
    kv_rec r;
    size_t n = kv_rec_parse(data + off, size - off, &r);
    if (n == 0) {
      if (kv_valid_after(data, size, off + 1)) {
        kv_errf(err, errlen,
                "kv log '%s' is corrupt at offset %zu: a damaged record is "
                "followed by valid ones; refusing to drop them (restore the "
                "file from a backup or move it aside)",
                l->path, off);
        return MYC_EIO;
      }
      snprintf(msg, sizeof msg,
               "%s: torn record at offset %zu skipped (%zu bytes truncated)",
               l->path, off, size - off);
      if (warn) warn(udata, msg);
      if (kv_truncate(l, off) < 0) goto io_fail;
      return 0;
    }
    int rc = apply(udata, r.op, r.bucket, r.blen, r.key, r.klen, r.val, r.vlen);
    if (rc < 0) {
      kv_errf(err, errlen, "kv log '%s': replay failed at offset %zu: %s",
              l->path, off, rc == MYC_ENOMEM ? "out of memory" : "rejected");
      return rc;
    }
    off += n;
  }
  l->size = off;
  return 0;

foreign:
  kv_errf(err, errlen,
          "'%s' is not a mycelia kv log (bad file header); point `file` at "
          "a new path or remove the file",
          l->path);
  return MYC_EIO;
io_fail:
  kv_errf(err, errlen, "kv log '%s': cannot repair torn tail: %s", l->path,
          strerror(errno));
  return MYC_EIO;
}

/* ==== Public =========================================================== */

int kv_log_open(const char *path, kv_log_apply_fn apply, kv_log_warn_fn warn,
                void *udata, kv_log **out, char *err, size_t errlen) {
  int rc = MYC_EIO;
  void *map = MAP_FAILED;
  size_t mapped = 0;
  struct stat st;
  kv_log *l = calloc(1, sizeof *l);
  *out = NULL;
  if (!l || !(l->path = strdup(path))) {
    kv_errf(err, errlen, "kv log '%s': out of memory", path);
    rc = MYC_ENOMEM;
    goto fail;
  }
  l->fd = -1;
  if (kv_mkdirs_for(path, err, errlen) < 0) goto fail;

  l->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (l->fd < 0) {
    kv_errf(err, errlen, "cannot open kv log '%s': %s", path, strerror(errno));
    goto fail;
  }
  if (flock(l->fd, LOCK_EX | LOCK_NB) < 0) {
    kv_errf(err, errlen,
            "cannot lock kv log '%s': %s (is another kv instance using it?)",
            path, strerror(errno));
    goto fail;
  }
  if (fstat(l->fd, &st) < 0) {
    kv_errf(err, errlen, "cannot stat kv log '%s': %s", path, strerror(errno));
    goto fail;
  }
  if (!S_ISREG(st.st_mode)) {
    kv_errf(err, errlen, "kv log '%s' is not a regular file", path);
    goto fail;
  }

  if (st.st_size == 0) {
    if (kv_write_header(l) < 0) {
      kv_errf(err, errlen, "cannot write kv log '%s': %s", path,
              strerror(errno));
      goto fail;
    }
    kv_sync_dir(path);
  } else {
    if ((uint64_t)st.st_size > SIZE_MAX) {
      kv_errf(err, errlen, "kv log '%s' is too large to replay", path);
      goto fail;
    }
    mapped = (size_t)st.st_size;
    map = mmap(NULL, mapped, PROT_READ, MAP_PRIVATE, l->fd, 0);
    if (map == MAP_FAILED) {
      kv_errf(err, errlen, "cannot read kv log '%s': %s", path,
              strerror(errno));
      goto fail;
    }
    rc = kv_replay(l, map, mapped, apply, warn, udata, err, errlen);
    munmap(map, mapped);
    if (rc < 0) goto fail;
  }
  *out = l;
  return 0;

fail:
  kv_log_close(l);
  return rc;
}

int kv_log_append(kv_log *l, int op, const char *bucket, size_t blen,
                  const char *key, size_t klen, const void *val, size_t vlen,
                  int sync, char *err, size_t errlen) {
  if (blen > KV_LOG_MAX_NAME || klen > KV_LOG_MAX_NAME ||
      vlen > KV_LOG_MAX_VALUE || (op == KV_OP_DEL && vlen)) {
    kv_errf(err, errlen, "record too large for the kv log (names up to %u "
            "bytes, values up to %u bytes)", KV_LOG_MAX_NAME, KV_LOG_MAX_VALUE);
    return MYC_ETOOBIG;
  }
  unsigned char hdr[KV_REC_HDR], tail[KV_REC_CRC];
  kv_put32(hdr, KV_REC_MAGIC);
  hdr[4] = (unsigned char)op;
  hdr[5] = hdr[6] = hdr[7] = 0;
  kv_put32(hdr + 8, (uint32_t)blen);
  kv_put32(hdr + 12, (uint32_t)klen);
  kv_put32(hdr + 16, (uint32_t)vlen);
  uint32_t crc = kv_crc32(0, hdr, sizeof hdr);
  crc = kv_crc32(crc, bucket, blen);
  crc = kv_crc32(crc, key, klen);
  crc = kv_crc32(crc, val, vlen);
  kv_put32(tail, crc);

  struct iovec iov[5] = {{hdr, sizeof hdr},
                         {(void *)bucket, blen},
                         {(void *)key, klen},
                         {(void *)val, vlen},
                         {tail, sizeof tail}};
  const char *what = "write";
  if (kv_writev_all(l->fd, iov, 5) < 0) goto fail;
  if (sync && fdatasync(l->fd) < 0) {
    what = "fdatasync";
    goto fail;
  }
  l->size += sizeof hdr + blen + klen + vlen + sizeof tail;
  l->dirty = !sync;
  return 0;

fail:
  kv_errf(err, errlen, "kv log '%s': %s: %s", l->path, what, strerror(errno));
  /* Cut off whatever part of the record reached the file, so the next
   * append does not follow garbage. */
  if (ftruncate(l->fd, (off_t)l->size) < 0) l->dirty = 1;
  return MYC_EIO;
}

int kv_log_sync(kv_log *l, char *err, size_t errlen) {
  if (!l->dirty) return 0;
  if (fdatasync(l->fd) < 0) {
    kv_errf(err, errlen, "kv log '%s': fdatasync: %s", l->path,
            strerror(errno));
    return MYC_EIO;
  }
  l->dirty = 0;
  return 0;
}

int kv_log_dirty(const kv_log *l) { return l->dirty; }

uint64_t kv_log_size(const kv_log *l) { return l->size; }

const char *kv_log_path(const kv_log *l) { return l->path; }

void kv_log_close(kv_log *l) {
  if (!l) return;
  if (l->fd >= 0) close(l->fd);
  free(l->path);
  free(l);
}
