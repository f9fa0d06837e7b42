/*
 * t_threads_alloc: concurrent allocation from several threads.
 *  - 4 threads made with gc_pthread_create and 2 plain pthreads that call
 *    gc_register_thread / gc_unregister_thread themselves;
 *  - each builds a private linked list (held only by its own stack) with checked payloads,
 *    while allocating garbage of many sizes; the main thread collects meanwhile;
 *  - each thread verifies its list several times, including after collections;
 *  - registration calls: idempotent register, unregister twice gives -EINVAL;
 *  - after the threads exit: memstats are consistent and count every allocation.
 */
#include "check.h"

#include <stdatomic.h>

#define NGC 4
#define NMANUAL 2
#define NTHREADS (NGC + NMANUAL)
#define NODES 20000
#define ROUNDS 6

typedef struct node {
    struct node *next;
    uint64_t tag;
    uint64_t idx;
    uint64_t sum;
} node_t;

typedef struct worker {
    int id;
    int manual;
    unsigned long allocs; /* objects allocated by this thread */
    unsigned long bytes;  /* requested bytes */
    unsigned long verified;
    int err;
} worker_t;

static atomic_int running;

static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t x = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    return x ^ (x >> 29);
}

static unsigned long verify(node_t *head, uint64_t tag, unsigned long n)
{
    unsigned long count = 0;
    for (node_t *p = head; p; p = p->next) {
        CHECK(p->tag == tag, "thread %llu: node %lu has tag %llu", (unsigned long long)tag,
              count, (unsigned long long)p->tag);
        CHECK(p->sum == mix(p->tag, p->idx), "thread %llu: node %lu checksum", (unsigned long long)tag,
              count);
        CHECK(p->idx == n - 1 - count, "thread %llu: node %lu index %llu", (unsigned long long)tag,
              count, (unsigned long long)p->idx);
        CHECK(gc_base(p) == p);
        count++;
    }
    CHECK(count == n, "thread %llu: list has %lu nodes, want %lu", (unsigned long long)tag, count,
          n);
    return count;
}

static void work(worker_t *w)
{
    uint64_t tag = 1000 + (uint64_t)w->id;
    unsigned rng = (unsigned)w->id * 7919u + 1;
    for (int round = 0; round < ROUNDS; round++) {
        node_t *head = NULL;
        for (unsigned long i = 0; i < NODES; i++) {
            node_t *n = gc_alloc(sizeof *n);
            CHECK(n != NULL);
            CHECK(n->next == NULL && n->tag == 0 && n->sum == 0, "fresh node not zeroed");
            n->tag = tag;
            n->idx = i;
            n->sum = mix(tag, i);
            n->next = head;
            head = n;
            w->allocs++;
            w->bytes += sizeof *n;
            /* garbage of assorted sizes and kinds */
            rng = rng * 1103515245u + 12345u;
            size_t gsz = 1 + (rng >> 8) % 2000;
            if (i % 4000 == 0)
                gsz = 40000 + (rng >> 8) % 100000; /* occasionally large */
            unsigned char *g = (rng & 1) ? gc_alloc_noscan(gsz) : gc_alloc(gsz);
            CHECK(g != NULL);
            CHECK(g[0] == 0 && g[gsz - 1] == 0, "fresh garbage not zeroed");
            g[0] = g[gsz - 1] = 0xee;
            w->allocs++;
            w->bytes += gsz;
        }
        w->verified += verify(head, tag, NODES);
    }
}

static void *gc_thread(void *arg)
{
    worker_t *w = arg;
    CHECK(gc_register_thread() == 0, "register is idempotent on a gc_pthread_create thread");
    work(w);
    atomic_fetch_sub(&running, 1);
    return w;
}

static void *manual_thread(void *arg)
{
    worker_t *w = arg;
    CHECK(gc_register_thread() == 0);
    CHECK(gc_register_thread() == 0, "second gc_register_thread");
    work(w);
    CHECK(gc_unregister_thread() == 0);
    int rc = gc_unregister_thread();
    CHECK(rc == -EINVAL, "second gc_unregister_thread returned %d", rc);
    atomic_fetch_sub(&running, 1);
    return w;
}

int main(void)
{
    CHECK(gc_init() == 0);
    gc_collect();
    gc_memstats_t ms0, ms1;
    read_ms(&ms0);

    static worker_t w[NTHREADS];
    pthread_t th[NTHREADS];
    atomic_store(&running, NTHREADS);
    for (int i = 0; i < NTHREADS; i++) {
        w[i].id = i;
        w[i].manual = i >= NGC;
        int rc = w[i].manual ? pthread_create(&th[i], NULL, manual_thread, &w[i])
                             : gc_pthread_create(&th[i], NULL, gc_thread, &w[i]);
        CHECK(rc == 0, "thread create %d: %d", i, rc);
    }
    /* Main thread: collect while the others run, and allocate a little itself. */
    int collections = 0;
    while (atomic_load(&running) > 0) {
        gc_collect();
        collections++;
        void *p = gc_alloc(100);
        CHECK(p != NULL);
        gc_memstats_t ms;
        read_ms(&ms);
        CHECK(ms.mallocs - ms.frees == ms.heap_objects, "during run");
        CHECK(ms.alloc == ms.heap_alloc);
        usleep(2000);
    }
    unsigned long allocs = 0, bytes = 0;
    for (int i = 0; i < NTHREADS; i++) {
        void *ret;
        CHECK(pthread_join(th[i], &ret) == 0);
        CHECK(ret == &w[i]);
        CHECK_EQ_U(w[i].verified, (unsigned long)NODES * ROUNDS);
        allocs += w[i].allocs;
        bytes += w[i].bytes;
    }
    read_ms(&ms1);
    CHECK(ms1.mallocs - ms1.frees == ms1.heap_objects);
    CHECK(ms1.alloc == ms1.heap_alloc);
    CHECK(ms1.heap_inuse + ms1.heap_idle == ms1.heap_sys);
    CHECK(ms1.mallocs - ms0.mallocs >= allocs, "mallocs grew by %llu, threads allocated %lu",
          (unsigned long long)(ms1.mallocs - ms0.mallocs), allocs);
    CHECK(ms1.total_alloc - ms0.total_alloc >= bytes,
          "total_alloc grew by %llu, threads requested %lu bytes",
          (unsigned long long)(ms1.total_alloc - ms0.total_alloc), bytes);
    CHECK(ms1.num_gc >= ms0.num_gc + (unsigned)collections);

    /* Everything the threads made is garbage now. */
    churn_stack();
    gc_collect();
    read_ms(&ms1);
    CHECK(ms1.heap_alloc < ms0.heap_alloc + (8u << 20),
          "heap_alloc %llu after threads exited (was %llu)", (unsigned long long)ms1.heap_alloc,
          (unsigned long long)ms0.heap_alloc);
    CHECK(ms1.mallocs - ms1.frees == ms1.heap_objects);
    printf("t_threads_alloc: %d threads, %lu allocations, %d collections during run, %u GCs\n",
           NTHREADS, allocs, collections, ms1.num_gc);
    return 0;
}
