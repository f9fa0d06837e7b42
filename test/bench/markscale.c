/*
 * markscale.c: stop-the-world mark speed on a large live heap, for comparing 1 and 2 mark
 * workers.
 *
 * Builds a live heap of `mib` MiB (default 256) made of 64-byte scanned nodes (gc_alloc) with
 * automatic collection off, linked as one complete binary tree whose nodes are placed in a
 * random order in memory (layout=random, default) or in allocation order
 * (layout=sequential); each node has two child pointers and six non-pointer words. Then it
 * runs one untimed gc_collect() and `reps` timed ones (default 5), and reports for each the
 * collector's pause (pause_ns from gc_read_memstats), the wall time of the gc_collect() call
 * and the process CPU time it used. The mark-worker count is whatever the library takes from
 * GOMAXPROCS; run it twice (GOMAXPROCS=1 and GOMAXPROCS=2) and compare the medians. gcrt
 * marks concurrently by default (and then the pause is only its two short stops), so
 * run.sh sets GODEBUG=gcstoptheworld=1 to put the whole mark in the pause.
 *
 * gcrt only for the targets; the -DUSE_BDWGC build (GC_gcollect, GC_MARKERS=N startmarkers)
 * gives a reference point.
 *
 * usage: markscale_<impl> [mib=256] [reps=5] [layout=random|sequential] [startmarkers]
 */
#include "bench.h"

typedef struct mnode {
    struct mnode *left, *right;
    uint64_t data[6];
} mnode_t;

_Static_assert(sizeof(mnode_t) == 64, "mnode_t is 64 bytes");

static mnode_t *root; /* static data: scanned by both collectors */

static mnode_t *new_mnode(void)
{
#if defined(USE_GCRT)
    return gc_alloc(sizeof(mnode_t));
#else
    return GC_MALLOC(sizeof(mnode_t));
#endif
}

static void collect(void)
{
#if defined(USE_GCRT)
    gc_collect();
#else
    GC_gcollect();
#endif
}

/* Pause of the collection that just finished (ns). */
static uint64_t last_pause_ns(uint64_t *gcno)
{
#if defined(USE_GCRT)
    static gc_memstats_t ms;
    gc_read_memstats(&ms);
    *gcno = ms.num_gc;
    return ms.pause_ns[(ms.num_gc + 255) % 256];
#else
    static uint64_t prev_total;
    gcstat_t s = gcstat_read();
    uint64_t p = s.total_pause_ns - prev_total;
    prev_total = s.total_pause_ns;
    *gcno = s.gcs;
    return p;
#endif
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* Iterative walk (explicit stack, malloc'd): node count, and data-word checksum. */
static long walk(mnode_t *r, uint64_t *sum)
{
    size_t cap = 1024, sp = 0;
    mnode_t **stack = malloc(cap * sizeof(*stack));
    long count = 0;
    if (!stack)
        return -1;
    if (r)
        stack[sp++] = r;
    while (sp) {
        mnode_t *n = stack[--sp];
        count++;
        *sum += n->data[0] + n->data[5];
        if (sp + 2 > cap) {
            cap *= 2;
            mnode_t **ns = realloc(stack, cap * sizeof(*stack));
            if (!ns) {
                free(stack);
                return -1;
            }
            stack = ns;
        }
        if (n->left)
            stack[sp++] = n->left;
        if (n->right)
            stack[sp++] = n->right;
    }
    free(stack);
    return count;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t median_u64(uint64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_u64);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_REPS 64

int main(int argc, char **argv)
{
#if defined(USE_MALLOC)
    fprintf(stderr, "markscale: gcrt or bdwgc only\n");
    return 2;
#endif
    long mib = arg_long(argc, argv, "mib", 256);
    int reps = (int)arg_long(argc, argv, "reps", 5);
    int sequential = arg_flag(argc, argv, "layout=sequential");
    if (mib < 1 || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: %s [mib=M] [reps=1..%d] [layout=random|sequential]\n", argv[0],
                MAX_REPS);
        return 2;
    }
    bench_gc_init(argc, argv);
#if defined(USE_GCRT)
    gc_set_percent(-1);
#else
    GC_disable();
#endif

    /* Allocate every node, keeping them in a malloc'd (unscanned) table: collection is off. */
    long count = (mib << 20) / (long)sizeof(mnode_t);
    mnode_t **tab = malloc((size_t)count * sizeof(*tab));
    if (!tab) {
        fprintf(stderr, "malloc of node table failed\n");
        return 3;
    }
    uint64_t tb = now_ns();
    for (long i = 0; i < count; i++) {
        tab[i] = new_mnode();
        if (!tab[i]) {
            fprintf(stderr, "allocation failed after %ld nodes\n", i);
            return 3;
        }
    }
    if (!sequential)
        for (long i = count - 1; i > 0; i--) { /* Fisher-Yates */
            long j = (long)(rng() % (uint64_t)(i + 1));
            mnode_t *t = tab[i];
            tab[i] = tab[j];
            tab[j] = t;
        }
    uint64_t expect = 0;
    for (long k = 0; k < count; k++) { /* implicit-heap tree: children of k at 2k+1, 2k+2 */
        mnode_t *n = tab[k];
        for (int w = 0; w < 6; w++)
            n->data[w] = (uint64_t)k * 6 + (uint64_t)w; /* small integers, never heap addresses */
        expect += n->data[0] + n->data[5];
        if (2 * k + 1 < count)
            n->left = tab[2 * k + 1]; /* slot still NULL: no barrier needed */
        if (2 * k + 2 < count)
            n->right = tab[2 * k + 2];
    }
    root = tab[0];
    free(tab);
    tab = NULL;
#if defined(USE_BDWGC)
    GC_enable();
#endif
    double build_ms = (now_ns() - tb) / 1e6;

    collect(); /* untimed: settles sweeping and any lazily built state */
    uint64_t gcno = 0;
    last_pause_ns(&gcno); /* bdwgc: start the per-collection pause difference here */

    uint64_t pause[MAX_REPS], wall[MAX_REPS], cpu[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        bench_clock_t a = bench_clock(RUSAGE_SELF);
        collect();
        bench_clock_t d = bench_elapsed(a, bench_clock(RUSAGE_SELF));
        wall[r] = d.wall;
        cpu[r] = d.user + d.sys;
        pause[r] = last_pause_ns(&gcno);
        fprintf(stderr, "markscale: collection %d: pause %.2f ms, gc_collect wall %.2f ms, "
                        "cpu %.2f ms\n", r + 1, pause[r] / 1e6, wall[r] / 1e6, cpu[r] / 1e6);
    }

    uint64_t sum = 0;
    long seen = walk(root, &sum);
    int ok = seen == count && sum == expect;
    if (!ok)
        fprintf(stderr, "markscale: heap damaged: %ld of %ld nodes reachable, checksum %llu "
                        "expected %llu\n", seen, count, (unsigned long long)sum,
                (unsigned long long)expect);

    uint64_t live = 0;
#if defined(USE_GCRT)
    {
        static gc_memstats_t ms;
        gc_read_memstats(&ms);
        live = ms.heap_alloc;
    }
#else
    live = GC_get_heap_size() - GC_get_free_bytes();
#endif
    const char *gmp = getenv("GOMAXPROCS");
    const char *gcm = getenv("GC_MARKERS");
    const char *gdb = getenv("GODEBUG");
    uint64_t mw = median_u64(wall, reps), mc = median_u64(cpu, reps);
    printf("RESULT bench=markscale impl=%s gomaxprocs=%s godebug=%s gc_markers=%s layout=%s "
           "nodes=%ld live_mib=%.1f build_ms=%.1f reps=%d pause_ms=%.3f collect_wall_ms=%.3f "
           "collect_cpu_ms=%.3f cpu_per_wall=%.2f gcs=%llu rss_kb=%ld check=%ld ok=%d\n",
           IMPL_NAME, gmp ? gmp : "unset", gdb && *gdb ? gdb : "unset", gcm ? gcm : "unset",
           sequential ? "sequential" : "random", count, live / 1048576.0, build_ms, reps,
           median_u64(pause, reps) / 1e6, mw / 1e6, mc / 1e6, mw ? (double)mc / mw : 0.0,
           (unsigned long long)gcno, max_rss_kb(), seen, ok);
    return ok ? 0 : 1;
}
