/*
 * t_rewire: concurrent mutation of a shared graph across hundreds of GC cycles.
 *
 * 4 threads share a graph reachable from a static root table. Each node carries an id, a
 * payload and a checksum of both, all written before the node is published and never
 * changed afterwards. Threads walk random paths and:
 *  - rewire an edge of a node on the path to another node seen on the path (GC_STORE over a
 *    non-NULL pointer: the write barrier's job),
 *  - insert a fresh node (taking over the old edge target),
 *  - cut an edge (store NULL) or replace a whole root,
 *  - allocate short-lived garbage.
 * Every node visited is checked (checksum, gc_base). GOGC is 10 (gc_set_percent) so cycles
 * are frequent; every phase the threads meet at a barrier and the main thread traverses the
 * whole graph, checking every reachable node. Any damaged node fails the test.
 * Runs until 300 cycles and 30 full verifications have completed (at least 100 cycles
 * required; time-bounded).
 */
#include "check.h"

#include <stdatomic.h>

#define NTHREADS 4
#define NROOTS 64
#define NEDGES 4
#define TARGET_CYCLES 300
#define MIN_CYCLES 100
#define MIN_PHASES 30 /* full-graph verifications */
#define MAX_SECONDS 40.0
#define OPS_PER_PHASE 2000
#define SOFT_LIMIT 60000 /* reachable nodes above which inserts stop */

typedef struct node {
    struct node *volatile edge[NEDGES];
    uint64_t id;
    uint64_t payload[3];
    uint64_t sum;
} node_t;

static node_t *volatile roots[NROOTS]; /* static data: a root */
static atomic_ulong next_id = 1;
static atomic_int too_big, stop;
static atomic_ulong bad_nodes, visits, ops_done;
static pthread_barrier_t bar;

static uint64_t node_sum(const node_t *n)
{
    return test_mix(n->id ^ test_mix(n->payload[0] ^ test_mix(n->payload[1] ^ test_mix(n->payload[2]))));
}

static node_t *new_node(void)
{
    node_t *n = gc_alloc(sizeof *n);
    CHECK(n != NULL);
    for (int i = 0; i < NEDGES; i++)
        CHECK(n->edge[i] == NULL, "fresh node not zeroed");
    n->id = atomic_fetch_add(&next_id, 1);
    n->payload[0] = test_mix(n->id);
    n->payload[1] = test_mix(n->id + 1);
    n->payload[2] = test_mix(n->id + 2);
    n->sum = node_sum(n);
    atomic_thread_fence(memory_order_release);
    return n;
}

/* 0 = fine, 1 = gc_base does not recognise the node, 2 = contents damaged. */
static int node_check(const node_t *n, const void **base_seen)
{
    const void *b = gc_base(n);
    *base_seen = b;
    if (n->id == 0 || n->payload[0] != test_mix(n->id) || n->payload[1] != test_mix(n->id + 1) ||
        n->payload[2] != test_mix(n->id + 2) || n->sum != node_sum(n))
        return 2;
    if (b != n)
        return 1;
    return 0;
}

static atomic_ulong bad_base; /* live, intact node not recognised by gc_base */

static int node_ok(const node_t *n, const char *where)
{
    const void *b;
    int r = node_check(n, &b);
    if (r == 0)
        return 1;
    if (r == 1) {
        unsigned long k = atomic_fetch_add(&bad_base, 1);
        if (k < 10)
            fprintf(stderr, "%s: gc_base(%p) = %p for a reachable, intact node (id %llu); now %p\n",
                    where, (void *)n, b, (unsigned long long)n->id, gc_base(n));
        return 0;
    }
    unsigned long k = atomic_fetch_add(&bad_nodes, 1);
    if (k < 10)
        fprintf(stderr, "%s: damaged node %p (gc_base %p): id %llu sum %#llx\n", where, (void *)n,
                b, (unsigned long long)n->id, (unsigned long long)n->sum);
    return 0;
}

static unsigned rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (unsigned)(*s >> 11);
}

enum { PATH = 24 };

static void one_op(uint64_t *rs)
{
    node_t *path[PATH];
    int len = 0;
    node_t *cur = roots[rnd(rs) % NROOTS];
    while (cur && len < PATH) {
        atomic_thread_fence(memory_order_acquire);
        atomic_fetch_add(&visits, 1);
        if (!node_ok(cur, "walk"))
            return;
        path[len++] = cur;
        cur = cur->edge[rnd(rs) % NEDGES];
    }
    if (len == 0) {
        roots[rnd(rs) % NROOTS] = new_node();
        return;
    }
    node_t *a = path[rnd(rs) % len];
    /* Edges 0 and 1 form a growing backbone; edges 2 and 3 are cross links (cycles). */
    int back = (int)(rnd(rs) % 2), cross = 2 + (int)(rnd(rs) % 2);
    unsigned op = rnd(rs) % 1000;
    if (op < 300) {
        /* rewire a cross link to a node seen on the path (often making a cycle) */
        GC_STORE(a->edge[cross], path[rnd(rs) % len]);
    } else if (op < 380) {
        GC_STORE(a->edge[cross], NULL);
    } else if (op < 900) {
        if (!atomic_load(&too_big)) {
            /* insert a fresh node into the backbone; it takes over the old target */
            node_t *n = new_node();
            n->edge[0] = a->edge[back]; /* fresh object, slot still NULL */
            n->edge[2] = path[rnd(rs) % len];
            atomic_thread_fence(memory_order_release);
            GC_STORE(a->edge[back], n);
        }
    } else if (op < 998) {
        /* splice the next backbone node out (its other edges are dropped) */
        node_t *next = a->edge[back];
        if (next)
            GC_STORE(a->edge[back], next->edge[0]);
    } else {
        /* a new root: the old one's structure may become garbage */
        node_t *n = new_node();
        n->edge[2] = path[rnd(rs) % len];
        atomic_thread_fence(memory_order_release);
        roots[rnd(rs) % NROOTS] = n;
    }
    /* short-lived garbage, sometimes holding pointers into the graph */
    void **g = gc_alloc(16 + rnd(rs) % 400);
    CHECK(g != NULL);
    g[0] = a;
    if (rnd(rs) % 64 == 0) {
        char *big = gc_alloc_noscan(4096 + rnd(rs) % 60000);
        CHECK(big != NULL);
        big[0] = 1;
    }
}

static void *mutator(void *arg)
{
    uint64_t rs = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
    for (;;) {
        for (int i = 0; i < OPS_PER_PHASE; i++)
            one_op(&rs);
        atomic_fetch_add(&ops_done, OPS_PER_PHASE);
        pthread_barrier_wait(&bar); /* main verifies */
        pthread_barrier_wait(&bar); /* main decided whether to stop */
        if (atomic_load(&stop))
            break;
    }
    return NULL;
}

/* Full traversal with an open-addressing visited set (malloc'd: not a root, which is fine
 * because the graph is quiescent while this runs). */
static size_t verify_all(void)
{
    size_t cap = 1 << 20;
    uintptr_t *set = calloc(cap, sizeof *set);
    node_t **stack = malloc(cap * sizeof *stack);
    CHECK(set && stack);
    size_t sp = 0, count = 0;
    for (int r = 0; r < NROOTS; r++)
        if (roots[r])
            stack[sp++] = roots[r];
    while (sp) {
        node_t *n = stack[--sp];
        size_t h = (size_t)(test_mix((uintptr_t)n) & (cap - 1));
        while (set[h] && set[h] != (uintptr_t)n)
            h = (h + 1) & (cap - 1);
        if (set[h])
            continue;
        set[h] = (uintptr_t)n;
        count++;
        CHECK(count < cap / 2, "graph too large for the visited set");
        if (!node_ok(n, "verify"))
            continue;
        for (int e = 0; e < NEDGES; e++) {
            node_t *m = n->edge[e];
            if (m) {
                CHECK(sp < cap, "traversal stack overflow");
                stack[sp++] = m;
            }
        }
    }
    free(set);
    free(stack);
    return count;
}

int main(void)
{
    CHECK(gc_init() == 0);
    int old = gc_set_percent(10);
    CHECK(old == 100, "initial GOGC %d", old);
    for (int r = 0; r < NROOTS; r++) {
        node_t *n = new_node();
        if (r > 0)
            n->edge[0] = roots[r - 1];
        roots[r] = n;
    }
    gc_memstats_t ms;
    read_ms(&ms);
    unsigned gc0 = ms.num_gc;
    CHECK(pthread_barrier_init(&bar, NULL, NTHREADS + 1) == 0);
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        CHECK(gc_pthread_create(&th[i], NULL, mutator, (void *)(uintptr_t)i) == 0);

    double t0 = now_sec();
    int phases = 0;
    size_t reachable = 0, max_reachable = 0;
    unsigned cycles = 0;
    for (;;) {
        pthread_barrier_wait(&bar); /* mutators paused */
        reachable = verify_all();
        if (reachable > max_reachable)
            max_reachable = reachable;
        atomic_store(&too_big, reachable > SOFT_LIMIT);
        phases++;
        read_ms(&ms);
        cycles = ms.num_gc - gc0;
        int done = (cycles >= TARGET_CYCLES && phases >= MIN_PHASES) ||
                   now_sec() - t0 > MAX_SECONDS || atomic_load(&bad_nodes) > 0;
        atomic_store(&stop, done);
        pthread_barrier_wait(&bar);
        if (done)
            break;
    }
    for (int i = 0; i < NTHREADS; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    /* A last forced cycle and a final check. */
    gc_collect();
    reachable = verify_all();
    read_ms(&ms);
    cycles = ms.num_gc - gc0;
    double secs = now_sec() - t0;
    printf("t_rewire: %u cycles, %d phases, %lu ops, %lu node visits, %zu reachable at end "
           "(max %zu), %lu damaged, %lu unrecognised by gc_base, %.2fs\n",
           cycles, phases, atomic_load(&ops_done), atomic_load(&visits), reachable,
           max_reachable, atomic_load(&bad_nodes), atomic_load(&bad_base), secs);
    CHECK(atomic_load(&bad_nodes) == 0, "%lu damaged nodes", atomic_load(&bad_nodes));
    CHECK(atomic_load(&bad_base) == 0,
          "gc_base failed %lu times on reachable, intact nodes (during concurrent sweeping?)",
          atomic_load(&bad_base));
    CHECK(cycles >= test_min_cycles(MIN_CYCLES), "only %u GC cycles in %.1fs", cycles, secs);
    CHECK(ms.mallocs - ms.frees == ms.heap_objects);
    return 0;
}
