/*
 * t_memlimit: GOMEMLIMIT holds the memory gcrt keeps (sys - heap_released) near the limit.
 *
 * Child "churn" (GOGC=off, GOMEMLIMIT=96MiB): 24 MiB stay live (an array of pointers to
 * 1 KiB objects) while 1.9 GiB (20 x the limit) of short-lived objects of mixed sizes (16 B ..
 * 72 KiB) are made and dropped. Every 4 MiB of churn it samples memstats; the peak of
 * sys - heap_released must stay near the limit (BOUND: 10% + one 4 MiB growth step),
 * cycles must have run (the limit, not GOGC, triggers them) and the heap must have used the
 * room (peak above 2/3 of the limit: GOGC=off collects only near the limit). Then, with the
 * heap grown past 70 MiB, gc_set_memory_limit(64 MiB) must take effect at once: next_gc
 * drops under 64 MiB on return and a cycle starts without further allocation; over 512 MiB
 * more churn, sys - released stays near 64 MiB.
 * Finally gc_free_os_memory releases every free page (heap_idle == heap_released) and
 * GODEBUG=scavtrace=1 printed Go's scav line.
 */
#include "check.h"

#define MiB ((uint64_t)1 << 20)
/* "Near the limit": 10% for pacing error (the goal's own headroom is 3%) plus one 4 MiB
 * step of heap growth, which dominates at limits this small. */
#define BOUND(limit) ((limit) * 11 / 10 + 4 * MiB)

/* The live set: one array of pointers to 1 KiB scanned objects (wide: marking it can use
 * every marker and every assist, unlike a list, which is marked one node at a time). */
#define NLIVE (24 * 1024)
static long **live;
static uint64_t peak, samples;

static uint64_t mapped(void) {
    gc_memstats_t ms;
    read_ms(&ms);
    return ms.sys - ms.heap_released;
}

static int churn(void) {
    CHECK(gc_init() == 0);
    CHECK(gc_set_memory_limit(-1) == (int64_t)(96 * MiB), "GOMEMLIMIT not read");
    live = gc_alloc(NLIVE * sizeof *live);
    CHECK(live);
    for (long i = 0; i < NLIVE; i++) {
        long *o = gc_alloc(1024);
        CHECK(o);
        o[0] = i;
        GC_STORE(live[i], o);
    }
    uint64_t done = 0, next_sample = 0;
    unsigned r = 1;
    volatile char *keep;
    while (done < 20 * 96 * MiB) {
        r = r * 1103515245u + 12345u;
        size_t sz = (r >> 16) % 16 == 0 ? 8192 + (r >> 8) % 65536 : 16 + (r >> 8) % 2048;
        keep = (r & 1) ? gc_alloc(sz) : gc_alloc_noscan(sz);
        CHECK(keep, "allocation of %zu failed", sz);
        keep[0] = 1;
        done += sz;
        if (done >= next_sample) {
            uint64_t m = mapped();
            if (m > peak) peak = m;
            samples++;
            next_sample += 4 * MiB;
        }
    }
    gc_memstats_t ms;
    read_ms(&ms);
    printf("peak=%llu num_gc=%u samples=%llu\n", (unsigned long long)peak, ms.num_gc, (unsigned long long)samples);
    /* A soft limit holds while the collector gets its CPU; under memcheck the limiter
     * (rightly) gives the mutator the CPU and the heap runs past the limit */
    CHECK_TIMED(peak <= BOUND(96 * MiB), "peak sys-released %.1f MiB over 1.1 x the 96 MiB limit + 4 MiB",
                (double)peak / MiB);
    CHECK(peak >= 64 * MiB, "peak %.1f MiB: GOGC=off with a limit should use the room", (double)peak / MiB);
    CHECK(ms.num_gc >= test_min_cycles(10), "only %u cycles for 20x the limit of churn", ms.num_gc);

    /* Lower the limit: the goal moves at once, a cycle starts (the new goal is passed),
     * and from then on allocation stays near the new limit. */
    /* Grow the heap past where a 64 MiB limit's trigger can be (GOGC=off: the 96 MiB limit
     * lets it), so that lowering the limit must start a cycle. */
    for (next_sample = 0;;) {
        r = r * 1103515245u + 12345u;
        keep = gc_alloc_noscan(16 + (r >> 8) % 2048);
        CHECK(keep);
        if (++next_sample % 1024) continue;
        read_ms(&ms);
        if (ms.heap_alloc >= 70 * MiB) break;
    }
    unsigned before = ms.num_gc;
    gc_set_memory_limit(64 * MiB);
    read_ms(&ms);
    /* (under memcheck the last cycle may have marked more than 64 MiB: see above) */
    CHECK_TIMED(ms.next_gc <= 64 * MiB, "after gc_set_memory_limit(64 MiB): next_gc %.1f MiB",
                (double)ms.next_gc / MiB);
    for (int i = 0; i < 100 && ms.num_gc == before; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        read_ms(&ms);
    }
    CHECK(ms.num_gc > before, "lowering the limit below the heap started no cycle");
    CHECK(gc_set_memory_limit(-1) == (int64_t)(64 * MiB));
    uint64_t peak2 = 0;
    for (done = 0, next_sample = 0; done < 8 * 64 * MiB;) {   /* 512 MiB */
        r = r * 1103515245u + 12345u;
        size_t sz = 16 + (r >> 8) % 2048;
        keep = gc_alloc(sz);
        CHECK(keep);
        done += sz;
        if (done >= next_sample) {
            uint64_t m = mapped();
            if (done > 2 * 64 * MiB && m > peak2) peak2 = m;
            next_sample += 4 * MiB;
        }
    }
    printf("after lowering to 64 MiB: peak=%llu\n", (unsigned long long)peak2);
    CHECK_TIMED(peak2 <= BOUND(64 * MiB), "after lowering the limit to 64 MiB: sys-released peaked at %.1f MiB",
                (double)peak2 / MiB);

    gc_free_os_memory();
    read_ms(&ms);
    CHECK(ms.heap_idle == ms.heap_released, "gc_free_os_memory left %llu idle bytes unreleased",
          (unsigned long long)(ms.heap_idle - ms.heap_released));
    for (long i = 0; i < NLIVE; i++) CHECK(live[i][0] == i, "live object %ld damaged", i);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "child")) return churn();
    static child_result_t cr;
    const char *args[] = {"child", "churn", NULL};
    const char *env[] = {"GOGC=off", "GOMEMLIMIT=96MiB", "GODEBUG=scavtrace=1", NULL};
    int st = run_self(&cr, args, env);
    fputs(cr.out, stdout);
    CHECK(st == 0, "child exited %d; stderr:\n%s", st, cr.err);
    CHECK(strstr(cr.err, "KiB work (bg), ") && strstr(cr.err, "KiB now, ") && strstr(cr.err, "% util (forced)"),
          "no scavtrace lines in stderr:\n%.2000s", cr.err);
    printf("t_memlimit: OK\n");
    return 0;
}
