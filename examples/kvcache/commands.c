/*
 * commands.c: the command table. Each command checks its arity (Redis's convention:
 * n > 0 exactly n arguments counting the name, n < 0 at least -n) and answers with
 * Redis's reply types and error texts, so redis-cli and redis-benchmark see what they
 * would from redis-server.
 *
 * Invariant: GC pointers taken from the table (values) stay in locals of the running
 * command; nothing GC-owned is stored in the connection.
 *
 * Out of memory (gcrt could not grow the heap) a command answers "-OOM ..." and changes
 * nothing, but MSET, which keeps the pairs set before the one that failed. The count of
 * such answers is INFO stats' oom_rejected_commands.
 */
#include "kvcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

typedef struct kv_cmd {
    const char *name;
    int arity;
    void (*fn)(kv_conn *c);
} kv_cmd;

#define ARG_IS(c, i, s) ((c)->argl[i] == strlen(s) && strncasecmp((c)->argv[i], (s), (c)->argl[i]) == 0)

/* Redis's strict integer argument parse (no spaces, no '+', within int64). */
static int arg_int64(kv_conn *c, size_t i, int64_t *out) {
    const char *p = c->argv[i];
    size_t n = c->argl[i];
    char buf[24];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, p, n);
    buf[n] = 0;
    if (buf[0] == '+' || buf[0] == ' ' || (buf[0] == '0' && n > 1) || (buf[0] == '-' && buf[1] == '0')) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (*end || errno) return -1;
    *out = v;
    return 0;
}

static _Atomic uint64_t n_oom;
uint64_t kv_oom_count(void) { return n_oom; }

static void reply_oom(kv_conn *c) {
    n_oom++;
    kv_reply_error(c, "OOM out of memory: the heap could not grow for this command");
}

static void reply_not_int(kv_conn *c) { kv_reply_error(c, "value is not an integer or out of range"); }
static void reply_syntax(kv_conn *c) { kv_reply_error(c, "syntax error"); }

static void cmd_ping(kv_conn *c) {
    if (c->argc > 2) kv_reply_error(c, "wrong number of arguments for 'ping' command");
    else if (c->argc == 2) kv_reply_bulk(c, c->argv[1], c->argl[1]);
    else kv_reply_simple(c, "PONG");
}

static void cmd_echo(kv_conn *c) { kv_reply_bulk(c, c->argv[1], c->argl[1]); }

static void cmd_get(kv_conn *c) {
    kv_str *v = kv_get(c->argv[1], c->argl[1]);
    if (v) kv_reply_bulk(c, v->data, v->len);
    else kv_reply_nil(c);
}

/* Converts a relative or absolute time argument to absolute monotonic ms; -1 if invalid. */
static int64_t expire_arg(kv_conn *c, size_t i, int64_t unit_ms, int absolute) {
    int64_t v;
    if (arg_int64(c, i, &v) != 0) return -2;
    if (v <= 0 || v > INT64_MAX / 1000 / 2) return -1;
    v *= unit_ms;
    if (absolute) {
        /* EXAT/PXAT take Unix time: convert through the realtime clock */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t unix_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        int64_t r = kv_now_ms() + (v - unix_ms);
        return r > 0 ? r : 1;
    }
    return kv_now_ms() + v;
}

static void cmd_set(kv_conn *c) {
    int flags = 0;
    int64_t expire = 0;
    int have_expire = 0;
    for (size_t i = 3; i < c->argc; i++) {
        int64_t unit = 0;
        int absolute = 0;
        if (ARG_IS(c, i, "NX") && !(flags & KV_SET_XX)) flags |= KV_SET_NX;
        else if (ARG_IS(c, i, "XX") && !(flags & KV_SET_NX)) flags |= KV_SET_XX;
        else if (ARG_IS(c, i, "KEEPTTL") && !have_expire) flags |= KV_SET_KEEPTTL;
        else if (ARG_IS(c, i, "EX")) unit = 1000;
        else if (ARG_IS(c, i, "PX")) unit = 1;
        else if (ARG_IS(c, i, "EXAT")) unit = 1000, absolute = 1;
        else if (ARG_IS(c, i, "PXAT")) unit = 1, absolute = 1;
        else return reply_syntax(c);
        if (unit) {
            if (have_expire || (flags & KV_SET_KEEPTTL) || i + 1 >= c->argc) return reply_syntax(c);
            expire = expire_arg(c, ++i, unit, absolute);
            if (expire == -2) return reply_not_int(c);
            if (expire == -1) return kv_reply_error(c, "invalid expire time in 'set' command");
            have_expire = 1;
        }
    }
    if (c->argl[2] > UINT32_MAX - 8) return kv_reply_error(c, "string exceeds maximum allowed size");
    int r = kv_set(c->argv[1], c->argl[1], c->argv[2], c->argl[2], expire, flags);
    if (r > 0) kv_reply_simple(c, "OK");
    else if (r == 0) kv_reply_nil(c);
    else reply_oom(c);
}

static void cmd_del(kv_conn *c) {
    int64_t n = 0;
    for (size_t i = 1; i < c->argc; i++) n += kv_del(c->argv[i], c->argl[i]);
    kv_reply_int(c, n);
}

static void cmd_exists(kv_conn *c) {
    int64_t n = 0;
    for (size_t i = 1; i < c->argc; i++) n += kv_exists(c->argv[i], c->argl[i]);
    kv_reply_int(c, n);
}

static void incr_by(kv_conn *c, int64_t delta) {
    int64_t v;
    int r = kv_incr(c->argv[1], c->argl[1], delta, &v);
    if (r == -1) reply_not_int(c);
    else if (r == -2) kv_reply_error(c, "increment or decrement would overflow");
    else if (r == -3) reply_oom(c);
    else kv_reply_int(c, v);
}

static void cmd_incr(kv_conn *c) { incr_by(c, 1); }
static void cmd_decr(kv_conn *c) { incr_by(c, -1); }

static void cmd_incrby(kv_conn *c) {
    int64_t d;
    if (arg_int64(c, 2, &d) != 0) return reply_not_int(c);
    incr_by(c, d);
}

static void cmd_decrby(kv_conn *c) {
    int64_t d;
    if (arg_int64(c, 2, &d) != 0 || d == INT64_MIN) return reply_not_int(c);
    incr_by(c, -d);
}

static void cmd_mget(kv_conn *c) {
    kv_reply_array(c, c->argc - 1);
    for (size_t i = 1; i < c->argc; i++) {
        kv_str *v = kv_get(c->argv[i], c->argl[i]);
        if (v) kv_reply_bulk(c, v->data, v->len);
        else kv_reply_nil(c);
    }
}

static void cmd_mset(kv_conn *c) {
    if (c->argc % 2 == 0) return kv_reply_error(c, "wrong number of arguments for 'mset' command");
    for (size_t i = 1; i < c->argc; i += 2)
        if (kv_set(c->argv[i], c->argl[i], c->argv[i + 1], c->argl[i + 1], 0, 0) < 0) return reply_oom(c);
    kv_reply_simple(c, "OK");
}

static void expire_generic(kv_conn *c, int64_t unit) {
    int64_t v;
    if (arg_int64(c, 2, &v) != 0) return reply_not_int(c);
    if (c->argc > 3) return kv_reply_error(c, "Unsupported option %.*s", (int)c->argl[3], c->argv[3]);
    if (v > INT64_MAX / 2000 || v < INT64_MIN / 2000)
        return kv_reply_error(c, "invalid expire time in '%s' command", unit == 1 ? "pexpire" : "expire");
    int64_t at = kv_now_ms() + v * unit;
    kv_reply_int(c, kv_expire(c->argv[1], c->argl[1], at ? at : -1));   /* 0 would mean "persist" */
}

static void cmd_expire(kv_conn *c) { expire_generic(c, 1000); }
static void cmd_pexpire(kv_conn *c) { expire_generic(c, 1); }

static void cmd_ttl(kv_conn *c) {
    int64_t ms = kv_pttl(c->argv[1], c->argl[1]);
    kv_reply_int(c, ms < 0 ? ms : (ms + 500) / 1000);   /* Redis rounds to the nearest second */
}

static void cmd_pttl(kv_conn *c) { kv_reply_int(c, kv_pttl(c->argv[1], c->argl[1])); }

static void cmd_persist(kv_conn *c) {
    int64_t ms = kv_pttl(c->argv[1], c->argl[1]);
    kv_reply_int(c, ms >= 0 && kv_expire(c->argv[1], c->argl[1], 0) ? 1 : 0);
}

static void cmd_dbsize(kv_conn *c) { kv_reply_int(c, (int64_t)kv_dbsize()); }

static void cmd_flushall(kv_conn *c) {
    if (c->argc > 2 || (c->argc == 2 && !ARG_IS(c, 1, "ASYNC") && !ARG_IS(c, 1, "SYNC"))) return reply_syntax(c);
    if (kv_flushall() != 0) return reply_oom(c);
    kv_reply_simple(c, "OK");
}

static void cmd_info(kv_conn *c) {
    char section[32] = "default";
    if (c->argc > 2) return reply_syntax(c);
    if (c->argc == 2) {
        size_t n = c->argl[1] < sizeof section - 1 ? c->argl[1] : sizeof section - 1;
        for (size_t i = 0; i < n; i++) section[i] = (char)(c->argv[1][i] | 0x20);
        section[n] = 0;
    }
    char *buf = malloc(8192);
    if (!buf) abort();
    size_t n = kv_info(buf, 8192, section);
    kv_reply_bulk(c, buf, n);
    free(buf);
}

/* Only what clients ask at start-up: redis-benchmark reads "save" and "appendonly". */
static void cmd_config(kv_conn *c) {
    if (!ARG_IS(c, 1, "GET")) {
        return kv_reply_error(c, "CONFIG %.*s is not supported by kvcache (only CONFIG GET)", (int)c->argl[1],
                              c->argv[1]);
    }
    if (c->argc != 3) return kv_reply_error(c, "wrong number of arguments for 'config|get' command");
    char maxmem[24];
    int64_t lim = gc_set_memory_limit(-1);
    snprintf(maxmem, sizeof maxmem, "%lld", lim == INT64_MAX ? 0ll : (long long)lim);
    const char *known[][2] = {{"save", ""}, {"appendonly", "no"}, {"maxmemory", maxmem},
                              {"maxmemory-policy", "allkeys-lru"}, {"maxmemory-samples", "5"}, {"databases", "1"}};
    size_t nk = sizeof known / sizeof known[0], hits = 0;
    int match[sizeof known / sizeof known[0]];
    for (size_t i = 0; i < nk; i++) {
        match[i] = (c->argl[2] == 1 && c->argv[2][0] == '*') || ARG_IS(c, 2, known[i][0]);
        hits += (size_t)match[i];
    }
    kv_reply_array(c, hits * 2);
    for (size_t i = 0; i < nk; i++) {
        if (!match[i]) continue;
        kv_reply_bulk(c, known[i][0], strlen(known[i][0]));
        kv_reply_bulk(c, known[i][1], strlen(known[i][1]));
    }
}

/* redis-cli asks COMMAND DOCS in interactive mode for its hints; an empty answer is valid. */
static void cmd_command(kv_conn *c) {
    if (c->argc >= 2 && ARG_IS(c, 1, "COUNT")) kv_reply_int(c, 0);
    else kv_reply_array(c, 0);
}

static void cmd_select(kv_conn *c) {
    if (c->argl[1] == 1 && c->argv[1][0] == '0') kv_reply_simple(c, "OK");
    else kv_reply_error(c, "DB index is out of range");
}

/* DEBUG HEAPPROFILE path: after a collection (so the profile is this moment's heap, as
 * go test -memprofile does), the heap profile for go tool pprof (docs/profiling.md). */
static void debug_heapprofile(kv_conn *c) {
    if (c->argc != 3) return reply_syntax(c);
    char path[4096];
    if (c->argl[2] >= sizeof path) return kv_reply_error(c, "path too long");
    memcpy(path, c->argv[2], c->argl[2]);
    path[c->argl[2]] = 0;
    gc_collect();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -errno : gc_write_heap_profile(fd);
    if (fd >= 0 && close(fd) < 0 && !rc) rc = -errno;
    if (rc < 0) return kv_reply_error(c, "cannot write %s: %s", path, strerror(-rc));
    kv_reply_simple(c, "OK");
}

/* DEBUG EVICTLOG [WATCH [prefix] | OFF]: the eviction log (table.c), for a checker that
 * must tell an evicted key from a lost one. WATCH starts it (keys with the prefix; all
 * without one), OFF stops it; both clear it and answer OK. Plain EVICTLOG answers an array:
 * the number of keys the log's bound dropped since the last call (0: the record is
 * complete), then each key evicted since, oldest first; an error when it is off. */
static void debug_evictlog(kv_conn *c) {
    if (c->argc == 2) {
        kv_evictlog log;
        if (!kv_evictlog_take(&log)) return kv_reply_error(c, "the eviction log is off (DEBUG EVICTLOG WATCH)");
        kv_reply_array(c, 1 + log.keys);
        kv_reply_int(c, (int64_t)log.dropped);
        for (size_t at = 0; at < log.len;) {
            uint32_t n;
            memcpy(&n, log.buf + at, 4);
            kv_reply_bulk(c, log.buf + at + 4, n);
            at += 4 + n;
        }
        free(log.buf);
        return;
    }
    int watch = ARG_IS(c, 2, "WATCH");
    if ((!watch && !ARG_IS(c, 2, "OFF")) || c->argc > 4 || (!watch && c->argc > 3)) return reply_syntax(c);
    const char *prefix = c->argc == 4 ? c->argv[3] : "";
    size_t plen = c->argc == 4 ? c->argl[3] : 0;
    if (kv_evictlog_watch(prefix, plen, watch) != 0) return kv_reply_error(c, "prefix too long (at most 255 bytes)");
    kv_reply_simple(c, "OK");
}

static void cmd_debug(kv_conn *c) {
    if (ARG_IS(c, 1, "HEAPPROFILE")) return debug_heapprofile(c);
    if (ARG_IS(c, 1, "EVICTLOG")) return debug_evictlog(c);
    kv_reply_error(c, "DEBUG %.*s is not supported by kvcache (only DEBUG HEAPPROFILE path and DEBUG EVICTLOG)",
                   (int)(c->argl[1] > 64 ? 64 : c->argl[1]), c->argv[1]);
}

static void cmd_quit(kv_conn *c) {
    kv_reply_simple(c, "OK");
    c->closing = 1;
}

static const kv_cmd commands[] = {
    {"get", 2, cmd_get},         {"set", -3, cmd_set},         {"ping", -1, cmd_ping},
    {"del", -2, cmd_del},        {"exists", -2, cmd_exists},   {"incr", 2, cmd_incr},
    {"decr", 2, cmd_decr},       {"incrby", 3, cmd_incrby},    {"decrby", 3, cmd_decrby},
    {"mget", -2, cmd_mget},      {"mset", -3, cmd_mset},       {"expire", -3, cmd_expire},
    {"pexpire", -3, cmd_pexpire}, {"ttl", 2, cmd_ttl},         {"pttl", 2, cmd_pttl},
    {"persist", 2, cmd_persist}, {"dbsize", 1, cmd_dbsize},    {"flushall", -1, cmd_flushall},
    {"flushdb", -1, cmd_flushall}, {"info", -1, cmd_info},     {"config", -2, cmd_config},
    {"command", -1, cmd_command}, {"select", 2, cmd_select},   {"echo", 2, cmd_echo},
    {"quit", 1, cmd_quit},       {"debug", -2, cmd_debug},
};

void kv_execute(kv_conn *c) {
    const char *name = c->argv[0];
    size_t n = c->argl[0];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const kv_cmd *k = &commands[i];
        if (strlen(k->name) != n || strncasecmp(k->name, name, n) != 0) continue;
        if ((k->arity > 0 && c->argc != (size_t)k->arity) || (k->arity < 0 && c->argc < (size_t)-k->arity))
            return kv_reply_error(c, "wrong number of arguments for '%s' command", k->name);
        k->fn(c);
        return;
    }
    kv_reply_error(c, "unknown command '%.*s', with args beginning with: %s%.*s%s", (int)(n > 64 ? 64 : n), name,
                   c->argc > 1 ? "'" : "", c->argc > 1 ? (int)(c->argl[1] > 64 ? 64 : c->argl[1]) : 0,
                   c->argc > 1 ? c->argv[1] : "", c->argc > 1 ? "' " : "");
}
