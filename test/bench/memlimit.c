/*
 * memlimit.c: a steady live heap under churn, for the pacer benchmark (run-pacer.sh), shaped
 * like test/bench/go/memlimit. A live set of live_mib MiB (1 KiB scanned objects under a
 * pointer array, built before timing), then churn_mib MiB of short-lived objects: 16 B to
 * 2 KiB (every 64th 32 KiB when big=1), half scanned, half pointer-free.
 *  - With GOGC=off GOMEMLIMIT=256MiB (live_mib=100 churn_mib=4096): the heap grows to the
 *    limit and collects only there; peak_mapped_kb samples sys - heap_released (what the
 *    limit bounds) every 16 MiB of churn.
 *  - At GOGC=100 (live_mib=64 big=0): the heap's shape, which run-pacer.sh reads from the
 *    gctrace lines; peak_kb / ratio are the largest heap_alloc sampled and its ratio to the
 *    live data.
 *
 * usage: memlimit_gcrt [live_mib=100] [churn_mib=4096] [big=1]
 * Prints: RESULT bench=memlimit impl=gcrt wall_ms= cpu_ms= rss_kb= peak_mapped_kb= peak_kb=
 *         ratio= gcs= live_ok=
 */
#include "bench.h"

#define KiB 1024L
#define MiB (1024L * 1024L)

int main(int argc, char **argv)
{
    long live_mib = arg_long(argc, argv, "live_mib", 100);
    long churn_mib = arg_long(argc, argv, "churn_mib", 4096);
    int big = (int)arg_long(argc, argv, "big", 1);
    gc_init();
    long nlive = live_mib * MiB / KiB;
    void **live = gc_alloc((size_t)nlive * sizeof(void *));
    if (!live) return 3;
    for (long i = 0; i < nlive; i++) {
        long *o = gc_alloc(KiB);
        if (!o) return 3;
        o[0] = i;
        GC_STORE(live[i], o);
    }
    bench_clock_t c0 = bench_clock(RUSAGE_SELF);
    unsigned r = 1;
    long done = 0, next = 0;
    uint64_t peak_mapped = 0, peak = 0;
    static gc_memstats_t ms;
    while (done < churn_mib * MiB) {
        r = r * 1103515245u + 12345u;
        size_t sz = big && (r >> 10) % 64 == 0 ? 32 * KiB : 16 + (r >> 16) % 2032;
        volatile char *p = (r & 1) ? gc_alloc(sz) : gc_alloc_noscan(sz);
        if (!p) return 3;
        p[0] = 1;
        done += (long)sz;
        if (done >= next) {
            gc_read_memstats(&ms);
            if (ms.sys - ms.heap_released > peak_mapped) peak_mapped = ms.sys - ms.heap_released;
            if (done > churn_mib * MiB / 4 && ms.heap_alloc > peak) peak = ms.heap_alloc;
            next += 16 * MiB;
        }
    }
    bench_clock_t d = bench_elapsed(c0, bench_clock(RUSAGE_SELF));
    int ok = 1;
    for (long i = 0; i < nlive; i++)
        if (((long *)live[i])[0] != i) ok = 0;
    gc_read_memstats(&ms);
    double live_b = (double)nlive * (KiB + sizeof(void *));
    printf("RESULT bench=memlimit impl=gcrt wall_ms=%.1f cpu_ms=%.1f rss_kb=%ld peak_mapped_kb=%llu peak_kb=%llu "
           "ratio=%.3f gcs=%u live_ok=%d\n",
           d.wall / 1e6, (d.user + d.sys) / 1e6, max_rss_kb(), (unsigned long long)(peak_mapped >> 10),
           (unsigned long long)(peak >> 10), (double)peak / live_b, ms.num_gc, ok);
    return ok ? 0 : 1;
}
