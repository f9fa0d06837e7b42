/*
 * debug.c: debug modes that catch misuse of GC memory, and what ASan and valgrind are told
 * about it.
 *
 *   GODEBUG=gcpoison=1    sweeping fills freed small objects (and the pages of freed spans)
 *                         with GCRT_POISON instead of zeroing them; handing a slot out checks
 *                         that it still holds the poison (or zero) and zeroes it, so a write
 *                         through a dangling pointer aborts naming the object and its class.
 *   GODEBUG=gcstress=N    a full collection every N allocations of each thread.
 *   GODEBUG=gcstorecheck=1  the barrier flag stays on, so every GC_STORE comes here with its
 *                         slot; a slot outside live GC objects, registered roots, static data
 *                         and the caller's stack aborts (the stored pointer would be invisible).
 *
 * Invariants:
 *  - With gcrt_debug_hooks set, every cached span has alloccache == 0 outside the slow path
 *    (cache.c), so every slot handed out passes gcrt_debug_alloc_slot: no check is needed on
 *    the fast path, which is unchanged. Without hooks nothing here runs.
 *  - "Free slots are zero" (docs/architecture.md) becomes "free slots are zero or all
 *    GCRT_POISON" under gcpoison, and pages of free runs that need zeroing are each all zero
 *    or all poison; a slot is always zero when it is handed out.
 *  - Memory states told to the tools (ASan build: -DGCRT_ASAN; valgrind build:
 *    -DGCRT_VALGRIND): a small slot is addressable exactly while allocated; a large object's
 *    pages while in use; free pages never. The collector's own reads of free memory
 *    (gcverify, the poison check) open the range first. Conservative scans read freely:
 *    mark.c's scans are not instrumented (GCRT_NO_ASAN) and load through gcrt_scan_load.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>

#ifdef GCRT_ASAN
#include <sanitizer/asan_interface.h>
#define MEM_NOACCESS(p, n) ASAN_POISON_MEMORY_REGION((void *)(p), (n))
#define MEM_ACCESS(p, n) ASAN_UNPOISON_MEMORY_REGION((void *)(p), (n))
#define MEM_TOOL 1
#elif defined(GCRT_VALGRIND)
#define MEM_NOACCESS(p, n) VALGRIND_MAKE_MEM_NOACCESS((void *)(p), (n))
#define MEM_ACCESS(p, n) VALGRIND_MAKE_MEM_DEFINED((void *)(p), (n))
#define MEM_TOOL 1
#else
#define MEM_NOACCESS(p, n) ((void)(p), (void)(n))
#define MEM_ACCESS(p, n) ((void)(p), (void)(n))
#define MEM_TOOL 0
#endif

int gcrt_debug_hooks;

void gcrt_debug_init(void) {
    gcrt_gcstate *g = &gcrt_gc;
    gcrt_debug_hooks = g->gcpoison || g->gcstress || MEM_TOOL;
#ifdef GCRT_ASAN
    /* With detect_stack_use_after_return, ASan moves locals into "fake" frames allocated
     * off the thread stack, where the conservative stack scan does not look: objects only
     * they reference would be freed while in use. Refuse rather than corrupt. */
    if (__asan_get_current_fake_stack())
        gcrt_fatal("ASan's detect_stack_use_after_return is on: locals live in fake stack frames that gcrt's "
                   "stack scan cannot see; run with ASAN_OPTIONS=detect_stack_use_after_return=0");
#endif
    if (g->gcstorecheck) gc_write_barrier_on = 1;
}

/* ---- gcpoison ---- */

static GCRT_NO_ASAN void fill(uintptr_t p, size_t n, uint64_t v) {
    for (size_t i = 0; i < n; i += 8) *(volatile uint64_t *)(p + i) = v;
}

/* The offset of the first word of [p, p+n) that is neither all zero nor all poison like
 * the first one, or -1. */
static GCRT_NO_ASAN long first_bad_word(uintptr_t p, size_t n) {
    uint64_t w0 = *(const volatile uint64_t *)p;
    if (w0 != 0 && w0 != GCRT_POISON) return 0;
    for (size_t i = 8; i < n; i += 8)
        if (*(const volatile uint64_t *)(p + i) != w0) return (long)i;
    return -1;
}

static __attribute__((noreturn)) void report_write_after_free(const char *what, uintptr_t obj, unsigned sc,
                                                                size_t size, long off) {
    uint64_t v = *(const volatile uint64_t *)(obj + (size_t)off);
    gcrt_fatal("gcpoison: write to freed memory: %s %#lx (size class %u, %zu bytes) was modified after it "
               "was freed: the word at offset %ld holds %#llx", what, (unsigned long)obj, sc, size, off,
               (unsigned long long)v);
}

/* A slot about to be handed out: it must still be as sweeping left it. */
void gcrt_debug_alloc_slot(gcrt_span *s, uintptr_t p) {
    MEM_ACCESS(p, s->elemsize);
    if (!gcrt_gc.gcpoison) return;
    long off = first_bad_word(p, s->elemsize);
    if (off >= 0) report_write_after_free("object", p, spanclass_sizeclass(s->spanclass), s->elemsize, off);
    if (*(const uint64_t *)p) memset((void *)p, 0, s->elemsize);
}

void gcrt_debug_free_slot(gcrt_span *s, uintptr_t p) {
    fill(p, s->elemsize, gcrt_gc.gcpoison ? GCRT_POISON : 0);
    MEM_NOACCESS(p, s->elemsize);
}

/* The pages of a span go back to the page heap. */
void gcrt_debug_pages_freed(uintptr_t base, size_t bytes) {
    MEM_ACCESS(base, bytes);
    if (gcrt_gc.gcpoison) fill(base, bytes, GCRT_POISON);
    MEM_NOACCESS(base, bytes);
}

/* Pages leave the page heap for a new span. Dirty runs are checked a page at a time:
 * each page was zero (fresh or released) or poisoned when its span was freed. */
void gcrt_debug_pages_taken(uintptr_t base, size_t bytes, bool dirty, bool small) {
    (void)small;
    MEM_ACCESS(base, bytes);
    if (!gcrt_gc.gcpoison || !dirty) return;
    for (uintptr_t pg = base; pg < base + bytes; pg += GCRT_PAGE_SIZE) {
        long off = first_bad_word(pg, GCRT_PAGE_SIZE);
        if (off >= 0) report_write_after_free("page of a freed span", pg, 0, GCRT_PAGE_SIZE, off);
    }
}

/* A new small span has no slot handed out yet. */
void gcrt_debug_pages_zeroed(uintptr_t base, size_t bytes, bool small) {
    if (small) MEM_NOACCESS(base, bytes);
}

long gcrt_debug_free_slot_bad(const gcrt_span *s, uintptr_t p) {
    MEM_ACCESS(p, s->elemsize);
    long off = first_bad_word(p, s->elemsize);
    if (off < 0 && !gcrt_gc.gcpoison && *(const uint64_t *)p) off = 0;   /* poison without gcpoison */
    if (gcrt_debug_hooks) MEM_NOACCESS(p, s->elemsize);
    return off;
}

/* ---- gcstress ---- */

static GCRT_TLS unsigned long stress_count;

void gcrt_debug_after_alloc(void *p) {
    int n = gcrt_gc.gcstress;
    if (!n || ++stress_count < (unsigned long)n) return;
    stress_count = 0;
    gcrt_collect(false);
    gc_keep_alive(p);   /* the new object lives in this frame across the collection */
}

/* ---- gcstorecheck ---- */

/* gc_base reads the allocation state under the span's sweep seqlock: a span being swept
 * concurrently swaps its bitmaps, and a plain read could see a live object as free. */
static bool in_live_object(uintptr_t p) { return gc_base((const void *)p) != NULL; }

static void check_store(uintptr_t slot) {
    if (in_live_object(slot)) return;
    gcrt_thread *t = gcrt_self;
    if (t && slot >= t->stack_lo && slot < t->stack_hi) return;
    if (gcrt_roots_contain(slot)) return;
    gcrt_span *s = span_of(slot);
    if (s && atomic_load_acquire(&s->state) == SPAN_INUSE && slot >= s->base && slot < s->limit)
        gcrt_fatal("gcstorecheck: GC_STORE into %#lx, inside a freed object of size class %u (%zu bytes): "
                   "a store through a dangling pointer", (unsigned long)slot, spanclass_sizeclass(s->spanclass),
                   s->elemsize);
    gcrt_fatal("gcstorecheck: GC_STORE into %#lx, which is not in a GC object, registered roots, static data "
               "or the calling thread's stack (malloc'd memory?): the collector does not scan it, so the "
               "stored pointer does not keep its object alive", (unsigned long)slot);
}

/* GC_STORE's slow path (gcrt.h): shade the old value while marking, then store. Under
 * gcstorecheck the flag is on even when marking is off, so the test of `marking` and the
 * store must not straddle pause 1: they share a critical section, which a stop waits out. */
GCRT_API void gc_write_barrier_store(void *slot, void *value) {
    void *volatile *sp = slot;
    if (likely(!gcrt_gc.gcstorecheck)) {
        gc_write_barrier_slow(*sp);
        *sp = value;
        return;
    }
    check_store((uintptr_t)slot);   /* may wait for roots_lock: not in a critical section */
    gcrt_thread *t = gcrt_self;
    if (t) gcrt_enter(t);
    if (gcrt_gc.marking) gc_write_barrier_slow(*sp);
    *sp = value;
    if (t) gcrt_leave(t);
}
