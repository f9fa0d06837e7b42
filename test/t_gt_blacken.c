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
 * The concurrent form of the fault (the workload that found it) is t_debug_modes'
 * store_concurrent_gt case.
 */
#include "check.h"
#include "../internal.h"

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

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exact") == 0) return exact();
    child_result_t *r = malloc(sizeof *r);
    CHECK(r != NULL);
    const char *args[] = {"exact", NULL};
    const char *env[] = {"GODEBUG=gcgreentea=1,gcstoptheworld=1", "GOMAXPROCS=1", "GOGC", NULL};
    int st = run_self(r, args, env);
    fputs(r->out, stdout);
    int bad = st != 0 || strstr(r->err, "gcrt: fatal") != NULL;
    if (bad) fprintf(stderr, "child exited with %d; its stderr:\n%s\n", st, r->err);
    CHECK(!bad, "the exact case (GODEBUG=gcgreentea=1,gcstoptheworld=1 GOMAXPROCS=1) failed");
    free(r);
    printf("t_gt_blacken: ok\n");
    return 0;
}
