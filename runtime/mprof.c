/*
 * mprof.c: the sampling heap profiler (Go's mprof.go and MemProfileRate).
 *
 * Sampling. On average one sample per gcrt_mprof_rate bytes allocated (Go's default, 512
 * KiB; GCRT_MEMPROFILERATE=N, GODEBUG=memprofilerate=N, gc_set_mem_profile_rate), at
 * exponentially distributed intervals (Go's nextSample/fastexprand), so an allocation of
 * s bytes is sampled with probability 1 - exp(-s/rate) whatever came before it, and
 * scaling each sample by the inverse (Go's scaleHeapSample, pprof.c) is unbiased. The
 * decision is made on the allocation slow path only (alloc/cache.c); the fast path is
 * Go's nextFreeFast, untouched.
 *
 * Buckets (Go's bucket/memRecord): one per (call stack, object size), in a chained hash
 * table, allocated from mappings of this file's own (never freed, never scanned: they
 * hold no heap pointer). A sampled object carries a profile special naming its bucket
 * (gc/final.c); sweeping the dead object calls gcrt_mprof_free.
 *
 * Cycles (Go's three-cycle memRecord): a malloc is counted in future[(C+2)%3] and a free
 * in future[(C+1)%3], C the profiling cycle, which mark termination advances. After the
 * world restarts, future[C%3] is folded into the published counts (mProf_Flush), and once
 * every span of the cycle is swept, future[(C+1)%3] too (mProf_PostSweep): the published
 * profile is then the heap as of the last mark termination: everything allocated before
 * it, less everything that cycle found dead. Before the first cycle completes, a read
 * folds every future cycle in (Go's "no GC yet" case).
 *
 * Locks: prof_lock guards the hash table and the fold into the published counts; it is
 * taken only outside critical sections (a sampling thread after its allocation, a reader,
 * the thread ending a cycle after restarting the world), so no stopped thread can hold
 * it while a pause needs it; nor does a pause: the sweeper's frees are atomic adds to a
 * bucket found through its special. The bucket list (allnext) only grows, published with
 * a release store.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

int64_t gcrt_mprof_rate = 512 * 1024;
uint32_t gcrt_mprof_epoch = 1;

typedef struct mcycle {
    uint64_t allocs, frees, alloc_bytes, free_bytes;
} mcycle;

struct gcrt_mbucket {
    gcrt_mbucket *next;      /* hash chain */
    gcrt_mbucket *allnext;   /* every bucket */
    uint64_t hash;
    size_t size;
    int64_t rate;            /* the rate its samples were taken at: what scales them */
    unsigned nstk;
    mcycle active;           /* published (prof_lock) */
    mcycle future[3];        /* atomic */
    uintptr_t stk[];
};

#define MPROF_HASH 16384
static pthread_mutex_t prof_lock = PTHREAD_MUTEX_INITIALIZER;
static GCRT_STATE gcrt_mbucket *mhash[MPROF_HASH];
static GCRT_STATE gcrt_mbucket *mall;   /* atomic: newest first */
static GCRT_STATE char *arena_cur, *arena_end;
static uint32_t mcycle_no;             /* atomic */
static uint32_t flushed_cycle, postswept_cycle;   /* prof_lock */
static uint64_t mprof_dropped;         /* samples without a stack or record (atomic) */

/* ---- the sampling interval (Go's fastexprand) ---- */

static uint64_t rng_next(gcrt_cache *c) {   /* xorshift64* */
    uint64_t x = c->prof_rng;
    if (unlikely(!x)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        x = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)(uintptr_t)c ^ ((uint64_t)gettid() << 40) ^ 0x9e3779b97f4a7c15ull;
        if (!x) x = 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->prof_rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

int64_t gcrt_mprof_next_sample(gcrt_cache *c) {
    int64_t mean = atomic_load_relaxed(&gcrt_mprof_rate);
    if (mean <= 0) return INT64_MAX;
    if (mean == 1) return 1;   /* every allocation (Go: MemProfileRate = 1) */
    if (mean > 0x7000000) mean = 0x7000000;
    /* q uniform in [1, 2^26]; -ln(q / 2^26) * mean is exponential with that mean */
    const int bits = 26;
    double q = (double)((rng_next(c) >> 38) + 1);
    double qlog = log2(q) - bits;
    if (qlog > 0) qlog = 0;
    return (int64_t)(qlog * (-0.6931471805599453 * (double)mean)) + 1;
}

/* ---- stacks ---- */

extern const char __start_gcrt_entry[] __attribute__((weak, visibility("hidden")));
extern const char __stop_gcrt_entry[] __attribute__((weak, visibility("hidden")));

static inline bool pc_in_gcrt(uintptr_t pc) {
    return pc - 1 >= (uintptr_t)__start_gcrt_entry && pc - 1 < (uintptr_t)__stop_gcrt_entry;
}

/* Frame pointers: each frame's [fp] is the caller's fp and [fp+8] the return address. The
 * chain is believed only while it climbs the thread's stack (a frame without a frame
 * pointer leaves garbage in rbp, which ends the walk rather than crashing it). */
static unsigned fp_walk(gcrt_thread *t, uintptr_t *pcs, unsigned max) {
#if defined(__x86_64__) || defined(__aarch64__)
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0), lo = t->stack_lo, hi = t->stack_hi;
    unsigned n = 0;
    while (n < max && fp >= lo && fp + 16 <= hi && !(fp & 7)) {
        uintptr_t next = ((uintptr_t *)fp)[0], ret = ((uintptr_t *)fp)[1];
        if (ret < 4096) break;
        pcs[n++] = ret;
        if (next <= fp) break;
        fp = next;
    }
    return n;
#else
    (void)t, (void)pcs, (void)max;
    return 0;
#endif
}

GCRT_ENTRY __attribute__((noinline)) unsigned gcrt_mprof_callers(gcrt_thread *t, uintptr_t *pcs, unsigned max, bool fp) {
    uintptr_t raw[GCRT_MPROF_DEPTH + 16];
    unsigned want = max + 16 < sizeof raw / sizeof raw[0] ? max + 16 : (unsigned)(sizeof raw / sizeof raw[0]);
    unsigned n = fp ? fp_walk(t, raw, want) : (unsigned)unw_backtrace((void **)raw, (int)want);
    unsigned i = 0;
    /* gcrt's own frames first (the capture, the slow path, the entry point): dropped. A
     * frame-pointer walk starts at the caller's return address, the others at this frame. */
    while (i < n && pc_in_gcrt(raw[i])) i++;
    unsigned k = 0;
    for (; i < n && k < max; i++) pcs[k++] = raw[i];
    return k;
}

/* ---- buckets ---- */

static void *arena_alloc(size_t size) {   /* prof_lock held */
    size = round_up(size, 16);
    if ((size_t)(arena_end - arena_cur) < size) {
        size_t chunk = size > ((size_t)1 << 20) ? round_up(size, 4096) : (size_t)1 << 20;
        void *m = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return NULL;
        arena_cur = m;
        arena_end = arena_cur + chunk;
    }
    void *p = arena_cur;
    arena_cur += size;
    return p;
}

static uint64_t stack_hash(const uintptr_t *stk, unsigned n, size_t size) {
    uint64_t h = 0xcbf29ce484222325ull ^ size;
    for (unsigned i = 0; i < n; i++) {
        h ^= stk[i];
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h;
}

static gcrt_mbucket *bucket_get(const uintptr_t *stk, unsigned n, size_t size, int64_t rate) {   /* prof_lock held */
    uint64_t h = stack_hash(stk, n, size) ^ (uint64_t)rate;
    gcrt_mbucket **head = &mhash[h % MPROF_HASH];
    for (gcrt_mbucket *b = *head; b; b = b->next)
        if (b->hash == h && b->size == size && b->rate == rate && b->nstk == n && !memcmp(b->stk, stk, n * sizeof *stk))
            return b;
    gcrt_mbucket *b = arena_alloc(sizeof *b + n * sizeof *stk);
    if (!b) return NULL;
    memset(b, 0, sizeof *b);
    b->hash = h;
    b->size = size;
    b->rate = rate;
    b->nstk = n;
    memcpy(b->stk, stk, n * sizeof *stk);
    b->next = *head;
    *head = b;
    b->allnext = mall;
    atomic_store_release(&mall, b);
    return b;
}

GCRT_ENTRY __attribute__((noinline)) void gcrt_mprof_malloc(gcrt_thread *t, void *p, size_t size) {
    uintptr_t stk[GCRT_MPROF_DEPTH];
    if (t->in_gcrt) {   /* an allocation inside gcrt's own critical section: no lock may be taken */
        atomic_add(&mprof_dropped, 1);
        return;
    }
    unsigned n = gcrt_mprof_callers(t, stk, GCRT_MPROF_DEPTH, gcrt_gc.memprofilefp);
    gcrt_lock(&prof_lock);
    gcrt_mbucket *b = bucket_get(stk, n, size, atomic_load_relaxed(&gcrt_mprof_rate));
    pthread_mutex_unlock(&prof_lock);
    /* The record first: once counted, the object's death must find it. p is live in this
     * frame until then. */
    if (!b || !gcrt_special_profile(t, p, b)) {
        atomic_add(&mprof_dropped, 1);
        return;
    }
    mcycle *f = &b->future[(atomic_load_relaxed(&mcycle_no) + 2) % 3];
    atomic_add(&f->allocs, 1);
    atomic_add(&f->alloc_bytes, (uint64_t)size);
    gc_keep_alive(p);
}

void gcrt_mprof_free(gcrt_mbucket *b, size_t size) {
    mcycle *f = &b->future[(atomic_load_relaxed(&mcycle_no) + 1) % 3];
    atomic_add(&f->frees, 1);
    atomic_add(&f->free_bytes, (uint64_t)size);
}

/* ---- cycles ---- */

static void fold_locked(unsigned idx) {   /* future[idx] into the published counts */
    for (gcrt_mbucket *b = atomic_load_acquire(&mall); b; b = b->allnext) {
        mcycle *f = &b->future[idx];
        b->active.allocs += __atomic_exchange_n(&f->allocs, 0, __ATOMIC_RELAXED);
        b->active.frees += __atomic_exchange_n(&f->frees, 0, __ATOMIC_RELAXED);
        b->active.alloc_bytes += __atomic_exchange_n(&f->alloc_bytes, 0, __ATOMIC_RELAXED);
        b->active.free_bytes += __atomic_exchange_n(&f->free_bytes, 0, __ATOMIC_RELAXED);
    }
}

void gcrt_mprof_next_cycle(void) { atomic_add(&mcycle_no, 1); }

static void flush_locked(void) {
    uint32_t c = atomic_load_relaxed(&mcycle_no);
    if (flushed_cycle == c) return;
    flushed_cycle = c;
    fold_locked(c % 3);
}

void gcrt_mprof_flush(void) {
    if (!atomic_load_acquire(&mall)) return;
    gcrt_lock(&prof_lock);
    flush_locked();
    pthread_mutex_unlock(&prof_lock);
}

void gcrt_mprof_post_sweep(void) {
    if (!atomic_load_acquire(&mall)) return;
    gcrt_lock(&prof_lock);
    uint32_t c = atomic_load_relaxed(&mcycle_no);
    if (postswept_cycle != c) {
        postswept_cycle = c;
        fold_locked((c + 1) % 3);
    }
    pthread_mutex_unlock(&prof_lock);
}

gcrt_mrecord *gcrt_mprof_records(size_t *np) {
    *np = 0;
    gcrt_lock(&prof_lock);
    flush_locked();   /* between a mark termination and its flush */
    size_t n = 0;
    bool clear = true;
    for (gcrt_mbucket *b = atomic_load_acquire(&mall); b; b = b->allnext) {
        n++;
        if (b->active.allocs || b->active.frees) clear = false;
    }
    if (clear)   /* no cycle has completed: everything sampled so far */
        for (unsigned i = 0; i < 3; i++) fold_locked(i);
    gcrt_mrecord *r = n ? malloc(n * sizeof *r) : NULL;
    size_t k = 0;
    if (r)
        for (gcrt_mbucket *b = atomic_load_acquire(&mall); b && k < n; b = b->allnext, k++) {
            r[k] = (gcrt_mrecord){b->active.allocs, b->active.frees, b->active.alloc_bytes, b->active.free_bytes,
                                  b->size, b->rate, b->nstk, {0}};
            memcpy(r[k].stk, b->stk, b->nstk * sizeof b->stk[0]);
        }
    pthread_mutex_unlock(&prof_lock);
    *np = k;
    return r;
}

/* ---- settings ---- */

GCRT_API int gc_set_mem_profile_rate(int rate) {
    int old = (int)atomic_load_relaxed(&gcrt_mprof_rate);
    if (rate < 0) return old;
    __atomic_store_n(&gcrt_mprof_rate, (int64_t)rate, __ATOMIC_RELAXED);
    atomic_add(&gcrt_mprof_epoch, 1);
    return old;
}

static char *memprofile_path;

static void memprofile_at_exit(void) {
    if (!memprofile_path) return;
    gcrt_thread *me = gcrt_self;
    if (me && me->in_gcrt) return;
    if (me) gc_collect();   /* as go test -memprofile: the profile of a completed cycle */
    int rc = gcrt_write_heap_profile_path(memprofile_path);
    if (rc < 0) gcrt_warn("GCRT_MEMPROFILE=%s: cannot write the heap profile: %s", memprofile_path, strerror(-rc));
}

void gcrt_mprof_init(void) {
    const char *s = getenv("GCRT_MEMPROFILERATE");
    if (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end || v < 0 || v > INT32_MAX)
            gcrt_warn("GCRT_MEMPROFILERATE=%s: malformed (want a non-negative integer); using %lld", s,
                      (long long)gcrt_mprof_rate);
        else gcrt_mprof_rate = v;
    }
    if (gcrt_gc.memprofilerate >= 0) gcrt_mprof_rate = gcrt_gc.memprofilerate;   /* GODEBUG, as Go's */
    s = getenv("GCRT_MEMPROFILE");
    if (s && *s && (memprofile_path = strdup(s))) atexit(memprofile_at_exit);
}

/* Fork: a sampling thread holds prof_lock outside critical sections, and a cycle's end takes
 * it: fork.c takes it once no cycle runs, before stopping the world. */
void gcrt_mprof_fork(int phase) { gcrt_fork_mutex(&prof_lock, phase); }
