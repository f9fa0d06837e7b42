/*
 * pacer.c: when the next cycle starts (Go's gcControllerState, heap goal and trigger).
 *
 * goal = marked + (marked + stacks + globals) * GOGC/100, at least 4 MiB * GOGC/100
 * (Go 1.18+'s formula with its heap minimum). A concurrent cycle must start before the
 * goal, so that what the program allocates while marking still fits under it: the trigger
 * is the goal less a runway of 1.1 x what was allocated during the last mark, clamped to
 * Go's bounds, marked + [0.7, 0.95] x (goal - marked), and at least 64 KiB below the goal.
 * The stop-the-world collector triggers at the goal itself. GOGC < 0 turns the trigger off
 * (trigger = UINT64_MAX). Called with gc.lock held, or at init.
 */
#include "internal.h"

#define HEAP_MINIMUM ((uint64_t)4 << 20)

void gcrt_pacer_update(void) {
    gcrt_gcstate *g = &gcrt_gc;
    int pct = atomic_load_relaxed(&g->percent);
    if (pct < 0) {
        g->goal = UINT64_MAX;
        atomic_store_relaxed(&g->trigger, UINT64_MAX);
        return;
    }
    uint64_t scan_roots = g->heap_marked + g->stacks_bytes + g->globals_bytes;
    uint64_t goal = g->heap_marked + scan_roots * (uint64_t)pct / 100;
    uint64_t min = HEAP_MINIMUM * (uint64_t)pct / 100;
    if (goal < min) goal = min;
    g->goal = goal;
    uint64_t trigger = goal;
    if (!g->gcstoptheworld) {
        uint64_t span = goal - g->heap_marked;
        uint64_t lo = g->heap_marked + span * 45 / 64, hi = g->heap_marked + span * 61 / 64;
        uint64_t runway = g->last_alloc_during_mark + g->last_alloc_during_mark / 10;
        trigger = goal > runway ? goal - runway : 0;
        if (trigger < lo) trigger = lo;
        if (trigger > hi) trigger = hi;
        if (goal - trigger < (64 << 10)) trigger = goal > (64 << 10) ? goal - (64 << 10) : 0;
    }
    atomic_store_relaxed(&g->trigger, trigger);
}

void gcrt_pacer_cycle_end(uint64_t marked) {
    gcrt_gc.heap_marked = marked;
    gcrt_pacer_update();
}

GCRT_API int gc_set_percent(int percent) {
    gcrt_ensure_init();
    pthread_mutex_lock(&gcrt_gc.lock);
    int old = gcrt_gc.percent;
    gcrt_gc.percent = percent < 0 ? -1 : percent;
    gcrt_pacer_update();
    /* Like SetGCPercent: turning collection off waits for a mark in progress, so the
     * caller returns with no cycle running. */
    while (percent < 0 && gcrt_gc.running) pthread_cond_wait(&gcrt_gc.done, &gcrt_gc.lock);
    pthread_mutex_unlock(&gcrt_gc.lock);
    /* Take effect at once: if the new goal is already passed, collect now. */
    if (gcrt_self && (uint64_t)atomic_load_relaxed(&gcrt_heap_live) >= atomic_load_relaxed(&gcrt_gc.trigger))
        gcrt_gc_maybe_start();
    return old;
}

GCRT_API int64_t gc_set_memory_limit(int64_t bytes) {
    gcrt_ensure_init();
    pthread_mutex_lock(&gcrt_gc.lock);
    int64_t old = gcrt_gc.memory_limit;
    if (bytes >= 0) gcrt_gc.memory_limit = bytes;
    pthread_mutex_unlock(&gcrt_gc.lock);
    return old;
}
