/*
 * benchmem.c: allocs/op and B/op for C benchmarks, as `go test -bench . -benchmem` prints
 * them. Each benchmark runs b.N times, N grown as Go's testing package grows it (until a
 * run takes BENCHTIME, default 0.2 s: BENCHTIME=1 for Go's 1 s), and the allocation
 * counters of the calling thread (gc_alloc_counts: no stop, no lock) are divided by N.
 *
 *   build/examples/benchmem            BenchmarkName  N  ns/op  B/op  allocs/op
 *
 * The three benchmarks show what the figures are for: building a 16-node list costs 16
 * allocations of 32 bytes; appending to a growing buffer costs one allocation per doubling;
 * taking the buffer from a gc_pool and giving it back costs nothing once the pool is warm.
 * Exit status 0 when each benchmark's allocs/op and B/op are what its code allocates.
 */
#include "gcrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct node {
    struct node *next;
    long value;
    long pad[2];   /* 32 bytes: a size class of its own, so B/op is exact */
} node;

static void *volatile sink;   /* keeps results from being optimised away */

static void bench_list(long n) {
    for (long i = 0; i < n; i++) {
        node *h = NULL;
        for (int k = 0; k < 16; k++) {
            node *x = gc_alloc(sizeof *x);
            x->value = k;
            x->next = h;
            h = x;
        }
        sink = h;
    }
}

/* A string builder: start at 16 bytes and double, 1000 bytes appended a byte at a time. */
static char *append(char *buf, size_t *cap, size_t len, char c) {
    if (len == *cap) {
        *cap *= 2;
        buf = gc_realloc(buf, *cap);
    }
    buf[len] = c;
    return buf;
}

static void bench_builder(long n) {
    for (long i = 0; i < n; i++) {
        size_t cap = 16, len = 0;
        char *buf = gc_alloc_noscan(cap);
        for (int k = 0; k < 1000; k++) buf = append(buf, &cap, len++, (char)('a' + k % 26));
        sink = buf;
    }
}

static void *new_buffer(void *ctx) {
    (void)ctx;
    return gc_alloc_noscan(1024);
}
static gc_pool_t *pool;

static void bench_pooled(long n) {
    for (long i = 0; i < n; i++) {
        char *buf = gc_pool_get(pool);
        memset(buf, 'x', 1000);
        sink = buf;
        gc_pool_put(pool, buf);
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct result {
    long n;
    double ns_op, b_op, allocs_op;
} result;

/* Go's testing.B: run with N = 1, then grow N towards the target time (at most 100x per
 * step, 1.2x the prediction), report the last run. */
static result run(const char *name, void (*fn)(long), double benchtime) {
    result r = {0, 0, 0, 0};
    long n = 1;
    for (;;) {
        uint64_t o0, b0, o1, b1;
        gc_alloc_counts(&o0, &b0);
        double t0 = now();
        fn(n);
        double t = now() - t0;
        gc_alloc_counts(&o1, &b1);
        r = (result){n, t * 1e9 / (double)n, (double)(b1 - b0) / (double)n, (double)(o1 - o0) / (double)n};
        if (t >= benchtime || n >= 1000000000) break;
        double pred = t > 0 ? (double)n * benchtime / t * 1.2 : (double)n * 100;
        long next = pred > (double)n * 100 ? n * 100 : (long)pred;
        n = next > n ? next : n + 1;
    }
    printf("%-24s %10ld %12.1f ns/op %10.0f B/op %8.0f allocs/op\n", name, r.n, r.ns_op, r.b_op, r.allocs_op);
    return r;
}

int main(void) {
    gc_init();
    const char *bt = getenv("BENCHTIME");
    double benchtime = bt ? atof(bt) : 0.2;
    if (benchtime <= 0) benchtime = 0.2;
    pool = gc_pool_new(new_buffer, NULL);
    int bad = 0;

    result r = run("BenchmarkList16", bench_list, benchtime);
    if (r.allocs_op != 16 || r.b_op != 16 * 32) bad++, printf("  want 16 allocs/op, 512 B/op\n");

    /* 16 -> 1024 bytes: 6 reallocations after the first 16-byte buffer; gc_realloc keeps
     * a buffer that still fits its slot. Sizes 16+32+...+1024 = 2032 B/op. */
    r = run("BenchmarkBuilder1000", bench_builder, benchtime);
    if (r.allocs_op != 7 || r.b_op != 2032) bad++, printf("  want 7 allocs/op, 2032 B/op\n");

    /* The pool's victim cache drops idle buffers at collections: one buffer per cycle at
     * most, so well under one allocation per op. */
    r = run("BenchmarkPooled", bench_pooled, benchtime);
    if (r.allocs_op > 0.01) bad++, printf("  want ~0 allocs/op\n");

    uint64_t objs, bytes;
    gc_alloc_counts_process(&objs, &bytes);
    printf("process: %llu objects, %llu bytes allocated\n", (unsigned long long)objs, (unsigned long long)bytes);
    if (bad) return 1;
    printf("benchmem: ok\n");
    return 0;
}
