/*
 * table.c: kvcache's store, a hash table in the gcrt heap.
 *
 * Layout: KV_SHARDS shards, each with its own mutex, bucket array and counts; a key's
 * shard is picked by the top bits of its hash and its bucket by the low bits, so the two
 * choices are independent. The shard array is static data (a root the collector scans at
 * every cycle); everything below it is GC memory: bucket arrays are typed arrays of one
 * pointer, entries typed objects with three pointer fields (next, key, value), keys and
 * values noscan byte strings.
 *
 * Invariants:
 *  - Every overwrite of a pointer held in a GC object (bucket slot, entry->next,
 *    entry->val) goes through GC_STORE; plain stores are made only into objects not yet
 *    published (fresh from the allocator, so their slots are NULL) and into the static
 *    shard array (a root, scanned at the snapshot).
 *  - A value string is immutable once stored: readers copy it after dropping the lock.
 *  - `used` is the sum over live entries of gc_size(entry) + gc_size(key) + gc_size(val)
 *    plus the bucket arrays' sizes; it is what eviction holds under `budget`.
 *  - An entry whose expiry time has passed is never returned: lookups unlink it (lazy
 *    expiry) and kv_expire_step unlinks the rest a slice at a time (active expiry).
 *  - Lock order: one shard lock at a time; nothing else is taken under it except gcrt's
 *    own (allocation may run a collection step, which never waits for our locks) and,
 *    innermost, the eviction log's.
 *  - Out of memory (gcrt returned NULL: the heap could not grow) a command changes
 *    nothing: the value, the entry and its key are allocated before anything is linked,
 *    and a failed allocation leaves only garbage. A bucket array that cannot be had
 *    leaves its shard's chains longer, not wrong.
 *  - The eviction log (DEBUG EVICTLOG) gets a key in the same critical section that
 *    unlinks it, so a client that saw the key missing and then reads the log finds it
 *    there: that is how a soak's checker tells an eviction from a lost write.
 */
#include "kvcache.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KV_SHARDS_LOG 6
#define KV_SHARDS (1u << KV_SHARDS_LOG)
#define KV_MIN_BUCKETS 16
#define KV_LRU_SAMPLES 5     /* Redis's maxmemory-samples default */
/* The share of the memory limit the data may use. The rest is the collector's room: the
 * garbage made between cycles (overwritten values, dropped entries) plus what is allocated
 * black while marking. server.c sets GOGC so that the heap goal lands near the limit. */
#define KV_DATA_FRACTION 0.78

typedef struct kv_entry {
    struct kv_entry *next;
    kv_str *key;
    kv_str *val;
    uint64_t hash;
    int64_t expire_ms;   /* absolute monotonic ms; 0 = none */
    int64_t atime_ms;    /* last access, for the sampled LRU */
    uint64_t bytes;      /* this entry's share of `used` */
} kv_entry;

typedef struct kv_shard {
    pthread_mutex_t lock;
    kv_entry **buckets;  /* GC typed array; nbuckets a power of two */
    size_t nbuckets;
    size_t count, expires;
    size_t cursor;       /* active expiry position */
    char pad[64];
} kv_shard;

static kv_shard shards[KV_SHARDS];
static gc_type_t *entry_type, *slot_type;
static _Atomic int64_t used;
static int64_t budget;
static _Atomic uint64_t n_evicted, n_expired;

int64_t kv_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xc2b2ae3d27d4eb4full);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        p += 8, n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

static uint64_t rand_next(void) {
    static __thread uint64_t s;
    if (!s) s = (uint64_t)kv_now_ms() ^ ((uint64_t)(uintptr_t)&s * 0x9e3779b97f4a7c15ull) ^ 1;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}

/* NULL when gcrt has no memory (or n is past a string's length). */
kv_str *kv_str_new(const char *p, size_t n) {
    if (n > UINT32_MAX - 8) return NULL;
    kv_str *s = gc_alloc_noscan(sizeof(kv_str) + n + 1);
    if (!s) return NULL;
    s->len = (uint32_t)n;
    memcpy(s->data, p, n);
    return s;
}

static kv_entry **new_buckets(size_t n) { return gc_alloc_array(slot_type, n); }

/* At start-up there is nothing to give up instead: an allocation that failed (a refused
 * mapping, GCRT_FAULT_MMAP) is tried again a while before the server gives up. */
static void *init_retry(void *(*fn)(void), const char *what) {
    for (int i = 0; i < 1000; i++) {
        void *p = fn();
        if (p) return p;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "kvcache: out of memory allocating %s at start-up\n", what);
    exit(1);
}
static void *entry_type_new(void) {
    size_t offs[3] = {offsetof(kv_entry, next), offsetof(kv_entry, key), offsetof(kv_entry, val)};
    return gc_type_new(sizeof(kv_entry), offs, 3);
}
static void *slot_type_new(void) {
    size_t zero = 0;
    return gc_type_new(sizeof(void *), &zero, 1);
}
static void *first_buckets(void) { return new_buckets(KV_MIN_BUCKETS); }

void kv_table_init(int64_t maxmemory) {
    entry_type = init_retry(entry_type_new, "the entry type");
    slot_type = init_retry(slot_type_new, "the bucket type");
    budget = maxmemory > 0 ? (int64_t)(maxmemory * KV_DATA_FRACTION) : 0;
    for (unsigned i = 0; i < KV_SHARDS; i++) {
        kv_shard *sh = &shards[i];
        pthread_mutex_init(&sh->lock, NULL);
        sh->buckets = init_retry(first_buckets, "a bucket array");
        sh->nbuckets = KV_MIN_BUCKETS;
        atomic_fetch_add_explicit(&used, (int64_t)gc_size(sh->buckets), memory_order_relaxed);
    }
}

static inline kv_shard *shard_of(uint64_t h) { return &shards[h >> (64 - KV_SHARDS_LOG)]; }

static void account(int64_t delta) { atomic_fetch_add_explicit(&used, delta, memory_order_relaxed); }

/* Removes the entry at *slot (a bucket slot or a predecessor's next field). */
static void unlink_locked(kv_shard *sh, kv_entry **slot) {
    kv_entry *e = *slot;
    GC_STORE(*slot, e->next);
    sh->count--;
    if (e->expire_ms) sh->expires--;
    account(-(int64_t)e->bytes);
}

static inline int expired(const kv_entry *e, int64_t now) { return e->expire_ms && e->expire_ms <= now; }

/* The slot holding the live entry for key (NULL if none); expired entries met on the way
 * are unlinked. */
static kv_entry **find_locked(kv_shard *sh, uint64_t h, const char *key, size_t klen, int64_t now) {
    kv_entry **slot = &sh->buckets[h & (sh->nbuckets - 1)];
    kv_entry *e;
    while ((e = *slot)) {
        if (expired(e, now)) {
            unlink_locked(sh, slot);
            atomic_fetch_add_explicit(&n_expired, 1, memory_order_relaxed);
            continue;
        }
        if (e->hash == h && e->key->len == klen && memcmp(e->key->data, key, klen) == 0) return slot;
        slot = &e->next;
    }
    return NULL;
}

static void grow_locked(kv_shard *sh) {
    size_t n = sh->nbuckets * 2;
    kv_entry **nb = new_buckets(n);
    if (!nb) return;   /* out of memory: longer chains until a later insert grows it */
    kv_entry **old = sh->buckets;
    for (size_t i = 0; i < sh->nbuckets; i++) {
        kv_entry *e = old[i];
        while (e) {
            kv_entry *next = e->next;
            kv_entry **dst = &nb[e->hash & (n - 1)];
            GC_STORE(e->next, *dst);
            GC_STORE(*dst, e);
            e = next;
        }
    }
    account((int64_t)gc_size(nb) - (int64_t)gc_size(old));
    sh->buckets = nb;   /* static root: no barrier; the old array is garbage now */
    sh->nbuckets = n;
}

/* NULL, and nothing changed, when out of memory. */
static kv_entry *new_entry_locked(kv_shard *sh, uint64_t h, const char *key, size_t klen, kv_str *val,
                                  int64_t expire_ms, int64_t now) {
    kv_entry *e = gc_alloc_typed(entry_type);
    kv_str *k = e ? kv_str_new(key, klen) : NULL;
    if (!k) return NULL;
    /* Fresh objects: their slots are NULL, so plain stores need no barrier. */
    e->key = k;
    e->val = val;
    e->hash = h;
    e->expire_ms = expire_ms;
    e->atime_ms = now;
    e->bytes = gc_size(e) + gc_size(k) + gc_size(val);
    kv_entry **head = &sh->buckets[h & (sh->nbuckets - 1)];
    e->next = *head;
    GC_STORE(*head, e);
    sh->count++;
    if (expire_ms) sh->expires++;
    account((int64_t)e->bytes);
    if (sh->count > sh->nbuckets) grow_locked(sh);
    return e;
}

static void replace_val_locked(kv_entry *e, kv_str *v) {
    int64_t delta = (int64_t)gc_size(v) - (int64_t)gc_size(e->val);
    GC_STORE(e->val, v);
    e->bytes += delta;
    account(delta);
}

static void set_expire_locked(kv_shard *sh, kv_entry *e, int64_t expire_ms) {
    sh->expires += (expire_ms != 0) - (e->expire_ms != 0);
    e->expire_ms = expire_ms;
}

int kv_set(const char *key, size_t klen, const char *val, size_t vlen, int64_t expire_ms, int flags) {
    uint64_t h = hash_bytes(key, klen);
    kv_shard *sh = shard_of(h);
    kv_str *v = kv_str_new(val, vlen);
    if (!v) return -1;
    int64_t now = kv_now_ms();
    int stored = 1;
    pthread_mutex_lock(&sh->lock);
    kv_entry **slot = find_locked(sh, h, key, klen, now);
    if (slot) {
        if (flags & KV_SET_NX) {
            stored = 0;
        } else {
            kv_entry *e = *slot;
            replace_val_locked(e, v);
            if (!(flags & KV_SET_KEEPTTL)) set_expire_locked(sh, e, expire_ms);
            e->atime_ms = now;
        }
    } else if (flags & KV_SET_XX) {
        stored = 0;
    } else if (!new_entry_locked(sh, h, key, klen, v, expire_ms, now)) {
        stored = -1;
    }
    pthread_mutex_unlock(&sh->lock);
    if (stored > 0) kv_evict_if_needed(8);
    return stored;
}

kv_str *kv_get(const char *key, size_t klen) {
    uint64_t h = hash_bytes(key, klen);
    kv_shard *sh = shard_of(h);
    int64_t now = kv_now_ms();
    kv_str *v = NULL;
    pthread_mutex_lock(&sh->lock);
    kv_entry **slot = find_locked(sh, h, key, klen, now);
    if (slot) {
        (*slot)->atime_ms = now;
        v = (*slot)->val;
    }
    pthread_mutex_unlock(&sh->lock);
    return v;
}

int kv_del(const char *key, size_t klen) {
    uint64_t h = hash_bytes(key, klen);
    kv_shard *sh = shard_of(h);
    pthread_mutex_lock(&sh->lock);
    kv_entry **slot = find_locked(sh, h, key, klen, kv_now_ms());
    if (slot) unlink_locked(sh, slot);
    pthread_mutex_unlock(&sh->lock);
    return slot != NULL;
}

int kv_exists(const char *key, size_t klen) {
    uint64_t h = hash_bytes(key, klen);
    kv_shard *sh = shard_of(h);
    pthread_mutex_lock(&sh->lock);
    kv_entry **slot = find_locked(sh, h, key, klen, kv_now_ms());
    pthread_mutex_unlock(&sh->lock);
    return slot != NULL;
}

/* Redis's string2ll: an optional '-', digits without leading zeros, fits in int64. */
static int parse_int64(const char *p, size_t n, int64_t *out) {
    if (n == 0 || n > 20) return -1;
    size_t i = 0;
    int neg = 0;
    if (p[0] == '-') {
        neg = 1;
        if (++i == n) return -1;
    }
    if (p[i] == '0' && n > i + 1) return -1;
    if (p[i] == '0' && neg) return -1;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        if (v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX) return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int kv_incr(const char *key, size_t klen, int64_t delta, int64_t *out) {
    uint64_t h = hash_bytes(key, klen);
    kv_shard *sh = shard_of(h);
    int64_t now = kv_now_ms(), cur = 0;
    char buf[32];
    int rc = 0;
    pthread_mutex_lock(&sh->lock);
    kv_entry **slot = find_locked(sh, h, key, klen, now);
    if (slot && parse_int64((*slot)->val->data, (*slot)->val->len, &cur) != 0) {
        rc = -1;
    } else if (__builtin_add_overflow(cur, delta, out)) {
        rc = -2;
    } else {
        kv_str *v = kv_str_new(buf, (size_t)snprintf(buf, sizeof buf, "%lld", (long long)*out));
        if (!v) {
            rc = -3;
        } else if (slot) {
            replace_val_locked(*slot, v);
            (*slot)->atime_ms = now;
        } else if (!new_entry_locked(sh, h, key, klen, v, 0, now)) {
            rc = -3;
        }
    }
    pthread_mutex_unlock(&sh->lock);
    if (rc == 0) kv_evict_if_needed(8);
    return rc;
}

int kv_expire(const char *key, size_t klen, int64_t expire_ms) {
    uint64_t h = hash_bytes(key, klen);
    kv_shard *sh = shard_of(h);
    int64_t now = kv_now_ms();
    pthread_mutex_lock(&sh->lock);
    kv_entry **slot = find_locked(sh, h, key, klen, now);
    if (slot) {
        if (expire_ms && expire_ms <= now) {
            unlink_locked(sh, slot);   /* Redis deletes a key given a time in the past */
            atomic_fetch_add_explicit(&n_expired, 1, memory_order_relaxed);
        } else {
            set_expire_locked(sh, *slot, expire_ms);
        }
    }
    pthread_mutex_unlock(&sh->lock);
    return slot != NULL;
}

int64_t kv_pttl(const char *key, size_t klen) {
    uint64_t h = hash_bytes(key, klen);
    kv_shard *sh = shard_of(h);
    int64_t now = kv_now_ms(), r;
    pthread_mutex_lock(&sh->lock);
    kv_entry **slot = find_locked(sh, h, key, klen, now);
    r = !slot ? -2 : !(*slot)->expire_ms ? -1 : (*slot)->expire_ms - now;
    pthread_mutex_unlock(&sh->lock);
    return r;
}

uint64_t kv_dbsize(void) {
    uint64_t n = 0;
    for (unsigned i = 0; i < KV_SHARDS; i++) n += __atomic_load_n(&shards[i].count, __ATOMIC_RELAXED);
    return n;
}

int kv_flushall(void) {
    kv_entry **fresh[KV_SHARDS];   /* on the stack: a root until they are linked */
    for (unsigned i = 0; i < KV_SHARDS; i++)
        if (!(fresh[i] = new_buckets(KV_MIN_BUCKETS))) return -1;
    for (unsigned i = 0; i < KV_SHARDS; i++) {
        kv_shard *sh = &shards[i];
        kv_entry **nb = fresh[i];
        pthread_mutex_lock(&sh->lock);
        int64_t freed = (int64_t)gc_size(sh->buckets) - (int64_t)gc_size(nb);
        for (size_t b = 0; b < sh->nbuckets; b++)
            for (kv_entry *e = sh->buckets[b]; e; e = e->next) freed += (int64_t)e->bytes;
        sh->buckets = nb;   /* static root; the whole old table becomes garbage */
        sh->nbuckets = KV_MIN_BUCKETS;
        sh->count = sh->expires = sh->cursor = 0;
        account(-freed);
        pthread_mutex_unlock(&sh->lock);
    }
    return 0;
}

/* ---- the eviction log (DEBUG EVICTLOG) ----
 * Keys evicted (not expired) since the last take, when watching, whose name starts with
 * the watched prefix: length-prefixed in one malloc'd buffer, at most KV_EVLOG_KEYS keys
 * and KV_EVLOG_BYTES bytes; past that, keys are only counted as dropped, so a reader
 * knows its record is incomplete. */
#define KV_EVLOG_KEYS 65536
#define KV_EVLOG_BYTES ((size_t)8 << 20)
static pthread_mutex_t evlog_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int on;
    char prefix[256];
    size_t plen;
    char *buf;
    size_t len, cap;
    uint64_t keys, dropped;
} evlog;

static void evictlog_note(const kv_str *key) {
    if (!__atomic_load_n(&evlog.on, __ATOMIC_RELAXED)) return;
    pthread_mutex_lock(&evlog_lock);
    if (evlog.on && key->len >= evlog.plen && memcmp(key->data, evlog.prefix, evlog.plen) == 0) {
        size_t need = evlog.len + 4 + key->len;
        if (evlog.keys >= KV_EVLOG_KEYS || need > KV_EVLOG_BYTES) {
            evlog.dropped++;
        } else {
            if (need > evlog.cap) {
                size_t cap = evlog.cap ? evlog.cap : 65536;
                while (cap < need) cap *= 2;
                char *b = realloc(evlog.buf, cap);
                if (!b) goto drop;
                evlog.buf = b;
                evlog.cap = cap;
            }
            uint32_t n = key->len;
            memcpy(evlog.buf + evlog.len, &n, 4);
            memcpy(evlog.buf + evlog.len + 4, key->data, n);
            evlog.len = need;
            evlog.keys++;
        }
    }
    pthread_mutex_unlock(&evlog_lock);
    return;
drop:
    evlog.dropped++;
    pthread_mutex_unlock(&evlog_lock);
}

int kv_evictlog_watch(const char *prefix, size_t n, int on) {
    if (n >= sizeof evlog.prefix) return -1;
    pthread_mutex_lock(&evlog_lock);
    memcpy(evlog.prefix, prefix, n);
    evlog.plen = n;
    free(evlog.buf);
    evlog.buf = NULL;
    evlog.len = evlog.cap = 0;
    evlog.keys = evlog.dropped = 0;
    __atomic_store_n(&evlog.on, on, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&evlog_lock);
    return 0;
}

int kv_evictlog_take(kv_evictlog *out) {
    pthread_mutex_lock(&evlog_lock);
    int on = evlog.on;
    out->buf = evlog.buf;
    out->len = evlog.len;
    out->keys = evlog.keys;
    out->dropped = evlog.dropped;
    evlog.buf = NULL;
    evlog.len = evlog.cap = 0;
    evlog.keys = evlog.dropped = 0;
    pthread_mutex_unlock(&evlog_lock);
    return on;
}

/* Redis's approximated LRU: sample KV_LRU_SAMPLES entries of a random shard from a random
 * bucket on, evict the least recently used (an expired one at once). Returns 1 if one
 * was evicted. */
static int evict_one(void) {
    for (unsigned tries = 0; tries < KV_SHARDS; tries++) {
        kv_shard *sh = &shards[rand_next() & (KV_SHARDS - 1)];
        pthread_mutex_lock(&sh->lock);
        if (sh->count == 0) {
            pthread_mutex_unlock(&sh->lock);
            continue;
        }
        int64_t now = kv_now_ms();
        size_t mask = sh->nbuckets - 1, b = rand_next() & mask, victim_b = 0;
        kv_entry *victim = NULL;
        int seen = 0;
        for (size_t n = 0; n <= mask && seen < KV_LRU_SAMPLES; n++, b = (b + 1) & mask) {
            for (kv_entry *e = sh->buckets[b]; e && seen < KV_LRU_SAMPLES; e = e->next, seen++) {
                if (!victim || expired(e, now) || e->atime_ms < victim->atime_ms) {
                    victim = e;
                    victim_b = b;
                }
                if (expired(e, now)) break;
            }
            if (victim && expired(victim, now)) break;
        }
        kv_entry **slot = &sh->buckets[victim_b];
        while (*slot != victim) slot = &(*slot)->next;
        int was_expired = expired(victim, now);
        if (!was_expired) evictlog_note(victim->key);
        unlink_locked(sh, slot);
        pthread_mutex_unlock(&sh->lock);
        atomic_fetch_add_explicit(was_expired ? &n_expired : &n_evicted, 1, memory_order_relaxed);
        return 1;
    }
    return 0;
}

void kv_evict_if_needed(int max) {
    if (!budget) return;
    for (int n = 0; n < max && atomic_load_explicit(&used, memory_order_relaxed) > budget; n++)
        if (!evict_one()) break;
}

void kv_expire_step(void) {
    int64_t now = kv_now_ms();
    for (unsigned i = 0; i < KV_SHARDS; i++) {
        kv_shard *sh = &shards[i];
        pthread_mutex_lock(&sh->lock);
        if (sh->expires) {
            size_t slice = sh->nbuckets / 10 + KV_MIN_BUCKETS, mask = sh->nbuckets - 1;
            for (size_t n = 0; n < slice && n <= mask; n++) {
                size_t b = sh->cursor++ & mask;
                kv_entry **slot = &sh->buckets[b];
                while (*slot) {
                    if (expired(*slot, now)) {
                        unlink_locked(sh, slot);
                        atomic_fetch_add_explicit(&n_expired, 1, memory_order_relaxed);
                    } else {
                        slot = &(*slot)->next;
                    }
                }
            }
        }
        pthread_mutex_unlock(&sh->lock);
    }
}

int64_t kv_budget(void) { return budget; }
int64_t kv_used_bytes(void) { return atomic_load_explicit(&used, memory_order_relaxed); }

void kv_read_counters(kv_counters *c) {
    memset(c, 0, sizeof *c);
    c->evicted = atomic_load_explicit(&n_evicted, memory_order_relaxed);
    c->expired = atomic_load_explicit(&n_expired, memory_order_relaxed);
    for (unsigned i = 0; i < KV_SHARDS; i++) {
        c->keys += __atomic_load_n(&shards[i].count, __ATOMIC_RELAXED);
        c->expires += __atomic_load_n(&shards[i].expires, __ATOMIC_RELAXED);
    }
}
