/*
 * t_trigger: the GOGC pacer keeps the heap near its goal.
 *  - GOGC=100 with a steady live heap L of ~32 MiB (32768 x 1 KiB, replaced gradually) and
 *    512 MiB of churn: peak heap_alloc stays below 2.3 L (goal 2 L plus slack), cycles run
 *    (num_gc grows by at least 5), and next_gc tracks 2 L;
 *  - gc_set_percent(-1) stops automatic cycles: another 128 MiB of garbage runs no cycle and
 *    the heap grows past L + 100 MiB; gc_set_percent(100) returns -1, and a gc_collect brings
 *    the heap back near L.
 */
#include "check.h"

#define MiB ((uint64_t)1 << 20)
#define LIVE_OBJS 32768
#define OBJ 1024

static void **volatile g_live; /* scanned array of the live set */

static unsigned long long U(uint64_t v) { return (unsigned long long)v; }

int main(void)
{
    CHECK(gc_init() == 0);
    int old = gc_set_percent(100);
    (void)old;

    g_live = gc_alloc(LIVE_OBJS * sizeof(void *));
    CHECK(g_live != NULL);
    for (size_t i = 0; i < LIVE_OBJS; i++) {
        g_live[i] = gc_alloc_noscan(OBJ);
        CHECK(g_live[i] != NULL);
    }
    gc_collect();
    gc_memstats_t ms;
    read_ms(&ms);
    uint64_t L = ms.heap_alloc;
    CHECK(L >= 32 * MiB && L < 40 * MiB, "live heap %llu", U(L));
    unsigned gc0 = ms.num_gc;
    CHECK(ms.next_gc >= (uint64_t)(1.8 * (double)L) && ms.next_gc <= (uint64_t)(2.3 * (double)L),
          "next_gc %llu for a live heap of %llu", U(ms.next_gc), U(L));

    /* Churn: 512 MiB in 1 KiB objects, 1 in 16 replacing a live object. */
    uint64_t peak = 0;
    uint64_t churn = 512 * MiB;
    unsigned rng = 12345;
    double t0 = now_sec();
    for (uint64_t done = 0, i = 0; done < churn; done += OBJ, i++) {
        void *p = gc_alloc_noscan(OBJ);
        CHECK(p != NULL);
        if ((i & 15) == 0) {
            rng = rng * 1103515245u + 12345u;
            GC_STORE(g_live[(rng >> 8) % LIVE_OBJS], p);
        }
        if ((i & 63) == 0) {
            read_ms(&ms);
            if (ms.heap_alloc > peak)
                peak = ms.heap_alloc;
        }
    }
    double t1 = now_sec();
    read_ms(&ms);
    unsigned cycles = ms.num_gc - gc0;
    printf("GOGC=100: live %llu MiB, peak heap_alloc %llu MiB (%.2f x live), %u cycles, %.2fs\n",
           U(L / MiB), U(peak / MiB), (double)peak / (double)L, cycles, t1 - t0);
    CHECK(cycles >= 5, "only %u cycles during %llu MiB of churn over a %llu MiB live heap",
          cycles, U(churn / MiB), U(L / MiB));
    CHECK((double)peak < 2.3 * (double)L, "peak heap_alloc %llu exceeds 2.3 x live %llu",
          U(peak), U(L));
    CHECK(ms.next_gc <= (uint64_t)(2.6 * (double)L), "next_gc %llu drifted (live %llu)",
          U(ms.next_gc), U(L));

    /* Off. */
    CHECK(gc_set_percent(-1) == 100, "gc_set_percent(-1) should return 100");
    gc_collect();
    read_ms(&ms);
    unsigned before = ms.num_gc;
    uint64_t base = ms.heap_alloc;
    for (uint64_t done = 0; done < 128 * MiB; done += OBJ) {
        void *p = gc_alloc_noscan(OBJ);
        CHECK(p != NULL);
    }
    read_ms(&ms);
    CHECK(ms.num_gc == before, "%u cycles ran with GOGC off", ms.num_gc - before);
    CHECK(ms.heap_alloc >= base + 100 * MiB, "heap_alloc %llu -> %llu with GOGC off",
          U(base), U(ms.heap_alloc));
    printf("GOGC=off: 128 MiB garbage, heap_alloc %llu -> %llu MiB, no cycles\n", U(base / MiB),
           U(ms.heap_alloc / MiB));
    CHECK(gc_set_percent(100) == -1);
    gc_collect();
    read_ms(&ms);
    CHECK(ms.heap_alloc < L + 8 * MiB, "heap_alloc %llu after collecting (live %llu)",
          U(ms.heap_alloc), U(L));
    gc_keep_alive(g_live);
    printf("t_trigger: OK\n");
    return 0;
}
