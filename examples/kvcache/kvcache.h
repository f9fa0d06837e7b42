/*
 * kvcache.h: the pieces of kvcache, a Redis-protocol (RESP2) cache whose data lives in the
 * gcrt heap. table.c is the store (sharded hash table, expiry, sampled-LRU eviction),
 * resp.c the wire protocol (request parsing, reply buffers), commands.c the command table,
 * server.c the threads (epoll loops, housekeeping) and main.
 *
 * Ownership rule that every file keeps: pointers to GC objects live only in GC objects, in
 * the static shard array and on registered threads' stacks. Connection state (buffers,
 * argument vectors) is malloc'd and never holds a GC pointer, because malloc'd memory is
 * not scanned.
 */
#ifndef KVCACHE_H
#define KVCACHE_H

#include "gcrt.h"

#include <stddef.h>
#include <stdint.h>

/* ---- table.c ---- */

/* A key or a value: an immutable, NUL-terminated noscan byte string. Values are never
 * modified in place (INCR makes a new one), so a reader may copy one out after dropping
 * the shard lock: its stack pointer keeps it alive. */
typedef struct kv_str {
    uint32_t len;
    char data[];
} kv_str;

kv_str *kv_str_new(const char *p, size_t n);

enum { KV_SET_NX = 1, KV_SET_XX = 2, KV_SET_KEEPTTL = 4 };

void kv_table_init(int64_t maxmemory);
/* expire_ms: absolute monotonic ms, 0 for none. Returns 1 if stored, 0 if NX/XX refused,
 * -1 if out of memory (then nothing changed). */
int kv_set(const char *key, size_t klen, const char *val, size_t vlen, int64_t expire_ms, int flags);
/* The value, or NULL if the key is missing or expired; refreshes the key's LRU clock. */
kv_str *kv_get(const char *key, size_t klen);
int kv_del(const char *key, size_t klen);
int kv_exists(const char *key, size_t klen);
/* Adds delta; 0 on success with *out set, -1 if the value is not an integer, -2 on overflow,
 * -3 if out of memory. */
int kv_incr(const char *key, size_t klen, int64_t delta, int64_t *out);
/* Sets the expiry (absolute ms; 0 removes it); 1 if the key exists. A time in the past
 * deletes the key. */
int kv_expire(const char *key, size_t klen, int64_t expire_ms);
/* Remaining ms: -2 if the key is missing, -1 if it has no expiry. */
int64_t kv_pttl(const char *key, size_t klen);
uint64_t kv_dbsize(void);
int kv_flushall(void);   /* -1 if out of memory (then nothing changed) */
/* Evict sampled-LRU keys while the data is over budget; at most `max` keys. */
void kv_evict_if_needed(int max);
/* One step of the active expiry sweep (a slice of every shard's buckets). */
void kv_expire_step(void);
/* The data budget in bytes (0: no limit) and the GC-heap bytes the table holds. */
int64_t kv_budget(void);
int64_t kv_used_bytes(void);

typedef struct kv_counters {
    uint64_t evicted, expired, keys, expires;
} kv_counters;
void kv_read_counters(kv_counters *c);

int64_t kv_now_ms(void);

/* DEBUG EVICTLOG: watch (on) or stop watching evictions of keys starting with prefix[0..n)
 * (-1 if the prefix is too long); either clears the log. take hands over what was logged
 * since the last take (buf: malloc'd, free it; each key a 4-byte native length and its
 * bytes) and returns whether the log is on. */
typedef struct kv_evictlog {
    char *buf;
    size_t len;
    uint64_t keys, dropped;
} kv_evictlog;
int kv_evictlog_watch(const char *prefix, size_t n, int on);
int kv_evictlog_take(kv_evictlog *out);

/* ---- resp.c ---- */

#define KV_MAX_BULK ((size_t)32 << 20)      /* one bulk string */
#define KV_MAX_COMMAND ((size_t)64 << 20)   /* a multibulk command's bytes after its first line */
#define KV_MAX_ARGS ((size_t)1 << 20)       /* elements of a multibulk command */
#define KV_MAX_INLINE ((size_t)64 << 10)    /* an inline command's line */

typedef struct kv_conn {
    int fd;
    int closing;                 /* QUIT or a protocol error: close once the output is out */
    uint32_t events;             /* the epoll interest currently registered */
    char *in;                    /* unparsed input [in, in + inlen) */
    size_t inlen, incap, inpos;
    char *out;                   /* pending output [out + outpos, out + outlen) */
    size_t outlen, outcap, outpos;
    const char **argv;           /* the current command's arguments, pointing into in */
    size_t *argl;
    size_t *argo;                /* their offsets from the command's start (in + inpos) */
    size_t argc, argcap;
    size_t mb_left, mb_pos;      /* a multibulk command in progress: elements to go, where */
    size_t mb_bytes;             /* its bytes so far */
    int paused;                  /* stopped with commands left in `in` (server.c) */
    struct kv_conn *rnext, *rprev;   /* the worker's ready list while paused */
} kv_conn;

/* Parses one complete command from c->in at c->inpos into argv/argl: 1 if one was parsed,
 * 0 if more input is needed, -1 on a protocol error (an error reply is queued). */
int kv_parse(kv_conn *c);
void kv_reply_raw(kv_conn *c, const char *p, size_t n);
void kv_reply_simple(kv_conn *c, const char *s);
void kv_reply_error(kv_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kv_reply_int(kv_conn *c, int64_t v);
void kv_reply_bulk(kv_conn *c, const char *p, size_t n);
void kv_reply_nil(kv_conn *c);
void kv_reply_array(kv_conn *c, size_t n);

/* ---- commands.c ---- */

void kv_execute(kv_conn *c);
uint64_t kv_oom_count(void);   /* commands answered -OOM */

/* ---- server.c ---- */

/* Fills the INFO text for a section ("", "all", "default", "memory", "stats", "server",
 * "keyspace", "clients") into buf; returns its length. */
size_t kv_info(char *buf, size_t cap, const char *section);

#endif /* KVCACHE_H */
