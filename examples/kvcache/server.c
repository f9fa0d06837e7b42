/*
 * server.c: kvcache's threads and main.
 *
 *   build/kvcache [-p PORT] [-t THREADS] [-m MAXMEMORY]
 *
 * Serves RESP2 on 127.0.0.1:PORT (0: a free port, printed on stdout). THREADS worker
 * threads (default: online CPUs), each with its own epoll loop; the listening socket is in
 * every loop with EPOLLEXCLUSIVE, so one worker wakes per new connection, and a connection
 * stays with the worker that accepted it. MAXMEMORY (Go's GOMEMLIMIT syntax) sets the
 * memory limit, as the GOMEMLIMIT variable does; with a limit the table evicts
 * (table.c) and the housekeeping loop keeps the heap goal near the limit.
 *
 * Invariants:
 *  - Workers and the housekeeping loop are registered threads (gc_pthread_create, and
 *    main after gc_init): every thread that touches the table is.
 *  - gc_read_memstats stops the world, so no request calls it except INFO; the
 *    housekeeping loop samples it every KV_TICK_MS to track the heap's peak and to set GOGC.
 *  - Blocking calls (epoll_wait, read, write) may return EINTR when a collection stops the
 *    thread with a signal; every one retries.
 *  - A worker runs a connection's pipelined commands a slice at a time (KV_SLICE_*: until
 *    1 MiB of output is pending, 4 MiB of input or 1024 commands were taken): a connection
 *    with more is paused (not read) and queued on its worker's ready list, and the worker
 *    goes back to epoll between slices. Running all of them at once let one client that
 *    pipelined GETs of big values keep its worker (and every other client of it) for as
 *    long as generating all the replies took, and its output buffer grew to all of them.
 *  - Connection buffers of more than KV_BUF_KEEP are freed once empty, so that a client
 *    that once sent or fetched a big value does not keep its memory.
 *  - SIGTERM and SIGINT end the server with exit(0) from the housekeeping loop, not the
 *    signal's default action: exit() raises gcrt's idle-priority helpers first, and a
 *    server killed beside CPU hogs otherwise took seconds to be reaped (issue 17).
 */
#define _GNU_SOURCE
#include "kvcache.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KV_MAX_WORKERS 64
#define KV_PENDING_MAX (1u << 20)   /* stop reading a client with this much unsent output */
#ifndef KV_SLICE_OUTPUT   /* -DKV_SLICE_OUTPUT=SIZE_MAX etc. for the unsliced comparison (docs/soak.md) */
#define KV_SLICE_OUTPUT ((size_t)1 << 20)
#define KV_SLICE_INPUT ((size_t)4 << 20)
#define KV_SLICE_COMMANDS 1024
#endif
#ifndef KV_BUF_KEEP
#define KV_BUF_KEEP ((size_t)256 << 10)
#endif
#define KV_IN_MAX (KV_MAX_COMMAND + ((size_t)64 << 10))   /* one command within the limits, and a read */
#define KV_GOAL_FRACTION 0.97       /* the heap goal the housekeeping loop aims GOGC at */
#ifndef KV_SAMPLE_MS
#define KV_SAMPLE_MS 10             /* gc_read_memstats (a stop-the-world) with a limit */
#endif

typedef struct kv_worker {
    int epfd;
    kv_conn *ready, *ready_tail;   /* paused connections with commands to run */
    _Atomic uint64_t commands, connections, clients;
    char pad[64];
} kv_worker;

static kv_worker workers[KV_MAX_WORKERS];
static int nworkers, listen_fd, port;
static int64_t start_ms, maxmemory;
static int user_percent = 100, cur_percent = 100;
static pthread_mutex_t peak_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t peak_heap_alloc, peak_heap_inuse;

static void die(const char *what) {
    fprintf(stderr, "kvcache: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void note_peak(const gc_memstats_t *ms) {
    pthread_mutex_lock(&peak_lock);
    if (ms->heap_alloc > peak_heap_alloc) peak_heap_alloc = ms->heap_alloc;
    if (ms->heap_inuse > peak_heap_inuse) peak_heap_inuse = ms->heap_inuse;
    pthread_mutex_unlock(&peak_lock);
}

/* ---- connections ---- */

static void ready_push(kv_worker *w, kv_conn *c) {
    if (c->rprev || w->ready == c) return;   /* queued already */
    c->rnext = NULL;
    c->rprev = w->ready_tail;
    if (w->ready_tail) w->ready_tail->rnext = c;
    else w->ready = c;
    w->ready_tail = c;
}

static void ready_remove(kv_worker *w, kv_conn *c) {
    if (!c->rprev && w->ready != c) return;
    if (c->rprev) c->rprev->rnext = c->rnext;
    else w->ready = c->rnext;
    if (c->rnext) c->rnext->rprev = c->rprev;
    else w->ready_tail = c->rprev;
    c->rnext = c->rprev = NULL;
}

static void conn_close(kv_worker *w, kv_conn *c) {
    ready_remove(w, c);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->closing) {
        /* A client told why (a protocol error): the rest of its request, already here,
         * is read away first, since a close with unread input resets the connection and
         * the client's kernel would drop the error reply unread. */
        char sink[16384];
        shutdown(c->fd, SHUT_WR);
        for (int i = 0; i < 64 && read(c->fd, sink, sizeof sink) > 0; i++) {}
    }
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c->argv);
    free(c->argl);
    free(c->argo);
    free(c);
    atomic_fetch_sub_explicit(&w->clients, 1, memory_order_relaxed);
}

/* Writes what it can; returns -1 if the connection is gone. */
static int conn_flush(kv_conn *c) {
    while (c->outpos < c->outlen) {
        ssize_t n = write(c->fd, c->out + c->outpos, c->outlen - c->outpos);
        if (n > 0) {
            c->outpos += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        } else {
            return -1;
        }
    }
    c->outpos = c->outlen = 0;
    return 0;
}

/* Reads once; returns -1 to close. */
static int conn_read(kv_conn *c) {
    if (c->inpos > 0) {   /* argv of earlier commands is dead now: compact */
        memmove(c->in, c->in + c->inpos, c->inlen - c->inpos);
        c->inlen -= c->inpos;
        c->inpos = 0;
    }
    if (c->incap - c->inlen < 4096) {
        size_t cap = c->incap ? c->incap * 2 : 16384;
        if (cap > KV_IN_MAX) cap = KV_IN_MAX;
        if (cap <= c->incap) return -1;   /* cannot happen: the parser's limits keep a command smaller */
        char *p = realloc(c->in, cap);
        if (!p) return -1;
        c->in = p;
        c->incap = cap;
    }
    ssize_t n;
    do n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
    while (n < 0 && errno == EINTR);
    if (n == 0) return -1;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    c->inlen += (size_t)n;
    return 0;
}

/* Runs one slice of the complete commands in c->in; c->paused when it stopped with input
 * left. */
static void conn_run(kv_worker *w, kv_conn *c) {
    uint64_t ran = 0;
    size_t from = c->inpos;
    c->paused = 0;
    while (!c->closing) {
        if (c->outlen - c->outpos >= KV_SLICE_OUTPUT || ran >= KV_SLICE_COMMANDS || c->inpos - from >= KV_SLICE_INPUT) {
            c->paused = c->inpos < c->inlen;
            break;
        }
        int r = kv_parse(c);
        if (r == 0) break;
        if (r < 0) {
            c->closing = 1;
            break;
        }
        kv_execute(c);
        ran++;
    }
    atomic_fetch_add_explicit(&w->commands, ran, memory_order_relaxed);
}

/* Drops a big buffer once it is empty. */
static void conn_trim(kv_conn *c) {
    if (c->inpos == c->inlen && c->incap > KV_BUF_KEEP && !c->mb_left) {
        free(c->in);
        c->in = NULL;
        c->inpos = c->inlen = c->incap = 0;
    }
    if (c->outpos == c->outlen && c->outcap > KV_BUF_KEEP) {
        free(c->out);
        c->out = NULL;
        c->outpos = c->outlen = c->outcap = 0;
    }
}

static void conn_event(kv_worker *w, kv_conn *c, uint32_t ev) {
    if (!c->paused && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && conn_read(c) < 0) return conn_close(w, c);
    conn_run(w, c);
    if (conn_flush(c) < 0) return conn_close(w, c);
    size_t pending = c->outlen - c->outpos;
    if (c->closing && !pending) return conn_close(w, c);
    conn_trim(c);
    if (c->paused && pending < KV_SLICE_OUTPUT) ready_push(w, c);   /* else EPOLLOUT resumes it */
    uint32_t want = (pending > KV_PENDING_MAX || c->closing || c->paused ? 0 : EPOLLIN) | (pending ? EPOLLOUT : 0);
    if (want != c->events) {
        struct epoll_event e = {.events = want, .data.ptr = c};
        if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &e) != 0) return conn_close(w, c);
        c->events = want;
    }
}

static void accept_all(kv_worker *w) {
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) perror("kvcache: accept");
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        kv_conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->events = EPOLLIN;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
            close(fd);
            free(c);
            continue;
        }
        atomic_fetch_add_explicit(&w->clients, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&w->connections, 1, memory_order_relaxed);
    }
}

static void *worker_main(void *arg) {
    kv_worker *w = arg;
    struct epoll_event ev[128];
    for (;;) {
        int n = epoll_wait(w->epfd, ev, 128, w->ready ? 0 : -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == NULL) accept_all(w);
            else conn_event(w, ev[i].data.ptr, ev[i].events);
        }
        /* One slice for each connection queued before now; a slice may queue its own
         * connection again, at the tail. */
        kv_conn *last = w->ready_tail;
        while (w->ready) {
            kv_conn *c = w->ready;
            ready_remove(w, c);
            conn_event(w, c, 0);
            if (c == last) break;
        }
    }
    return NULL;
}

/* ---- INFO ---- */

static size_t human(char *b, size_t cap, uint64_t v) {
    const char *u = "BKMGT";
    double d = (double)v;
    int i = 0;
    while (d >= 1024 && i < 4) d /= 1024, i++;
    return (size_t)(i ? snprintf(b, cap, "%.2f%c", d, u[i]) : snprintf(b, cap, "%lluB", (unsigned long long)v));
}

static uint64_t rss_bytes(void) {
    unsigned long long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &res) != 2) res = 0;
        fclose(f);
    }
    return res * (uint64_t)sysconf(_SC_PAGESIZE);
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

__attribute__((format(printf, 2, 3))) static void put(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0) b->len += (size_t)n < b->cap - b->len ? (size_t)n : b->cap - b->len - 1;
}

static void put_bytes(sbuf *b, const char *name, uint64_t v) {
    char h[32];
    human(h, sizeof h, v);
    put(b, "%s:%llu\r\n%s_human:%s\r\n", name, (unsigned long long)v, name, h);
}

static int want(const char *section, const char *name) {
    return !strcmp(section, name) || !strcmp(section, "all") || !strcmp(section, "default") ||
           !strcmp(section, "everything") || !*section;
}

size_t kv_info(char *buf, size_t cap, const char *section) {
    sbuf b = {buf, 0, cap};
    buf[0] = 0;
    uint64_t clients = 0, commands = 0, conns = 0;
    for (int i = 0; i < nworkers; i++) {
        clients += atomic_load_explicit(&workers[i].clients, memory_order_relaxed);
        commands += atomic_load_explicit(&workers[i].commands, memory_order_relaxed);
        conns += atomic_load_explicit(&workers[i].connections, memory_order_relaxed);
    }
    kv_counters kc;
    kv_read_counters(&kc);
    if (want(section, "server")) {
        put(&b, "# Server\r\nredis_version:7.0.0\r\nkvcache_version:0.1.0\r\nredis_mode:standalone\r\n"
                "multiplexing_api:epoll\r\narch_bits:64\r\nprocess_id:%d\r\ntcp_port:%d\r\n"
                "uptime_in_seconds:%lld\r\nio_threads_active:%d\r\n\r\n",
            (int)getpid(), port, (long long)(kv_now_ms() - start_ms) / 1000, nworkers);
    }
    if (want(section, "clients")) put(&b, "# Clients\r\nconnected_clients:%llu\r\n\r\n", (unsigned long long)clients);
    if (want(section, "memory")) {
        gc_memstats_t ms;
        gc_read_memstats(&ms);
        note_peak(&ms);
        pthread_mutex_lock(&peak_lock);
        uint64_t peak = peak_heap_alloc, peak_inuse = peak_heap_inuse;
        pthread_mutex_unlock(&peak_lock);
        uint64_t last_pause = ms.num_gc ? ms.pause_ns[(ms.num_gc + 255) % 256] : 0;
        put(&b, "# Memory\r\n");
        put_bytes(&b, "used_memory", ms.heap_alloc);
        put_bytes(&b, "used_memory_rss", rss_bytes());
        put_bytes(&b, "used_memory_peak", peak);
        put(&b, "used_memory_dataset:%lld\r\n", (long long)kv_used_bytes());
        put_bytes(&b, "maxmemory", (uint64_t)maxmemory);
        put(&b, "maxmemory_policy:%s\r\nmem_allocator:gcrt\r\n", maxmemory ? "allkeys-lru" : "noeviction");
        put(&b, "gc_sys:%llu\r\ngc_heap_sys:%llu\r\ngc_heap_inuse:%llu\r\ngc_heap_inuse_peak:%llu\r\n"
                "gc_heap_idle:%llu\r\ngc_heap_released:%llu\r\ngc_heap_objects:%llu\r\ngc_next_gc:%llu\r\n"
                "gc_total_alloc:%llu\r\ngc_mallocs:%llu\r\ngc_frees:%llu\r\ngc_num_gc:%u\r\n"
                "gc_num_forced_gc:%u\r\ngc_pause_total_ns:%llu\r\ngc_pause_max_ns:%llu\r\n"
                "gc_last_pause_ns:%llu\r\ngc_cpu_fraction:%.6f\r\ngc_percent:%d\r\ngc_data_budget:%lld\r\n\r\n",
            (unsigned long long)ms.sys, (unsigned long long)ms.heap_sys, (unsigned long long)ms.heap_inuse,
            (unsigned long long)peak_inuse, (unsigned long long)ms.heap_idle,
            (unsigned long long)ms.heap_released, (unsigned long long)ms.heap_objects,
            (unsigned long long)ms.next_gc, (unsigned long long)ms.total_alloc, (unsigned long long)ms.mallocs,
            (unsigned long long)ms.frees, ms.num_gc, ms.num_forced_gc, (unsigned long long)ms.pause_total_ns,
            (unsigned long long)ms.pause_max_ns, (unsigned long long)last_pause, ms.gc_cpu_fraction,
            __atomic_load_n(&cur_percent, __ATOMIC_RELAXED), (long long)kv_budget());
    }
    if (want(section, "stats")) {
        put(&b, "# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
                "expired_keys:%llu\r\nevicted_keys:%llu\r\noom_rejected_commands:%llu\r\n\r\n",
            (unsigned long long)conns, (unsigned long long)commands, (unsigned long long)kc.expired,
            (unsigned long long)kc.evicted, (unsigned long long)kv_oom_count());
    }
    if (want(section, "keyspace")) {
        put(&b, "# Keyspace\r\n");
        if (kc.keys) put(&b, "db0:keys=%llu,expires=%llu,avg_ttl=0\r\n", (unsigned long long)kc.keys,
                         (unsigned long long)kc.expires);
    }
    while (b.len >= 4 && b.p[b.len - 1] == '\n' && b.p[b.len - 3] == '\n') b.len -= 2;   /* no trailing blank line */
    return b.len;
}

/* ---- housekeeping ---- */

/* Aims the heap goal at KV_GOAL_FRACTION of the limit: with live data L the goal is about
 * L x (1 + GOGC/100), so GOGC = 100 x (goal / L - 1), within [10, the user's GOGC]. This
 * is what Go programs did before the runtime had a memory limit; with a runtime that also
 * acts on GOMEMLIMIT the two agree. */
static void tune_gogc(void) {
    if (user_percent < 0) return;
    double live = (double)kv_used_bytes() * 1.05 + (1 << 20);
    double pct = 100.0 * ((double)maxmemory * KV_GOAL_FRACTION / live - 1.0);
    int p = pct < 10 ? 10 : pct > user_percent ? user_percent : (int)pct;
    if (p > cur_percent + 1 || p < cur_percent - 1) {
        gc_set_percent(p);
        __atomic_store_n(&cur_percent, p, __ATOMIC_RELAXED);
    }
}

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

static void housekeeping(void) {
    const int tick_ms = maxmemory ? 5 : 50;
    int64_t last_expire = 0, last_sample = 0;
    for (;;) {
        struct timespec ts = {0, tick_ms * 1000000L};
        nanosleep(&ts, NULL);
        if (stop_signal) exit(0);
        int64_t now = kv_now_ms();
        if (now - last_expire >= 100) {
            kv_expire_step();
            last_expire = now;
        }
        if (maxmemory) {
            kv_evict_if_needed(1 << 20);
            tune_gogc();
        }
        if (now - last_sample >= (maxmemory ? KV_SAMPLE_MS : 100)) {
            gc_memstats_t ms;
            gc_read_memstats(&ms);
            note_peak(&ms);
            last_sample = now;
        }
    }
}

/* ---- main ---- */

static int64_t parse_size(const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0) return -1;
    static const struct { const char *sfx; double mul; } u[] = {
        {"", 1}, {"B", 1}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
        {"k", 1024.0}, {"m", 1048576.0}, {"g", 1073741824.0}, {"kb", 1024.0}, {"mb", 1048576.0}, {"gb", 1073741824.0}};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        if (!strcmp(end, u[i].sfx)) return (int64_t)(v * u[i].mul);
    return -1;
}

static void usage(void) {
    fprintf(stderr, "usage: kvcache [-p PORT] [-t THREADS] [-m MAXMEMORY]\n"
                    "  -p PORT       port on 127.0.0.1 (default 6379; 0 picks a free one, printed on stdout)\n"
                    "  -t THREADS    worker threads (default: online CPUs)\n"
                    "  -m MAXMEMORY  memory limit like GOMEMLIMIT (e.g. 64MiB); keys are evicted near it\n");
    exit(2);
}

int main(int argc, char **argv) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cpus > 0 ? (int)cpus : 1;
    int64_t mflag = -1;
    port = 6379;
    int opt;
    while ((opt = getopt(argc, argv, "p:t:m:h")) != -1) {
        char *end;
        switch (opt) {
        case 'p':
            port = (int)strtol(optarg, &end, 10);
            if (*end || port < 0 || port > 65535) usage();
            break;
        case 't':
            threads = (int)strtol(optarg, &end, 10);
            if (*end || threads < 1 || threads > KV_MAX_WORKERS) usage();
            break;
        case 'm':
            if ((mflag = parse_size(optarg)) <= 0) usage();
            break;
        default:
            usage();
        }
    }
    if (optind != argc) usage();
    /* At start-up a failed allocation (a refused mapping: GCRT_FAULT_MMAP) is tried again
     * for a while, as kv_table_init does: there is nothing to give up instead. */
    int r = gc_init();
    for (int i = 0; r == -ENOMEM && i < 1000; i++) r = gc_init();
    if (r != 0) {
        fprintf(stderr, "kvcache: gc_init failed: %s\n", strerror(-r));
        return 1;
    }
    if (mflag > 0) gc_set_memory_limit(mflag);
    int64_t lim = gc_set_memory_limit(-1);
    maxmemory = lim == INT64_MAX ? 0 : lim;
    user_percent = cur_percent = gc_set_percent(100);
    gc_set_percent(user_percent);
    kv_table_init(maxmemory);
    start_ms = kv_now_ms();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction stop = {.sa_handler = on_stop_signal, .sa_flags = SA_RESTART};
    sigemptyset(&stop.sa_mask);
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGINT, &stop, NULL);

    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0) die("socket");
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);   /* local only */
    if (bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0) die("bind 127.0.0.1");
    if (listen(listen_fd, 511) != 0) die("listen");
    socklen_t sl = sizeof sa;
    if (getsockname(listen_fd, (struct sockaddr *)&sa, &sl) == 0) port = ntohs(sa.sin_port);

    nworkers = threads;
    for (int i = 0; i < nworkers; i++) {
        kv_worker *w = &workers[i];
        if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) die("epoll_create1");
        struct epoll_event e = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, listen_fd, &e) != 0) die("epoll_ctl");
        pthread_t t;
        r = gc_pthread_create(&t, NULL, worker_main, w);
        for (int k = 0; (r == -ENOMEM || r == -EAGAIN) && k < 1000; k++) r = gc_pthread_create(&t, NULL, worker_main, w);
        if (r != 0) {
            errno = r < 0 ? -r : r;
            die("gc_pthread_create");
        }
        pthread_detach(t);
    }
    printf("kvcache: listening on 127.0.0.1:%d (%d threads, maxmemory %lld)\n", port, nworkers, (long long)maxmemory);
    fflush(stdout);
    housekeeping();
    return 0;
}
