/*
 * t_memstats: gc_read_memstats follows runtime.MemStats.
 *  - invariants: mallocs - frees == heap_objects; alloc == heap_alloc;
 *    heap_inuse + heap_idle == heap_sys; heap_released <= heap_idle; heap_alloc <= heap_inuse;
 *    sys >= heap_sys + metadata_sys; metadata_sys > 0; 0 <= gc_cpu_fraction <= 1;
 *  - with automatic GC off, one allocation moves mallocs by 1, heap_objects by 1 and
 *    total_alloc / heap_alloc by exactly the rounded (size-class) size, small and large;
 *  - a batch of allocations is counted exactly;
 *  - gc_collect increments num_gc and num_forced_gc, updates last_gc, pause_total_ns, the
 *    pause_ns / pause_end rings; frees grow and heap_alloc falls when garbage dies;
 *  - next_gc follows the GOGC=100 goal after a collection.
 */
#include "check.h"

#include <sys/time.h>

#define MiB ((uint64_t)1 << 20)

static unsigned long long U(uint64_t v) { return (unsigned long long)v; }

static void invariants(const gc_memstats_t *m, const char *when)
{
    CHECK(m->mallocs - m->frees == m->heap_objects, "%s: mallocs %llu - frees %llu != objects %llu",
          when, U(m->mallocs), U(m->frees), U(m->heap_objects));
    CHECK(m->alloc == m->heap_alloc, "%s", when);
    CHECK(m->heap_inuse + m->heap_idle == m->heap_sys, "%s: inuse %llu + idle %llu != sys %llu",
          when, U(m->heap_inuse), U(m->heap_idle), U(m->heap_sys));
    CHECK(m->heap_released <= m->heap_idle, "%s: released %llu > idle %llu", when,
          U(m->heap_released), U(m->heap_idle));
    CHECK(m->heap_alloc <= m->heap_inuse, "%s: heap_alloc %llu > heap_inuse %llu", when,
          U(m->heap_alloc), U(m->heap_inuse));
    CHECK(m->sys >= m->heap_sys + m->metadata_sys, "%s: sys %llu < heap_sys %llu + metadata %llu",
          when, U(m->sys), U(m->heap_sys), U(m->metadata_sys));
    CHECK(m->metadata_sys > 0, "%s", when);
    CHECK(m->total_alloc >= m->heap_alloc, "%s", when);
    CHECK(m->gc_cpu_fraction >= 0.0 && m->gc_cpu_fraction <= 1.0, "%s: gc_cpu_fraction %f", when,
          m->gc_cpu_fraction);
    CHECK(m->num_forced_gc <= m->num_gc, "%s", when);
}

static uint64_t unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One allocation, exact deltas. */
static void one(size_t n, int noscan, uint64_t want_rounded)
{
    gc_memstats_t a, b;
    read_ms(&a);
    void *p = noscan ? gc_alloc_noscan(n) : gc_alloc(n);
    read_ms(&b);
    CHECK(p != NULL);
    uint64_t rounded = want_rounded ? want_rounded : gc_size(p);
    CHECK(rounded >= n);
    CHECK(b.mallocs == a.mallocs + 1, "alloc %zu: mallocs +%llu", n, U(b.mallocs - a.mallocs));
    CHECK(b.frees == a.frees, "alloc %zu: frees changed with GC off", n);
    CHECK(b.heap_objects == a.heap_objects + 1, "alloc %zu", n);
    CHECK(b.total_alloc == a.total_alloc + rounded, "alloc %zu (noscan=%d): total_alloc +%llu, want +%llu",
          n, noscan, U(b.total_alloc - a.total_alloc), U(rounded));
    CHECK(b.heap_alloc == a.heap_alloc + rounded, "alloc %zu (noscan=%d): heap_alloc +%llu, want +%llu",
          n, noscan, U(b.heap_alloc - a.heap_alloc), U(rounded));
    CHECK(b.num_gc == a.num_gc, "a cycle ran with GOGC off");
    invariants(&b, "after one allocation");
    gc_keep_alive(p);
}

static TEST_NOINLINE void garbage(size_t count, size_t size)
{
    for (size_t i = 0; i < count; i++) {
        void *p = gc_alloc(size);
        CHECK(p != NULL);
    }
}

int main(void)
{
    uint64_t t_start = unix_ns();
    CHECK(gc_init() == 0);
    gc_memstats_t m0, m1, m2;
    read_ms(&m0);
    invariants(&m0, "at start");

    /* Exact accounting: automatic GC off, heap fully swept. */
    gc_collect();
    int old = gc_set_percent(-1);
    CHECK(old == 100, "default GOGC should be 100, gc_set_percent returned %d", old);
    one(1, 1, 8);
    one(8, 1, 8);
    one(9, 1, 16);
    one(100, 1, 112);
    one(100, 0, 0);
    one(1000, 1, 1024);
    one(1025, 1, 1152);
    one(32760, 1, 32768);
    one(32761, 1, 0);
    one(100000, 1, 0);
    one(100000, 0, 0);
    one(5u << 20, 1, 0);

    /* A batch: 100000 objects of mixed sizes, kept alive. */
    {
        enum { B = 100000 };
        void **keep = gc_alloc(B * sizeof(void *));
        CHECK(keep != NULL);
        read_ms(&m1);
        uint64_t bytes = 0;
        for (size_t i = 0; i < B; i++) {
            size_t n = 1 + (i * 131) % 3000;
            keep[i] = (i & 1) ? gc_alloc_noscan(n) : gc_alloc(n);
            CHECK(keep[i] != NULL);
            bytes += gc_size(keep[i]);
        }
        read_ms(&m2);
        CHECK(m2.mallocs - m1.mallocs == B, "mallocs grew by %llu for %d objects",
              U(m2.mallocs - m1.mallocs), B);
        CHECK(m2.heap_objects - m1.heap_objects == B);
        if (m2.total_alloc - m1.total_alloc != bytes)
            fprintf(stderr, "note: total_alloc grew by %llu, sum of gc_size %llu\n",
                    U(m2.total_alloc - m1.total_alloc), U(bytes));
        CHECK(m2.total_alloc - m1.total_alloc >= bytes);
        CHECK(m2.heap_alloc - m1.heap_alloc == m2.total_alloc - m1.total_alloc);
        CHECK(m2.num_gc == m1.num_gc, "automatic cycle with GOGC off");
        invariants(&m2, "after batch");
        gc_keep_alive(keep);
    }

    /* Collections (still GOGC off, so the garbage is only freed by the forced cycle). */
    garbage(50000, 200);
    churn_stack();
    read_ms(&m1);
    uint64_t before = unix_ns();
    gc_collect();
    uint64_t after = unix_ns();
    read_ms(&m2);
    invariants(&m2, "after gc_collect");
    CHECK(m2.num_gc >= m1.num_gc + 1, "num_gc %u -> %u", m1.num_gc, m2.num_gc);
    CHECK(m2.num_forced_gc >= m1.num_forced_gc + 1);
    CHECK(m2.frees >= m1.frees + 45000, "frees grew by only %llu after 50000 garbage objects",
          U(m2.frees - m1.frees));
    CHECK(m2.heap_alloc + 8 * MiB < m1.heap_alloc, "heap_alloc did not fall: %llu -> %llu",
          U(m1.heap_alloc), U(m2.heap_alloc));
    CHECK(m2.last_gc >= before && m2.last_gc <= after, "last_gc %llu not within [%llu, %llu]",
          U(m2.last_gc), U(before), U(after));
    CHECK(m2.last_gc > t_start);
    CHECK(m2.pause_total_ns >= m1.pause_total_ns);
    CHECK(m2.pause_total_ns > 0, "pause_total_ns is zero after %u cycles", m2.num_gc);
    unsigned last = (m2.num_gc + 255) % 256;
    CHECK(m2.pause_ns[last] <= m2.pause_total_ns);
    CHECK(m2.pause_ns[last] < 10ull * 1000000000ull, "pause of %llu ns", U(m2.pause_ns[last]));
    CHECK(m2.pause_end[last] >= before && m2.pause_end[last] <= after,
          "pause_end[%u] = %llu not within [%llu, %llu]", last, U(m2.pause_end[last]), U(before),
          U(after));
    /* The next slot of the ring is older (or unused). */
    CHECK(m2.pause_end[(last + 1) % 256] <= m2.pause_end[last]);

    CHECK(gc_set_percent(100) == -1, "gc_set_percent should return the previous value -1");
    gc_collect();
    read_ms(&m2);

    /* GOGC=100 goal: at least the 4 MiB minimum, and about twice the live heap. */
    CHECK(m2.next_gc >= 4 * MiB, "next_gc %llu below the 4 MiB minimum heap", U(m2.next_gc));
    CHECK(m2.next_gc >= m2.heap_alloc, "next_gc %llu < heap_alloc %llu", U(m2.next_gc),
          U(m2.heap_alloc));
    {
        /* Keep 40 MiB alive: the goal becomes about 80 MiB. */
        enum { K = 40 * 1024 };
        void **keep = gc_alloc(K * sizeof(void *));
        CHECK(keep != NULL);
        for (size_t i = 0; i < K; i++) {
            keep[i] = gc_alloc_noscan(1024);
            CHECK(keep[i] != NULL);
        }
        gc_collect();
        read_ms(&m1);
        invariants(&m1, "with 40 MiB live");
        CHECK(m1.heap_alloc >= 40 * MiB);
        CHECK(m1.next_gc >= (uint64_t)(1.8 * (double)m1.heap_alloc) &&
                  m1.next_gc <= (uint64_t)(2.3 * (double)m1.heap_alloc),
              "next_gc %llu for a live heap of %llu at GOGC=100", U(m1.next_gc),
              U(m1.heap_alloc));
        gc_set_percent(50);
        read_ms(&m2);
        CHECK(m2.next_gc < m1.next_gc, "next_gc did not follow gc_set_percent(50): %llu -> %llu",
              U(m1.next_gc), U(m2.next_gc));
        gc_set_percent(100);
        gc_keep_alive(keep);
    }

    /* Idle memory and release. */
    churn_stack();
    gc_free_os_memory();
    read_ms(&m1);
    invariants(&m1, "after gc_free_os_memory");
    CHECK(m1.heap_released > 0, "nothing released after dropping 40 MiB");
    CHECK(m1.num_forced_gc > m2.num_forced_gc);

    printf("t_memstats: OK (%u GCs, %llu mallocs, heap_sys %llu MiB, sys %llu MiB)\n", m1.num_gc,
           U(m1.mallocs), U(m1.heap_sys / MiB), U(m1.sys / MiB));
    return 0;
}
