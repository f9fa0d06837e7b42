/*
 * bdwgc.c: bdwgc 8.2's API (compat/include/gc.h) on gcrt: allocation, roots, collection
 * control, statistics, threads. Finalizers and disappearing links are in finalize.c, kinds
 * and mark procedures in kinds.c, typed allocation in typed.c, the calls that have no
 * mapping in unsupported.c.
 *
 * Invariants:
 * - Marking runs with the world stopped (gcrt's gcstoptheworld mode), set at GC_init unless
 *   GODEBUG names gcstoptheworld itself: programs written for bdwgc store pointers without
 *   GC_STORE, and gcrt's concurrent SATB mark is sound only with the barrier.
 * - Every entry that touches the heap goes through bdw_thread(): the process is initialised
 *   and the calling thread registered (bdwgc registers threads made by GC_pthread_create or
 *   GC_register_my_thread; gcrt registers an unknown allocating thread instead of aborting,
 *   and its key destructor unregisters it at exit).
 * - While all-interior-pointers is on (bdwgc's default), collectable objects get one byte
 *   more, as bdwgc's EXTRA_BYTES, so a pointer one past the end still keeps the object.
 * - bdwgc's allocation lock (GC_call_with_alloc_lock) is taken by every collection before it
 *   stops the world, so no thread is asked to stop while it holds the lock; its unlock is
 *   one store, so a stop reaches the releasing thread only past its caller's next few
 *   instructions, unless the kernel preempts it there (Guile stores state it moved there).
 * - Uncollectable objects live in a hash set (uncoll) that is itself a registered root range:
 *   the conservative scan of the set marks and traces them. Its updates happen inside gcrt
 *   critical sections, so no pause sees it half-written.
 */
#define _GNU_SOURCE
#define GC_BUILD
#include "internal.h"
#include "compat/bdwgc.h"

#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The deprecated variables are the storage: a program that writes them directly is seen. */
GC_oom_func GC_oom_fn;
int GC_all_interior_pointers = 1;
int GC_dont_gc;
GC_word GC_free_space_divisor = 3;
GC_word GC_gc_no;
int GC_finalize_on_demand;
int GC_java_finalization = 1;
int GC_no_dls;
GC_word GC_non_gc_bytes;
/* Data symbols libgc.so.1 exports that no gcrt code reads: defined (sizes as bdwgc's) so
 * that a binary importing them still links under LD_PRELOAD; docs/bdwgc.md lists them. */
GCRT_API int GC_find_leak, GC_dont_expand, GC_full_freq = 19, GC_parallel, GC_use_entire_heap, GC_dont_precollect;
GCRT_API GC_word GC_max_retries, GC_time_limit = 50;
GCRT_API void *GC_stackbottom, *GC_least_plausible_heap_addr, *GC_greatest_plausible_heap_addr;
GCRT_API void *GC_on_heap_resize, *GC_is_visible_print_proc, *GC_same_obj_print_proc,
    *GC_is_valid_displacement_print_proc, *GC_on_abort;
GCRT_API GC_word GC_debug_header_size;

static volatile int bdw_inited;
static pthread_mutex_t bdw_lock = PTHREAD_MUTEX_INITIALIZER;   /* settings; never in a pause */

static void *default_oom(size_t n) {
    (void)n;
    return NULL;
}

static void default_warn(char *msg, GC_word arg) { fprintf(stderr, msg, arg); }
static GC_warn_proc warn_proc = default_warn;

void gcrt_bdw_warn(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(buf, sizeof buf, "GC Warning: ");
    vsnprintf(buf + n, sizeof buf - (size_t)n - 2, fmt, ap);
    va_end(ap);
    /* the proc takes a printf format: escape the message's own percent signs */
    char esc[1100], *o = esc;
    for (const char *p = buf; *p && o < esc + sizeof esc - 3; p++) {
        if (*p == '%') *o++ = '%';
        *o++ = *p;
    }
    *o++ = '\n';
    *o = 0;
    warn_proc(esc, 0);
}

void gcrt_bdw_unsupported(const char *call) {
    gcrt_fatal("%s: not supported by gcrt's bdwgc compatibility library (docs/bdwgc.md)", call);
}

static int uncoll_init(void);
static void alloc_lock_init(void);
static int disabled;                 /* GC_disable depth */
static int saved_percent = 100;      /* GOGC while disabled */
static int64_t saved_limit = INT64_MAX;

static int divisor_percent(GC_word d) {
    int p = (int)(300 / (d ? d : 1));
    return p < 1 ? 1 : p;
}

static void bdw_init_slow(void) {
    gc_init();
    gcrt_lock(&bdw_lock);
    if (!bdw_inited) {
        const char *dbg = getenv("GODEBUG");
        if (!dbg || !strstr(dbg, "gcstoptheworld=")) gcrt_gc.gcstoptheworld = 1;
        gcrt_fin_manual = 1;   /* bdwgc runs finalizers in allocating threads, not a thread of its own */
        if (!GC_oom_fn) GC_oom_fn = default_oom;
        const char *g = getenv("GOGC"), *fsd = getenv("GC_FREE_SPACE_DIVISOR");
        if ((!g || !*g) && fsd && *fsd) {
            long v = strtol(fsd, NULL, 10);
            if (v > 0) GC_free_space_divisor = (GC_word)v;
        }
        if ((!g || !*g) && GC_free_space_divisor != 3) gc_set_percent(divisor_percent(GC_free_space_divisor));
        if (getenv("GC_DONT_GC")) GC_dont_gc = 1;
        uncoll_init();
        alloc_lock_init();
        gcrt_bdw_links_init();
        gcrt_bdw_kinds_init();
        atomic_store_release(&bdw_inited, 1);
    }
    pthread_mutex_unlock(&bdw_lock);
    if (GC_dont_gc) {
        GC_dont_gc = 0;
        GC_disable();
    }
}

gcrt_thread *gcrt_bdw_thread_slow(void) {
    if (!atomic_load_acquire(&bdw_inited)) bdw_init_slow();
    if (!gcrt_self) gc_register_thread();
    return gcrt_self;
}

GCRT_API void GC_init(void) { bdw_thread(); }
GCRT_API int GC_is_init_called(void) { return atomic_load_acquire(&bdw_inited); }

/* ---- allocation ---- */

static inline size_t extra(void) { return GC_all_interior_pointers ? 1 : 0; }

static void *oom(size_t n) {
    GC_oom_func f = GC_oom_fn ? GC_oom_fn : default_oom;
    return f(n);
}

GCRT_API void *GC_malloc(size_t n) {
    bdw_thread();
    void *p = gc_alloc(n + extra());
    if (unlikely(!p)) return oom(n);
    bdw_fin_poll();
    return p;
}

GCRT_API void *GC_malloc_atomic(size_t n) {
    bdw_thread();
    void *p = gc_alloc_noscan(n + extra());
    if (unlikely(!p)) return oom(n);
    bdw_fin_poll();
    return p;
}

GCRT_API void *GC_malloc_ignore_off_page(size_t n) { return GC_malloc(n); }
GCRT_API void *GC_malloc_atomic_ignore_off_page(size_t n) { return GC_malloc_atomic(n); }
GCRT_API void *GC_malloc_stubborn(size_t n) { return GC_malloc(n); }
GCRT_API void GC_change_stubborn(const void *p) { (void)p; }
GCRT_API void GC_end_stubborn_change(const void *p) { (void)p; }
GCRT_API void GC_ptr_store_and_dirty(void *p, const void *q) { *(const void **)p = q; }

GCRT_API char *GC_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    char *c = GC_malloc_atomic(n + 1);
    if (c) memcpy(c, s, n + 1);
    return c;
}

GCRT_API char *GC_strndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *c = GC_malloc_atomic(len + 1);
    if (c) {
        memcpy(c, s, len);
        c[len] = 0;
    }
    return c;
}

GCRT_API void *GC_base(void *p) { return gc_base(p); }
GCRT_API size_t GC_size(const void *p) { return gc_size(p); }
GCRT_API int GC_is_heap_ptr(const void *p) { return span_of_heap((uintptr_t)p) != NULL; }

/* Alignment up to 16 is what gcrt's size classes give objects of 16 bytes or more rounded
 * to 16; beyond that an interior pointer of a bigger object (bdwgc's GC_memalign does the
 * same for big alignments): GC_base of the result is not the result. */
GCRT_API void *GC_memalign(size_t align, size_t n) {
    if (align <= 16) return GC_malloc(round_up(n + extra(), 16) - extra());
    if (n > SIZE_MAX - align) return oom(n);
    char *p = GC_malloc(n + align);
    if (!p) return NULL;
    return (void *)round_up((uintptr_t)p, align);
}

GCRT_API int GC_posix_memalign(void **memptr, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = GC_memalign(align, n);
    if (!p) return ENOMEM;
    *memptr = p;
    return 0;
}

/* ---- uncollectable objects ---- */

static gcrt_bdw_tab uncoll;

static int uncoll_init(void) { return gcrt_bdw_tab_init(&uncoll, true); }
bool gcrt_bdw_is_uncollectable(void *base) { return gcrt_bdw_tab_get(&uncoll, (uintptr_t)base, NULL); }

static void *alloc_uncollectable(size_t n, bool atomic) {
    bdw_thread();
    /* no extra byte: an uncollectable object is kept alive by the set, not by pointers */
    void *p = atomic ? gc_alloc_noscan(n) : gc_alloc(n);
    if (unlikely(!p)) return oom(n);
    if (gcrt_bdw_tab_put(&uncoll, (uintptr_t)p, 0) < 0) return oom(n);   /* p dies with its frame */
    return p;
}

GCRT_API void *GC_malloc_uncollectable(size_t n) { return alloc_uncollectable(n, false); }
GCRT_API void *GC_malloc_atomic_uncollectable(size_t n) { return alloc_uncollectable(n, true); }

GCRT_API void GC_free(void *p) {
    if (!p) return;
    gcrt_thread *t = bdw_thread();
    void *b = gc_base(p);
    if (!b) {
        gcrt_bdw_warn("GC_free(%p): not a GC object; ignored", p);
        return;
    }
    if (gcrt_bdw_tab_del(&uncoll, (uintptr_t)b, NULL)) return;   /* collectable from now on */
    gcrt_bdw_kind_forget(b);   /* a custom-kind object: its slot may become anything */
    /* A collectable object is reclaimed by the next collection that finds it unreachable.
     * Clearing a scanned one now keeps a stale pointer to it from retaining what it held; with
     * the world stopped for marking this cannot hide anything from a mark in progress. */
    gcrt_enter(t);
    gcrt_span *s = span_of_heap((uintptr_t)b);
    bool clear = s && spanclass_kind(s->spanclass) != GCRT_SCAN_NOSCAN && !gcrt_gc.marking;
    size_t sz = s ? s->elemsize : 0;
    gcrt_leave(t);
    if (clear) memset(b, 0, sz);
}

GCRT_API void *GC_realloc(void *p, size_t n) {
    if (!p) return GC_malloc(n);
    if (n == 0) {
        GC_free(p);
        return NULL;
    }
    bdw_thread();
    if (gc_base(p) != p) gcrt_fatal("GC_realloc(%p): not the start of a GC object", p);
    unsigned k;
    if (gcrt_bdw_kind_of(p, &k)) return gcrt_bdw_kind_realloc(p, k, n);
    if (gcrt_bdw_tab_get(&uncoll, (uintptr_t)p, NULL)) {
        gcrt_span *s = span_of_heap((uintptr_t)p);
        bool atomic = spanclass_kind(s->spanclass) == GCRT_SCAN_NOSCAN;
        size_t old = gc_size(p);
        void *q = alloc_uncollectable(n, atomic);
        if (!q) return NULL;
        memcpy(q, p, old < n ? old : n);
        GC_free(p);
        return q;
    }
    void *q = gc_realloc(p, n + extra());
    if (unlikely(!q)) return oom(n);
    bdw_fin_poll();
    return q;
}

/* ---- roots ---- */

/* Ranges added by GC_add_roots, so that GC_remove_roots can take out every range inside
 * its arguments (bdwgc's rule; gc_remove_roots wants the exact range). */
typedef struct root_range {
    struct root_range *next;
    uintptr_t lo, hi;
} root_range;
static root_range *roots;

GCRT_API void GC_add_roots(void *low, void *high) {
    bdw_thread();
    uintptr_t lo = round_up((uintptr_t)low, sizeof(void *)), hi = (uintptr_t)high & ~(sizeof(void *) - 1);
    if (hi <= lo) return;
    gcrt_lock(&bdw_lock);
    for (root_range *r = roots; r; r = r->next)
        if (r->lo == lo && r->hi == hi) {
            pthread_mutex_unlock(&bdw_lock);
            return;
        }
    root_range *r = malloc(sizeof *r);
    if (!r || gc_add_roots((void *)lo, hi - lo) < 0) gcrt_fatal("GC_add_roots: out of memory");
    *r = (root_range){roots, lo, hi};
    roots = r;
    pthread_mutex_unlock(&bdw_lock);
}

static void remove_roots(uintptr_t lo, uintptr_t hi) {
    gcrt_lock(&bdw_lock);
    for (root_range **pp = &roots; *pp;) {
        root_range *r = *pp;
        if (r->lo >= lo && r->hi <= hi) {
            gc_remove_roots((void *)r->lo, r->hi - r->lo);
            *pp = r->next;
            free(r);
        } else pp = &r->next;
    }
    pthread_mutex_unlock(&bdw_lock);
}

GCRT_API void GC_remove_roots(void *low, void *high) {
    bdw_thread();
    remove_roots((uintptr_t)low, (uintptr_t)high);
}
GCRT_API void GC_clear_roots(void) {
    bdw_thread();
    remove_roots(0, UINTPTR_MAX);
}
/* Not scanning a range is bdwgc's optimisation; scanning it anyway only retains more. */
GCRT_API void GC_exclude_static_roots(void *low, void *high) {
    (void)low;
    (void)high;
    bdw_thread();
}
/* gcrt recognises every interior pointer: any displacement is already valid. */
GCRT_API void GC_register_displacement(size_t n) { (void)n; }

/* ---- collection control ---- */

GCRT_API void GC_gcollect(void) {
    bdw_thread();
    if (GC_dont_gc || atomic_load_relaxed(&disabled)) return;
    gc_collect();
    bdw_fin_poll();
}

GCRT_API void GC_gcollect_and_unmap(void) {
    bdw_thread();
    if (GC_dont_gc || atomic_load_relaxed(&disabled)) return;
    gc_free_os_memory();
    bdw_fin_poll();
}

GCRT_API int GC_try_to_collect(GC_stop_func stop) {
    (void)stop;   /* a stop-the-world mark cannot be abandoned half-way */
    bdw_thread();
    if (GC_dont_gc || atomic_load_relaxed(&disabled)) return 0;
    GC_gcollect();
    return 1;
}

GCRT_API int GC_collect_a_little(void) {
    bdw_fin_poll();
    return 0;   /* no collection is ever left in progress */
}

GCRT_API void GC_disable(void) {
    bdw_thread();
    gcrt_lock(&bdw_lock);
    if (disabled++ == 0) {
        saved_percent = gc_set_percent(-1);
        saved_limit = gc_set_memory_limit(INT64_MAX);
    }
    pthread_mutex_unlock(&bdw_lock);
}

GCRT_API void GC_enable(void) {
    bdw_thread();
    gcrt_lock(&bdw_lock);
    if (disabled == 0) {
        pthread_mutex_unlock(&bdw_lock);
        gcrt_fatal("GC_enable: called more often than GC_disable");
    }
    if (--disabled == 0) {
        gc_set_percent(saved_percent);
        gc_set_memory_limit(saved_limit);
    }
    pthread_mutex_unlock(&bdw_lock);
}

GCRT_API int GC_is_disabled(void) { return atomic_load_relaxed(&disabled) != 0 || GC_dont_gc; }

/* bdwgc's incremental mode needs dirty bits (mprotect or soft-dirty); gcrt's concurrent mark
 * needs GC_STORE. Neither is available to bdwgc programs: the mark stays in the pause. */
GCRT_API void GC_enable_incremental(void) { bdw_thread(); }
GCRT_API int GC_is_incremental_mode(void) { return 0; }
GCRT_API void GC_start_incremental_collection(void) { GC_gcollect(); }

GCRT_API void GC_set_free_space_divisor(GC_word d) {
    bdw_thread();
    if (d == 0) gcrt_fatal("GC_set_free_space_divisor(0): the divisor must be positive");
    gcrt_lock(&bdw_lock);
    GC_free_space_divisor = d;
    if (disabled) saved_percent = divisor_percent(d);
    else gc_set_percent(divisor_percent(d));
    pthread_mutex_unlock(&bdw_lock);
}
GCRT_API GC_word GC_get_free_space_divisor(void) { return GC_free_space_divisor; }

GCRT_API void GC_set_max_heap_size(GC_word n) {
    bdw_thread();
    gcrt_lock(&bdw_lock);
    int64_t lim = n == 0 || n > (GC_word)INT64_MAX ? INT64_MAX : (int64_t)n;
    if (disabled) saved_limit = lim;
    else gc_set_memory_limit(lim);
    pthread_mutex_unlock(&bdw_lock);
}

/* The heap grows on demand (and ahead, alloc/grow.c); reserving up front buys nothing. */
GCRT_API int GC_expand_hp(size_t bytes) {
    (void)bytes;
    bdw_thread();
    return 1;
}

GCRT_API void GC_set_all_interior_pointers(int v) { GC_all_interior_pointers = v != 0; }
GCRT_API int GC_get_all_interior_pointers(void) { return GC_all_interior_pointers; }

/* ---- statistics ---- */

static size_t heap_mapped(void) {
    size_t sys = atomic_load_relaxed(&gcrt_heap_.heap_sys), rel = atomic_load_relaxed(&gcrt_heap_.heap_released);
    return sys > rel ? sys - rel : 0;
}
static size_t heap_live(void) {
    int64_t l = atomic_load_relaxed(&gcrt_heap_live);
    return l > 0 ? (size_t)l : 0;
}

GCRT_API size_t GC_get_heap_size(void) { return heap_mapped(); }
GCRT_API size_t GC_get_free_bytes(void) {
    size_t m = heap_mapped(), l = heap_live();
    return m > l ? m - l : 0;
}
GCRT_API size_t GC_get_unmapped_bytes(void) { return atomic_load_relaxed(&gcrt_heap_.heap_released); }
GCRT_API size_t GC_get_bytes_since_gc(void) {
    size_t l = heap_live(), m = (size_t)atomic_load_relaxed(&gcrt_gc.heap_marked);
    return l > m ? l - m : 0;
}
GCRT_API size_t GC_get_memory_use(void) { return heap_live(); }
GCRT_API size_t GC_get_total_bytes(void) {
    bdw_thread();
    gc_memstats_t ms;
    gc_read_memstats(&ms);
    return (size_t)ms.total_alloc;
}
GCRT_API void GC_get_heap_usage_safe(GC_word *heap_size, GC_word *free_bytes, GC_word *unmapped_bytes,
                                     GC_word *bytes_since_gc, GC_word *total_bytes) {
    if (heap_size) *heap_size = GC_get_heap_size();
    if (free_bytes) *free_bytes = GC_get_free_bytes();
    if (unmapped_bytes) *unmapped_bytes = GC_get_unmapped_bytes();
    if (bytes_since_gc) *bytes_since_gc = GC_get_bytes_since_gc();
    if (total_bytes) *total_bytes = GC_get_total_bytes();
}
GCRT_API GC_word GC_get_gc_no(void) { return atomic_load_relaxed(&GC_gc_no); }
GCRT_API unsigned GC_get_version(void) { return (8u << 16) | (2u << 8) | 2u; }

GCRT_API void GC_dump(void) {
    bdw_thread();
    gc_memstats_t ms;
    gc_read_memstats(&ms);
    printf("gcrt (bdwgc compatibility): %u collections, heap %zu bytes (%zu unmapped), "
           "%llu bytes in %llu objects, longest pause %llu ns\n",
           ms.num_gc, GC_get_heap_size(), GC_get_unmapped_bytes(), (unsigned long long)ms.heap_alloc,
           (unsigned long long)ms.heap_objects, (unsigned long long)ms.pause_max_ns);
}

GCRT_API void GC_set_warn_proc(GC_warn_proc p) {
    if (!p) gcrt_fatal("GC_set_warn_proc: NULL procedure");
    warn_proc = p;
}
GCRT_API GC_warn_proc GC_get_warn_proc(void) { return warn_proc; }
GCRT_API void GC_ignore_warn_proc(char *msg, GC_word arg) {
    (void)msg;
    (void)arg;
}
GCRT_API void GC_set_oom_fn(GC_oom_func f) {
    if (!f) gcrt_fatal("GC_set_oom_fn: NULL function");
    GC_oom_fn = f;
}
GCRT_API GC_oom_func GC_get_oom_fn(void) { return GC_oom_fn ? GC_oom_fn : default_oom; }

/* ---- threads ---- */

GCRT_API int GC_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*start)(void *), void *arg) {
    bdw_thread();
    return gc_pthread_create(t, attr, start, arg);
}
GCRT_API int GC_pthread_join(pthread_t t, void **retval) { return pthread_join(t, retval); }
GCRT_API int GC_pthread_detach(pthread_t t) { return pthread_detach(t); }
GCRT_API int GC_pthread_cancel(pthread_t t) { return pthread_cancel(t); }
/* gcrt's key destructor unregisters the thread as it exits. */
GCRT_API void GC_pthread_exit(void *retval) { pthread_exit(retval); }
/* The signal that stops threads for a collection stays deliverable, as in bdwgc. */
GCRT_API int GC_pthread_sigmask(int how, const sigset_t *set, sigset_t *oset) {
    if (set && how != SIG_UNBLOCK) {
        sigset_t s = *set;
        sigdelset(&s, gcrt_suspend_signal());
        return pthread_sigmask(how, &s, oset);
    }
    return pthread_sigmask(how, set, oset);
}
GCRT_API int GC_get_suspend_signal(void) { return gcrt_suspend_signal(); }

GCRT_API int GC_get_stack_base(struct GC_stack_base *sb) {
    pthread_attr_t a;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &a)) return GC_UNIMPLEMENTED;
    int rc = pthread_attr_getstack(&a, &addr, &size);
    pthread_attr_destroy(&a);
    if (rc) return GC_UNIMPLEMENTED;
    sb->mem_base = (char *)addr + size;
    return GC_SUCCESS;
}

GCRT_API void *GC_call_with_stack_base(GC_stack_base_func fn, void *arg) {
    struct GC_stack_base sb;
    if (GC_get_stack_base(&sb) != GC_SUCCESS) sb.mem_base = __builtin_frame_address(0);
    return fn(&sb, arg);
}

GCRT_API void GC_allow_register_threads(void) { bdw_thread(); }   /* always allowed */
GCRT_API void GC_start_mark_threads(void) {}                     /* started when needed */

GCRT_API int GC_register_my_thread(const struct GC_stack_base *sb) {
    (void)sb;   /* gcrt finds the stack itself */
    if (!atomic_load_acquire(&bdw_inited)) bdw_init_slow();
    if (gcrt_self) return GC_DUPLICATE;
    return gc_register_thread() == 0 ? GC_SUCCESS : GC_NO_MEMORY;
}
GCRT_API int GC_unregister_my_thread(void) {
    if (!gcrt_self) return GC_NOT_FOUND;
    gc_unregister_thread();
    return GC_SUCCESS;
}
GCRT_API int GC_thread_is_registered(void) { return gcrt_self != NULL; }

typedef struct fn_call {
    GC_fn_type fn;
    void *cd, *ret;
} fn_call;
static void call_fn(void *a) {
    fn_call *c = a;
    c->ret = c->fn(c->cd);
}

GCRT_API void *GC_do_blocking(GC_fn_type fn, void *cd) {
    gcrt_thread *t = bdw_thread();
    fn_call c = {fn, cd, NULL};
    gcrt_blocking(t, call_fn, &c);
    return c.ret;
}

GCRT_API void *GC_call_with_gc_active(GC_fn_type fn, void *cd) {
    gcrt_thread *t = bdw_thread();
    fn_call c = {fn, cd, NULL};
    gcrt_blocking_active(t, call_fn, &c);
    return c.ret;
}

/* bdwgc's allocation lock: it excludes other callers (Guile expands VM stacks and reads weak
 * entries under it) and collections. A collection takes it before it stops the world and
 * gives it back once the world runs again (gcrt_stop_lock_hook), so no thread is asked to
 * stop while fn runs: a pointer fn reveals from a disappearing link is on the caller's
 * stack or in its registers before the next mark looks, and what fn's caller stores right
 * after the call (Guile's vm_expand_stack stores the moved stack's pointer) is stored
 * before the thread stops. fn used to run as a gcrt critical section instead: a stop
 * requested meanwhile parked the thread as the section ended, before the caller's store,
 * and Guile's thread mark procedure scanned (and returned to the OS) the wrong stack.
 *
 * Waiters poll; none sleeps in the kernel on the lock word. A pthread mutex's unlock wakes
 * a sleeping waiter with a futex call, and a stop signal sent meanwhile (the collection
 * polling for the lock takes it as soon as it is free) parks the holder on that call's
 * return, still before the caller's store: Guile threads waiting for weak entries made that
 * happen within seconds. Unlocking here is one store, so the holder is past its caller's
 * next instructions before a stop can reach it unless the kernel preempts it in between,
 * as with bdwgc. Recursive, as fn may nest; fn must not allocate (in bdwgc it deadlocks):
 * a collection another thread is starting would wait for the lock and fn for it. */
static uintptr_t lock_owner;   /* &lock_id of the holding thread, or 0 */
static unsigned lock_depth;    /* written by the holder only */
static GCRT_TLS char lock_id;  /* its address names the thread, registered or not */

static void alloc_lock_take(void) {
    uintptr_t me = (uintptr_t)&lock_id;
    if (atomic_load_relaxed(&lock_owner) == me) {
        lock_depth++;
        return;
    }
    for (unsigned i = 0;; i++) {
        uintptr_t free_ = 0;
        if (atomic_load_relaxed(&lock_owner) == 0 &&
            __atomic_compare_exchange_n(&lock_owner, &free_, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            break;
        if (i < 64) {
            __builtin_ia32_pause();
        } else if (i < 96) {
            sched_yield();
        } else {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
    lock_depth = 1;
}

static void alloc_lock_give(void) {
    if (atomic_load_relaxed(&lock_owner) != (uintptr_t)&lock_id)
        gcrt_fatal("GC_alloc_unlock: the calling thread does not hold the allocation lock");
    if (--lock_depth == 0) atomic_store_release(&lock_owner, 0);
}

/* A child is the forking thread alone: a lock another thread held in the parent is free. */
static void alloc_lock_child(void) {
    if (lock_owner != (uintptr_t)&lock_id) {
        lock_owner = 0;
        lock_depth = 0;
    }
}

static void alloc_lock_init(void) {
    gcrt_stop_lock_hook = alloc_lock_take;
    gcrt_stop_unlock_hook = alloc_lock_give;
    if (pthread_atfork(NULL, NULL, alloc_lock_child) != 0) gcrt_fatal("GC_init: cannot install a fork handler");
}

GCRT_API void *GC_call_with_alloc_lock(GC_fn_type fn, void *cd) {
    bdw_thread();
    alloc_lock_take();
    void *r = fn(cd);
    alloc_lock_give();
    return r;
}
GCRT_API void GC_alloc_lock(void) {
    bdw_thread();
    alloc_lock_take();
}
GCRT_API void GC_alloc_unlock(void) { alloc_lock_give(); }
