/*
 * t_final_race: finalizers and cleanups set, run and raced against concurrent marking
 * (under GODEBUG=gccheckmark=1,gcverify=1 in a child, then with defaults).
 *  - two threads keep making objects with children, setting finalizers on some and
 *    cleanups (whose arg is a GC box) on others, rewiring children with GC_STORE after the
 *    finalizer is set (so the root job and the barrier both matter), and keeping a
 *    rolling window of them alive;
 *  - every finalizer must find its object and its current child intact, every cleanup its
 *    box intact; each runs once (a per-object flag in the object or box);
 *  - the main thread allocates garbage to drive concurrent cycles and runs queued
 *    finalizers now and then, beside gcrt's finalizer thread.
 */
#include "lifetime.h"

#include <pthread.h>

#define WINDOW 256

typedef struct child {
    uint64_t magic;
} child_t;

typedef struct obj {
    uint64_t magic;
    child_t *child;
    uint64_t ran;
} obj_t;

typedef struct box {
    uint64_t magic;
    uint64_t ran;
} box_t;

static volatile int stop;
static uint64_t nfin, ncl, bad;
static double max_seconds;
static obj_t **windows[2];

static void fin(void *o, void *arg)
{
    obj_t *x = o;
    if (x->magic != (uint64_t)(uintptr_t)arg || !x->child || x->child->magic != (x->magic ^ 0x5555) ||
        __atomic_add_fetch(&x->ran, 1, __ATOMIC_RELAXED) != 1)
        __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&nfin, 1, __ATOMIC_RELAXED);
}

static void cl(void *arg)
{
    box_t *b = arg;
    if (b->magic != 0xb0b0b0 || __atomic_add_fetch(&b->ran, 1, __ATOMIC_RELAXED) != 1)
        __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&ncl, 1, __ATOMIC_RELAXED);
}

static child_t *mkchild(uint64_t m)
{
    child_t *c = gc_alloc(sizeof *c);
    CHECK(c != NULL);
    c->magic = m ^ 0x5555;
    return c;
}

static void *maker(void *arg)
{
    int me = (int)(intptr_t)arg;
    obj_t **win = windows[me];
    uint64_t x = test_mix((uint64_t)me + 7);
    for (uint64_t n = 0; !stop; n++) {
        x = test_mix(x);
        obj_t *o = gc_alloc(sizeof *o);
        CHECK(o != NULL);
        o->magic = x & 0xffffffffffull;
        o->child = mkchild(o->magic);
        if (x & 1) {
            CHECK(gc_set_finalizer(o, fin, (void *)(uintptr_t)o->magic) == 0);
        } else {
            box_t *b = gc_alloc(sizeof *b);
            CHECK(b != NULL);
            b->magic = 0xb0b0b0;
            CHECK(gc_add_cleanup(o, cl, b) != NULL);
        }
        if ((x >> 8) % 4 == 0)
            GC_STORE(o->child, mkchild(o->magic));   /* the old child must not be needed */
        GC_STORE(win[n % WINDOW], o);
        if ((x >> 12) % 8 == 0) {   /* rewire an older one's child too */
            obj_t *old = win[(x >> 16) % WINDOW];
            if (old)
                GC_STORE(old->child, mkchild(old->magic));
        }
    }
    return NULL;
}

static int body(const char *mode)
{
    gc_init();
    stop = 0;
    nfin = ncl = bad = 0;
    for (int k = 0; k < 2; k++) {
        windows[k] = gc_alloc(WINDOW * sizeof(obj_t *));
        CHECK(windows[k] != NULL);
    }
    gc_memstats_t m0, m1;
    gc_read_memstats(&m0);
    pthread_t th[2];
    for (int k = 0; k < 2; k++)
        CHECK(gc_pthread_create(&th[k], NULL, maker, (void *)(intptr_t)k) == 0);
    double t0 = now_sec();
    void *list = NULL;
    for (unsigned n = 0; now_sec() - t0 < max_seconds * 0.6; n++) {
        void **g = gc_alloc(48);
        g[0] = list;
        list = (n % 10000) ? (void *)g : NULL;
        if (n % 5000 == 0)
            gc_run_finalizers();
    }
    stop = 1;
    for (int k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
    lt_collect();
    gc_run_finalizers();
    gc_read_memstats(&m1);
    printf("%s: %u cycles, %llu finalizers and %llu cleanups ran\n", mode, m1.num_gc - m0.num_gc,
           (unsigned long long)nfin, (unsigned long long)ncl);
    CHECK(bad == 0, "%llu finalizers or cleanups found damaged memory or ran twice", (unsigned long long)bad);
    CHECK(m1.num_gc - m0.num_gc >= 3, "too few cycles");
    CHECK(nfin > 100 && ncl > 100, "too few finalizers/cleanups ran to test anything");
    return 0;
}

int main(int argc, char **argv)
{
    return run_checked_then_plain(argc, argv, body, &max_seconds);
}
