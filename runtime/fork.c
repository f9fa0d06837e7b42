/*
 * fork.c: fork() in a program using gcrt (bdwgc's GC_atfork_prepare/parent/child).
 *
 * The child of fork has one thread, a copy of the forking one; every lock another thread
 * held stays held and every structure it was updating stays half-updated. So the prepare
 * handler brings gcrt to a point where no other thread holds a gcrt lock or is inside a
 * gcrt update, and the child handler rebuilds what refers to threads:
 *
 *   1. gc.lock, after waiting until no cycle runs: no cycle can start, so the GC thread,
 *      the mark workers and the idle mark worker are parked, holding nothing.
 *   2. roots_lock and the store-sequence lock: taken outside critical sections, so taken
 *      before the world stops (as a cycle takes roots_lock).
 *   3. Stop the world: a stopped registered thread (user threads, the finalizer thread) is
 *      never inside a critical section, so it holds no allocator, heap, metadata, stats,
 *      central, specials, finalizer-queue or pool lock, and its cache is consistent.
 *   4. The locks unregistered helpers take outside critical sections: the sweep gate (the
 *      background sweeper sweeps under it), every central lock then heap.lock (lock order;
 *      the scavenger works under heap.lock), the metadata and stats locks, the mark and
 *      idle-worker locks, the sweeper's and scavenger's sleep locks.
 *
 * PARENT releases in reverse and restarts the world. CHILD re-initialises every lock taken
 * in PREPARE (the child's thread owns them under a new tid), hands the caches of the
 * vanished registered threads back to the heap and drops them from the registry, and marks
 * every helper thread as not started: each is re-created when next needed (GC thread at the
 * next cycle, workers at the next mark, sweeper and scavenger at the next wake, finalizer
 * thread at the next finalizer or cleanup, final.c).
 *
 * Handler order: pthread_atfork prepare handlers run in reverse order of registration, and
 * glibc takes its own locks (malloc's arenas, stdio's list) after all of them. Nothing here
 * calls malloc or stdio with the world stopped. A registered thread stopped inside malloc
 * would make glibc's fork wait for it: see docs/embedding.md for the rule this imposes.
 */
#include "internal.h"

static int fork_active;   /* prepare ran (gcrt was initialised): parent/child must undo */

static void locks(int phase) {
    /* PREPARE order; PARENT and CHILD walk it backwards. */
    if (phase == GCRT_FORK_PREPARE) {
        gcrt_sweep_fork(phase);
        for (unsigned i = 0; i < GCRT_NUM_SPAN_CLASSES; i++) pthread_mutex_lock(&gcrt_central_[i].lock);
        pthread_mutex_lock(&gcrt_heap_.lock);
        gcrt_meta_fork(phase);
        pthread_mutex_lock(&gcrt_stats_.lock);
        gcrt_mark_fork(phase);
        gcrt_idle_mark_fork(phase);
        gcrt_scavenger_fork(phase);
        return;
    }
    gcrt_scavenger_fork(phase);
    gcrt_idle_mark_fork(phase);
    gcrt_mark_fork(phase);
    gcrt_fork_mutex(&gcrt_stats_.lock, phase);
    gcrt_meta_fork(phase);
    gcrt_fork_mutex(&gcrt_heap_.lock, phase);
    for (unsigned i = GCRT_NUM_SPAN_CLASSES; i-- > 0;) gcrt_fork_mutex(&gcrt_central_[i].lock, phase);
    gcrt_sweep_fork(phase);
}

static void fork_prepare(void) {
    if (!atomic_load_acquire(&gcrt_inited)) return;
    gcrt_thread *me = gcrt_self;
    if (me && me->in_gcrt) gcrt_fatal("fork() inside a gcrt critical section (from a signal handler?)");
    gcrt_gcstate *g = &gcrt_gc;
    pthread_mutex_lock(&g->lock);
    while (g->running) pthread_cond_wait(&g->done, &g->lock);
    gcrt_roots_fork(GCRT_FORK_PREPARE);
    gcrt_threads_fork(GCRT_FORK_PREPARE);
    gcrt_stop_world();
    locks(GCRT_FORK_PREPARE);
    fork_active = 1;
}

static void fork_parent(void) {
    if (!fork_active) return;
    fork_active = 0;
    locks(GCRT_FORK_PARENT);
    gcrt_start_world();
    gcrt_threads_fork(GCRT_FORK_PARENT);
    gcrt_roots_fork(GCRT_FORK_PARENT);
    pthread_mutex_unlock(&gcrt_gc.lock);
}

static void fork_child(void) {
    if (!fork_active) return;
    fork_active = 0;
    locks(GCRT_FORK_CHILD);
    gcrt_threads_fork(GCRT_FORK_CHILD);   /* after the locks: it releases caches */
    gcrt_roots_fork(GCRT_FORK_CHILD);
    gcrt_cycle_fork_child();
}

void gcrt_fork_init(void) {
    if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0)
        gcrt_fatal("cannot install the fork handlers (pthread_atfork)");
}
