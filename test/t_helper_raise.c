/*
 * t_helper_raise: a raise that reaches a helper while it lowers itself back to SCHED_IDLE
 * is not lost (runtime/helper.c).
 *
 * A helper raised to SCHED_OTHER (boosted) goes back to SCHED_IDLE at its next safe point.
 * It used to lower itself first and clear `boosted` after. Lowering oneself beside CPU hogs
 * is a reschedule, so the helper was preempted in between: at SCHED_IDLE, with `boosted`
 * still set, so that every raise skipped it (raise_helper takes a set flag for "already
 * raised") until some CPU went idle. The idle mark worker did this holding idle.lock, and
 * the end of marking waited for that lock 0.5-1.5 s beside two CPU hogs per CPU
 * (t_mark_busy_cpus; the soak's 1.5 s marks with 4 ms of CPU).
 *
 * Here a helper thread of the test's own is raised, then settles; the lowering hook (right
 * after its own sched_setscheduler(SCHED_IDLE)) has the main thread raise it again, as a
 * waiter would, before the settle goes on. Then the helper must be at SCHED_OTHER: the
 * second raise returned, and a waiter that raised a helper counts on it getting a CPU.
 * With the old order it stayed at SCHED_IDLE. The same is checked for the lowering when a
 * parked helper finds work (unpark).
 *
 * Raising out of SCHED_IDLE needs CAP_SYS_NICE; without it gcrt never lowers a helper and
 * there is nothing to lose (the test says so and passes).
 */
#define _GNU_SOURCE
#include "check.h"
#include "../internal.h"

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <unistd.h>

static sem_t in_window, raised, go, done;
static pid_t helper_tid;
static int policy_after[2];

static void lower_hook(void)
{
    sem_post(&in_window);
    sem_wait(&raised);
}

static void *helper_main(void *arg)
{
    (void)arg;
    gcrt_helper_begin();
    helper_tid = (pid_t)syscall(SYS_gettid);
    sem_post(&done);
    /* Case 0: raised, then settling at its safe point. */
    sem_wait(&go);
    gcrt_helper_settle();
    policy_after[0] = sched_getscheduler(0);
    sem_post(&done);
    /* Case 1: parked (normal priority between jobs), then lowered on finding work. */
    sem_wait(&go);
    gcrt_helper_settle();   /* the last raise spent (no hook now): back to idle */
    gcrt_helper_park();
    sem_post(&done);
    sem_wait(&go);
    gcrt_helper_unpark();
    policy_after[1] = sched_getscheduler(0);
    sem_post(&done);
    return NULL;
}

static void raise_in_window(void)
{
    sem_wait(&in_window);
    CHECK(gcrt_helper_raise_tid(helper_tid), "the test's thread is no helper");
    sem_post(&raised);
}

int main(void)
{
    if (!gcrt_helpers_can_idle()) {
        printf("t_helper_raise: no right to leave SCHED_IDLE here: gcrt lowers no helper, no raise to lose\n");
        return 0;
    }
    sem_init(&in_window, 0, 0);
    sem_init(&raised, 0, 0);
    sem_init(&go, 0, 0);
    sem_init(&done, 0, 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, helper_main, NULL) == 0);
    sem_wait(&done);
    CHECK(sched_getscheduler(helper_tid) == SCHED_IDLE, "a helper starts at SCHED_IDLE");

    CHECK(gcrt_helper_raise_tid(helper_tid));   /* a waiter raises it: SCHED_OTHER, boosted */
    CHECK(sched_getscheduler(helper_tid) == SCHED_OTHER);
    gcrt_helper_lower_hook = lower_hook;
    sem_post(&go);
    raise_in_window();
    sem_wait(&done);
    printf("t_helper_raise: raised while settling: policy %d after (SCHED_OTHER %d)\n", policy_after[0],
           SCHED_OTHER);
    CHECK(policy_after[0] == SCHED_OTHER,
          "a raise that came while the helper lowered itself was lost: it is at SCHED_IDLE with nobody to raise it");

    gcrt_helper_lower_hook = NULL;
    sem_post(&go);
    sem_wait(&done);   /* settled and parked */
    CHECK(gcrt_helper_raise_tid(helper_tid));   /* raised while parked: spent at unpark */
    gcrt_helper_lower_hook = lower_hook;
    sem_post(&go);
    raise_in_window();
    sem_wait(&done);
    printf("t_helper_raise: raised while unparking: policy %d after\n", policy_after[1]);
    CHECK(policy_after[1] == SCHED_OTHER, "a raise that came while the helper unparked was lost");
    gcrt_helper_lower_hook = NULL;
    pthread_join(th, NULL);
    return 0;
}
