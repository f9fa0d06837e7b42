/*
 * sweep.c: sweeping (Go's mgcsweep): the mark bits of the last cycle become the
 * allocation bits, and spans with no marked object go back to the page heap.
 *
 * A span is swept exactly once per generation, by whoever claims it: a thread refilling
 * its cache (central.c), a large allocation reclaiming pages, the background sweeper, or
 * the collector finishing the sweep. Claiming means popping it from an unswept central list
 * under that list's lock and setting sweepgen to sg-1; sweeping ends with sweepgen = sg.
 * gcrt_sweep_.pending counts the generation's spans not yet swept, claimed or not: a span
 * is counted off when its sweeper is done with it (back on a list or in the page heap),
 * so gcrt_sweep_finish waits for it to be zero, and nothing is counted at the claim.
 *
 * The background sweeper claims up to SWEEP_BATCH spans of a class in one trip to the
 * class lock, and gives the survivors back in one more: a trip per span put that lock and
 * the counters' line between it and the allocating thread refilling the same class from
 * the other CPU, once per span each way (the lock, the counters and the page heap's lock
 * were about half of its samples in binary-trees and GCBench). Registered threads sweep a
 * span at a time, each in a critical section of its own, which a stop-the-world waits out.
 *
 * sweepgen must not advance between a sweeper reading it and finishing the span it claimed,
 * or the sweeper would "sweep" an already-swept span (its mark bits clear) and free live
 * objects. Registered threads sweep inside critical sections, which a stop-the-world waits
 * out. Unregistered sweepers (the background sweeper, gc_collect from an unregistered
 * thread) hold sweep_gate around each span; the collector takes the gate with the world
 * stopped and keeps it until sweepgen has advanced.
 */
#include "internal.h"

#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

gcrt_sweep_counts gcrt_sweep_;
/* Proportional sweep (Go's sweepPagesPerByte): allocation after a cycle pays sweeping so
 * that every span is swept before heap_live reaches the next trigger. Read-mostly: set
 * with the world stopped. */
static uint64_t sweep_base_live;   /* heap_live when sweeping started */
static double sweep_pages_per_byte;
/* Taken by the background sweeper around each batch: a line of its own, away from the
 * counters every sweeper writes. */
static pthread_mutex_t sweep_gate __attribute__((aligned(64))) = PTHREAD_MUTEX_INITIALIZER;
#define SWEEP_BATCH 8

/* Release: gcrt_sweep_finish, reading pending 0, sees everything the sweeps wrote. */
void gcrt_sweep_done(uint32_t n, size_t npages) {
    atomic_add(&gcrt_sweep_.pages_done, npages);
    __atomic_sub_fetch(&gcrt_sweep_.pending, n, __ATOMIC_RELEASE);
}

static pthread_mutex_t bg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cond = PTHREAD_COND_INITIALIZER;
static int bg_started, bg_kick;
static pid_t bg_tid;   /* the background sweeper's, once it runs (atomic) */

/* Slots of word w of s that were allocated before this sweep and are not marked by it:
 * the ones sweeping frees. */
static inline uint64_t sweep_freed_word(const gcrt_span *s, size_t w) {
    uint64_t was = s->allocbits[w];
    size_t fi = s->freeindex;
    if (fi > w * 64) was |= fi >= w * 64 + 64 ? ~(uint64_t)0 : ((uint64_t)1 << (fi - w * 64)) - 1;
    uint64_t f = was & ~s->markbits[w];
    if (s->nelems < w * 64 + 64) f &= ((uint64_t)1 << (s->nelems - w * 64)) - 1;
    return f;
}

/* Zero the freed slots of s, one memset per run of adjacent freed slots: when most of a
 * span died (the common case for young objects) that is a few long stores instead of a
 * call per slot, which made sweeping a span of small objects cost several times more. */
static void sweep_clear_freed(gcrt_span *s, size_t words) {
    size_t run = 0, nrun = 0;   /* pending run of freed slots: [run, run + nrun) */
    for (size_t w = 0; w < words; w++) {
        uint64_t f = sweep_freed_word(s, w);
        size_t i = w * 64;
        while (f) {
            unsigned z = (unsigned)__builtin_ctzll(f);   /* live or free slots to skip */
            f >>= z;
            i += z;
            unsigned n = f == ~(uint64_t)0 ? 64 : (unsigned)__builtin_ctzll(~f);   /* freed */
            if (nrun && run + nrun == i) nrun += n;   /* continues the run from the last word */
            else {
                if (nrun) memset((void *)(s->base + run * s->elemsize), 0, nrun * s->elemsize);
                run = i;
                nrun = n;
            }
            f = n == 64 ? 0 : f >> n;
            i += n;
        }
    }
    if (nrun) memset((void *)(s->base + run * s->elemsize), 0, nrun * s->elemsize);
}

/* GODEBUG=gcpoison and the sanitizers: each freed slot goes to the debug hook instead. */
static void sweep_free_slots_debug(gcrt_span *s, size_t words) {
    for (size_t w = 0; w < words; w++)
        for (uint64_t f = sweep_freed_word(s, w); f; f &= f - 1)
            gcrt_debug_free_slot(s, s->base + (w * 64 + (size_t)__builtin_ctzll(f)) * s->elemsize);
}

/* gcrt_sweep_span, and for a batch (give_back false): a span left with no object is not
 * freed, nor one with objects pushed, and small frees are added to *nfree, all for the
 * caller to do once per batch. */
static bool sweep_span(gcrt_span *s, bool owned, bool give_back, uint64_t *nfree) {
    uint32_t sg = atomic_load_relaxed(&gcrt_heap_.sweepgen);
    unsigned sc = spanclass_sizeclass(s->spanclass);
    size_t words = span_bitmap_words(s);
    if (unlikely(atomic_load_relaxed(&s->spset))) gcrt_sweep_specials(s);   /* may resurrect */
    size_t nalloc = 0;
    for (size_t i = 0; i < words; i++) nalloc += (size_t)__builtin_popcountll(s->markbits[i]);
    size_t nfreed = s->alloccount - nalloc;
    /* Small spans count with an atomic add, not under the stats lock: the background
     * sweeper and allocating threads sweep side by side, and one global lock taken per
     * swept span is a needless meeting point for them. */
    if (nfreed && sc) {
        if (give_back) atomic_add(&gcrt_stats_.nfree[sc], (uint64_t)nfreed);
        else *nfree += nfreed;
    } else if (nfreed) {
        gcrt_lock(&gcrt_stats_.lock);
        gcrt_stats_.large_frees++;
        gcrt_stats_.large_freed_bytes += s->elemsize;
        pthread_mutex_unlock(&gcrt_stats_.lock);
    }
    if (nalloc == 0 && (!owned || !sc)) {
        atomic_store_release(&s->sweepgen, sg);
        if (give_back) gcrt_heap_free(s);
        if (unlikely(gcrt_tl_on)) gcrt_tl_swept();
        return false;
    }
    /* Free slots of small spans are always zero (the allocation fast path never zeroes):
     * clear each slot allocated before this sweep and not marked by it. */
    if (sc && nfreed) {
        if (unlikely(gcrt_debug_hooks)) sweep_free_slots_debug(s, words);
        else sweep_clear_freed(s, words);
    }
    /* span_find_object (gc_base, finalizers, weak handles) reads these bits from other
     * threads: bracket by sweepseq. */
    atomic_store_relaxed(&s->sweepseq, s->sweepseq + 1);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    uint64_t *old = s->allocbits;
    s->allocbits = s->markbits;
    memset(old, 0, words * 8);
    s->markbits = old;
    if (gcrt_gt_class[s->spanclass]) memset(span_scanbits(s), 0, words * 8);   /* next cycle: nothing scanned */
    s->alloccount = (uint16_t)nalloc;
    s->freeindex = 0;
    if (sc) span_refill_alloccache(s);
    atomic_store_release(&s->sweepseq, s->sweepseq + 1);
    atomic_store_release(&s->sweepgen, sg);
    if (!owned && give_back) gcrt_central_push_swept(s);
    if (unlikely(gcrt_tl_on)) gcrt_tl_swept();
    return true;
}

bool gcrt_sweep_span(gcrt_span *s, bool owned) { return sweep_span(s, owned, true, NULL); }

#define SWEEP_BUSY ((size_t)-1)

/* Claim and sweep up to max (<= SWEEP_BATCH) spans of class spc; returns pages freed + 1,
 * or 0 if none was left. With wait false, a class whose lock is taken is left to its
 * holder: SWEEP_BUSY. Spans swept empty go back to the page heap, and the others onto the
 * swept lists, together after the batch: until then they count as pending. */
static size_t sweep_class_try(unsigned spc, bool wait, unsigned max) {
    gcrt_central *c = &gcrt_central_[spc];
    uint32_t sg = atomic_load_relaxed(&gcrt_heap_.sweepgen);
    unsigned un = sg_unswept(sg);
    if (!c->partial[un].first && !c->full[un].first) return 0;
    if (wait) gcrt_lock(&c->lock);
    else if (pthread_mutex_trylock(&c->lock)) return SWEEP_BUSY;
    /* Claimed spans are on no list: their next links the batch, then the kept and the dead
     * ones (a frame without arrays: the stack is scanned conservatively, and a bigger
     * frame here kept dead objects' addresses alive in stale slots below it). */
    gcrt_span *batch = NULL, *kept = NULL, *dead = NULL;
    unsigned n = 0;
    size_t np = 0, freed = 0;
    while (n < max) {
        gcrt_span *s = gcrt_list_pop(&c->partial[un]);
        if (!s && !(s = gcrt_list_pop(&c->full[un]))) break;
        atomic_store_relaxed(&s->sweepgen, sg - 1);
        np += s->npages;
        s->next = batch;
        batch = s;
        n++;
    }
    pthread_mutex_unlock(&c->lock);
    if (!n) return 0;
    uint64_t nfree = 0;
    while (batch) {
        gcrt_span *s = batch;
        batch = s->next;
        if (sweep_span(s, false, false, &nfree)) {
            s->next = kept;
            kept = s;
        } else {
            freed += s->npages;
            s->next = dead;
            dead = s;
        }
    }
    if (nfree) atomic_add(&gcrt_stats_.nfree[spanclass_sizeclass(spc)], nfree);
    if (dead) gcrt_heap_free_batch(dead);
    if (kept) gcrt_central_push_swept_batch(kept);
    gcrt_sweep_done(n, np);
    return freed + 1;
}

static size_t sweep_class(unsigned spc) { return sweep_class_try(spc, true, 1); }

/* Sweep one span of any class (large classes first: they free whole runs). Callers that
 * are registered threads must be in a critical section. The background sweeper and
 * allocating threads all walk from gcrt_sweep_.cursor, so they tend to want the same class at
 * once: a class whose lock is held is passed over (its holder is sweeping it), and waited
 * for only when every other class is done. */
static size_t sweep_any(unsigned max) {
    unsigned cur = atomic_load_relaxed(&gcrt_sweep_.cursor);
    for (int pass = 0; pass < 2; pass++) {
        bool busy = false;
        for (unsigned k = 0; k < GCRT_NUM_SPAN_CLASSES; k++) {
            unsigned spc = (cur + k) % GCRT_NUM_SPAN_CLASSES;
            size_t r = sweep_class_try(spc, pass == 1, max);
            if (r == SWEEP_BUSY) {
                busy = true;
                continue;
            }
            if (r) {
                if (spc != cur) atomic_store_relaxed(&gcrt_sweep_.cursor, spc);
                return r;
            }
        }
        if (!busy) break;
    }
    return 0;
}

/* A registered thread sweeps one span in a critical section; an unregistered one (the
 * background sweeper, gc_collect from outside) a batch, holding the gate. */
bool gcrt_sweep_one(void) {
    if (!gcrt_sweep_pending()) return false;
    gcrt_thread *t = gcrt_self;
    size_t r;
    if (t) {
        gcrt_enter(t);
        r = sweep_any(1);
        gcrt_leave(t);
    } else {
        gcrt_lock(&sweep_gate);
        r = sweep_any(SWEEP_BATCH);
        pthread_mutex_unlock(&sweep_gate);
    }
    return r != 0;
}

/* Inside a critical section (before growing the heap): bounded, since a stop-the-world
 * waits for it; proportional sweeping does the rest. */
#define RECLAIM_MAX_SPANS 64
void gcrt_sweep_reclaim(size_t npages) {
    size_t got = 0;
    unsigned budget = RECLAIM_MAX_SPANS;
    for (unsigned spc = 0; spc < GCRT_SCAN_KINDS && got < npages; spc++) {   /* large first */
        size_t r;
        while (got < npages && budget && (r = sweep_class(spc))) got += r - 1, budget--;
    }
    while (got < npages && budget-- && gcrt_sweep_pending()) {
        size_t r = sweep_any(1);
        if (!r) break;
        got += r - 1;
    }
}

/* Sweep what is left, then wait for sweeps other threads have claimed: when this returns,
 * every span of the generation is swept (gc_collect's promise). */
void gcrt_sweep_finish(void) {
    /* A span another thread claimed stays pending until it is swept and back on a list or
     * in the page heap. */
    uint64_t s0 = gcrt_tl_now(), n = 0;
    for (;;) {
        if (gcrt_sweep_one()) {
            n++;
            continue;
        }
        if (!atomic_load_acquire(&gcrt_sweep_.pending)) break;
        /* The span in flight may be the background sweeper's. At SCHED_IDLE and preempted,
         * it gets a CPU back only when one goes idle, and a cycle starts only from here:
         * sched_yield hands the CPU to the other work, not to it. It holds the gate for
         * each batch, so taking the gate raises it (gcrt_lock) and waits for that batch.
         * A registered thread takes it in a critical section: stopped while holding it, it
         * kept a thread starting a cycle (which takes the gate with the world stopped)
         * waiting for ever (t_scavenge_race: gc_free_os_memory's collection beside a worker
         * past its trigger; gdb stacks in docs/evidence/t_scavenge_race-hang.txt). */
        gcrt_thread *me = gcrt_self;
        if (me) gcrt_enter(me);
        gcrt_lock(&sweep_gate);
        pthread_mutex_unlock(&sweep_gate);
        if (me) gcrt_leave(me);
        sched_yield();
    }
    if (n) gcrt_tl_end(GCRT_TL_SWEEP_FINISH, s0, n, 0);
    /* Nothing left to sweep, but a sweeper that was mid-work is at SCHED_IDLE until it
     * reaches its park, about a second beside CPU hogs: raised, it parks at once, and a
     * program that then ends does not wait for it (helper.c). */
    pid_t t = atomic_load_acquire(&bg_tid);
    if (t) gcrt_helper_raise_tid(t);
}

/* With the world stopped: shut out unregistered sweepers and finish this generation. The
 * gate stays held until gcrt_sweep_start. */
void gcrt_sweep_wait_idle(void) {
    gcrt_lock(&sweep_gate);
    while (sweep_any(SWEEP_BATCH)) {}
}

void gcrt_sweep_gate_release(void) { pthread_mutex_unlock(&sweep_gate); }

/* World stopped, caches flushed: every in-use span is on an unswept list after this.
 * live and trigger set the proportional-sweep pace. */
void gcrt_sweep_start(uint64_t live, uint64_t trigger) {
    atomic_store_release(&gcrt_heap_.sweepgen, gcrt_heap_.sweepgen + 2);
    atomic_store_release(&gcrt_sweep_.pending, (uint32_t)gcrt_heap_.nspans);
    uint64_t pages = gcrt_heap_.heap_inuse / GCRT_PAGE_SIZE;
    uint64_t dist = trigger > live + (1 << 20) ? trigger - live : (1 << 20);
    sweep_base_live = live;
    atomic_store_relaxed(&gcrt_sweep_.pages_done, 0);
    sweep_pages_per_byte = (double)pages / (double)dist;
    pthread_mutex_unlock(&sweep_gate);
}


/* Pay for allocation (Go's deductSweepCredit). Called outside critical sections: each
 * span is swept in a critical section of its own, so a stop-the-world never waits for
 * more than one span. */
void gcrt_sweep_pay(void) {
    if (!gcrt_sweep_pending()) return;
    int64_t live = atomic_load_relaxed(&gcrt_heap_live);
    double owed = (double)(live - (int64_t)sweep_base_live) * sweep_pages_per_byte;
    uint64_t s0 = gcrt_tl_now(), n = 0;
    uint32_t cyc = gcrt_tl_cycle_now();
    while ((double)atomic_load_relaxed(&gcrt_sweep_.pages_done) < owed && gcrt_sweep_one()) n++;
    if (n) gcrt_tl_end_in(GCRT_TL_SWEEP_PAY, cyc, s0, n, 0);
}

/* The background sweeper: sweeps at idle priority after each cycle (the scavenger,
 * scavenge.c, returns free pages to the OS). Starved while it holds the gate or a list
 * lock, it runs as soon as a CPU goes idle: the world stopping, or the thread waiting for
 * the lock sleeping, frees one. */
static void *bgsweep_main(void *arg) {
    (void)arg;
    gcrt_helper_begin();
    gcrt_tl_role(GCRT_ROLE_SWEEP);
    atomic_store_release(&bg_tid, (pid_t)syscall(SYS_gettid));
    gcrt_helper_park();   /* waits at normal priority: killed now, it exits at once */
    for (;;) {
        gcrt_lock(&bg_lock);
        if (!bg_kick) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&bg_cond, &bg_lock, &ts);
        }
        bg_kick = 0;
        pthread_mutex_unlock(&bg_lock);
        gcrt_tl_run run = {0};
        for (unsigned n = 0;; n++) {
            uint64_t s0 = gcrt_tl_now();
            if (!gcrt_sweep_one()) break;
            if (n == 0) gcrt_helper_unpark();   /* work: the rest of it at idle priority */
            if (unlikely(s0)) gcrt_tl_run_add(&run, GCRT_TL_SWEEP_BG, s0, 1);
            gcrt_helper_settle();   /* holds nothing between batches */
            sched_yield();   /* a batch is up to SWEEP_BATCH spans */
        }
        gcrt_helper_park();
        gcrt_tl_run_flush(&run, GCRT_TL_SWEEP_BG);
        /* Every span swept: the heap profile of the last cycle is complete (mprof.c). */
        if (!atomic_load_acquire(&gcrt_sweep_.pending))
            gcrt_mprof_post_sweep();
    }
    return NULL;
}

void gcrt_bgsweep_wake(void) {
    gcrt_lock(&bg_lock);
    if (!bg_started) bg_started = gcrt_spawn_detached(bgsweep_main, NULL, "gcrt-sweep");
    bg_kick = 1;
    pthread_cond_signal(&bg_cond);
    pthread_mutex_unlock(&bg_lock);
}

/* Fork, world stopped: the gate keeps the background sweeper out of every span, so no
 * list or span is half-updated; the child has no sweeper thread until the next wake. */
void gcrt_sweep_fork(int phase) {
    gcrt_fork_mutex(&sweep_gate, phase);
    gcrt_fork_mutex(&bg_lock, phase);
    if (phase == GCRT_FORK_CHILD) {
        pthread_cond_init(&bg_cond, NULL);
        bg_started = 0;
        bg_tid = 0;
    }
}
