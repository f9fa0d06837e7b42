/*
 * stats.c: gc_read_memstats (Go's ReadMemStats).
 *
 * Objects are counted when spans leave caches and when sweeping frees them, never on the
 * fast path. To be exact, a read stops the world and adds what live caches have handed out
 * since they took their spans (alloccount - alloccount_cached). Tiny sub-allocations count
 * in both mallocs and frees, as in Go, so heap_objects counts their 16-byte blocks.
 */
#include "internal.h"

GCRT_STATE gcrt_stats gcrt_stats_ = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Move a cache's released-span counters into the global ones. Owner or world stopped. */
void gcrt_stats_fold_cache(gcrt_cache *c) {
    gcrt_stats *st = &gcrt_stats_;
    gcrt_lock(&st->lock);
    for (unsigned i = 0; i < GCRT_NUM_CLASSES; i++) {
        st->nmalloc[i] += c->nmalloc[i];
        c->nmalloc[i] = 0;
    }
    st->tiny_allocs += c->tiny_allocs;
    st->large_allocs += c->large_allocs;
    st->large_bytes += c->large_bytes;
    c->tiny_allocs = c->large_allocs = c->large_bytes = 0;
    pthread_mutex_unlock(&st->lock);
}

/* gc_alloc_counts: a cache's cumulative counts plus what its cached spans handed out since
 * they were taken. Read by the owner, or racily by another thread (descriptors are never
 * unmapped, so a stale span read is harmless). */
static void cache_alloc_counts(gcrt_cache *c, uint64_t *objs, uint64_t *bytes) {
    uint64_t o = atomic_load_relaxed(&c->total_objs);
    uint64_t b = atomic_load_relaxed(&c->total_bytes);
    for (unsigned spc = GCRT_SCAN_KINDS; spc < GCRT_NUM_SPAN_CLASSES; spc++) {
        gcrt_span *s = atomic_load_relaxed(&c->alloc[spc]);
        if (s == &gcrt_empty_span) continue;
        uint64_t n = (uint16_t)(atomic_load_relaxed(&s->alloccount) - atomic_load_relaxed(&s->alloccount_cached));
        o += n;
        b += n * s->elemsize;
    }
    *objs += o;
    *bytes += b;
}

/* Counts of unregistered threads' caches (gc_unregister_thread). */
static uint64_t gone_objs, gone_bytes;

void gcrt_stats_thread_gone(gcrt_cache *c) {
    atomic_add(&gone_objs, c->total_objs);
    atomic_add(&gone_bytes, c->total_bytes);
}

GCRT_API void gc_alloc_counts(uint64_t *objs, uint64_t *bytes) {
    uint64_t o = 0, b = 0;
    gcrt_thread *t = gcrt_self;
    if (t) cache_alloc_counts(&t->cache, &o, &b);
    if (objs) *objs = o;
    if (bytes) *bytes = b;
}

GCRT_API void gc_alloc_counts_process(uint64_t *objs, uint64_t *bytes) {
    uint64_t o = atomic_load_relaxed(&gone_objs), b = atomic_load_relaxed(&gone_bytes);
    gcrt_ensure_init();
    gcrt_lock(&gcrt_threads_lock);
    for (gcrt_thread *t = gcrt_threads; t; t = t->next) cache_alloc_counts(&t->cache, &o, &b);
    pthread_mutex_unlock(&gcrt_threads_lock);
    if (objs) *objs = o;
    if (bytes) *bytes = b;
}

GCRT_API void gc_read_memstats(gc_memstats_t *ms) {
    gcrt_ensure_init();
    memset(ms, 0, sizeof *ms);
    uint64_t inflight[GCRT_NUM_CLASSES] = {0};
    gcrt_lock(&gcrt_gc.lock);
    gcrt_stop_world();
    for (gcrt_thread *t = gcrt_threads; t; t = t->next) {
        gcrt_stats_fold_cache(&t->cache);
        for (unsigned spc = 0; spc < GCRT_NUM_SPAN_CLASSES; spc++) {
            gcrt_span *s = t->cache.alloc[spc];
            if (s != &gcrt_empty_span) inflight[spanclass_sizeclass(spc)] += (uint64_t)(s->alloccount - s->alloccount_cached);
        }
    }
    gcrt_stats *st = &gcrt_stats_;
    gcrt_lock(&st->lock);
    uint64_t mallocs = 0, frees = 0, total = 0, freed = 0;
    for (unsigned i = 1; i < GCRT_NUM_CLASSES; i++) {
        uint64_t n = st->nmalloc[i] + inflight[i];
        mallocs += n;
        uint64_t nf = atomic_load_relaxed(&st->nfree[i]);   /* sweeping adds without the lock */
        frees += nf;
        total += n * gcrt_class_size[i];
        freed += nf * gcrt_class_size[i];
    }
    mallocs += st->large_allocs + st->tiny_allocs;
    frees += st->large_frees + st->tiny_allocs;
    total += st->large_bytes;
    freed += st->large_freed_bytes;
    ms->mallocs = mallocs;
    ms->frees = frees;
    ms->heap_objects = mallocs - frees;
    ms->total_alloc = total;
    ms->heap_alloc = ms->alloc = total - freed;
    ms->num_gc = st->num_gc;
    ms->num_forced_gc = st->num_forced_gc;
    ms->last_gc = st->last_gc_ns;
    ms->pause_total_ns = st->pause_total_ns;
    ms->pause_max_ns = st->max_pause_ns;
    memcpy(ms->pause_ns, st->pause_ns, sizeof ms->pause_ns);
    memcpy(ms->pause_end, st->pause_end, sizeof ms->pause_end);
    uint64_t elapsed = gcrt_now_ns() - st->start_ns;
    long ncpu = gcrt_gc.nmarkers > 0 ? gcrt_gc.nmarkers : 1;
    ms->gc_cpu_fraction = elapsed ? (double)st->gc_cpu_ns / ((double)elapsed * (double)ncpu) : 0;
    pthread_mutex_unlock(&st->lock);
    /* The page heap's counters with the world stopped, so that the pages each thread's
     * page cache has carved into spans are folded in exactly. heap.lock is only ever held
     * briefly by threads that are not stopped or inside a critical section. */
    gcrt_heap *h = &gcrt_heap_;
    gcrt_lock(&h->lock);
    for (gcrt_thread *t = gcrt_threads; t; t = t->next) gcrt_pcache_fold_locked(&t->cache.pcache);
    ms->heap_sys = h->heap_sys;
    ms->heap_inuse = h->heap_inuse;
    ms->heap_idle = h->heap_free + h->heap_released + h->heap_pcache;
    ms->heap_released = h->heap_released + h->heap_pcache_rel;
    pthread_mutex_unlock(&h->lock);
    gcrt_start_world();
    ms->metadata_sys = atomic_load_relaxed(&gcrt_meta_sys);
    ms->sys = ms->heap_sys + ms->metadata_sys;
    ms->next_gc = gcrt_gc.goal;
    pthread_mutex_unlock(&gcrt_gc.lock);
}
