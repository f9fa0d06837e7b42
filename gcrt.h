/*
 * gcrt.h: the public interface of gcrt, a garbage-collected heap for C modelled on the Go
 * runtime's memory manager. This is the only header a program includes; the names here are
 * fixed by ../shared/CONTRACT.md. See README.md for linking and docs/ for the design.
 *
 * Conventions: calls that can fail return 0 or a negative errno; allocation returns zeroed
 * memory or NULL (errno = ENOMEM); every thread that touches GC memory must be registered
 * (the main thread by gc_init, others by gc_register_thread or gc_pthread_create).
 */
#ifndef GCRT_H
#define GCRT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GCRT_API __attribute__((visibility("default")))
#define GCRT_MALLOC __attribute__((malloc, warn_unused_result))
#else
#define GCRT_API
#define GCRT_MALLOC
#endif

/* ---- Lifecycle and threads ---------------------------------------------------------- */

/* Initialise once (idempotent). Reads GOGC, GOMEMLIMIT and GODEBUG; registers the caller. */
GCRT_API int gc_init(void);
/* Make the calling thread's stack and registers roots. Idempotent. */
GCRT_API int gc_register_thread(void);
/* Undo gc_register_thread; -EINVAL if the thread is not registered. */
GCRT_API int gc_unregister_thread(void);
/* pthread_create whose thread is registered for its whole life. */
GCRT_API int gc_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                               void *(*start)(void *), void *arg);

/* ---- Allocation --------------------------------------------------------------------- */

/* A precise object layout; see gc_type_new. Opaque; lives for the program's lifetime. */
typedef struct gc_type gc_type_t;

/* Object that may hold pointers, scanned conservatively (every aligned word). */
GCRT_API GCRT_MALLOC void *gc_alloc(size_t size);
/* Object that holds no pointers to GC memory; never scanned. */
GCRT_API GCRT_MALLOC void *gc_alloc_noscan(size_t size);
/* Describe a struct of `size` bytes whose pointer fields sit at the given byte offsets
 * (each a multiple of sizeof(void *) and below size). NULL (errno EINVAL) on bad input. */
GCRT_API gc_type_t *gc_type_new(size_t size, const size_t *ptr_offsets, size_t n);
/* Object of type t, scanned precisely: only the listed words are traced. */
GCRT_API GCRT_MALLOC void *gc_alloc_typed(const gc_type_t *t);
/* Array of count elements of type t; NULL (errno ENOMEM) on overflow. */
GCRT_API GCRT_MALLOC void *gc_alloc_array(const gc_type_t *t, size_t count);
/* Like realloc; keeps the scan kind of p. NULL p acts as gc_alloc; size 0 returns a
 * minimal object. The pointer layout of a typed object's kept prefix is preserved; bytes
 * past the old size are treated as pointer-free. */
GCRT_API void *gc_realloc(void *p, size_t size);
/* Usable size of the object p points into (interior pointers allowed), 0 if none. */
GCRT_API size_t gc_size(const void *p);
/* Start of the object p points into (interior pointers allowed), NULL if none. */
GCRT_API void *gc_base(const void *p);

/* ---- Roots and barriers ------------------------------------------------------------- */

/* Scan [start, start+size) conservatively at every cycle. */
GCRT_API int gc_add_roots(void *start, size_t size);
/* Undo gc_add_roots for exactly that range; -EINVAL for a range never added. */
GCRT_API int gc_remove_roots(void *start, size_t size);

/* Store `value` into a pointer field of a GC heap object. Needed whenever a non-NULL
 * pointer in a GC heap object may be overwritten while marking runs concurrently; stores
 * into stack variables, globals, registered roots, and slots still holding NULL need no
 * barrier. It is a snapshot-at-the-beginning (deletion) barrier: while marking, the old
 * value is shaded. With marking off it costs a load of a flag and a branch.
 *
 * The flag test and the store must not straddle the pause that turns marking on, or the
 * overwritten value would escape the snapshot. On x86-64 the pair is a restartable
 * sequence: each use site records its address range in the gcrt_store_seq section, and a
 * thread stopped inside one resumes at its start (runtime/thread.c). */
#if defined(__x86_64__) && defined(__GNUC__)
#define GC_STORE(lvalue, value)                                                           \
    ((void)({                                                                              \
        __label__ gc_store_slow_, gc_store_done_;                                          \
        __typeof__(&(lvalue)) gc_store_slot_ = &(lvalue);                                  \
        __typeof__(*gc_store_slot_) gc_store_val_ = (value);                               \
        _Static_assert(sizeof *gc_store_slot_ == sizeof(void *), "GC_STORE stores pointers"); \
        __asm__ goto("1:\n\t"                                                              \
                     "movq gc_write_barrier_on@GOTPCREL(%%rip), %%rax\n\t"                 \
                     "cmpl $0, (%%rax)\n\t"                                                \
                     "jne %l[gc_store_slow_]\n\t"                                          \
                     "movq %1, %0\n"                                                       \
                     "2:\n\t"                                                              \
                     ".pushsection gcrt_store_seq,\"aw\"\n\t"                              \
                     ".balign 8\n\t"                                                       \
                     ".quad 1b, 2b\n\t"                                                    \
                     ".popsection"                                                         \
                     : "=m"(*gc_store_slot_)                                               \
                     : "r"(gc_store_val_)                                                  \
                     : "rax", "cc"                                                         \
                     : gc_store_slow_);                                                    \
        goto gc_store_done_;                                                               \
    gc_store_slow_:                                                                        \
        gc_write_barrier_store((void *)gc_store_slot_, (void *)(uintptr_t)gc_store_val_);  \
    gc_store_done_:;                                                                       \
    }))

/* Every module (program or library) that includes this header registers its table of
 * GC_STORE sequences once it is loaded. */
extern const unsigned long __start_gcrt_store_seq[] __attribute__((weak, visibility("hidden")));
extern const unsigned long __stop_gcrt_store_seq[] __attribute__((weak, visibility("hidden")));
GCRT_API void gc_register_store_sequences(const unsigned long *start, const unsigned long *stop);
static __attribute__((constructor, used)) void gc_store_sequences_init_(void) {
    gc_register_store_sequences(__start_gcrt_store_seq, __stop_gcrt_store_seq);
}
#else
#define GC_STORE(lvalue, value)                                                           \
    ((void)({                                                                              \
        __typeof__(&(lvalue)) gc_store_slot_ = &(lvalue);                                  \
        __typeof__(*gc_store_slot_) gc_store_val_ = (value);                               \
        if (__builtin_expect(gc_write_barrier_on, 0))                                      \
            gc_write_barrier_store((void *)gc_store_slot_, (void *)(uintptr_t)gc_store_val_); \
        else *gc_store_slot_ = gc_store_val_;                                              \
    }))
#endif

/* Behind GC_STORE; not for direct use. gc_write_barrier_store is the slow path (shade the
 * old value, then store; with GODEBUG=gcstorecheck=1 it also checks the slot). */
extern GCRT_API volatile int gc_write_barrier_on;
GCRT_API void gc_write_barrier_slow(void *old);
GCRT_API void gc_write_barrier_store(void *slot, void *value);

/* memmove into GC heap memory, applying the barrier to every overwritten pointer. */
GCRT_API void gc_memmove(void *dst, const void *src, size_t n);
/* Like Go's runtime.KeepAlive: p stays reachable up to this call. */
GCRT_API void gc_keep_alive(const void *p);

/* ---- Collection control (Go's runtime/debug) --------------------------------------- */

typedef struct gc_memstats {
    uint64_t alloc;          /* bytes of allocated heap objects (== heap_alloc) */
    uint64_t total_alloc;    /* cumulative bytes allocated */
    uint64_t sys;            /* bytes obtained from the OS: heap_sys + metadata_sys (Go's Sys) */
    uint64_t mallocs;        /* cumulative objects allocated */
    uint64_t frees;          /* cumulative objects freed */
    uint64_t heap_alloc;     /* as alloc */
    uint64_t heap_sys;       /* heap bytes obtained from the OS: in use, idle or released */
    uint64_t heap_idle;      /* heap bytes in free spans */
    uint64_t heap_inuse;     /* heap bytes in in-use spans */
    uint64_t heap_released;  /* idle heap bytes returned to the OS */
    uint64_t heap_objects;   /* live + unswept objects: mallocs - frees */
    uint64_t next_gc;        /* heap goal of the next cycle */
    uint64_t last_gc;        /* end of the last cycle, ns since the Unix epoch */
    uint64_t pause_total_ns; /* cumulative stop-the-world time */
    uint64_t pause_ns[256];  /* recent pauses, circular; the latest at (num_gc+255)%256 */
    uint64_t pause_end[256]; /* when each pause ended, ns since the Unix epoch */
    uint32_t num_gc;         /* completed cycles */
    uint32_t num_forced_gc;  /* cycles started by gc_collect / gc_free_os_memory */
    double gc_cpu_fraction;  /* fraction of CPU time used by the collector since gc_init */
    uint64_t metadata_sys;   /* bytes of off-heap metadata (spans, bitmaps, caches) */
    uint64_t pause_max_ns;   /* the longest single stop-the-world pause so far */
} gc_memstats_t;

/* Like runtime.GC(): a full collection, returning when marking and sweeping are done. */
GCRT_API void gc_collect(void);
/* Like debug.SetGCPercent: returns the previous value; negative turns the trigger off. */
GCRT_API int gc_set_percent(int percent);
/* Like debug.SetMemoryLimit: returns the previous limit; a negative argument only reads. */
GCRT_API int64_t gc_set_memory_limit(int64_t bytes);
/* Like debug.FreeOSMemory: collect, then return as much memory to the OS as possible. */
GCRT_API void gc_free_os_memory(void);
/* Fill *ms (exact: per-thread counters are folded in). */
GCRT_API void gc_read_memstats(gc_memstats_t *ms);

typedef void (*gc_oom_handler_t)(size_t size);
/* Called when an allocation cannot get memory, before NULL is returned. Returns the old one. */
GCRT_API gc_oom_handler_t gc_set_oom_handler(gc_oom_handler_t fn);

/* ---- Profiling (Go's runtime/pprof heap profile, MemProfileRate, -benchmem) ----------- */

/* Like setting runtime.MemProfileRate: sample one allocation per `rate` bytes on average
 * (0: off; 1: every allocation); returns the previous rate; a negative argument only
 * reads it. Default 512 KiB, or GCRT_MEMPROFILERATE / GODEBUG=memprofilerate. */
GCRT_API int gc_set_mem_profile_rate(int rate);
/* Like pprof.WriteHeapProfile: write the heap profile (gzipped profile.proto, read by
 * `go tool pprof`) to fd: alloc_objects, alloc_space, inuse_objects, inuse_space, as of the
 * last completed collection. 0 or a negative errno. GCRT_MEMPROFILE=path writes one at
 * exit (after a gc_collect, as go test -memprofile does). */
GCRT_API int gc_write_heap_profile(int fd);
/* Objects and bytes allocated by the calling thread since it was registered (cheap: no
 * stop, no lock; what go test -benchmem divides by b.N). */
GCRT_API void gc_alloc_counts(uint64_t *objs, uint64_t *bytes);
/* The same for the whole process (every thread, live and gone); without stopping the
 * world, so other threads' latest allocations may be missed. */
GCRT_API void gc_alloc_counts_process(uint64_t *objs, uint64_t *bytes);

/* ---- Finalizers, cleanups, weak pointers, unique, pools (Go's runtime, weak, unique,
 * sync.Pool) ----------------------------------------------------------------------------- */

/* Like runtime.SetFinalizer. obj must be the start of a GC object (-EINVAL otherwise); at
 * most one per object (-EEXIST for a second); fn == NULL removes it. When obj becomes
 * unreachable it is resurrected, fn(obj, arg) runs once, and its memory is freed only by a
 * later cycle that finds it unreachable again. */
GCRT_API int gc_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg);

/* Like runtime.AddCleanup: fn(arg) runs once after obj is unreachable; obj is not
 * resurrected. Several per object. NULL (errno EINVAL/ENOMEM) on failure. */
typedef struct gc_cleanup *gc_cleanup_t;
GCRT_API gc_cleanup_t gc_add_cleanup(void *obj, void (*fn)(void *arg), void *arg);
/* Cancel a cleanup that has not run yet. */
GCRT_API void gc_cleanup_stop(gc_cleanup_t c);

/* Like weak.Make: one handle per object while the handle lives (compare with ==). */
typedef struct gc_weak *gc_weak_t;
GCRT_API gc_weak_t gc_weak_make(void *obj);
/* The object (a strong reference), or NULL once it was found unreachable. */
GCRT_API void *gc_weak_get(gc_weak_t w);

/* Like unique.Make for byte strings: one canonical GC-owned, NUL-terminated copy per
 * distinct content while anything references it; unused copies are collected. */
GCRT_API const void *gc_unique_bytes(const void *p, size_t n);

/* Run queued finalizers and cleanups in the calling thread; returns how many ran. */
GCRT_API int gc_run_finalizers(void);

/* Like sync.Pool: per-thread caches and a victim cache; an object put and not taken again
 * survives one collection in the victim cache and is dropped at the next. */
typedef struct gc_pool gc_pool_t;
GCRT_API gc_pool_t *gc_pool_new(void *(*new_fn)(void *ctx), void *ctx);
/* Take an object; calls new_fn when the pool is empty (NULL if there is none). */
GCRT_API void *gc_pool_get(gc_pool_t *p);
/* Give an object back; obj == NULL aborts with a message (Go ignores nil). */
GCRT_API void gc_pool_put(gc_pool_t *p, void *obj);
/* Free the pool (its objects become garbage). Using p during or after this is undefined.
 * Briefly stops the world if any thread ever put into the pool. */
GCRT_API void gc_pool_destroy(gc_pool_t *p);

#ifdef __cplusplus
}
#endif
#endif /* GCRT_H */
