/*
 * cache.c: per-thread caches (Go's mcache), the tiny allocator, large objects and the
 * allocation slow path.
 *
 * A cache owns one span per span class; only its thread touches it, inside a critical
 * section (gcrt_enter/leave), so the fast path needs neither locks nor atomics, and a
 * stop-the-world never catches a cache half-updated. alloc[] is never NULL: an empty
 * sentinel span (no slots) sends the fast path here.
 *
 * Statistics: the fast path only bumps span.alloccount (and tiny_allocs); objects are
 * counted when the span leaves the cache (alloccount - alloccount_cached), and folded in
 * from live caches with the world stopped when stats are read.
 *
 * Heap profiling (runtime/mprof.c) keeps the fast path as it is: each span class has a
 * countdown of bytes to its next sample, counted down here by what the fast path handed
 * out since (alloccount moved), and the cached span's alloccache is cut to the free slots
 * before the sample point, so that the sampled allocation lands here. Independent
 * countdowns per class sample each allocation of s bytes with the same probability,
 * 1 - exp(-s/rate), as Go's one countdown per P does: the exponential is memoryless. A
 * cut alloccache is restored (it is only a cache of allocbits from freeindex) before the
 * span is used here or leaves the cache.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

GCRT_STATE gcrt_span gcrt_empty_span;
gc_oom_handler_t gcrt_oom_handler;

void gcrt_cache_init(gcrt_cache *c) {
    memset(c, 0, sizeof *c);
    for (unsigned i = 0; i < GCRT_NUM_SPAN_CLASSES; i++) c->alloc[i] = &gcrt_empty_span;
}

/* Allocate black (Go's gcmarknewobject, by ranges): the slots a cache handed out from s
 * since it took s while marking are those in [blackfrom, freeindex) that were free in
 * allocbits. Marking them when the span leaves the cache (at the latest in the second
 * pause, which flushes every cache) keeps the fast path free of any GC check. */
void gcrt_span_blacken_cached(gcrt_span *s) {
    size_t lo = s->blackfrom, hi = s->freeindex;
    uint64_t n = 0, *scan = gcrt_gt_class[s->spanclass] ? span_scanbits(s) : NULL;
    while (lo < hi) {
        size_t w = lo >> 6, end = (w + 1) * 64 < hi ? (w + 1) * 64 : hi;
        uint64_t mask = (end - w * 64 == 64 ? ~(uint64_t)0 : (((uint64_t)1 << (end - w * 64)) - 1)) &
                        ~(((uint64_t)1 << (lo - w * 64)) - 1);
        uint64_t fresh = mask & ~s->allocbits[w];
        /* scanned before marked, so a span scanner that sees the marks sees these too: black
         * objects need no scan (everything they can hold was reachable at the snapshot or is
         * black itself) */
        if (fresh && scan) __atomic_fetch_or(&scan[w], fresh, __ATOMIC_RELEASE);
        if (fresh) n += (uint64_t)__builtin_popcountll(fresh & ~__atomic_fetch_or(&s->markbits[w], fresh, __ATOMIC_RELEASE));
        lo = end;
    }
    s->blackfrom = s->freeindex;
    if (n) gcrt_mark_add_bytes(n * s->elemsize);
}

static void cache_release(gcrt_cache *c, unsigned spc) {
    gcrt_span *s = c->alloc[spc];
    if (s == &gcrt_empty_span) return;
    c->alloc[spc] = &gcrt_empty_span;
    if (unlikely(gcrt_debug_hooks || c->prof_on) && s->freeindex < s->nelems) span_refill_alloccache(s);   /* see cache_next_free */
    if (c->prof_on) c->prof_left[spc] -= (int64_t)(uint16_t)(s->alloccount - c->prof_mark[spc]) * (int64_t)s->elemsize;
    if (gcrt_gc.marking) gcrt_span_blacken_cached(s);
    uint64_t n = (uint64_t)(s->alloccount - s->alloccount_cached);
    c->nmalloc[spanclass_sizeclass(spc)] += n;
    c->total_objs += n;
    c->total_bytes += n * s->elemsize;
    gcrt_central_uncache_span(s, c);
}

void gcrt_cache_release_all(gcrt_cache *c) {
    for (unsigned i = 0; i < GCRT_NUM_SPAN_CLASSES; i++) cache_release(c, i);
    c->prof_on = false;   /* no cached span is cut short any more */
    gcrt_central_flush_full(c);
    c->tiny = 0;
    c->tinyoffset = 0;
    gcrt_pcache_release(&c->pcache);   /* cached pages are free pages the heap must see */
    atomic_add(&gcrt_heap_live, c->live_delta);
    c->live_delta = 0;
    gcrt_stats_fold_cache(c);
}

/* Go's nextFreeIndex: the next free slot at or after freeindex, or nelems when the span is
 * full. alloccache is refilled here when it is 0 (its word used up, or cut short by heap
 * profiling) before moving on a word. */
size_t gcrt_span_next_free_index(gcrt_span *s) {
    size_t n = s->nelems;
    if (s->freeindex >= n) return n;
    if (s->alloccache == 0) span_refill_alloccache(s);
    uint64_t cache = s->alloccache;
    while (cache == 0) {
        size_t next = ((size_t)s->freeindex + 64) & ~(size_t)63;
        if (next >= n) {
            s->freeindex = (uint16_t)n;
            return n;
        }
        s->freeindex = (uint16_t)next;
        span_refill_alloccache(s);
        cache = s->alloccache;
    }
    size_t result = (size_t)s->cachebase + (size_t)__builtin_ctzll(cache);
    s->alloccache = cache & (cache - 1);
    s->freeindex = (uint16_t)(result + 1);
    s->alloccount++;
    return result;
}

/* A slot from the cache's span of class spc, refilling from the central list if needed.
 * Inside a critical section. Sets *refilled when the heap may have grown. */
static uintptr_t cache_next_free_span(gcrt_cache *c, unsigned spc, bool *refilled) {
    gcrt_span *s = c->alloc[spc];
    uintptr_t p = span_next_free_fast(s);
    if (p) return p;
    if (s != &gcrt_empty_span) {
        size_t i = gcrt_span_next_free_index(s);
        if (i < s->nelems) return s->base + i * s->elemsize;
        cache_release(c, spc);
    }
    *refilled = true;
    s = gcrt_central_cache_span(spc, c);
    if (!s) return 0;
    c->alloc[spc] = s;
    size_t i = gcrt_span_next_free_index(s);
    if (i >= s->nelems) return 0;   /* cannot happen: central hands out spans with room */
    return s->base + i * s->elemsize;
}

/* Heap profiling, before the slow path takes a slot of class spc: count down what the fast
 * path handed out since the last count. Returns whether sampling is on. */
static bool prof_begin(gcrt_cache *c, unsigned spc, gcrt_span *s) {
    uint32_t epoch = atomic_load_relaxed(&gcrt_mprof_epoch);
    if (unlikely(c->prof_epoch != epoch)) {   /* the rate changed: start every countdown afresh */
        for (unsigned i = 0; i < GCRT_NUM_SPAN_CLASSES; i++) {
            c->prof_left[i] = 0;
            c->prof_mark[i] = c->alloc[i]->alloccount;
        }
        c->prof_epoch = epoch;
    }
    if (s != &gcrt_empty_span) {
        c->prof_left[spc] -= (int64_t)(uint16_t)(s->alloccount - c->prof_mark[spc]) * (int64_t)s->elemsize;
        c->prof_mark[spc] = s->alloccount;
    }
    return atomic_load_relaxed(&gcrt_mprof_rate) > 0;
}

/* Keep only the lowest n set bits of x. */
static inline uint64_t lowest_bits(uint64_t x, uint64_t n) {
    uint64_t keep = 0;
    for (; n && x; n--) {
        keep |= x & -x;
        x &= x - 1;
    }
    return keep;
}

/* Count the slot just handed out from s (Go's "size < nextSample" test) and cut s's
 * alloccache before the next sample point: the fast path may hand out the m slots whose
 * bytes stay short of the countdown, the (m+1)th comes here and is sampled. Returns
 * whether the slot just handed out is a sample. */
static bool prof_end(gcrt_cache *c, unsigned spc, gcrt_span *s, int64_t size) {
    int64_t left = c->prof_left[spc];
    if (left <= 0) left = gcrt_mprof_next_sample(c);
    bool sample = size >= left;
    left = sample ? gcrt_mprof_next_sample(c) : left - size;
    c->prof_left[spc] = left;
    c->prof_mark[spc] = s->alloccount;
    if (s != &gcrt_empty_span && spanclass_sizeclass(spc)) {
        uint64_t m = (uint64_t)(left - 1) / (uint64_t)s->elemsize;   /* ceil(left/size) - 1 */
        if (m < 64 && m < (uint64_t)__builtin_popcountll(s->alloccache)) s->alloccache = lowest_bits(s->alloccache, m);
        c->prof_on = true;
    }
    return sample;
}

/* With debug hooks on (runtime/debug.c), cached spans keep alloccache 0, so the fast path
 * always fails and every slot is handed out here, where the hooks see it. With heap
 * profiling, alloccache is cut at the next sample point (prof_end). alloccache is only a
 * cache of allocbits from freeindex: it is rebuilt before use. */
static uintptr_t cache_next_free_hooked(gcrt_cache *c, unsigned spc, bool *refilled, bool *sample) {
    gcrt_span *s = c->alloc[spc];
    if (s != &gcrt_empty_span && s->freeindex < s->nelems) span_refill_alloccache(s);
    bool prof = prof_begin(c, spc, s);
    uintptr_t p = cache_next_free_span(c, spc, refilled);
    s = c->alloc[spc];
    if (p && prof) *sample = prof_end(c, spc, s, (int64_t)s->elemsize);
    if (unlikely(gcrt_debug_hooks)) {
        s->alloccache = 0;
        if (p) gcrt_debug_alloc_slot(s, p);
    }
    return p;
}

static inline uintptr_t cache_next_free(gcrt_cache *c, unsigned spc, bool *refilled, bool *sample) {
    if (likely(!gcrt_debug_hooks && !c->prof_on && !atomic_load_relaxed(&gcrt_mprof_rate)))
        return cache_next_free_span(c, spc, refilled);
    return cache_next_free_hooked(c, spc, refilled, sample);
}

static void *alloc_large(gcrt_cache *c, size_t size, unsigned kind, size_t *objsize) {
    size_t npages = (size + GCRT_PAGE_SIZE - 1) >> GCRT_PAGE_SHIFT;
    if (gcrt_sweep_pending()) gcrt_sweep_reclaim(npages);
    gcrt_span *s = gcrt_heap_alloc(npages, spanclass_make(0, kind));
    if (!s) return NULL;
    s->freeindex = 1;
    s->alloccount = 1;
    s->alloccache = 0;
    if (s->needzero) memset((void *)s->base, 0, s->elemsize);
    s->needzero = 0;
    if (gcrt_gc.marking) {   /* allocated black */
        atomic_or(&s->markbits[0], 1);
        gcrt_mark_add_bytes(s->elemsize);
    }
    c->large_allocs++;
    c->large_bytes += s->elemsize;
    c->total_objs++;
    c->total_bytes += s->elemsize;
    gcrt_live_add(c, (int64_t)s->elemsize);
    gcrt_central_push_swept(s);
    *objsize = s->elemsize;
    return (void *)s->base;
}

static void *alloc_once(gcrt_thread *t, size_t size, unsigned kind, const gc_type_t *type,
                        size_t count, bool *refilled, bool *sample) {
    gcrt_cache *c = &t->cache;
    void *p;
    size_t objsize;
    gcrt_enter(t);
    if (size > GCRT_MAX_SMALL_REQ) {
        *refilled = true;
        p = alloc_large(c, size, kind, &objsize);
        if (gcrt_gc.marking) t->assist_debt += (int64_t)size;
        if (p && atomic_load_relaxed(&gcrt_mprof_rate) > 0) {
            unsigned spc = spanclass_make(0, kind);
            prof_begin(c, spc, &gcrt_empty_span);
            *sample = prof_end(c, spc, &gcrt_empty_span, (int64_t)objsize);
        }
    } else if (kind == GCRT_SCAN_NOSCAN && size <= 8 && gcrt_gc.tinyalloc) {
        /* Tiny (GODEBUG=tinyalloc=1): pointer-free objects of up to 8 bytes share 16-byte
         * blocks, two to a block. Go packs at the object's natural alignment; the contract
         * promises 8, so every sub-object starts on an 8-byte boundary. gc_base/gc_size then
         * report the block, which is why this is off by default (docs/architecture.md). */
        size_t off = round_up(c->tinyoffset, 8);
        if (c->tiny && off + size <= GCRT_TINY_SIZE) {
            p = (void *)(c->tiny + off);
            c->tinyoffset = off + size;
            c->tiny_allocs++;
            c->total_objs++;
            gcrt_leave(t);
            return p;
        }
        unsigned spc = spanclass_make(GCRT_TINY_CLASS, GCRT_SCAN_NOSCAN);
        p = (void *)cache_next_free(c, spc, refilled, sample);
        if (p) {
            c->tiny = (uintptr_t)p;
            c->tinyoffset = size;
        }
        gcrt_leave(t);
        return p;
    } else {
        unsigned spc = spanclass_make(size_to_class(size), kind);
        p = (void *)cache_next_free(c, spc, refilled, sample);
        if (*refilled && gcrt_gc.marking) {   /* assists pay for what the new span can hold */
            gcrt_span *s = c->alloc[spc];
            t->assist_debt += (int64_t)(s->nelems - s->alloccount + 1) * (int64_t)s->elemsize;
        }
        objsize = c->alloc[spc]->elemsize;   /* free slots are zero (sweep.c) */
    }
    if (p && kind == GCRT_SCAN_TYPED) gcrt_type_write_bits(span_of((uintptr_t)p), (uintptr_t)p, type, count, objsize);
    gcrt_leave(t);
    return p;
}

GCRT_ENTRY void *gcrt_alloc_slow(gcrt_thread *t, size_t size, unsigned kind, const gc_type_t *type, size_t count) {
    bool refilled = false, sample = false;
    void *p = alloc_once(t, size, kind, type, count, &refilled, &sample);
    if (unlikely(t->scav_owed)) gcrt_scavenge_owed(t);
    if (t->cache.pcache.pop_mask || t->cache.pcache.pop_meta) gcrt_pcache_populate_slow(t);
    if (unlikely(gcrt_debug_hooks) && p) gcrt_debug_after_alloc(p);
    if (unlikely(sample) && p) gcrt_mprof_malloc(t, p, gc_size(p));
    if (likely(p)) {
        if (refilled) {
            gcrt_sweep_pay();   /* outside the critical section: a span at a time */
            if (gcrt_gc.marking && t->wbn && t->flush_seen != atomic_load_relaxed(&gcrt_flush_epoch))
                gcrt_wbuf_flush_requested(t);
            if (gcrt_gc.marking && t->assist_debt > 0) gcrt_assist(t);
            else if ((uint64_t)atomic_load_relaxed(&gcrt_heap_live) >= atomic_load_relaxed(&gcrt_gc.trigger) ||
                     unlikely(gcrt_gc.starting))
                gcrt_gc_maybe_start();
        }
        return p;
    }
    /* Out of memory: collect and retry, then tell the handler, then fail. */
    gcrt_collect(true);
    p = alloc_once(t, size, kind, type, count, &refilled, &sample);
    if (!p) {
        gc_oom_handler_t h = atomic_load_acquire(&gcrt_oom_handler);
        if (h) {
            h(size);
            p = alloc_once(t, size, kind, type, count, &refilled, &sample);
        }
    }
    if (unlikely(t->scav_owed)) gcrt_scavenge_owed(t);
    if (p) {
        if (unlikely(sample)) gcrt_mprof_malloc(t, p, gc_size(p));
        return p;
    }
    errno = ENOMEM;
    return NULL;
}
