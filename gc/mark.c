/*
 * mark.c: marking (Go's mgcmark + mgcwork), parallel over GOMAXPROCS threads.
 *
 * Tri-colour: white = mark bit clear; grey = mark bit set and the object in a work buffer;
 * black = mark bit set and scanned. Noscan objects go straight to black. An object is
 * greyed at most once, because only the thread whose atomic OR set its mark bit pushes it.
 *
 * Work: each marker owns one work buffer (LIFO, no locks); full buffers go to a global
 * list (M.lock) where idle markers take them, and a marker that sees idle peers and an
 * empty global list donates half of its buffer. Marking never recurses on the C stack.
 * Termination: markers join a drain under M.lock (nactive++) unless it is already done; a
 * marker with no local and no global work counts itself in nwait, and when nwait equals
 * nactive under M.lock, no one holds work and no one can create it: the drain is done. A
 * worker the OS schedules late finds it done and never delays the pause.
 *
 * Overflow: if a buffer cannot be had, the object stays marked but unscanned and overflow
 * is set; after draining, every marked scannable object in the heap is rescanned until no
 * overflow remains (bdwgc's recovery), so running out of metadata never loses an object.
 *
 * Candidates: any word, conservative or precise, is checked with span_of_heap and the
 * slot's allocation state, so false pointers into free slots, free spans or foreign memory
 * are ignored. Large objects are scanned in 128 KiB oblets so one huge array is shared
 * among markers.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define WB_ENTRIES 510
#define OBLET_BYTES ((size_t)128 << 10)
#define ROOT_SHARD ((size_t)256 << 10)
#define PREFETCH_RING 8

typedef struct workbuf {
    struct workbuf *next;
    size_t n;
    uintptr_t obj[WB_ENTRIES];
} workbuf;

typedef struct { uintptr_t lo, hi; } job;

typedef struct gcw {
    workbuf *cur;
    uint64_t bytes_marked;
    uint64_t nscanned;
} gcw;

static GCRT_STATE struct {
    pthread_mutex_t lock;      /* guards full, empty */
    workbuf *full, *empty;
    int nmarkers;              /* marker threads, including the collector */
    int nactive;               /* markers that joined this drain (M.lock) */
    int nwait;                 /* joined markers out of work */
    int done;                  /* this drain has terminated (M.lock) */
    int overflow;
    job *jobs;
    size_t njobs, capjobs, next_job;
    uint64_t bytes_marked, cpu_ns;
    /* worker threads */
    pthread_mutex_t wlock;
    pthread_cond_t wcond, wdone;
    uint32_t epoch;
    int nthreads;
} M = {.lock = PTHREAD_MUTEX_INITIALIZER, .wlock = PTHREAD_MUTEX_INITIALIZER,
       .wcond = PTHREAD_COND_INITIALIZER, .wdone = PTHREAD_COND_INITIALIZER};

static workbuf *getempty(void) {
    pthread_mutex_lock(&M.lock);
    workbuf *b = M.empty;
    if (b) M.empty = b->next;
    pthread_mutex_unlock(&M.lock);
    if (!b) b = gcrt_meta_alloc(sizeof(workbuf));
    if (b) b->n = 0;
    return b;
}

static void putempty(workbuf *b) {
    pthread_mutex_lock(&M.lock);
    b->next = M.empty;
    M.empty = b;
    pthread_mutex_unlock(&M.lock);
}

static void putfull(workbuf *b) {
    pthread_mutex_lock(&M.lock);
    b->next = M.full;
    M.full = b;
    pthread_mutex_unlock(&M.lock);
}

static workbuf *getfull(void) {
    if (!atomic_load_relaxed(&M.full)) return NULL;
    pthread_mutex_lock(&M.lock);
    workbuf *b = M.full;
    if (b) M.full = b->next;
    pthread_mutex_unlock(&M.lock);
    return b;
}

static inline void push(gcw *w, uintptr_t obj) {
    workbuf *b = w->cur;
    if (unlikely(b->n == WB_ENTRIES)) {
        workbuf *nb = getempty();
        if (!nb) {
            atomic_store_relaxed(&M.overflow, 1);
            return;
        }
        putfull(b);
        w->cur = b = nb;
    }
    b->obj[b->n++] = obj;
}

static inline uintptr_t pop(gcw *w) {
    workbuf *b = w->cur;
    if (likely(b->n)) return b->obj[--b->n];
    workbuf *nb = getfull();
    if (!nb) return 0;
    putempty(b);
    w->cur = nb;
    return nb->obj[--nb->n];
}

/* Share half of a local buffer when peers are idle and the global list is empty. */
static void balance(gcw *w) {
    workbuf *b = w->cur;
    if (b->n < 2 || !atomic_load_relaxed(&M.nwait) || atomic_load_relaxed(&M.full)) return;
    workbuf *nb = getempty();
    if (!nb) return;
    /* Give away the oldest entries: nearest the roots, they lead to the most work. */
    size_t half = b->n / 2;
    memcpy(nb->obj, b->obj, half * sizeof(uintptr_t));
    memmove(b->obj, b->obj + half, (b->n - half) * sizeof(uintptr_t));
    nb->n = half;
    b->n -= half;
    putfull(nb);
}

/* Go's greyobject for one candidate word. */
static inline void grey(gcw *w, uintptr_t v) {
    gcrt_span *s = span_of_heap(v);
    if (!s) return;
    size_t i = span_objindex(s, v);
    if (!span_slot_allocated(s, i)) return;
    uint64_t *word = &s->markbits[i >> 6], bit = (uint64_t)1 << (i & 63);
    if (atomic_load_relaxed(word) & bit) return;
    if (atomic_or(word, bit) & bit) return;
    w->bytes_marked += s->elemsize;
    if (spanclass_kind(s->spanclass) == GCRT_SCAN_NOSCAN) return;
    push(w, s->base + i * s->elemsize);
}

static void scan_words(gcw *w, uintptr_t lo, uintptr_t hi) {
    uintptr_t alo = gcrt_heap_.arena_lo, ahi = gcrt_heap_.arena_hi;
    for (const uintptr_t *p = (const uintptr_t *)lo; p < (const uintptr_t *)hi; p++) {
        uintptr_t v = *p;
        if (v - alo < ahi - alo) grey(w, v);
    }
}

static void scan_ptrbits(gcw *w, gcrt_span *s, uintptr_t lo, uintptr_t hi) {
    size_t w0 = (lo - s->base) / 8, w1 = (hi - s->base) / 8;
    const uint64_t *bits = s->ptrbits;
    for (size_t i = w0; i < w1;) {
        uint64_t m = bits[i >> 6] >> (i & 63);
        if (!m) {
            i = (i | 63) + 1;
            continue;
        }
        i += (size_t)__builtin_ctzll(m);
        if (i >= w1) break;
        uintptr_t v = ((const uintptr_t *)s->base)[i];
        if (v >= GCRT_MIN_POINTER) grey(w, v);
        i++;
    }
}

/* Scan a grey object, or one oblet of a large one. */
static void scan_object(gcw *w, uintptr_t obj) {
    gcrt_span *s = span_of(obj);
    uintptr_t lo = obj, hi = obj + s->elemsize;
    if (s->nelems == 1 && s->elemsize > OBLET_BYTES) {
        if (obj == s->base)
            for (uintptr_t o = obj + OBLET_BYTES; o < s->limit; o += OBLET_BYTES) push(w, o);
        hi = lo + OBLET_BYTES < s->limit ? lo + OBLET_BYTES : s->limit;
    }
    if (spanclass_kind(s->spanclass) == GCRT_SCAN_TYPED) scan_ptrbits(w, s, lo, hi);
    else scan_words(w, lo, hi);
}

static void drain(gcw *w) {
    for (;;) {
        size_t j;
        while ((j = __atomic_fetch_add(&M.next_job, 1, __ATOMIC_RELAXED)) < M.njobs) {
            scan_words(w, M.jobs[j].lo, M.jobs[j].hi);
            balance(w);
        }
        /* Objects pass through a small FIFO whose entries are prefetched on the way in, so
         * the cache miss on an object's first line overlaps the scanning of the ones
         * before it (LIFO order alone would scan each right after fetching it). */
        uintptr_t ring[PREFETCH_RING];
        unsigned head = 0, n = 0;
        for (;;) {
            uintptr_t obj;
            while (n < PREFETCH_RING && (obj = pop(w))) {
                __builtin_prefetch((const void *)obj);
                ring[(head + n++) % PREFETCH_RING] = obj;
            }
            if (!n) break;
            obj = ring[head];
            head = (head + 1) % PREFETCH_RING;
            n--;
            scan_object(w, obj);
            if ((++w->nscanned & 31) == 0) balance(w);
        }
        atomic_add(&M.nwait, 1);
        for (unsigned spins = 0;; spins++) {
            if (atomic_load_relaxed(&M.full)) {
                atomic_add(&M.nwait, -1);
                break;
            }
            if (atomic_load_acquire(&M.nwait) == atomic_load_relaxed(&M.nactive)) {
                pthread_mutex_lock(&M.lock);
                if (M.nwait == M.nactive && !M.full) M.done = 1;
                int done = M.done;
                pthread_mutex_unlock(&M.lock);
                if (done) return;
            }
            if (atomic_load_relaxed(&M.done)) return;
            if (spins < 64) __builtin_ia32_pause();
            else sched_yield();
        }
    }
}

static uint64_t thread_cpu(void) { return gcrt_thread_cpu_ns(); }

/* Join the current drain unless it is over; returns false if it was. */
static bool join(void) {
    pthread_mutex_lock(&M.lock);
    bool ok = !M.done;
    if (ok) M.nactive++;
    pthread_mutex_unlock(&M.lock);
    return ok;
}

static void leave(void) {
    pthread_mutex_lock(&M.lock);
    M.nactive--;
    pthread_mutex_unlock(&M.lock);
    pthread_mutex_lock(&M.wlock);
    pthread_cond_broadcast(&M.wdone);
    pthread_mutex_unlock(&M.wlock);
}

static void drain_as_marker(void) {
    if (!join()) return;
    uint64_t c0 = thread_cpu();
    gcw w = {0};
    w.cur = getempty();
    if (!w.cur) gcrt_fatal("out of memory for mark work buffers");
    drain(&w);
    putempty(w.cur);
    leave();
    atomic_add(&M.bytes_marked, w.bytes_marked);
    atomic_add(&M.cpu_ns, thread_cpu() - c0);
}

static void *worker_main(void *arg) {
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    uint32_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&M.wlock);
        while (M.epoch == seen) pthread_cond_wait(&M.wcond, &M.wlock);
        seen = M.epoch;
        pthread_mutex_unlock(&M.wlock);
        drain_as_marker();
    }
    return NULL;
}

void gcrt_mark_init(int nmarkers) {
    /* Workers start lazily, at the first cycle that needs them. */
    M.nmarkers = nmarkers < 1 ? 1 : nmarkers;
}

/* Keep a reserve of buffers from the first cycle on, so a cycle run because memory ran
 * out can still mark (overflow recovery needs one buffer per marker). */
static void ensure_reserve(void) {
    static int have;
    for (; have < 4 * M.nmarkers + 4; have++) {
        workbuf *b = gcrt_meta_alloc(sizeof(workbuf));
        if (!b) break;
        putempty(b);
    }
}

static void ensure_workers(void) {
    while (M.nthreads < M.nmarkers - 1) {
        pthread_t th;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        int r = pthread_create(&th, &a, worker_main, NULL);
        pthread_attr_destroy(&a);
        if (r) {
            M.nmarkers = M.nthreads + 1;   /* run with the markers we have */
            break;
        }
        M.nthreads++;
    }
}

static void add_job(uintptr_t lo, uintptr_t hi) {
    lo = round_up(lo, sizeof(void *));
    for (; lo < hi; lo += ROOT_SHARD) {
        if (M.njobs == M.capjobs) {
            size_t nc = M.capjobs ? M.capjobs * 2 : 256;
            job *nj = gcrt_meta_alloc(nc * sizeof(job));
            if (!nj) gcrt_fatal("out of memory for the root set");
            if (M.jobs) {
                memcpy(nj, M.jobs, M.njobs * sizeof(job));
                gcrt_meta_free(M.jobs, M.capjobs * sizeof(job));
            }
            M.jobs = nj;
            M.capjobs = nc;
        }
        M.jobs[M.njobs++] = (job){lo, hi - lo > ROOT_SHARD ? lo + ROOT_SHARD : hi};
    }
}

static void add_root_cb(uintptr_t lo, uintptr_t hi, void *arg) {
    (void)arg;
    add_job(lo, hi);
}

/* Run one parallel drain over the prepared jobs and whatever is on the full list. The
 * collector marks too; workers join as the OS schedules them. Returns when the drain is
 * done and every marker that joined has left. */
static void run_markers(void) {
    M.nwait = 0;
    M.nactive = 0;
    M.done = 0;
    M.next_job = 0;
    if (M.nmarkers > 1) {
        pthread_mutex_lock(&M.wlock);
        M.epoch++;
        pthread_cond_broadcast(&M.wcond);
        pthread_mutex_unlock(&M.wlock);
    }
    drain_as_marker();
    pthread_mutex_lock(&M.wlock);
    while (atomic_load_acquire(&M.nactive) > 0) pthread_cond_wait(&M.wdone, &M.wlock);
    pthread_mutex_unlock(&M.wlock);
}

/* Overflow recovery: rescan every marked scannable object; its unmarked children get
 * greyed. Repeats while buffers keep running out. */
static void recover_overflow(void) {
    while (atomic_load_relaxed(&M.overflow)) {
        M.overflow = 0;
        M.njobs = 0;
        gcw w = {0};
        w.cur = getempty();
        if (!w.cur) gcrt_fatal("out of memory for mark work buffers");
        for (uintptr_t a = gcrt_heap_.arena_lo; a < gcrt_heap_.arena_hi; a += GCRT_ARENA_SIZE) {
            gcrt_arena *ar = gcrt_arena_map[a >> GCRT_ARENA_SHIFT];
            if (!ar) continue;
            for (size_t pg = 0; pg < GCRT_PAGES_PER_ARENA; pg++) {
                gcrt_span *s = ar->spans[pg];
                if (!s || s->state != SPAN_INUSE || s->base != a + pg * GCRT_PAGE_SIZE) continue;
                if (spanclass_kind(s->spanclass) == GCRT_SCAN_NOSCAN) continue;
                for (size_t i = 0; i < s->nelems; i++) {
                    if (!bit_get(s->markbits, i)) continue;
                    uintptr_t obj = s->base + i * s->elemsize;
                    if (s->nelems == 1) /* every oblet */
                        for (uintptr_t o = obj; o < s->limit; o += OBLET_BYTES) push(&w, o);
                    else push(&w, obj);
                    if (w.cur->n > WB_ENTRIES / 2) { putfull(w.cur); w.cur = getempty(); if (!w.cur) gcrt_fatal("out of memory for mark work buffers"); }
                }
            }
        }
        putfull(w.cur);
        uint64_t before = M.bytes_marked;
        run_markers();
        (void)before;
    }
}

uint64_t gcrt_mark_world_stopped(uint64_t *cpu_ns, uint64_t *stack_bytes, uint64_t *global_bytes) {
    ensure_workers();
    ensure_reserve();
    M.njobs = 0;
    M.bytes_marked = 0;
    M.cpu_ns = 0;
    M.overflow = 0;
    uint64_t sb = 0;
    for (gcrt_thread *t = gcrt_threads; t; t = t->next) {
        uintptr_t sp = t->stop_sp & ~(uintptr_t)7;
        if (sp >= t->stack_lo && sp < t->stack_hi) {
            add_job(sp, t->stack_hi);
            sb += t->stack_hi - sp;
        } else if (sp) {
            /* Interrupted on an alternate signal stack: scan the whole thread stack. */
            add_job(t->stack_lo, t->stack_hi);
            sb += t->stack_hi - t->stack_lo;
        }
        add_job((uintptr_t)t->regs, (uintptr_t)(t->regs + t->nregs));
    }
    *global_bytes = gcrt_roots_each(add_root_cb, NULL);
    *stack_bytes = sb;
    run_markers();
    recover_overflow();
    *cpu_ns = M.cpu_ns;
    return M.bytes_marked;
}

/* Mark from one range as the only marker (tests and debug modes). */
void gcrt_mark_range(uintptr_t lo, uintptr_t hi) {
    M.njobs = 0;
    add_job(lo, hi);
    int n = M.nmarkers;
    M.nmarkers = 1;
    run_markers();
    recover_overflow();
    M.nmarkers = n;
}
