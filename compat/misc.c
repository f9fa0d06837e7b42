/*
 * misc.c: the rest of bdwgc 8.2's ABI that maps onto gcrt without state of its own: the
 * debugging allocator's entry points (GC_DEBUG builds call them; gcrt keeps no per-object
 * debug headers, so they are the plain calls, file and line unused), and tuning knobs that
 * have no gcrt counterpart, kept so that a program setting them reads back what it set.
 */
#define _GNU_SOURCE
#define GC_BUILD
#include "internal.h"
#include "compat/bdwgc.h"

#define DEBUG_ALLOC(name, plain)                                                              \
    GCRT_API void *name(size_t n, const char *file, int line);                               \
    void *name(size_t n, const char *file, int line) {                                        \
        (void)file, (void)line;                                                               \
        return plain(n);                                                                      \
    }
DEBUG_ALLOC(GC_debug_malloc, GC_malloc)
DEBUG_ALLOC(GC_debug_malloc_atomic, GC_malloc_atomic)
DEBUG_ALLOC(GC_debug_malloc_uncollectable, GC_malloc_uncollectable)
DEBUG_ALLOC(GC_debug_malloc_atomic_uncollectable, GC_malloc_atomic_uncollectable)
DEBUG_ALLOC(GC_debug_malloc_ignore_off_page, GC_malloc_ignore_off_page)
DEBUG_ALLOC(GC_debug_malloc_atomic_ignore_off_page, GC_malloc_atomic_ignore_off_page)
DEBUG_ALLOC(GC_debug_malloc_stubborn, GC_malloc)

GCRT_API void *GC_debug_malloc_replacement(size_t n);
void *GC_debug_malloc_replacement(size_t n) { return GC_malloc(n); }
GCRT_API void *GC_debug_realloc_replacement(void *p, size_t n);
void *GC_debug_realloc_replacement(void *p, size_t n) { return GC_realloc(p, n); }
GCRT_API void *GC_debug_realloc(void *p, size_t n, const char *file, int line);
void *GC_debug_realloc(void *p, size_t n, const char *file, int line) {
    (void)file, (void)line;
    return GC_realloc(p, n);
}
GCRT_API void GC_debug_free(void *p);
void GC_debug_free(void *p) { GC_free(p); }
GCRT_API char *GC_debug_strdup(const char *s, const char *file, int line);
char *GC_debug_strdup(const char *s, const char *file, int line) {
    (void)file, (void)line;
    return GC_strdup(s);
}
GCRT_API char *GC_debug_strndup(const char *s, size_t n, const char *file, int line);
char *GC_debug_strndup(const char *s, size_t n, const char *file, int line) {
    (void)file, (void)line;
    return GC_strndup(s, n);
}
#define DEBUG_FIN(name, plain)                                                                \
    GCRT_API void name(void *obj, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn, void **ocd); \
    void name(void *obj, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn, void **ocd) { \
        plain(obj, fn, cd, ofn, ocd);                                                         \
    }
DEBUG_FIN(GC_debug_register_finalizer, GC_register_finalizer)
DEBUG_FIN(GC_debug_register_finalizer_ignore_self, GC_register_finalizer_ignore_self)
DEBUG_FIN(GC_debug_register_finalizer_no_order, GC_register_finalizer_no_order)
DEBUG_FIN(GC_debug_register_finalizer_unreachable, GC_register_finalizer_unreachable)
GCRT_API void GC_debug_change_stubborn(const void *p);
void GC_debug_change_stubborn(const void *p) { (void)p; }
GCRT_API void GC_debug_end_stubborn_change(const void *p);
void GC_debug_end_stubborn_change(const void *p) { (void)p; }
GCRT_API void GC_debug_ptr_store_and_dirty(void *p, const void *q);
void GC_debug_ptr_store_and_dirty(void *p, const void *q) { GC_ptr_store_and_dirty(p, q); }
GCRT_API void GC_debug_register_displacement(size_t n);
void GC_debug_register_displacement(size_t n) { GC_register_displacement(n); }
GCRT_API GC_word GC_get_debug_header_size(void);
GC_word GC_get_debug_header_size(void) { return 0; }

/* Knobs with no gcrt counterpart: stored and read back (docs/bdwgc.md). */
#define KNOB(type, getter, setter, var)                                                       \
    GCRT_API type getter(void);                                                               \
    GCRT_API void setter(type v);                                                             \
    type getter(void) { return var; }                                                         \
    void setter(type v) { var = v; }
extern int GC_dont_expand, GC_full_freq, GC_dont_precollect;
extern GC_word GC_max_retries, GC_time_limit;
static int force_unmap, pages_executable, max_prior, markers, handle_fork = 1;
static GC_word min_bytes, rate = 10, per_finalizer = 10000;
KNOB(int, GC_get_dont_expand, GC_set_dont_expand, GC_dont_expand)
KNOB(int, GC_get_full_freq, GC_set_full_freq, GC_full_freq)
KNOB(int, GC_get_dont_precollect, GC_set_dont_precollect, GC_dont_precollect)
KNOB(GC_word, GC_get_max_retries, GC_set_max_retries, GC_max_retries)
KNOB(unsigned long, GC_get_time_limit, GC_set_time_limit, GC_time_limit)
KNOB(int, GC_get_force_unmap_on_gcollect, GC_set_force_unmap_on_gcollect, force_unmap)
KNOB(int, GC_get_pages_executable, GC_set_pages_executable, pages_executable)
KNOB(int, GC_get_max_prior_attempts, GC_set_max_prior_attempts, max_prior)
KNOB(GC_word, GC_get_min_bytes_allocd, GC_set_min_bytes_allocd, min_bytes)
KNOB(int, GC_get_rate, GC_set_rate, rate)
KNOB(GC_word, GC_get_allocd_bytes_per_finalizer, GC_set_allocd_bytes_per_finalizer, per_finalizer)
KNOB(GC_word, GC_get_non_gc_bytes, GC_set_non_gc_bytes, GC_non_gc_bytes)
KNOB(int, GC_get_no_dls, GC_set_no_dls, GC_no_dls)
GCRT_API void GC_set_markers_count(unsigned n);
void GC_set_markers_count(unsigned n) { markers = (int)n; }   /* GOMAXPROCS sets gcrt's */
GCRT_API void GC_set_handle_fork(int v);
void GC_set_handle_fork(int v) { handle_fork = v; }   /* gcrt always installs its fork handlers */
GCRT_API int GC_get_parallel(void);
int GC_get_parallel(void) { return gcrt_gc.nmarkers > 1; }

/* Leak-finding mode reports instead of collecting: not gcrt's. Turning it off is a no-op. */
GCRT_API int GC_get_find_leak(void);
int GC_get_find_leak(void) { return 0; }
GCRT_API void GC_set_find_leak(int v);
void GC_set_find_leak(int v) {
    if (v) gcrt_bdw_unsupported("GC_set_find_leak(1) (leak-finding mode)");
}
/* GC_set_disable_automatic_collection(1): only explicit collections, as GOGC=off. */
static int no_auto, saved;
GCRT_API void GC_set_disable_automatic_collection(int v);
void GC_set_disable_automatic_collection(int v) {
    bdw_thread();
    if (v && !no_auto) saved = gc_set_percent(-1);
    else if (!v && no_auto) gc_set_percent(saved);
    no_auto = v != 0;
}
GCRT_API int GC_get_disable_automatic_collection(void);
int GC_get_disable_automatic_collection(void) { return no_auto; }

GCRT_API void GC_deinit(void);
void GC_deinit(void) {}   /* gcrt's heap lives until the process ends */
GCRT_API void GC_atfork_prepare(void);
GCRT_API void GC_atfork_parent(void);
GCRT_API void GC_atfork_child(void);
void GC_atfork_prepare(void) {}   /* gcrt_init installed its own pthread_atfork handlers */
void GC_atfork_parent(void) {}
void GC_atfork_child(void) {}

/* Identity helpers bdwgc's pointer-checking macros call. */
GCRT_API void GC_noop1(GC_word x);
void GC_noop1(GC_word x) { __asm__ volatile("" : : "r"(x) : "memory"); }
GCRT_API void *GC_clear_stack(void *arg);
void *GC_clear_stack(void *arg) { return arg; }
GCRT_API void *GC_same_obj(void *p, void *q);
void *GC_same_obj(void *p, void *q) {
    (void)q;
    return p;
}
GCRT_API void *GC_is_visible(void *p);
void *GC_is_visible(void *p) { return p; }
GCRT_API void *GC_is_valid_displacement(void *p);
void *GC_is_valid_displacement(void *p) { return p; }
GCRT_API void *GC_pre_incr(void **p, ptrdiff_t how_much);
void *GC_pre_incr(void **p, ptrdiff_t how_much) { return *p = (char *)*p + how_much; }
GCRT_API void *GC_post_incr(void **p, ptrdiff_t how_much);
void *GC_post_incr(void **p, ptrdiff_t how_much) {
    void *old = *p;
    *p = (char *)old + how_much;
    return old;
}

/* libgc.so.1's internal data (thread-local free lists, gcj kinds, the GC_arrays block),
 * exported because its inline allocation macros reach them. Defined with bdwgc's sizes so
 * that a binary importing them still loads under LD_PRELOAD; gcrt never reads them. */
GCRT_API void *GC_objfreelist_ptr, *GC_aobjfreelist_ptr, *GC_uobjfreelist_ptr, *GC_auobjfreelist_ptr;
GCRT_API int GC_gcj_kind, GC_gcj_debug_kind;
GCRT_API char GC_arrays[0x2c9f0];
