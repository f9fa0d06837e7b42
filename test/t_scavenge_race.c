/*
 * t_scavenge_race: releasing pages to the OS while other threads take and give back pages
 * in the same 64-page word of the released bitmap keeps the heap's accounting exact.
 *
 * The scavenger sets a run's released bits with heap.lock dropped (the madvise is slow); a
 * word of the bitmap covers 64 pages, so the pages of other runs share it, and threads
 * holding heap.lock clear (take_run) or set (a page cache's return) their bits meanwhile. A
 * plain read-modify-write there lost updates: a page released but its bit lost was released
 * and counted again by the next scavenge, so heap_free fell one page below zero for good
 * (t_memlimit, test-repeat quiet-9 at 027fcd5: "gc_free_os_memory left
 * 18446744073709543424 idle bytes", i.e. -8192).
 *
 * Two threads allocate and drop objects of 1-12 pages (their spans come from page caches
 * and the page heap) while the main thread calls gc_free_os_memory in a loop, beside the
 * background scavenger. Throughout, heap_idle >= heap_released (idle pages include the
 * released ones); at the end, with the workers gone (their page caches returned),
 * gc_free_os_memory must leave heap_idle == heap_released exactly.
 */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

#define RING 48
static _Atomic int stop;
static _Atomic unsigned long allocs;

static void *worker(void *arg) {
    unsigned r = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    char **ring = gc_alloc(RING * sizeof *ring);
    CHECK(ring);
    for (unsigned long i = 0; !atomic_load(&stop); i++) {
        r = r * 1103515245u + 12345u;
        size_t sz = 8192 * (1 + (r >> 12) % 12) - 64;
        char *o = gc_alloc_noscan(sz);
        CHECK(o, "allocation of %zu failed", sz);
        o[0] = 1;
        o[sz - 1] = 2;   /* touch both ends: the pages are faulted back in */
        GC_STORE(ring[i % RING], o);
        atomic_fetch_add(&allocs, 1);
    }
    return NULL;
}

int main(void) {
    CHECK(gc_init() == 0);
    gc_set_percent(25);   /* many cycles: spans go back to the page heap all the time */
    pthread_t th[2];
    for (int i = 0; i < 2; i++) CHECK(gc_pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1)) == 0);
    gc_memstats_t ms;
    unsigned long rounds = 0;
    double t0 = now_sec();
    while (now_sec() - t0 < 4) {
        gc_free_os_memory();
        if (++rounds % 8 == 0) {
            read_ms(&ms);
            CHECK(ms.heap_idle >= ms.heap_released, "round %lu: heap_idle %llu < heap_released %llu",
                  rounds, (unsigned long long)ms.heap_idle, (unsigned long long)ms.heap_released);
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) CHECK(pthread_join(th[i], NULL) == 0);
    gc_free_os_memory();
    read_ms(&ms);
    printf("%lu forced releases, %lu allocations; heap_idle %llu, heap_released %llu\n", rounds,
           (unsigned long)atomic_load(&allocs), (unsigned long long)ms.heap_idle,
           (unsigned long long)ms.heap_released);
    CHECK(atomic_load(&allocs) > 1000, "the workers made only %lu allocations", (unsigned long)atomic_load(&allocs));
    CHECK(ms.heap_idle == ms.heap_released, "gc_free_os_memory left %lld idle bytes unreleased",
          (long long)(ms.heap_idle - ms.heap_released));
    return 0;
}
