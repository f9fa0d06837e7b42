/*
 * grow.c: growing the heap ahead of need. Go has no counterpart: on bare metal a page
 * fault is a microsecond. On this project's virtual machines the first touch of a page
 * is the host's work too, and costs 12-25 us per 4 KiB page, 1.5-5 ms per 2 MiB huge page
 * (measured: a 2 MiB huge-page fault averages 1.4-5.1 ms here, its 512 small faults
 * 12 ms). A fault cannot be interrupted, so a thread in one answers a stop-the-world only
 * when it ends: the pause probe's stops waited up to 15-20 ms for a churning thread
 * faulting in the heap's new peak. The grower is a thread that is never stopped: when a
 * heap of some size runs low on free pages it commits the next chunk and faults it in
 * (gcrt_os_fault_in: in huge pages where os.c asked for them) before the chunk joins
 * the free runs, so the threads that allocate from it find it resident. A thread that
 * outruns the grower grows the heap itself, as before. Released free pages come first:
 * the grower faults them back in (heap.c, refault_released) and commits new pages only
 * when free and released pages together are below its reserve.
 *
 * How much: free pages below a reserve of heap_inuse/32 (8..64 MiB) wake it, and it grows
 * until the reserve is free again, within the scavenger's targets (the GOGC retained
 * target and the memory limit's: what it grows the scavenger would otherwise release).
 * Heaps under 64 MiB are left alone: few faults, and a reserve would be a large share.
 *
 * Invariants: the grower is unregistered and never stopped; it takes heap.lock only
 * inside gcrt_heap_grow_ahead, which drops it around the commit and the fault-in. grow_lock
 * guards its sleep and is a leaf; a registered thread takes it only inside a critical
 * section, so that no stopped thread holds it while another, in a critical section, waits
 * for it. The thread is started at a cycle's end (gcrt_grow_start), never from an
 * allocation: pthread_create takes libc's locks, which a stopped thread may hold.
 */
#define _GNU_SOURCE
#include "internal.h"


#define RESERVE_MIN ((uint64_t)8 << 20)
#define RESERVE_MAX ((uint64_t)64 << 20)

static pthread_mutex_t grow_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t grow_cond = PTHREAD_COND_INITIALIZER;
static int grow_started, grow_kick;

static uint64_t reserve(void) {
    uint64_t r = atomic_load_relaxed(&gcrt_heap_.heap_inuse) / 32;
    return r < RESERVE_MIN ? RESERVE_MIN : r > RESERVE_MAX ? RESERVE_MAX : r;
}
static bool reserve_short(void) { return atomic_load_relaxed(&gcrt_heap_.heap_free) < reserve(); }

static void *grower_main(void *arg) {
    (void)arg;
    /* Not a SCHED_IDLE helper, unlike the sweeper: its work is in the kernel, holding the
     * address space's locks (a fault its VMA's, MADV_POPULATE_WRITE mmap_lock for reading,
     * with preemption points inside), which no priority inheritance reaches. At
     * idle priority, preempted inside, it kept them while other work held both CPUs: every
     * kvcache thread that faulted or mapped waited in the kernel, unable to answer a stop,
     * and t_soak_quick saw pauses of 0.4-1.1 s and missed PINGs beside `stress-ng --cpu 2`
     * (issue 17). At normal priority it takes a CPU share for the few ms a chunk costs, as
     * the thread that would otherwise fault the chunk in would. */
    gcrt_fault_exempt();
    for (;;) {
        gcrt_lock(&grow_lock);
        while (!grow_kick) pthread_cond_wait(&grow_cond, &grow_lock);
        grow_kick = 0;
        /* Read with the kick: a release of everything drops the kick before it advances
         * the epoch, so an old kick never comes with the new epoch (heap.c). */
        uint64_t epoch = atomic_load_relaxed(&gcrt_heap_.release_epoch);
        pthread_mutex_unlock(&grow_lock);
        /* each chunk is grown with heap.lock dropped at its end */
        while (!gcrt_fault_armed() && gcrt_scavenger_room(GCRT_GROW_CHUNK) && gcrt_heap_grow_ahead(reserve(), epoch)) {}
        gcrt_meta_fault_ahead();   /* the grown chunks' spans will want metadata too */
        /* A reserve it could not fill (the scavenger's targets, or released pages only in
         * pieces it does not take): every refill kicks again, and each try scans the free
         * runs under heap.lock, so tries come at most every 10 ms. */
        if (reserve_short()) {
            struct timespec d = {0, 10 * 1000 * 1000};
            nanosleep(&d, NULL);
        }
    }
    return NULL;
}

/* grow_lock inside a critical section (the invariant above). */
static void set_kick(int kick) {
    gcrt_thread *t = gcrt_self;
    if (t) gcrt_enter(t);
    gcrt_lock(&grow_lock);
    grow_kick = kick;
    if (kick) pthread_cond_signal(&grow_cond);
    pthread_mutex_unlock(&grow_lock);
    if (t) gcrt_leave(t);
}

void gcrt_grow_check(void) {
    gcrt_heap *h = &gcrt_heap_;
    if (likely(atomic_load_relaxed(&h->heap_sys) < GCRT_THP_MIN_HEAP)) return;
    if (!reserve_short() || !atomic_load_acquire(&grow_started)) return;
    set_kick(1);
}

void gcrt_grow_cancel(void) { set_kick(0); }

/* At a cycle's end, outside critical sections: start the grower once the heap is big
 * enough to need it. */
void gcrt_grow_start(void) {
    if (atomic_load_relaxed(&grow_started) || atomic_load_relaxed(&gcrt_heap_.heap_sys) < GCRT_THP_MIN_HEAP) return;
    gcrt_lock(&grow_lock);
    if (!grow_started) atomic_store_release(&grow_started, gcrt_spawn_detached(grower_main, NULL, "gcrt-grow"));
    pthread_mutex_unlock(&grow_lock);
}

/* Fork: the grower holds grow_lock only around its sleep; the child has none until the
 * next wake. Taken after heap.lock (runtime/fork.c), as a leaf. */
void gcrt_grow_fork(int phase) {
    gcrt_fork_mutex(&grow_lock, phase);
    if (phase == GCRT_FORK_CHILD) {
        pthread_cond_init(&grow_cond, NULL);
        grow_started = 0;
        grow_kick = 0;
    }
}
