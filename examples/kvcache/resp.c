/*
 * resp.c: the Redis wire protocol, RESP2. Requests are multibulk arrays
 * (*N\r\n$len\r\narg\r\n...) as redis-cli and redis-benchmark send them, or inline lines
 * (words separated by spaces) as typed into telnet. Replies are appended to the
 * connection's output buffer and written by server.c.
 *
 * Limits (kvcache.h): a bulk string of at most KV_MAX_BULK (32 MiB), a command of at most
 * KV_MAX_COMMAND (64 MiB, its elements' headers included) in 0..KV_MAX_ARGS (2^20) elements, an inline command
 * of less than KV_MAX_INLINE (64 KiB). A request past one, or malformed, gets
 * "-ERR Protocol error: ..." and the connection is closed once that is written; the
 * declared lengths are checked before their data is read, so no client makes the server
 * buffer more than one command within the limits.
 *
 * Invariants: parsing never consumes a partial command (c->inpos moves only past a
 * complete one); of a multibulk command in progress only how far it got is kept
 * (mb_left, mb_pos, and the arguments' offsets from its start, argo), which a compaction
 * of the buffer, moving the command's start to 0, leaves valid. argv points into c->in
 * and is valid until the next read compacts the buffer. Buffers are malloc'd and hold no
 * GC pointers.
 */
#include "kvcache.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "kvcache: out of memory (malloc %zu)\n", n);
        abort();
    }
    return q;
}

static void add_arg(kv_conn *c, size_t off, size_t n) {
    if (c->argc == c->argcap) {
        c->argcap = c->argcap ? c->argcap * 2 : 16;
        c->argv = xrealloc(c->argv, c->argcap * sizeof *c->argv);
        c->argl = xrealloc(c->argl, c->argcap * sizeof *c->argl);
        c->argo = xrealloc(c->argo, c->argcap * sizeof *c->argo);
    }
    c->argo[c->argc] = off;
    c->argl[c->argc++] = n;
}

/* The arguments as pointers, once the whole command is in the buffer (nothing moves it
 * until the next read). */
static void args_resolve(kv_conn *c) {
    for (size_t i = 0; i < c->argc; i++) c->argv[i] = c->in + c->inpos + c->argo[i];
}

static int violation(kv_conn *c, const char *what) {
    kv_reply_error(c, "Protocol error: %s", what);
    return -1;
}

/* Reads a "<prefix><integer>\r\n" line at *pos. 1 ok, 0 incomplete, -1 malformed. */
static int read_len_line(kv_conn *c, size_t *pos, char prefix, long long *out) {
    const char *p = c->in + *pos, *end = c->in + c->inlen;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return (size_t)(end - p) > 64 ? -1 : 0;
    if (*p != prefix || nl - p < 3 || nl - p > 64 || nl[-1] != '\r') return -1;
    long long v = 0;
    const char *q = p + 1;
    int neg = *q == '-';
    if (neg) q++;
    if (q == nl - 1) return -1;
    for (; q < nl - 1; q++) {
        if (*q < '0' || *q > '9' || v > (1ll << 40)) return -1;
        v = v * 10 + (*q - '0');
    }
    *out = neg ? -v : v;
    *pos = (size_t)(nl + 1 - c->in);
    return 1;
}

/* Resumes where the last call stopped (c->mb_left elements to go, from c->mb_pos past the
 * command's start): a command arriving a piece at a time is parsed once, not again from its
 * start at every read, which a client dripping a 2^20-element command would turn into hours
 * of one worker's time. */
static int parse_multibulk(kv_conn *c) {
    size_t pos;
    if (!c->mb_left) {
        long long n;
        pos = c->inpos;
        int r = read_len_line(c, &pos, '*', &n);
        if (r == 0) return 0;
        if (r < 0 || n < 0 || n > (long long)KV_MAX_ARGS) return violation(c, "invalid multibulk length");
        c->argc = 0;
        c->mb_bytes = 0;
        if (n == 0) {
            c->inpos = pos;
            return 1;   /* "*0": an empty command, skipped */
        }
        c->mb_left = (size_t)n;
    } else {
        pos = c->inpos + c->mb_pos;
    }
    while (c->mb_left) {
        long long len;
        if (pos >= c->inlen) break;
        if (c->in[pos] != '$') {
            kv_reply_error(c, "Protocol error: expected '$', got '%c'", c->in[pos]);
            return -1;
        }
        size_t at = pos;
        int r = read_len_line(c, &at, '$', &len);
        if (r == 0) break;
        if (r < 0 || len < 0 || len > (long long)KV_MAX_BULK) return violation(c, "invalid bulk length");
        if (c->mb_bytes + (at - pos) + (size_t)len + 2 > KV_MAX_COMMAND) return violation(c, "command too big");
        if (c->inlen - at < (size_t)len + 2) break;
        if (c->in[at + len] != '\r' || c->in[at + len + 1] != '\n')
            return violation(c, "bulk not terminated by CRLF");
        add_arg(c, at - c->inpos, (size_t)len);
        c->mb_bytes += at - pos + (size_t)len + 2;
        pos = at + (size_t)len + 2;
        c->mb_left--;
    }
    c->mb_pos = pos - c->inpos;
    if (c->mb_left) return 0;
    args_resolve(c);
    c->inpos = pos;
    c->mb_pos = 0;
    return 1;
}

static int parse_inline(kv_conn *c) {
    char *p = c->in + c->inpos, *end = c->in + c->inlen;
    size_t avail = (size_t)(end - p);
    char *nl = memchr(p, '\n', avail > KV_MAX_INLINE ? KV_MAX_INLINE : avail);
    if (!nl) return avail >= KV_MAX_INLINE ? violation(c, "too big inline request") : 0;
    char *lend = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
    c->argc = 0;
    while (p < lend) {
        while (p < lend && (*p == ' ' || *p == '\t')) p++;
        char *w = p;
        while (p < lend && *p != ' ' && *p != '\t') p++;
        if (p > w) add_arg(c, (size_t)(w - (c->in + c->inpos)), (size_t)(p - w));
    }
    args_resolve(c);
    c->inpos = (size_t)(nl + 1 - c->in);
    return 1;
}

int kv_parse(kv_conn *c) {
    for (;;) {
        if (c->inpos >= c->inlen) return 0;
        int r = c->mb_left || c->in[c->inpos] == '*' ? parse_multibulk(c) : parse_inline(c);
        if (r != 1 || c->argc > 0) return r;
        /* an empty line or "*0": nothing to run, as in Redis */
    }
}

void kv_reply_raw(kv_conn *c, const char *p, size_t n) {
    if (c->outlen + n > c->outcap) {
        size_t cap = c->outcap ? c->outcap : 16384;
        while (cap < c->outlen + n) cap *= 2;
        c->out = xrealloc(c->out, cap);
        c->outcap = cap;
    }
    memcpy(c->out + c->outlen, p, n);
    c->outlen += n;
}

void kv_reply_simple(kv_conn *c, const char *s) {
    char buf[256];
    int n = snprintf(buf, sizeof buf, "+%s\r\n", s);
    kv_reply_raw(c, buf, (size_t)n);
}

void kv_reply_error(kv_conn *c, const char *fmt, ...) {
    char msg[480], buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* an error line must not break the framing */
    for (char *p = msg; *p; p++)
        if (*p == '\r' || *p == '\n') *p = ' ';
    int plain = strncmp(msg, "ERR", 3) != 0 && strncmp(msg, "WRONGTYPE", 9) != 0 && strncmp(msg, "OOM ", 4) != 0;
    int n = snprintf(buf, sizeof buf, "-%s%s\r\n", plain ? "ERR " : "", msg);
    kv_reply_raw(c, buf, (size_t)n);
}

void kv_reply_int(kv_conn *c, int64_t v) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, ":%lld\r\n", (long long)v);
    kv_reply_raw(c, buf, (size_t)n);
}

void kv_reply_bulk(kv_conn *c, const char *p, size_t n) {
    char buf[32];
    int h = snprintf(buf, sizeof buf, "$%zu\r\n", n);
    kv_reply_raw(c, buf, (size_t)h);
    kv_reply_raw(c, p, n);
    kv_reply_raw(c, "\r\n", 2);
}

void kv_reply_nil(kv_conn *c) { kv_reply_raw(c, "$-1\r\n", 5); }

void kv_reply_array(kv_conn *c, size_t n) {
    char buf[32];
    int h = snprintf(buf, sizeof buf, "*%zu\r\n", n);
    kv_reply_raw(c, buf, (size_t)h);
}
