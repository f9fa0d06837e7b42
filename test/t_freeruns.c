/*
 * t_freeruns: the page heap's free runs and page map stay exact while runs are split and
 * merged (alloc/heap.c keeps the descriptor of the biggest part of a merge and gives the
 * pages taken from a run a new descriptor, remapping only the pages that change hands).
 *  - rounds of large objects of 5..40 pages and small objects, a pseudo-random half of
 *    them kept, the rest collected (freed runs merge with free neighbours on both sides,
 *    big runs are split by every new span and page-cache chunk), and gc_free_os_memory
 *    every other round (released runs go back through the merge);
 *  - every collection runs with GODEBUG=gcverify=1 in a child: every page of every free run
 *    and in-use span maps to it, no two free runs are adjacent, heap_sys adds up;
 *  - after each round, every kept object still resolves from its interior and last byte
 *    (gc_base, gc_size) and holds its pattern; pointers into freed large objects no longer
 *    resolve to them (all but a few a stale stack copy may keep).
 */
#include "check.h"

#define ROUNDS 12
#define NLARGE 600
#define NSMALL 20000
#define PAGE 8192u

typedef struct {
    unsigned char *p;
    size_t n;
} obj_t;

static obj_t *large, *small;   /* off-heap tables: the kept objects are registered roots */
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
    rng = test_mix(rng + 0x9e3779b97f4a7c15ull);
    return rng;
}

static void fill(obj_t *o, size_t n)
{
    o->n = n;
    o->p = gc_alloc(n);
    CHECK(o->p != NULL, "gc_alloc(%zu) failed", n);
    memset(o->p, (int)(n & 0xff) | 1, n);
}

static void check_obj(const obj_t *o)
{
    unsigned char want = (unsigned char)((o->n & 0xff) | 1);
    CHECK_EQ_P(gc_base(o->p + o->n / 2), o->p);
    CHECK_EQ_P(gc_base(o->p + o->n - 1), o->p);
    CHECK(gc_size(o->p) >= o->n, "gc_size %zu < %zu", gc_size(o->p), o->n);
    CHECK(o->p[0] == want && o->p[o->n / 2] == want && o->p[o->n - 1] == want,
          "object %p (%zu bytes) lost its contents", (void *)o->p, o->n);
}

/* One round's allocations and drops, in a thread that exits before the collection: the
 * pointers its frames and registers held go with its stack (in this thread's frames,
 * stale copies of them kept 5 of 32 dropped objects alive under ASan, about 1 run in 7). */
static uintptr_t dropped[32];   /* kept as ~address: not a pointer to the scan */
static int nd;

static void *round_work(void *arg)
{
    (void)arg;
    for (int i = 0; i < NLARGE; i++)
        if (!large[i].p) fill(&large[i], (5 + next_rand() % 36) * PAGE - 8 * (next_rand() % 64));
    for (int i = 0; i < NSMALL; i++)
        if (!small[i].p) fill(&small[i], 16 + 8 * (next_rand() % 64));
    /* Drop a pseudo-random half; remember a few dropped large objects' interiors. */
    nd = 0;
    for (int i = 0; i < NLARGE; i++)
        if (next_rand() & 1) {
            if (nd < 32) dropped[nd++] = ~((uintptr_t)large[i].p + PAGE);
            large[i].p = NULL;
        }
    for (int i = 0; i < NSMALL; i++)
        if (next_rand() & 1) small[i].p = NULL;
    return NULL;
}

static int body(void)
{
    large = calloc(NLARGE, sizeof *large);
    small = calloc(NSMALL, sizeof *small);
    CHECK(large && small);
    CHECK(gc_add_roots(large, NLARGE * sizeof *large) == 0);
    CHECK(gc_add_roots(small, NSMALL * sizeof *small) == 0);
    for (int r = 0; r < ROUNDS; r++) {
        pthread_t th;
        CHECK(gc_pthread_create(&th, NULL, round_work, NULL) == 0);
        CHECK(pthread_join(th, NULL) == 0);
        churn_stack();   /* the rest: check_obj's frames below this one */
        gc_collect();
        /* Aggregate: a stale copy of a pointer on the stack may keep one or two alive
         * (conservative roots), but not the rest. */
        int still = 0;
        for (int i = 0; i < nd; i++) still += gc_base((void *)~dropped[i]) == (void *)(~dropped[i] - PAGE);
        CHECK(still <= 4, "%d of %d freed large objects still resolve", still, nd);
        for (int i = 0; i < NLARGE; i++)
            if (large[i].p) check_obj(&large[i]);
        for (int i = 0; i < NSMALL; i++)
            if (small[i].p) check_obj(&small[i]);
        if (r & 1) gc_free_os_memory();
        gc_memstats_t st;
        gc_read_memstats(&st);
        CHECK(st.heap_inuse + st.heap_idle == st.heap_sys, "heap_inuse %llu + heap_idle %llu != heap_sys %llu",
              (unsigned long long)st.heap_inuse, (unsigned long long)st.heap_idle,
              (unsigned long long)st.heap_sys);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        gc_init();
        return body();
    }
    child_result_t *r = malloc(sizeof *r);
    CHECK(r != NULL);
    const char *args[] = {"child", NULL};
    const char *env[] = {"GODEBUG=gcverify=1", "GOGC", NULL};
    int st = run_self(r, args, env);
    int bad = strstr(r->err, "gcrt: fatal") != NULL || strstr(r->err, "gcverify") != NULL;
    if (st != 0 || bad) fprintf(stderr, "child (GODEBUG=gcverify=1) exited with %d; its stderr:\n%s\n", st, r->err);
    CHECK(st == 0, "child exited with %d", st);
    CHECK(!bad, "child reported a fatal error or a gcverify violation");
    free(r);
    gc_init();
    return body();   /* and once more with the default settings */
}
