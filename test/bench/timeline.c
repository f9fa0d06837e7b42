/*
 * timeline.c: the GC timeline's per-event costs (GODEBUG=gctracefile; gcrt only).
 *
 *   timeline_gcrt [threads=T] [batches=B]   with GODEBUG=gctracefile=PATH: each of T threads
 *       records batches of 8000 events (a pair of clock reads and a ring slot each, as
 *       a site does: gcrt_tl_now ... gcrt_tl_end), then one gc_collect writes them out.
 *       Without the knob the same sites cost their branch only.
 *
 * -> RESULT bench=timeline on=0|1 threads=T record_ns=.. write_ns=.. (ns per event; write
 *    is a batch's gc_collect less an empty one's, over the batch)
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 8000

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long arg(int argc, char **argv, const char *k, long d) {
    size_t n = strlen(k);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], k, n) && argv[i][n] == '=') return atol(argv[i] + n + 1);
    return d;
}

static int nthreads;
static pthread_barrier_t bar;

static void *recorder(void *p) {
    double *ns = p;
    pthread_barrier_wait(&bar);
    double t0 = now_ns();
    for (int i = 0; i < BATCH / nthreads; i++) {
        uint64_t s0 = gcrt_tl_now();
        gcrt_tl_end(GCRT_TL_SWEEP_PAY, s0, 1, 0);
    }
    *ns = now_ns() - t0;
    return NULL;
}

int main(int argc, char **argv) {
    nthreads = (int)arg(argc, argv, "threads", 1);
    long batches = arg(argc, argv, "batches", 50);
    gc_init();
    gc_set_percent(-1);   /* only the cycles this program asks for */
    double rec = 0, wr = 0, empty = 0;
    for (long b = 0; b < batches; b++) {
        pthread_t th[16];
        double ns[16];
        pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
        for (int i = 0; i < nthreads; i++) pthread_create(&th[i], NULL, recorder, &ns[i]);
        for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL), rec += ns[i];
        pthread_barrier_destroy(&bar);
        double t0 = now_ns();
        gc_collect();   /* writes the batch */
        double t1 = now_ns();
        gc_collect();   /* nothing to write but the cycle's own events */
        double t2 = now_ns();
        wr += t1 - t0;
        empty += t2 - t1;
    }
    double ev = (double)batches * (BATCH / nthreads) * nthreads;
    printf("RESULT bench=timeline on=%d threads=%d record_ns=%.1f write_ns=%.1f\n", gcrt_tl_on, nthreads,
           rec / ev, (wr - empty) / ev);
    return 0;
}
