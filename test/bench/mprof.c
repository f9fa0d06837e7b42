/*
 * mprof.c: the heap profiler's per-sample costs (gcrt only).
 *
 *   mprof_gcrt stack depth=D n=N   one stack capture at call depth D, by libunwind
 *                                  (unw_backtrace) and by frame pointers (this file is
 *                                  built with -fno-omit-frame-pointer): ns per capture
 *   mprof_gcrt sample n=N          a whole sampled allocation (rate 1: every allocation
 *                                  is a sample): ns per allocation, with each method
 *
 * -> RESULT bench=mprof-stack depth=D unw_ns=.. fp_ns=.. unw_frames=.. fp_frames=..
 *    RESULT bench=mprof-sample unw_ns=.. fp_ns=.. off_ns=..
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long n = 200000;
static unsigned frames[2];
static double cost[2];

__attribute__((noinline)) static void leaf(gcrt_thread *t) {
    uintptr_t pcs[GCRT_MPROF_DEPTH];
    for (int m = 0; m < 2; m++) {
        double t0 = now_ns();
        for (long i = 0; i < n; i++) frames[m] = gcrt_mprof_callers(t, pcs, GCRT_MPROF_DEPTH, m == 1);
        cost[m] = (now_ns() - t0) / (double)n;
    }
}

__attribute__((noinline)) static void descend(gcrt_thread *t, int d) {
    if (d <= 1) leaf(t);
    else descend(t, d - 1);
    __asm__ volatile("" ::: "memory");   /* no tail call: every level keeps its frame */
}

static void *volatile sink;
__attribute__((noinline)) static double sample_loop(long count) {
    double t0 = now_ns();
    for (long i = 0; i < count; i++) sink = gc_alloc(64);
    return (now_ns() - t0) / (double)count;
}

int main(int argc, char **argv) {
    gc_init();
    int depth = 10;
    bool sample = false;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "depth=", 6)) depth = atoi(argv[i] + 6);
        else if (!strncmp(argv[i], "n=", 2)) n = atol(argv[i] + 2);
        else if (!strcmp(argv[i], "sample")) sample = true;
    }
    if (!sample) {
        descend(gcrt_self, depth);
        printf("RESULT bench=mprof-stack depth=%d unw_ns=%.0f fp_ns=%.0f unw_frames=%u fp_frames=%u\n", depth, cost[0],
               cost[1], frames[0], frames[1]);
        return 0;
    }
    gc_set_mem_profile_rate(0);
    sample_loop(n);   /* warm: the heap grown, the caches filled */
    double off = sample_loop(n);
    gc_set_mem_profile_rate(1);
    double unw = sample_loop(n);
    gcrt_gc.memprofilefp = 1;
    double fp = sample_loop(n);
    printf("RESULT bench=mprof-sample unw_ns=%.0f fp_ns=%.0f off_ns=%.1f\n", unw, fp, off);
    return 0;
}
