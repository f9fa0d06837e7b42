/*
 * internal.h: gcrt's one internal types header. Every subsystem's shared state and the hot
 * inline fast paths live here; slow paths are out of line in their subsystem's file.
 *
 * Map (see docs/architecture.md):
 *   alloc/sizeclass.c  Go's 68 size classes and the size->class tables
 *   alloc/os.c         mmap/madvise with fault injection; off-heap metadata allocator
 *   alloc/heap.c       arenas, the page heap (segregated free runs), span descriptors
 *   alloc/central.c    per-span-class central lists; lazy sweeping on refill
 *   alloc/cache.c      per-thread caches, the tiny allocator, large objects
 *   alloc/malloc.c     the public allocation calls, gc_base/gc_size, typed layouts
 *   gc/mark.c          mark bits, work buffers, parallel mark workers, scanning
 *   gc/sweep.c         sweeping a span, the background sweeper
 *   gc/pacer.c         heap goal, trigger, assist ratio (GOGC, GOMEMLIMIT)
 *   gc/scavenge.c      the scavenger: returning free pages to the OS, scavtrace
 *   gc/limiter.c       the GC CPU limiter
 *   runtime/cgroup.c   the cgroup memory limit (GOMEMLIMIT's default)
 *   gc/cycle.c         the collection cycle: phases, pauses, gctrace
 *   gc/final.c         specials per span, finalizers, cleanups, the finalizer queue/thread
 *   gc/weak.c          weak handles, gc_unique_bytes
 *   runtime/init.c     gc_init and the environment (GOGC, GOMEMLIMIT, GODEBUG)
 *   runtime/thread.c   thread registry, stop-the-world by signals
 *   runtime/roots.c    static data segments and registered root ranges
 *   runtime/stats.c    gc_read_memstats
 *   runtime/pool.c     gc_pool_*: per-thread pool locals, stealing, victim cache
 */
#ifndef GCRT_INTERNAL_H
#define GCRT_INTERNAL_H

#include "gcrt.h"

#include <errno.h>
#include <pthread.h>
#include <ucontext.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define GCRT_HIDDEN __attribute__((visibility("hidden")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define GCRT_TLS __thread __attribute__((tls_model("initial-exec")))
/* Conservative scans read whole stacks and objects, redzones included, on purpose. */
#define GCRT_NO_ASAN __attribute__((no_sanitize_address))
/* gcrt's global state lives in its own section, which the root scan skips: the heap's own
 * bookkeeping (arena bounds, the growth cursor) holds heap addresses that must not keep
 * objects alive. */
#define GCRT_STATE __attribute__((section("gcrt_state")))

/* ---- Atomics ------------------------------------------------------------------------
 * Plain __atomic builtins with the memory order spelled out. (libatomic_ops's AO_ names
 * add nothing on x86-64/gcc/clang; see docs/architecture.md, "Dependencies".) */
#define atomic_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define atomic_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define atomic_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define atomic_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define atomic_add(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define atomic_or(p, v) __atomic_fetch_or((p), (v), __ATOMIC_RELAXED)
#define atomic_and(p, v) __atomic_fetch_and((p), (v), __ATOMIC_RELAXED)
#define atomic_cas(p, expp, v) \
    __atomic_compare_exchange_n((p), (expp), (v), false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)

/* ---- Sizes -------------------------------------------------------------------------- */
#define GCRT_PAGE_SHIFT 13
#define GCRT_PAGE_SIZE ((size_t)1 << GCRT_PAGE_SHIFT)          /* heap page, not OS page */
#define GCRT_ARENA_SHIFT 26
#define GCRT_ARENA_SIZE ((size_t)1 << GCRT_ARENA_SHIFT)        /* 64 MiB */
#define GCRT_PAGES_PER_ARENA (GCRT_ARENA_SIZE / GCRT_PAGE_SIZE) /* 8192 */
#define GCRT_ADDR_BITS 48
#define GCRT_ARENA_MAP_LEN ((size_t)1 << (GCRT_ADDR_BITS - GCRT_ARENA_SHIFT))
#define GCRT_GROW_CHUNK ((size_t)4 << 20)   /* heap commits in 4 MiB steps (Go's chunk) */
#define GCRT_HUGE_SIZE ((size_t)2 << 20)    /* a transparent huge page (x86-64, arm64 4K) */
#define GCRT_NUM_CLASSES 68                  /* class 0 = large */
#define GCRT_MAX_SMALL 32768
#define GCRT_MAX_SMALL_REQ 32760             /* Go's rule: larger requests are large */
#define GCRT_TINY_SIZE 16
#define GCRT_TINY_CLASS 2
#define GCRT_MAX_OBJS_PER_SPAN 1024
#define GCRT_MIN_POINTER 4096                /* smaller words are never pointers */

/* Scan kind of an object: part of its span class. */
enum { GCRT_SCAN_CONS = 0, GCRT_SCAN_NOSCAN = 1, GCRT_SCAN_TYPED = 2, GCRT_SCAN_KINDS = 3 };
#define GCRT_NUM_SPAN_CLASSES (GCRT_NUM_CLASSES * GCRT_SCAN_KINDS)
static inline unsigned spanclass_make(unsigned sizeclass, unsigned kind) {
    return sizeclass * GCRT_SCAN_KINDS + kind;
}
static inline unsigned spanclass_sizeclass(unsigned spc) { return spc / GCRT_SCAN_KINDS; }
static inline unsigned spanclass_kind(unsigned spc) { return spc % GCRT_SCAN_KINDS; }

/* ---- Size classes (alloc/sizeclass.c) ----------------------------------------------- */
extern GCRT_HIDDEN const uint32_t gcrt_class_size[GCRT_NUM_CLASSES];
extern GCRT_HIDDEN const uint8_t gcrt_class_npages[GCRT_NUM_CLASSES];
extern GCRT_HIDDEN uint16_t gcrt_class_nelems[GCRT_NUM_CLASSES];
extern GCRT_HIDDEN uint32_t gcrt_class_divmagic[GCRT_NUM_CLASSES];
extern GCRT_HIDDEN uint8_t gcrt_size_to_class8[1024 / 8 + 1];
extern GCRT_HIDDEN uint8_t gcrt_size_to_class128[(GCRT_MAX_SMALL - 1024) / 128 + 1];
GCRT_HIDDEN void gcrt_sizeclass_init(void);

/* Smallest class holding `size` bytes; size in 1..GCRT_MAX_SMALL. */
static inline unsigned size_to_class(size_t size) {
    if (size <= 1024 - 8) return gcrt_size_to_class8[(size + 7) >> 3];
    return gcrt_size_to_class128[(size - 1024 + 127) >> 7];
}

/* ---- OS memory and metadata (alloc/os.c) -------------------------------------------- */
enum { GCRT_FAULT_MMAP = 0, GCRT_FAULT_MADVISE = 1 };
GCRT_HIDDEN void gcrt_fault_set(int kind, long nth);
GCRT_HIDDEN bool gcrt_fault_armed(void);   /* an mmap fault is injected: the grower waits */
GCRT_HIDDEN void gcrt_fault_exempt(void);  /* injected faults spare the calling thread */
GCRT_HIDDEN void gcrt_fault_random(uint64_t every, uint64_t seed);   /* GCRT_FAULT_MMAP=N:SEED */
GCRT_HIDDEN void *gcrt_os_reserve(size_t size, size_t align);   /* RW, MAP_NORESERVE, THP */
GCRT_HIDDEN bool gcrt_os_commit(void *p, size_t size);          /* accounting; fault injection */
GCRT_HIDDEN bool gcrt_os_release(void *p, size_t size);         /* MADV_DONTNEED */
GCRT_HIDDEN void gcrt_os_fault_in(void *p, size_t size, bool huge); /* touch, content unchanged */
GCRT_HIDDEN bool gcrt_os_thp(void);                             /* heap in huge pages */
GCRT_HIDDEN void gcrt_os_thp_start(uintptr_t lo, size_t size);    /* heap in huge pages from now */
#define GCRT_THP_MIN_HEAP ((uint64_t)64 << 20)  /* huge pages (and the grower) from here */
GCRT_HIDDEN void gcrt_os_unmap(void *p, size_t size);
/* Off-heap metadata: zeroed blocks, never scanned, never part of the GC heap. Sizes are
 * rounded to a power of two (>= 16); blocks above 64 KiB are mapped directly. */
GCRT_HIDDEN void *gcrt_meta_alloc(size_t size);
GCRT_HIDDEN void gcrt_meta_free(void *p, size_t size);
/* Make room for one more element in a growable metadata array; false when out of memory. */
GCRT_HIDDEN bool gcrt_meta_grow(void **arr, size_t *cap, size_t used, size_t elem, size_t first);
extern GCRT_HIDDEN uint64_t gcrt_meta_sys;    /* bytes mapped for metadata (atomic) */

/* ---- Spans (alloc/heap.c) ------------------------------------------------------------
 * A span is a run of pages: free (in the page heap), or in use holding objects of one
 * span class (small) or a single object (large, class 0).
 *
 * Allocation state (Go's mspan): slot i is allocated iff i < freeindex || allocbits[i].
 * alloccache caches the free slots of one 64-slot word from freeindex on: bit i set means
 * slot cachebase + i is free, with cachebase the word's first slot, no bit below freeindex
 * and none at or past nelems; 0 when the word has no free slot left (the slow path then
 * moves to the next word). markbits are this cycle's marks;
 * sweeping turns them into allocbits (a pointer swap) and clears the old allocbits to
 * become the next markbits.
 *
 * Sweep generations (Go's): with sg = gcrt_heap.sweepgen,
 *   span.sweepgen == sg-2: needs sweeping;   sg-1: being swept;   sg: swept, usable.
 * sweepgen advances by 2 only with the world stopped and no span in a cache, so a cached
 * span is always swept. */
enum { SPAN_DEAD = 0, SPAN_FREE = 1, SPAN_INUSE = 2, SPAN_SCAVENGING = 3,
       SPAN_CACHED = 4 /* the uncarved pages of a thread's page cache (heap.c) */ };

typedef struct gcrt_span gcrt_span;
struct gcrt_span {
    /* First 64 bytes: what span_of_heap and the markers read for every pointer they grey,
     * and the fast path reads; nothing here is written while the span is in use. */
    uintptr_t base;          /* first byte */
    uintptr_t limit;         /* end of the object area: base + nelems * elemsize */
    size_t npages;
    size_t elemsize;         /* slot size; the whole span for a large object */
    uint64_t *allocbits;     /* ceil(nelems/64) words */
    uint64_t *markbits;      /* same size; set atomically while marking */
    uint64_t *ptrbits;       /* typed spans: one bit per word of the span; 1 = pointer */
    uint16_t nelems;
    uint8_t spanclass;
    uint8_t state;           /* SPAN_*; published last (release) */
    uint32_t divmagic;       /* objindex = ((p - base) * divmagic) >> 32 */
    /* Written by the owning cache on every allocation (Go's nextFreeFast), so kept after
     * the 64 bytes above that markers read: sharing a line, every allocation during a mark
     * invalidated the markers' copy (aligning this to a line of its own took about 15%
     * off the allocation fast path's samples in the Scheme GCBench, but rounds the
     * descriptor from 168 to 192 bytes, which puts the metadata of a heap of 64-byte
     * objects over 3%; descriptors are packed, so the split holds for some of them). */
    uint64_t alloccache;
    uint16_t freeindex;
    uint16_t alloccount;     /* allocated slots (exact unless cached: see cache.c) */
    uint16_t alloccount_cached; /* alloccount when a cache took the span (for stats) */
    uint16_t blackfrom;      /* freeindex when a cache took the span while marking: the
                                free slots it hands out from there are allocated black */
    uint8_t needzero;        /* free pages may be dirty (free and large spans; small spans
                                keep free slots zero: sweeping clears what it frees) */
    uint16_t cachebase;      /* slot of alloccache's bit 0 (a multiple of 64) */
    uint32_t sweepgen;       /* see above; atomic */
    uint32_t sweepseq;       /* odd while sweeping rewrites the bits: span_find_object's seqlock */
    uint64_t *checkbits;     /* GODEBUG=gccheckmark: the re-mark's bits, during the check */
    gcrt_span *next, *prev;  /* central list, or free list in the page heap */
    uint64_t freed_at;       /* free spans: when freed (ns), for the scavenger */
    size_t released;         /* free spans: bytes of this run returned to the OS */
    /* Specials (gc/final.c): guarded by the span's stripe lock. */
    struct gcrt_special *specials; /* finalizer/weak/cleanup records, by offset descending */
    uint32_t spset;          /* index + 1 in final.c's set of spans with specials; atomic */
    uint32_t specials_sg;    /* sweepgen whose specials pass has run (weak.c reads it) */
    uint32_t nroots;         /* finalizer and cleanup records: the root job walks the list */
    uint64_t *pinbits;       /* weak cells whose object lives: marked every cycle (final.c) */
};

static inline size_t span_bitmap_words(const gcrt_span *s) { return ((size_t)s->nelems + 63) / 64; }

/* Span-local marking (gc/mark.c, Go 1.25's "Green Tea"): a span of a class set in
 * gcrt_gt_class (small scannable objects, GODEBUG=gcgreentea) enters the mark queue as a
 * whole. Its bitmap block holds, after allocbits and markbits, a "scanned" bitmap and the
 * queue state word (mark.c's GT_IDLE, GT_ONE, GT_MANY). Fixed at gc_init, before the
 * first span, since it decides the block's size. */
#define GCRT_GT_MAX_ELEM 512
extern GCRT_HIDDEN uint8_t gcrt_gt_class[GCRT_NUM_SPAN_CLASSES];
extern GCRT_HIDDEN uint8_t gcrt_gt_mark[GCRT_NUM_SPAN_CLASSES];   /* this cycle (mark.c) */
static inline size_t span_bits_block_bytes(unsigned spc, size_t words) {
    return words * 16 + (gcrt_gt_class[spc] ? words * 8 + 8 : 0);
}
static inline uint64_t *span_scanbits(const gcrt_span *s) {
    uint64_t *lo = s->allocbits < s->markbits ? s->allocbits : s->markbits;   /* sweeping swaps them */
    return lo + 2 * span_bitmap_words(s);
}
static inline uint32_t *span_gt_state(const gcrt_span *s) {
    return (uint32_t *)(span_scanbits(s) + span_bitmap_words(s));
}

/* Arena metadata: page -> span. Every committed page maps to the span, free or in use,
 * that holds it; never-committed pages are NULL. */
typedef struct gcrt_arena {
    gcrt_span *spans[GCRT_PAGES_PER_ARENA];
    uint64_t released[GCRT_PAGES_PER_ARENA / 64];  /* free page returned to the OS (zero) */
    uint32_t small;     /* bit i: huge page i of the arena stays in 4 KiB pages (heap.c) */
    uintptr_t base;
} gcrt_arena;

typedef struct gcrt_span_list {
    gcrt_span *first;
    size_t len;
} gcrt_span_list;

/* The page heap. `lock` guards the free runs, arena growth, span descriptor allocation and
 * the heap_* counters below it. Lock order: central[i].lock before heap.lock. */
#define GCRT_FREE_BINS 64
typedef struct gcrt_heap {
    pthread_mutex_t lock;
    uint32_t sweepgen;                  /* advanced by 2 per cycle, world stopped */
    uint64_t bin_mask;                  /* non-empty free bins */
    gcrt_span_list free_bins[GCRT_FREE_BINS];
    uintptr_t cur_base, cur_end;        /* committed-but-unused tail of the newest arena */
    uintptr_t arena_lo, arena_hi;       /* bounds of all arenas: a fast reject for pointers */
    gcrt_span *span_free;               /* recycled span descriptors */
    size_t heap_sys;                    /* bytes committed to the heap */
    size_t heap_inuse;                  /* bytes in in-use spans */
    size_t heap_free;                   /* bytes in free spans, not released */
    size_t heap_released;               /* bytes in free spans, released to the OS */
    size_t heap_pcache;                 /* bytes of page-cache chunks less folded carvings */
    size_t heap_pcache_rel;             /* of which released to the OS when taken */
    size_t nspans;
    unsigned runs_out;                  /* runs committing (grow) or scavenging, lock dropped; atomic */
    uint64_t release_epoch;             /* releases of everything begun (gc_free_os_memory) */
} gcrt_heap;

extern GCRT_HIDDEN gcrt_heap gcrt_heap_;
extern GCRT_HIDDEN gcrt_arena **gcrt_arena_map;   /* GCRT_ARENA_MAP_LEN entries, lazily paged */

GCRT_HIDDEN void gcrt_heap_init(void);
/* Allocate npages for an in-use span of `spanclass` (0 for large). Returns NULL on OOM.
 * The span is initialised (bitmaps, sweepgen) but not on any list. */
GCRT_HIDDEN gcrt_span *gcrt_heap_alloc(size_t npages, unsigned spanclass);
/* Return an in-use span's pages to the page heap. */
GCRT_HIDDEN void gcrt_heap_free(gcrt_span *s);
GCRT_HIDDEN void gcrt_heap_free_batch(gcrt_span *list);   /* linked by next; one heap.lock trip */
/* Call fn for every in-use span; world stopped (or no span can change state). */
GCRT_HIDDEN void gcrt_heap_for_each_span(void (*fn)(gcrt_span *s, void *arg), void *arg);
/* Release up to `want` bytes (0: no bound) of free pages idle for at least `idle_ns` to the
 * OS, biggest runs first; returns the bytes released. huge: only whole huge pages (see
 * heap.c), which the background scavenger uses when the heap has transparent huge pages.
 * *in_flight (may be NULL): all free pages in the bins were released, but other threads
 * held runs with heap.lock dropped (a grow, a scavenge) that may not be. */
GCRT_HIDDEN size_t gcrt_heap_scavenge(size_t want, uint64_t idle_ns, bool huge, bool *in_flight);
/* Growing ahead (alloc/grow.c): one chunk, faulted in, while free pages < reserve and no
 * release of everything has begun since the grower read `epoch` (heap.release_epoch). */
GCRT_HIDDEN bool gcrt_heap_grow_ahead(size_t reserve, uint64_t epoch);
GCRT_HIDDEN void gcrt_grow_cancel(void);   /* drop a pending kick (before a release of everything) */
GCRT_HIDDEN void gcrt_heap_release_begin(void);   /* gc_free_os_memory: no growing ahead on old kicks */
GCRT_HIDDEN void gcrt_grow_check(void);            /* after taking pages: wake the grower? */
GCRT_HIDDEN void gcrt_grow_start(void);            /* at a cycle's end, outside critical sections */
GCRT_HIDDEN void gcrt_grow_fork(int phase);
/* The scavenger's targets leave room for `bytes` more retained memory (gc/scavenge.c). */
GCRT_HIDDEN bool gcrt_scavenger_room(uint64_t bytes);

/* spanOf: the span whose pages hold p, or NULL. May be a free span. */
static inline gcrt_span *span_of(uintptr_t p) {
    if (p < gcrt_heap_.arena_lo || p >= gcrt_heap_.arena_hi) return NULL;
    gcrt_arena *a = gcrt_arena_map[p >> GCRT_ARENA_SHIFT];
    if (!a) return NULL;
    return a->spans[(p >> GCRT_PAGE_SHIFT) & (GCRT_PAGES_PER_ARENA - 1)];
}

/* The in-use span whose object area holds p, or NULL. */
static inline gcrt_span *span_of_heap(uintptr_t p) {
    gcrt_span *s = span_of(p);
    if (!s || atomic_load_acquire(&s->state) != SPAN_INUSE || p < s->base || p >= s->limit)
        return NULL;
    return s;
}

static inline size_t span_objindex(const gcrt_span *s, uintptr_t p) {
    return (size_t)(((uint64_t)(p - s->base) * s->divmagic) >> 32);
}

static inline bool bit_get(const uint64_t *bits, size_t i) { return (bits[i >> 6] >> (i & 63)) & 1; }

static inline bool span_slot_allocated(const gcrt_span *s, size_t i) {
    return bit_get(s->allocbits, i) || i < atomic_load_relaxed(&s->freeindex);
}

/* The allocated object p points into: its span and start, or NULL. The one lookup for
 * callers that may run beside a sweep of the span (gc_base, and setting finalizers,
 * cleanups and weak handles): sweeping swaps allocbits for markbits and resets freeindex,
 * and a reader that saw the new freeindex with the old bits would take a live object for
 * free, so the bits are read between two equal even sweepseqs. */
static inline gcrt_span *span_find_object(const void *p, uintptr_t *base) {
    gcrt_span *s = span_of_heap((uintptr_t)p);
    if (!s) return NULL;
    size_t i = span_objindex(s, (uintptr_t)p);
    bool alloc;
    uint32_t seq;
    do {
        while ((seq = atomic_load_acquire(&s->sweepseq)) & 1) __builtin_ia32_pause();
        alloc = span_slot_allocated(s, i);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while (atomic_load_relaxed(&s->sweepseq) != seq);
    if (!alloc) return NULL;
    *base = s->base + i * s->elemsize;
    return s;
}

/* Refill alloccache from allocbits at the 64-slot word containing freeindex: exact from
 * allocbits and freeindex at any time (slots below freeindex are allocated). Bits past
 * nelems are cleared, and a full span gets 0 without a read past its bitmap, so a set bit
 * is always a slot the fast path may take with no bound check of its own. */
static inline void span_refill_alloccache(gcrt_span *s) {
    size_t fi = s->freeindex, n = s->nelems;
    s->cachebase = (uint16_t)(fi & ~(size_t)63);
    if (fi >= n) {
        s->alloccache = 0;
        return;
    }
    uint64_t c = ~s->allocbits[fi >> 6] & (~(uint64_t)0 << (fi & 63));
    if (n - (fi & ~(size_t)63) < 64) c &= ((uint64_t)1 << (n & 63)) - 1;
    s->alloccache = c;
}

GCRT_HIDDEN size_t gcrt_span_next_free_index(gcrt_span *s);   /* Go's nextFreeIndex */

/* Go's nextFreeFast, less its two bound checks and its shift: the next free slot from
 * alloccache, or 0 when the slow path must refill it or the span is full. Go keeps its
 * allocCache shifted so that bit 0 is freeindex, and stops one slot short of each word's
 * end and of nelems: the shifts put ctz on the chain from one allocation's alloccache to
 * the next's, and the stops cost two compares and branches. Here the cache stays aligned
 * to its word (clearing the lowest set bit is all the chain holds) and holds no bit the
 * fast path may not take (span_refill_alloccache). freeindex is still kept exact, for
 * span_find_object and sweeping. No lock, no atomic: the span is the caller's. */
static inline uintptr_t span_take_cached(gcrt_span *s, uint64_t cache) {   /* cache != 0 */
    size_t result = (size_t)s->cachebase + (size_t)__builtin_ctzll(cache);
    s->alloccache = cache & (cache - 1);
    s->freeindex = (uint16_t)(result + 1);
    s->alloccount++;
    return s->base + result * s->elemsize;
}
static inline uintptr_t span_next_free_fast(gcrt_span *s) {
    uint64_t cache = s->alloccache;
    if (unlikely(cache == 0)) return 0;
    return span_take_cached(s, cache);
}

/* ---- Central lists (alloc/central.c) ------------------------------------------------
 * Per span class. partial[] holds spans with free slots, full[] spans without; index
 * (sweepgen/2)&1 holds swept spans, the other index unswept ones, so advancing sweepgen
 * turns every swept list into an unswept one. `lock` guards the four lists. */
typedef struct gcrt_central {
    pthread_mutex_t lock;
    gcrt_span_list partial[2];
    gcrt_span_list full[2];
    char pad[64];
} gcrt_central;

extern GCRT_HIDDEN gcrt_central gcrt_central_[GCRT_NUM_SPAN_CLASSES];
GCRT_HIDDEN void gcrt_central_init(void);   /* (re)initialises the class locks: adaptive mutexes */
/* A swept span of class spc with a free slot, owned by the caller; NULL on OOM. */
struct gcrt_cache;
GCRT_HIDDEN gcrt_span *gcrt_central_cache_span(unsigned spc, struct gcrt_cache *c);
/* Give back a span cache c owned: a full one onto c's private full list (no class lock,
 * no shared line written), one with room onto the class's swept partial list. */
GCRT_HIDDEN void gcrt_central_uncache_span(gcrt_span *s, struct gcrt_cache *c);
/* Splice c's private full lists onto the classes' swept full lists. */
GCRT_HIDDEN void gcrt_central_flush_full(struct gcrt_cache *c);
/* Put a freshly swept (or large, freshly allocated) span on its class's swept list. */
GCRT_HIDDEN void gcrt_central_push_swept(gcrt_span *s);
GCRT_HIDDEN void gcrt_central_push_swept_batch(gcrt_span *list);   /* one class, linked by next */
GCRT_HIDDEN void gcrt_list_push(gcrt_span_list *l, gcrt_span *s);
GCRT_HIDDEN void gcrt_list_remove(gcrt_span_list *l, gcrt_span *s);
GCRT_HIDDEN gcrt_span *gcrt_list_pop(gcrt_span_list *l);
static inline unsigned sg_swept(uint32_t sg) { return (sg >> 1) & 1; }
static inline unsigned sg_unswept(uint32_t sg) { return ((sg >> 1) & 1) ^ 1; }

/* ---- Per-thread page cache (alloc/heap.c; perf) ---------------------------------------
 * Go's pageCache: a chunk of up to 64 pages taken from the page heap in one heap.lock trip,
 * from which the owning thread carves spans of up to GCRT_PCACHE_MAX_SPAN pages without a
 * lock; span descriptors and bitmaps come from per-thread reserves refilled in batches.
 * Only the owner touches it, inside a critical section, or the collector with the world
 * stopped. Heap accounting: a chunk counts in heap_pcache (idle) when taken; carving moves
 * bytes to in use in the cache's own counters (carved*, nspans), folded into the heap's
 * under heap.lock when the chunk goes back or stats are read. */
#define GCRT_PCACHE_PAGES 64
#define GCRT_PCACHE_MAX_SPAN 16
#define GCRT_PCACHE_DESCS 72   /* a chunk's worth (64) plus the runs returning needs */
#define GCRT_PCACHE_META_SHIFTS 8      /* metadata blocks of 16 B .. 2 KiB */
#define GCRT_PCACHE_META_N 32
typedef struct gcrt_pcache {
    uintptr_t base;                    /* page 0 of the chunk; 0 when none */
    gcrt_span *chunk;                  /* SPAN_CACHED descriptor mapping the uncarved pages */
    uint64_t free, zero, scav;         /* per page: free here, known zero, released when taken */
    size_t carved, carved_rel, nspans; /* unfolded: bytes carved (released ones), spans made */
    gcrt_span *descs;                  /* descriptor reserve, linked by next */
    unsigned ndescs;
    uintptr_t pop_base;                /* pages to fault in after the critical section */
    uint64_t pop_mask;
    bool pop_meta;                     /* and metadata ahead (a new chunk's spans will want it) */
    int populating;                    /* faulting them in, in a blocking region */
    unsigned nmeta[GCRT_PCACHE_META_SHIFTS];
    void *meta[GCRT_PCACHE_META_SHIFTS][GCRT_PCACHE_META_N];
} gcrt_pcache;
/* Return the chunk, descriptors and metadata blocks (owner in a critical section, or the
 * world stopped). */
GCRT_HIDDEN void gcrt_pcache_release(gcrt_pcache *pc);
/* World stopped, heap.lock held: fold the cache's counters into the heap's. */
GCRT_HIDDEN void gcrt_pcache_fold_locked(gcrt_pcache *pc);
/* Metadata blocks in batches: one metadata-lock trip for n blocks of one size. */
GCRT_HIDDEN unsigned gcrt_meta_alloc_batch(size_t size, void **out, unsigned n);
GCRT_HIDDEN bool gcrt_meta_ahead(uintptr_t *lo, uintptr_t *hi);   /* os.c: metadata to fault in */
GCRT_HIDDEN void gcrt_meta_fault_in(uintptr_t lo, uintptr_t hi);
GCRT_HIDDEN void gcrt_meta_fault_ahead(void);
GCRT_HIDDEN void gcrt_meta_free_batch(size_t size, void **blocks, unsigned n);

/* ---- Per-thread state (runtime/thread.c, alloc/cache.c) ----------------------------- */
typedef struct gcrt_cache {
    gcrt_span *alloc[GCRT_NUM_SPAN_CLASSES];  /* never NULL: &gcrt_empty_span when none */
    uintptr_t tiny;                           /* current 16-byte tiny block, or 0 */
    size_t tinyoffset;
    uint64_t tiny_allocs;                     /* tiny sub-allocations (counted as mallocs) */
    /* Counters of spans the cache has released; folded into the stats when read. */
    uint64_t nmalloc[GCRT_NUM_CLASSES];       /* small objects, by size class */
    uint64_t large_allocs, large_bytes;
    gcrt_pcache pcache;                       /* free pages and span metadata (heap.c) */
    /* Full spans given back since the last release (central.c), by span class: swept for
     * the current sweepgen, so nothing needs them on a class list before the next flip,
     * and every release (the pauses flush every cache before the flip) splices them on. */
    gcrt_span_list full[GCRT_NUM_SPAN_CLASSES];
    gcrt_span *full_last[GCRT_NUM_SPAN_CLASSES];
    int64_t live_delta;                       /* heap_live change not yet added (gcrt_live_add) */
    /* Allocation counts for gc_alloc_counts: what the cache's released spans and large
     * objects handed out, cumulative (never folded away); the cached spans' share since
     * they were taken (alloccount - alloccount_cached) is added when read. */
    uint64_t total_objs, total_bytes;
    /* Heap profiling (runtime/mprof.c): per span class, the bytes to the next sample (an
     * exponential countdown; 0: draw one) and the cached span's alloccount when they were
     * last counted down. prof_on: a cached span's alloccache may be cut short at the next
     * sample, so its slow path must restore it (cache.c). */
    int64_t prof_left[GCRT_NUM_SPAN_CLASSES];
    uint16_t prof_mark[GCRT_NUM_SPAN_CLASSES];
    uint32_t prof_epoch;                      /* gcrt_mprof_epoch the above were set for */
    bool prof_on;
    uint64_t prof_rng;                        /* the sampling interval's random state */
} gcrt_cache;

/* heap_live changes by a span's free bytes when a cache takes or releases it. Added to the
 * shared counter in batches: one atomic add per span put the counter's cache line between
 * two allocating threads' cores once per span (10% of their time in the allocation
 * benchmark's rounds). What a cache holds back, at most GCRT_LIVE_BATCH, only delays the
 * trigger; a cache release adds it (so mark termination's reset sees everything). */
#define GCRT_LIVE_BATCH ((int64_t)64 << 10)
/* heap_live: bytes in spans handed to caches plus large objects, minus what sweeping freed;
 * Go's heapLive. Updated at refill, release and sweep (atomic), never on the fast path. */
extern GCRT_HIDDEN int64_t gcrt_heap_live;
static inline void gcrt_live_add(gcrt_cache *c, int64_t d) {
    c->live_delta += d;
    if (c->live_delta >= GCRT_LIVE_BATCH || c->live_delta <= -GCRT_LIVE_BATCH) {
        atomic_add(&gcrt_heap_live, c->live_delta);
        c->live_delta = 0;
    }
}

#define GCRT_WBUF_ENTRIES 256
/* A stopped thread's registers: the general ones, then the vector registers in use (xmm,
 * the ymm upper halves, the zmm upper halves, zmm16-31: 32 + 32 + 64 + 128 words). */
#define GCRT_MAX_REGS (NGREG + 256)
typedef struct gcrt_thread gcrt_thread;
struct gcrt_thread {
    gcrt_thread *next, *prev;
    pthread_t pthread;
    pid_t tid;
    uintptr_t stack_lo, stack_hi;             /* the thread's stack mapping */
    volatile uintptr_t stop_sp;               /* sp saved by the suspend handler */
    uintptr_t snapshot_sp;                    /* stop_sp at pause 1 (0: registered since) */
    volatile int in_gcrt;                     /* inside an allocator critical section */
    volatile int suspend_pending;             /* a stop arrived during the section */
    int scav_owed;                            /* over the memory limit: release after the section */
    int bstate;                               /* GCRT_TS_*: in a blocking region? (atomic) */
    uintptr_t regs[GCRT_MAX_REGS];            /* registers saved when suspended (thread.c) */
    int nregs;
    int64_t assist_debt;                      /* bytes allocated while marking, unpaid */
    unsigned wbn;                             /* entries in wbbuf */
    uint32_t flush_seen;                      /* last flush request honoured */
    uintptr_t wbbuf[GCRT_WBUF_ENTRIES];       /* old values shaded by GC_STORE (Go's wbBuf) */
    gcrt_cache cache;
    struct gcrt_pool_tab *pools;              /* pool.c: this thread's pool locals by pool id */
};

extern GCRT_HIDDEN GCRT_TLS gcrt_thread *gcrt_self;
extern GCRT_HIDDEN gcrt_span gcrt_empty_span;

/* A signal-safe critical section: a stop-the-world request that arrives inside it is
 * deferred to its end, so a stopped thread never holds a gcrt lock or a half-updated cache.
 * Sections nest by count. Never wait for a collection inside one. */
static inline void gcrt_enter(gcrt_thread *t) {
    t->in_gcrt++;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}
GCRT_HIDDEN void gcrt_suspend_deferred(gcrt_thread *t);
static inline void gcrt_leave(gcrt_thread *t) {
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    t->in_gcrt--;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (unlikely(t->suspend_pending) && t->in_gcrt == 0) gcrt_suspend_deferred(t);
}

/* Blocking regions (Go's entersyscall/exitsyscall): a thread about to spend long in the
 * kernel (faulting pages in) publishes its registers and stack pointer and runs fn outside
 * any critical section; a stop counts it stopped without waiting for it, and it waits for
 * the world to restart before leaving the region. fn must not touch the heap's metadata
 * nor hold the only reference to an object. */
enum { GCRT_TS_RUNNING, GCRT_TS_BLOCKING, GCRT_TS_CLAIMED };
GCRT_HIDDEN void gcrt_blocking(gcrt_thread *t, void (*fn)(void *), void *arg);
/* Outside critical sections: fault in the pages the last chunk refill recorded (heap.c). */
GCRT_HIDDEN void gcrt_pcache_populate_slow(gcrt_thread *t);
/* The caller's registers at a call, for the stack scan: getcontext in the caller's own
 * frame (a macro: getcontext returns twice, so no function wrapping it is inlined), less
 * the registers a call clobbers, which hold only dead values of callees that the scan
 * would take for roots (a dropped list's head left in one kept the whole list alive under
 * ASan). Callee-saved ones stay. */
GCRT_HIDDEN void gcrt_context_drop_scratch(ucontext_t *uc);
/* Zeroed first: getcontext writes neither the vector registers (dead across a call) nor
 * most of the FP area, and the scan covers the whole ucontext_t. */
#define GCRT_CONTEXT_AT_CALL(uc) (memset((uc), 0, sizeof *(uc)), getcontext(uc), gcrt_context_drop_scratch(uc))
GCRT_HIDDEN void gcrt_threads_init(void);
/* Start one of gcrt's own helper threads, detached (GC thread, workers, sweeper, ...),
 * named (at most 15 characters) so that top -H and perf tell them apart. The thread names
 * itself: naming another thread goes through /proc/self/task/TID/comm, and a dentry under
 * a helper's task directory makes the reaper of a killed program spin (helper.c). */
GCRT_HIDDEN bool gcrt_spawn_detached(void *(*fn)(void *), void *arg, const char *name);

/* helper.c: background helpers at SCHED_IDLE, raised while a thread waits for what they
 * hold. begin: the calling helper is lowered (if it can be raised again); settle: at a
 * safe point (no lock, no grey object held), back to SCHED_IDLE if it was raised; park:
 * about to wait for work, at normal priority until unpark (holding no gcrt lock). */
GCRT_HIDDEN bool gcrt_helpers_can_idle(void);
GCRT_HIDDEN void gcrt_helper_begin(void);
GCRT_HIDDEN void gcrt_helper_settle(void);
extern GCRT_HIDDEN void (*gcrt_helper_lower_hook)(void);   /* tests only */
GCRT_HIDDEN void gcrt_helper_park(void);
GCRT_HIDDEN void gcrt_helper_unpark(void);
GCRT_HIDDEN bool gcrt_helper_raise_tid(pid_t tid);   /* false if tid is no helper */
GCRT_HIDDEN void gcrt_helpers_fork_child(void);
GCRT_HIDDEN void gcrt_lock_slow(pthread_mutex_t *m);
/* Every gcrt lock is taken with this: a holder that is a helper starved at idle priority
 * is raised before the caller blocks (helper.c). */
static inline void gcrt_lock(pthread_mutex_t *m) {
    if (likely(pthread_mutex_trylock(m) == 0)) return;
    gcrt_lock_slow(m);
}
GCRT_HIDDEN gcrt_thread *gcrt_thread_slow(void);   /* gcrt_self, or abort if unregistered */
static inline gcrt_thread *gcrt_thread_get(void) {
    gcrt_thread *t = gcrt_self;
    if (unlikely(!t)) t = gcrt_thread_slow();
    return t;
}
/* Stop every registered thread but the caller (which must be registered or a gcrt
 * thread); returns with gcrt_threads_lock held. */
GCRT_HIDDEN void gcrt_stop_world(void);
GCRT_HIDDEN void gcrt_start_world(void);
extern GCRT_HIDDEN pthread_mutex_t gcrt_threads_lock;
extern GCRT_HIDDEN gcrt_thread *gcrt_threads;        /* registered threads */
extern GCRT_HIDDEN int gcrt_nthreads;

GCRT_HIDDEN void gcrt_cache_init(gcrt_cache *c);
/* Give back every span and fold counters into the global stats. Caller: the owner inside a
 * critical section, or the collector with the world stopped. */
GCRT_HIDDEN void gcrt_cache_release_all(gcrt_cache *c);
GCRT_HIDDEN void *gcrt_alloc_slow(gcrt_thread *t, size_t size, unsigned kind, const gc_type_t *type,
                                  size_t count);

/* ---- Heap profiling (runtime/mprof.c, runtime/pprof.c; Go's mprof.go, pprof) ----------
 * Sampling: one sample per gcrt_mprof_rate bytes on average, at exponentially distributed
 * intervals, decided only on the allocation slow path (cache.c cuts a cached span's
 * alloccache short at the next sample point, so the fast path runs into the slow path
 * there). A sampled object carries a profile special (final.c) naming its bucket (stack
 * and size); sweeping the dead object records the free. Go's three-cycle records make the
 * published profile the heap as of the last completed cycle. */
extern GCRT_HIDDEN int64_t gcrt_mprof_rate;    /* bytes per sample; 0 off (atomic) */
extern GCRT_HIDDEN uint32_t gcrt_mprof_epoch;  /* bumped when the rate changes (atomic) */
typedef struct gcrt_mbucket gcrt_mbucket;
GCRT_HIDDEN int64_t gcrt_mprof_next_sample(gcrt_cache *c);   /* bytes to the next sample */
/* The slow path handed out p (size bytes) as a sample: take its stack, count it in its
 * bucket and tie the bucket to the object. Outside critical sections. */
GCRT_HIDDEN void gcrt_mprof_malloc(gcrt_thread *t, void *p, size_t size);
GCRT_HIDDEN void gcrt_mprof_free(gcrt_mbucket *b, size_t size);    /* sweeper: a sample died */
GCRT_HIDDEN void gcrt_mprof_next_cycle(void);   /* mark termination, world stopped */
GCRT_HIDDEN void gcrt_mprof_flush(void);        /* after it, world running */
GCRT_HIDDEN void gcrt_mprof_post_sweep(void);   /* every span of the cycle swept */
GCRT_HIDDEN void gcrt_mprof_init(void);         /* gc_init: rate and GCRT_MEMPROFILE */
GCRT_HIDDEN void gcrt_mprof_fork(int phase);
/* final.c: tie a bucket to the object at p (its start); false if p is no live object or no
 * record could be had. */
GCRT_HIDDEN bool gcrt_special_profile(gcrt_thread *t, void *p, gcrt_mbucket *b);
/* One record of the published profile (pprof.c reads them). */
#define GCRT_MPROF_DEPTH 32
typedef struct gcrt_mrecord {
    uint64_t allocs, frees, alloc_bytes, free_bytes;
    size_t size;
    int64_t rate;               /* sampling rate of these samples */
    unsigned nstk;
    uintptr_t stk[GCRT_MPROF_DEPTH];
} gcrt_mrecord;
/* A copy of the published records (malloc'd; *n of them), NULL with *n = 0 if none. */
GCRT_HIDDEN gcrt_mrecord *gcrt_mprof_records(size_t *n);
GCRT_HIDDEN int gcrt_write_heap_profile_path(const char *path);   /* pprof.c: create, write, close */
/* Stack capture: libunwind (default) or frame pointers (GODEBUG=memprofilefp=1). Returns
 * the frames above gcrt's own, outermost last. */
GCRT_HIDDEN unsigned gcrt_mprof_callers(gcrt_thread *t, uintptr_t *pcs, unsigned max, bool fp);
/* Functions a sampled stack may pass through inside gcrt live in this section, so the
 * capture can drop them whatever inlining and tail calls did. */
#define GCRT_ENTRY __attribute__((section("gcrt_entry")))

/* ---- Types ---------------------------------------------------------------------------- */
struct gc_type {
    size_t size;          /* bytes per element */
    size_t nptrs;
    size_t nwords;        /* ceil(size/8) */
    uint64_t *bits;       /* nwords bits: 1 = pointer word */
    size_t offsets[];     /* the pointer offsets, sorted */
};
GCRT_HIDDEN void gcrt_type_write_bits(gcrt_span *s, uintptr_t obj, const gc_type_t *t, size_t count,
                                      size_t objsize);

/* ---- Statistics (runtime/stats.c) ----------------------------------------------------
 * Counters of released caches and of sweeping; guarded by gcrt_stats_lock except where
 * noted. Exact values come from folding in live caches with the world stopped. */
typedef struct gcrt_stats {
    pthread_mutex_t lock;
    uint64_t nmalloc[GCRT_NUM_CLASSES];
    uint64_t nfree[GCRT_NUM_CLASSES];  /* atomic: sweeping adds without the lock */
    uint64_t tiny_allocs;
    uint64_t large_allocs, large_bytes, large_frees, large_freed_bytes;
    /* GC */
    uint32_t num_gc, num_forced_gc;
    uint64_t last_gc_ns;
    uint64_t pause_total_ns, max_pause_ns;
    uint64_t pause_ns[256], pause_end[256];   /* per cycle, both pauses summed (Go's) */
    uint64_t gc_cpu_ns;           /* collector CPU, all threads */
    uint64_t start_ns;            /* gc_init, monotonic */
} gcrt_stats;
extern GCRT_HIDDEN gcrt_stats gcrt_stats_;
GCRT_HIDDEN void gcrt_stats_fold_cache(gcrt_cache *c);
GCRT_HIDDEN void gcrt_stats_thread_gone(gcrt_cache *c);   /* released cache of an unregistering thread */

/* ---- Collector (gc/) ----------------------------------------------------------------- */
typedef struct gcrt_gcstate {
    pthread_mutex_t lock;          /* requests and settings; never taken with the world
                                      stopped, never inside a critical section */
    pthread_cond_t request, done, begun;
    uint32_t started, finished;    /* cycles */
    volatile int starting;         /* claimed, marking not yet begun (begun wakes) */
    uint64_t start_trigger;        /* the trigger the starting cycle replaced */
    int handoff;                   /* pause 1 done: the GC thread takes over */
    volatile int running;
    volatile int marking;          /* MARK phase: barrier on, allocation black */
    int percent;                   /* GOGC; < 0 off */
    int64_t memory_limit;          /* GOMEMLIMIT; INT64_MAX off */
    uint64_t heap_marked;          /* live bytes marked by the last cycle */
    uint64_t goal;                 /* heap goal for the next cycle */
    uint64_t trigger;              /* heap_live at which the next cycle starts */
    uint64_t globals_bytes, stacks_bytes;  /* root bytes scanned by the last cycle */
    int nmarkers;                  /* GOMAXPROCS: mark threads, including the collector */
    int ncpu;                      /* online CPUs at gc_init */
    int gctrace, gcstoptheworld, gccheckmark, scavtrace, tinyalloc, gcverify;
    int gcpoison, gcstress, gcstorecheck;   /* debug modes: runtime/debug.c */
    int disablethp;                /* no MADV_HUGEPAGE on the heap (alloc/os.c) */
    int gcgreentea;                /* span-local marking (gc/mark.c): 0 off, 1 on, 2 adaptive (default) */
    int memprofilerate;            /* GODEBUG=memprofilerate=N (-1: unset) */
    int memprofilefp;              /* sampled stacks by frame pointers, not libunwind */
} gcrt_gcstate;
extern GCRT_HIDDEN gcrt_gcstate gcrt_gc;

GCRT_HIDDEN void gcrt_gc_maybe_start(void);       /* outside critical sections only */
/* Run a full cycle that starts after this call and wait for it (runtime.GC). */
GCRT_HIDDEN void gcrt_collect(bool forced);
/* Blacken what a cache handed out from s while marking (cache release, world stopped). */
GCRT_HIDDEN void gcrt_span_blacken_cached(gcrt_span *s);
GCRT_HIDDEN uint64_t gcrt_now_ns(void);            /* CLOCK_MONOTONIC */
GCRT_HIDDEN uint64_t gcrt_thread_cpu_ns(void);

/* mark.c */
typedef struct gcrt_gcw {
    void *cur;               /* the marker's own work buffer */
    uint64_t bytes_marked, scan_work, nscanned;
    uint64_t gt_visits, gt_objs;   /* mark.c: span-local spans taken, objects they had scanned */
    uint32_t gt_local;       /* mark.c: a span-local scan marked into its own span */
    uint64_t gt_lm[GCRT_PAGE_SIZE / 8 / 64];   /* mark.c: those marks, not yet in markbits
                                                  (all zero outside a span scan) */
} gcrt_gcw;
GCRT_HIDDEN void gcrt_mark_init(int nmarkers);
GCRT_HIDDEN void gcrt_mark_prepare(void);          /* before pause 1: workers, buffer reserve */
GCRT_HIDDEN void gcrt_mark_begin(void);            /* in pause 1: counters */
GCRT_HIDDEN void gcrt_mark_workers(bool run);      /* wake or park the pause workers */
GCRT_HIDDEN void gcrt_gcw_init(gcrt_gcw *w);       /* from here the caller may hold work */
GCRT_HIDDEN void gcrt_gcw_dispose(gcrt_gcw *w);    /* publishes what is left */
GCRT_HIDDEN void gcrt_grey(gcrt_gcw *w, uintptr_t v);
GCRT_HIDDEN void gcrt_scan_range(gcrt_gcw *w, uintptr_t lo, uintptr_t hi);
GCRT_HIDDEN int64_t gcrt_drain(gcrt_gcw *w, int64_t budget);
GCRT_HIDDEN int64_t gcrt_mark_some(int64_t budget);   /* a gcw of its own: init, drain, dispose */
GCRT_HIDDEN int64_t gcrt_mark_sections(gcrt_thread *t, int64_t budget, int64_t section, bool *ran_dry);
GCRT_HIDDEN bool gcrt_mark_work_done(void);        /* no grey object anywhere */
GCRT_HIDDEN void gcrt_mark_drain_all(void);        /* mark until done (with the workers) */
GCRT_HIDDEN void gcrt_mark_recover_overflow(void); /* world stopped */
GCRT_HIDDEN uint64_t gcrt_mark_bytes(void);
GCRT_HIDDEN uint64_t gcrt_mark_scan_work(void);
GCRT_HIDDEN void gcrt_mark_add_bytes(uint64_t n);
GCRT_HIDDEN uint64_t gcrt_mark_worker_cpu(void);   /* helper threads' CPU, this cycle */
GCRT_HIDDEN uint64_t gcrt_mark_assist_cpu(void);
GCRT_HIDDEN void gcrt_mark_credit(int64_t work);
GCRT_HIDDEN void gcrt_mark_set_assist_ratio(double r);
GCRT_HIDDEN void gcrt_assist(gcrt_thread *t);
GCRT_HIDDEN bool gcrt_assists_waiting(void);   /* an assist waits for the markers */
GCRT_HIDDEN void gcrt_wbuf_flush(gcrt_thread *t);
/* Ragged barrier before pause 2: the GC thread bumps gcrt_flush_epoch, and each mutator
 * flushes its barrier buffer at its next barrier or allocation slow path. */
extern GCRT_HIDDEN uint32_t gcrt_flush_epoch;
GCRT_HIDDEN void gcrt_wbuf_flush_requested(gcrt_thread *t);
GCRT_HIDDEN void gcrt_shade_unregistered(uintptr_t v);
GCRT_HIDDEN void gcrt_mark_phase_end(void);     /* world stopped: barrier off, marking over */

/* idlemark.c (perf): the SCHED_IDLE mark worker, between start and stop of a cycle's
 * concurrent mark (GC thread only). stop returns its CPU ns for this cycle and leaves it
 * holding no work. */
GCRT_HIDDEN void gcrt_idle_mark_start(void);
GCRT_HIDDEN uint64_t gcrt_idle_mark_stop(void);
GCRT_HIDDEN void gcrt_idle_mark_boost(void);   /* starved with work in hand: SCHED_OTHER */
GCRT_HIDDEN void gcrt_idle_mark_boost_starved(uint64_t ns);   /* the same, if its slice has lasted ns */

/* timeline.c: GODEBUG=gctracefile=PATH, each cycle's phases as Chrome trace-event JSON.
 * Off, every site is one branch on gcrt_tl_on (set once at init); on, recording is
 * lock-free and makes no system call, so a site may be anywhere (pauses, critical
 * sections, helpers). Sites take their start with gcrt_tl_now (0 when off) and end with
 * gcrt_tl_end, or record explicit times with gcrt_tl_record. */
enum {
    GCRT_TL_STOP, GCRT_TL_STW1, GCRT_TL_STW2, GCRT_TL_STW2_RESTART, GCRT_TL_MARK_START, GCRT_TL_MARK_FRAC,
    GCRT_TL_MARK_IDLE, GCRT_TL_MARK_PAUSE, GCRT_TL_ASSIST, GCRT_TL_ASSIST_WAIT, GCRT_TL_SWEEP_BG,
    GCRT_TL_SWEEP_PAY, GCRT_TL_SWEEP_FINISH, GCRT_TL_SCAV, GCRT_TL_SCAV_LIMIT, GCRT_TL_SCAV_FORCED,
    /* the synthetic GC track, and counters */
    GCRT_TL_G_CYCLE, GCRT_TL_G_CYCLE_OPEN, GCRT_TL_G_STW1, GCRT_TL_G_MARK, GCRT_TL_G_STW2,
    GCRT_TL_G_STW2_RESTART, GCRT_TL_G_SWEEP, GCRT_TL_C_HEAP, GCRT_TL_C_GOAL, GCRT_TL_NKINDS
};
/* What a helper thread is, for its track's name (set once at its start; 0: a thread). */
enum { GCRT_ROLE_THREAD, GCRT_ROLE_GC, GCRT_ROLE_IDLE, GCRT_ROLE_PAUSE, GCRT_ROLE_SWEEP, GCRT_ROLE_SCAV };
extern GCRT_HIDDEN int gcrt_tl_on;
GCRT_HIDDEN void gcrt_tl_init(const char *path);   /* NULL: off */
GCRT_HIDDEN void gcrt_tl_role(int role);
GCRT_HIDDEN void gcrt_tl_record(unsigned kind, uint64_t t0, uint64_t t1, uint64_t a, uint64_t b);
GCRT_HIDDEN void gcrt_tl_record3(unsigned kind, uint64_t t0, uint64_t t1, uint64_t a, uint64_t b, uint64_t c);
static inline uint64_t gcrt_tl_now(void) { return unlikely(gcrt_tl_on) ? gcrt_now_ns() : 0; }
static inline void gcrt_tl_end(unsigned kind, uint64_t t0, uint64_t a, uint64_t b) {
    if (unlikely(t0)) gcrt_tl_record(kind, t0, gcrt_now_ns(), a, b);
}
/* For what may outlast its cycle (an assist stopped by pause 2 and resumed after it): the
 * event is tagged with the cycle read at its start (gcrt_tl_cycle_now), not at its end. */
extern GCRT_HIDDEN uint32_t gcrt_tl_cycle_no;
static inline uint32_t gcrt_tl_cycle_now(void) { return atomic_load_relaxed(&gcrt_tl_cycle_no); }
GCRT_HIDDEN void gcrt_tl_record_in(unsigned kind, uint32_t cycle, uint64_t t0, uint64_t t1, uint64_t a, uint64_t b);
static inline void gcrt_tl_end_in(unsigned kind, uint32_t cycle, uint64_t t0, uint64_t a, uint64_t b) {
    if (unlikely(t0)) gcrt_tl_record_in(kind, cycle, t0, gcrt_now_ns(), a, b);
}
/* A run of slices (mark workers, the background sweeper) is one interval while each
 * starts within 50 us of the last one's end: add a slice that began at s0 (from
 * gcrt_tl_now; 0 adds nothing), flush before sleeping and at the end. */
typedef struct gcrt_tl_run {
    uint64_t t0, t1, a;
    uint32_t n, cycle;
} gcrt_tl_run;
GCRT_HIDDEN void gcrt_tl_run_add(gcrt_tl_run *r, unsigned kind, uint64_t s0, uint64_t a);
GCRT_HIDDEN void gcrt_tl_run_flush(gcrt_tl_run *r, unsigned kind);
/* One cycle, for the GC track (cycle.c, at its end, world running). */
typedef struct gcrt_tl_cycle {
    uint32_t n;
    int stw, forced;
    uint64_t start, stw1_end, tterm, tend, heap0, heap1, marked, goal0, goal1;
} gcrt_tl_cycle;
GCRT_HIDDEN void gcrt_tl_cycle_begin(uint32_t n, uint64_t start);
GCRT_HIDDEN void gcrt_tl_cycle_end(const gcrt_tl_cycle *c);   /* records, then writes the file */
GCRT_HIDDEN void gcrt_tl_swept(void);       /* a span was swept: the sweep phase's end so far */
GCRT_HIDDEN void gcrt_tl_maybe_drain(void); /* GC thread, mid-mark: write if the ring is half full */
GCRT_HIDDEN void gcrt_tl_fork_child(void);

/* verify.c */
GCRT_HIDDEN void gcrt_verify_marks(void);   /* world stopped, after marking */
GCRT_HIDDEN void gcrt_checkmark(void);      /* world stopped: re-mark from roots, compare */

/* sweep.c */
/* Sweep s (claimed by the caller: sweepgen == sg-1). Returns true if it still holds
 * objects, false if its pages went back to the heap. */
GCRT_HIDDEN bool gcrt_sweep_span(gcrt_span *s, bool preserve);
GCRT_HIDDEN bool gcrt_sweep_one(void);           /* sweep one unswept span; false when none */
GCRT_HIDDEN void gcrt_sweep_finish(void);        /* sweep everything of this generation */
GCRT_HIDDEN void gcrt_sweep_wait_idle(void);     /* world stopped: no unswept span, gate held */
GCRT_HIDDEN void gcrt_sweep_gate_release(void);  /* after wait_idle, without a flip */
/* Sweep unswept spans until npages went back to the page heap or none are left. */
GCRT_HIDDEN void gcrt_sweep_reclaim(size_t npages);
GCRT_HIDDEN void gcrt_sweep_start(uint64_t live, uint64_t trigger);   /* world stopped: flip */
GCRT_HIDDEN void gcrt_sweep_pay(void);           /* allocation pays proportional sweeping; not in a critical section */
/* A sweeper has finished n spans of npages in all that it claimed (popped from an unswept
 * list, under the class lock). */
GCRT_HIDDEN void gcrt_sweep_done(uint32_t n, size_t npages);
GCRT_HIDDEN void gcrt_bgsweep_wake(void);
/* Every sweeper counts each span it finishes here, and proportional sweeping reads the
 * counts on every refill, so they share one cache line written once per span (per batch
 * for the background sweeper): with a counter per line and claims counted apart from
 * finishes, the four atomic adds per span were each a line transfer between two CPUs
 * sweeping side by side. */
typedef struct gcrt_sweep_counts {
    uint32_t pending;       /* spans of this generation not yet swept (claimed or not) */
    unsigned cursor;        /* next span class sweep_any looks at */
    uint64_t pages_done;    /* pages swept this generation (proportional sweep) */
} __attribute__((aligned(64))) gcrt_sweep_counts;
extern GCRT_HIDDEN gcrt_sweep_counts gcrt_sweep_;
/* Unswept spans remain (some may be claimed, being swept). */
static inline uint32_t gcrt_sweep_pending(void) { return atomic_load_relaxed(&gcrt_sweep_.pending); }

/* ---- Pacer, memory limit, scavenger, CPU limiter (gc/pacer.c, gc/scavenge.c,
 * gc/limiter.c, runtime/cgroup.c) ---------------------------------------------------------
 * The pacer's arithmetic is pure (gcrt_pacer_measure/commit/assist_ratio) so that tests can
 * simulate it; the rest reads the live heap into it. */
typedef struct gcrt_pacer_in {   /* settings and heap figures at a commit */
    int percent;                 /* GOGC; < 0 off */
    int64_t memory_limit;        /* GOMEMLIMIT; INT64_MAX off */
    uint64_t heap_marked;        /* marked by the last cycle */
    uint64_t stacks, globals;    /* root bytes scanned by the last cycle */
    uint64_t heap_live;          /* now */
    uint64_t mapped;             /* heap_sys - heap_released + metadata: what the limit covers */
    uint64_t heap_free;          /* free heap pages not released */
    uint64_t heap_inuse;         /* in in-use spans: objects, unswept garbage, free slots */
    int stw;                     /* stop-the-world collector: trigger at the goal */
} gcrt_pacer_in;
typedef struct gcrt_pacer_cycle {   /* one finished cycle's measurements */
    uint64_t triggered;          /* heap_live when it started */
    uint64_t heap_live_end;      /* heap_live at mark termination */
    uint64_t scan_work;          /* bytes scanned: heap objects, stacks, globals */
    uint64_t mark_ns;            /* wall time from start to mark termination */
    uint64_t bg_cpu_ns, assist_cpu_ns, idle_cpu_ns;
    int procs;
} gcrt_pacer_cycle;
#define GCRT_PACER_HIST 4
typedef struct gcrt_pacer {
    double cons_mark;            /* max of the last 5 measurements (Go 1.21) */
    double hist[GCRT_PACER_HIST];
    unsigned nhist;
    uint64_t cycles, last_scan;  /* cycles measured; scan work of the last one */
    uint64_t goal, trigger, runway, gogc_goal, limit_goal, last_goal;
    bool limited;                /* the memory limit sets the goal */
} gcrt_pacer;
GCRT_HIDDEN void gcrt_pacer_measure(gcrt_pacer *p, const gcrt_pacer_cycle *c);
GCRT_HIDDEN void gcrt_pacer_commit(gcrt_pacer *p, const gcrt_pacer_in *in);
GCRT_HIDDEN double gcrt_pacer_assist_ratio(const gcrt_pacer *p, const gcrt_pacer_in *in, uint64_t triggered,
                                           uint64_t work_done);
GCRT_HIDDEN void gcrt_pacer_update(void);          /* gc.lock held, or at init */
GCRT_HIDDEN void gcrt_pacer_recommit(void);        /* takes gc.lock; no-op while running */
GCRT_HIDDEN void gcrt_pacer_cycle_start(uint64_t heap_live);   /* pause 1 */
GCRT_HIDDEN void gcrt_pacer_cycle_end(uint64_t marked, uint64_t heap_live_end, uint64_t mark_ns,
                                      uint64_t bg_cpu_ns, uint64_t assist_cpu_ns, uint64_t idle_cpu_ns);
GCRT_HIDDEN void gcrt_pacer_revise(void);          /* GC thread: set the assist ratio */
GCRT_HIDDEN uint64_t gcrt_pacer_last_goal(void);
GCRT_HIDDEN bool gcrt_pacer_limited(void);
/* scavenge.c */
GCRT_HIDDEN uint64_t gcrt_mapped_bytes(void);      /* heap_sys - heap_released + metadata */
GCRT_HIDDEN void gcrt_scavenger_cycle_end(void);   /* after mark termination, world running */
GCRT_HIDDEN void gcrt_scavenger_limit_changed(void);
/* After the page heap handed out pages: over the memory limit, release free pages at once
 * (Go's allocation-time scavenging). Not with heap.lock held. */
GCRT_HIDDEN void gcrt_scavenge_for_limit(void);
GCRT_HIDDEN void gcrt_scavenge_owed(gcrt_thread *t);   /* outside any critical section */
GCRT_HIDDEN void gcrt_scavenge_forced(void);       /* gc_free_os_memory: release everything */
/* limiter.c: Go's GC CPU limiter (leaky bucket). */
/* Collector CPU: gc_ns counts towards the limit; idle_ns (marking on CPUs nobody else
 * wanted) counts neither as collector nor as mutator time, as in Go. */
GCRT_HIDDEN void gcrt_limiter_add(uint64_t gc_ns, uint64_t idle_ns);
GCRT_HIDDEN void gcrt_limiter_update(void);
GCRT_HIDDEN bool gcrt_limiter_on(void);
GCRT_HIDDEN bool gcrt_limiter_filling(void);   /* collector CPU above the program's lately */
typedef struct gcrt_limiter {   /* pure state, for tests */
    double fill, capacity;      /* CPU-ns */
    bool on;
    uint64_t overflow;
} gcrt_limiter;
GCRT_HIDDEN void gcrt_limiter_step(gcrt_limiter *l, double gc_ns, double mutator_ns);
/* cgroup.c: a cgroup memory limit, or 0. */
GCRT_HIDDEN uint64_t gcrt_cgroup_memory_limit(const char *proc_cgroup, const char *cgroup_root);

/* ---- Specials, finalizers, cleanups, weak handles, unique (gc/final.c, gc/weak.c) ----
 * Records per span (span->specials); see final.c for the locks and the mark/sweep rules. */
typedef struct gcrt_special gcrt_special;
struct gc_weak {                 /* a weak handle: 8-byte noscan GC object (Go's is 8 too) */
    uintptr_t obj;               /* the object's address, or 0 once it was found dead; atomic */
};
/* Pause 1: whether there is a root job, and whether it is quick (pinned weak cells only,
 * run by the starting thread before it hands the mark over) or walks records (run after). */
enum { GCRT_SPECIALS_NONE = 0, GCRT_SPECIALS_QUICK = 1, GCRT_SPECIALS_WALK = 2 };
GCRT_HIDDEN int gcrt_specials_begin(void);
GCRT_HIDDEN void gcrt_specials_markroot(gcrt_thread *me);   /* that job, while marking */
GCRT_HIDDEN void gcrt_sweep_specials(gcrt_span *s);         /* sweeper, s->spset != 0 */
GCRT_HIDDEN struct gc_weak *gcrt_special_weak(gcrt_span *s, uintptr_t p, struct gc_weak *cell, int *err);
GCRT_HIDDEN pthread_mutex_t *gcrt_special_lock(gcrt_span *s);
GCRT_HIDDEN void gcrt_specials_counts(size_t *spans, size_t *walk, size_t *pins);   /* tests */
/* compat/ (bdwgc's API, issue 19). Finalizer orderings: ORDERED is Go's and bdwgc's default
 * (the root job scans the object's contents), IGNORE_SELF skips the words pointing into the
 * object, NO_ORDER scans nothing and is queued at mark termination (gcrt_specials_unordered). */
enum { GCRT_FIN_ORDERED = 0, GCRT_FIN_IGNORE_SELF = 1, GCRT_FIN_NO_ORDER = 2 };
GCRT_HIDDEN int gcrt_finalizer_swap(void *obj, void *fn, void *arg, int mode, void **ofn, void **oarg);
GCRT_HIDDEN bool gcrt_has_finalizer(uintptr_t obj);           /* world stopped */
GCRT_HIDDEN bool gcrt_specials_unordered(void);               /* mark termination */
extern GCRT_HIDDEN int gcrt_fin_manual;       /* no finalizer thread: the embedder runs the queue */
GCRT_HIDDEN const volatile uint32_t *gcrt_finq_seq(void);     /* bumped when entries are queued */
GCRT_HIDDEN uint64_t gcrt_finq_len(void);
/* cycle.c: called at mark termination with the world stopped, marks final (compat/ links). */
extern GCRT_HIDDEN void (*gcrt_mark_end_hook)(void);
/* cycle.c, compat/ (bdwgc's start callback, push_other_roots, custom kinds): cycle_start at
 * the start of every cycle, before the world stops (it must not allocate); roots in pause 1
 * after the roots are greyed, before marking, with the pause's work buffer; mark_final last
 * at mark termination, after unordered finalizers were resurrected: the marks are final. */
extern GCRT_HIDDEN void (*gcrt_cycle_start_hook)(void);
/* cycle.c, compat/ (bdwgc's allocation lock): stop_lock is called by the thread that is
 * about to stop the world for a pause of a cycle, before any thread is asked to stop;
 * stop_unlock by the same thread once the world runs again. stop_lock may wait for the
 * program (it holds the root lock then, and the cycle is claimed). */
extern GCRT_HIDDEN void (*gcrt_stop_lock_hook)(void);
extern GCRT_HIDDEN void (*gcrt_stop_unlock_hook)(void);
extern GCRT_HIDDEN void (*gcrt_roots_hook)(gcrt_gcw *w);
extern GCRT_HIDDEN void (*gcrt_mark_final_hook)(void);
/* mark.c, compat/ custom kinds: called for every grey object of a typed span before its
 * pointer bits are read; true if it scanned the object itself (one of its kinds). Set only
 * while the whole mark runs with the world stopped, so what it reads is not changing. */
extern GCRT_HIDDEN bool (*gcrt_scan_hook)(gcrt_gcw *w, uintptr_t obj, size_t size);
/* roots.c: take the root lock (a cycle in progress is waited out, the next waits) around a
 * dlopen, so that no cycle gathers the loaded objects' segments half-way (GC_dlopen);
 * gcrt_roots_done releases it. */
GCRT_HIDDEN void gcrt_roots_lock(void);
/* thread.c: run fn outside the blocking region the caller is in (GC_call_with_gc_active). */
GCRT_HIDDEN void gcrt_blocking_active(gcrt_thread *t, void (*fn)(void *), void *arg);
GCRT_HIDDEN int gcrt_suspend_signal(void);
/* mark.c: scan an object's words (or its first oblet) without marking it. */
GCRT_HIDDEN size_t gcrt_scan_object(gcrt_gcw *w, uintptr_t obj);


/* roots.c */
GCRT_HIDDEN void gcrt_roots_prepare(void);   /* before stopping the world */
GCRT_HIDDEN void gcrt_roots_done(void);      /* after starting it */
GCRT_HIDDEN void gcrt_touch_range(uintptr_t lo, uintptr_t hi);   /* read a word of each page */
/* Call fn for each prepared static-data and registered range; returns bytes visited. */
GCRT_HIDDEN size_t gcrt_roots_each(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg);

/* ---- Pools (runtime/pool.c) ------------------------------------------------------------ */
/* gc_unregister_thread, inside its critical section: hand the thread's pooled objects on. */
GCRT_HIDDEN void gcrt_pool_thread_exit(gcrt_thread *t);
/* Pause 1, world stopped: rotate the victim caches, then scan the pools as roots. */
GCRT_HIDDEN void gcrt_pool_cycle_start(void (*scan)(uintptr_t lo, uintptr_t hi, void *arg), void *arg);
/* World stopped: every range of words the pools keep alive (for gccheckmark, gcverify). */
GCRT_HIDDEN void gcrt_pool_roots_each(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg);

/* init.c */
GCRT_HIDDEN void gcrt_ensure_init(void);
extern GCRT_HIDDEN volatile int gcrt_inited;
GCRT_HIDDEN int gcrt_parse_gogc(const char *s, int *out);
GCRT_HIDDEN int gcrt_parse_memlimit(const char *s, int64_t *out);
GCRT_HIDDEN int gcrt_parse_fault_mmap(const char *s, uint64_t *every, uint64_t *seed);
extern GCRT_HIDDEN gc_oom_handler_t gcrt_oom_handler;

GCRT_HIDDEN __attribute__((noreturn, format(printf, 1, 2))) void gcrt_fatal(const char *fmt, ...);
GCRT_HIDDEN void gcrt_scrub_vector_regs(void);   /* gc/final.c; tests call it too */
GCRT_HIDDEN __attribute__((format(printf, 1, 2))) void gcrt_warn(const char *fmt, ...);

/* ---- Debug modes and sanitizer hooks (runtime/debug.c; subsystem: reliab) --------------
 * GODEBUG=gcpoison=1, gcstress=N, gcstorecheck=1, and the memory-state transitions of GC
 * memory told to ASan (build with -DGCRT_ASAN) or valgrind (-DGCRT_VALGRIND). When any is
 * active, gcrt_debug_hooks is set and every allocation takes the slow path (the cached
 * spans' alloccache is kept 0), so the fast path carries no check of its own. */
extern GCRT_HIDDEN int gcrt_debug_hooks;
#define GCRT_POISON 0xdeadbeefdeadbeefull   /* non-canonical: never a heap address */
GCRT_HIDDEN void gcrt_debug_init(void);                        /* after the environment */
GCRT_HIDDEN void gcrt_debug_alloc_slot(gcrt_span *s, uintptr_t p); /* slot handed out (critical section) */
GCRT_HIDDEN void gcrt_debug_after_alloc(void *p);               /* outside it: gcstress */
GCRT_HIDDEN void gcrt_debug_free_slot(gcrt_span *s, uintptr_t p); /* sweep frees a slot: instead of zeroing */
GCRT_HIDDEN void gcrt_debug_pages_taken(uintptr_t base, size_t bytes, bool dirty, bool small);
GCRT_HIDDEN void gcrt_debug_pages_zeroed(uintptr_t base, size_t bytes, bool small);
GCRT_HIDDEN void gcrt_debug_pages_freed(uintptr_t base, size_t bytes);
/* gcverify: a free slot holds zero (or the poison, gcpoison); returns the bad word's offset or -1. */
GCRT_HIDDEN long gcrt_debug_free_slot_bad(const gcrt_span *s, uintptr_t p);
GCRT_HIDDEN bool gcrt_roots_contain(uintptr_t p);               /* roots.c: static data or registered */
GCRT_HIDDEN void gcrt_parse_godebug(const char *s);              /* init.c; a fuzz target calls it */
#ifdef GCRT_VALGRIND
#include <valgrind/memcheck.h>
/* A conservative scan reads words the program never initialised (stack slots, padding):
 * the copy is declared defined, the program's memory keeps its own state. */
static inline uintptr_t gcrt_scan_load(const uintptr_t *p) {
    uintptr_t v = atomic_load_relaxed(p);
    VALGRIND_MAKE_MEM_DEFINED(&v, sizeof v);
    return v;
}
/* A stopped thread's stack holds the signal frame, parts of which valgrind keeps
 * unaddressable: root ranges are scanned with address errors off. */
#define gcrt_scan_roots_begin(lo, hi) VALGRIND_DISABLE_ADDR_ERROR_REPORTING_IN_RANGE((lo), (hi) - (lo))
#define gcrt_scan_roots_end(lo, hi) VALGRIND_ENABLE_ADDR_ERROR_REPORTING_IN_RANGE((lo), (hi) - (lo))
#else
#define gcrt_scan_load(p) atomic_load_relaxed(p)
#define gcrt_scan_roots_begin(lo, hi) ((void)0)
#define gcrt_scan_roots_end(lo, hi) ((void)0)
#endif

static inline size_t round_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }

#endif /* GCRT_INTERNAL_H */

/* ---- fork (runtime/fork.c) -----------------------------------------------------------
 * pthread_atfork handlers installed by gc_init. Each subsystem's *_fork(phase) takes its
 * helper-thread locks in PREPARE (the world stopped, see fork.c for the order), releases
 * them in PARENT, and in CHILD re-initialises them and forgets its helper threads. */
enum { GCRT_FORK_PREPARE, GCRT_FORK_PARENT, GCRT_FORK_CHILD };
static inline void gcrt_fork_mutex(pthread_mutex_t *m, int phase) {
    if (phase == GCRT_FORK_PREPARE) pthread_mutex_lock(m);
    else if (phase == GCRT_FORK_PARENT) pthread_mutex_unlock(m);
    else pthread_mutex_init(m, NULL);
}
GCRT_HIDDEN void gcrt_fork_init(void);
GCRT_HIDDEN void gcrt_cycle_fork_child(void);      /* no GC thread */
GCRT_HIDDEN void gcrt_mark_fork(int phase);
GCRT_HIDDEN void gcrt_idle_mark_fork(int phase);
GCRT_HIDDEN void gcrt_sweep_fork(int phase);
GCRT_HIDDEN void gcrt_scavenger_fork(int phase);
GCRT_HIDDEN void gcrt_meta_fork(int phase);
GCRT_HIDDEN void gcrt_roots_fork(int phase);
GCRT_HIDDEN void gcrt_threads_fork(int phase);
GCRT_HIDDEN void gcrt_threads_fork_flush(void);    /* world stopped: empty the others' caches */
GCRT_HIDDEN void gcrt_threads_fork_restart(void);  /* restart, keeping the registry locked */
GCRT_HIDDEN void gcrt_final_fork(int phase);
GCRT_HIDDEN void gcrt_weak_fork(int phase);
GCRT_HIDDEN void gcrt_limiter_fork(int phase);
GCRT_HIDDEN void gcrt_pool_fork(int phase);
