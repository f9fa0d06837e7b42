/*
 * t_memlimit: GOMEMLIMIT holds the memory gcrt keeps (sys - heap_released) near the limit.
 *
 * Child "churn" (GOGC=off, GOMEMLIMIT=64MiB): 24 MiB stay live (a linked list of 1 KiB
 * nodes) while 1.28 GiB (20 x the limit) of short-lived objects of mixed sizes (16 B ..
 * 64 KiB, some large) are made and dropped. Every 4 MiB of churn it samples memstats; the
 * peak of sys - heap_released must stay within 10% of the limit, cycles must have run (the
 * limit, not GOGC, triggers them) and the heap must have used the room (peak above half the
 * limit: GOGC=off collects only near the limit). Then gc_set_memory_limit(40 MiB) must take
 * effect at once: next_gc drops under 40 MiB on return and a cycle starts without further
 * allocation; after 80 MiB more churn, sys - released stays within 10% of 40 MiB.
 * Finally gc_free_os_memory releases every free page (heap_idle == heap_released) and
 * GODEBUG=scavtrace=1 printed Go's scav line.
 */
#include "check.h"

#define MiB ((uint64_t)1 << 20)

typedef struct node {
    struct node *next;
    char pad[1016];
} node_t;

static node_t *live;
static uint64_t peak, samples;

static uint64_t mapped(void) {
    gc_memstats_t ms;
    read_ms(&ms);
    return ms.sys - ms.heap_released;
}

static int churn(void) {
    CHECK(gc_init() == 0);
    CHECK(gc_set_memory_limit(-1) == (int64_t)(64 * MiB), "GOMEMLIMIT not read");
    for (size_t i = 0; i < 24 * MiB / sizeof(node_t); i++) {
        node_t *n = gc_alloc(sizeof *n);
        CHECK(n);
        n->next = live;
        live = n;
    }
    uint64_t done = 0, next_sample = 0;
    unsigned r = 1;
    volatile char *keep;
    while (done < 20 * 64 * MiB) {
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
    CHECK(peak <= 64 * MiB * 11 / 10, "peak sys-released %.1f MiB over 1.1 x the 64 MiB limit", (double)peak / MiB);
    CHECK(peak >= 32 * MiB, "peak %.1f MiB: GOGC=off with a limit should use the room", (double)peak / MiB);
    CHECK(ms.num_gc >= 10, "only %u cycles for 20x the limit of churn", ms.num_gc);

    /* Lower the limit: the goal moves at once, a cycle starts (the new goal is passed),
     * and from then on allocation stays near the new limit. */
    unsigned before = ms.num_gc;
    gc_set_memory_limit(40 * MiB);
    read_ms(&ms);
    CHECK(ms.next_gc <= 40 * MiB, "after gc_set_memory_limit(40 MiB): next_gc %.1f MiB", (double)ms.next_gc / MiB);
    for (int i = 0; i < 100 && ms.num_gc == before; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        read_ms(&ms);
    }
    CHECK(ms.num_gc > before, "lowering the limit below the heap started no cycle");
    CHECK(gc_set_memory_limit(-1) == (int64_t)(40 * MiB));
    uint64_t peak2 = 0;
    for (done = 0, next_sample = 0; done < 8 * 40 * MiB;) {
        r = r * 1103515245u + 12345u;
        size_t sz = 16 + (r >> 8) % 2048;
        keep = gc_alloc(sz);
        CHECK(keep);
        done += sz;
        if (done >= next_sample) {
            uint64_t m = mapped();
            if (done > 2 * 40 * MiB && m > peak2) peak2 = m;
            next_sample += 4 * MiB;
        }
    }
    printf("after lowering to 40 MiB: peak=%llu\n", (unsigned long long)peak2);
    CHECK(peak2 <= 40 * MiB * 11 / 10, "after lowering the limit to 40 MiB: sys-released peaked at %.1f MiB",
          (double)peak2 / MiB);

    gc_free_os_memory();
    read_ms(&ms);
    CHECK(ms.heap_idle == ms.heap_released, "gc_free_os_memory left %llu idle bytes unreleased",
          (unsigned long long)(ms.heap_idle - ms.heap_released));
    size_t n = 0;
    for (node_t *p = live; p; p = p->next) n++;
    CHECK(n == 24 * MiB / sizeof(node_t), "live list damaged: %zu nodes", n);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "child")) return churn();
    static child_result_t cr;
    const char *args[] = {"child", "churn", NULL};
    const char *env[] = {"GOGC=off", "GOMEMLIMIT=64MiB", "GODEBUG=scavtrace=1", NULL};
    int st = run_self(&cr, args, env);
    fputs(cr.out, stdout);
    CHECK(st == 0, "child exited %d; stderr:\n%s", st, cr.err);
    CHECK(strstr(cr.err, "KiB work (bg), ") && strstr(cr.err, "KiB now, ") && strstr(cr.err, "% util (forced)"),
          "no scavtrace lines in stderr:\n%.2000s", cr.err);
    printf("t_memlimit: OK\n");
    return 0;
}
