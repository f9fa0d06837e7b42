/*
 * t_threads_gc: threads come and go while others allocate and collections run.
 *  - 2 long-lived workers keep a private list alive and verify it continually while
 *    allocating garbage;
 *  - a collector thread calls gc_collect in a loop;
 *  - the main thread spawns waves of short-lived threads (gc_pthread_create, and plain
 *    pthreads that register/unregister themselves); each builds a tree, verifies it across a
 *    collection, hands a checked result object back through a global slot, and exits;
 *  - the results handed back survive their creators' exit (they are referenced from static
 *    data) and are verified at the end.
 * No sleeps: everything is bounded by iteration counts.
 */
#include "check.h"

#include <stdatomic.h>

#define WAVES 100
#define PER_WAVE 8
#define SHORT_TOTAL (WAVES * PER_WAVE)
#define TREE_DEPTH 10 /* 2^10 - 1 nodes */

typedef struct tree {
    struct tree *l, *r;
    uint64_t key;
    uint64_t check;
} tree_t;

typedef struct result {
    uint64_t id;
    uint64_t nodes;
    tree_t *keep; /* a small subtree kept past the thread's exit */
    uint64_t sum;
} result_t;

static result_t *volatile results[SHORT_TOTAL]; /* static root */
static atomic_int stop_workers;
static atomic_ulong worker_rounds, collections;

static uint64_t ck(uint64_t key) { return key * 0xff51afd7ed558ccdull ^ (key >> 17); }

static tree_t *build(int depth, uint64_t key)
{
    if (depth == 0)
        return NULL;
    tree_t *t = gc_alloc(sizeof *t);
    CHECK(t != NULL);
    t->key = key;
    t->check = ck(key);
    t->l = build(depth - 1, key * 2);
    t->r = build(depth - 1, key * 2 + 1);
    return t;
}

static uint64_t verify(const tree_t *t, uint64_t key, uint64_t *sum)
{
    if (!t)
        return 0;
    CHECK(t->key == key, "tree node key %llu, want %llu", (unsigned long long)t->key,
          (unsigned long long)key);
    CHECK(t->check == ck(key), "tree node %llu damaged", (unsigned long long)key);
    CHECK(gc_base(t) == t);
    *sum += key;
    return 1 + verify(t->l, key * 2, sum) + verify(t->r, key * 2 + 1, sum);
}

static void short_job(uint64_t id)
{
    uint64_t base = id << 20 | 1;
    tree_t *t = build(TREE_DEPTH, base);
    /* garbage in between */
    for (int i = 0; i < 2000; i++) {
        char *g = gc_alloc_noscan(64 + (size_t)(i % 300));
        CHECK(g != NULL);
        g[0] = 1;
    }
    uint64_t sum = 0;
    uint64_t n = verify(t, base, &sum);
    CHECK(n == (1u << TREE_DEPTH) - 1, "tree has %llu nodes", (unsigned long long)n);
    result_t *r = gc_alloc(sizeof *r);
    CHECK(r != NULL);
    r->id = id;
    r->nodes = n;
    r->keep = t->l; /* subtree rooted at key base*2 */
    uint64_t s2 = 0;
    verify(r->keep, base * 2, &s2);
    r->sum = s2;
    results[id] = r;
}

static void *short_gc(void *arg)
{
    short_job((uint64_t)(uintptr_t)arg);
    return arg;
}

static void *short_manual(void *arg)
{
    CHECK(gc_register_thread() == 0);
    short_job((uint64_t)(uintptr_t)arg);
    CHECK(gc_unregister_thread() == 0);
    return arg;
}

typedef struct lnode {
    struct lnode *next;
    uint64_t v;
} lnode_t;

static void *worker(void *arg)
{
    uint64_t tag = (uint64_t)(uintptr_t)arg;
    enum { LEN = 5000 };
    lnode_t *head = NULL;
    for (uint64_t i = 0; i < LEN; i++) {
        lnode_t *n = gc_alloc(sizeof *n);
        CHECK(n != NULL);
        n->v = tag * 1000003u + i;
        n->next = head;
        head = n;
    }
    while (!atomic_load(&stop_workers)) {
        for (int i = 0; i < 5000; i++) {
            void *g = (i & 1) ? gc_alloc(24 + (size_t)(i % 500)) : gc_alloc_noscan(100);
            CHECK(g != NULL);
        }
        uint64_t i = LEN;
        for (lnode_t *p = head; p; p = p->next) {
            i--;
            CHECK(p->v == tag * 1000003u + i, "worker %llu: node %llu damaged",
                  (unsigned long long)tag, (unsigned long long)i);
            /* gc_base must recognise a live object even while its span is being swept */
            CHECK(gc_base(p) == p, "worker %llu: gc_base(live node %llu) = %p, want %p",
                  (unsigned long long)tag, (unsigned long long)i, gc_base(p), (void *)p);
        }
        CHECK(i == 0, "worker list lost nodes");
        atomic_fetch_add(&worker_rounds, 1);
    }
    return NULL;
}

static void *collector(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_workers)) {
        gc_collect();
        atomic_fetch_add(&collections, 1);
        sched_yield();
    }
    return NULL;
}

int main(void)
{
    CHECK(gc_init() == 0);
    double t0 = now_sec();
    pthread_t w[2], col;
    for (int i = 0; i < 2; i++)
        CHECK(gc_pthread_create(&w[i], NULL, worker, (void *)(uintptr_t)(i + 1)) == 0);
    CHECK(gc_pthread_create(&col, NULL, collector, NULL) == 0);

    for (int wave = 0; wave < WAVES; wave++) {
        pthread_t th[PER_WAVE];
        for (int k = 0; k < PER_WAVE; k++) {
            uintptr_t id = (uintptr_t)(wave * PER_WAVE + k);
            int rc = (k & 1) ? pthread_create(&th[k], NULL, short_manual, (void *)id)
                             : gc_pthread_create(&th[k], NULL, short_gc, (void *)id);
            CHECK(rc == 0, "create: %d", rc);
        }
        for (int k = 0; k < PER_WAVE; k++) {
            void *ret;
            CHECK(pthread_join(th[k], &ret) == 0);
            CHECK((uintptr_t)ret == (uintptr_t)(wave * PER_WAVE + k));
        }
    }
    /* Let the collector finish at least a few cycles with the workers running. */
    while (atomic_load(&collections) < 5)
        sched_yield();
    atomic_store(&stop_workers, 1);
    for (int i = 0; i < 2; i++)
        CHECK(pthread_join(w[i], NULL) == 0);
    CHECK(pthread_join(col, NULL) == 0);

    gc_collect();
    for (int id = 0; id < SHORT_TOTAL; id++) {
        result_t *r = results[id];
        CHECK(r != NULL, "thread %d left no result", id);
        CHECK(r->id == (uint64_t)id && r->nodes == (1u << TREE_DEPTH) - 1,
              "result %d damaged", id);
        uint64_t base = (uint64_t)id << 20 | 1, s = 0;
        uint64_t n = verify(r->keep, base * 2, &s);
        CHECK(n == (1u << (TREE_DEPTH - 1)) - 1 && s == r->sum,
              "subtree of thread %d damaged after its exit", id);
    }
    gc_memstats_t ms;
    read_ms(&ms);
    CHECK(ms.mallocs - ms.frees == ms.heap_objects);
    CHECK(ms.heap_inuse + ms.heap_idle == ms.heap_sys);
    printf("t_threads_gc: %d short threads, %lu worker rounds, %lu collections, %u GCs, %.2fs\n",
           SHORT_TOTAL, atomic_load(&worker_rounds), atomic_load(&collections), ms.num_gc,
           now_sec() - t0);
    return 0;
}
