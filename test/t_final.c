/*
 * t_final: finalizers with Go's semantics (runtime.SetFinalizer).
 *  - bad input: -EINVAL for NULL, an interior pointer, stack and malloc memory; -EEXIST for
 *    a second finalizer; fn == NULL removes one (then a new one can be set);
 *  - a finalizer sees its object and what it points to intact, runs once, and the object
 *    is resurrected: still allocated after the cycle that queued it, freed by a later one;
 *  - a finalizer that stores its object in a global really resurrects it;
 *  - chains run in dependency order: A -> B, A's finalizer first, B's only in a later cycle;
 *  - a cycle of objects with a finalizer is never collected and its finalizer never runs;
 *  - a removed finalizer never runs.
 * Conservative scanning: objects are made in non-inlined helpers and tracked only through
 * hidden addresses.
 */
#include "lifetime.h"

#include <pthread.h>

#define MAGIC 0x5eed1234abcd0001ull

typedef struct node {
    uint64_t magic;
    struct node *next;
    uint64_t payload[4];
} node_t;

static pthread_mutex_t lk = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t order[16];   /* hidden addresses, in the order finalizers ran */
static int norder;
static int bad;               /* a finalizer saw damaged memory */
static node_t *resurrected;   /* set by fin_resurrect */

static void record(void *obj)
{
    pthread_mutex_lock(&lk);
    if (norder < 16)
        order[norder] = HIDE(obj);
    norder++;
    pthread_mutex_unlock(&lk);
}

static int nrun(void)
{
    pthread_mutex_lock(&lk);
    int n = norder;
    pthread_mutex_unlock(&lk);
    return n;
}

/* Checks the object and the child it points to. */
static void fin_check(void *obj, void *arg)
{
    node_t *n = obj;
    if (n->magic - MAGIC >= 8 || (uintptr_t)arg != 42 || !n->next || n->next->magic != n->magic + 1 ||
        n->next->payload[3] != 77)
        bad++;
    record(obj);
}

static void fin_resurrect(void *obj, void *arg)
{
    (void)arg;
    resurrected = obj;
    record(obj);
}

static void fin_never(void *obj, void *arg)
{
    (void)obj;
    (void)arg;
    bad += 1000;
}

static TEST_NOINLINE node_t *mk(uint64_t magic)
{
    node_t *n = gc_alloc(sizeof *n);
    CHECK(n != NULL);
    n->magic = magic;
    n->payload[3] = 77;
    return n;
}

static TEST_NOINLINE uintptr_t make_with_child(void)
{
    node_t *a = mk(MAGIC);
    a->next = mk(MAGIC + 1);
    CHECK(gc_set_finalizer(a, fin_check, (void *)42) == 0);
    return HIDE(a);
}

static uintptr_t chain_b;
static TEST_NOINLINE uintptr_t make_chain(void)
{
    node_t *a = mk(MAGIC), *b = mk(MAGIC + 1);
    b->next = mk(MAGIC + 2);
    a->next = b;
    CHECK(gc_set_finalizer(a, fin_check, (void *)42) == 0);
    CHECK(gc_set_finalizer(b, fin_check, (void *)42) == 0);
    chain_b = HIDE(b);
    return HIDE(a);
}

static TEST_NOINLINE uintptr_t make_cycle(void)
{
    node_t *a = mk(MAGIC), *b = mk(MAGIC + 1);
    a->next = b;
    b->next = a;
    CHECK(gc_set_finalizer(a, fin_never, NULL) == 0);
    return HIDE(a);
}

static TEST_NOINLINE uintptr_t make_resurrecting(void)
{
    node_t *a = mk(MAGIC);
    a->next = mk(MAGIC + 1);
    CHECK(gc_set_finalizer(a, fin_resurrect, NULL) == 0);
    return HIDE(a);
}

static TEST_NOINLINE uintptr_t make_removed(void)
{
    node_t *a = mk(MAGIC);
    CHECK(gc_set_finalizer(a, fin_never, NULL) == 0);
    CHECK(gc_set_finalizer(a, NULL, NULL) == 0);
    return HIDE(a);
}

/* Run a maker in a thread of its own (lifetime.h): no stale copy of what it makes stays
 * on the main stack or in its registers. */
typedef struct {
    uintptr_t (*fn)(void);
    uintptr_t h;
} maker_t;

static void call_maker(void *arg)
{
    maker_t *m = arg;
    m->h = m->fn();
}

static uintptr_t make_in_thread(uintptr_t (*fn)(void))
{
    maker_t m = {fn, 0};
    lt_in_thread(call_maker, &m);
    return m.h;
}

/* Collect (at most 6 times, 0.2 s each) until `want` finalizers ran in total. */
static void collect_until(int want)
{
    for (int i = 0; i < 6 && nrun() < want; i++) {
        lt_collect();
        double t0 = now_sec();
        while (nrun() < want && now_sec() - t0 < 0.2) {
            gc_run_finalizers();
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

static void test_bad_input(void)
{
    node_t *n = mk(MAGIC);
    int local;
    void *m = malloc(64);
    CHECK(gc_set_finalizer(NULL, fin_never, NULL) == -EINVAL);
    CHECK(gc_set_finalizer((char *)n + 8, fin_never, NULL) == -EINVAL);
    CHECK(gc_set_finalizer(&local, fin_never, NULL) == -EINVAL);
    CHECK(gc_set_finalizer(m, fin_never, NULL) == -EINVAL);
    CHECK(gc_set_finalizer(n, fin_never, NULL) == 0);
    CHECK(gc_set_finalizer(n, fin_never, NULL) == -EEXIST);
    CHECK(gc_set_finalizer(n, NULL, NULL) == 0);
    CHECK(gc_set_finalizer(n, NULL, NULL) == 0);   /* removing none is not an error */
    CHECK(gc_set_finalizer(n, fin_never, NULL) == 0);
    CHECK(gc_set_finalizer(n, NULL, NULL) == 0);
    /* large objects too */
    void *big = gc_alloc(100000);
    CHECK(gc_set_finalizer((char *)big + 4096, fin_never, NULL) == -EINVAL);
    CHECK(gc_set_finalizer(big, fin_never, NULL) == 0);
    CHECK(gc_set_finalizer(big, NULL, NULL) == 0);
    free(m);
    gc_keep_alive(n);
    gc_keep_alive(big);
}

int main(void)
{
    gc_init();
    gc_set_percent(-1);   /* cycles only where the test asks for them */
    test_bad_input();

    /* One object with a child: finalized once, resurrected, freed a later cycle. (A stale
     * conservative root may delay a finalizer by a cycle: each step gets a few.) */
    uintptr_t h = make_in_thread(make_with_child);
    collect_until(1);
    CHECK(nrun() == 1, "finalizer ran %d times", nrun());
    CHECK(bad == 0, "finalizer saw damaged memory");
    CHECK(order[0] == h);
    CHECK(lt_alive(h), "finalized object must be resurrected until a later cycle");
    for (int i = 0; i < 4 && lt_alive(h); i++)
        lt_collect();
    CHECK(!lt_alive(h), "finalized object never freed");
    gc_run_finalizers();
    CHECK(nrun() == 1, "finalizer ran again");

    /* Chain A -> B: A first; B only in a later cycle (both would be queued by the same
     * sweep otherwise, before gc_collect returns). */
    norder = 0;
    uintptr_t ha = make_in_thread(make_chain), hb = chain_b;
    collect_until(1);
    CHECK(nrun() == 1 && order[0] == ha, "chain: A's finalizer did not run first");
    gc_run_finalizers();
    CHECK(nrun() == 1, "chain: B was finalized in the same cycle as A");
    collect_until(2);
    CHECK(nrun() == 2, "chain: B never finalized");
    CHECK(order[1] == hb);
    CHECK(bad == 0, "finalizer saw damaged memory in the chain");

    /* A garbage cycle with a finalizer: never collected. */
    norder = 0;
    uintptr_t hc = make_in_thread(make_cycle);
    for (int i = 0; i < 3; i++) {
        lt_collect();
        gc_run_finalizers();
    }
    CHECK(bad == 0, "finalizer of an object in a cycle ran");
    CHECK(lt_alive(hc), "a cycle with a finalizer was collected");

    /* Real resurrection: the finalizer keeps the object. */
    norder = 0;
    uintptr_t hr = make_in_thread(make_resurrecting);
    collect_until(1);
    CHECK(nrun() == 1);
    CHECK(HIDE(resurrected) == hr);
    for (int i = 0; i < 3; i++)
        lt_collect();
    CHECK(resurrected->magic == MAGIC && resurrected->next->magic == MAGIC + 1 &&
          resurrected->next->payload[3] == 77, "resurrected object or its child damaged");
    CHECK(gc_base(resurrected) == resurrected);
    resurrected = NULL;
    for (int i = 0; i < 3 && lt_alive(hr); i++)
        lt_collect();
    CHECK(!lt_alive(hr), "dropped resurrected object never freed");
    CHECK(nrun() == 1, "finalizer ran twice");

    /* A removed finalizer never runs; the object is freed at once. */
    uintptr_t hx = make_in_thread(make_removed);
    lt_collect();
    gc_run_finalizers();
    CHECK(!lt_alive(hx), "object whose finalizer was removed not freed");
    CHECK(bad == 0);
    printf("t_final: ok\n");
    return 0;
}
