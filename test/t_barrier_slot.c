/*
 * t_barrier_slot: GC_STORE's deletion barrier when the only reference to a subgraph moves
 * between heap slots while concurrent cycles run.
 *
 * A long-lived structure: NHOLD holder objects (reachable from a static table) each have
 * NSLOT slots; every subgraph is a 7-node tree (a root whose two kids each have two kids)
 * whose root sits in exactly one holder slot. Nothing else refers to any node: no global,
 * no other object, no stack variable across operations. Two mutator threads (each owning
 * half of the holders) keep moving references around with GC_STORE:
 *  - a subgraph root: load it into a local, GC_STORE the slot to NULL, allocate garbage (the
 *    pointer now lives only in the local), then GC_STORE it into a slot of a different
 *    holder (swapping with what was there, which goes back into the vacated slot);
 *  - a 3-node subtree: detach it from one root's kid slot (GC_STORE NULL), allocate garbage,
 *    GC_STORE it over another root's kid (non-NULL), and put that one into the vacated slot.
 * Garbage is allocated all the time and GOGC is 5, so cycles run back to back and nearly
 * every move happens while marking is on. Every node carries an id, a payload and a
 * checksum written once before it is published; freed and reused slots fail the checksum.
 * Between phases the threads stop and the main thread walks the whole structure: every
 * node intact, gc_base(node) == node, every id reached exactly once.
 * The same body is run again in a child with GODEBUG=gccheckmark=1,gcverify=1, which must
 * exit 0 with no "gcrt: fatal" on stderr.
 */
#include "check.h"

#include <stdatomic.h>

#define NTHREADS 2
#define NHOLD 512
#define NSLOT 16
#define NSUB 3000 /* subgraphs; NSUB < NHOLD * NSLOT, so some slots are NULL */
#define SUBNODES 7
#define NNODES (NSUB * SUBNODES)
#define OPS_PER_PHASE 4000
#define MIN_CYCLES 20
#define TARGET_CYCLES 1000

typedef struct node {
    struct node *kid[2];
    uint64_t id;
    uint64_t pay[4];
    uint64_t sum;
} node_t;

typedef struct holder {
    node_t *slot[NSLOT];
} holder_t;

static holder_t *holders[NHOLD]; /* static data: the only roots of the structure */
static pthread_barrier_t bar;
static atomic_int stop;
static atomic_ulong bad_seen, moves_done, moves_marking;
static double max_seconds;

static uint64_t node_sum(const node_t *n)
{
    return test_mix(n->id ^ test_mix(n->pay[0] ^ test_mix(n->pay[1] ^ test_mix(n->pay[2] ^ test_mix(n->pay[3])))));
}

static int node_ok(const node_t *n)
{
    if (gc_base(n) != n)
        return 0;
    uint64_t id = n->id;
    if (id == 0 || id > NNODES)
        return 0;
    for (int i = 0; i < 4; i++)
        if (n->pay[i] != test_mix(id * 8 + (uint64_t)i))
            return 0;
    return n->sum == node_sum(n);
}

static uint64_t next_id = 1;

static node_t *new_node(void)
{
    node_t *n = gc_alloc(sizeof *n);
    CHECK(n != NULL);
    n->id = next_id++;
    for (int i = 0; i < 4; i++)
        n->pay[i] = test_mix(n->id * 8 + (uint64_t)i);
    n->sum = node_sum(n);
    return n;
}

static TEST_NOINLINE node_t *new_subgraph(void)
{
    node_t *r = new_node();
    for (int k = 0; k < 2; k++) {
        node_t *c = new_node();
        c->kid[0] = new_node();
        c->kid[1] = new_node();
        r->kid[k] = c;
    }
    return r;
}

/* Garbage: noscan, filled with a pattern, the same size class as nodes so freed node slots
 * are reused and overwritten quickly; now and then a bigger block. */
static TEST_NOINLINE void garbage(uint64_t *rng, int n)
{
    for (int i = 0; i < n; i++) {
        *rng = test_mix(*rng + 1);
        size_t sz = (*rng & 63) == 0 ? 4096 : sizeof(node_t);
        unsigned char *g = gc_alloc_noscan(sz);
        CHECK(g != NULL);
        memset(g, 0xdb, sz);
    }
}

typedef struct targ {
    int idx;
} targ_t;

static TEST_NOINLINE void check_touch(const node_t *n)
{
    if (!node_ok(n))
        atomic_fetch_add(&bad_seen, 1);
}

/* Move a subgraph root between two holder slots of this thread's partition. */
static TEST_NOINLINE void move_root(uint64_t *rng, int lo, int hi)
{
    uint64_t r = test_mix(*rng += 0x9e3779b97f4a7c15ull);
    holder_t *a = holders[lo + (int)(r % (uint64_t)(hi - lo))];
    holder_t *b = holders[lo + (int)((r >> 20) % (uint64_t)(hi - lo))];
    int i = (int)((r >> 40) % NSLOT), j = (int)((r >> 50) % NSLOT);
    if (a == b)
        return;
    int marking = gc_write_barrier_on;
    node_t *p = a->slot[i];
    if (!p)
        return;
    GC_STORE(a->slot[i], NULL); /* p is now only in this local */
    garbage(rng, 3);
    check_touch(p);
    node_t *q = b->slot[j];
    GC_STORE(b->slot[j], p); /* overwrites q (maybe NULL) */
    garbage(rng, 1);
    if (q) {
        check_touch(q);
        GC_STORE(a->slot[i], q); /* slot holds NULL: barrier not needed, used anyway */
    }
    atomic_fetch_add(&moves_done, 1);
    if (marking)
        atomic_fetch_add(&moves_marking, 1);
}

/* Move a 3-node subtree between the kid slots of two subgraph roots. */
static TEST_NOINLINE void move_subtree(uint64_t *rng, int lo, int hi)
{
    uint64_t r = test_mix(*rng += 0x9e3779b97f4a7c15ull);
    holder_t *ha = holders[lo + (int)(r % (uint64_t)(hi - lo))];
    holder_t *hb = holders[lo + (int)((r >> 20) % (uint64_t)(hi - lo))];
    node_t *A = ha->slot[(r >> 40) % NSLOT], *B = hb->slot[(r >> 50) % NSLOT];
    int i = (int)((r >> 60) & 1), j = (int)((r >> 61) & 1);
    if (!A || !B || (A == B && i == j))
        return;
    int marking = gc_write_barrier_on;
    node_t *p = A->kid[i];
    GC_STORE(A->kid[i], NULL);
    A = NULL;
    garbage(rng, 3);
    check_touch(p);
    node_t *q = B->kid[j];
    GC_STORE(B->kid[j], p);
    B = NULL;
    garbage(rng, 1);
    /* A is found again through its holder slot (it was not moved: only this thread moves
     * roots of its partition). */
    A = ha->slot[(r >> 40) % NSLOT];
    CHECK(A != NULL && A->kid[i] == NULL, "subtree slot changed under the mover");
    check_touch(q);
    GC_STORE(A->kid[i], q);
    atomic_fetch_add(&moves_done, 1);
    if (marking)
        atomic_fetch_add(&moves_marking, 1);
}

static void *mutator(void *arg)
{
    int t = (int)(intptr_t)arg;
    int lo = t * (NHOLD / NTHREADS), hi = lo + NHOLD / NTHREADS;
    uint64_t rng = test_mix((uint64_t)t + 12345);
    for (;;) {
        pthread_barrier_wait(&bar); /* phase start */
        if (atomic_load(&stop))
            break;
        for (int k = 0; k < OPS_PER_PHASE; k++) {
            if (k & 1)
                move_subtree(&rng, lo, hi);
            else
                move_root(&rng, lo, hi);
        }
        churn_stack();
        pthread_barrier_wait(&bar); /* phase end */
    }
    return NULL;
}

/* Walk everything from the holders; returns the number of damaged nodes. */
static TEST_NOINLINE unsigned long verify_all(unsigned char *seen, unsigned long *reached)
{
    unsigned long bad = 0, n = 0;
    memset(seen, 0, NNODES + 1);
    for (int h = 0; h < NHOLD; h++) {
        for (int s = 0; s < NSLOT; s++) {
            node_t *r = holders[h]->slot[s];
            if (!r)
                continue;
            node_t *stack[SUBNODES];
            int sp = 0, depth[SUBNODES];
            stack[sp] = r;
            depth[sp++] = 0;
            while (sp) {
                node_t *x = stack[--sp];
                int d = depth[sp];
                n++;
                if (!node_ok(x)) {
                    if (bad++ < 5)
                        fprintf(stderr, "damaged node %p (holder %d slot %d depth %d): id %llu\n",
                                (void *)x, h, s, d, (unsigned long long)x->id);
                    continue;
                }
                if (seen[x->id]++) {
                    if (bad++ < 5)
                        fprintf(stderr, "node id %llu reached twice\n", (unsigned long long)x->id);
                    continue;
                }
                for (int k = 0; k < 2; k++) {
                    node_t *c = x->kid[k];
                    if (d < 2 && c && sp < SUBNODES) {
                        stack[sp] = c;
                        depth[sp++] = d + 1;
                    } else if (d < 2 && !c) {
                        if (bad++ < 5)
                            fprintf(stderr, "node id %llu lost kid %d\n", (unsigned long long)x->id, k);
                    }
                }
            }
        }
    }
    *reached = n;
    return bad;
}

static TEST_NOINLINE void build(void)
{
    for (int h = 0; h < NHOLD; h++) {
        holders[h] = gc_alloc(sizeof(holder_t));
        CHECK(holders[h] != NULL);
    }
    /* Spread subgraphs: partition p gets subgraphs in its own holders only. */
    for (int k = 0; k < NSUB; k++) {
        int h = (int)(test_mix((uint64_t)k) % NHOLD);
        int s;
        for (;;) {
            for (s = 0; s < NSLOT && holders[h]->slot[s]; s++) {
            }
            if (s < NSLOT)
                break;
            h = (h + 1) % NHOLD;
        }
        holders[h]->slot[s] = new_subgraph();
    }
}

static int body(const char *mode)
{
    CHECK(gc_init() == 0);
    build();
    churn_stack();
    unsigned char *seen = malloc(NNODES + 1);
    CHECK(seen != NULL);
    unsigned long reached;
    CHECK(verify_all(seen, &reached) == 0);
    CHECK_EQ_U(reached, NNODES);

    gc_set_percent(5);
    CHECK(pthread_barrier_init(&bar, NULL, NTHREADS + 1) == 0);
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
        CHECK(gc_pthread_create(&th[t], NULL, mutator, (void *)(intptr_t)t) == 0);

    gc_memstats_t ms;
    uint32_t gc0 = read_ms(&ms)->num_gc;
    double t0 = now_sec();
    int phases = 0;
    unsigned long bad_total = 0;
    for (;;) {
        pthread_barrier_wait(&bar); /* start a phase */
        pthread_barrier_wait(&bar); /* wait for its end */
        phases++;
        unsigned long bad = verify_all(seen, &reached);
        if (bad || reached != NNODES)
            fprintf(stderr, "%s: phase %d: %lu damaged, %lu of %d nodes reached\n", mode, phases,
                    bad, reached, NNODES);
        bad_total += bad + (reached != NNODES);
        uint32_t cycles = read_ms(&ms)->num_gc - gc0;
        if (bad_total || (cycles >= TARGET_CYCLES && phases >= 10) || now_sec() - t0 > max_seconds)
            break;
    }
    atomic_store(&stop, 1);
    pthread_barrier_wait(&bar);
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    double secs = now_sec() - t0;
    uint32_t cycles = read_ms(&ms)->num_gc - gc0;

    /* One more full check after forced collections with the mutators gone. */
    churn_stack();
    gc_collect();
    gc_collect();
    unsigned long bad = verify_all(seen, &reached);
    printf("t_barrier_slot[%s]: %u cycles during %.1fs of mutation, %d phases, %lu moves (%lu "
           "with the barrier on), %lu damaged while moving, %lu damaged at the end, %lu/%d "
           "nodes reached\n",
           mode, cycles, secs, phases, atomic_load(&moves_done), atomic_load(&moves_marking),
           atomic_load(&bad_seen), bad, reached, NNODES);
    fflush(stdout);
    CHECK(bad_total == 0, "damaged or lost nodes during the run");
    CHECK(atomic_load(&bad_seen) == 0, "a mover saw a damaged node");
    CHECK(bad == 0 && reached == NNODES, "damaged or lost nodes at the end");
    CHECK(cycles >= test_min_cycles(MIN_CYCLES), "only %u cycles overlapped the mutation", cycles);
    /* memcheck runs one thread at a time: a mover may never be scheduled inside a mark
     * phase, so there this is reported (in the line above), not required */
    CHECK_TIMED(atomic_load(&moves_marking) > 0, "no move happened while marking");
    free(seen);
    return 0;
}

int main(int argc, char **argv) { return run_checked_then_plain(argc, argv, body, &max_seconds); }
