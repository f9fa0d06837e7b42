/*
 * memlimit.c: a memory-limit workload for the pacer benchmark (run-pacer.sh), shaped like
 * test/bench/go/memlimit.go. A live set of live_mib MiB (1 KiB scanned objects under a
 * pointer array, built before timing) and churn_mib MiB of short-lived objects: sizes 16 B
 * to 2 KiB, every 64th 32 KiB, half scanned and half pointer-free. Run it with GOGC=off
 * GOMEMLIMIT=256MiB: the heap then grows to the limit and collects only there. Every 16 MiB
 * of churn it samples sys - heap_released (what GOMEMLIMIT bounds).
 *
 * usage: memlimit_gcrt [live_mib=100] [churn_mib=4096]
 * Prints: RESULT bench=memlimit impl=gcrt wall_ms= rss_kb= peak_mapped_kb= gcs= live_ok=
 */
#include "bench.h"

#define KiB 1024L
#define MiB (1024L * 1024L)

int main(int argc, char **argv)
{
    long live_mib = arg_long(argc, argv, "live_mib", 100);
    long churn_mib = arg_long(argc, argv, "churn_mib", 4096);
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
    uint64_t peak = 0;
    static gc_memstats_t ms;
    while (done < churn_mib * MiB) {
        r = r * 1103515245u + 12345u;
        size_t sz = (r >> 10) % 64 == 0 ? 32 * KiB : 16 + (r >> 16) % 2032;
        volatile char *p = (r & 1) ? gc_alloc(sz) : gc_alloc_noscan(sz);
        if (!p) return 3;
        p[0] = 1;
        done += (long)sz;
        if (done >= next) {
            gc_read_memstats(&ms);
            if (ms.sys - ms.heap_released > peak) peak = ms.sys - ms.heap_released;
            next += 16 * MiB;
        }
    }
    bench_clock_t d = bench_elapsed(c0, bench_clock(RUSAGE_SELF));
    int ok = 1;
    for (long i = 0; i < nlive; i++)
        if (((long *)live[i])[0] != i) ok = 0;
    gc_read_memstats(&ms);
    printf("RESULT bench=memlimit impl=gcrt wall_ms=%.1f cpu_ms=%.1f rss_kb=%ld peak_mapped_kb=%llu gcs=%u live_ok=%d\n",
           d.wall / 1e6, (d.user + d.sys) / 1e6, max_rss_kb(), (unsigned long long)(peak >> 10), ms.num_gc, ok);
    return ok ? 0 : 1;
}
