/*
 * t_weak_race: weak handles under concurrent marking, with threads racing gc_weak_get
 * against the marker and the sweeper (run under GODEBUG=gccheckmark=1,gcverify=1 in a
 * child, then with defaults).
 *  - handles of live objects never read NULL, and return their object;
 *  - a non-NULL get always returns an intact object (and intact child): never a freed or
 *    reused slot, even between mark termination and the sweep of its span;
 *  - once a handle read NULL it never returns an object again;
 *  - an object a racer gets (during marking or not) and stores in a live array
 *    (rescues) stays intact for the rest of the run, and its handle keeps returning it;
 *  - rescued objects are dropped again at random, so their handles get cleared later.
 * Meanwhile the main thread allocates garbage so that cycles run concurrently.
 */
#include "lifetime.h"

#include <pthread.h>

#define N 4096
#define CHILD_X 0xabcdefull

typedef struct obj {
    uint64_t magic;
    struct obj *child;
} obj_t;

static gc_weak_t *hs;     /* GC arrays, reachable from these globals */
static obj_t **keep;      /* even objects */
static obj_t **rescued;   /* odd objects the racers got and kept */
static uint8_t seen_null[N];
static volatile int stop, failed;
static double max_seconds;
static uint64_t gets, nonnull_dead, rescues;

static void fail(const char *what, int i)
{
    if (!__atomic_exchange_n(&failed, 1, __ATOMIC_RELAXED))
        fprintf(stderr, "t_weak_race: %s (index %d)\n", what, i);
}

static void make_all(void *unused)
{
    (void)unused;
    for (int i = 0; i < N; i++) {
        obj_t *o = gc_alloc(sizeof *o);
        o->child = gc_alloc(sizeof *o);
        CHECK(o && o->child);
        o->magic = (uint64_t)i;
        o->child->magic = (uint64_t)i ^ CHILD_X;
        hs[i] = gc_weak_make(o);
        CHECK(hs[i] != NULL);
        if (i % 2 == 0)
            keep[i / 2] = o;
    }
}

static int intact(const obj_t *o, int i)
{
    return o->magic == (uint64_t)i && o->child && o->child->magic == ((uint64_t)i ^ CHILD_X);
}

static void *racer(void *arg)
{
    int me = (int)(intptr_t)arg;
    uint64_t x = test_mix((uint64_t)me + 1), ng = 0, nd = 0, nr = 0;
    while (!stop && !failed) {
        x = test_mix(x);
        int i = (int)(x % N);
        obj_t *o = gc_weak_get(hs[i]);
        ng++;
        if (i % 2 == 0) {
            if (o != keep[i / 2])
                fail("live object's handle did not return it", i);
            continue;
        }
        int mine = (i / 2) % 2 == me;
        if (!o) {
            if (mine && rescued[i])
                fail("handle of a rescued (live) object read NULL", i);
            __atomic_store_n(&seen_null[i], 1, __ATOMIC_RELAXED);
            continue;
        }
        nd++;
        if (__atomic_load_n(&seen_null[i], __ATOMIC_RELAXED))
            fail("handle returned an object after reading NULL", i);
        if (!intact(o, i))
            fail("handle returned a damaged (freed or reused) object", i);
        if (!mine)
            continue;
        if (rescued[i] && rescued[i] != o)
            fail("handle returned another object than the rescued one", i);
        if (!rescued[i] && (x >> 20) % 1024 == 0) {
            GC_STORE(rescued[i], o);
            nr++;
        } else if (rescued[i] && (x >> 20) % 16 == 1) {
            GC_STORE(rescued[i], NULL);   /* drop it again: its handle clears later */
        }
    }
    __atomic_add_fetch(&gets, ng, __ATOMIC_RELAXED);
    __atomic_add_fetch(&nonnull_dead, nd, __ATOMIC_RELAXED);
    __atomic_add_fetch(&rescues, nr, __ATOMIC_RELAXED);
    return NULL;
}

typedef struct gnode {
    struct gnode *next;
    uint64_t pad[5];
} gnode_t;

static int body(const char *mode)
{
    gc_init();
    hs = gc_alloc(N * sizeof *hs);
    keep = gc_alloc(N / 2 * sizeof *keep);
    rescued = gc_alloc(N * sizeof *rescued);
    CHECK(hs && keep && rescued);
    lt_in_thread(make_all, NULL);
    stop = failed = 0;
    memset(seen_null, 0, sizeof seen_null);
    gc_memstats_t ms0, ms1;
    gc_read_memstats(&ms0);
    pthread_t th[2];
    for (int k = 0; k < 2; k++)
        CHECK(gc_pthread_create(&th[k], NULL, racer, (void *)(intptr_t)k) == 0);
    double t0 = now_sec(), last = t0;
    gnode_t *list = NULL;
    unsigned n = 0;
    while (now_sec() - t0 < max_seconds * 0.6 && !failed) {
        gnode_t *g = gc_alloc(sizeof *g);   /* garbage lists drive concurrent cycles */
        g->next = list;
        list = (++n % 20000) ? g : NULL;
        if (now_sec() - last > 0.25) {
            gc_collect();
            last = now_sec();
        }
    }
    stop = 1;
    for (int k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
    gc_read_memstats(&ms1);
    int nres = 0;
    for (int i = 1; i < N; i += 2)
        if (rescued[i]) {
            nres++;
            CHECK(intact(rescued[i], i), "rescued object %d damaged", i);
            CHECK(gc_weak_get(hs[i]) == rescued[i], "rescued object %d lost its handle", i);
        }
    for (int i = 0; i < N; i += 2)
        CHECK(gc_weak_get(hs[i]) == keep[i / 2] && intact(keep[i / 2], i));
    lt_collect();   /* the racers' last gets are garbage now */
    lt_collect();
    int cleared = 0;
    for (int i = 1; i < N; i += 2)
        cleared += gc_weak_get(hs[i]) == NULL;
    printf("%s: %u cycles, %llu gets (%llu non-NULL of dead objects), %llu rescues, %d still rescued, %d of %d "
           "dead handles cleared\n",
           mode, ms1.num_gc - ms0.num_gc, (unsigned long long)gets, (unsigned long long)nonnull_dead,
           (unsigned long long)rescues, nres, cleared, N / 2);
    CHECK(!failed, "a racer failed (see above)");
    CHECK(ms1.num_gc - ms0.num_gc >= test_min_cycles(4), "too few cycles ran to test anything");
    CHECK(cleared >= (N / 2 - nres) * 9 / 10, "dead objects' handles not cleared");
    return 0;
}

int main(int argc, char **argv)
{
    return run_checked_then_plain(argc, argv, body, &max_seconds);
}
