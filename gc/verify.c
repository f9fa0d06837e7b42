/*
 * verify.c: GODEBUG=gcverify=1, a full check of the heap after marking, world stopped.
 *
 * Checks the tri-colour invariant at mark end: no black (marked, scannable) object and no
 * root word points to an allocated but unmarked object; span invariants: in-use spans map
 * every page, are swept (sweepgen current), have their class's geometry, freeindex <=
 * nelems, alloccount matches the allocation bits, no bit past nelems is set, every mark bit
 * is on an allocated slot, and every free slot is free memory (zero; all poison under
 * gcpoison); page-heap invariants: free runs map their pages, are never adjacent, and
 * heap_sys = heap_inuse + heap_free + heap_released + heap_pcache; span-local marking (mark.c)
 * left no span queued and every mark bit of its spans matches a scanned bit. A violation aborts with the addresses
 * involved, before sweeping could free a reachable object.
 *
 * A word of a conservatively scanned object is taken for a pointer. A non-pointer value
 * stored during concurrent marking needs no barrier, so one that happens to equal an
 * address in an unmarked (dead) object is reported like a lost pointer: the arena hint
 * (os.c) keeps heap addresses out of the range of the integers programs usually store.
 */
#include "internal.h"

#include <stdio.h>

static unsigned long nviolations;

static void check_word(uintptr_t where, uintptr_t v, const char *what) {
    gcrt_span *s = span_of_heap(v);
    if (!s) return;
    size_t i = span_objindex(s, v);
    if (!span_slot_allocated(s, i) || bit_get(s->markbits, i)) return;
    /* After concurrent marking, stacks are no longer the snapshot: see gcrt_checkmark. */
    if (!gcrt_gc.gcstoptheworld && (!strcmp(what, "stack") || !strcmp(what, "register"))) return;
    if (nviolations++ < 10)
        gcrt_warn("gcverify: %s word at %#lx points to %#lx, object %#lx (class %u, span %#lx) is "
                        "allocated but not marked",
                what, (unsigned long)where, (unsigned long)v, (unsigned long)(s->base + i * s->elemsize),
                spanclass_sizeclass(s->spanclass), (unsigned long)s->base);
}

GCRT_NO_ASAN static void check_range(uintptr_t lo, uintptr_t hi, void *what) {
    gcrt_scan_roots_begin(lo, hi);
    for (uintptr_t p = round_up(lo, 8); p + 8 <= hi; p += 8) check_word(p, gcrt_scan_load((uintptr_t *)p), what);
    gcrt_scan_roots_end(lo, hi);
}

GCRT_NO_ASAN static void check_span(gcrt_span *s, void *arg) {
    (void)arg;
    for (uintptr_t p = s->base; p < s->base + s->npages * GCRT_PAGE_SIZE; p += GCRT_PAGE_SIZE)
        if (span_of(p) != s) gcrt_fatal("gcverify: page %#lx of span %#lx does not map to it", (unsigned long)p, (unsigned long)s->base);
    if (s->freeindex > s->nelems) gcrt_fatal("gcverify: span %#lx freeindex %u > nelems %u", (unsigned long)s->base, s->freeindex, s->nelems);
    size_t n = 0;
    for (size_t i = 0; i < s->nelems; i++) n += span_slot_allocated(s, i);
    if (spanclass_sizeclass(s->spanclass) && n != s->alloccount)
        gcrt_fatal("gcverify: span %#lx (class %u) alloccount %u but %zu slots allocated", (unsigned long)s->base,
                   spanclass_sizeclass(s->spanclass), s->alloccount, n);
    unsigned sc = spanclass_sizeclass(s->spanclass);
    uint32_t sg = gcrt_heap_.sweepgen;
    if (s->sweepgen != sg)
        gcrt_fatal("gcverify: span %#lx (class %u) sweepgen %u at mark end, heap sweepgen %u", (unsigned long)s->base,
                   sc, s->sweepgen, sg);
    if (sc ? s->elemsize != gcrt_class_size[sc] || s->nelems != gcrt_class_nelems[sc] ||
                 s->npages != gcrt_class_npages[sc]
           : s->nelems != 1 || s->elemsize != s->npages * GCRT_PAGE_SIZE)
        gcrt_fatal("gcverify: span %#lx (class %u): %u slots of %zu bytes in %zu pages does not match its class",
                   (unsigned long)s->base, sc, s->nelems, s->elemsize, s->npages);
    if (s->limit != s->base + (size_t)s->nelems * s->elemsize)
        gcrt_fatal("gcverify: span %#lx limit %#lx", (unsigned long)s->base, (unsigned long)s->limit);
    size_t words = span_bitmap_words(s);
    if (s->nelems & 63) {
        uint64_t past = ~(uint64_t)0 << (s->nelems & 63);
        if ((s->allocbits[words - 1] | s->markbits[words - 1]) & past)
            gcrt_fatal("gcverify: span %#lx (class %u) has allocation or mark bits past its %u slots",
                       (unsigned long)s->base, sc, s->nelems);
    }
    for (size_t i = 0; i < s->nelems; i++) {
        bool alloc = span_slot_allocated(s, i);
        uintptr_t obj = s->base + i * s->elemsize;
        if (bit_get(s->markbits, i) && !alloc)
            gcrt_fatal("gcverify: free slot %#lx (span %#lx, class %u, slot %zu) is marked", (unsigned long)obj,
                       (unsigned long)s->base, sc, i);
        long off;
        if (!alloc && sc && (off = gcrt_debug_free_slot_bad(s, obj)) >= 0)
            gcrt_fatal("gcverify: free slot %#lx (span %#lx, size class %u, %zu bytes) is not free memory: word at "
                       "offset %ld was written after the slot was freed (or never cleared)", (unsigned long)obj,
                       (unsigned long)s->base, sc, s->elemsize, off);
    }
    unsigned kind = spanclass_kind(s->spanclass);
    if (kind == GCRT_SCAN_NOSCAN) return;
    if (gcrt_gt_mark[s->spanclass]) {   /* span-local marking: no grey object, no queued span */
        if (*span_gt_state(s))
            gcrt_fatal("gcverify: span %#lx (class %u) is still queued for span-local marking at mark end",
                       (unsigned long)s->base, sc);
        const uint64_t *scan = span_scanbits(s);
        for (size_t k = 0; k < words; k++) {
            uint64_t d = s->markbits[k] ^ scan[k];
            if (!d) continue;
            size_t i = k * 64 + (size_t)__builtin_ctzll(d);
            gcrt_fatal("gcverify: object %#lx (span %#lx, class %u, slot %zu) is %s at mark end (span-local marking)",
                       (unsigned long)(s->base + i * s->elemsize), (unsigned long)s->base, sc, i,
                       bit_get(s->markbits, i) ? "marked but was never scanned" : "scanned but not marked");
        }
    }
    for (size_t i = 0; i < s->nelems; i++) {
        if (!bit_get(s->markbits, i)) continue;
        uintptr_t obj = s->base + i * s->elemsize;
        for (size_t w = 0; w < s->elemsize / 8; w++) {
            size_t wi = (obj - s->base) / 8 + w;
            if (kind == GCRT_SCAN_TYPED && !bit_get(s->ptrbits, wi)) continue;
            check_word(obj + w * 8, gcrt_scan_load((uintptr_t *)obj + w), "heap");
        }
    }
}

/* Free runs and the heap counters. heap.lock: the scavenger (unregistered) may hold it. */
static void check_page_heap(void) {
    gcrt_heap *h = &gcrt_heap_;
    gcrt_lock(&h->lock);
    size_t free_bytes = 0;
    for (unsigned b = 0; b < GCRT_FREE_BINS; b++) {
        if (!h->free_bins[b].first != !(h->bin_mask & ((uint64_t)1 << b)))
            gcrt_fatal("gcverify: free bin %u and the bin mask disagree", b);
        for (gcrt_span *s = h->free_bins[b].first; s; s = s->next) {
            uintptr_t end = s->base + s->npages * GCRT_PAGE_SIZE;
            if (s->state != SPAN_FREE) gcrt_fatal("gcverify: span %#lx in free bin %u has state %u", (unsigned long)s->base, b, s->state);
            for (uintptr_t p = s->base; p < end; p += GCRT_PAGE_SIZE)
                if (span_of(p) != s) gcrt_fatal("gcverify: page %#lx of free run %#lx does not map to it", (unsigned long)p, (unsigned long)s->base);
            gcrt_span *n = end < h->arena_hi ? span_of(end) : NULL;
            if (n && n != s && n->base == end && n->state == SPAN_FREE)
                gcrt_fatal("gcverify: free runs %#lx and %#lx are adjacent (not coalesced)", (unsigned long)s->base, (unsigned long)end);
            free_bytes += s->npages * GCRT_PAGE_SIZE;
        }
    }
    /* heap_pcache: a chunk a pause left with a thread faulting it in (heap.c) */
    if (h->heap_sys != h->heap_inuse + h->heap_free + h->heap_released + h->heap_pcache)
        gcrt_fatal("gcverify: heap_sys %zu != heap_inuse %zu + heap_free %zu + heap_released %zu + heap_pcache %zu",
                   h->heap_sys, h->heap_inuse, h->heap_free, h->heap_released, h->heap_pcache);
    if (free_bytes > h->heap_free + h->heap_released)   /* less while a run is being scavenged */
        gcrt_fatal("gcverify: free runs hold %zu bytes, heap_free + heap_released = %zu", free_bytes,
                   h->heap_free + h->heap_released);
    pthread_mutex_unlock(&h->lock);
}

void gcrt_verify_marks(void) {
    nviolations = 0;
    for (gcrt_thread *t = gcrt_threads; t; t = t->next) {
        uintptr_t sp = t->stop_sp & ~(uintptr_t)7;
        if (sp >= t->stack_lo && sp < t->stack_hi) check_range(sp, t->stack_hi, "stack");
        check_range((uintptr_t)t->regs, (uintptr_t)(t->regs + t->nregs), "register");
    }
    gcrt_roots_each(check_range, "static/root");
    gcrt_pool_roots_each(check_range, "pool");
    gcrt_heap_for_each_span(check_span, NULL);
    check_page_heap();
    if (nviolations) gcrt_fatal("gcverify: %lu reachable objects left unmarked", nviolations);
}

/* ---- GODEBUG=gccheckmark=1 ----
 * After concurrent marking, with the world stopped, mark the heap again from the current
 * roots with separate bits, single-threaded and simple, and abort if it reaches an object
 * the concurrent mark left white. Everything reachable now was reachable at the snapshot
 * or allocated since (black), so any such object is a barrier or root bug. */
static uintptr_t *ck_stack;
static size_t ck_n, ck_cap;

static void ck_push(uintptr_t obj) {
    if (!gcrt_meta_grow((void **)&ck_stack, &ck_cap, ck_n, sizeof *ck_stack, 4096))
        gcrt_fatal("gccheckmark: out of memory");
    ck_stack[ck_n++] = obj;
}

static const char *ck_from = "?";
static uintptr_t ck_where, ck_snap;
static bool ck_lenient;          /* the words come from a thread stack or registers */
static unsigned long ck_stale;   /* unmarked objects seen only through such words */
static uintptr_t ck_parent;

static void ck_word(uintptr_t v) {
    gcrt_span *s = span_of_heap(v);
    if (!s) return;
    size_t i = span_objindex(s, v);
    if (!span_slot_allocated(s, i)) return;
    uint64_t bit = (uint64_t)1 << (i & 63);
    if (s->checkbits[i >> 6] & bit) return;
    s->checkbits[i >> 6] |= bit;
    uintptr_t obj = s->base + i * s->elemsize;
    if (!bit_get(s->markbits, i) && ck_lenient) {
        /* A conservative stack scan cannot tell a dead slot (or a dead register) from a
         * live one, and frames pushed since the snapshot reuse memory full of old values.
         * Such an object is counted, not followed. */
        s->checkbits[i >> 6] &= ~bit;
        ck_stale++;
        return;
    }
    if (!bit_get(s->markbits, i)) {
        gcrt_span *ps = ck_parent ? span_of(ck_parent) : NULL;
        size_t pi = ps ? span_objindex(ps, ck_parent) : 0;
        gcrt_fatal("gccheckmark: object %#lx (span %#lx, size class %u, %zu bytes, slot %zu: %s, span freeindex "
                   "%u) is reachable but was not marked; found through %#lx in %s %#lx%s at %#lx (snapshot sp %#lx)",
                   (unsigned long)obj, (unsigned long)s->base, spanclass_sizeclass(s->spanclass), s->elemsize, i,
                   bit_get(s->allocbits, i) ? "allocated before the cycle" : "allocated since the last sweep",
                   s->freeindex, (unsigned long)v, ck_from, (unsigned long)ck_parent,
                   ps ? (bit_get(ps->markbits, pi) ? " (marked)" : " (not marked)") : "", (unsigned long)ck_where, (unsigned long)ck_snap);
    }
    if (spanclass_kind(s->spanclass) != GCRT_SCAN_NOSCAN) ck_push(obj);
}

GCRT_NO_ASAN static void ck_range(uintptr_t lo, uintptr_t hi, void *arg) {
    (void)arg;
    gcrt_scan_roots_begin(lo, hi);
    for (uintptr_t p = round_up(lo, 8); p + 8 <= hi; p += 8) {
        ck_where = p;
        ck_word(gcrt_scan_load((uintptr_t *)p));
    }
    gcrt_scan_roots_end(lo, hi);
}

static void ck_alloc_bits(gcrt_span *s, void *arg) {
    (void)arg;
    s->checkbits = gcrt_meta_alloc(span_bitmap_words(s) * 8);
    if (!s->checkbits) gcrt_fatal("gccheckmark: out of memory");
}
static void ck_free_bits(gcrt_span *s, void *arg) {
    (void)arg;
    gcrt_meta_free(s->checkbits, span_bitmap_words(s) * 8);
    s->checkbits = NULL;
}

void gcrt_checkmark(void) {
    gcrt_heap_for_each_span(ck_alloc_bits, NULL);
    ck_n = 0;
    ck_stale = 0;
    ck_lenient = !gcrt_gc.gcstoptheworld;
    for (gcrt_thread *t = gcrt_threads; t; t = t->next) {
        uintptr_t sp = t->stop_sp & ~(uintptr_t)7;
        ck_from = "a thread stack";
        ck_parent = (uintptr_t)t->tid;
        ck_snap = t->snapshot_sp;
        ck_range(sp >= t->stack_lo && sp < t->stack_hi ? sp : t->stack_lo, t->stack_hi, NULL);
        ck_from = "thread registers";
        ck_range((uintptr_t)t->regs, (uintptr_t)(t->regs + t->nregs), NULL);
    }
    ck_lenient = false;
    ck_from = "static data or registered roots";
    ck_parent = 0;
    gcrt_roots_each(ck_range, NULL);
    ck_from = "a pool";
    gcrt_pool_roots_each(ck_range, NULL);
    ck_from = "heap object";
    while (ck_n) {
        uintptr_t obj = ck_stack[--ck_n];
        ck_parent = obj;
        gcrt_span *s = span_of(obj);
        if (spanclass_kind(s->spanclass) == GCRT_SCAN_TYPED) {
            size_t w0 = (obj - s->base) / 8;
            for (size_t w = 0; w < s->elemsize / 8; w++)
                if (bit_get(s->ptrbits, w0 + w)) ck_word(gcrt_scan_load((uintptr_t *)obj + w));
        } else {
            ck_range(obj, obj + s->elemsize, NULL);
        }
    }
    gcrt_heap_for_each_span(ck_free_bits, NULL);
    if (ck_stale)
        gcrt_warn("gccheckmark: %lu unmarked objects reached only through thread stacks or registers "
                        "(dead stack slots cannot be told from live ones; not an error by itself)", ck_stale);
}
