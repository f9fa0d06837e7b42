/*
 * scavenge.c: returning free heap pages to the OS (Go's mgcscavenge), and GODEBUG=scavtrace.
 *
 * Retained memory is held to two targets, recomputed at every mark termination and limit
 * change (Go's gcPaceScavenger):
 *   GOGC target:  retained (heap_sys - heap_released) <= 1.10 * goal/last_goal * heap_inuse at
 *                 the end of the last cycle; off before the second cycle and with GOGC=off;
 *   limit target: mapped (retained + metadata) <= 95% of GOMEMLIMIT.
 * The background scavenger runs while either is exceeded, releasing 256 KiB at a time and
 * sleeping 99 times as long as each release took: about 1% of one CPU (Go's
 * scavengePercent). It also releases pages that have sat free for 5 s, which keeps an idle
 * program's footprint down when neither target asks for it.
 * With the heap in huge pages (alloc/os.c), GOGC-target and idle releases take whole 2 MiB
 * pages only (alloc/heap.c says why); the limit's may break them up.
 * Over the limit itself, the allocating thread releases the excess before its allocation
 * returns (gcrt_scavenge_for_limit: the page heap notes the debt, the slow path pays it
 * outside the critical section), unless the CPU limiter is on: then the limit gives way
 * rather than the program.
 *
 * Invariants: the scavenger thread is unregistered and never stopped; it takes heap.lock
 * only inside gcrt_heap_scavenge, and gc.lock only through gcrt_pacer_recommit. Registered
 * threads take heap.lock here only inside a critical section. Counters for scavtrace are
 * atomics read and reset by the line's printer.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <signal.h>
#include <stdio.h>
#include <time.h>

#define SCAV_CHUNK ((size_t)256 << 10)
#define SCAV_IDLE_NS (5ull * 1000000000)
#define SCAV_PERCENT 1
#define RETAIN_EXTRA_PERCENT 10
#define REDUCE_EXTRA_PERCENT 5

static uint64_t gogc_target;        /* retained bytes; 0: off */
static uint64_t limit_target = UINT64_MAX;
static uint64_t bg_released, eager_released;   /* since the last scavtrace line (atomic) */

static pthread_mutex_t scav_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t scav_cond = PTHREAD_COND_INITIALIZER;
static int scav_started, scav_kick;

uint64_t gcrt_mapped_bytes(void) {
    gcrt_heap *h = &gcrt_heap_;
    uint64_t sys = atomic_load_relaxed(&h->heap_sys), rel = atomic_load_relaxed(&h->heap_released);
    return (sys > rel ? sys - rel : 0) + atomic_load_relaxed(&gcrt_meta_sys);
}

static uint64_t retained_bytes(void) {
    gcrt_heap *h = &gcrt_heap_;
    uint64_t sys = atomic_load_relaxed(&h->heap_sys), rel = atomic_load_relaxed(&h->heap_released);
    return sys > rel ? sys - rel : 0;
}

/* Bytes the background scavenger should release now; *limit: for the memory limit, which
 * may break huge pages up (the GOGC target may not: see heap.c). */
static uint64_t scav_need(bool *limit) {
    uint64_t need = 0, gt = atomic_load_relaxed(&gogc_target), lt = atomic_load_relaxed(&limit_target);
    uint64_t retained = retained_bytes();
    if (gt && retained > gt + GCRT_PAGE_SIZE) need = retained - gt;
    uint64_t mapped = gcrt_mapped_bytes();
    *limit = mapped > lt && mapped - lt > need;
    if (*limit) need = mapped - lt;
    return need;
}

/* heap.lock is taken by a registered thread only inside a critical section, so that a
 * stop-the-world never finds it held by a stopped thread. */
static size_t scavenge(size_t want, uint64_t idle_ns, bool huge, bool *in_flight) {
    gcrt_thread *t = gcrt_self;
    if (t) gcrt_enter(t);
    size_t n = gcrt_heap_scavenge(want, idle_ns, huge && gcrt_os_thp(), in_flight);
    if (t) gcrt_leave(t);
    return n;
}

bool gcrt_scavenger_room(uint64_t bytes) {
    uint64_t gt = atomic_load_relaxed(&gogc_target), lt = atomic_load_relaxed(&limit_target);
    if (gt && retained_bytes() + bytes > gt) return false;
    return lt == UINT64_MAX || gcrt_mapped_bytes() + bytes <= lt;
}

static void set_limit_target(void) {
    int64_t lim = atomic_load_relaxed(&gcrt_gc.memory_limit);
    uint64_t t = UINT64_MAX;
    if (lim != INT64_MAX) t = (lim < 0 ? 0 : (uint64_t)lim) / 100 * (100 - REDUCE_EXTRA_PERCENT);
    atomic_store_relaxed(&limit_target, t);
}

static void sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

static void *scavenger_main(void *arg) {
    (void)arg;
    gcrt_tl_role(GCRT_ROLE_SCAV);
    for (;;) {
        bool limited = atomic_load_relaxed(&gcrt_gc.memory_limit) != INT64_MAX;
        gcrt_lock(&scav_lock);
        if (!scav_kick) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            /* With a limit, look more often: the limit goal moves with non-heap memory. */
            long step = limited ? 20000000 : 1000000000;
            ts.tv_nsec += step;
            if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
            pthread_cond_timedwait(&scav_cond, &scav_lock, &ts);
        }
        scav_kick = 0;
        pthread_mutex_unlock(&scav_lock);
        if (limited) gcrt_pacer_recommit();
        bool limit;
        for (uint64_t need = scav_need(&limit); need;) {
            uint64_t t0 = gcrt_thread_cpu_ns(), s0 = gcrt_tl_now();
            size_t n = scavenge(need < SCAV_CHUNK ? need : SCAV_CHUNK, 0, !limit, NULL);
            uint64_t dt = gcrt_thread_cpu_ns() - t0;
            if (!n) break;
            gcrt_tl_end(GCRT_TL_SCAV, s0, n, 1);
            atomic_add(&bg_released, n);
            sleep_ns(dt * (100 - SCAV_PERCENT) / SCAV_PERCENT);
            need = scav_need(&limit);
        }
        for (;;) {   /* long-idle pages, at the same pace */
            uint64_t t0 = gcrt_thread_cpu_ns(), s0 = gcrt_tl_now();
            size_t n = scavenge(SCAV_CHUNK, SCAV_IDLE_NS, true, NULL);
            uint64_t dt = gcrt_thread_cpu_ns() - t0;
            if (!n) break;
            gcrt_tl_end(GCRT_TL_SCAV, s0, n, 1);
            atomic_add(&bg_released, n);
            sleep_ns(dt * (100 - SCAV_PERCENT) / SCAV_PERCENT);
        }
    }
    return NULL;
}

static void scavenger_wake(void) {
    gcrt_lock(&scav_lock);
    if (!scav_started) scav_started = gcrt_spawn_detached(scavenger_main, NULL, "gcrt-scavenge");
    scav_kick = 1;
    pthread_cond_signal(&scav_cond);
    pthread_mutex_unlock(&scav_lock);
}

/* Go's scavtrace line: background and eager work since the last line, released now, and
 * the share of retained heap that is in use. */
static void print_scavtrace(bool forced) {
    gcrt_heap *h = &gcrt_heap_;
    uint64_t bg = __atomic_exchange_n(&bg_released, 0, __ATOMIC_RELAXED);
    uint64_t eager = __atomic_exchange_n(&eager_released, 0, __ATOMIC_RELAXED);
    gcrt_thread *t = gcrt_self;
    if (t) gcrt_enter(t);
    gcrt_lock(&h->lock);
    uint64_t inuse = h->heap_inuse, free = h->heap_free, rel = h->heap_released;
    pthread_mutex_unlock(&h->lock);
    if (t) gcrt_leave(t);   /* stdio outside the section: a stopped thread may hold its lock */
    uint64_t util = inuse + free ? inuse * 100 / (inuse + free) : 0;
    fprintf(stderr, "scav %llu KiB work (bg), %llu KiB work (eager), %llu KiB now, %llu%% util%s\n",
            (unsigned long long)(bg >> 10), (unsigned long long)(eager >> 10), (unsigned long long)(rel >> 10),
            (unsigned long long)util, forced ? " (forced)" : "");
}

void gcrt_scavenger_cycle_end(void) {
    uint64_t goal = gcrt_gc.goal, last = gcrt_pacer_last_goal();
    uint64_t t = 0;
    if (goal != UINT64_MAX && last && last != UINT64_MAX && gcrt_stats_.num_gc >= 2) {
        double r = (double)goal / (double)last * (double)atomic_load_relaxed(&gcrt_heap_.heap_inuse);
        t = round_up((uint64_t)(r * (100 + RETAIN_EXTRA_PERCENT) / 100), GCRT_PAGE_SIZE);
    }
    atomic_store_relaxed(&gogc_target, t);
    set_limit_target();
    if (gcrt_gc.scavtrace) print_scavtrace(false);
    bool limit;
    if (scav_need(&limit) || atomic_load_relaxed(&gcrt_heap_.heap_free) || atomic_load_relaxed(&gcrt_gc.memory_limit) != INT64_MAX)
        scavenger_wake();
}

void gcrt_scavenger_limit_changed(void) {
    set_limit_target();
    gcrt_scavenge_for_limit();
    scavenger_wake();
}

/* Over the limit, the allocating thread releases the excess, but never inside a critical
 * section: a stop waits for a thread in one, and releasing tens of MiB is hundreds of madvise
 * calls, each slow on a loaded machine. In the 600 s soak beside other work (load 15), a
 * housekeeping gc_read_memstats stopped the world while a worker released for the limit
 * from inside the page heap: the stopped worker and the stopper waited for it, and a PING
 * went unanswered for over a second. So inside a section the release is owed
 * (t->scav_owed) and the allocation's slow path pays it after the section ends
 * (gcrt_scavenge_owed), SCAV_CHUNK at a time, each chunk a section of its own, so that a
 * stop waits for one chunk at most. */
void gcrt_scavenge_for_limit(void) {
    int64_t lim = atomic_load_relaxed(&gcrt_gc.memory_limit);
    if (likely(lim == INT64_MAX)) return;
    uint64_t l = lim < 0 ? 0 : (uint64_t)lim;
    if (gcrt_mapped_bytes() <= l || gcrt_limiter_on()) return;
    gcrt_thread *t = gcrt_self;
    if (t && t->in_gcrt) {
        t->scav_owed = 1;
        return;
    }
    uint64_t t0 = gcrt_thread_cpu_ns(), s0 = gcrt_tl_now();
    size_t n = 0;
    for (uint64_t mapped; (mapped = gcrt_mapped_bytes()) > l && !gcrt_limiter_on();) {
        size_t got = scavenge(mapped - l < SCAV_CHUNK ? mapped - l : SCAV_CHUNK, 0, false, NULL);
        if (!got) break;
        n += got;
    }
    gcrt_limiter_add(gcrt_thread_cpu_ns() - t0, 0);   /* a scavenge assist, for the limiter */
    if (n) gcrt_tl_end(GCRT_TL_SCAV_LIMIT, s0, n, 0);
    atomic_add(&eager_released, n);
}

void gcrt_scavenge_owed(gcrt_thread *t) {
    t->scav_owed = 0;
    gcrt_scavenge_for_limit();
}

/* gc_free_os_memory must leave no free page resident when it returns, so it also waits out
 * the runs others hold with heap.lock dropped: a grow being committed and faulted in
 * (counted free, in no bin yet) and a run the background scavenger is releasing (out of the
 * bins). Either was missed, and t_scavenge_race saw 4 MiB (a grower's chunk) left idle.
 * Whether any was out is read where the scan ends, under heap.lock (read after it, a run
 * back meanwhile went unscanned); the waits are outside the critical section, so that no
 * stop waits with them. */
#define RELEASE_WAIT_NS 100000
#define RELEASE_WAIT_MAX 2000   /* 200 ms: then what is still in flight stays idle */
void gcrt_scavenge_forced(void) {
    uint64_t s0 = gcrt_tl_now();
    gcrt_heap_release_begin();
    bool in_flight;
    size_t n = scavenge(0, 0, false, &in_flight);
    for (unsigned w = 0; in_flight && w < RELEASE_WAIT_MAX; w++) {
        struct timespec ts = {0, RELEASE_WAIT_NS};
        nanosleep(&ts, NULL);
        n += scavenge(0, 0, false, &in_flight);
    }
    atomic_add(&eager_released, n);
    gcrt_tl_end(GCRT_TL_SCAV_FORCED, s0, n, 0);
    if (gcrt_gc.scavtrace) print_scavtrace(true);
}

/* Fork: the scavenger holds scav_lock only around its sleep (heap.lock, taken by fork.c,
 * covers its work); the child has none until the next wake. */
void gcrt_scavenger_fork(int phase) {
    gcrt_fork_mutex(&scav_lock, phase);
    if (phase == GCRT_FORK_CHILD) {
        pthread_cond_init(&scav_cond, NULL);
        scav_started = 0;
    }
}
