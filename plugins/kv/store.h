/* In-memory key-value store: buckets of keys, each key holding a byte
 * string (which may contain NULs).
 *
 * Two levels of chained hash tables: bucket name -> bucket, and inside each
 * bucket key -> value, so listing one bucket never scans the others. A
 * bucket exists exactly while it holds at least one key.
 *
 * The store copies everything it is given and owns all of its memory.
 * Not thread-safe: the kv plugin's subsystem runs one handler at a time. */
#ifndef MYC_KV_STORE_H
#define MYC_KV_STORE_H

#include <stddef.h>

typedef struct kv_store kv_store;

/* A view of bytes owned by the store, valid until the next change. */
typedef struct kv_bytes {
  const char *ptr;
  size_t len;
} kv_bytes;

/* A new empty store, or NULL when out of memory. */
kv_store *kv_store_new(void);
/* Free the store and everything in it. NULL is fine. */
void kv_store_free(kv_store *s);

/* Set bucket/key to a copy of val[0..vlen). Returns 0, or -1 when out of
 * memory (the store is then unchanged). */
int kv_store_put(kv_store *s, const char *bucket, size_t blen,
                 const char *key, size_t klen, const void *val, size_t vlen);
/* The value of bucket/key, or NULL if absent. *vlen gets its length. An
 * empty value is a non-NULL pointer with *vlen == 0. */
const void *kv_store_get(const kv_store *s, const char *bucket, size_t blen,
                         const char *key, size_t klen, size_t *vlen);
/* Remove bucket/key. Returns 1 if it existed, 0 if not. */
int kv_store_del(kv_store *s, const char *bucket, size_t blen,
                 const char *key, size_t klen);
/* The keys of `bucket`, sorted bytewise, in a malloc'd array the caller
 * frees (the key bytes stay owned by the store). An unknown bucket gives
 * *out = NULL, *n = 0. Returns 0, or -1 when out of memory. */
int kv_store_keys(const kv_store *s, const char *bucket, size_t blen,
                  kv_bytes **out, size_t *n);
/* Number of keys in all buckets. */
size_t kv_store_count(const kv_store *s);
/* Number of non-empty buckets. */
size_t kv_store_buckets(const kv_store *s);

#endif
