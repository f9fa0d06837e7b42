/*
 * kinds.c: bdwgc's object kinds and mark procedures (gc_mark.h) on gcrt: GC_new_kind,
 * GC_new_proc, GC_generic_malloc(_many), GC_mark_and_push, GC_push_*, the start callback
 * and GC_push_other_roots.
 *
 * Invariants:
 * - A kind whose descriptor is "scan the whole object" (length 0 plus the size) is plain
 *   gc_alloc memory, "scan nothing" (length 0) is gc_alloc_noscan memory. Any other kind's
 *   objects are typed objects with no pointer bits, listed in `objs` (object -> kind): the
 *   marker hands each grey one to scan_hook (gcrt_scan_hook), which interprets the kind's
 *   descriptor as bdwgc's marker would (length, bitmap, mark procedure, per-object), so
 *   nothing of such an object is traced but what its descriptor says. An object not yet in
 *   `objs` (between allocation and insertion) is still all zero: tracing none of it is right.
 * - Custom kinds need the stop-the-world mark: procedures read the program's structures
 *   (Guile's VM stacks), which must not change under them, and `objs` is read by markers
 *   without a lock, so its updates (in critical sections) never overlap a mark.
 * - A mark procedure gets a mark stack of bdwgc's layout ({start, descriptor} entries,
 *   msp at the top entry, limit one past the last usable one) in per-thread metadata
 *   memory. GC_mark_and_push greys at once (gcrt_grey: marked, and queued unless noscan)
 *   and returns msp unchanged, so procedures using the public interface never fill it.
 *   Entries a procedure writes itself are interpreted after it returns; if it returns a
 *   pointer at or past the limit (bdwgc's overflow), the whole object is done again with
 *   a stack twice the size: everything done is greying and scanning, which is idempotent,
 *   so a retry can only find what the first try missed.
 * - Entries of dead objects leave `objs` at mark termination (gcrt_mark_final_hook, after
 *   unordered finalizers resurrected theirs), before sweeping can reuse their slots.
 */
#define _GNU_SOURCE
#define GC_BUILD
#include "internal.h"
#include "compat/bdwgc.h"
#include "compat/include/gc_mark.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

/* bdwgc's mark stack entry (gc_pmark.h's mse); the public header keeps it opaque. */
typedef struct mse {
    void *start;
    GC_word descr;
} mse;

enum { PREDEF_KINDS = 4, MAX_KINDS = 64, FREELIST_WORDS = 256 };
enum { HOW_CONS, HOW_NOSCAN, HOW_HOOK };

typedef struct kind {
    void **fl;   /* the caller's free list, which gcrt never fills; owned here, as in bdwgc */
    GC_word descr;
    int adjust, clear, how;
} kind;
static kind kinds[MAX_KINDS];
static unsigned nkinds = PREDEF_KINDS;
static GC_mark_proc procs[GC_MAX_MARK_PROCS];
static unsigned nprocs = GC_RESERVED_MARK_PROCS;
static pthread_mutex_t kinds_lock = PTHREAD_MUTEX_INITIALIZER;
static gcrt_bdw_tab objs;   /* hooked object -> kind index; not a root */
static volatile int have_hooks;

static GC_start_callback_proc start_cb;
static void no_other_roots(void) {}
/* bdwgc's variable, called while the roots are pushed (ECL assigns it directly). */
GCRT_API void (*GC_push_other_roots)(void) = no_other_roots;

/* ---- the mark stack and descriptors ---- */

#define STACK_SLACK 16   /* entries past the limit a careless procedure may write */
#define STACK_MIN 512
#define STACK_MAX ((size_t)1 << 22)

typedef struct mark_ctx {
    gcrt_gcw *w;   /* the marker's work buffer while a procedure or push callback runs */
    mse *buf;      /* buf[0] is never used: an empty stack's top is buf */
    size_t cap;
} mark_ctx;
/* initial-exec: a marker reads it in a pause, where the dynamic model's first access in a
 * thread may malloc (DTV growth after a dlopen) under a lock a stopped thread holds */
static GCRT_TLS mark_ctx ctx;

static gcrt_gcw *ctx_w(const char *who) {
    if (!ctx.w) gcrt_fatal("%s: called outside a mark procedure or GC_push_other_roots callback", who);
    return ctx.w;
}

static void ensure_stack(size_t cap) {
    if (ctx.cap >= cap) return;
    mse *b = gcrt_meta_alloc(cap * sizeof(mse));
    if (!b) gcrt_fatal("bdwgc mark procedure: out of memory for a mark stack of %zu entries", cap);
    if (ctx.buf) gcrt_meta_free(ctx.buf, ctx.cap * sizeof(mse));
    ctx.buf = b;
    ctx.cap = cap;
}

GCRT_NO_ASAN static void scan_bitmap(gcrt_gcw *w, const uintptr_t *p, GC_word bm) {
    for (bm &= ~(GC_word)GC_DS_TAGS; bm; bm <<= 1, p++)
        if (bm & ((GC_word)1 << (sizeof(GC_word) * 8 - 1))) gcrt_grey(w, gcrt_scan_load(p));
}

/* bdwgc's GC_DS_PER_OBJECT: the descriptor stored in the object, or in its type record. */
static GC_word per_object(void *start, GC_word d) {
    GC_word off = d & ~(GC_word)GC_DS_TAGS;
    if (!((intptr_t)d < 0)) return *(GC_word *)((char *)start + off);
    char *type = *(char **)start;
    if (!type) return 0;
    return *(GC_word *)(type - ((intptr_t)d + (GC_INDIR_PER_OBJ_BIAS - GC_DS_PER_OBJECT)));
}

/* bdwgc's mark loop for one object, on the thread's stack: false if a procedure overflowed it. */
static bool mark_descr(gcrt_gcw *w, void *start, GC_word descr) {
    mse *base = ctx.buf + 1, *lim = ctx.buf + ctx.cap - STACK_SLACK, *top = base;
    *top = (mse){start, descr};
    while (top >= base) {
        mse e = *top--;
        switch (e.descr & GC_DS_TAGS) {
        case GC_DS_LENGTH:
            if (e.descr) gcrt_scan_range(w, (uintptr_t)e.start, (uintptr_t)e.start + e.descr);
            break;
        case GC_DS_BITMAP:
            scan_bitmap(w, e.start, e.descr);
            break;
        case GC_DS_PROC: {
            GC_word i = (e.descr >> GC_DS_TAG_BITS) & (GC_MAX_MARK_PROCS - 1);
            GC_mark_proc p = procs[i];
            if (!p) gcrt_fatal("bdwgc mark descriptor %#lx names mark procedure %lu, which GC_new_proc did not make",
                               (unsigned long)e.descr, (unsigned long)i);
            mse *r = (mse *)p(e.start, (struct GC_ms_entry *)top, (struct GC_ms_entry *)lim,
                              e.descr >> (GC_DS_TAG_BITS + GC_LOG_MAX_MARK_PROCS));
            if (r >= lim) return false;
            if (r < top) gcrt_fatal("bdwgc mark procedure %lu returned %p, below the stack pointer %p it was given",
                                    (unsigned long)i, (void *)r, (void *)top);
            top = r;
            break;
        }
        default: {
            GC_word d = per_object(e.start, e.descr);
            if (!d) break;
            if ((d & GC_DS_TAGS) == GC_DS_PER_OBJECT)
                gcrt_fatal("bdwgc per-object descriptor of %p is itself per-object (%#lx)", e.start, (unsigned long)d);
            *++top = (mse){e.start, d};   /* the slot just popped */
        }
        }
    }
    return true;
}

static void run_descr(gcrt_gcw *w, void *start, GC_word descr) {
    gcrt_gcw *saved = ctx.w;
    ctx.w = w;
    ensure_stack(STACK_MIN);
    while (!mark_descr(w, start, descr)) {
        if (ctx.cap >= STACK_MAX)
            gcrt_fatal("bdwgc mark procedure: object %p overflows a mark stack of %zu entries", start, ctx.cap);
        ensure_stack(ctx.cap * 2);
    }
    ctx.w = saved;
}

static bool scan_hook(gcrt_gcw *w, uintptr_t obj, size_t size) {
    uintptr_t k;
    if (!gcrt_bdw_tab_peek(&objs, obj, &k)) return false;
    const kind *kd = &kinds[k];
    run_descr(w, (void *)obj, kd->descr + (kd->adjust ? (GC_word)size : 0));
    return true;
}

/* Mark termination: forget the objects that die (their slots may be reused by others). */
static void mark_final(void) { gcrt_bdw_tab_sweep(&objs); }

static void cycle_start(void) {
    GC_start_callback_proc f = atomic_load_acquire(&start_cb);
    if (f) f();
}

/* Pause 1: the bounds bdwgc's GC_MARK_AND_PUSH tests before calling GC_mark_and_push (the
 * heap only grows outside pauses), then the program's own roots. */
static void roots(gcrt_gcw *w) {
    extern void *GC_least_plausible_heap_addr, *GC_greatest_plausible_heap_addr;
    GC_least_plausible_heap_addr = (void *)(gcrt_heap_.arena_lo - 1);
    GC_greatest_plausible_heap_addr = (void *)gcrt_heap_.arena_hi;
    void (*f)(void) = GC_push_other_roots;
    if (f && f != no_other_roots) {
        gcrt_gcw *saved = ctx.w;
        ctx.w = w;
        f();
        ctx.w = saved;
    }
}

void gcrt_bdw_kinds_init(void) {
    gcrt_bdw_tab_init(&objs, false);
    kinds[GC_I_PTRFREE] = (kind){NULL, 0, 0, 1, HOW_NOSCAN};
    kinds[GC_I_NORMAL] = (kind){NULL, 0, 1, 1, HOW_CONS};
    kinds[2] = (kind){NULL, 0, 1, 1, HOW_CONS};     /* UNCOLLECTABLE */
    kinds[3] = (kind){NULL, 0, 0, 1, HOW_NOSCAN};   /* AUNCOLLECTABLE */
    gcrt_cycle_start_hook = cycle_start;
    gcrt_roots_hook = roots;
    gcrt_mark_final_hook = mark_final;
}

/* ---- the mark interface ---- */

GCRT_API struct GC_ms_entry *GC_mark_and_push(void *obj, struct GC_ms_entry *msp, struct GC_ms_entry *msl, void **src) {
    (void)msl;
    (void)src;
    gcrt_grey(ctx_w("GC_mark_and_push"), (uintptr_t)obj);
    return msp;
}

GCRT_API void GC_push_all(void *lo, void *hi) {
    gcrt_gcw *w = ctx_w("GC_push_all");
    if ((uintptr_t)hi > (uintptr_t)lo) gcrt_scan_range(w, (uintptr_t)lo, (uintptr_t)hi);
}
GCRT_API void GC_push_all_eager(void *lo, void *hi) {
    gcrt_gcw *w = ctx_w("GC_push_all_eager");
    if ((uintptr_t)hi > (uintptr_t)lo) gcrt_scan_range(w, (uintptr_t)lo, (uintptr_t)hi);
}
/* All pages count as dirty: there is no incremental mode. */
GCRT_API void GC_push_conditional(void *lo, void *hi, int all) {
    (void)all;
    gcrt_gcw *w = ctx_w("GC_push_conditional");
    if ((uintptr_t)hi > (uintptr_t)lo) gcrt_scan_range(w, (uintptr_t)lo, (uintptr_t)hi);
}
/* Inside a mark: marked (and traced unless pointer-free, which only retains more). */
GCRT_API void GC_set_mark_bit(const void *p) { gcrt_grey(ctx_w("GC_set_mark_bit"), (uintptr_t)p); }

GCRT_API void GC_set_push_other_roots(void (*f)(void)) { GC_push_other_roots = f; }
GCRT_API void (*GC_get_push_other_roots(void))(void) { return GC_push_other_roots; }

GCRT_API void GC_set_start_callback(GC_start_callback_proc f) { atomic_store_release(&start_cb, f); }
GCRT_API GC_start_callback_proc GC_get_start_callback(void) { return atomic_load_acquire(&start_cb); }

/* gcrt restarts stopped threads without a signal: the suspend signal is the one to keep open. */
GCRT_API int GC_get_thr_restart_signal(void) { return gcrt_suspend_signal(); }

/* The root lock keeps a cycle from gathering static segments while the loader adds some,
 * as bdwgc's GC_dlopen waits out a collection. */
GCRT_API void *GC_dlopen(const char *path, int mode) {
    bdw_thread();
    gcrt_roots_lock();
    void *h = dlopen(path, mode);
    gcrt_roots_done();
    return h;
}

/* ---- kinds ---- */

GCRT_API void **GC_new_free_list_inner(void) {
    void **fl = calloc(FREELIST_WORDS, sizeof(void *));
    if (!fl) gcrt_fatal("GC_new_free_list: out of memory");
    return fl;
}
GCRT_API void **GC_new_free_list(void) { return GC_new_free_list_inner(); }

GCRT_API unsigned GC_new_kind_inner(void **fl, GC_word descr, int adjust, int clear) {
    if (!fl) gcrt_fatal("GC_new_kind: NULL free list");
    if ((adjust | clear) & ~1) gcrt_fatal("GC_new_kind: add_size_to_descriptor (%d) and clear_new_objects (%d) must be 0 or 1", adjust, clear);
    if ((descr & GC_DS_TAGS) == GC_DS_PROC && !procs[(descr >> GC_DS_TAG_BITS) & (GC_MAX_MARK_PROCS - 1)])
        gcrt_fatal("GC_new_kind: descriptor %#lx names a mark procedure GC_new_proc did not make", (unsigned long)descr);
    int how = descr == 0 ? (adjust ? HOW_CONS : HOW_NOSCAN) : HOW_HOOK;
    if (how == HOW_HOOK && !gcrt_gc.gcstoptheworld)
        gcrt_fatal("GC_new_kind: kinds with mark descriptors need the stop-the-world mark (GODEBUG=gcstoptheworld=0 is set)");
    gcrt_lock(&kinds_lock);
    if (nkinds == MAX_KINDS) gcrt_fatal("GC_new_kind: more than %d kinds", MAX_KINDS);
    unsigned k = nkinds;
    kinds[k] = (kind){fl, descr, adjust, clear, how};
    atomic_store_release(&nkinds, k + 1);
    if (how == HOW_HOOK && !have_hooks) {
        have_hooks = 1;
        gcrt_scan_hook = scan_hook;
    }
    pthread_mutex_unlock(&kinds_lock);
    return k;
}
GCRT_API unsigned GC_new_kind(void **fl, GC_word descr, int adjust, int clear) {
    bdw_thread();
    return GC_new_kind_inner(fl, descr, adjust, clear);
}

GCRT_API unsigned GC_new_proc_inner(GC_mark_proc p) {
    if (!p) gcrt_fatal("GC_new_proc: NULL procedure");
    gcrt_lock(&kinds_lock);
    if (nprocs == GC_MAX_MARK_PROCS) gcrt_fatal("GC_new_proc: more than %d mark procedures", GC_MAX_MARK_PROCS);
    unsigned i = nprocs++;
    procs[i] = p;
    pthread_mutex_unlock(&kinds_lock);
    return i;
}
GCRT_API unsigned GC_new_proc(GC_mark_proc p) {
    bdw_thread();
    return GC_new_proc_inner(p);
}

static const kind *kind_of(int k, const char *who) {
    if (k < 0 || (unsigned)k >= atomic_load_acquire(&nkinds))
        gcrt_fatal("%s: kind %d was not made by GC_new_kind", who, k);
    return &kinds[k];
}

static void *alloc_hooked(size_t n, unsigned k) {
    gcrt_thread *t = bdw_thread();
    size_t sz = n + (GC_all_interior_pointers ? 1 : 0);
    void *p = gcrt_alloc_slow(t, sz ? sz : 1, GCRT_SCAN_TYPED, NULL, 0);   /* no pointer bits */
    if (!p || gcrt_bdw_tab_put(&objs, (uintptr_t)p, k) < 0) return GC_get_oom_fn()(n);
    return p;
}

static void *generic_malloc(size_t n, int k, const char *who) {
    const kind *kd = kind_of(k, who);
    if (k == 2) return GC_malloc_uncollectable(n);
    if (k == 3) return GC_malloc_atomic_uncollectable(n);
    switch (kd->how) {
    case HOW_CONS:
        return GC_malloc(n);
    case HOW_NOSCAN:
        return GC_malloc_atomic(n);
    default:
        return alloc_hooked(n, (unsigned)k);
    }
}

GCRT_API void *GC_generic_malloc(size_t n, int k) { return generic_malloc(n, k, "GC_generic_malloc"); }
GCRT_API void *GC_generic_malloc_ignore_off_page(size_t n, int k) {
    return generic_malloc(n, k, "GC_generic_malloc_ignore_off_page");
}
GCRT_API void *GC_generic_or_special_malloc(size_t n, int k) { return generic_malloc(n, k, "GC_generic_or_special_malloc"); }
GCRT_API void *GC_debug_generic_or_special_malloc(size_t n, int k, const char *file, int line) {
    (void)file, (void)line;
    return generic_malloc(n, k, "GC_debug_generic_or_special_malloc");
}
GCRT_API void *GC_malloc_kind(size_t n, int k) { return generic_malloc(n, k, "GC_malloc_kind"); }
GCRT_API void *GC_malloc_kind_global(size_t n, int k) { return generic_malloc(n, k, "GC_malloc_kind_global"); }

GCRT_API void *GC_generic_malloc_uncollectable(size_t n, int k) {
    const kind *kd = kind_of(k, "GC_generic_malloc_uncollectable");
    if (kd->how == HOW_HOOK)
        gcrt_bdw_unsupported("GC_generic_malloc_uncollectable of a kind with a mark descriptor");
    return kd->how == HOW_CONS ? GC_malloc_uncollectable(n) : GC_malloc_atomic_uncollectable(n);
}

/* A chain of objects linked through their first words, about a 4 KiB block's worth as
 * bdwgc hands out. They are held in a stack array until linked: the links of pointer-free
 * objects are not traced, so an earlier one would otherwise die at a collection that a
 * later allocation starts. */
#define MANY_BYTES 4096
#define MANY_MAX 256
GCRT_API void GC_generic_malloc_many(size_t n, int k, void **result) {
    kind_of(k, "GC_generic_malloc_many");
    size_t each = round_up(n + (GC_all_interior_pointers ? 1 : 0), 16);
    size_t count = n <= MANY_BYTES / 2 ? MANY_BYTES / each : 1;
    if (count > MANY_MAX) count = MANY_MAX;
    if (n < sizeof(void *)) n = sizeof(void *);
    void *objs_[MANY_MAX];
    __asm__ volatile("" : : "r"(objs_) : "memory");   /* the array lives in memory, on the scanned stack */
    size_t got = 0;
    for (; got < count; got++) {
        objs_[got] = generic_malloc(n, k, "GC_generic_malloc_many");
        if (!objs_[got]) break;
    }
    void *head = NULL;
    while (got) {
        void *p = objs_[--got];
        *(void **)p = head;
        head = p;
    }
    *result = head;
    __asm__ volatile("" : : "r"(objs_) : "memory");
}
GCRT_API void *GC_malloc_many(size_t n) {
    void *r;
    GC_generic_malloc_many(n, GC_I_NORMAL, &r);
    return r;
}

GCRT_API int GC_get_kind_and_size(const void *p, size_t *psize) {
    bdw_thread();
    void *b = gc_base((void *)p);
    if (!b) gcrt_fatal("GC_get_kind_and_size(%p): not a GC object", p);
    if (psize) *psize = gc_size(b);
    uintptr_t k;
    if (have_hooks && gcrt_bdw_tab_get(&objs, (uintptr_t)b, &k)) return (int)k;
    gcrt_span *s = span_of_heap((uintptr_t)b);
    bool atomic = spanclass_kind(s->spanclass) == GCRT_SCAN_NOSCAN, unc = gcrt_bdw_is_uncollectable(b);
    return unc ? (atomic ? 3 : 2) : (atomic ? GC_I_PTRFREE : GC_I_NORMAL);
}

/* GC_free and GC_realloc of a hooked object (bdwgc.c): forget it / its kind. */
bool gcrt_bdw_kind_of(void *base, unsigned *k) {
    uintptr_t v;
    if (!have_hooks || !gcrt_bdw_tab_get(&objs, (uintptr_t)base, &v)) return false;
    if (k) *k = (unsigned)v;
    return true;
}
void gcrt_bdw_kind_forget(void *base) {
    if (have_hooks) gcrt_bdw_tab_del(&objs, (uintptr_t)base, NULL);
}
void *gcrt_bdw_kind_realloc(void *p, unsigned k, size_t n) {
    void *q = alloc_hooked(n, k);
    if (!q) return NULL;
    size_t old = gc_size(p);
    memcpy(q, p, old < n ? old : n);
    GC_free(p);
    return q;
}
