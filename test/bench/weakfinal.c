/*
 * weakfinal: the cost of a full collection when live objects carry weak handles or
 * finalizers, against the same heap without them (issue 6's target: weak handles at most
 * 1.3x).
 *
 *   weakfinal_gcrt  mode=none|weak|fin [n=1000000] [cycles=9]
 *   weakfinal_bdwgc mode=none|weak|fin  (weak: GC_general_register_disappearing_link,
 *                                         fin: GC_REGISTER_FINALIZER), the same heap
 *
 * n live 32-byte objects, each pointing to the next (one list, reachable from a global);
 * with mode=weak each has a weak handle, with mode=fin a finalizer (which never runs: the
 * objects stay live). The handles are kept in malloc memory, which no collector scans.
 * After two warm-up collections, `cycles` forced collections are timed one by one; the
 * RESULT line gives the median and the minimum in ms.
 */
#include "bench.h"

typedef struct node {
    struct node *next;
    uint64_t v[3];
} node_t;

static node_t *head;

#if defined(USE_GCRT)
static void fin(void *o, void *a) { (void)o; (void)a; abort(); }
#define ALLOC(n) gc_alloc(n)
#define COLLECT() gc_collect()
#elif defined(USE_BDWGC)
static void GC_CALLBACK fin(void *o, void *a) { (void)o; (void)a; abort(); }
#define ALLOC(n) GC_MALLOC(n)
#define COLLECT() GC_gcollect()
#endif

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    bench_gc_init(argc, argv);
    long n = arg_long(argc, argv, "n", 1000000);
    long cycles = arg_long(argc, argv, "cycles", 9);
    const char *mode = "none";
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "mode=", 5) == 0)
            mode = argv[i] + 5;
    int weak = strcmp(mode, "weak") == 0, finz = strcmp(mode, "fin") == 0;
    if (!weak && !finz && strcmp(mode, "none") != 0) {
        fprintf(stderr, "mode must be none, weak or fin\n");
        return 2;
    }
    void **handles = malloc((size_t)n * sizeof *handles);   /* not scanned by either GC */
    if (!handles)
        return 2;
    node_t *prev = NULL;
    for (long i = 0; i < n; i++) {
        node_t *x = ALLOC(sizeof *x);
        if (!x)
            return 2;
        x->v[0] = (uint64_t)i;
        if (prev)
            prev->next = x;
        else
            head = x;
        prev = x;
#if defined(USE_GCRT)
        if (weak)
            handles[i] = gc_weak_make(x);
        if (finz && gc_set_finalizer(x, fin, NULL) != 0)
            return 2;
#elif defined(USE_BDWGC)
        if (weak) {
            handles[i] = x;
            GC_general_register_disappearing_link(&handles[i], x);
            handles[i] = (void *)~(uintptr_t)x;   /* hidden, as bdwgc's GC_HIDE_POINTER */
        }
        if (finz)
            GC_REGISTER_FINALIZER(x, fin, NULL, NULL, NULL);
#endif
    }
    prev = NULL;
    COLLECT();
    COLLECT();
    uint64_t *t = malloc((size_t)cycles * sizeof *t);
    bench_clock_t c0 = bench_clock(RUSAGE_SELF);
    for (long c = 0; c < cycles; c++) {
        uint64_t a = now_ns();
        COLLECT();
        t[c] = now_ns() - a;
    }
    bench_clock_t el = bench_elapsed(c0, bench_clock(RUSAGE_SELF));
    long check = 0;
    for (node_t *x = head; x; x = x->next)
        check++;
    qsort(t, (size_t)cycles, sizeof *t, cmp_u64);
    printf("RESULT bench=weakfinal impl=%s mode=%s n=%ld cycles=%ld collect_ms=%.3f min_ms=%.3f cpu_ms=%.1f "
           "rss_kb=%ld ok=%d\n",
           IMPL_NAME, mode, n, cycles, t[cycles / 2] / 1e6, t[0] / 1e6, (el.user + el.sys) / 1e6 / (double)cycles,
           max_rss_kb(), check == n);
    free(t);
    free(handles);
    return check == n ? 0 : 1;
}
