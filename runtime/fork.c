/*
 * fork.c: fork() in a program using gcrt (bdwgc's GC_atfork_prepare/parent/child).
 *
 * The child of fork has one thread, a copy of the forking one; every lock another thread
 * held stays held and every structure it was updating stays half-updated. So the prepare
 * handler brings gcrt to a point where no other thread holds a gcrt lock or is inside a
 * gcrt update, and the child handler rebuilds what refers to threads:
 *
 *   0. The unique table's lock: its holders allocate, so may wait for gc.lock or a cycle.
 *   1. gc.lock, after waiting until no cycle runs: no cycle can start, so the GC thread,
 *      the mark workers and the idle mark worker are parked, holding nothing.
 *   2. roots_lock, the store-sequence lock and the limiter's lock, which registered
 *      threads take outside critical sections: taken before the world stops, as a cycle
 *      takes roots_lock (the limiter's is only ever try-locked, so waiting for it is safe).
 *   3. Stop the world. A stopped registered thread (user threads, the finalizer thread) is
 *      never inside a critical section, so it holds no gcrt lock and its cache is
 *      consistent: every other thread's cache is emptied, as in a pause.
 *   4. Take every other gcrt lock. With the world stopped the only possible holders are
 *      unregistered helpers: the background sweeper works behind the sweep gate (taken
 *      first), the scavenger under heap.lock (after the central locks: lock order).
 *   5. Restart the world, keeping gcrt_threads_lock. glibc's fork takes malloc's and
 *      stdio's locks after every prepare handler: a thread left parked inside malloc would
 *      deadlock it. The restarted threads can finish what they do in libc, and block on
 *      the first gcrt lock they need (a cache refill included: their caches are empty), so
 *      no gcrt structure is mid-update when fork copies the process.
 *
 * PARENT releases in reverse. CHILD re-initialises every lock taken (the child's thread
 * owns them under a new tid), drops the vanished registered threads from the registry
 * (their caches are empty; their pool locals are handed on), and marks every helper thread
 * as not started: each is re-created when next needed (GC thread at the next cycle, mark
 * workers at the next mark, sweeper and scavenger at the next wake, the finalizer thread at
 * the next finalizer or cleanup, final.c).
 *
 * pthread_atfork prepare handlers run in reverse order of registration, after any the
 * program registered later; ours calls neither malloc nor stdio with the world stopped.
 */
#include "internal.h"

static int fork_active;   /* prepare ran (gcrt was initialised): parent/child must undo */

/* The locks of step 4, in PREPARE order; PARENT and CHILD walk them backwards. */
static void locks(int phase) {
    if (phase == GCRT_FORK_PREPARE) {
        gcrt_sweep_fork(phase);
        gcrt_final_fork(phase);
        gcrt_pool_fork(phase);
        for (unsigned i = 0; i < GCRT_NUM_SPAN_CLASSES; i++) gcrt_lock(&gcrt_central_[i].lock);
        gcrt_lock(&gcrt_heap_.lock);
        gcrt_meta_fork(phase);
        gcrt_lock(&gcrt_stats_.lock);
        gcrt_mark_fork(phase);
        gcrt_idle_mark_fork(phase);
        gcrt_scavenger_fork(phase);
        gcrt_grow_fork(phase);
        return;
    }
    gcrt_grow_fork(phase);
    gcrt_scavenger_fork(phase);
    gcrt_idle_mark_fork(phase);
    gcrt_mark_fork(phase);
    gcrt_fork_mutex(&gcrt_stats_.lock, phase);
    gcrt_meta_fork(phase);
    gcrt_fork_mutex(&gcrt_heap_.lock, phase);
    /* A run another thread held with heap.lock dropped is not the child's: no one will put
     * it back, and gc_free_os_memory must not wait for it (heap.c). */
    if (phase == GCRT_FORK_CHILD) gcrt_heap_.runs_out = 0;
    for (unsigned i = GCRT_NUM_SPAN_CLASSES; i-- > 0;) gcrt_fork_mutex(&gcrt_central_[i].lock, phase);
    if (phase == GCRT_FORK_CHILD) gcrt_central_init();   /* adaptive class locks again (central.c) */
    gcrt_pool_fork(phase);
    gcrt_final_fork(phase);
    gcrt_sweep_fork(phase);
}

static void fork_prepare(void) {
    if (!atomic_load_acquire(&gcrt_inited)) return;
    gcrt_thread *me = gcrt_self;
    if (me && me->in_gcrt) gcrt_fatal("fork() inside a gcrt critical section (from a signal handler?)");
    gcrt_weak_fork(GCRT_FORK_PREPARE);
    gcrt_gcstate *g = &gcrt_gc;
    gcrt_lock(&g->lock);
    while (g->running) pthread_cond_wait(&g->done, &g->lock);
    gcrt_mprof_fork(GCRT_FORK_PREPARE);   /* after the cycle: its end takes the profile lock */
    gcrt_roots_fork(GCRT_FORK_PREPARE);
    gcrt_threads_fork(GCRT_FORK_PREPARE);
    gcrt_limiter_fork(GCRT_FORK_PREPARE);
    gcrt_stop_world();
    gcrt_threads_fork_flush();
    locks(GCRT_FORK_PREPARE);
    gcrt_threads_fork_restart();
    fork_active = 1;
}

static void fork_parent(void) {
    if (!fork_active) return;
    fork_active = 0;
    locks(GCRT_FORK_PARENT);
    gcrt_limiter_fork(GCRT_FORK_PARENT);
    gcrt_threads_fork(GCRT_FORK_PARENT);
    gcrt_roots_fork(GCRT_FORK_PARENT);
    gcrt_mprof_fork(GCRT_FORK_PARENT);
    pthread_mutex_unlock(&gcrt_gc.lock);
    gcrt_weak_fork(GCRT_FORK_PARENT);
}

static void fork_child(void) {
    if (!fork_active) return;
    fork_active = 0;
    locks(GCRT_FORK_CHILD);
    gcrt_limiter_fork(GCRT_FORK_CHILD);
    gcrt_threads_fork(GCRT_FORK_CHILD);   /* after the locks: it frees metadata */
    gcrt_roots_fork(GCRT_FORK_CHILD);
    gcrt_cycle_fork_child();
    gcrt_helpers_fork_child();
    gcrt_weak_fork(GCRT_FORK_CHILD);
    gcrt_mprof_fork(GCRT_FORK_CHILD);
    gcrt_tl_fork_child();   /* the timeline file is the parent's */
}

void gcrt_fork_init(void) {
    if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0)
        gcrt_fatal("cannot install the fork handlers (pthread_atfork)");
}
