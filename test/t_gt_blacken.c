/*
 * t_gt_blacken: span-local marking (GODEBUG=gcgreentea=1) meeting black allocation.
 *
 * The fault (found from t_debug_modes' store_concurrent case, which failed 18 of 200 runs
 * with gcgreentea=1): a span scan marks the pointers it finds into its own span in a private
 * bitmap (gcw.gt_lm), flushed into markbits when the scan is done with a bitmap word. A
 * pointer to an object that black allocation is turning black (scanned bit set, mark bit
 * not yet) leaves that word with nothing to scan, and the flush used to be skipped for such
 * a word: the private bit stayed behind and stood for a mark in the next span the same
 * marker scanned. The object at that index there was then taken as marked and skipped,
 * freed while reachable (or a free slot got marked, or a mark had no scan).
 *
 * "exact" (white-box, one marker, world stopped) builds that interleaving: span S holds A
 * (slot 64) pointing to B (slot 63, the last of word 0) and to C in span T; C points to D,
 * slot 63 of T. The scan hook, when A is scanned, sets B's scanned bit as black allocation's
 * first step does. Without the fix D is freed although reachable from a static root (its
 * weak handle goes nil); checked by weak handles to B and D.
 * "stress": two mutators allocate 32-byte nodes as fast as they can, each linked to the
 * thread's previous one (so usually in the same span, the one its cache is allocating
 * from), and publish each in a small root table with GC_STORE. While marking, the store
 * shades the node it overwrites, one allocated this cycle and not yet black, whose scan finds
 * its neighbour, which black allocation may be turning black meanwhile. Runs with
 * gccheckmark and gcverify (which also checks that a span scan starts with no private mark
 * left over); without the fix it failed about 7 of 10 runs. Then the chains are walked.
 */
#include "check.h"
#include "../internal.h"

#define NTHREADS 2
#define NSLOTS 64
#define CHAIN 16
#define SECONDS 3.0

typedef struct node {
    struct node *next;
    uint64_t v, sum, pad;
} node_t;

static node_t *roots[NTHREADS][NSLOTS];   /* static data: the chains' only roots */
static volatile int stop_flag;

static void *mutator(void *arg)
{
    unsigned t = (unsigned)(uintptr_t)arg;
    uint64_t x = t + 1;
    node_t *prev = NULL;
    for (unsigned long i = 0; !stop_flag; i++) {
        x = test_mix(x + 1);
        node_t *n = gc_alloc(sizeof *n);
        n->v = x;
        n->sum = test_mix(x);
        GC_STORE(n->next, prev);
        prev = i % CHAIN == CHAIN - 1 ? NULL : n;
        GC_STORE(roots[t][x % NSLOTS], n);
    }
    return NULL;
}

static unsigned long walk(void)
{
    unsigned long bad = 0;
    for (int t = 0; t < NTHREADS; t++)
        for (int s = 0; s < NSLOTS; s++) {
            int len = 0;
            for (node_t *n = roots[t][s]; n; n = n->next, len++)
                if (len >= CHAIN || n->sum != test_mix(n->v) || gc_base(n) != n) {
                    bad++;
                    break;
                }
        }
    return bad;
}

static int stress(void)
{
    CHECK(gc_init() == 0);
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) CHECK(gc_pthread_create(&th[i], NULL, mutator, (void *)(uintptr_t)i) == 0);
    unsigned cycles = 0;
    double t0 = now_sec();
    while (now_sec() - t0 < SECONDS) {
        gc_collect();
        cycles++;
    }
    stop_flag = 1;
    for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
    gc_collect();
    unsigned long bad = walk();
    printf("t_gt_blacken: %u cycles in %.1f s, %lu damaged chains\n", cycles, now_sec() - t0, bad);
    CHECK(bad == 0, "damaged chains");
    CHECK(cycles >= test_min_cycles(20), "only %u cycles", cycles);
    return 0;
}

/* ---- exact ---- */
typedef struct obj {
    struct obj *p1, *p2;
    uint64_t pad[6];
} obj_t;

static obj_t *root_a;   /* static data: A's only root */
static uintptr_t hook_a, hook_b;   /* hidden (HIDE): static data is a root */

static bool hook(gcrt_gcw *w, uintptr_t obj, size_t size)
{
    (void)w, (void)size;
    if (obj == (uintptr_t)UNHIDE(hook_a)) {   /* black allocation's first step for B: scanned, not yet marked */
        uintptr_t b = (uintptr_t)UNHIDE(hook_b);
        gcrt_span *s = span_of(b);
        size_t i = span_objindex(s, b);
        __atomic_fetch_or(&span_scanbits(s)[i >> 6], (uint64_t)1 << (i & 63), __ATOMIC_RELEASE);
    }
    return false;
}

static TEST_NOINLINE void build(const gc_type_t *ty, gc_weak_t *wb, gc_weak_t *wd)
{
    enum { N = 1024 };
    obj_t **all = malloc(N * sizeof *all);   /* not scanned: keeps nothing alive */
    CHECK(all != NULL);
    for (int i = 0; i < N; i++) all[i] = gc_alloc_typed(ty);
    /* two spans each holding slots 63 and 64 */
    obj_t *s63[2] = {0}, *s64[2] = {0};
    gcrt_span *sp[2] = {0};
    int found = 0;
    for (int i = 0; i < N && found < 2; i++) {
        gcrt_span *s = span_of((uintptr_t)all[i]);
        if (!gcrt_gt_class[s->spanclass] || (found && s == sp[0])) continue;
        size_t k = span_objindex(s, (uintptr_t)all[i]);
        if (k != 63) continue;
        for (int j = 0; j < N; j++)
            if (span_of((uintptr_t)all[j]) == s && span_objindex(s, (uintptr_t)all[j]) == 64) {
                sp[found] = s, s63[found] = all[i], s64[found] = all[j], found++;
                break;
            }
    }
    CHECK(found == 2, "no two span-local spans with slots 63 and 64 (class of %zu bytes)", sizeof(obj_t));
    obj_t *a = s64[0], *b = s63[0], *c = s64[1], *d = s63[1];
    a->p1 = b;
    a->p2 = c;
    c->p1 = d;
    root_a = a;
    hook_a = HIDE(a);
    hook_b = HIDE(b);
    *wb = gc_weak_make(b);
    *wd = gc_weak_make(d);
    CHECK(*wb && *wd);
    memset(all, 0, N * sizeof *all);
    free(all);
}

static int exact(void)
{
    CHECK(gc_init() == 0);
    gc_set_percent(-1);
    size_t offs[] = {offsetof(obj_t, p1), offsetof(obj_t, p2)};
    gc_type_t *ty = gc_type_new(sizeof(obj_t), offs, 2);
    CHECK(ty != NULL);
    gc_weak_t wb, wd;
    build(ty, &wb, &wd);
    churn_stack();
    gcrt_scan_hook = hook;
    gc_collect();
    gcrt_scan_hook = NULL;
    obj_t *a = root_a;
    int b_ok = gc_weak_get(wb) == a->p1, d_ok = gc_weak_get(wd) == a->p2->p1;
    printf("t_gt_blacken exact: B %s, D %s\n", b_ok ? "kept" : "FREED", d_ok ? "kept" : "FREED");
    CHECK(b_ok, "B (marked only through the private bitmap) was freed while reachable");
    CHECK(d_ok, "D (slot 63 of the next span scanned) was freed while reachable: a private mark was left over");
    return 0;
}

static int child(const char *name, const char *godebug, const char *maxprocs)
{
    child_result_t *r = malloc(sizeof *r);
    CHECK(r != NULL);
    const char *args[] = {name, NULL};
    const char *env[] = {godebug, maxprocs, "GOGC", NULL};
    int st = run_self(r, args, env);
    fputs(r->out, stdout);
    int bad = st != 0 || strstr(r->err, "gcrt: fatal") != NULL;
    if (bad) fprintf(stderr, "child %s (%s %s) exited with %d; its stderr:\n%s\n", name, godebug, maxprocs, st, r->err);
    free(r);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exact") == 0) return exact();
    if (argc > 1 && strcmp(argv[1], "stress") == 0) return stress();
    int failed = child("exact", "GODEBUG=gcgreentea=1,gcstoptheworld=1", "GOMAXPROCS=1");
    failed += child("stress", "GODEBUG=gccheckmark=1,gcverify=1,gcgreentea=1", "GOMAXPROCS");
    CHECK(failed == 0, "%d of 2 cases failed", failed);
    printf("t_gt_blacken: ok\n");
    return 0;
}
