/*
 * binarytrees.c: the Computer Language Benchmarks Game "binary-trees" workload, written from
 * its published description for gcrt's benchmark suite (single-threaded).
 *
 * For N (default 20): max = max(6, N). Build and check a "stretch" tree of depth max+1 and
 * drop it; build a long-lived tree of depth max; for d = 4, 6, ..., max build
 * 2^(max - d + 4) trees of depth d bottom-up, checking (counting the nodes of) each and
 * dropping it; finally check the long-lived tree. Nodes are two pointers (16 bytes).
 *
 * Compiled with -DUSE_GCRT (gc_alloc), -DUSE_BDWGC (GC_MALLOC) or -DUSE_MALLOC (malloc, and
 * each tree is freed node by node as soon as it has been checked: FREE_TREE, a no-op for the
 * collectors); same text otherwise, same output and checksum (the sum of all checks). The
 * malloc build runs on glibc or, with LD_PRELOAD, on mimalloc.
 *
 * usage: binarytrees_<impl> [depth=N] [quiet] [startmarkers]
 */
#include "bench.h"

typedef struct tnode {
    struct tnode *left, *right;
} tnode_t;

#if defined(USE_GCRT)
#define NEW_TNODE() ((tnode_t *)gc_alloc(sizeof(tnode_t)))
#define STORE(lv, v) GC_STORE(lv, v)
#elif defined(USE_BDWGC)
#define NEW_TNODE() ((tnode_t *)GC_MALLOC(sizeof(tnode_t)))
#define STORE(lv, v) ((lv) = (v))
#else
/* Both collectors hand out zeroed nodes; a leaf's NULL children depend on it. */
static inline tnode_t *malloc_tnode(void)
{
    tnode_t *n = malloc(sizeof *n);
    if (n)
        n->left = n->right = NULL;
    return n;
}
#define NEW_TNODE() malloc_tnode()
#define STORE(lv, v) ((lv) = (v))
#endif

#if defined(USE_MALLOC)
static void free_tree(tnode_t *n)
{
    if (n->left) {
        free_tree(n->left);
        free_tree(n->right);
    }
    free(n);
}
#define FREE_TREE(t) free_tree(t)
#else
#define FREE_TREE(t) ((void)(t))
#endif

#define MIN_DEPTH 4

static tnode_t *new_tnode(void)
{
    tnode_t *n = NEW_TNODE();
    if (n == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(3);
    }
    return n;
}

/* Bottom-up: both subtrees first, then the parent. */
static tnode_t *bottom_up(int depth)
{
    if (depth <= 0)
        return new_tnode();
    tnode_t *l = bottom_up(depth - 1);
    tnode_t *r = bottom_up(depth - 1);
    tnode_t *n = new_tnode();
    STORE(n->left, l);
    STORE(n->right, r);
    return n;
}

static long check_tree(const tnode_t *n)
{
    if (n->left == NULL)
        return 1;
    return 1 + check_tree(n->left) + check_tree(n->right);
}

int main(int argc, char **argv)
{
    int n = (int)arg_long(argc, argv, "depth", 20);
    int quiet = arg_flag(argc, argv, "quiet");
    int max_depth = n > MIN_DEPTH + 2 ? n : MIN_DEPTH + 2;
    long total = 0, c;
    bench_gc_init(argc, argv);

    bench_clock_t c0 = bench_clock(RUSAGE_SELF);

    tnode_t *stretch = bottom_up(max_depth + 1);
    c = check_tree(stretch);
    FREE_TREE(stretch);
    total += c;
    if (!quiet)
        printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1, c);
    gcstat_poll();

    tnode_t *long_lived = bottom_up(max_depth);

    for (int d = MIN_DEPTH; d <= max_depth; d += 2) {
        long iters = 1L << (max_depth - d + MIN_DEPTH);
        c = 0;
        for (long i = 0; i < iters; i++) {
            tnode_t *t = bottom_up(d);
            c += check_tree(t);
            FREE_TREE(t);
        }
        total += c;
        if (!quiet)
            printf("%ld\t trees of depth %d\t check: %ld\n", iters, d, c);
        gcstat_poll();
    }

    c = check_tree(long_lived);
    total += c;
    if (!quiet)
        printf("long lived tree of depth %d\t check: %ld\n", max_depth, c);

    bench_clock_t d = bench_elapsed(c0, bench_clock(RUSAGE_SELF));
    gcstat_t s = gcstat_read();
    printf("RESULT bench=binarytrees impl=%s depth=%d wall_ms=%.1f cpu_ms=%.1f user_ms=%.1f "
           "sys_ms=%.1f rss_kb=%ld",
           IMPL_NAME, max_depth, d.wall / 1e6, (d.user + d.sys) / 1e6, d.user / 1e6,
           d.sys / 1e6, max_rss_kb());
    print_gcstat(s);
    printf(" check=%ld\n", total);
#if defined(USE_GCRT)
    gc_keep_alive(long_lived);
#endif
    FREE_TREE(long_lived);
    return 0;
}
