/* In-memory key-value store (see store.h).
 *
 * ==== Layout ===========================================================
 * kv_map is a chained hash table of intrusive kv_node headers. The store is
 * a kv_map of kv_bucket, and every bucket a kv_map of kv_entry. Names live
 * in the same allocation as their node; values are separate allocations so
 * an overwrite does not move the entry. Tables double when they hold as
 * many nodes as slots, and never shrink (an empty bucket is freed). */
#include "store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KV_MAP_MIN 8

typedef struct kv_node {
  struct kv_node *next;
  uint64_t hash;
  size_t klen;
  const char *key; /* points into the object the node is embedded in */
} kv_node;

typedef struct kv_map {
  kv_node **slots; /* NULL until the first insert */
  size_t cap;      /* power of two, or 0          */
  size_t count;
} kv_map;

typedef struct kv_entry {
  kv_node node; /* first: a kv_node* is a kv_entry* */
  char *val;
  size_t vlen;
  char key[];
} kv_entry;

typedef struct kv_bucket {
  kv_node node; /* first: a kv_node* is a kv_bucket* */
  kv_map keys;
  char name[];
} kv_bucket;

struct kv_store {
  kv_map buckets;
  size_t nkeys;
};

/* ==== Hashing ========================================================== */

/* FNV-1a over the bytes, then a final avalanche so the low bits used as
 * the slot index depend on every input byte. */
static uint64_t kv_hash(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

/* ==== Chained map ====================================================== */

/* The link that points at the node named key[0..klen), or NULL. Returning
 * the link (not the node) lets the caller unlink without a second walk. */
static kv_node **kv_map_find(const kv_map *m, uint64_t hash, const char *key,
                             size_t klen) {
  if (!m->cap) return NULL;
  kv_node **link = &m->slots[hash & (m->cap - 1)];
  for (; *link; link = &(*link)->next) {
    kv_node *n = *link;
    if (n->hash == hash && n->klen == klen && memcmp(n->key, key, klen) == 0)
      return link;
  }
  return NULL;
}

/* Double the slot array (or create it) and rehash. Returns 0 or -1. */
static int kv_map_grow(kv_map *m) {
  size_t cap = m->cap ? m->cap * 2 : KV_MAP_MIN;
  kv_node **slots = calloc(cap, sizeof *slots);
  if (!slots) return -1;
  for (size_t i = 0; i < m->cap; i++) {
    kv_node *n = m->slots[i];
    while (n) {
      kv_node *next = n->next;
      kv_node **head = &slots[n->hash & (cap - 1)];
      n->next = *head;
      *head = n;
      n = next;
    }
  }
  free(m->slots);
  m->slots = slots;
  m->cap = cap;
  return 0;
}

/* Link a node that is known not to be present. Returns 0, or -1 when the
 * table had to grow and could not (the node is then not linked). */
static int kv_map_insert(kv_map *m, kv_node *n) {
  if (m->count >= m->cap && kv_map_grow(m) < 0) return -1;
  kv_node **head = &m->slots[n->hash & (m->cap - 1)];
  n->next = *head;
  *head = n;
  m->count++;
  return 0;
}

/* Unlink the node `link` points at and return it. */
static kv_node *kv_map_unlink(kv_map *m, kv_node **link) {
  kv_node *n = *link;
  *link = n->next;
  m->count--;
  return n;
}

/* ==== Entries and buckets ============================================== */

/* A heap copy of v[0..n), never NULL for n == 0 unless out of memory. */
static char *kv_memdup(const void *v, size_t n) {
  char *p = malloc(n ? n : 1);
  if (p && n) memcpy(p, v, n);
  return p;
}

/* Free an unlinked entry and its value. */
static void kv_entry_free(kv_entry *e) {
  free(e->val);
  free(e);
}

/* Free a bucket and every entry in it. */
static void kv_bucket_free(kv_bucket *b) {
  for (size_t i = 0; i < b->keys.cap; i++) {
    kv_node *n = b->keys.slots[i];
    while (n) {
      kv_node *next = n->next;
      kv_entry_free((kv_entry *)n);
      n = next;
    }
  }
  free(b->keys.slots);
  free(b);
}

/* The bucket named name[0..len), or NULL. */
static kv_bucket *kv_bucket_find(const kv_store *s, const char *name,
                                 size_t len) {
  kv_node **link = kv_map_find(&s->buckets, kv_hash(name, len), name, len);
  return link ? (kv_bucket *)*link : NULL;
}

/* ==== Store ============================================================ */

kv_store *kv_store_new(void) { return calloc(1, sizeof(kv_store)); }

void kv_store_free(kv_store *s) {
  if (!s) return;
  for (size_t i = 0; i < s->buckets.cap; i++) {
    kv_node *n = s->buckets.slots[i];
    while (n) {
      kv_node *next = n->next;
      kv_bucket_free((kv_bucket *)n);
      n = next;
    }
  }
  free(s->buckets.slots);
  free(s);
}

/* Everything that can fail is allocated before anything is linked, so an
 * out-of-memory return leaves the store exactly as it was. */
int kv_store_put(kv_store *s, const char *bucket, size_t blen,
                 const char *key, size_t klen, const void *val, size_t vlen) {
  uint64_t bh = kv_hash(bucket, blen), kh = kv_hash(key, klen);
  kv_bucket *b = NULL, *newb = NULL;
  kv_entry *e = NULL;
  char *copy = kv_memdup(val, vlen);
  if (!copy) goto fail;

  kv_node **blink = kv_map_find(&s->buckets, bh, bucket, blen);
  if (blink) {
    b = (kv_bucket *)*blink;
    kv_node **elink = kv_map_find(&b->keys, kh, key, klen);
    if (elink) { /* overwrite in place */
      e = (kv_entry *)*elink;
      free(e->val);
      e->val = copy;
      e->vlen = vlen;
      return 0;
    }
  } else {
    newb = calloc(1, sizeof *newb + blen + 1);
    if (!newb) goto fail;
    memcpy(newb->name, bucket, blen);
    newb->node.hash = bh;
    newb->node.klen = blen;
    newb->node.key = newb->name;
    b = newb;
  }

  e = malloc(sizeof *e + klen + 1);
  if (!e) goto fail;
  memcpy(e->key, key, klen);
  e->key[klen] = '\0';
  e->node.next = NULL;
  e->node.hash = kh;
  e->node.klen = klen;
  e->node.key = e->key;
  e->val = copy;
  e->vlen = vlen;
  if (kv_map_insert(&b->keys, &e->node) < 0) goto fail;
  if (newb && kv_map_insert(&s->buckets, &newb->node) < 0) {
    kv_map_unlink(&b->keys, kv_map_find(&b->keys, kh, key, klen));
    goto fail;
  }
  s->nkeys++;
  return 0;

fail:
  free(copy);
  free(e);
  if (newb) {
    free(newb->keys.slots);
    free(newb);
  }
  return -1;
}

const void *kv_store_get(const kv_store *s, const char *bucket, size_t blen,
                         const char *key, size_t klen, size_t *vlen) {
  kv_bucket *b = kv_bucket_find(s, bucket, blen);
  if (!b) return NULL;
  kv_node **link = kv_map_find(&b->keys, kv_hash(key, klen), key, klen);
  if (!link) return NULL;
  kv_entry *e = (kv_entry *)*link;
  *vlen = e->vlen;
  return e->val;
}

int kv_store_del(kv_store *s, const char *bucket, size_t blen,
                 const char *key, size_t klen) {
  kv_node **blink = kv_map_find(&s->buckets, kv_hash(bucket, blen), bucket,
                                blen);
  if (!blink) return 0;
  kv_bucket *b = (kv_bucket *)*blink;
  kv_node **elink = kv_map_find(&b->keys, kv_hash(key, klen), key, klen);
  if (!elink) return 0;
  kv_entry_free((kv_entry *)kv_map_unlink(&b->keys, elink));
  s->nkeys--;
  if (b->keys.count == 0) /* an empty bucket goes away */
    kv_bucket_free((kv_bucket *)kv_map_unlink(&s->buckets, blink));
  return 1;
}

/* qsort order for keys: bytewise; a prefix sorts before the longer key. */
static int kv_bytes_cmp(const void *a, const void *b) {
  const kv_bytes *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->ptr, y->ptr, n);
  if (c) return c;
  return (x->len > y->len) - (x->len < y->len);
}

int kv_store_keys(const kv_store *s, const char *bucket, size_t blen,
                  kv_bytes **out, size_t *n) {
  *out = NULL;
  *n = 0;
  kv_bucket *b = kv_bucket_find(s, bucket, blen);
  if (!b) return 0;
  kv_bytes *keys = malloc(b->keys.count * sizeof *keys);
  if (!keys) return -1;
  size_t k = 0;
  for (size_t i = 0; i < b->keys.cap; i++)
    for (kv_node *node = b->keys.slots[i]; node; node = node->next)
      keys[k++] = (kv_bytes){node->key, node->klen};
  qsort(keys, k, sizeof *keys, kv_bytes_cmp);
  *out = keys;
  *n = k;
  return 0;
}

size_t kv_store_count(const kv_store *s) { return s->nkeys; }

size_t kv_store_buckets(const kv_store *s) { return s->buckets.count; }
