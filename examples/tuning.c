/*
 * tuning.c: GOGC and GOMEMLIMIT from a program (Go's debug.SetGCPercent and
 * debug.SetMemoryLimit), watched through gc_read_memstats and the gctrace lines:
 *
 *   GODEBUG=gctrace=1 build/examples/tuning
 *
 * The same allocation pattern (8 MiB live, 256 MiB of garbage) runs under GOGC 50, 100,
 * 400 and off; a lower GOGC means a smaller heap goal, so more cycles and a smaller peak.
 * Then the memory limit is set and read back, and the pattern runs again with GOGC off
 * under a 64 MiB limit. Exit status 0 when the cycle counts fall as GOGC rises, the
 * setters return the previous values, and (if the pacer acts on the limit at all) the
 * heap stays within 5% of the limit.
 */
#include "gcrt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MiB ((size_t)1 << 20)

/* 8 MiB kept: 1024 x 8 KiB. The program reads them back (live_intact), otherwise the
 * compiler may drop the stores to an array nobody reads, and with them the roots. */
static unsigned char *live[1024];

static uint64_t peak;

static void churn(size_t bytes) {
    for (size_t i = 0; i < 1024; i++) {
        live[i] = gc_alloc_noscan(8192);
        live[i][8191] = (unsigned char)i;
    }
    void *volatile sink;
    for (size_t done = 0; done < bytes; done += 4096) {
        sink = gc_alloc_noscan(4096);
        (void)sink;
        if (done % (8 * MiB) == 0) {
            gc_memstats_t ms;
            gc_read_memstats(&ms);
            if (ms.heap_alloc > peak) peak = ms.heap_alloc;
        }
    }
}

static int live_intact(void) {
    for (size_t i = 0; i < 1024; i++)
        if (live[i][8191] != (unsigned char)i || gc_base(live[i]) != live[i]) return 0;
    return 1;
}

static int fails;

/* Churn 256 MiB from a fresh peak; the cycles it took, with the stats after it. */
static uint32_t churn_counting(gc_memstats_t *after) {
    gc_memstats_t before;
    gc_read_memstats(&before);
    peak = 0;
    churn(256 * MiB);
    gc_read_memstats(after);
    return after->num_gc - before.num_gc;
}

static uint32_t cycles_with(int percent) {
    gc_set_percent(percent);
    gc_collect();   /* start each round from the same state */
    gc_memstats_t after;
    uint32_t n = churn_counting(&after);
    if (!live_intact()) {
        printf("FAILED: live data damaged\n");
        fails++;
    }
    char pct[16];
    snprintf(pct, sizeof pct, "%d", percent);
    printf("GOGC=%-4s %3u cycles, peak heap %6.1f MiB, next goal %6.1f MiB\n", percent < 0 ? "off" : pct, n,
           peak / (double)MiB, after.next_gc / (double)MiB);
    return n;
}

int main(void) {
    if (gc_init() != 0) return 1;

    int initial = gc_set_percent(100);   /* returns the old value: GOGC from the environment */
    printf("GOGC from the environment: %d\n", initial);
    uint32_t c50 = cycles_with(50), c100 = cycles_with(100), c400 = cycles_with(400), coff = cycles_with(-1);
    if (!(c50 > c100 && c100 > c400 && c400 >= coff)) {
        printf("FAILED: cycle counts should fall as GOGC rises\n");
        fails++;
    }
    if (gc_set_percent(100) != -1) {
        printf("FAILED: gc_set_percent did not return the previous value (off = -1)\n");
        fails++;
    }

    /* The memory limit: a negative argument only reads it. */
    int64_t env_limit = gc_set_memory_limit(-1);
    int64_t old = gc_set_memory_limit(64 * (int64_t)MiB);
    int64_t now = gc_set_memory_limit(-1);
    printf("GOMEMLIMIT from the environment: %lld; set to %lld\n", (long long)env_limit, (long long)now);
    if (old != env_limit || now != 64 * (int64_t)MiB) {
        printf("FAILED: gc_set_memory_limit did not return the previous value\n");
        fails++;
    }
    /* With GOGC off, only the memory limit can start a cycle (when the pacer acts on it). */
    gc_set_percent(-1);
    gc_memstats_t b;
    uint32_t limited = churn_counting(&b);
    printf("GOGC=off with a 64 MiB limit: %u cycles, peak heap %.1f MiB%s\n", limited, peak / (double)MiB,
           limited ? "" : " (this build's pacer does not act on the limit)");
    /* A pacer that acts on the limit must hold the heap under it (Go's soft limit; 5%
     * slack for the sampling here). */
    if (limited && peak > 64 * MiB + 64 * MiB / 20) {
        printf("FAILED: the heap passed the memory limit\n");
        fails++;
    }
    gc_set_memory_limit(old);
    gc_set_percent(initial);

    gc_memstats_t end;
    gc_read_memstats(&end);
    printf("cycles in all: %u (%u forced)\n", end.num_gc, end.num_forced_gc);
    printf("tuning: %s\n", fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}
