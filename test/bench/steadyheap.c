/*
 * steadyheap.c: the heap's shape under GOGC with a steady live heap (run-pacer.sh). A live
 * set of live_mib MiB (1 KiB scanned objects under a pointer array) is kept while
 * churn_mib MiB of 16 B .. 2 KiB objects are made and dropped; heap_alloc is sampled every
 * 1 MiB of churn after the first quarter (warm-up). Go's pacer puts the peak near the goal,
 * marked x (1 + GOGC/100) (+ roots): 2.0 x marked at GOGC=100. What a cycle marks exceeds
 * the program's own live data by what was allocated black while marking, so both ratios
 * are printed: peak / live data, and the largest heap_alloc / next_gc seen between two
 * samples of the same cycle (1.0: on goal; at GOGC=100, 2 x that is peak / marked).
 *
 * usage: steadyheap_gcrt [live_mib=64] [churn_mib=2048]
 * Prints: RESULT bench=steadyheap impl=gcrt live_kb= peak_kb= ratio= peak_over_goal= gcs=
 */
#include "bench.h"

#define KiB 1024L
#define MiB (1024L * 1024L)

int main(int argc, char **argv)
{
    long live_mib = arg_long(argc, argv, "live_mib", 64);
    long churn_mib = arg_long(argc, argv, "churn_mib", 2048);
    gc_init();
    long nlive = live_mib * MiB / KiB;
    void **live = gc_alloc((size_t)nlive * sizeof(void *));
    if (!live) return 3;
    for (long i = 0; i < nlive; i++) {
        void *o = gc_alloc(KiB);
        if (!o) return 3;
        GC_STORE(live[i], o);
    }
    unsigned r = 1;
    long done = 0, next = churn_mib * MiB / 4;
    uint64_t peak = 0;
    double over_goal = 0;   /* the largest heap_alloc / next_gc seen */
    uint32_t last_gc = 0;
    static gc_memstats_t ms;
    while (done < churn_mib * MiB) {
        r = r * 1103515245u + 12345u;
        size_t sz = 16 + (r >> 16) % 2032;
        volatile char *p = (r & 1) ? gc_alloc(sz) : gc_alloc_noscan(sz);
        if (!p) return 3;
        p[0] = 1;
        done += (long)sz;
        if (done >= next) {
            gc_read_memstats(&ms);
            if (ms.heap_alloc > peak) peak = ms.heap_alloc;
            /* Against the goal in force while the heap grew: skip samples across which a
             * cycle ended (the goal moved, and unswept garbage still counts). */
            if (ms.num_gc == last_gc && (double)ms.heap_alloc / (double)ms.next_gc > over_goal)
                over_goal = (double)ms.heap_alloc / (double)ms.next_gc;
            last_gc = ms.num_gc;
            next += MiB;
        }
    }
    gc_read_memstats(&ms);
    /* The live heap as the collector sees it: the array plus the objects. */
    double live_b = (double)nlive * (KiB + sizeof(void *));
    printf("RESULT bench=steadyheap impl=gcrt live_kb=%.0f peak_kb=%llu ratio=%.3f peak_over_goal=%.3f gcs=%u\n",
           live_b / 1024, (unsigned long long)(peak >> 10), (double)peak / live_b, over_goal, ms.num_gc);
    gc_keep_alive(live);
    return 0;
}
