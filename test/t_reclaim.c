/*
 * t_reclaim: unreachable objects are reclaimed (aggregate checks, the collector is
 * conservative).
 *  - 10000 unreachable objects of mixed sizes and kinds: >= 90% freed by one gc_collect;
 *  - objects reachable only from garbage (a dropped linked list, a dropped tree, garbage
 *    cycles) are freed too;
 *  - heap_alloc / heap_objects drop back after collection;
 *  - repeated rounds of garbage do not grow the heap: freed memory is reused.
 * Live objects in the same spans are untouched.
 */
#include "check.h"

#define N 10000
#define MiB ((uint64_t)1 << 20)

static unsigned long long U(uint64_t v) { return (unsigned long long)v; }

/* Independent objects of mixed sizes/kinds; every third one stays alive via `live`. */
static TEST_NOINLINE void make_mixed(uintptr_t *hidden, void **live)
{
    for (size_t i = 0; i < N; i++) {
        size_t n = 8 + (i * 97) % 2500;
        if (i % 1000 == 999)
            n = 40000 + i; /* some large ones */
        void *p = (i & 1) ? gc_alloc_noscan(n) : gc_alloc(n);
        CHECK(p != NULL);
        memset(p, 0x3c, n);
        hidden[i] = HIDE(p);
        if (i % 3 == 0)
            live[i / 3] = p;
    }
}

typedef struct lnode {
    struct lnode *next;
    uint64_t pad[3];
} lnode_t;

/* A linked list whose head is dropped: everything is reachable only from garbage. */
static TEST_NOINLINE void make_list(uintptr_t *hidden)
{
    lnode_t *head = NULL;
    for (size_t i = 0; i < N; i++) {
        lnode_t *n = gc_alloc(sizeof *n);
        CHECK(n != NULL);
        n->next = head;
        n->pad[0] = i;
        head = n;
        hidden[i] = HIDE(n);
    }
}

struct build_job {
    void (*fn)(uintptr_t *);
    uintptr_t *hidden;
};

static void *build_thread(void *arg)
{
    struct build_job *j = arg;
    WITHOUT_AUTO_GC(j->fn(j->hidden));
    return NULL;
}

/* Run fn in a registered thread of its own and wait for it to exit (unregistered). */
static void build_elsewhere(void (*fn)(uintptr_t *), uintptr_t *hidden)
{
    struct build_job j = {fn, hidden};
    pthread_t th;
    CHECK(gc_pthread_create(&th, NULL, build_thread, &j) == 0);
    CHECK(pthread_join(th, NULL) == 0);
}

typedef struct tnode {
    struct tnode *l, *r, *parent;
} tnode_t;

/* A binary tree with parent links (many cycles), dropped. */
static TEST_NOINLINE void make_tree(uintptr_t *hidden)
{
    tnode_t **nodes = malloc(N * sizeof *nodes);
    CHECK(nodes != NULL);
    for (size_t i = 0; i < N; i++) {
        nodes[i] = gc_alloc(sizeof(tnode_t));
        CHECK(nodes[i] != NULL);
        hidden[i] = HIDE(nodes[i]);
        if (i > 0) {
            tnode_t *p = nodes[(i - 1) / 2];
            nodes[i]->parent = p;
            if (i & 1)
                p->l = nodes[i];
            else
                p->r = nodes[i];
        }
    }
    memset(nodes, 0, N * sizeof *nodes);
    free(nodes);
}

/* Rings of 10 objects each (pure cycles), dropped. */
static TEST_NOINLINE void make_rings(uintptr_t *hidden)
{
    for (size_t r = 0; r < N / 10; r++) {
        void **first = gc_alloc(64), **prev = first;
        CHECK(first != NULL);
        hidden[r * 10] = HIDE(first);
        for (size_t k = 1; k < 10; k++) {
            void **p = gc_alloc(64);
            CHECK(p != NULL);
            *prev = p;
            prev = p;
            hidden[r * 10 + k] = HIDE(p);
        }
        *prev = first;
    }
}

static TEST_NOINLINE void garbage_round(size_t bytes)
{
    size_t done = 0;
    for (size_t i = 0; done < bytes; i++) {
        size_t n = 16 + (i * 131) % 4000;
        void *p = (i & 1) ? gc_alloc_noscan(n) : gc_alloc(n);
        CHECK(p != NULL);
        done += n;
    }
}

int main(void)
{
    CHECK(gc_init() == 0);
    static uintptr_t hidden[N];
    gc_memstats_t m0, m1, m2;

    /* 1. Mixed independent objects; a third stay alive. */
    {
        void **live = gc_alloc((N / 3 + 1) * sizeof(void *));
        CHECK(live != NULL);
        gc_collect();
        read_ms(&m0);
        WITHOUT_AUTO_GC(make_mixed(hidden, live));
        read_ms(&m1);
        churn_stack();
        gc_collect();
        read_ms(&m2);
        size_t dead = 0, freed = 0;
        for (size_t i = 0; i < N; i++) {
            void *p = UNHIDE(hidden[i]);
            if (i % 3 == 0) {
                CHECK(gc_base(p) == p, "live object %zu freed", i);
                size_t n = 8 + (i * 97) % 2500;
                if (i % 1000 == 999)
                    n = 40000 + i;
                CHECK(((unsigned char *)p)[0] == 0x3c && ((unsigned char *)p)[n - 1] == 0x3c,
                      "live object %zu corrupted", i);
            } else {
                dead++;
                if (gc_base(p) == NULL)
                    freed++;
            }
        }
        CHECK(freed * 10 >= dead * 9, "mixed: only %zu of %zu unreachable objects freed", freed,
              dead);
        CHECK(m2.heap_alloc < m1.heap_alloc, "heap_alloc did not drop");
        uint64_t grown = m1.heap_alloc - m0.heap_alloc, kept = m2.heap_alloc - m0.heap_alloc;
        CHECK(kept < grown / 2, "heap_alloc kept %llu of %llu bytes although 2/3 died", U(kept),
              U(grown));
        CHECK(m2.heap_objects < m1.heap_objects - dead * 9 / 10,
              "heap_objects %llu -> %llu", U(m1.heap_objects), U(m2.heap_objects));
        printf("mixed: %zu/%zu freed, heap_alloc %llu -> %llu\n", freed, dead, U(m1.heap_alloc),
               U(m2.heap_alloc));
        gc_keep_alive(live);
    }

    /* 2. Structures reachable only from garbage, built by a thread that has exited: one
     * stale copy of a list's head in a register or stack slot of this thread keeps the
     * whole list (seen under ASan, where a callee's spill survived in gc_collect's frames). */
    {
        build_elsewhere(make_list, hidden);
        churn_stack();
        gc_collect();
        size_t f = count_freed(hidden, N);
        CHECK(f * 10 >= N * 9, "list: only %zu of %d nodes freed", f, N);
        printf("dropped list: %zu/%d freed\n", f, N);

        build_elsewhere(make_tree, hidden);
        churn_stack();
        gc_collect();
        f = count_freed(hidden, N);
        CHECK(f * 10 >= N * 9, "tree: only %zu of %d nodes freed", f, N);
        printf("dropped tree with parent links: %zu/%d freed\n", f, N);

        build_elsewhere(make_rings, hidden);
        churn_stack();
        gc_collect();
        f = count_freed(hidden, N);
        CHECK(f * 10 >= N * 9, "rings: only %zu of %d nodes freed", f, N);
        printf("garbage cycles: %zu/%d freed\n", f, N);
    }

    /* 3. Repeated garbage rounds reuse memory. */
    {
        gc_collect();
        read_ms(&m0);
        for (int r = 0; r < 20; r++) {
            garbage_round(32 * MiB);
            churn_stack();
            gc_collect();
        }
        read_ms(&m1);
        CHECK(m1.heap_alloc < m0.heap_alloc + 4 * MiB, "heap_alloc %llu -> %llu after 20 rounds",
              U(m0.heap_alloc), U(m1.heap_alloc));
        CHECK(m1.heap_sys < m0.heap_sys + 96 * MiB,
              "heap_sys grew from %llu to %llu for 32 MiB of garbage per round", U(m0.heap_sys),
              U(m1.heap_sys));
        CHECK(m1.mallocs - m1.frees == m1.heap_objects);
        printf("20 rounds of 32 MiB garbage: heap_sys %llu -> %llu MiB\n", U(m0.heap_sys / MiB),
               U(m1.heap_sys / MiB));
    }
    printf("t_reclaim: OK\n");
    return 0;
}
