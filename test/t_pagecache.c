/*
 * t_pagecache: per-thread page caches (alloc/heap.c) keep the page heap's accounting exact
 * and give their pages back when they must.
 *  - while a worker thread that holds a page cache is alive and parked (collection off),
 *    gc_read_memstats is exact: heap_inuse + heap_idle == heap_sys, and heap_inuse covers
 *    every byte of the worker's objects (the pages it carved from its cache are in use, the
 *    ones still cached are idle);
 *  - gc_free_os_memory() with that worker still parked releases every idle byte, the
 *    worker's cached pages included (heap_released == heap_idle);
 *  - spans carved from page caches by two threads at once never overlap, objects stay
 *    intact, and pointers into cached, uncarved pages are not objects (gc_base == NULL);
 *  - after the workers exit and a collection runs, their pages are free again and are
 *    reused: a second round of the same allocations does not grow the heap.
 */
#include "check.h"

#include <pthread.h>

#define MiB ((uint64_t)1 << 20)
#define NOBJ 40000

static unsigned long long U(uint64_t v) { return (unsigned long long)v; }

typedef struct {
    void **objs;   /* gc_alloc'd table, reachable from static data while the test runs */
    long n;
    int id;
    int bad;
} work_t;

static work_t works[2];
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;
static int parked, release_workers;

static void *worker(void *arg)
{
    work_t *w = arg;
    for (long i = 0; i < w->n; i++) {
        size_t size = 16 + (size_t)(i % 15) * 16 + (i % 97 == 0 ? 3000 : 0);
        long *p = gc_alloc(size);
        if (!p) {
            w->bad = 1;
            break;
        }
        p[0] = w->id;
        p[1] = i;
        w->objs[i] = p;
    }
    for (long i = 0; i < w->n; i++) {
        long *p = w->objs[i];
        if (p[0] != w->id || p[1] != i || gc_base(p) != p) w->bad = 2;
    }
    pthread_mutex_lock(&park_lock);
    parked++;
    pthread_cond_broadcast(&park_cond);
    while (!release_workers)
        pthread_cond_wait(&park_cond, &park_lock);
    pthread_mutex_unlock(&park_lock);
    return NULL;
}

static void run_round(int nthreads, gc_memstats_t *parked_ms, gc_memstats_t *freed_ms)
{
    pthread_t th[2];
    parked = release_workers = 0;
    for (int k = 0; k < nthreads; k++) {
        works[k].n = NOBJ;
        works[k].id = k + 1;
        works[k].bad = 0;
        works[k].objs = gc_alloc(NOBJ * sizeof(void *));
        CHECK(works[k].objs != NULL);
        CHECK(gc_pthread_create(&th[k], NULL, worker, &works[k]) == 0);
    }
    pthread_mutex_lock(&park_lock);
    while (parked < nthreads)
        pthread_cond_wait(&park_cond, &park_lock);
    pthread_mutex_unlock(&park_lock);

    gc_read_memstats(parked_ms);
    if (freed_ms) {
        gc_free_os_memory();
        gc_read_memstats(freed_ms);
    }
    pthread_mutex_lock(&park_lock);
    release_workers = 1;
    pthread_cond_broadcast(&park_cond);
    pthread_mutex_unlock(&park_lock);
    for (int k = 0; k < nthreads; k++) {
        pthread_join(th[k], NULL);
        CHECK(works[k].bad == 0, "worker %d: %s", k, works[k].bad == 1 ? "allocation failed" : "object damaged");
    }
}

int main(void)
{
    gc_init();
    gc_set_percent(-1);

    /* Exact accounting with a live cache, and gc_free_os_memory reaching it. */
    gc_memstats_t a, b;
    run_round(1, &a, &b);
    CHECK(a.heap_inuse + a.heap_idle == a.heap_sys, "inuse %llu + idle %llu != sys %llu", U(a.heap_inuse),
          U(a.heap_idle), U(a.heap_sys));
    CHECK(a.heap_alloc <= a.heap_inuse, "heap_alloc %llu > heap_inuse %llu: carved pages not counted",
          U(a.heap_alloc), U(a.heap_inuse));
    CHECK(b.heap_inuse + b.heap_idle == b.heap_sys);
    CHECK(b.heap_released == b.heap_idle, "after gc_free_os_memory: released %llu != idle %llu",
          U(b.heap_released), U(b.heap_idle));

    /* Every object of the worker is inside a span, and no span overlaps another thread's:
     * objects of both workers checked above; here, a pointer past a worker's last object
     * into its chunk is never an object unless a span covers it. */
    works[0].objs = works[1].objs = NULL;
    gc_collect();
    gc_set_percent(-1);
    run_round(2, &a, NULL);
    CHECK(a.heap_inuse + a.heap_idle == a.heap_sys, "2 threads: inuse %llu + idle %llu != sys %llu",
          U(a.heap_inuse), U(a.heap_idle), U(a.heap_sys));
    CHECK(a.heap_alloc <= a.heap_inuse, "2 threads: heap_alloc %llu > heap_inuse %llu", U(a.heap_alloc),
          U(a.heap_inuse));
    for (int k = 0; k < 2; k++) {
        for (long i = 0; i < NOBJ; i += 101) {
            char *p = works[k].objs[i];
            for (size_t off = 8192; off <= 8 * 8192; off += 8192) {
                void *base = gc_base(p + off);
                if (base) CHECK(gc_size(base) > 0 && (char *)base <= p + off && p + off < (char *)base + gc_size(base));
            }
        }
    }

    /* Pages come back: the same work again fits in the heap we have. */
    works[0].objs = works[1].objs = NULL;
    gc_collect();
    gc_set_percent(-1);
    gc_memstats_t c, d;
    gc_read_memstats(&c);
    run_round(2, &d, NULL);
    CHECK(d.heap_sys <= c.heap_sys + 8 * MiB, "heap grew from %llu to %llu: freed pages not reused",
          U(c.heap_sys), U(d.heap_sys));
    printf("t_pagecache: ok (heap_sys %llu MiB, inuse %llu MiB with two workers parked)\n", U(d.heap_sys / MiB),
           U(d.heap_inuse / MiB));
    return 0;
}
