/*
 * idlemark.c: the idle mark worker (Go's idle-priority gcBgMarkWorker).
 *
 * Go marks on CPUs nobody else wants with idle workers that its scheduler stops the moment
 * a goroutine becomes runnable. gcrt gets the same from the kernel: the idle worker is a
 * thread of its own with the SCHED_IDLE policy, which Linux runs only on an otherwise idle
 * CPU and preempts as soon as any normal thread wakes up there. So marking soaks up a free
 * CPU without delaying a program thread's wake-up, while the GC thread (cycle.c) marks as
 * the fractional worker at 25% of the CPUs at normal priority, which guarantees progress
 * when no CPU is idle.
 *
 * Invariants:
 *   - the worker marks only between gcrt_idle_mark_start and gcrt_idle_mark_stop of one
 *     cycle, in slices each bracketed by idle.lock (gcw taken and disposed inside), so
 *     after stop returns it holds no work and touches no mark state until the next start;
 *   - a SCHED_IDLE thread can be starved while other threads keep every CPU busy, with
 *     grey objects in its gcw or holding a lock the rest of the process needs. Locks
 *     raise it (helper.c); for its grey objects, a slice takes well under a millisecond
 *     of CPU, so one that has lasted 2 ms of wall time means a starved worker: a
 *     watchdog thread (normal priority, asleep between cycles, polling every millisecond
 *     during them) then raises it to SCHED_OTHER until that slice ends, as does the GC
 *     thread when it has found no work for 1 ms, and the end of the mark phase when it
 *     must wait for the slice. Raised only to nice 19 (as before), a worker starved by a
 *     CPU hog at nice 0 still waited 50-130 ms with work in hand (issue 17); at nice 0 it
 *     gets its share within a scheduler slice;
 *   - the end of the mark phase clears `run` before it waits for the slice in progress,
 *     so the worker starts no further slice: it used to take the lock back at once and go
 *     on, each new slice at SCHED_IDLE again, and mark termination waited 40-75 ms;
 *   - it lowers itself (unpark, settle) only with idle.lock released: a waiter that found
 *     it raised would not raise it again, and it used to be preempted at SCHED_IDLE
 *     holding the lock, the end of marking waiting 0.5-1.5 s for it (helper.c);
 *   - without the right to leave SCHED_IDLE again (helper.c) there is no idle worker.
 * The worker is not a registered thread: stop-the-world does not stop it, which is why
 * stop waits for its slice to end before mark termination.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define IDLE_SLICE ((int64_t)64 << 10)   /* scan bytes per slice (~50-100 us) */

static struct {
    pthread_mutex_t lock;    /* held by the worker for each slice */
    pthread_cond_t cond;
    int run;                 /* this cycle's marking is open to the worker (atomic) */
    int started;             /* the thread exists */
    pid_t tid;
    uint64_t cpu;            /* ns of marking this cycle (under lock) */
    uint64_t slice_start;    /* monotonic ns when the current slice began; 0 between (atomic) */
    pthread_mutex_t wlock;   /* the watchdog's sleep between cycles (never idle.lock, */
    pthread_cond_t wcond;    /* which a starved worker may hold) */
} idle = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
          .wlock = PTHREAD_MUTEX_INITIALIZER, .wcond = PTHREAD_COND_INITIALIZER};

#define STARVED_NS 2000000

/* Both threads are gcrt's own: no signal of the program's, and no stop-the-world signal
 * (they are never registered), may land on them. */
static void *idle_main(void *arg) {
    (void)arg;
    gcrt_helper_begin();
    gcrt_tl_role(GCRT_ROLE_IDLE);
    atomic_store_release(&idle.tid, (pid_t)syscall(SYS_gettid));
    gcrt_tl_run run = {0};
    for (;;) {
        gcrt_helper_park();   /* between cycles at normal priority (helper.c) */
        gcrt_lock(&idle.lock);
        while (!atomic_load_relaxed(&idle.run)) pthread_cond_wait(&idle.cond, &idle.lock);
        /* Lowered with idle.lock released (helper.c: a waiter that saw it raised would not
         * raise it again), then each slice takes the lock back at idle priority. */
        pthread_mutex_unlock(&idle.lock);
        gcrt_helper_unpark();
        gcrt_lock(&idle.lock);
        for (unsigned nowork = 0; atomic_load_relaxed(&idle.run);) {
            /* Go: no idle marking while the CPU limiter is on. gcrt also stops it while the
             * memory limit sets the goal and the collector has lately used more CPU than
             * the program: a heap that cannot fit under the limit would otherwise keep the
             * collector just above half the CPUs without ever filling the bucket. */
            if (gcrt_limiter_on() || (gcrt_pacer_limited() && gcrt_limiter_filling())) {
                gcrt_tl_run_flush(&run, GCRT_TL_MARK_IDLE);
                pthread_mutex_unlock(&idle.lock);
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
                gcrt_lock(&idle.lock);
                continue;
            }
            uint64_t t0 = gcrt_thread_cpu_ns(), s0 = gcrt_tl_now();
            atomic_store_relaxed(&idle.slice_start, gcrt_now_ns());
            int64_t did = gcrt_mark_some(IDLE_SLICE);
            gcrt_mark_credit(did);
            if (unlikely(s0) && did) gcrt_tl_run_add(&run, GCRT_TL_MARK_IDLE, s0, (uint64_t)did);
            atomic_store_relaxed(&idle.slice_start, 0);
            uint64_t used = gcrt_thread_cpu_ns() - t0;
            idle.cpu += used;
            /* Go leaves idle marking out of the limiter's bucket; gcrt counts it, so that
             * the collector's whole share, not only what it takes from the program, is held
             * near half the CPUs when the heap cannot fit under the limit. */
            gcrt_limiter_add(used, 0);
            gcrt_limiter_update();
            pthread_mutex_unlock(&idle.lock);
            gcrt_helper_settle();   /* a raised slice is over: SCHED_IDLE again, lock released */
            if (did == 0) {   /* others hold the work, or it is all done */
                gcrt_tl_run_flush(&run, GCRT_TL_MARK_IDLE);
                struct timespec ts = {0, nowork++ < 16 ? 20000 : 200000};
                nanosleep(&ts, NULL);
            } else {
                nowork = 0;
            }
            gcrt_lock(&idle.lock);
        }
        gcrt_tl_run_flush(&run, GCRT_TL_MARK_IDLE);
        pthread_mutex_unlock(&idle.lock);
    }
    return NULL;
}

static void *watch_main(void *arg) {
    (void)arg;
    for (;;) {
        gcrt_lock(&idle.wlock);
        while (!atomic_load_relaxed(&idle.run)) pthread_cond_wait(&idle.wcond, &idle.wlock);
        pthread_mutex_unlock(&idle.wlock);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        gcrt_idle_mark_boost_starved(STARVED_NS);
    }
    return NULL;
}

void gcrt_idle_mark_start(void) {
    if (!idle.started) {
        /* A worker that could not be raised again could starve holding work (helper.c);
         * without a watchdog, one that could starve with a slice half done: none then. */
        if (!gcrt_helpers_can_idle()) return;   /* the fractional worker marks alone */
        if (gcrt_spawn_detached(watch_main, NULL, "gcrt-idlewatch")) idle.started = gcrt_spawn_detached(idle_main, NULL, "gcrt-idlemark");
        if (!idle.started) return;
    }
    gcrt_lock(&idle.lock);
    idle.cpu = 0;
    atomic_store_relaxed(&idle.run, 1);
    pthread_cond_signal(&idle.cond);
    pthread_mutex_unlock(&idle.lock);
    gcrt_lock(&idle.wlock);
    pthread_cond_signal(&idle.wcond);
    pthread_mutex_unlock(&idle.wlock);
}

uint64_t gcrt_idle_mark_stop(void) {
    if (!idle.started) return 0;
    atomic_store_relaxed(&idle.run, 0);   /* no further slice */
    /* Raised whether mid-slice (it must be able to end) or not: between slices, starved at
     * SCHED_IDLE, it would take a second to reach its park (helper.c). */
    gcrt_idle_mark_boost();
    gcrt_lock(&idle.lock);
    uint64_t cpu = idle.cpu;
    pthread_mutex_unlock(&idle.lock);
    return cpu;
}

/* Only a worker whose slice has gone on for ns of wall time is starved: one that holds
 * the grey work while it runs is not (the GC thread finding no work for 1 ms used to boost
 * it regardless, and a boosted worker kept a CPU from a woken program thread). */
void gcrt_idle_mark_boost_starved(uint64_t ns) {
    uint64_t st = atomic_load_relaxed(&idle.slice_start);
    if (st && gcrt_now_ns() - st > ns) gcrt_idle_mark_boost();
}

void gcrt_idle_mark_boost(void) {
    if (idle.started) gcrt_helper_raise_tid(atomic_load_acquire(&idle.tid));
}

/* Fork (between cycles): the worker and watchdog are parked; the child starts its own. */
void gcrt_idle_mark_fork(int phase) {
    gcrt_fork_mutex(&idle.lock, phase);
    gcrt_fork_mutex(&idle.wlock, phase);
    if (phase == GCRT_FORK_CHILD) {
        pthread_cond_init(&idle.cond, NULL);
        pthread_cond_init(&idle.wcond, NULL);
        idle.started = 0;
        idle.run = 0;
        idle.tid = 0;
        idle.slice_start = 0;
    }
}
