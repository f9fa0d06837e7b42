/*
 * barrier.c: the cost of GC_STORE with marking off, against a plain store. The loop
 * stores a pointer into a field of each of 1 M objects (the pattern of a program updating
 * its data structures, not a memset the compiler could vectorize); median of 9 rounds of
 * each, interleaved. gcrt only.
 *
 * usage: barrier_gcrt [n=1000000] [rounds=9]
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

#if !defined(USE_GCRT)
#error "barrier.c measures gcrt's write barrier"
#endif

typedef struct obj {
    struct obj *field;
    uint64_t pad[7];
} obj;

static __attribute__((noinline)) void plain_loop(obj **v, size_t n, obj *x) {
    for (size_t i = 0; i < n; i++) v[i]->field = x;
}

static __attribute__((noinline)) void barrier_loop(obj **v, size_t n, obj *x) {
    for (size_t i = 0; i < n; i++) GC_STORE(v[i]->field, x);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    bench_gc_init(argc, argv);
    gc_set_percent(-1);   /* marking stays off: this measures the barrier's off state */
    size_t n = (size_t)arg_long(argc, argv, "n", 1000000);
    int rounds = (int)arg_long(argc, argv, "rounds", 9);
    obj **v = gc_alloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = gc_alloc(sizeof(obj));
    obj *a = gc_alloc(sizeof(obj)), *b = gc_alloc(sizeof(obj));
    double tp[64], tb[64];
    plain_loop(v, n, a);   /* warm up: touch everything */
    barrier_loop(v, n, b);
    for (int r = 0; r < rounds && r < 64; r++) {
        uint64_t t0 = now_ns();
        plain_loop(v, n, (r & 1) ? a : b);
        uint64_t t1 = now_ns();
        barrier_loop(v, n, (r & 1) ? b : a);
        uint64_t t2 = now_ns();
        tp[r] = (double)(t1 - t0) / (double)n;
        tb[r] = (double)(t2 - t1) / (double)n;
    }
    qsort(tp, (size_t)rounds, sizeof *tp, cmp_d);
    qsort(tb, (size_t)rounds, sizeof *tb, cmp_d);
    printf("RESULT bench=barrier impl=gcrt n=%zu plain_ns=%.3f barrier_ns=%.3f ratio=%.3f\n", n, tp[rounds / 2],
           tb[rounds / 2], tb[rounds / 2] / tp[rounds / 2]);
    gc_keep_alive(v);
    return 0;
}
