/*
 * malloc.c: the public allocation calls, typed layouts, gc_base/gc_size.
 *
 * The fast path (alloc_fast) is one class lookup, one ctz over the cached span's
 * alloccache and a few stores to thread-owned memory, bracketed by the critical-section
 * counter; everything else (refill, tiny blocks, large objects, the GC trigger, OOM) is
 * gcrt_alloc_slow in cache.c.
 *
 * Typed objects live in spans of kind GCRT_SCAN_TYPED, whose ptrbits hold one bit per word
 * of the span; the allocation writes the object's bits from its type (repeated per array
 * element), so the marker traces exactly the declared pointer words. A type whose every
 * word is a pointer is allocated as a gc_alloc object instead: a conservative span traces
 * every word too, and needs no bits written per allocation (gc_realloc then keeps it
 * all-pointer, grown part included).
 */
#include "internal.h"

#include <stdlib.h>

/* The fast path's way out when it cannot return the slot at once: a stop-the-world request
 * arrived inside its critical section (honoured here, with the new object's address live
 * in this frame, where the suspended thread's stack scan finds it), or there was no free
 * slot (the slow path). Out of line and reached by a tail call, so that the fast path
 * keeps nothing live across a call and saves no register. */
static GCRT_ENTRY __attribute__((noinline)) void *alloc_fast_exit(gcrt_thread *t, uintptr_t p, size_t size, unsigned kind) {
    if (t->suspend_pending && t->in_gcrt == 0) {
        gcrt_suspend_deferred(t);
        __asm__ volatile("" : : "r"(p) : "memory");   /* p stays live across the stop */
    }
    if (p) return (void *)p;
    return gcrt_alloc_slow(t, size, kind, NULL, 1);
}

/* A thread's first allocation (gcrt_thread_slow registers it, or aborts on misuse): out
 * of line for the same reason. */
static GCRT_ENTRY __attribute__((noinline)) void *alloc_first(size_t size, unsigned kind) {
    gcrt_thread *t = gcrt_thread_slow();
    if (unlikely(size > PTRDIFF_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    return gcrt_alloc_slow(t, size ? size : 1, kind, NULL, 1);
}

/* Small sizes only (1 <= size <= GCRT_MAX_SMALL_REQ). gcrt_enter/gcrt_leave, with the
 * leave's deferred-stop check folded into the one test for success. */
static inline __attribute__((always_inline)) void *alloc_fast(gcrt_thread *t, size_t size, unsigned kind) {
    gcrt_enter(t);
    gcrt_span *s = t->cache.alloc[spanclass_make(size_to_class(size), kind)];
    uint64_t cache = s->alloccache;
    uintptr_t p = 0;
    /* No slot: out with p = 0, the one test of the cache standing for the test of p. */
    if (likely(cache)) p = span_take_cached(s, cache);   /* free slots are zero: nothing to clear */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    t->in_gcrt--;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (unlikely(!cache || t->suspend_pending)) return alloc_fast_exit(t, p, size, kind);
    /* Slots are handed out in address order: start fetching the ones a few allocations
     * ahead, which sweeping last touched long ago, so the caller's first store hits. */
    __builtin_prefetch((const void *)(p + 256), 1, 3);
    return (void *)p;
}

/* gc_alloc's body, inlined into alloc_typed too (an exported function is not inlined
 * within the library: it might be interposed). Forced: left to itself the compiler made
 * it a function of its own, one more call on every gc_alloc_typed/gc_alloc_array. */
static inline __attribute__((always_inline)) void *alloc_cons(size_t size) {
    gcrt_thread *t = gcrt_self;
    if (unlikely(!t)) return alloc_first(size, GCRT_SCAN_CONS);
    if (likely(size - 1 < GCRT_MAX_SMALL_REQ)) return alloc_fast(t, size, GCRT_SCAN_CONS);
    if (unlikely(size > PTRDIFF_MAX)) goto nomem;
    return gcrt_alloc_slow(t, size ? size : 1, GCRT_SCAN_CONS, NULL, 1);
nomem:
    errno = ENOMEM;
    return NULL;
}

GCRT_ENTRY GCRT_API void *gc_alloc(size_t size) { return alloc_cons(size); }

GCRT_ENTRY GCRT_API void *gc_alloc_noscan(size_t size) {
    gcrt_thread *t = gcrt_self;
    if (unlikely(!t)) return alloc_first(size, GCRT_SCAN_NOSCAN);
    if (likely(size - 9 <= GCRT_MAX_SMALL_REQ - 9))   /* sizes <= 8 may be tiny: slow path */
        return alloc_fast(t, size, GCRT_SCAN_NOSCAN);
    if (unlikely(size > PTRDIFF_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    return gcrt_alloc_slow(t, size ? size : 1, GCRT_SCAN_NOSCAN, NULL, 1);
}

GCRT_API gc_type_t *gc_type_new(size_t size, const size_t *offs, size_t n) {
    if (size == 0 || size > PTRDIFF_MAX || (n && !offs)) goto bad;
    if (n && size % sizeof(void *)) goto bad;   /* elements of an array must stay aligned */
    for (size_t i = 0; i < n; i++)
        if (offs[i] % sizeof(void *) || offs[i] > size - sizeof(void *) || size < sizeof(void *)) goto bad;
    size_t nwords = (size + 7) / 8;
    /* Types live as long as the program: off-heap metadata, never freed. */
    gc_type_t *t = gcrt_meta_alloc(sizeof *t + n * sizeof(size_t) + ((nwords + 63) / 64) * 8);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    t->size = size;
    t->nwords = nwords;
    t->bits = (uint64_t *)(t->offsets + n);
    for (size_t i = 0; i < n; i++) {
        size_t w = offs[i] / 8;
        if (!bit_get(t->bits, w)) t->offsets[t->nptrs++] = offs[i];
        t->bits[w >> 6] |= (uint64_t)1 << (w & 63);
    }
    return t;
bad:
    errno = EINVAL;
    return NULL;
}

/* Write the pointer bits of `count` elements of t at obj, and clear the rest of the slot. */
void gcrt_type_write_bits(gcrt_span *s, uintptr_t obj, const gc_type_t *t, size_t count, size_t objsize) {
    uint64_t *bits = s->ptrbits;
    size_t w0 = (obj - s->base) / 8, nw = objsize / 8, tw = t ? t->nwords : 1;
    size_t used = t ? count * tw : 0, k = 0;
    for (size_t w = 0; w < nw; w++) {
        size_t i = w0 + w;
        uint64_t m = (uint64_t)1 << (i & 63);
        bool ptr = w < used && bit_get(t->bits, k);
        if (++k == tw) k = 0;
        if (ptr) bits[i >> 6] |= m;
        else bits[i >> 6] &= ~m;
    }
}

/* Inlined into both entry points: an interpreter's pairs and vectors come this way, and a
 * call more per allocation was ~13% of the Scheme interpreter's allocation cost. */
static inline __attribute__((always_inline)) void *alloc_typed(const gc_type_t *t, size_t count) {
    if (unlikely(!t)) {
        errno = EINVAL;
        return NULL;
    }
    size_t size;   /* no division on this path: it is every typed allocation's */
    if (unlikely(__builtin_mul_overflow(t->size, count, &size))) {
        errno = ENOMEM;
        return NULL;
    }
    /* Every word a pointer (cons cells, arrays of pointers), tested first as the commonest
     * layout: tracing every word is what a conservative span does, with no pointer bits to
     * write per allocation. alloc_cons refuses sizes over PTRDIFF_MAX itself. */
    if (likely(t->nptrs == t->nwords)) return alloc_cons(size);
    if (size > PTRDIFF_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    if (t->nptrs == 0) return gc_alloc_noscan(size);
    gcrt_thread *t0 = gcrt_thread_get();
    if (likely(size - 1 < GCRT_MAX_SMALL_REQ)) {
        /* alloc_fast, with the slot's pointer bits written inside the same critical section */
        gcrt_enter(t0);
        gcrt_span *s = t0->cache.alloc[spanclass_make(size_to_class(size), GCRT_SCAN_TYPED)];
        uintptr_t p = span_next_free_fast(s);
        if (likely(p)) gcrt_type_write_bits(s, p, t, count, s->elemsize);
        gcrt_leave(t0);
        if (likely(p)) return (void *)p;
    }
    return gcrt_alloc_slow(t0, size ? size : 1, GCRT_SCAN_TYPED, t, count);
}

GCRT_ENTRY GCRT_API void *gc_alloc_typed(const gc_type_t *t) { return alloc_typed(t, 1); }
GCRT_ENTRY GCRT_API void *gc_alloc_array(const gc_type_t *t, size_t count) { return alloc_typed(t, count); }

GCRT_API size_t gc_size(const void *p) {
    uintptr_t b;
    gcrt_span *s = span_find_object(p, &b);
    return s ? s->elemsize : 0;
}

GCRT_API void *gc_base(const void *p) {
    uintptr_t b;
    return span_find_object(p, &b) ? (void *)b : NULL;
}

GCRT_ENTRY GCRT_API void *gc_realloc(void *p, size_t size) {
    if (!p) return gc_alloc(size);
    uintptr_t base;
    gcrt_span *s = span_find_object(p, &base);
    if (!s || base != (uintptr_t)p)
        gcrt_fatal("gc_realloc(%p): not the start of a live GC object", p);
    size_t old = s->elemsize;
    unsigned kind = spanclass_kind(s->spanclass);
    if (size <= old && size >= old / 2) {
        memset((char *)p + size, 0, old - size);   /* no stale pointers past the new end */
        return p;
    }
    gcrt_thread *t = gcrt_thread_get();
    if (size > PTRDIFF_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    void *q = gcrt_alloc_slow(t, size ? size : 1, kind, NULL, 0);
    if (!q) return NULL;
    size_t keep = size < old ? size : old;
    if (kind == GCRT_SCAN_TYPED) {
        gcrt_span *qs = span_of((uintptr_t)q);
        size_t w0 = ((uintptr_t)p - s->base) / 8, q0 = ((uintptr_t)q - qs->base) / 8;
        gcrt_enter(t);
        for (size_t w = 0; w < keep / 8; w++)
            if (bit_get(s->ptrbits, w0 + w)) qs->ptrbits[(q0 + w) >> 6] |= (uint64_t)1 << ((q0 + w) & 63);
        gcrt_leave(t);
    }
    memcpy(q, p, keep);
    return q;
}

GCRT_API gc_oom_handler_t gc_set_oom_handler(gc_oom_handler_t fn) {
    return __atomic_exchange_n(&gcrt_oom_handler, fn, __ATOMIC_ACQ_REL);
}
