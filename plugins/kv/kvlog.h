/* Append-only log behind the kv store: every PUT and DELETE is one record;
 * opening the log replays it so the data survives restarts.
 *
 * File layout (integers little-endian):
 *
 *   file header  8 bytes  "MYCKVL1\n"
 *   record       u32 magic "KVR1" | u8 op | u8 pad[3] = 0
 *                u32 bucket_len | u32 key_len | u32 value_len
 *                bucket | key | value
 *                u32 crc32 of everything above, header included
 *
 * A damaged tail (a record cut short by a crash, or garbage after the last
 * good record) is reported through the warn callback and truncated away so
 * new appends follow valid data. A damaged record with a valid record
 * anywhere after it is corruption in the middle: opening fails instead of
 * silently dropping data. */
#ifndef MYC_KV_LOG_H
#define MYC_KV_LOG_H

#include <stddef.h>
#include <stdint.h>

enum { KV_OP_PUT = 1, KV_OP_DEL = 2 };

#define KV_LOG_MAX_NAME 65536u       /* bucket and key length limit  */
#define KV_LOG_MAX_VALUE 0x7fffffffu /* value length limit           */

typedef struct kv_log kv_log;

/* Called once per replayed record, in file order. Returns 0, or a negative
 * MYC_E* code to abort the open (e.g. out of memory). */
typedef int (*kv_log_apply_fn)(void *udata, int op, const char *bucket,
                               size_t blen, const char *key, size_t klen,
                               const void *val, size_t vlen);
/* Receives a warning line (e.g. a torn tail was skipped). */
typedef void (*kv_log_warn_fn)(void *udata, const char *msg);

/* Open or create the log at `path` (creating missing parent directories),
 * take an exclusive lock on it, and replay it through `apply`. On failure
 * returns a negative MYC_E* code and writes a reason naming the file into
 * err; nothing stays open. */
int kv_log_open(const char *path, kv_log_apply_fn apply, kv_log_warn_fn warn,
                void *udata, kv_log **out, char *err, size_t errlen);
/* Append one record; with `sync`, fdatasync before returning. On failure
 * the file is cut back to its previous end, so the record is absent, and a
 * negative MYC_E* code is returned (MYC_ETOOBIG for oversized names or
 * values, MYC_EIO otherwise) with the reason in err. */
int kv_log_append(kv_log *l, int op, const char *bucket, size_t blen,
                  const char *key, size_t klen, const void *val, size_t vlen,
                  int sync, char *err, size_t errlen);
/* fdatasync if anything was appended since the last sync. Returns 0 or
 * MYC_EIO with the reason in err. */
int kv_log_sync(kv_log *l, char *err, size_t errlen);
/* Non-zero when appended data may not be on disk yet. */
int kv_log_dirty(const kv_log *l);
/* Bytes of valid data in the file. */
uint64_t kv_log_size(const kv_log *l);
/* The path the log was opened with. */
const char *kv_log_path(const kv_log *l);
/* Close without syncing (call kv_log_sync first to keep unsynced data
 * durable). NULL is fine. */
void kv_log_close(kv_log *l);

/* CRC-32 (IEEE 802.3, reflected, as in zlib): pass 0 to start, or the
 * previous result to continue. */
uint32_t kv_crc32(uint32_t crc, const void *p, size_t n);

#endif
