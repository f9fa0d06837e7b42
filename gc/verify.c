/*
 * verify.c: GODEBUG=gcverify=1, a full check of the heap after marking, world stopped.
 *
 * Checks the tri-colour invariant at mark end: no black (marked, scannable) object and no
 * root word points to an allocated but unmarked object; and span invariants: in-use spans
 * map every page, alloccount matches the allocation bits, freeindex <= nelems. A violation
 * aborts with the addresses involved, before sweeping could free a reachable object.
 */
#include "internal.h"

#include <stdio.h>

static unsigned long nviolations;

static void check_word(uintptr_t where, uintptr_t v, const char *what) {
    gcrt_span *s = span_of_heap(v);
    if (!s) return;
    size_t i = span_objindex(s, v);
    if (!span_slot_allocated(s, i) || bit_get(s->markbits, i)) return;
    if (nviolations++ < 10)
        fprintf(stderr, "gcrt: gcverify: %s word at %#lx points to %#lx, object %#lx (class %u, span %#lx) is "
                        "allocated but not marked\n",
                what, (unsigned long)where, (unsigned long)v, (unsigned long)(s->base + i * s->elemsize),
                spanclass_sizeclass(s->spanclass), (unsigned long)s->base);
}

static void check_range(uintptr_t lo, uintptr_t hi, void *what) {
    for (uintptr_t p = round_up(lo, 8); p + 8 <= hi; p += 8) check_word(p, *(uintptr_t *)p, what);
}

static void check_span(gcrt_span *s, uintptr_t page) {
    for (uintptr_t p = s->base; p < s->base + s->npages * GCRT_PAGE_SIZE; p += GCRT_PAGE_SIZE)
        if (span_of(p) != s) gcrt_fatal("gcverify: page %#lx of span %#lx does not map to it", (unsigned long)p, (unsigned long)s->base);
    if (s->freeindex > s->nelems) gcrt_fatal("gcverify: span %#lx freeindex %u > nelems %u", (unsigned long)s->base, s->freeindex, s->nelems);
    size_t n = 0;
    for (size_t i = 0; i < s->nelems; i++) n += span_slot_allocated(s, i);
    if (spanclass_sizeclass(s->spanclass) && n != s->alloccount)
        gcrt_fatal("gcverify: span %#lx (class %u) alloccount %u but %zu slots allocated", (unsigned long)s->base,
                   spanclass_sizeclass(s->spanclass), s->alloccount, n);
    (void)page;
    unsigned kind = spanclass_kind(s->spanclass);
    if (kind == GCRT_SCAN_NOSCAN) return;
    for (size_t i = 0; i < s->nelems; i++) {
        if (!bit_get(s->markbits, i)) continue;
        uintptr_t obj = s->base + i * s->elemsize;
        for (size_t w = 0; w < s->elemsize / 8; w++) {
            size_t wi = (obj - s->base) / 8 + w;
            if (kind == GCRT_SCAN_TYPED && !bit_get(s->ptrbits, wi)) continue;
            check_word(obj + w * 8, ((uintptr_t *)obj)[w], "heap");
        }
    }
}

void gcrt_verify_marks(void) {
    nviolations = 0;
    for (gcrt_thread *t = gcrt_threads; t; t = t->next) {
        uintptr_t sp = t->stop_sp & ~(uintptr_t)7;
        if (sp >= t->stack_lo && sp < t->stack_hi) check_range(sp, t->stack_hi, "stack");
        check_range((uintptr_t)t->regs, (uintptr_t)(t->regs + t->nregs), "register");
    }
    gcrt_roots_each(check_range, "static/root");
    for (uintptr_t a = gcrt_heap_.arena_lo; a < gcrt_heap_.arena_hi; a += GCRT_ARENA_SIZE) {
        gcrt_arena *ar = gcrt_arena_map[a >> GCRT_ARENA_SHIFT];
        if (!ar) continue;
        for (size_t pg = 0; pg < GCRT_PAGES_PER_ARENA; pg++) {
            gcrt_span *s = ar->spans[pg];
            uintptr_t page = a + pg * GCRT_PAGE_SIZE;
            if (s && s->state == SPAN_INUSE && s->base == page) check_span(s, page);
        }
    }
    if (nviolations) gcrt_fatal("gcverify: %lu reachable objects left unmarked", nviolations);
}
