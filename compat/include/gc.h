/*
 * gc.h: gcrt's bdwgc-compatible interface (libgcrt-bdwgc.so, pkg-config gcrt-bdwgc). The
 * names, types and constants are bdwgc 8.2's, so programs written for bdwgc build and run
 * unchanged; the collector underneath is gcrt's. docs/bdwgc.md is the migration guide: what
 * maps one to one, what differs, what is unsupported (those calls abort naming the call).
 *
 * Installed as <prefix>/include/gcrt/gc.h (and gcrt/gc/gc.h), with -I<prefix>/include/gcrt
 * in gcrt-bdwgc.pc, so that both #include <gc.h> and #include <gc/gc.h> find it and never
 * Debian's /usr/include/gc.h.
 */
#ifndef GCRT_BDWGC_GC_H
#define GCRT_BDWGC_GC_H
/* The guards bdwgc's own headers use, so that a stray include of the real one is a no-op. */
#define GC_H
#define GC_VERSION_MAJOR 8
#define GC_VERSION_MINOR 2
#define GC_VERSION_MICRO 2
#define GCRT_BDWGC 1   /* this is gcrt's gc.h, not bdwgc's */

#include <stddef.h>
#include <pthread.h>
#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GC_API extern __attribute__((visibility("default")))
#define GC_ATTR_MALLOC __attribute__((malloc))
#define GC_ATTR_ALLOC_SIZE(n) __attribute__((alloc_size(n)))
#define GC_ATTR_CALLOC_SIZE(n, m) __attribute__((alloc_size(n, m)))
#define GC_ATTR_NONNULL(n) __attribute__((nonnull(n)))
#else
#define GC_API extern
#define GC_ATTR_MALLOC
#define GC_ATTR_ALLOC_SIZE(n)
#define GC_ATTR_CALLOC_SIZE(n, m)
#define GC_ATTR_NONNULL(n)
#endif
#define GC_CALL
#define GC_CALLBACK
#define GC_ATTR_DEPRECATED

typedef void *GC_PTR;                 /* pre-8.0 name */
typedef unsigned long GC_word;
typedef long GC_signed_word;

/* ---- Initialisation and allocation ------------------------------------------------------ */

/* Initialise (idempotent); registers the calling thread. Allocation initialises too. */
GC_API void GC_init(void);
GC_API int GC_is_init_called(void);
#define GC_INIT() GC_init()

/* Collectable objects, zeroed. A pointer into an object (or one past its end, while
 * all-interior-pointers is on, the default) keeps it alive. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc(size_t size);
/* Holds no pointers: never scanned. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc_atomic(size_t size);
/* Never collected, scanned as a root, until GC_free. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc_uncollectable(size_t size);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc_atomic_uncollectable(size_t size);
/* bdwgc's hint that a pointer near the start will be kept; every interior pointer counts
 * in gcrt, so these are GC_malloc and GC_malloc_atomic. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc_ignore_off_page(size_t size);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc_atomic_ignore_off_page(size_t size);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc_stubborn(size_t size);
/* Like realloc: NULL p allocates, size 0 frees; keeps the kind (atomic, uncollectable). */
GC_API void *GC_realloc(void *p, size_t size);
/* Explicit deallocation of an object start (NULL: no-op). */
GC_API void GC_free(void *p);
GC_API GC_ATTR_MALLOC char *GC_strdup(const char *s);
GC_API GC_ATTR_MALLOC char *GC_strndup(const char *s, size_t n);
GC_API GC_ATTR_MALLOC void *GC_memalign(size_t align, size_t size);
/* 0, or EINVAL (align not a power of two multiple of sizeof(void *)) or ENOMEM. */
GC_API int GC_posix_memalign(void **memptr, size_t align, size_t size);
/* Start of the object p points into, or NULL. */
GC_API void *GC_base(void *p);
/* Usable bytes of the object starting at p. */
GC_API size_t GC_size(const void *p);
GC_API int GC_is_heap_ptr(const void *p);

GC_API void GC_change_stubborn(const void *p);
GC_API void GC_end_stubborn_change(const void *p);
/* There is no write barrier to honour: the store is a plain store. */
GC_API void GC_ptr_store_and_dirty(void *p, const void *q);

#define GC_MALLOC(sz) GC_malloc(sz)
#define GC_MALLOC_ATOMIC(sz) GC_malloc_atomic(sz)
#define GC_MALLOC_UNCOLLECTABLE(sz) GC_malloc_uncollectable(sz)
#define GC_MALLOC_ATOMIC_UNCOLLECTABLE(sz) GC_malloc_atomic_uncollectable(sz)
#define GC_MALLOC_IGNORE_OFF_PAGE(sz) GC_malloc_ignore_off_page(sz)
#define GC_MALLOC_ATOMIC_IGNORE_OFF_PAGE(sz) GC_malloc_atomic_ignore_off_page(sz)
#define GC_MALLOC_STUBBORN(sz) GC_malloc(sz)
#define GC_REALLOC(p, sz) GC_realloc(p, sz)
#define GC_FREE(p) GC_free(p)
#define GC_STRDUP(s) GC_strdup(s)
#define GC_STRNDUP(s, n) GC_strndup(s, n)
#define GC_NEW(t) ((t *)GC_MALLOC(sizeof(t)))
#define GC_NEW_ATOMIC(t) ((t *)GC_MALLOC_ATOMIC(sizeof(t)))
#define GC_NEW_UNCOLLECTABLE(t) ((t *)GC_MALLOC_UNCOLLECTABLE(sizeof(t)))
#define GC_NEW_STUBBORN(t) GC_NEW(t)
#define GC_CHANGE_STUBBORN(p) GC_change_stubborn(p)
#define GC_END_STUBBORN_CHANGE(p) GC_end_stubborn_change(p)
#define GC_PTR_STORE_AND_DIRTY(p, q) GC_ptr_store_and_dirty(p, q)
#define GC_REGISTER_FINALIZER(p, f, d, of, od) GC_register_finalizer(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_IGNORE_SELF(p, f, d, of, od) GC_register_finalizer_ignore_self(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_NO_ORDER(p, f, d, of, od) GC_register_finalizer_no_order(p, f, d, of, od)
#define GC_REGISTER_FINALIZER_UNREACHABLE(p, f, d, of, od) GC_register_finalizer_unreachable(p, f, d, of, od)
#define GC_GENERAL_REGISTER_DISAPPEARING_LINK(link, obj) GC_general_register_disappearing_link(link, obj)
#define GC_REGISTER_LONG_LINK(link, obj) GC_register_long_link(link, obj)
#define GC_REGISTER_DISPLACEMENT(n) GC_register_displacement(n)
#define GC_EXTRAS __FILE__, __LINE__
/* Keeps p visible to the collector up to this point. */
#define GC_reachable_here(p) __asm__ __volatile__(" " : : "X"(p) : "memory")

/* ---- Collection control ------------------------------------------------------------------ */

GC_API void GC_gcollect(void);                 /* full collection; then runs finalizers */
GC_API void GC_gcollect_and_unmap(void);       /* and returns free pages to the OS */
typedef int (*GC_stop_func)(void);
GC_API int GC_try_to_collect(GC_stop_func stop); /* collects to the end: 1 */
GC_API int GC_collect_a_little(void);          /* no incremental work: 0 */
GC_API void GC_disable(void);                  /* nests; GC_gcollect does nothing meanwhile */
GC_API void GC_enable(void);
GC_API int GC_is_disabled(void);
GC_API void GC_enable_incremental(void);       /* accepted; marking stays in the pause */
GC_API int GC_is_incremental_mode(void);
GC_API void GC_start_incremental_collection(void);
GC_API void GC_set_free_space_divisor(GC_word d);   /* GOGC = 300 / d (default 3 = 100) */
GC_API GC_word GC_get_free_space_divisor(void);
GC_API void GC_set_max_heap_size(GC_word n);   /* gcrt's soft memory limit */
GC_API int GC_expand_hp(size_t bytes);
GC_API void GC_set_all_interior_pointers(int v);
GC_API int GC_get_all_interior_pointers(void);
GC_API void GC_register_displacement(size_t n);

GC_API size_t GC_get_heap_size(void);
GC_API size_t GC_get_free_bytes(void);
GC_API size_t GC_get_unmapped_bytes(void);
GC_API size_t GC_get_bytes_since_gc(void);
GC_API size_t GC_get_total_bytes(void);
GC_API size_t GC_get_memory_use(void);
GC_API void GC_get_heap_usage_safe(GC_word *heap_size, GC_word *free_bytes, GC_word *unmapped_bytes,
                                   GC_word *bytes_since_gc, GC_word *total_bytes);
GC_API GC_word GC_get_gc_no(void);
GC_API unsigned GC_get_version(void);
GC_API void GC_dump(void);

typedef void (*GC_warn_proc)(char *msg, GC_word arg);
GC_API void GC_set_warn_proc(GC_warn_proc p);
GC_API GC_warn_proc GC_get_warn_proc(void);
GC_API void GC_ignore_warn_proc(char *msg, GC_word arg);
typedef void *(*GC_oom_func)(size_t bytes);
GC_API void GC_set_oom_fn(GC_oom_func f);
GC_API GC_oom_func GC_get_oom_fn(void);

/* Deprecated variables, read where bdwgc reads them (docs/bdwgc.md). */
GC_API GC_oom_func GC_oom_fn;
GC_API int GC_all_interior_pointers;
GC_API int GC_dont_gc;
GC_API GC_word GC_free_space_divisor;
GC_API GC_word GC_gc_no;
GC_API int GC_finalize_on_demand;
GC_API int GC_java_finalization;
GC_API int GC_no_dls;
GC_API GC_word GC_non_gc_bytes;

/* ---- Roots ------------------------------------------------------------------------------- */

GC_API void GC_add_roots(void *low, void *high_plus_1);          /* [low, high) */
GC_API void GC_remove_roots(void *low, void *high_plus_1);       /* ranges added inside it */
GC_API void GC_clear_roots(void);
GC_API void GC_exclude_static_roots(void *low, void *high_plus_1); /* accepted; still scanned */

/* ---- Finalization and disappearing links ------------------------------------------------ */

typedef void (*GC_finalization_proc)(void *obj, void *client_data);
/* Ordered (the default): in a chain A -> B both finalizable, A first; a cycle never. */
GC_API void GC_register_finalizer(void *obj, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn,
                                  void **ocd) GC_ATTR_NONNULL(1);
/* Like it, but pointers from the object to itself do not count. */
GC_API void GC_register_finalizer_ignore_self(void *obj, GC_finalization_proc fn, void *cd,
                                              GC_finalization_proc *ofn, void **ocd) GC_ATTR_NONNULL(1);
/* Finalized once unreachable from the roots, whatever other finalizable objects hold. */
GC_API void GC_register_finalizer_no_order(void *obj, GC_finalization_proc fn, void *cd,
                                           GC_finalization_proc *ofn, void **ocd) GC_ATTR_NONNULL(1);
GC_API void GC_register_finalizer_unreachable(void *obj, GC_finalization_proc fn, void *cd,
                                              GC_finalization_proc *ofn, void **ocd) GC_ATTR_NONNULL(1);
GC_API int GC_invoke_finalizers(void);          /* how many ran */
GC_API int GC_should_invoke_finalizers(void);
GC_API void GC_set_finalize_on_demand(int v);   /* 1: only GC_invoke_finalizers runs them */
GC_API int GC_get_finalize_on_demand(void);
typedef void (*GC_finalizer_notifier_proc)(void);
GC_API void GC_set_finalizer_notifier(GC_finalizer_notifier_proc p);
GC_API GC_finalizer_notifier_proc GC_get_finalizer_notifier(void);
GC_API GC_finalizer_notifier_proc GC_finalizer_notifier;
GC_API void GC_set_java_finalization(int v);
GC_API int GC_get_java_finalization(void);

#define GC_SUCCESS 0
#define GC_DUPLICATE 1
#define GC_NO_THREADS 2
#define GC_UNIMPLEMENTED 3
#define GC_NOT_FOUND 4
#define GC_NO_MEMORY 2

/* *link is set to NULL once obj is unreachable (link: an aligned word in static data, a
 * root range or a GC object; it is forgotten when its own object is collected). */
GC_API int GC_general_register_disappearing_link(void **link, const void *obj) GC_ATTR_NONNULL(1) GC_ATTR_NONNULL(2);
GC_API int GC_register_disappearing_link(void **link) GC_ATTR_NONNULL(1);   /* obj = GC_base(link) */
GC_API int GC_move_disappearing_link(void **link, void **new_link) GC_ATTR_NONNULL(2);
GC_API int GC_unregister_disappearing_link(void **link);   /* 1 if it was registered */
/* Cleared only when obj can no longer be brought back by its finalizer. */
GC_API int GC_register_long_link(void **link, const void *obj) GC_ATTR_NONNULL(1) GC_ATTR_NONNULL(2);
GC_API int GC_move_long_link(void **link, void **new_link) GC_ATTR_NONNULL(2);
GC_API int GC_unregister_long_link(void **link);

typedef GC_word GC_hidden_pointer;
#define GC_HIDE_POINTER(p) (~(GC_hidden_pointer)(p))
#define GC_REVEAL_POINTER(p) ((void *)GC_HIDE_POINTER(p))
#define HIDE_POINTER(p) GC_HIDE_POINTER(p)
#define REVEAL_POINTER(p) GC_REVEAL_POINTER(p)

typedef void *(*GC_fn_type)(void *client_data);
/* fn runs where no collection can start (not while any thread is stopped); it must not
 * allocate. The way to read a hidden pointer that a disappearing link may clear. */
GC_API void *GC_call_with_alloc_lock(GC_fn_type fn, void *client_data);
GC_API void GC_alloc_lock(void);
GC_API void GC_alloc_unlock(void);

/* ---- Threads ----------------------------------------------------------------------------- */

struct GC_stack_base {
    void *mem_base;   /* the stack's cold end (highest address) */
};
typedef void *(*GC_stack_base_func)(struct GC_stack_base *sb, void *arg);
GC_API int GC_get_stack_base(struct GC_stack_base *sb);
GC_API void *GC_call_with_stack_base(GC_stack_base_func fn, void *arg);
GC_API void GC_allow_register_threads(void);
GC_API int GC_register_my_thread(const struct GC_stack_base *sb);   /* GC_SUCCESS / GC_DUPLICATE */
GC_API int GC_unregister_my_thread(void);
GC_API int GC_thread_is_registered(void);
GC_API void GC_start_mark_threads(void);
GC_API int GC_get_suspend_signal(void);
/* fn runs as a blocked thread: never waited for by a collection, must not touch GC memory. */
GC_API void *GC_do_blocking(GC_fn_type fn, void *client_data);
/* Inside GC_do_blocking: run fn as an active thread again. */
GC_API void *GC_call_with_gc_active(GC_fn_type fn, void *client_data);

GC_API int GC_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*start)(void *), void *arg);
GC_API int GC_pthread_join(pthread_t t, void **retval);
GC_API int GC_pthread_detach(pthread_t t);
GC_API int GC_pthread_cancel(pthread_t t);
GC_API void GC_pthread_exit(void *retval) __attribute__((noreturn));
GC_API int GC_pthread_sigmask(int how, const sigset_t *set, sigset_t *oset);

#ifdef __cplusplus
}
#endif

/* bdwgc's thread redirects: with GC_THREADS, pthread_create and friends are GC_'s. */
#if (defined(GC_THREADS) || defined(GC_PTHREADS)) && !defined(GC_NO_THREAD_REDIRECTS) && !defined(GC_BUILD)
#undef pthread_create
#undef pthread_join
#undef pthread_detach
#undef pthread_cancel
#undef pthread_exit
#undef pthread_sigmask
#define pthread_create GC_pthread_create
#define pthread_join GC_pthread_join
#define pthread_detach GC_pthread_detach
#define pthread_cancel GC_pthread_cancel
#define pthread_exit GC_pthread_exit
#define pthread_sigmask GC_pthread_sigmask
#endif

#endif /* GCRT_BDWGC_GC_H */
