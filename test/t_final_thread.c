/*
 * t_final_thread: finalizers on gcrt's finalizer thread.
 *  - they run without gc_run_finalizers being called;
 *  - a finalizer may allocate, set a finalizer on a new object and on its own object again
 *    (re-arming it, as Go allows), call gc_run_finalizers and gc_collect, without deadlock;
 *  - a slow finalizer (blocked until the main thread says so) stalls neither allocation
 *    nor collection, nor other finalizers run by gc_run_finalizers meanwhile;
 *  - a re-armed finalizer runs again when the object dies again.
 */
#include "lifetime.h"

#include <pthread.h>

static volatile int phase1, phase2, rearmed_runs, blocked_started, release_blocked, blocked_timed_out;
static volatile int quick_runs, bad;

typedef struct obj {
    uint64_t magic;
    struct obj *child;
} obj_t;

static void fin_second(void *o, void *arg)
{
    (void)arg;
    if (((obj_t *)o)->magic != 2)
        bad = 1;
    phase2 = 1;
}

static void fin_rearmed(void *o, void *arg)
{
    (void)o;
    (void)arg;
    rearmed_runs++;
}

static TEST_NOINLINE void make_second(void)
{
    obj_t *o = gc_alloc(sizeof *o);
    o->magic = 2;
    if (gc_set_finalizer(o, fin_second, NULL) != 0)
        bad = 2;
}

/* Allocates, sets finalizers, collects, runs finalizers: all from the finalizer thread. */
static void fin_busy(void *o, void *arg)
{
    (void)arg;
    obj_t *self = o;
    if (self->magic != 1 || !self->child || self->child->magic != 11)
        bad = 3;
    for (int i = 0; i < 10000; i++) {
        obj_t *x = gc_alloc(sizeof *x);
        if (!x) {
            bad = 4;
            return;
        }
        x->magic = (uint64_t)i;
    }
    make_second();
    if (gc_set_finalizer(self, fin_rearmed, NULL) != 0)   /* re-arm: allowed, as in Go */
        bad = 5;
    gc_collect();
    gc_run_finalizers();
    phase1 = 1;
}

static void fin_blocking(void *o, void *arg)
{
    (void)o;
    (void)arg;
    blocked_started = 1;
    double t0 = now_sec();
    while (!release_blocked) {
        if (now_sec() - t0 > 15) {
            blocked_timed_out = 1;
            return;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void fin_quick(void *o, void *arg)
{
    (void)o;
    (void)arg;
    quick_runs++;
}

static TEST_NOINLINE void make_busy(void *unused)
{
    (void)unused;
    obj_t *o = gc_alloc(sizeof *o);
    o->magic = 1;
    o->child = gc_alloc(sizeof *o);
    o->child->magic = 11;
    CHECK(gc_set_finalizer(o, fin_busy, NULL) == 0);
}

static TEST_NOINLINE void make_with(void (*fn)(void *, void *), int n)
{
    for (int i = 0; i < n; i++)
        CHECK(gc_set_finalizer(gc_alloc(32), fn, NULL) == 0);
}

/* Collect now and then until cond holds or 10 s passed (more under memcheck, which may let
 * the finalizer thread wait its turn); never runs finalizers itself. */
#define WAIT_FOR(cond)                                                                      \
    do {                                                                                    \
        double w0_ = now_sec();                                                             \
        while (!(cond) && now_sec() - w0_ < test_seconds(10)) {                             \
            lt_collect();                                                                      \
            struct timespec ts_ = {0, 20000000};                                            \
            nanosleep(&ts_, NULL);                                                          \
        }                                                                                   \
    } while (0)

int main(void)
{
    gc_init();
    lt_in_thread(make_busy, NULL);   /* no stale copy of the object on this stack */
    WAIT_FOR(phase1);
    CHECK(phase1, "the finalizer thread never ran the finalizer");
    CHECK(!bad, "finalizer step failed: %d", bad);
    WAIT_FOR(phase2);
    CHECK(phase2, "a finalizer set from a finalizer never ran");
    WAIT_FOR(rearmed_runs);
    CHECK(rearmed_runs == 1, "re-armed finalizer ran %d times", rearmed_runs);
    CHECK(!bad, "finalizer step failed: %d", bad);

    /* A blocked finalizer: allocation, collection and other finalizers go on. */
    make_with(fin_blocking, 1);
    WAIT_FOR(blocked_started);
    CHECK(blocked_started, "blocking finalizer never started");
    make_with(fin_quick, 100);
    double t0 = now_sec();
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 100000; j++)
            CHECK(gc_alloc(64) != NULL);
        lt_collect();
    }
    /* The finalizer thread is stuck: these run here. */
    for (int i = 0; i < 4 && quick_runs < 90; i++) {
        gc_run_finalizers();
        lt_collect();
    }
    gc_run_finalizers();
    double dt = now_sec() - t0;
    CHECK(quick_runs >= 90, "only %d of 100 finalizers ran while another was blocked", quick_runs);
    CHECK(!blocked_timed_out, "collection waited for a blocked finalizer");
    release_blocked = 1;
    printf("allocation and 7 collections with a blocked finalizer: %.3f s\n", dt);
    printf("t_final_thread: ok\n");
    return 0;
}
