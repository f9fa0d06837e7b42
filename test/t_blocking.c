/*
 * t_blocking: blocking regions (runtime/thread.c; Go's entersyscall/exitsyscall), where a
 * thread faults in a page cache's new chunk outside its critical section.
 *  - a stop-the-world does not wait for a thread inside one: the thread holds the suspend
 *    signal off inside the region (as a long page fault would) until the test releases it,
 *    and three collections each finish while it is still there. (A bound of 150 ms per
 *    collection stood for this before; beside two CPU hogs and other work at load 19, a
 *    collection took 302 ms with the thread still in its region, so the bound measured the
 *    machine. The order of events does not depend on it.)
 *  - the thread's stack above the region stays a root: an object that only the frame
 *    calling the region holds survives those collections intact (gcpoison would have
 *    overwritten it if it had been freed);
 *  - a thread that leaves its region while the world is stopped waits for the world to
 *    restart: the test stops the world (gcrt_stop_world), lets the region's function
 *    return, and the thread must not get out before gcrt_start_world.
 */
#define _GNU_SOURCE
#include "check.h"
#include "../internal.h"

#include <signal.h>

#define OBJ_WORDS 8
#define PATTERN 0x5eed5eed5eed5eedull

static volatile int in_region, go, left, release;
static int mode;   /* 0: hold the signal off until release (at most 60 s); 1: wait for go */

static void region(void *arg)
{
    (void)arg;
    if (mode == 0) {
        sigset_t s, old;
        sigemptyset(&s);
        sigaddset(&s, SIGPWR);
        pthread_sigmask(SIG_BLOCK, &s, &old);
        in_region = 1;
        double t0 = now_sec();
        while (!__atomic_load_n(&release, __ATOMIC_ACQUIRE) && now_sec() - t0 < test_seconds(60)) {
            struct timespec d = {0, 1000000};
            nanosleep(&d, NULL);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    } else {
        in_region = 1;
        while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE)) {}
    }
}

static __attribute__((noinline)) void *worker(void *arg)
{
    (void)arg;
    uint64_t *volatile obj = gc_alloc(OBJ_WORDS * sizeof(uint64_t));   /* held by this frame only */
    for (int i = 0; i < OBJ_WORDS; i++)
        obj[i] = PATTERN ^ (uint64_t)i;
    gcrt_blocking(gcrt_self, region, NULL);
    __atomic_store_n(&left, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < OBJ_WORDS; i++)
        CHECK(obj[i] == (PATTERN ^ (uint64_t)i), "word %d of the object held across the region is %#llx", i,
              (unsigned long long)obj[i]);
    return NULL;
}

static void wait_flag(volatile int *f)
{
    for (int i = 0; i < 5000 && !__atomic_load_n(f, __ATOMIC_ACQUIRE); i++) {
        struct timespec d = {0, 1000000};
        nanosleep(&d, NULL);
    }
    CHECK(*f, "timed out waiting for the worker");
}

int main(void)
{
    setenv("GODEBUG", "gcpoison=1", 1);
    gc_init();
    pthread_t th;

    /* A stop claims the thread in its region instead of waiting for its signal. */
    mode = 0;
    CHECK(gc_pthread_create(&th, NULL, worker, NULL) == 0, "gc_pthread_create");
    wait_flag(&in_region);
    double worst = 0;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 20000; j++)
        {
            void *volatile g = gc_alloc(64);   /* garbage to free, and reuse the slots of */
            (void)g;
        }
        double t0 = now_sec();
        gc_collect();
        double d = now_sec() - t0;
        if (d > worst)
            worst = d;
        CHECK(!__atomic_load_n(&left, __ATOMIC_ACQUIRE), "collection %d ended only after the thread left the "
              "blocking region where it held the stop signal off: the stop waited for it (%.1f ms)", i + 1, d * 1e3);
    }
    __atomic_store_n(&release, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    printf("t_blocking: longest collection while a thread was in its region: %.2f ms\n", worst * 1e3);

    /* Leaving the region waits for a stopped world to restart. */
    mode = 1;
    in_region = go = left = 0;
    CHECK(gc_pthread_create(&th, NULL, worker, NULL) == 0, "gc_pthread_create");
    wait_flag(&in_region);
    gcrt_stop_world();
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    struct timespec d = {0, 100000000};
    nanosleep(&d, NULL);
    int early = __atomic_load_n(&left, __ATOMIC_ACQUIRE);
    gcrt_start_world();
    CHECK(!early, "the thread left its blocking region while the world was stopped");
    wait_flag(&left);
    pthread_join(th, NULL);
    printf("t_blocking: ok\n");
    return 0;
}
