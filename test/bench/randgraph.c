/*
 * randgraph.c: a random graph of 64-byte nodes under concurrent collection, for span-local
 * marking (GODEBUG=gcgreentea) against object-at-a-time marking.
 *
 * Each node has four pointers and four data words. `nodes` of them (default 1000000, about
 * 61 MiB) are allocated in order, so consecutive nodes share spans, and linked as one
 * complete binary tree (kid[0], kid[1]) whose tree positions are a random permutation of
 * the allocation order: each node is reachable, and its parent and children are almost
 * always in other spans. kid[2] points to a random tree node; kid[3] starts NULL. Then
 * `ops` operations (default 20000000), each on a random tree node x:
 *  - 1 in 2: GC_STORE x->kid[2] = another random tree node (the old target stays reachable
 *    through the tree);
 *  - 1 in 2: allocate a fresh node y (its kid[2] a random tree node), GC_STORE x->kid[3] = y;
 *    the node y replaces dies.
 * So the live heap stays at about `nodes` tree nodes plus up to as many fresh ones
 * (those interleaved in spans with dead ones), every cycle marks a graph whose edges jump
 * between spans at random, and marking runs concurrently with the GC_STOREs. At the end the
 * whole tree is walked and every node's data words checked.
 *
 * RESULT fields: seconds (the ops phase, wall), cpu_s (process CPU of that phase), build_s,
 * gcs and pauses (the ops phase's collections); check= the walk's node count. Mark CPU per
 * cycle is read from GODEBUG=gctrace=1 (test/bench/run-greentea.sh).
 *
 * usage: randgraph_gcrt [nodes=N] [ops=N] [seed=N]
 */
#include "bench.h"

typedef struct gnode {
    struct gnode *kid[4];
    uint64_t id, data[3];
} gnode_t;

_Static_assert(sizeof(gnode_t) == 64, "gnode_t is 64 bytes");

#if defined(USE_GCRT)
#define NEW_GNODE() ((gnode_t *)gc_alloc(sizeof(gnode_t)))
#define STORE(lv, v) GC_STORE(lv, v)
#else
#define NEW_GNODE() ((gnode_t *)GC_MALLOC(sizeof(gnode_t)))
#define STORE(lv, v) ((lv) = (v))
#endif

static gnode_t *root;   /* static data: the only root of the graph */
static uint64_t rng_state = 0x2545f4914f6cdd1dull;

/* splitmix64 */
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t datum(uint64_t id, int k) { return (id + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)k; }

static gnode_t *new_gnode(uint64_t id)
{
    gnode_t *n = NEW_GNODE();
    if (!n) {
        fprintf(stderr, "out of memory\n");
        exit(3);
    }
    n->id = id;
    for (int k = 0; k < 3; k++)
        n->data[k] = datum(id, k);
    return n;
}

static int node_ok(const gnode_t *n) {
    for (int k = 0; k < 3; k++)
        if (n->data[k] != datum(n->id, k))
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    long nodes = arg_long(argc, argv, "nodes", 1000000);
    long ops = arg_long(argc, argv, "ops", 20000000);
    rng_state ^= (uint64_t)arg_long(argc, argv, "seed", 1) * 0xbf58476d1ce4e5b9ull;
    if (nodes < 2 || ops < 0) {
        fprintf(stderr, "usage: %s [nodes=N>=2] [ops=N] [seed=N]\n", argv[0]);
        return 2;
    }
    bench_gc_init(argc, argv);
    uint64_t t0 = now_ns();
    /* pos: tree position -> node, in malloc'd memory, which the collector does not see:
     * the graph is built with collection off, and afterwards the tree holds every node. */
    gnode_t **pos = malloc((size_t)nodes * sizeof *pos);
    size_t *perm = malloc((size_t)nodes * sizeof *perm);
    if (!pos || !perm) {
        fprintf(stderr, "out of memory\n");
        return 3;
    }
    for (long i = 0; i < nodes; i++)
        perm[i] = (size_t)i;
    for (long i = nodes - 1; i > 0; i--) {
        size_t j = rng() % (uint64_t)(i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    /* The k-th node allocated sits at tree position perm[k]. */
#if defined(USE_GCRT)
    int gogc = gc_set_percent(-1);
#elif defined(USE_BDWGC)
    GC_disable();
#endif
    for (long k = 0; k < nodes; k++)
        pos[perm[k]] = new_gnode((uint64_t)perm[k]);
    for (long t = 0; t < nodes; t++) {
        gnode_t *n = pos[t];
        if (2 * t + 1 < nodes)
            STORE(n->kid[0], pos[2 * t + 1]);
        if (2 * t + 2 < nodes)
            STORE(n->kid[1], pos[2 * t + 2]);
        STORE(n->kid[2], pos[rng() % (uint64_t)nodes]);
    }
    root = pos[0];
#if defined(USE_GCRT)
    gc_set_percent(gogc);
#elif defined(USE_BDWGC)
    GC_enable();
#endif
    free(perm);
    double build_s = (double)(now_ns() - t0) / 1e9;

    gcstat_t g0 = gcstat_read();
    bench_clock_t c0 = bench_clock(RUSAGE_SELF);
    uint64_t t1 = now_ns();
    for (long i = 0; i < ops; i++) {
        uint64_t r = rng();
        gnode_t *x = pos[(r >> 2) % (uint64_t)nodes];
        if (r & 1) {
            STORE(x->kid[2], pos[(r >> 32) % (uint64_t)nodes]);
        } else {
            gnode_t *y = new_gnode((uint64_t)nodes + (uint64_t)i);
            STORE(y->kid[2], pos[(r >> 32) % (uint64_t)nodes]);
            STORE(x->kid[3], y);
        }
        if ((i & 1023) == 0)
            gcstat_poll();
    }
    double secs = (double)(now_ns() - t1) / 1e9;
    bench_clock_t c1 = bench_elapsed(c0, bench_clock(RUSAGE_SELF));
    gcstat_t g1 = gcstat_read();
    free(pos);

    /* Walk the tree (an explicit malloc'd stack) and check every node, fresh ones too. */
    size_t cap = 1024, sp = 0;
    long count = 0, bad = 0;
    const gnode_t **stack = malloc(cap * sizeof *stack);
    if (!stack)
        return 3;
    stack[sp++] = root;
    while (sp) {
        const gnode_t *n = stack[--sp];
        count++;
        bad += !node_ok(n) || (n->kid[3] && !node_ok(n->kid[3])) || (n->kid[2] && !node_ok(n->kid[2]));
        if (sp + 2 > cap) {
            cap *= 2;
            stack = realloc(stack, cap * sizeof *stack);
            if (!stack)
                return 3;
        }
        if (n->kid[0])
            stack[sp++] = n->kid[0];
        if (n->kid[1])
            stack[sp++] = n->kid[1];
    }
    free(stack);
    if (count != nodes || bad) {
        fprintf(stderr, "randgraph: walk found %ld nodes of %ld, %ld damaged\n", count, nodes, bad);
        return 1;
    }
    gcstat_t gd = g1;
    gd.gcs -= g0.gcs;
    gd.pauses -= g0.pauses;
    gd.total_pause_ns -= g0.total_pause_ns;
    printf("RESULT bench=randgraph impl=%s nodes=%ld ops=%ld seconds=%.3f cpu_s=%.3f build_s=%.3f check=%ld",
           IMPL_NAME, nodes, ops, secs, (double)(c1.user + c1.sys) / 1e9, build_s, count);
    print_gcstat(gd);
    printf(" maxrss_kb=%ld\n", max_rss_kb());
    return 0;
}
