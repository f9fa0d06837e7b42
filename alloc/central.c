/*
 * central.c: per-span-class central lists (Go's mcentral).
 *
 * Each class has partial (free slots) and full lists, one pair swept and one pair unswept,
 * selected by sweepgen (see internal.h). A span is on at most one list, or owned by exactly
 * one party (a cache, a sweeper, the collector). Spans popped from an unswept list are
 * claimed by the popper, who sweeps them with the lock dropped. The page heap is never
 * grown while this class still has unswept spans worth trying (bounded by SPAN_BUDGET, as
 * Go bounds it), which keeps the heap from outrunning sweeping; a refill that finds the
 * class's lists empty without the lock may miss a span pushed at that moment.
 *
 * A span a cache gives back full goes onto the cache's own full list for its class, not
 * the class's: nothing can be taken from it or swept in it before the next sweepgen flip,
 * and the pauses release every cache (splicing those lists onto the swept full lists)
 * before flipping. Two threads allocating the same classes thus share no lock and write
 * no shared line per span while the heap grows (the swept full list and its lock were
 * the line they passed back and forth, once per 8 KiB span).
 */
#include "internal.h"

GCRT_STATE gcrt_central gcrt_central_[GCRT_NUM_SPAN_CLASSES];
#define SPAN_BUDGET 100

/* Class locks are held for a few list operations, and the background sweeper and
 * allocating threads meet on them right after each cycle: an adaptive mutex spins briefly
 * before sleeping, so such a meeting costs a short spin instead of a futex wait and wake. */
void gcrt_central_init(void) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
    for (unsigned i = 0; i < GCRT_NUM_SPAN_CLASSES; i++) pthread_mutex_init(&gcrt_central_[i].lock, &a);
    pthread_mutexattr_destroy(&a);
}

void gcrt_list_push(gcrt_span_list *l, gcrt_span *s) {
    s->prev = NULL;
    s->next = l->first;
    if (l->first) l->first->prev = s;
    l->first = s;
    l->len++;
}

void gcrt_list_remove(gcrt_span_list *l, gcrt_span *s) {
    if (s->prev) s->prev->next = s->next;
    else l->first = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
    l->len--;
}

gcrt_span *gcrt_list_pop(gcrt_span_list *l) {
    gcrt_span *s = l->first;
    if (s) gcrt_list_remove(l, s);
    return s;
}

/* Put all of src, whose last span is `last`, at the front of dst; src is left empty. */
static void list_splice(gcrt_span_list *dst, gcrt_span_list *src, gcrt_span *last) {
    last->next = dst->first;
    if (dst->first) dst->first->prev = last;
    dst->first = src->first;
    dst->len += src->len;
    src->first = NULL;
    src->len = 0;
}

static bool span_has_free(gcrt_span *s) { return s->alloccount < s->nelems; }

void gcrt_central_push_swept(gcrt_span *s) {
    s->next = NULL;
    gcrt_central_push_swept_batch(s);
}

/* The background sweeper's batch: swept spans of one class linked by next, one lock trip. */
void gcrt_central_push_swept_batch(gcrt_span *list) {
    gcrt_central *c = &gcrt_central_[list->spanclass];
    unsigned i = sg_swept(atomic_load_relaxed(&gcrt_heap_.sweepgen));
    gcrt_lock(&c->lock);
    for (gcrt_span *s = list, *next; s; s = next) {
        next = s->next;   /* the push relinks s */
        gcrt_list_push(span_has_free(s) ? &c->partial[i] : &c->full[i], s);
    }
    pthread_mutex_unlock(&c->lock);
}

/* Claim s (popped from an unswept list under the class lock) and sweep it for the
 * caller. It stays counted in flight until swept, so gc_collect can wait for it. */
static void sweep_owned(gcrt_span *s, uint32_t sg) {
    atomic_store_relaxed(&s->sweepgen, sg - 1);
    size_t np = s->npages;
    gcrt_sweep_span(s, true);
    gcrt_sweep_done(1, np);
}

static gcrt_span *take(gcrt_span *s, unsigned spc, gcrt_cache *c) {
    s->alloccount_cached = s->alloccount;
    s->blackfrom = s->freeindex;   /* used only if this happens while marking */
    if (spanclass_sizeclass(spc)) {
        span_refill_alloccache(s);   /* exact at any time: cheaper than knowing it is current */
        gcrt_live_add(c, (int64_t)(s->nelems - s->alloccount) * (int64_t)s->elemsize);
    }
    return s;
}

gcrt_span *gcrt_central_cache_span(unsigned spc, gcrt_cache *cache) {
    gcrt_central *c = &gcrt_central_[spc];
    uint32_t sg = atomic_load_relaxed(&gcrt_heap_.sweepgen);
    unsigned sw = sg_swept(sg), un = sg_unswept(sg);
    int budget = SPAN_BUDGET;
    gcrt_span *s;
    /* Nothing to reuse (a growing heap, or every span swept away): skip the class lock,
     * which two threads allocating the same classes would otherwise pass back and forth
     * once per span. Unlocked reads: a span pushed meanwhile is only missed, and new
     * pages serve instead. */
    if (!atomic_load_relaxed(&c->partial[sw].first) && !atomic_load_relaxed(&c->partial[un].first) &&
        !atomic_load_relaxed(&c->full[un].first))
        goto fresh;
    gcrt_lock(&c->lock);
    if ((s = gcrt_list_pop(&c->partial[sw]))) goto have;
    for (; budget > 0 && (s = gcrt_list_pop(&c->partial[un])); budget--) {
        pthread_mutex_unlock(&c->lock);
        sweep_owned(s, sg);
        if (span_has_free(s)) return take(s, spc, cache);
        gcrt_lock(&c->lock);
        gcrt_list_push(&c->full[sw], s);
    }
    for (; budget > 0 && (s = gcrt_list_pop(&c->full[un])); budget--) {
        pthread_mutex_unlock(&c->lock);
        sweep_owned(s, sg);
        if (span_has_free(s)) return take(s, spc, cache);
        gcrt_lock(&c->lock);
        gcrt_list_push(&c->full[sw], s);
    }
    pthread_mutex_unlock(&c->lock);
fresh:;
    /* Nothing reusable in this class: new pages, after reclaiming what sweeping can. */
    unsigned sc = spanclass_sizeclass(spc);
    if (gcrt_sweep_pending()) gcrt_sweep_reclaim(gcrt_class_npages[sc]);
    s = gcrt_heap_alloc(gcrt_class_npages[sc], spc);
    if (!s) return NULL;
    return take(s, spc, cache);
have:
    pthread_mutex_unlock(&c->lock);
    return take(s, spc, cache);
}

void gcrt_central_uncache_span(gcrt_span *s, gcrt_cache *c) {
    unsigned spc = s->spanclass;
    if (spanclass_sizeclass(spc) && s->alloccount < s->nelems)
        gcrt_live_add(c, -(int64_t)(s->nelems - s->alloccount) * (int64_t)s->elemsize);
    if (span_has_free(s)) {
        gcrt_central_push_swept(s);
        return;
    }
    if (!c->full[spc].first) c->full_last[spc] = s;
    gcrt_list_push(&c->full[spc], s);
}

void gcrt_central_flush_full(gcrt_cache *c) {
    unsigned sw = sg_swept(atomic_load_relaxed(&gcrt_heap_.sweepgen));
    for (unsigned spc = 0; spc < GCRT_NUM_SPAN_CLASSES; spc++) {
        gcrt_span_list *l = &c->full[spc];
        if (!l->first) continue;
        gcrt_lock(&gcrt_central_[spc].lock);
        list_splice(&gcrt_central_[spc].full[sw], l, c->full_last[spc]);
        pthread_mutex_unlock(&gcrt_central_[spc].lock);
        c->full_last[spc] = NULL;
    }
}
