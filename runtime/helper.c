/*
 * helper.c: the scheduling priority of gcrt's background helpers (the background sweeper
 * and the idle mark worker), and locks that wait for one of them. The grower is not one:
 * its work holds kernel locks, which this cannot raise it out of (grow.c).
 *
 * The helpers run at SCHED_IDLE, so that they use only CPUs nobody else wants and any
 * waking thread preempts them (docs/architecture.md, "What a stop waits for"). But a
 * SCHED_IDLE thread that is preempted while it holds a gcrt lock keeps it until a CPU goes
 * idle, and on a machine that other work keeps busy no CPU ever does: measured under
 * `stress-ng --cpu 2` beside kvcache, the GC thread waited 3.5 s inside one mark slice for
 * the work-buffer lock, mark termination 40-75 ms for the idle worker, and the heap ran
 * past the memory limit by up to 2x while the assists had nothing to mark (issue 17).
 *
 * So locks are priority-inheriting by hand: gcrt_lock() is a trylock, and a thread that
 * finds the lock taken and still taken after a short spin reads its owner and, if that is
 * a helper at idle priority, raises it to SCHED_OTHER (the weight of a normal thread: it
 * gets its share within a scheduler slice) before it blocks. A raised helper goes back to
 * SCHED_IDLE at its next safe point (gcrt_helper_settle: after each span swept, chunk
 * grown or mark slice, when it holds no lock and no grey object). The pause waits that are
 * not locks (mark termination for the idle worker's slice) raise it the same way.
 *
 * Raising a thread out of SCHED_IDLE needs CAP_SYS_NICE (or an RLIMIT_NICE that allows
 * it): a probe at the first helper's start finds out. Without it the helpers are never
 * lowered at all and run at normal priority (as Go's do), and there is no idle mark
 * worker: a helper that could be starved holding a lock, with no way to raise it again,
 * would stall the program for as long as other work keeps the CPUs busy.
 *
 * A program that ends exits thread by thread, each at its own priority, and its parent
 * reaps it only when the last is gone. Beside CPU hogs, a helper at SCHED_IDLE gets a
 * slice about once a second, so an exit waited for it, and the parent's reap spun in the
 * kernel meanwhile (277 s of system time in one soak, issue 17; test/stress/reap.c). So
 * a helper is at SCHED_IDLE only while it has work: it parks at normal priority before it
 * waits, and unparks (lowers itself) once it has found work, not on every wake-up; the
 * end of a cycle raises the idle mark worker, so that it reaches its park at once. And
 * exit() raises every helper before the threads are killed (an atexit handler, installed
 * with the probe); after it no helper lowers itself again. A program killed by a
 * signal's default action while a helper has work still waits for that helper.
 *
 * Invariants: a helper record is written by its own thread only, except `boosted`, which
 * a waiter sets (CAS 0 -> 1, then the policy change) and the helper clears (before it
 * sets SCHED_IDLE again, re-raising itself if a raise came in meanwhile), so `boosted`
 * set means the helper is at SCHED_OTHER or about to be; a waiter may raise a helper
 * that has meanwhile released the lock, which costs that helper one unit at normal
 * priority. A waiter that finds `boosted` set does not raise, so a helper lowers itself
 * only where it holds no lock anyone can wait for: such a waiter would block with the
 * holder back at SCHED_IDLE.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_HELPERS 8

typedef struct helper {
    pid_t tid;     /* 0: free slot (atomic) */
    int idle;      /* lowered to SCHED_IDLE */
    int boosted;   /* raised by a waiter, not yet settled (atomic) */
    int parked;    /* waiting for work at normal priority (its own thread's) */
} helper;

static helper helpers[MAX_HELPERS];
static GCRT_TLS helper *self_helper;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int can_raise;

static int exiting;   /* exit() has begun: no helper is lowered again (atomic) */

static void *probe_main(void *arg) {
    struct sched_param sp = {0};
    *(int *)arg = sched_setscheduler(0, SCHED_IDLE, &sp) == 0 && sched_setscheduler(0, SCHED_OTHER, &sp) == 0;
    return NULL;
}

/* Every helper to normal priority, for good: the exit that follows kills them, and each
 * must get a CPU to die. A helper that reads `exiting` clear lowered itself before this
 * store (lower_self), so the raise here comes after its lowering. */
static void raise_all_at_exit(void) {
    __atomic_store_n(&exiting, 1, __ATOMIC_SEQ_CST);
    struct sched_param sp = {0};
    for (unsigned i = 0; i < MAX_HELPERS; i++) {
        pid_t tid = atomic_load_acquire(&helpers[i].tid);
        if (tid && atomic_load_relaxed(&helpers[i].idle)) sched_setscheduler(tid, SCHED_OTHER, &sp);
    }
}

/* In a thread of its own: the probe leaves its thread at SCHED_IDLE when raising fails. */
static void probe(void) {
    pthread_t th;
    int ok = 0;
    if (pthread_create(&th, NULL, probe_main, &ok) == 0) pthread_join(th, NULL);
    can_raise = ok;
    if (ok) atexit(raise_all_at_exit);
}

bool gcrt_helpers_can_idle(void) {
    pthread_once(&probe_once, probe);
    return can_raise;
}

static bool lower_self(void) {
    struct sched_param sp = {0};
    bool ok = sched_setscheduler(0, SCHED_IDLE, &sp) == 0;
    if (__atomic_load_n(&exiting, __ATOMIC_SEQ_CST)) sched_setscheduler(0, SCHED_OTHER, &sp);
    return ok;
}

void gcrt_helper_begin(void) {
    if (!gcrt_helpers_can_idle()) return;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    for (unsigned i = 0; i < MAX_HELPERS; i++) {
        pid_t zero = 0;
        if (__atomic_compare_exchange_n(&helpers[i].tid, &zero, tid, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            self_helper = &helpers[i];
            break;
        }
    }
    if (!self_helper) return;   /* no slot: stays at normal priority */
    atomic_store_release(&self_helper->idle, lower_self());
}

/* Back to SCHED_IDLE after a raise, losing none that comes meanwhile: `boosted` is
 * cleared before the lowering and read again after it, and a raise that set it in
 * between (whose own policy change may have landed before the lowering) is redone here.
 * It used to lower first and clear after: lowering oneself beside CPU hogs is a
 * reschedule, so the helper was preempted in between, at SCHED_IDLE with `boosted` still
 * set, and every raise skipped it until a CPU went idle (the idle worker, holding
 * idle.lock, kept the end of marking waiting 0.5-1.5 s beside two hogs per CPU). */
void (*gcrt_helper_lower_hook)(void);   /* tests: between the lowering and the re-read */
static void lower_settled(helper *h) {
    __atomic_store_n(&h->boosted, 0, __ATOMIC_SEQ_CST);
    lower_self();
    if (unlikely(gcrt_helper_lower_hook != NULL)) gcrt_helper_lower_hook();
    if (__atomic_load_n(&h->boosted, __ATOMIC_SEQ_CST)) {
        struct sched_param sp = {0};
        sched_setscheduler(0, SCHED_OTHER, &sp);
    }
}

void gcrt_helper_settle(void) {
    helper *h = self_helper;
    if (!h || !atomic_load_relaxed(&h->boosted)) return;
    if (h->parked) atomic_store_release(&h->boosted, 0);
    else lower_settled(h);
}

void gcrt_helper_park(void) {
    helper *h = self_helper;
    if (!h || !h->idle || h->parked) return;
    struct sched_param sp = {0};
    sched_setscheduler(0, SCHED_OTHER, &sp);
    h->parked = 1;
}

void gcrt_helper_unpark(void) {
    helper *h = self_helper;
    if (!h || !h->parked) return;
    h->parked = 0;
    lower_settled(h);   /* a raise while parked is spent */
}

static void raise_helper(helper *h) {
    int zero = 0;
    if (!atomic_load_relaxed(&h->idle) || atomic_load_relaxed(&h->boosted) ||
        !__atomic_compare_exchange_n(&h->boosted, &zero, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return;
    struct sched_param sp = {0};
    pid_t tid = atomic_load_relaxed(&h->tid);
    if (!tid || sched_setscheduler(tid, SCHED_OTHER, &sp) != 0) atomic_store_relaxed(&h->boosted, 0);
}

bool gcrt_helper_raise_tid(pid_t tid) {
    if (!tid) return false;
    for (unsigned i = 0; i < MAX_HELPERS; i++)
        if (atomic_load_relaxed(&helpers[i].tid) == tid) {
            raise_helper(&helpers[i]);
            return true;
        }
    return false;
}

/* The owner of a taken mutex: glibc records the holder's tid for every mutex kind. */
static pid_t mutex_owner(pthread_mutex_t *m) {
#ifdef __GLIBC__
    return atomic_load_relaxed(&m->__data.__owner);
#else
    (void)m;
    return 0;
#endif
}

/* Whether a mutex reads free (glibc's lock word), to spin on a load rather than a CAS. */
static bool mutex_looks_free(pthread_mutex_t *m) {
#ifdef __GLIBC__
    return atomic_load_relaxed(&m->__data.__lock) == 0;
#else
    (void)m;
    return true;
#endif
}

void gcrt_lock_slow(pthread_mutex_t *m) {
    for (unsigned i = 0; i < 64; i++) {   /* most holds are a few hundred ns */
        __builtin_ia32_pause();
        if (mutex_looks_free(m) && pthread_mutex_trylock(m) == 0) return;
    }
    pid_t owner = mutex_owner(m);
#ifndef __GLIBC__
    for (unsigned i = 0; i < MAX_HELPERS; i++)   /* owner unknown: raise every lowered helper */
        if (atomic_load_relaxed(&helpers[i].tid)) raise_helper(&helpers[i]);
#endif
    if (owner) gcrt_helper_raise_tid(owner);
    pthread_mutex_lock(m);
}

/* Fork: the child has none of the helpers; each is re-created (and re-registered). */
void gcrt_helpers_fork_child(void) {
    for (unsigned i = 0; i < MAX_HELPERS; i++) helpers[i] = (helper){0};
}
