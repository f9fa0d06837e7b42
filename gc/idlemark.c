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
 *     grey objects in its gcw or, worse, holding a lock the rest of the process needs
 *     (the mark work-buffer lock, the metadata lock). A slice takes well under a
 *     millisecond of CPU, so one that has lasted 2 ms of wall time means a starved
 *     worker: a watchdog thread (normal priority, asleep between cycles, polling every
 *     millisecond during them) then returns it to SCHED_OTHER, at nice 19, until that
 *     slice ends, as does the GC thread when it has found no work for 1 ms. At nice 0 a
 *     boosted worker ran for 5 ms at a stretch while woken program threads waited, and a
 *     stop waited for a thread it had preempted in a critical section. Leaving SCHED_IDLE needs
 *     CAP_SYS_NICE (or RLIMIT_NICE 20); a probe at start-up finds out, and without it the
 *     worker runs at nice 19 instead, which cannot be raised again: a waking thread
 *     preempts it less promptly, and a starved slice lasts until the kernel's fairness
 *     gives it the CPU.
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
    int run;                 /* this cycle's marking is open to the worker */
    int started;             /* the thread exists */
    int can_unidle;          /* SCHED_IDLE may be left again (probe) */
    int boosted;             /* raised to SCHED_OTHER for the current slice */
    pid_t tid;
    uint64_t cpu;            /* ns of marking this cycle (under lock) */
    uint64_t slice_start;    /* monotonic ns when the current slice began; 0 between (atomic) */
    pthread_mutex_t wlock;   /* the watchdog's sleep between cycles (never idle.lock, */
    pthread_cond_t wcond;    /* which a starved worker may hold) */
} idle = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
          .wlock = PTHREAD_MUTEX_INITIALIZER, .wcond = PTHREAD_COND_INITIALIZER};

#define STARVED_NS 2000000

static void set_low_priority(void) {
    struct sched_param sp = {0};
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);   /* what a boost runs at */
    if (idle.can_unidle) sched_setscheduler(0, SCHED_IDLE, &sp);
}

static void *probe_main(void *arg) {
    struct sched_param sp = {0};
    *(int *)arg = sched_setscheduler(0, SCHED_IDLE, &sp) == 0 && sched_setscheduler(0, SCHED_OTHER, &sp) == 0;
    return NULL;
}

/* Both threads are gcrt's own: no signal of the program's, and no stop-the-world signal
 * (they are never registered), may land on them. */
static void *idle_main(void *arg) {
    (void)arg;
    idle.tid = (pid_t)syscall(SYS_gettid);
    set_low_priority();
    for (;;) {
        pthread_mutex_lock(&idle.lock);
        while (!idle.run) pthread_cond_wait(&idle.cond, &idle.lock);
        if (atomic_load_relaxed(&idle.boosted)) {   /* last cycle's boost is over */
            atomic_store_relaxed(&idle.boosted, 0);
            set_low_priority();
        }
        for (unsigned nowork = 0; idle.run;) {
            /* Go: no idle marking while the CPU limiter is on. gcrt also stops it while the
             * memory limit sets the goal and the collector has lately used more CPU than
             * the program: a heap that cannot fit under the limit would otherwise keep the
             * collector just above half the CPUs without ever filling the bucket. */
            if (gcrt_limiter_on() || (gcrt_pacer_limited() && gcrt_limiter_filling())) {
                pthread_mutex_unlock(&idle.lock);
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
                pthread_mutex_lock(&idle.lock);
                continue;
            }
            uint64_t t0 = gcrt_thread_cpu_ns();
            atomic_store_relaxed(&idle.slice_start, gcrt_now_ns());
            int64_t did = gcrt_mark_some(IDLE_SLICE);
            gcrt_mark_credit(did);
            atomic_store_relaxed(&idle.slice_start, 0);
            uint64_t used = gcrt_thread_cpu_ns() - t0;
            idle.cpu += used;
            /* Go leaves idle marking out of the limiter's bucket; gcrt counts it, so that
             * the collector's whole share, not only what it takes from the program, is held
             * near half the CPUs when the heap cannot fit under the limit. */
            gcrt_limiter_add(used, 0);
            gcrt_limiter_update();
            if (atomic_load_relaxed(&idle.boosted)) {   /* the starved slice is over */
                atomic_store_relaxed(&idle.boosted, 0);
                set_low_priority();
            }
            pthread_mutex_unlock(&idle.lock);
            if (did == 0) {   /* others hold the work, or it is all done */
                struct timespec ts = {0, nowork++ < 16 ? 20000 : 200000};
                nanosleep(&ts, NULL);
            } else {
                nowork = 0;
            }
            pthread_mutex_lock(&idle.lock);
        }
        pthread_mutex_unlock(&idle.lock);
    }
    return NULL;
}

static void *watch_main(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&idle.wlock);
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
        pthread_t th;
        int ok = 0;
        if (pthread_create(&th, NULL, probe_main, &ok) == 0) pthread_join(th, NULL);
        idle.can_unidle = ok;
        /* Without a watchdog a SCHED_IDLE worker could starve holding a lock: none then. */
        if (gcrt_spawn_detached(watch_main, NULL, "gcrt-idlewatch")) idle.started = gcrt_spawn_detached(idle_main, NULL, "gcrt-idlemark");
        if (!idle.started) return;   /* the fractional worker marks alone */
    }
    pthread_mutex_lock(&idle.lock);
    idle.cpu = 0;
    atomic_store_relaxed(&idle.run, 1);
    pthread_cond_signal(&idle.cond);
    pthread_mutex_unlock(&idle.lock);
    pthread_mutex_lock(&idle.wlock);
    pthread_cond_signal(&idle.wcond);
    pthread_mutex_unlock(&idle.wlock);
}

uint64_t gcrt_idle_mark_stop(void) {
    if (!idle.started) return 0;
    if (pthread_mutex_trylock(&idle.lock) != 0) {   /* mid-slice: it must be able to end */
        gcrt_idle_mark_boost();
        pthread_mutex_lock(&idle.lock);
    }
    atomic_store_relaxed(&idle.run, 0);
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
    if (!idle.started || !idle.can_unidle || atomic_load_relaxed(&idle.boosted) || !idle.tid) return;
    struct sched_param sp = {0};
    if (sched_setscheduler(idle.tid, SCHED_OTHER, &sp) == 0) atomic_store_relaxed(&idle.boosted, 1);
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
        idle.boosted = 0;
        idle.tid = 0;
        idle.slice_start = 0;
    }
}
