/*
 * pacer.c: when the next cycle starts and how hard allocation pays for marking (Go 1.21's
 * gcControllerState: heap goal, trigger, cons/mark, assist ratio, the memory limit).
 *
 * The arithmetic is a pure function of its inputs, so t_pacer_sim can drive it with
 * synthetic cycles: gcrt_pacer_measure folds one finished cycle into the state (cons/mark),
 * gcrt_pacer_commit turns the state plus the current settings and heap figures into goal and
 * trigger, gcrt_pacer_assist_ratio gives the scan work owed per byte allocated mid-cycle.
 * The rest of this file reads the live heap into those inputs and publishes the outputs.
 *
 *   GOGC goal   = marked + (marked + stacks + globals) * GOGC/100, at least 4 MiB * GOGC/100
 *   limit goal  = limit - (mapped - heap_free - heap_inuse) - overage, less 3% (>= 1 MiB)
 *                 headroom, never below marked (Go's memoryLimitHeapGoal)
 *   goal        = min(GOGC goal, limit goal)
 *   runway      = cons/mark * (1 - 0.25)/0.25 * last cycle's scan work
 *   trigger     = goal - runway, clamped to marked + [45/64, 61/64] of (goal - marked), at
 *                 most goal - 4 MiB when that is higher than 61/64, at least 64 KiB below goal
 * cons/mark is the largest of the last five measured values (Go 1.21: errs towards starting
 * early). The stop-the-world collector (GODEBUG=gcstoptheworld=1) triggers at the goal.
 *
 * Invariants: goal and trigger published in gcrt_gc are written at mark termination (world
 * stopped) or under gc.lock; a commit under gc.lock while a cycle runs moves the goal but
 * never replaces the running cycle's UINT64_MAX trigger (mark termination sets the next
 * one). A setter stopped mid-commit by mark termination may leave a stale goal, which the
 * commit at the end of every cycle (under gc.lock) replaces.
 */
#include "internal.h"

#define MiB ((uint64_t)1 << 20)
#define HEAP_MINIMUM (4 * MiB)    /* Go's defaultHeapMinimum */
#define MIN_RUNWAY ((uint64_t)64 << 10)
#define UTIL_GOAL 0.25            /* background mark utilisation the runway assumes */

static uint64_t sat_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

void gcrt_pacer_measure(gcrt_pacer *p, const gcrt_pacer_cycle *c) {
    p->last_scan = c->scan_work;
    p->cycles++;
    /* Too short to measure (nothing allocated since the trigger): keep the estimate. */
    if (c->heap_live_end <= c->triggered || !c->mark_ns || !c->scan_work || c->procs < 1) return;
    double total = (double)c->mark_ns * c->procs;
    double u = (double)(c->bg_cpu_ns + c->assist_cpu_ns) / total;
    double u_idle = (double)c->idle_cpu_ns / total;
    if (u < 0.01) u = 0.01;
    if (u > 0.99) u = 0.99;
    double cm = (double)(c->heap_live_end - c->triggered) * (u + u_idle) / ((double)c->scan_work * (1 - u));
    double mx = cm;
    for (unsigned i = 0; i < p->nhist; i++)
        if (p->hist[i] > mx) mx = p->hist[i];
    p->cons_mark = mx;
    for (unsigned i = GCRT_PACER_HIST - 1; i > 0; i--) p->hist[i] = p->hist[i - 1];
    p->hist[0] = cm;
    if (p->nhist < GCRT_PACER_HIST) p->nhist++;
}

/* Go's memoryLimitHeapGoal. */
static uint64_t limit_goal(const gcrt_pacer_in *in) {
    if (in->memory_limit == INT64_MAX) return UINT64_MAX;
    uint64_t limit = in->memory_limit < 0 ? 0 : (uint64_t)in->memory_limit;
    /* Unswept garbage and free slots in in-use spans become reusable heap, as Go's heapAlloc
     * counts dead objects until they are swept: only metadata and the like are non-heap. */
    uint64_t non_heap = sat_sub(in->mapped, in->heap_free + in->heap_inuse);
    uint64_t overage = sat_sub(in->mapped, limit);
    if (non_heap + overage >= limit) return in->heap_marked;
    uint64_t goal = limit - (non_heap + overage);
    uint64_t headroom = goal / 100 * 3;
    if (headroom < MiB) headroom = MiB;
    goal = goal < 2 * headroom ? headroom : goal - headroom;
    return goal > in->heap_marked ? goal : in->heap_marked;
}

void gcrt_pacer_commit(gcrt_pacer *p, const gcrt_pacer_in *in) {
    uint64_t marked = in->heap_marked;
    uint64_t gogc = UINT64_MAX;
    if (in->percent >= 0) {
        gogc = marked + (marked + in->stacks + in->globals) * (uint64_t)in->percent / 100;
        uint64_t min = HEAP_MINIMUM * (uint64_t)in->percent / 100;
        if (gogc < min) gogc = min;
    }
    uint64_t lim = limit_goal(in);
    p->gogc_goal = gogc;
    p->limit_goal = lim;
    p->limited = lim < gogc;
    uint64_t goal = p->limited ? lim : gogc;
    p->goal = goal;
    uint64_t expected = p->cycles ? p->last_scan : marked + in->stacks + in->globals;
    double runway = p->cons_mark * (1 - UTIL_GOAL) / UTIL_GOAL * (double)expected;
    p->runway = runway > 1.8e19 ? UINT64_MAX : (uint64_t)runway;
    if (goal == UINT64_MAX) {
        p->trigger = UINT64_MAX;
        return;
    }
    if (in->stw || marked >= goal) {
        p->trigger = goal;
        return;
    }
    uint64_t dist = goal - marked;
    uint64_t lo = marked + dist / 64 * 45;
    uint64_t hi = marked + dist / 64 * 61;
    if (goal > HEAP_MINIMUM && goal - HEAP_MINIMUM > hi) hi = goal - HEAP_MINIMUM;
    if (hi < lo) hi = lo;
    uint64_t t = p->runway >= goal ? lo : goal - p->runway;
    if (t < lo) t = lo;
    if (t > hi) t = hi;
    if (goal - t < MIN_RUNWAY) t = goal > MIN_RUNWAY ? goal - MIN_RUNWAY : 0;
    if (t < marked && goal > marked) t = marked;
    p->trigger = t;
}

/* Go's revise: scan work owed per byte allocated, from the work left and the heap left. */
double gcrt_pacer_assist_ratio(const gcrt_pacer *p, const gcrt_pacer_in *in, uint64_t triggered, uint64_t work_done) {
    int pct = in->percent < 0 ? 100000 : in->percent;
    uint64_t goal = p->goal == UINT64_MAX ? p->gogc_goal : p->goal;
    if (goal == UINT64_MAX) goal = in->heap_live + 64 * MiB;   /* forced cycle with GC off */
    if (goal < triggered + MIN_RUNWAY) goal = triggered + MIN_RUNWAY;
    uint64_t expected = p->cycles ? p->last_scan : in->heap_marked + in->stacks + in->globals;
    /* Before any cycle was measured, assume all that was allocated before the trigger is
     * live: the first cycle must not take a near-empty heap's scan work as its estimate. */
    if (!p->cycles && expected < triggered) expected = triggered;
    if (expected == 0) expected = 1;
    uint64_t max_work = in->heap_live + in->stacks + in->globals;
    if (work_done > expected) {   /* the heap grew: extrapolate to everything being live */
        double g = (double)triggered + (double)(goal - triggered) / (double)expected * (double)max_work;
        /* Go's hard goal: no more than the next cycle's goal; under a memory limit, the
         * limit's goal itself. */
        double hard = p->limited ? (double)goal : (1 + pct / 100.0) * (double)goal;
        goal = (uint64_t)(g < hard ? g : hard);
        expected = max_work > work_done ? max_work : work_done;
    }
    if (in->heap_live > goal) {
        goal += goal / 10;
        expected = max_work > work_done ? max_work : work_done;
    }
    double work = expected > work_done + 1000 ? (double)(expected - work_done) : 1000.0;
    double heap = goal > in->heap_live + 1 ? (double)(goal - in->heap_live) : 1.0;
    return work / heap;
}

/* ---- The live pacer ------------------------------------------------------------------ */

static GCRT_STATE gcrt_pacer P;
static uint64_t cycle_triggered;   /* heap_live when the running cycle started */

static void read_inputs(gcrt_pacer_in *in) {
    gcrt_gcstate *g = &gcrt_gc;
    in->percent = atomic_load_relaxed(&g->percent);
    in->memory_limit = atomic_load_relaxed(&g->memory_limit);
    in->heap_marked = g->heap_marked;
    in->stacks = g->stacks_bytes;
    in->globals = g->globals_bytes;
    int64_t live = atomic_load_relaxed(&gcrt_heap_live);
    in->heap_live = live > 0 ? (uint64_t)live : 0;
    in->mapped = gcrt_mapped_bytes();
    in->heap_free = atomic_load_relaxed(&gcrt_heap_.heap_free);
    in->heap_inuse = atomic_load_relaxed(&gcrt_heap_.heap_inuse);
    in->stw = g->gcstoptheworld;
}

/* A running cycle keeps its UINT64_MAX trigger (no second start); its goal still moves. */
static void publish(bool trigger) {
    gcrt_gcstate *g = &gcrt_gc;
    g->goal = P.goal;
    if (trigger) atomic_store_relaxed(&g->trigger, P.trigger);
}

static void commit(bool trigger) {
    gcrt_pacer_in in;
    read_inputs(&in);
    gcrt_pacer_commit(&P, &in);
    publish(trigger);
}

/* A cycle in its tail (past mark termination, which published the next trigger, and not
 * yet done) takes new settings into that trigger at once: kept until the cycle's end, a
 * lowered limit's trigger was published when nothing allocated any more, and no cycle
 * started (t_memlimit under load, 1 run in 60; t_limit_in_tail). */
void gcrt_pacer_update(void) {
    commit(!gcrt_gc.running || atomic_load_relaxed(&gcrt_gc.trigger) != UINT64_MAX);
}

void gcrt_pacer_cycle_start(uint64_t heap_live) {
    cycle_triggered = heap_live;
    gcrt_pacer_in in;
    read_inputs(&in);
    gcrt_mark_set_assist_ratio(gcrt_pacer_assist_ratio(&P, &in, cycle_triggered, 0));
}

void gcrt_pacer_cycle_end(uint64_t marked, uint64_t heap_live_end, uint64_t mark_ns, uint64_t bg_cpu_ns,
                          uint64_t assist_cpu_ns, uint64_t idle_cpu_ns) {
    gcrt_pacer_cycle c = {
        .triggered = cycle_triggered,
        .heap_live_end = heap_live_end,
        .scan_work = gcrt_mark_scan_work(),
        .mark_ns = mark_ns,
        .bg_cpu_ns = bg_cpu_ns,
        .assist_cpu_ns = assist_cpu_ns,
        .idle_cpu_ns = idle_cpu_ns,
        .procs = gcrt_gc.nmarkers,
    };
    gcrt_pacer_measure(&P, &c);
    P.last_goal = P.goal;
    gcrt_gc.heap_marked = marked;
    commit(true);   /* the next cycle's trigger, before the sweeper paces itself by it */
}

/* Called by the GC thread between mark slices. */
void gcrt_pacer_revise(void) {
    gcrt_pacer_in in;
    read_inputs(&in);
    gcrt_mark_set_assist_ratio(gcrt_pacer_assist_ratio(&P, &in, cycle_triggered, gcrt_mark_scan_work()));
}

uint64_t gcrt_pacer_last_goal(void) { return P.last_goal; }
bool gcrt_pacer_limited(void) { return P.limited; }

/* Re-derive goal and trigger from the heap as it is now (the memory-limit goal moves with
 * non-heap memory); skipped while a cycle runs. Not inside a critical section. */
void gcrt_pacer_recommit(void) {
    gcrt_gcstate *g = &gcrt_gc;
    gcrt_lock(&g->lock);
    if (!g->running) gcrt_pacer_update();   /* mark termination commits without gc.lock */
    pthread_mutex_unlock(&g->lock);
}

static void start_if_passed(void) {
    if (gcrt_self && !gcrt_self->in_gcrt &&
        (uint64_t)atomic_load_relaxed(&gcrt_heap_live) >= atomic_load_relaxed(&gcrt_gc.trigger))
        gcrt_gc_maybe_start();
}

GCRT_API int gc_set_percent(int percent) {
    gcrt_ensure_init();
    gcrt_lock(&gcrt_gc.lock);
    int old = gcrt_gc.percent;
    atomic_store_relaxed(&gcrt_gc.percent, percent < 0 ? -1 : percent);
    gcrt_pacer_update();
    /* Like SetGCPercent: turning collection off waits for a mark in progress, so the
     * caller returns with no cycle running. */
    while (percent < 0 && gcrt_gc.running) pthread_cond_wait(&gcrt_gc.done, &gcrt_gc.lock);
    pthread_mutex_unlock(&gcrt_gc.lock);
    start_if_passed();   /* take effect at once: collect now if the new goal is passed */
    return old;
}

GCRT_API int64_t gc_set_memory_limit(int64_t bytes) {
    gcrt_ensure_init();
    gcrt_lock(&gcrt_gc.lock);
    int64_t old = gcrt_gc.memory_limit;
    if (bytes >= 0 && bytes != old) {
        atomic_store_relaxed(&gcrt_gc.memory_limit, bytes);
        gcrt_pacer_update();
    }
    pthread_mutex_unlock(&gcrt_gc.lock);
    if (bytes >= 0 && bytes != old) {
        gcrt_scavenger_limit_changed();
        start_if_passed();
    }
    return old;
}
