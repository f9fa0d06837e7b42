/*
 * resp.c: the Redis wire protocol, RESP2. Requests are multibulk arrays
 * (*N\r\n$len\r\narg\r\n...) as redis-cli and redis-benchmark send them, or inline lines
 * (words separated by spaces) as typed into telnet. Replies are appended to the
 * connection's output buffer and written by server.c.
 *
 * Invariants: parsing never consumes a partial command (c->inpos moves only past a
 * complete one), so a command split across reads is parsed again from its start; argv
 * points into c->in and is valid until the next read compacts the buffer. Buffers are
 * malloc'd and hold no GC pointers.
 */
#include "kvcache.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KV_MAX_BULK (512u << 20)   /* Redis's proto-max-bulk-len */
#define KV_MAX_ARGS (1u << 20)
#define KV_MAX_INLINE (64u << 10)

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "kvcache: out of memory (malloc %zu)\n", n);
        abort();
    }
    return q;
}

static void add_arg(kv_conn *c, const char *p, size_t n) {
    if (c->argc == c->argcap) {
        c->argcap = c->argcap ? c->argcap * 2 : 16;
        c->argv = xrealloc(c->argv, c->argcap * sizeof *c->argv);
        c->argl = xrealloc(c->argl, c->argcap * sizeof *c->argl);
    }
    c->argv[c->argc] = p;
    c->argl[c->argc++] = n;
}

/* Reads a "<prefix><integer>\r\n" line at *pos. 1 ok, 0 incomplete, -1 malformed. */
static int read_len_line(kv_conn *c, size_t *pos, char prefix, long long *out) {
    const char *p = c->in + *pos, *end = c->in + c->inlen;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return (size_t)(end - p) > 64 ? -1 : 0;
    if (*p != prefix || nl - p < 3 || nl[-1] != '\r') return -1;
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

static int parse_multibulk(kv_conn *c) {
    size_t pos = c->inpos;
    long long n;
    int r = read_len_line(c, &pos, '*', &n);
    if (r <= 0) {
        if (r < 0) kv_reply_error(c, "Protocol error: invalid multibulk length");
        return r;
    }
    if (n > (long long)KV_MAX_ARGS) {
        kv_reply_error(c, "Protocol error: invalid multibulk length");
        return -1;
    }
    c->argc = 0;
    for (long long i = 0; i < n; i++) {
        long long len;
        if (pos >= c->inlen) return 0;
        if (c->in[pos] != '$') {
            kv_reply_error(c, "Protocol error: expected '$', got '%c'", c->in[pos]);
            return -1;
        }
        r = read_len_line(c, &pos, '$', &len);
        if (r <= 0 || len < 0 || len > (long long)KV_MAX_BULK) {
            if (r == 0) return 0;
            kv_reply_error(c, "Protocol error: invalid bulk length");
            return -1;
        }
        if (c->inlen - pos < (size_t)len + 2) return 0;
        if (c->in[pos + len] != '\r' || c->in[pos + len + 1] != '\n') {
            kv_reply_error(c, "Protocol error: bulk not terminated by CRLF");
            return -1;
        }
        add_arg(c, c->in + pos, (size_t)len);
        pos += (size_t)len + 2;
    }
    c->inpos = pos;
    return 1;
}

static int parse_inline(kv_conn *c) {
    char *p = c->in + c->inpos, *end = c->in + c->inlen;
    char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) {
        if ((size_t)(end - p) > KV_MAX_INLINE) {
            kv_reply_error(c, "Protocol error: too big inline request");
            return -1;
        }
        return 0;
    }
    char *lend = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
    c->argc = 0;
    while (p < lend) {
        while (p < lend && (*p == ' ' || *p == '\t')) p++;
        char *w = p;
        while (p < lend && *p != ' ' && *p != '\t') p++;
        if (p > w) add_arg(c, w, (size_t)(p - w));
    }
    c->inpos = (size_t)(nl + 1 - c->in);
    return 1;
}

int kv_parse(kv_conn *c) {
    for (;;) {
        if (c->inpos >= c->inlen) return 0;
        int r = c->in[c->inpos] == '*' ? parse_multibulk(c) : parse_inline(c);
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
    int plain = strncmp(msg, "ERR", 3) != 0 && strncmp(msg, "WRONGTYPE", 9) != 0;
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
