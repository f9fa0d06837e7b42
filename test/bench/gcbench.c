/*
 * gcbench.c: the GCBench workload (Ellis & Kovac, as modified by Boehm), written from its
 * published description for gcrt's benchmark suite.
 *
 * Shape: stretch the heap with a depth-18 tree (dropped); build a long-lived depth-16 tree
 * (top-down) and a long-lived array of 500000 doubles (pointer-free allocation); then for
 * depths 4, 6, ..., 16 build NumIters(d) = 2*TreeSize(18)/TreeSize(d) temporary trees top-down
 * (children allocated and stored into an older parent) and as many bottom-up (children first,
 * then the parent), dropping each; finally check the long-lived data.
 *
 * Compiled with -DUSE_GCRT (gc_alloc nodes, gc_alloc_noscan array), -DUSE_BDWGC (GC_MALLOC,
 * GC_MALLOC_ATOMIC) or -DUSE_MALLOC (malloc, and each tree is freed node by node as soon as it
 * is dead: FREE_TREE, a no-op for the collectors). Same program text otherwise; prints the same
 * checksum for all three. The malloc build runs on glibc or, with LD_PRELOAD, on mimalloc.
 *
 * usage: gcbench_<impl> [scale=K] [quiet] [startmarkers]
 *   scale=K multiplies the number of trees per depth by K (K=1 is the classic benchmark).
 */
#include "bench.h"

typedef struct node {
    struct node *left, *right;
    int i, j;
} node_t;

enum {
    STRETCH_DEPTH = 18,
    LONG_LIVED_DEPTH = 16,
    ARRAY_SIZE = 500000,
    MIN_DEPTH = 4,
    MAX_DEPTH = 16,
};

#if defined(USE_GCRT)
#define NEW_NODE() ((node_t *)gc_alloc(sizeof(node_t)))
#define NEW_DOUBLES(n) ((double *)gc_alloc_noscan((n) * sizeof(double)))
#define STORE(lv, v) GC_STORE(lv, v)
#elif defined(USE_BDWGC)
#define NEW_NODE() ((node_t *)GC_MALLOC(sizeof(node_t)))
#define NEW_DOUBLES(n) ((double *)GC_MALLOC_ATOMIC((n) * sizeof(double)))
#define STORE(lv, v) ((lv) = (v))
#else
/* Both collectors hand out zeroed nodes; a leaf's NULL children depend on it. */
static inline node_t *malloc_node(void)
{
    node_t *n = malloc(sizeof *n);
    if (n)
        memset(n, 0, sizeof *n);
    return n;
}
#define NEW_NODE() malloc_node()
#define NEW_DOUBLES(n) ((double *)malloc((n) * sizeof(double)))
#define STORE(lv, v) ((lv) = (v))
#endif

#if defined(USE_MALLOC)
static void free_tree(node_t *n)
{
    while (n) { /* recurse left, iterate right, as count_nodes */
        node_t *r = n->right;
        free_tree(n->left);
        free(n);
        n = r;
    }
}
#define FREE_TREE(t) free_tree(t)
#define FREE_ARRAY(a) free(a)
#else
#define FREE_TREE(t) ((void)(t))
#define FREE_ARRAY(a) ((void)(a))
#endif

static int quiet;

static node_t *alloc_node(void)
{
    node_t *n = NEW_NODE();
    if (n == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(3);
    }
    return n;
}

static long tree_size(int depth)
{
    return (1L << (depth + 1)) - 1;
}

static long num_iters(int depth)
{
    return 2 * tree_size(STRETCH_DEPTH) / tree_size(depth);
}

/* Top-down: give `n` two fresh children and recurse into them. */
static void populate(int depth, node_t *n)
{
    if (depth <= 0)
        return;
    depth--;
    STORE(n->left, alloc_node());
    STORE(n->right, alloc_node());
    populate(depth, n->left);
    populate(depth, n->right);
}

/* Bottom-up: build both subtrees, then the parent that links them. */
static node_t *make_tree(int depth)
{
    if (depth <= 0)
        return alloc_node();
    node_t *l = make_tree(depth - 1);
    node_t *r = make_tree(depth - 1);
    node_t *n = alloc_node();
    STORE(n->left, l);
    STORE(n->right, r);
    return n;
}

static long count_nodes(const node_t *n)
{
    long c = 0;
    while (n) { /* recurse left, iterate right */
        c += 1 + count_nodes(n->left);
        n = n->right;
    }
    return c;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

/* Returns a checksum: node counts of the last tree built in each phase plus the long-lived
 * tree, so that a lost or corrupted subtree changes it. */
static long time_construction(int depth, long scale)
{
    long iters = num_iters(depth) * scale, check = 0;
    say("Creating %ld trees of depth %d\n", iters, depth);

    /* each tree is dropped right after it is built; the last one is counted first */
    uint64_t t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        node_t *t = alloc_node();
        populate(depth, t);
        if (i == iters - 1)
            check += count_nodes(t);
        FREE_TREE(t);
    }
    uint64_t t1 = now_ns();
    say("\tTop down construction took %llu msec\n", (unsigned long long)(t1 - t0) / 1000000);

    for (long i = 0; i < iters; i++) {
        node_t *t = make_tree(depth);
        if (i == iters - 1)
            check += count_nodes(t);
        FREE_TREE(t);
    }
    uint64_t t2 = now_ns();
    say("\tBottom up construction took %llu msec\n", (unsigned long long)(t2 - t1) / 1000000);
    gcstat_poll();
    return check;
}

int main(int argc, char **argv)
{
    long scale = arg_long(argc, argv, "scale", 1);
    quiet = arg_flag(argc, argv, "quiet");
    if (scale < 1) {
        fprintf(stderr, "scale must be >= 1\n");
        return 2;
    }
    bench_gc_init(argc, argv);

    say("Garbage Collector Test\n");
    say(" Live storage will peak at %ld bytes.\n\n",
        (long)(2 * sizeof(node_t) * tree_size(LONG_LIVED_DEPTH) + sizeof(double) * ARRAY_SIZE));
    say(" Stretching memory with a binary tree of depth %d\n", STRETCH_DEPTH);

    bench_clock_t c0 = bench_clock(RUSAGE_SELF);
    node_t *stretch = make_tree(STRETCH_DEPTH);
    long check = count_nodes(stretch);
    FREE_TREE(stretch);

    say(" Creating a long-lived binary tree of depth %d\n", LONG_LIVED_DEPTH);
    node_t *long_lived = alloc_node();
    populate(LONG_LIVED_DEPTH, long_lived);

    say(" Creating a long-lived array of %d doubles\n", ARRAY_SIZE);
    double *array = NEW_DOUBLES(ARRAY_SIZE);
    if (array == NULL) {
        fprintf(stderr, "out of memory\n");
        return 3;
    }
    for (int i = 0; i < ARRAY_SIZE / 2; i++)
        array[i] = 1.0 / i;
    gcstat_poll();

    for (int d = MIN_DEPTH; d <= MAX_DEPTH; d += 2)
        check += time_construction(d, scale);

    int ok = long_lived != NULL && array[1000] == 1.0 / 1000;
    check += count_nodes(long_lived);
    if (!ok)
        fprintf(stderr, "Failed\n");

    bench_clock_t d = bench_elapsed(c0, bench_clock(RUSAGE_SELF));
    gcstat_t s = gcstat_read();
    say("Completed in %llu msec\n", (unsigned long long)d.wall / 1000000);
    say("Completed %llu collections\n", (unsigned long long)s.gcs);

    printf("RESULT bench=gcbench impl=%s scale=%ld wall_ms=%.1f cpu_ms=%.1f user_ms=%.1f "
           "sys_ms=%.1f rss_kb=%ld",
           IMPL_NAME, scale, d.wall / 1e6, (d.user + d.sys) / 1e6, d.user / 1e6, d.sys / 1e6,
           max_rss_kb());
    print_gcstat(s);
    printf(" check=%ld ok=%d\n", check, ok);
#if defined(USE_GCRT)
    gc_keep_alive(long_lived);
    gc_keep_alive(array);
#endif
    FREE_TREE(long_lived);
    FREE_ARRAY(array);
    return ok ? 0 : 1;
}
