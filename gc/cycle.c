/*
 * cycle.c: the collection cycle (Go's mgc.go), run by gcrt's GC thread.
 *
 * Pause 1 (sweep termination + mark setup), world stopped:
 *   finish sweeping, flush every cache (all slots' state is then in allocbits/freeindex),
 *   turn on the write barrier and black allocation, grey the roots (stacks from their
 *   saved stack pointers, registers, static data, registered ranges): the snapshot.
 * Concurrent mark: the GC thread marks as the fractional worker (about 25% of the CPUs),
 *   a SCHED_IDLE worker (idlemark.c) uses idle CPUs, allocating threads assist in proportion.
 * Pause 2 (mark termination), world stopped:
 *   grey every thread's write-barrier buffer, drain what is left, flush every cache
 *   (allocating its handed-out slots black), barrier off, optional checks, advance
 *   sweepgen (every span becomes unswept), heap_live = bytes marked.
 * Sweeping then runs lazily and in the background; gc_collect() finishes it.
 *
 * Why no root is rescanned in pause 2: GC_STORE shades every pointer it overwrites, so
 * everything reachable at the snapshot stays reachable to the marker, and everything
 * allocated since is black. Stacks, globals and roots need no barrier because they were
 * scanned at the snapshot and anything stored into them later is either from the
 * snapshot or new. GODEBUG=gcstoptheworld=1 runs the whole mark inside pause 1.
 *
 * gc.lock guards requests and settings only; it is never held while the world is stopped
 * (a stopped thread might be waiting for it) nor inside a critical section.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <time.h>
#include <sched.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

GCRT_STATE gcrt_gcstate gcrt_gc = {.lock = PTHREAD_MUTEX_INITIALIZER, .request = PTHREAD_COND_INITIALIZER,
                                   .done = PTHREAD_COND_INITIALIZER, .begun = PTHREAD_COND_INITIALIZER, .percent = 100,
                                   .memory_limit = INT64_MAX, .memprofilerate = -1, .gcgreentea = 2};
int64_t gcrt_heap_live;

uint64_t gcrt_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t gcrt_thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Go's fmtNSAsMS: whole ms from 10 ms up, else two significant digits, <= 3 decimals. */
static char *fmt_ms(char *buf, uint64_t ns) {
    if (ns >= 10000000) {
        sprintf(buf, "%llu", (unsigned long long)(ns / 1000000));
        return buf;
    }
    uint64_t x = ns / 1000;
    int dec = 3;
    if (x == 0) return strcpy(buf, "0");
    while (x >= 100) {
        x /= 10;
        dec--;
    }
    uint64_t p = 1;
    for (int i = 0; i < dec; i++) p *= 10;
    if (dec) sprintf(buf, "%llu.%0*llu", (unsigned long long)(x / p), dec, (unsigned long long)(x % p));
    else sprintf(buf, "%llu", (unsigned long long)x);
    return buf;
}

typedef struct trace_info {
    uint32_t n;
    uint64_t start, tterm, stw1, mark, stw2, markcpu, assistcpu, idlecpu, stw1cpu, stw2cpu, stw2cpu_helpers;
    uint64_t assistcpu_start;   /* the starting thread's first slice */
    uint64_t stw_aborted, stw_aborted_max;   /* mark terminations that found work (wall) */
    uint64_t stopped1, stopped2;   /* timeline (0: off): when the world was stopped */
    uint64_t heap0, heap1, marked, goal, stacks, globals;
    int util, procs, forced;
} trace_info;

static void print_trace(const trace_info *t) {
    char a[5][32], c[5][32];
    uint64_t since = t->start - gcrt_stats_.start_ns;
    fprintf(stderr,
            "gc %u @%llu.%03llus %d%%: %s+%s+%s ms clock, %s+%s/%s/%s+%s ms cpu, %llu->%llu->%llu MB, "
            "%llu MB goal, %llu MB stacks, %llu MB globals, %d P%s\n",
            t->n, (unsigned long long)(since / 1000000000), (unsigned long long)(since / 1000000 % 1000), t->util,
            fmt_ms(a[0], t->stw1), fmt_ms(a[1], t->mark), fmt_ms(a[2], t->stw2),
            fmt_ms(c[0], t->stw1 * (uint64_t)t->procs), fmt_ms(c[1], t->assistcpu), fmt_ms(c[2], t->markcpu),
            fmt_ms(c[3], t->idlecpu), fmt_ms(c[4], t->stw2 * (uint64_t)t->procs), (unsigned long long)(t->heap0 >> 20),
            (unsigned long long)(t->heap1 >> 20), (unsigned long long)(t->marked >> 20),
            (unsigned long long)(t->goal >> 20), (unsigned long long)(t->stacks >> 20),
            (unsigned long long)(t->globals >> 20), t->procs, t->forced ? " (forced)" : "");
}

/* Online CPUs, read once by gc_init: the first read opens a sysfs file, which cycle_end
 * would otherwise do with the world stopped or under the stats lock. */
static int nprocs(void) { return gcrt_gc.ncpu > 0 ? gcrt_gc.ncpu : 1; }

static void flush_caches(void) {
    for (gcrt_thread *t = gcrt_threads; t; t = t->next) gcrt_cache_release_all(&t->cache);
}

static void scan_roots(gcrt_gcw *w, uint64_t *stacks) {
    uint64_t sb = 0;
    for (gcrt_thread *t = gcrt_threads; t; t = t->next) {
        uintptr_t sp = t->stop_sp & ~(uintptr_t)7;
        uintptr_t lo = sp >= t->stack_lo && sp < t->stack_hi ? sp : t->stack_lo;   /* else: altstack */
        gcrt_scan_range(w, lo, t->stack_hi);
        sb += t->stack_hi - lo;
        gcrt_scan_range(w, (uintptr_t)t->regs, (uintptr_t)(t->regs + t->nregs));
    }
    *stacks = sb;
}

static void scan_root_cb(uintptr_t lo, uintptr_t hi, void *arg) { gcrt_scan_range(arg, lo, hi); }

/* Go's ragged barrier before mark termination: ask every thread to flush its barrier
 * buffer, and keep marking concurrently what that uncovers, so that pause 2 finds little
 * left. A thread that does not get to it within 2 ms (blocked, or not allocating) is
 * flushed in pause 2. Returns true when no buffer is known to hold entries. */
static bool buffers_flushed(void) {
    static uint32_t asked;
    static uint64_t asked_at;
    uint64_t now = gcrt_now_ns();
    if (asked != atomic_load_relaxed(&gcrt_flush_epoch) || !asked_at) {
        asked = atomic_add(&gcrt_flush_epoch, 1);
        asked_at = now;
    }
    bool pending = false;
    gcrt_lock(&gcrt_threads_lock);
    for (gcrt_thread *t = gcrt_threads; t; t = t->next)
        if (atomic_load_relaxed(&t->wbn) && atomic_load_relaxed(&t->flush_seen) != asked) pending = true;
    pthread_mutex_unlock(&gcrt_threads_lock);
    /* Nothing buffered anywhere (common in short cycles): no round trip needed. */
    if (pending && now - asked_at < 2000000) return false;
    asked_at = 0;   /* the next completion asks again */
    return true;
}

/* The background marker. Go runs dedicated/fractional workers for 25% of the CPUs and idle
 * workers on CPUs nobody uses. The GC thread is the fractional worker: short slices at
 * normal priority, and sleeps that hold its share to 25% of the CPUs (at most one). The
 * idle worker (idlemark.c) runs at SCHED_IDLE and takes whatever CPU is left, so it never
 * delays a waking thread. */
#define FRACTIONAL_SLICE ((int64_t)128 << 10)   /* scan bytes, ~0.1-0.2 ms */
static void concurrent_mark(uint64_t *bg_cpu, uint64_t *idle_cpu) {
    gcrt_gcstate *g = &gcrt_gc;
    int ncpu = nprocs() < g->nmarkers ? nprocs() : g->nmarkers;
    double goal = 0.25 * ncpu;   /* CPUs */
    if (goal > 1) goal = 1;
    gcrt_idle_mark_start();
    uint64_t c0 = gcrt_thread_cpu_ns(), w0 = gcrt_now_ns(), starved_since = 0, tprev = c0;
    uint64_t unpaced = 0;   /* CPU of slices run flat out for waiting assists */
    gcrt_tl_run run = {0};
    for (unsigned nowork = 0;;) {
        gcrt_pacer_revise();

        bool waited_on = gcrt_assists_waiting();
        uint64_t s0 = gcrt_tl_now();
        int64_t did = gcrt_mark_some(FRACTIONAL_SLICE);
        gcrt_mark_credit(did);
        if (unlikely(s0)) {
            if (did) gcrt_tl_run_add(&run, GCRT_TL_MARK_FRAC, s0, (uint64_t)did);
            gcrt_tl_maybe_drain();
        }
        uint64_t now = gcrt_now_ns(), t1 = gcrt_thread_cpu_ns();
        uint64_t slice_cpu = t1 - tprev;
        gcrt_limiter_add(slice_cpu, 0);   /* the fractional worker's CPU is collector CPU */
        gcrt_limiter_update();
        tprev = t1;
        if (did == 0) {
            gcrt_tl_run_flush(&run, GCRT_TL_MARK_FRAC);
            if (gcrt_mark_work_done() && buffers_flushed()) break;
            /* Grey objects held elsewhere for 1 ms: if by a starved idle worker, raise it. */
            if (!starved_since) starved_since = now;
            else if (now - starved_since > 1000000) gcrt_idle_mark_boost_starved(1000000);
            struct timespec ts = {0, nowork++ < 16 ? 20000 : 200000};   /* others hold the work */
            nanosleep(&ts, NULL);
            continue;
        }
        nowork = 0;
        starved_since = 0;
        /* An assist waiting for the markers stands for a CPU the program gave up: mark on
         * it, as Go's idle worker would, and leave the slice out of the 25% share. */
        if (waited_on || gcrt_assists_waiting()) {
            unpaced += slice_cpu;
            continue;
        }
        /* CPU-time clocks are system calls, not vDSO reads: one per slice. Behind its share
         * it marks on, and a thread that wakes meanwhile preempts it as the kernel sees
         * fit. It used to yield after every slice: with every CPU busy a yield gives the
         * CPU away for a whole scheduler round, and a forced collection of a 64 MiB list
         * beside six CPU hogs took 1.7-2.2 s of wall time for 33 ms of marking (155-195 ms
         * without the yields); the soak's long marks at the heap goal looked the same. */
        uint64_t used = t1 - c0 - unpaced;
        if ((double)used > goal * (double)(now - w0)) {
            uint64_t ahead = (uint64_t)((double)used / goal) - (now - w0);
            struct timespec ts = {0, (long)(ahead < 2000000 ? ahead : 2000000)};
            gcrt_tl_run_flush(&run, GCRT_TL_MARK_FRAC);
            nanosleep(&ts, NULL);
        }
    }
    *idle_cpu = gcrt_idle_mark_stop();
    *bg_cpu = gcrt_thread_cpu_ns() - c0;
}

/* The state of the cycle in progress, shared by the thread that starts it and the GC
 * thread that finishes it (handed over under gc.lock). */
void (*gcrt_mark_end_hook)(void);
void (*gcrt_cycle_start_hook)(void);
void (*gcrt_stop_lock_hook)(void);
void (*gcrt_stop_unlock_hook)(void);
void (*gcrt_roots_hook)(gcrt_gcw *w);
void (*gcrt_mark_final_hook)(void);
static trace_info cur;
static uint64_t cur_stacks, cur_globals;

/* A pause on the timeline: its stop-the-world wait [start, stopped) nested at its start
 * (stopped 0: not recorded), then the pause itself. */
static void tl_pause(unsigned kind, uint64_t start, uint64_t stopped, uint64_t end) {
    if (stopped) gcrt_tl_record(GCRT_TL_STOP, start, stopped, 0, 0);
    gcrt_tl_record(kind, start, end, 0, 0);
}

static void cycle_end(uint64_t c0);
static bool mark_slice(gcrt_thread *me);
static bool cycle_terminate(bool may_restart);

static void touch_cb(uintptr_t lo, uintptr_t hi, void *arg) {
    (void)arg;
    gcrt_touch_range(lo, hi);
}

/* Just before pause 1, touch what it will scan: the static data and registered ranges
 * (prepared, roots_lock held), and each stack as far as the last scan found it in use
 * (under the registry lock, which a thread takes to unregister before its stack goes).
 * Static data is mostly pages the program seldom touches, and on this VM the first access
 * to such a page in a while costs the host 10 us or more: scanning it inside the pause
 * took 160-230 us of it, 10-56 us once touched just before. */
static void warm_roots(void) {
    gcrt_roots_each(touch_cb, NULL);
    gcrt_lock(&gcrt_threads_lock);
    for (gcrt_thread *t = gcrt_threads; t; t = t->next) {
        uintptr_t sp = t->snapshot_sp;
        if (sp >= t->stack_lo && sp < t->stack_hi) gcrt_touch_range(sp, t->stack_hi);
    }
    pthread_mutex_unlock(&gcrt_threads_lock);
}

/* Pause 1, run by the thread that claimed the cycle (Go starts a cycle in the allocating
 * goroutine too: no wake-up lag between the trigger and the snapshot). */
/* Pause 1 is over and marking has begun: threads waiting to start a cycle may go on. */
static void start_done(void) {
    gcrt_gcstate *g = &gcrt_gc;
    gcrt_lock(&g->lock);
    g->starting = 0;
    pthread_cond_broadcast(&g->begun);
    pthread_mutex_unlock(&g->lock);
}

static void cycle_begin(bool forced) {
    gcrt_gcstate *g = &gcrt_gc;
    bool stw = g->gcstoptheworld;
    memset(&cur, 0, sizeof cur);
    cur.forced = forced;
    gcrt_sweep_finish();   /* a cycle starts only when the last one is swept */
    gcrt_mprof_post_sweep();
    if (gcrt_cycle_start_hook) gcrt_cycle_start_hook();
    /* Nothing in a pause may take a libc lock (malloc, stdio, the loader): a stopped
     * thread may hold it. Roots and mark workers are prepared before stopping. */
    gcrt_mark_prepare();
    gcrt_roots_prepare();
    gcrt_meta_fault_ahead();   /* the pauses allocate work buffers */
    warm_roots();
    if (gcrt_stop_lock_hook) gcrt_stop_lock_hook();
    ucontext_t uc;   /* this thread's registers, where its own stack scan sees them */
    GCRT_CONTEXT_AT_CALL(&uc);
    gcrt_thread *me = gcrt_self;
    if (me) {
        me->stop_sp = (uintptr_t)&uc;
        me->nregs = 0;
    }
    cur.start = gcrt_now_ns();
    if (unlikely(gcrt_tl_on)) gcrt_tl_cycle_begin(g->started, cur.start);
    gcrt_stop_world();
    cur.stopped1 = gcrt_tl_now();
    uint64_t c0 = gcrt_thread_cpu_ns();
    gcrt_sweep_wait_idle();
    gcrt_sweep_gate_release();
    cur.heap0 = (uint64_t)atomic_load_relaxed(&gcrt_heap_live);
    gcrt_pacer_cycle_start(cur.heap0);
    flush_caches();
    for (gcrt_thread *t = gcrt_threads; t; t = t->next) t->wbn = 0, t->assist_debt = 0, t->snapshot_sp = t->stop_sp;
    gcrt_mark_begin();
    cur.goal = g->goal;
    if (!stw) {
        g->marking = 1;
        gc_write_barrier_on = 1;
    }
    gcrt_gcw w;
    gcrt_gcw_init(&w);
    scan_roots(&w, &cur_stacks);
    gcrt_roots_each(scan_root_cb, &w);
    gcrt_pool_cycle_start(scan_root_cb, &w);   /* victim rotation, then pools as roots */
    if (gcrt_roots_hook) gcrt_roots_hook(&w);
    cur_globals = w.scan_work - cur_stacks;
    gcrt_gcw_dispose(&w);
    int specials = gcrt_specials_begin();   /* final.c's root job holds work from here */
    if (stw) {   /* GODEBUG=gcstoptheworld=1: the whole mark in this pause */
        if (specials) gcrt_specials_markroot(NULL);
        gcrt_mark_workers(true);
        gcrt_mark_drain_all();
        gcrt_mark_workers(false);
        cur.markcpu = gcrt_thread_cpu_ns() - c0;
        cycle_end(c0);
        if (gcrt_stop_unlock_hook) gcrt_stop_unlock_hook();
        return;
    }
    cur.stw1cpu = gcrt_thread_cpu_ns() - c0;
    cur.stw1 = gcrt_now_ns() - cur.start;
    gcrt_start_world();
    if (gcrt_stop_unlock_hook) gcrt_stop_unlock_hook();
    if (unlikely(cur.stopped1)) tl_pause(GCRT_TL_STW1, cur.start, cur.stopped1, cur.start + cur.stw1);
    gcrt_roots_done();
    start_done();
    /* A small heap is often marked in less time than waking the GC thread takes, and what
     * is allocated meanwhile is black: mark one bounded slice here first, and if that was
     * all, terminate the mark from here too. */
    if (!specials && mark_slice(me)) {
        cycle_terminate(false);   /* a small heap: what is left is little */
        return;
    }
    /* The root job: one that only ORs pin bitmaps is run before the handoff (run beside the
     * GC thread, even a trivial one made cycles measurably slower); one that walks records
     * while the GC thread marks. */
    if (specials == GCRT_SPECIALS_QUICK) gcrt_specials_markroot(me);
    gcrt_lock(&g->lock);   /* hand the mark over to the GC thread */
    g->handoff = 1;
    pthread_cond_signal(&g->request);
    pthread_mutex_unlock(&g->lock);
    if (specials == GCRT_SPECIALS_WALK) gcrt_specials_markroot(me);
}

#define START_SLICE ((int64_t)512 << 10)   /* scan bytes the starting thread marks */
#define START_SECTION ((int64_t)32 << 10)  /* per critical section: a stop waits one out */
/* A cycle whose expected scan work (last cycle's marked bytes, stacks, globals) is at most
 * this, and whose heap is at most four times this, is marked to the end by the starting
 * thread: a millisecond or two, less than what waking the GC thread and the idle worker
 * and the ragged barrier flush add to it. */
#define SMALL_CYCLE ((uint64_t)2 << 20)
static bool mark_slice(gcrt_thread *me) {
    gcrt_gcstate *g = &gcrt_gc;
    uint64_t c0 = gcrt_thread_cpu_ns();
    /* The heap at the trigger bounds it too: the first cycle has no marked size yet. */
    bool small = g->heap_marked + g->stacks_bytes + g->globals_bytes <= SMALL_CYCLE && cur.heap0 <= 4 * SMALL_CYCLE,
         dry;
    uint64_t s0 = gcrt_tl_now();
    int64_t did = gcrt_mark_sections(me, small ? INT64_MAX : START_SLICE, START_SECTION, &dry);
    gcrt_tl_end(GCRT_TL_MARK_START, s0, (uint64_t)did, 0);
    cur.assistcpu_start = gcrt_thread_cpu_ns() - c0;
    return dry && gcrt_mark_work_done();
}

/* Concurrent mark and pause 2, on the GC thread. */
#define TERM_RESTARTS 4
static void cycle_mark(void) {
    for (unsigned restarts = 0;; restarts++) {
        uint64_t bg, idle;
        concurrent_mark(&bg, &idle);
        cur.markcpu += bg;
        cur.idlecpu += idle;
        if (cycle_terminate(restarts < TERM_RESTARTS && !gcrt_gc.gccheckmark)) return;
    }
}

/* Pause 2: from the GC thread, or from the starting thread when one slice sufficed.
 * The barrier buffers flushed here can hold the only path to much of the heap (a pointer
 * deleted from the one object that led to a long list). Go's gcMarkDone: if what they
 * grey is more than a short slice marks, the world restarts and marking goes on
 * concurrently (returns false); after a few such restarts the pause drains it all. */
#define TERM_SLICE ((int64_t)64 << 10)   /* scan bytes, ~0.1 ms */
static bool cycle_terminate(bool may_restart) {
    gcrt_gcstate *g = &gcrt_gc;
    if (g->gccheckmark) gcrt_roots_prepare();
    if (gcrt_stop_lock_hook) gcrt_stop_lock_hook();
    cur.tterm = gcrt_now_ns();
    gcrt_stop_world();
    cur.stopped2 = gcrt_tl_now();
    uint64_t c0 = gcrt_thread_cpu_ns();
    for (gcrt_thread *t = gcrt_threads; t; t = t->next) gcrt_wbuf_flush(t);
    if (may_restart && !gcrt_mark_work_done()) {
        gcrt_mark_some(TERM_SLICE);
        if (!gcrt_mark_work_done()) {
            uint64_t d = gcrt_now_ns() - cur.tterm;
            cur.stw_aborted += d;
            if (d > cur.stw_aborted_max) cur.stw_aborted_max = d;
            gcrt_start_world();
            if (gcrt_stop_unlock_hook) gcrt_stop_unlock_hook();
            if (unlikely(cur.stopped2)) {
                tl_pause(GCRT_TL_STW2_RESTART, cur.tterm, cur.stopped2, cur.tterm + d);
                gcrt_tl_record(GCRT_TL_G_STW2_RESTART, cur.tterm, cur.tterm + d, 0, 0);
            }
            return false;
        }
    }
    gcrt_mark_workers(true);
    gcrt_mark_drain_all();
    gcrt_mark_workers(false);
    cycle_end(c0);
    if (gcrt_stop_unlock_hook) gcrt_stop_unlock_hook();
    return true;
}

/* Mark termination, world stopped; starts the world. */
static void cycle_end(uint64_t c0) {
    gcrt_gcstate *g = &gcrt_gc;
    bool stw = g->gcstoptheworld;
    trace_info ti = cur;
    gcrt_mark_recover_overflow();
    ti.heap1 = (uint64_t)atomic_load_relaxed(&gcrt_heap_live);
    flush_caches();   /* while marking is on: what caches handed out becomes black */
    /* compat/ (bdwgc): disappearing links see the final marks; then unordered finalizers
     * resurrect what they need, which is marked here, still in the pause. */
    if (gcrt_mark_end_hook) gcrt_mark_end_hook();
    if (gcrt_specials_unordered()) {
        gcrt_mark_workers(true);
        gcrt_mark_drain_all();
        gcrt_mark_workers(false);
        gcrt_mark_recover_overflow();
    }
    if (gcrt_mark_final_hook) gcrt_mark_final_hook();
    gcrt_mark_phase_end();
    if (g->gccheckmark) gcrt_checkmark();
    if (g->gcverify) gcrt_verify_marks();
    ti.marked = gcrt_mark_bytes();
    ti.assistcpu = gcrt_mark_assist_cpu() + ti.assistcpu_start;
    ti.stw2cpu_helpers = gcrt_mark_worker_cpu();
    atomic_store_relaxed(&gcrt_heap_live, (int64_t)ti.marked);
    g->stacks_bytes = cur_stacks;
    g->globals_bytes = cur_globals;
    gcrt_pacer_cycle_end(ti.marked, ti.heap1, stw ? 0 : ti.tterm - ti.start, ti.markcpu, ti.assistcpu, ti.idlecpu);
    gcrt_sweep_wait_idle();
    gcrt_sweep_start(ti.marked, g->trigger);   /* flip: every span is now unswept */
    gcrt_mprof_next_cycle();
    uint64_t stw2cpu = gcrt_thread_cpu_ns() - c0;
    /* A pause ends when the wake-up is issued: the scheduler may run the woken threads
     * before this one, which is not time the program was stopped. */
    uint64_t tend = gcrt_now_ns();
    gcrt_start_world();
    if (stw || g->gccheckmark) gcrt_roots_done();

    uint64_t pause1 = stw ? tend - ti.start : ti.stw1, pause2 = stw ? 0 : tend - ti.tterm;
    ti.stw1 = pause1;
    ti.mark = stw ? 0 : ti.tterm - ti.start - pause1;
    ti.stw2 = pause2;
    ti.stw2cpu = stw ? 0 : stw2cpu;
    ti.procs = g->nmarkers;
    gcrt_stats *st = &gcrt_stats_;
    /* The world runs again, and gc_read_memstats takes the stats lock with it stopped: a
     * registered thread ending a small cycle (cycle_begin) holds the lock only inside a
     * critical section, which a stop waits out. Stopped holding it, it deadlocked the
     * stopper and with it every thread (issue 17: kvcache's flood, t_stop_during_cycle_end). */
    gcrt_thread *me = gcrt_self;
    if (me) gcrt_enter(me);
    gcrt_lock(&st->lock);
    uint64_t stopped = pause1 + pause2 + ti.stw_aborted;   /* the cycle's stops, aborted ones too */
    st->pause_ns[st->num_gc % 256] = stopped;
    st->pause_end[st->num_gc % 256] = wall_ns();
    st->pause_total_ns += stopped;
    uint64_t longest = pause1 > pause2 ? pause1 : pause2;
    if (ti.stw_aborted_max > longest) longest = ti.stw_aborted_max;
    if (longest > st->max_pause_ns) st->max_pause_ns = longest;
    st->num_gc++;
    if (ti.forced) st->num_forced_gc++;
    st->last_gc_ns = wall_ns();
    st->gc_cpu_ns += ti.markcpu + ti.idlecpu + ti.assistcpu + ti.stw1cpu + ti.stw2cpu + ti.stw2cpu_helpers;
    ti.n = st->num_gc;
    uint64_t elapsed = gcrt_now_ns() - st->start_ns;
    ti.util = elapsed ? (int)(st->gc_cpu_ns * 100 / (elapsed * (uint64_t)nprocs())) : 0;
    pthread_mutex_unlock(&st->lock);
    if (me) gcrt_leave(me);
    if (unlikely(gcrt_tl_on)) {
        if (stw) tl_pause(GCRT_TL_STW1, ti.start, ti.stopped1, tend);
        else tl_pause(GCRT_TL_STW2, ti.tterm, ti.stopped2, tend);
        gcrt_tl_cycle c = {.n = ti.n, .stw = stw, .forced = ti.forced, .start = ti.start, .stw1_end = ti.start + pause1,
                           .tterm = stw ? tend : ti.tterm, .tend = tend, .heap0 = ti.heap0, .heap1 = ti.heap1,
                           .marked = ti.marked, .goal0 = ti.goal, .goal1 = g->goal};
        gcrt_tl_cycle_end(&c);
    }
    gcrt_bgsweep_wake();
    gcrt_mprof_flush();   /* the heap profile of the cycle before (mprof.c) */
    if (g->gctrace) print_trace(&ti);
    gcrt_limiter_add(stopped * (uint64_t)nprocs(), 0);
    gcrt_scavenger_cycle_end();
    gcrt_grow_start();
    gcrt_lock(&g->lock);
    g->running = 0;
    g->starting = 0;   /* gcstoptheworld: the whole cycle was its start */
    pthread_cond_broadcast(&g->begun);
    gcrt_pacer_update();   /* with settings changed during the cycle; publishes the trigger */
    g->finished++;
    pthread_cond_broadcast(&g->done);
    pthread_mutex_unlock(&g->lock);
}

static void *gc_thread_main(void *arg) {
    (void)arg;
    gcrt_gcstate *g = &gcrt_gc;
    gcrt_tl_role(GCRT_ROLE_GC);
    for (;;) {
        gcrt_lock(&g->lock);
        while (!g->handoff) pthread_cond_wait(&g->request, &g->lock);
        g->handoff = 0;
        pthread_mutex_unlock(&g->lock);
        cycle_mark();
    }
    return NULL;
}

static int thread_started;   /* the GC thread exists (not in a forked child) */

void gcrt_cycle_fork_child(void) {
    thread_started = 0;
    gcrt_gc.handoff = 0;
    pthread_mutex_init(&gcrt_gc.lock, NULL);
    pthread_cond_init(&gcrt_gc.request, NULL);
    pthread_cond_init(&gcrt_gc.done, NULL);
    pthread_cond_init(&gcrt_gc.begun, NULL);
}

/* Claim the next cycle for the caller, under gc.lock: false if one is running. */
static bool claim_locked(bool forced) {
    gcrt_gcstate *g = &gcrt_gc;
    if (g->running) return false;
    if (!thread_started && !g->gcstoptheworld) {
        if (!gcrt_spawn_detached(gc_thread_main, NULL, "gcrt-gc")) gcrt_fatal("cannot start the GC thread");
        thread_started = 1;
    }
    g->running = 1;
    g->started++;
    g->starting = 1;
    g->start_trigger = atomic_load_relaxed(&g->trigger);
    atomic_store_relaxed(&g->trigger, UINT64_MAX);   /* no more triggers while running */
    return true;
}

void gcrt_collect(bool forced) {
    gcrt_gcstate *g = &gcrt_gc;
    gcrt_thread *me = gcrt_self;
    if (me && me->in_gcrt) gcrt_fatal("internal error: collection requested inside a critical section");
    gcrt_lock(&g->lock);
    /* A cycle already past its snapshot may miss what the caller just dropped: wait for
     * one that starts after this call. */
    uint32_t want = g->started + 1;
    while ((int32_t)(g->finished - want) < 0) {
        if ((int32_t)(g->started - want) < 0 && claim_locked(forced)) {
            pthread_mutex_unlock(&g->lock);
            cycle_begin(forced);
            gcrt_lock(&g->lock);
        } else {
            pthread_cond_wait(&g->done, &g->lock);
        }
    }
    pthread_mutex_unlock(&g->lock);
    gcrt_sweep_finish();
    gcrt_mprof_post_sweep();   /* runtime.GC publishes the heap profile of this cycle */
}

/* Go's gcStart with work.startSema and gcsema: a thread past the trigger while a cycle is
 * starting (the sweep being finished, roots prepared, the world stopped) or while the last
 * one is finishing (its trigger is published at mark termination) waits until marking has
 * begun, then pays assists. It used to allocate on, unpaced: four threads allocating
 * pointer-free garbage took the heap from a 94 MB trigger to 106-109 MB, past the 100 MB
 * goal, before the first pause (t_assist_wait). While marking, assists pace allocation. */
void gcrt_gc_maybe_start(void) {
    gcrt_gcstate *g = &gcrt_gc;
    if (atomic_load_relaxed(&g->trigger) == UINT64_MAX && !g->starting) return;
    gcrt_lock(&g->lock);
    bool mine = false;
    for (;;) {
        uint64_t live = (uint64_t)atomic_load_relaxed(&gcrt_heap_live);
        if (g->starting) {
            if (live < g->start_trigger) break;
            pthread_cond_wait(&g->begun, &g->lock);
        } else if (live < atomic_load_relaxed(&g->trigger) || g->marking) {
            break;
        } else if (!g->running) {
            mine = claim_locked(false);
            break;
        } else {
            pthread_cond_wait(&g->done, &g->lock);   /* the last cycle's tail */
        }
    }
    pthread_mutex_unlock(&g->lock);
    if (mine) cycle_begin(false);
}

GCRT_API void gc_collect(void) {
    gcrt_ensure_init();
    gcrt_collect(true);
}

GCRT_API void gc_free_os_memory(void) {
    gc_collect();
    gcrt_scavenge_forced();
}

GCRT_API void gc_keep_alive(const void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

/* The barrier for every pointer-sized word overwritten, then the move, in one critical
 * section: like GC_STORE's flag test and store, the two must not straddle a pause. */
GCRT_API void gc_memmove(void *dst, const void *src, size_t n) {
    gcrt_thread *t = gcrt_self;
    if (t) gcrt_enter(t);
    if (gc_write_barrier_on && n) {
        uintptr_t lo = round_up((uintptr_t)dst, sizeof(void *)), hi = ((uintptr_t)dst + n) & ~(uintptr_t)7;
        for (uintptr_t p = lo; p < hi; p += sizeof(void *)) {
            uintptr_t v = *(uintptr_t *)p;
            if (v - gcrt_heap_.arena_lo < gcrt_heap_.arena_hi - gcrt_heap_.arena_lo) gc_write_barrier_slow((void *)v);
        }
    }
    memmove(dst, src, n);
    if (t) gcrt_leave(t);
}
