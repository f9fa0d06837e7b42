/*
 * t_cleanup: cleanups with Go's semantics (runtime.AddCleanup).
 *  - bad input: NULL object or function, arg equal to the object or inside it, memory that
 *    is not a GC object: NULL with errno EINVAL;
 *  - several per object, each runs exactly once after the object is unreachable, and the
 *    object is not resurrected (it is freed by the cycle that queues the cleanups);
 *  - the arg is kept alive until the cleanup runs and is intact then;
 *  - gc_cleanup_stop cancels one that has not run; stop after it ran has no effect; the
 *    handle stays valid memory as long as the program holds it;
 *  - a garbage cycle whose objects all have cleanups is collected and all of them run;
 *  - cleanup and finalizer on one object: the finalizer first, the cleanup only after the
 *    object dies again;
 *  - an interior pointer names its object.
 */
#include "lifetime.h"

#include <pthread.h>

static pthread_mutex_t lk = PTHREAD_MUTEX_INITIALIZER;
static int runs[64];
static int fin_runs, order_bad;

typedef struct argbox {
    uint64_t magic;
    int slot;
} argbox_t;

static void cl(void *arg)
{
    argbox_t *a = arg;
    pthread_mutex_lock(&lk);
    if (a->magic != 0xc1ea2 + (uint64_t)a->slot)
        runs[63] = 1000;
    runs[a->slot]++;
    if (a->slot == 20 && fin_runs == 0)
        order_bad = 1;
    pthread_mutex_unlock(&lk);
}

static void fin(void *o, void *arg)
{
    (void)o;
    (void)arg;
    pthread_mutex_lock(&lk);
    fin_runs++;
    pthread_mutex_unlock(&lk);
}

static int get(int slot)
{
    pthread_mutex_lock(&lk);
    int n = runs[slot];
    pthread_mutex_unlock(&lk);
    return n;
}

static TEST_NOINLINE argbox_t *box(int slot)
{
    argbox_t *a = gc_alloc(sizeof *a);
    CHECK(a != NULL);
    a->magic = 0xc1ea2 + (uint64_t)slot;
    a->slot = slot;
    return a;
}

/* Collect (at most 6 times, 0.2 s each) until runs[slot] >= 1; runs queued cleanups here too. */
static void collect_until(int slot)
{
    for (int i = 0; i < 6 && get(slot) < 1; i++) {
        lt_collect();
        double t0 = now_sec();
        while (get(slot) < 1 && now_sec() - t0 < 0.2) {
            gc_run_finalizers();
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

static gc_cleanup_t stopped_handle, ran_handle;
static uintptr_t made;   /* hidden address of what the last maker made */

static void make_three(void *unused)
{
    (void)unused;
    void *o = gc_alloc(48);
    for (int s = 0; s < 3; s++)
        CHECK(gc_add_cleanup(o, cl, box(s)) != NULL);
    /* slot 3 is stopped before the object dies */
    stopped_handle = gc_add_cleanup(o, cl, box(3));
    CHECK(stopped_handle != NULL);
    gc_cleanup_stop(stopped_handle);
    gc_cleanup_stop(stopped_handle);   /* twice: no effect */
    made = HIDE(o);
}

static void make_interior(void *unused)
{
    (void)unused;
    char *o = gc_alloc(256);
    ran_handle = gc_add_cleanup(o + 100, cl, box(5));
    CHECK(ran_handle != NULL);
    made = HIDE(o);
}

static void make_cycle(void *unused)
{
    (void)unused;
    void **a = gc_alloc(32), **b = gc_alloc(32);
    a[0] = b;
    b[0] = a;
    CHECK(gc_add_cleanup(a, cl, box(10)) != NULL);
    CHECK(gc_add_cleanup(b, cl, box(11)) != NULL);
}

static void make_with_finalizer(void *unused)
{
    (void)unused;
    void *o = gc_alloc(32);
    CHECK(gc_add_cleanup(o, cl, box(20)) != NULL);
    CHECK(gc_set_finalizer(o, fin, NULL) == 0);
    made = HIDE(o);
}

static void test_bad_input(void)
{
    char *o = gc_alloc(64);
    int local;
    errno = 0;
    CHECK(gc_add_cleanup(NULL, cl, NULL) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(gc_add_cleanup(o, NULL, NULL) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(gc_add_cleanup(o, cl, o) == NULL && errno == EINVAL, "arg == obj must be refused");
    errno = 0;
    CHECK(gc_add_cleanup(o, cl, o + 8) == NULL && errno == EINVAL, "arg inside obj must be refused");
    errno = 0;
    CHECK(gc_add_cleanup(&local, cl, NULL) == NULL && errno == EINVAL);
    gc_cleanup_stop(NULL);
    gc_keep_alive(o);
}

int main(void)
{
    gc_init();
    gc_set_percent(-1);
    test_bad_input();

    lt_in_thread(make_three, NULL);   /* objects made in other threads: no stale copies here */
    uintptr_t h = made;
    collect_until(2);
    lt_collect();
    gc_run_finalizers();
    for (int s = 0; s < 3; s++)
        CHECK(get(s) == 1, "cleanup %d ran %d times", s, get(s));
    CHECK(get(3) == 0, "a stopped cleanup ran");
    CHECK(runs[63] == 0, "a cleanup's arg was damaged");
    CHECK(!lt_alive(h), "object with cleanups was kept (resurrected?)");
    gc_cleanup_stop(stopped_handle);   /* long after: still valid memory, no effect */

    lt_in_thread(make_interior, NULL);
    uintptr_t hi = made;
    collect_until(5);
    CHECK(get(5) == 1, "cleanup set through an interior pointer ran %d times", get(5));
    CHECK(!lt_alive(hi));
    gc_cleanup_stop(ran_handle);   /* after it ran: no effect */
    lt_collect();
    gc_run_finalizers();
    CHECK(get(5) == 1);

    lt_in_thread(make_cycle, NULL);   /* no stale copy on the main stack */
    collect_until(10);
    collect_until(11);
    CHECK(get(10) == 1 && get(11) == 1, "garbage cycle with cleanups: %d %d", get(10), get(11));

    lt_in_thread(make_with_finalizer, NULL);
    uintptr_t hf = made;
    collect_until(20);
    CHECK(fin_runs == 1, "finalizer ran %d times", fin_runs);
    CHECK(get(20) == 1, "cleanup of a finalized object never ran");
    CHECK(!order_bad, "cleanup ran before the finalizer");
    lt_collect();
    CHECK(!lt_alive(hf));

    for (int s = 0; s < 63; s++)
        CHECK(runs[s] <= 1, "cleanup %d ran %d times", s, runs[s]);
    printf("t_cleanup: ok\n");
    return 0;
}
