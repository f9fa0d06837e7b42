/*
 * mark.c: marking (Go's mgcmark + mgcwork): work buffers, scanning, mark workers, assists.
 *
 * Tri-colour: white = mark bit clear; grey = mark bit set and the object in a work buffer;
 * black = mark bit set and scanned. Noscan objects go straight to black. Only the marker
 * whose atomic OR set a mark bit queues the object, so each object is scanned once.
 *
 * Work: every party that marks (the collector, worker threads, assisting mutators, a
 * mutator flushing its write-barrier buffer) holds a gcw: one LIFO buffer of its own.
 * Full buffers go to a global list (M.lock) where others take them; a marker that sees
 * idle peers and an empty list donates the older half of its buffer.
 *
 * Termination: M.nbusy counts live gcws (M.lock). Grey objects exist only in gcws and on
 * the full list, so "nbusy == 0 and no full buffer", read under M.lock, means no grey
 * object is left. During concurrent marking a mutator can still create work from its
 * write-barrier buffer; the collector re-checks with the world stopped (cycle.c).
 *
 * Span-local marking (GODEBUG=gcgreentea, Go 1.25's "Green Tea"): in spans of small
 * scannable objects (gcrt_gt_class) the unit of work is the span, not the object. Such a
 * span's grey objects are those marked but not in its scanned bitmap. Its state word is
 * idle, ONE (queued with one new mark) or MANY (queued with more, or being scanned); only
 * the marker that moves it from idle to ONE queues it, by a tagged entry for the object it
 * marked, in the same buffers (so the object is prefetched as any other). Invariant: a
 * marked, unscanned object of such a span lies in a span that is not idle, and that span is
 * in a gcw (live, counted in nbusy) or on the full list, or is being scanned by a live gcw,
 * so termination reads the same. A marker sets the mark bit and then reads the state (ONE
 * becomes MANY by CAS); the scanner, giving a span up from MANY, stores idle and then
 * re-reads the marks (both seq_cst): one of the two sees the other's write, so a mark
 * arriving as the scanner lets go is either seen by it (it takes the span back, or, if a
 * marker has just queued the span as ONE, makes it MANY, since marks made while it was
 * owned were queued by no one) or queues the span anew. A span still ONE when taken has
 * only its queued object scanned and is given up with one CAS (ONE -> idle: a marker's
 * ONE -> MANY then fails and it queues the span again). Otherwise the owner scans the grey
 * objects in address order, a bitmap word at a time, until a pass finds none: pointers into the span itself only set bits in a
 * private bitmap, ORed into the mark bits with the word's scanned bits once the word is
 * done. Black allocation sets scanned bits with its marks. Large objects and oblets, and
 * every object in a cycle that does not mark span-local (gcrt_gt_mark, gt_this_cycle), are
 * queued object by object.
 *
 * Overflow: if no buffer can be had, the object stays marked but unscanned (a span stays
 * ONE, queued nowhere) and overflow is set; the collector then rescans every marked
 * object in the heap (bdwgc's recovery), after putting every span back to idle, so
 * running out of memory never loses an object.
 *
 * Concurrency: while mutators run, a marker reads words that may be changing; each word is
 * read once, atomically, and checked with span_of_heap and the slot's allocation state
 * like any conservative candidate. Spans cannot be freed while marking (sweeping is done
 * before a cycle starts), so span lookups stay valid.
 *
 * Workers: while mutators run, only the collector thread marks in the background
 * (gc/cycle.c paces it as Go's fractional worker, or lets it use an idle CPU in full) and
 * allocating threads assist. GOMAXPROCS-1 worker threads help only while the world is
 * stopped: a helper the OS scheduler starves while mutators run would sit on grey objects
 * that no one else can take, and Go's idle workers rely on a scheduler that can tell them
 * to give work back, which the OS cannot.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WB_ENTRIES 510
#define OBLET_BYTES ((size_t)128 << 10)
#define PREFETCH_RING 8
#define GT_TAG ((uintptr_t)1)   /* a work entry with bit 0 set: an object of a span-local span */
enum { GT_IDLE = 0, GT_ONE = 1, GT_MANY = 2 };   /* span-local state word */
/* GODEBUG=gcgreentea=2, the default: adaptive (gt_this_cycle). docs/architecture.md tells of
 * the two races (a private mark left behind, marks lost on release) that kept it off for a
 * while. */
#define GT_AUTO 2

uint8_t gcrt_gt_class[GCRT_NUM_SPAN_CLASSES];   /* the layout: spans with scanned bits */
uint8_t gcrt_gt_mark[GCRT_NUM_SPAN_CLASSES];    /* this cycle: marked span-local (set in pause 1) */

typedef struct workbuf {
    struct workbuf *next;
    size_t n;
    uintptr_t obj[WB_ENTRIES];
} workbuf;

enum { MODE_IDLE = 0, MODE_RUN = 1 };

static GCRT_STATE struct {
    pthread_mutex_t lock;      /* guards full, empty, nbusy */
    workbuf *full, *empty;
    int nbusy;                 /* live gcws */
    int nidle;                 /* markers waiting for work */
    int overflow;
    uint64_t gt_visits, gt_objs;   /* span-local spans taken, objects they had scanned (atomic) */
    uint64_t bytes_marked;     /* marked this cycle (atomic) */
    uint64_t scan_work;        /* bytes scanned this cycle (atomic) */
    int64_t bg_credit;         /* scan work done by workers, not yet claimed by assists */
    uint64_t idle_cpu_ns, assist_cpu_ns;
    double assist_ratio;       /* scan bytes owed per byte allocated */
    /* worker threads */
    pthread_mutex_t wlock;
    pthread_cond_t wcond;
    int mode;
    int nmarkers, nthreads;
} M = {.lock = PTHREAD_MUTEX_INITIALIZER, .wlock = PTHREAD_MUTEX_INITIALIZER, .wcond = PTHREAD_COND_INITIALIZER};

/* Waiting assists (gcrt_assist) sleep on assist_seq; whoever makes credit or shared grey
 * work, or ends marking, bumps it and wakes them. The full fence between the waker's change
 * and its read of nassist_wait, and the waiter's atomic increment before it reads what it
 * waits for, mean that the waiter sees the change or the waker sees the waiter. */
static uint32_t assist_seq;
static int nassist_wait;

static void assist_wake(void) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!atomic_load_relaxed(&nassist_wait)) return;
    atomic_add(&assist_seq, 1);
    syscall(SYS_futex, &assist_seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static workbuf *getempty(void) {
    gcrt_lock(&M.lock);
    workbuf *b = M.empty;
    if (b) M.empty = b->next;
    pthread_mutex_unlock(&M.lock);
    if (!b) b = gcrt_meta_alloc(sizeof(workbuf));
    if (b) b->n = 0;
    return b;
}

static void putempty(workbuf *b) {
    gcrt_lock(&M.lock);
    b->next = M.empty;
    M.empty = b;
    pthread_mutex_unlock(&M.lock);
}

static void putfull(workbuf *b) {
    gcrt_lock(&M.lock);
    b->next = M.full;
    M.full = b;
    pthread_mutex_unlock(&M.lock);
    assist_wake();
    if (atomic_load_relaxed(&M.nidle)) {
        gcrt_lock(&M.wlock);
        pthread_cond_broadcast(&M.wcond);
        pthread_mutex_unlock(&M.wlock);
    }
}

static workbuf *getfull(void) {
    if (!atomic_load_relaxed(&M.full)) return NULL;
    gcrt_lock(&M.lock);
    workbuf *b = M.full;
    if (b) M.full = b->next;
    pthread_mutex_unlock(&M.lock);
    return b;
}

void gcrt_gcw_init(gcrt_gcw *w) {
    memset(w, 0, sizeof *w);
    gcrt_lock(&M.lock);
    M.nbusy++;
    workbuf *b = M.empty;
    if (b) M.empty = b->next;
    pthread_mutex_unlock(&M.lock);
    if (!b && !(b = gcrt_meta_alloc(sizeof(workbuf)))) {
        /* Out of memory with the reserve in use: take a full buffer (its objects are ours
         * to scan now); pushes that find no empty buffer set overflow, recovered in pause 2. */
        if (!(w->cur = getfull())) gcrt_fatal("out of memory for mark work buffers");
        return;
    }
    b->n = 0;
    w->cur = b;
}

void gcrt_gcw_dispose(gcrt_gcw *w) {
    workbuf *b = w->cur;
    atomic_add(&M.bytes_marked, w->bytes_marked);
    atomic_add(&M.scan_work, w->scan_work);
    if (w->gt_visits) {
        atomic_add(&M.gt_visits, w->gt_visits);
        atomic_add(&M.gt_objs, w->gt_objs);
    }
    gcrt_lock(&M.lock);
    if (b->n) {
        b->next = M.full;
        M.full = b;
    } else {
        b->next = M.empty;
        M.empty = b;
    }
    M.nbusy--;
    pthread_mutex_unlock(&M.lock);
    if (b->n) assist_wake();
    if (b->n && atomic_load_relaxed(&M.nidle)) {
        gcrt_lock(&M.wlock);
        pthread_cond_broadcast(&M.wcond);
        pthread_mutex_unlock(&M.wlock);
    }
    w->cur = NULL;
}

bool gcrt_mark_work_done(void) {
    gcrt_lock(&M.lock);
    bool done = M.nbusy == 0 && !M.full;
    pthread_mutex_unlock(&M.lock);
    return done;
}

static inline void push(gcrt_gcw *w, uintptr_t obj) {
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

static inline uintptr_t pop(gcrt_gcw *w) {
    workbuf *b = w->cur;
    if (likely(b->n)) return b->obj[--b->n];
    workbuf *nb = getfull();
    if (!nb) return 0;
    putempty(b);
    w->cur = nb;
    return nb->obj[--nb->n];
}

/* Share the older half of a local buffer (nearest the roots: the most work) whenever the
 * global list is empty (Go's rule), so idle markers and assists always find some. */
static void balance(gcrt_gcw *w) {
    workbuf *b = w->cur;
    if (b->n < 2 || atomic_load_relaxed(&M.full)) return;
    workbuf *nb = getempty();
    if (!nb) return;
    size_t half = b->n / 2;
    memcpy(nb->obj, b->obj, half * sizeof(uintptr_t));
    memmove(b->obj, b->obj + half, (b->n - half) * sizeof(uintptr_t));
    nb->n = half;
    b->n -= half;
    putfull(nb);
}

/* Set slot i's mark bit: true if this call set it. seq_cst: see span-local marking above
 * (on x86 the same locked instruction as a relaxed one). */
static inline bool mark_slot(gcrt_gcw *w, gcrt_span *s, size_t i) {
    uint64_t *word = &s->markbits[i >> 6], bit = (uint64_t)1 << (i & 63);
    if (atomic_load_relaxed(word) & bit) return false;
    if (__atomic_fetch_or(word, bit, __ATOMIC_SEQ_CST) & bit) return false;
    w->bytes_marked += s->elemsize;
    return true;
}

/* Object obj of span-local span s was just marked: queue the span (by obj) if it is idle;
 * if it is queued for one object, it now has more. */
static inline void gt_enqueue(gcrt_gcw *w, gcrt_span *s, uintptr_t obj) {
    uint32_t *st = span_gt_state(s), v = __atomic_load_n(st, __ATOMIC_SEQ_CST);
    while (v != GT_MANY) {
        uint32_t to = v == GT_IDLE ? GT_ONE : GT_MANY;
        if (__atomic_compare_exchange_n(st, &v, to, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            if (to == GT_ONE) push(w, obj | GT_TAG);
            return;
        }
    }
}

/* Go's greyobject for one candidate word. */
static inline void grey(gcrt_gcw *w, uintptr_t v) {
    gcrt_span *s = span_of_heap(v);
    if (!s) return;
    size_t i = span_objindex(s, v);
    if (!span_slot_allocated(s, i) || !mark_slot(w, s, i)) return;
    unsigned spc = s->spanclass;
    if (spanclass_kind(spc) == GCRT_SCAN_NOSCAN) return;
    if (gcrt_gt_mark[spc]) gt_enqueue(w, s, s->base + i * s->elemsize);
    else push(w, s->base + i * s->elemsize);
}

/* A candidate word found while scanning span `own`, which this marker owns (not idle): a
 * pointer into own is only marked, and the scan loop picks it up; no lookup, no queue. The
 * mark goes into the scan's private bitmap w->gt_lm first (a locked OR per object took
 * about 40% of a span scan's samples in binary-trees) and is ORed into markbits a word at a
 * time before the scan loop reads that word, and before the span is given up. */
static inline void grey_from(gcrt_gcw *w, gcrt_span *own, uintptr_t v) {
    if (own && v - own->base < own->limit - own->base) {
        size_t i = span_objindex(own, v);
        uint64_t bit = (uint64_t)1 << (i & 63), *lm = &w->gt_lm[i >> 6];
        if (((atomic_load_relaxed(&own->markbits[i >> 6]) | *lm) & bit) || !span_slot_allocated(own, i)) return;
        *lm |= bit;
        w->gt_local = 1;
        return;
    }
    grey(w, v);
}

void gcrt_grey(gcrt_gcw *w, uintptr_t v) {
    if (v - gcrt_heap_.arena_lo < gcrt_heap_.arena_hi - gcrt_heap_.arena_lo) grey(w, v);
}

/* own: the span-local span being scanned, or NULL (see grey_from). */
GCRT_NO_ASAN static inline void scan_words(gcrt_gcw *w, uintptr_t lo, uintptr_t hi, gcrt_span *own) {
    uintptr_t alo = gcrt_heap_.arena_lo, ahi = gcrt_heap_.arena_hi;
    for (const uintptr_t *p = (const uintptr_t *)lo; p < (const uintptr_t *)hi; p++) {
        uintptr_t v = gcrt_scan_load(p);
        if (v - alo < ahi - alo) grey_from(w, own, v);
    }
}

void gcrt_scan_range(gcrt_gcw *w, uintptr_t lo, uintptr_t hi) {
    gcrt_scan_roots_begin(lo, hi);
    scan_words(w, round_up(lo, sizeof(void *)), hi & ~(uintptr_t)7, NULL);
    gcrt_scan_roots_end(lo, hi);
    w->scan_work += hi - lo;
}

GCRT_NO_ASAN static inline void scan_ptrbits(gcrt_gcw *w, gcrt_span *s, uintptr_t lo, uintptr_t hi, gcrt_span *own) {
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
        uintptr_t v = gcrt_scan_load(&((const uintptr_t *)s->base)[i]);
        if (v - gcrt_heap_.arena_lo < gcrt_heap_.arena_hi - gcrt_heap_.arena_lo) grey_from(w, own, v);
        i++;
    }
}

/* Scan a grey object, or one oblet of a large one; returns the bytes scanned. */
bool (*gcrt_scan_hook)(gcrt_gcw *w, uintptr_t obj, size_t size);

static size_t scan_object(gcrt_gcw *w, uintptr_t obj) {
    gcrt_span *s = span_of(obj);
    bool typed = spanclass_kind(s->spanclass) == GCRT_SCAN_TYPED;
    /* before oblets: a hooked object is scanned whole, once; its other oblets, pushed only
     * by the overflow rescan, are not in the hook's set and have no pointer bits */
    if (typed && unlikely(gcrt_scan_hook != NULL) && gcrt_scan_hook(w, obj, s->elemsize)) return s->elemsize;
    uintptr_t lo = obj, hi = obj + s->elemsize;
    if (s->nelems == 1 && s->elemsize > OBLET_BYTES) {
        if (obj == s->base)
            for (uintptr_t o = obj + OBLET_BYTES; o < s->limit; o += OBLET_BYTES) push(w, o);
        hi = lo + OBLET_BYTES < s->limit ? lo + OBLET_BYTES : s->limit;
    }
    if (typed) scan_ptrbits(w, s, lo, hi, NULL);
    else scan_words(w, lo, hi, NULL);
    return hi - lo;
}

/* One object of span-local span s, which this marker owns. */
static void scan_local(gcrt_gcw *w, gcrt_span *s, uintptr_t obj, bool typed) {
    if (typed && unlikely(gcrt_scan_hook != NULL) && gcrt_scan_hook(w, obj, s->elemsize)) return;
    if (typed) scan_ptrbits(w, s, obj, obj + s->elemsize, s);
    else scan_words(w, obj, obj + s->elemsize, s);
}

/* Any marked object of s not yet scanned (the caller owns s, or no one marks). */
static bool gt_grey_left(gcrt_span *s) {
    const uint64_t *scan = span_scanbits(s);
    for (size_t k = 0, n = span_bitmap_words(s); k < n; k++)
        if (__atomic_load_n(&s->markbits[k], __ATOMIC_SEQ_CST) & ~__atomic_load_n(&scan[k], __ATOMIC_ACQUIRE)) return true;
    return false;
}

#define GT_PREFETCH 8
/* Prefetch the next object of a batch in scan order; returns the batch less it. */
static inline uint64_t gt_prefetch_next(uint64_t pf, bool up, uintptr_t wbase, size_t size) {
    unsigned b = up ? (unsigned)__builtin_ctzll(pf) : 63 - (unsigned)__builtin_clzll(pf);
    __builtin_prefetch((const void *)(wbase + b * size));
    return pf & ~((uint64_t)1 << b);
}

/* Scan every marked, unscanned object of span-local span s, which this marker owns, in
 * address order, a word of mark bits at a time: what this scan marks in the word being
 * scanned joins it at once (a list laid out in its span is followed with no atomic per
 * node); pass after pass, alternating the direction (a structure built bottom-up points
 * backwards), until a pass finds none. A word's private marks and scanned bits are ORed in
 * once its objects are done; black allocation may set scanned bits beside us, and scanning
 * such an object again is harmless. Returns the bytes scanned. */
static size_t scan_span_bits(gcrt_gcw *w, gcrt_span *s, bool typed) {
    uint64_t *scan = span_scanbits(s), *lm = w->gt_lm;
    size_t words = span_bitmap_words(s), size = s->elemsize, done = 0;
    for (bool up = true, any = true; any; up = !up) {
        any = false;
        for (size_t n = 0; n < words; n++) {
            size_t k = up ? n : words - 1 - n;
            uintptr_t wbase = s->base + k * 64 * size;
            uint64_t taken = 0;   /* this word's objects scanned here */
            for (;;) {
                uint64_t todo = (__atomic_load_n(&s->markbits[k], __ATOMIC_ACQUIRE) | lm[k]) &
                                ~__atomic_load_n(&scan[k], __ATOMIC_ACQUIRE) & ~taken;
                if (!todo) break;
                taken |= todo;
                /* the batch's objects are known: prefetch GT_PREFETCH of them ahead (a span
                 * that gathered marks while queued holds them at random places) */
                uint64_t pf = todo;
                for (int a = 0; a < GT_PREFETCH && pf; a++) pf = gt_prefetch_next(pf, up, wbase, size);
                while (todo) {
                    unsigned b = up ? (unsigned)__builtin_ctzll(todo) : 63 - (unsigned)__builtin_clzll(todo);
                    todo &= ~((uint64_t)1 << b);
                    if (pf) pf = gt_prefetch_next(pf, up, wbase, size);
                    scan_local(w, s, wbase + b * size, typed);
                    done += size;
                    uint64_t more = lm[k] & ~taken;
                    taken |= more;
                    todo |= more;
                }
            }
            /* Flushed even when nothing was taken: a private mark can land on an object
             * that black allocation is just turning black (scanned bit set, mark bit not
             * yet), so the word has nothing to scan, and a private bit left behind would
             * be read as marked in the next span this gcw scans, whose object at that
             * index would then be skipped, never marked. */
            if (lm[k]) {   /* what others marked meanwhile was counted by them */
                uint64_t old = __atomic_fetch_or(&s->markbits[k], lm[k], __ATOMIC_SEQ_CST);
                w->bytes_marked += (uint64_t)__builtin_popcountll(lm[k] & ~old) * size;
                lm[k] = 0;
            }
            if (!taken) continue;
            any = true;
            __atomic_fetch_or(&scan[k], taken, __ATOMIC_RELEASE);
        }
    }
    return done;
}

/* Owner of s, all of it scanned: give it up, and take it back if a mark arrived that no
 * one queued (the re-read after the store pairs with gt_enqueue's read after its mark).
 * Marks made while we owned it queued nothing; if a marker has queued the span meanwhile
 * (idle -> ONE), its taker would scan only the marker's object, so ONE becomes MANY: the
 * taker scans the whole span (or, past its single-object scan, fails its ONE -> idle and
 * takes the span). A span found MANY is queued that way or owned: whoever owns it ends with
 * this same re-read. Returns false when the span is ours again. */
static bool gt_release(gcrt_span *s) {
    uint32_t *st = span_gt_state(s);
    __atomic_store_n(st, GT_IDLE, __ATOMIC_SEQ_CST);
    if (!gt_grey_left(s)) return true;
    for (uint32_t v = GT_IDLE; v != GT_MANY;)   /* a failed CAS reloads v */
        if (__atomic_compare_exchange_n(st, &v, GT_MANY, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return v == GT_ONE;
    return true;
}

/* The owner of s (state GT_MANY) scans it until it lets it go. */
static size_t scan_span_owned(gcrt_gcw *w, gcrt_span *s) {
    bool typed = spanclass_kind(s->spanclass) == GCRT_SCAN_TYPED;
    size_t done = 0;
    do done += scan_span_bits(w, s, typed);
    while (!gt_release(s));
    return done;
}

/* gcverify: private marks are all flushed by the end of a span scan; one left over would
 * stand for a mark in the next span scanned, whose object would then go unmarked. */
static void gt_check_lm(const gcrt_gcw *w, const gcrt_span *s) {
    for (size_t k = 0; k < sizeof w->gt_lm / sizeof w->gt_lm[0]; k++)
        if (w->gt_lm[k])
            gcrt_fatal("gcverify: span-local marking: private mark bits %#lx (word %zu) left over from an "
                       "earlier span scan on entering span %#lx", (unsigned long)w->gt_lm[k], k,
                       (unsigned long)s->base);
}

/* A queued span-local span, by the object that queued it. Still GT_ONE: that is its only
 * new mark, so scan that object alone, and give the span up with one CAS unless a mark came
 * meanwhile (a marker moves GT_ONE to GT_MANY, or this scan marked into the span).
 * Otherwise the whole span. */
static size_t scan_span(gcrt_gcw *w, uintptr_t obj) {
    gcrt_span *s = span_of(obj);
    uint32_t *st = span_gt_state(s);
    size_t done = 0;
    w->gt_visits++;
    if (unlikely(gcrt_gc.gcverify)) gt_check_lm(w, s);
    if (__atomic_load_n(st, __ATOMIC_ACQUIRE) == GT_ONE) {
        size_t i = span_objindex(s, obj);
        uint64_t bit = (uint64_t)1 << (i & 63);
        w->gt_local = 0;
        __atomic_fetch_or(&span_scanbits(s)[i >> 6], bit, __ATOMIC_RELEASE);
        scan_local(w, s, obj, spanclass_kind(s->spanclass) == GCRT_SCAN_TYPED);
        done = s->elemsize;
        uint32_t one = GT_ONE;
        if (!w->gt_local && __atomic_compare_exchange_n(st, &one, GT_IDLE, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
            w->gt_objs++;
            return done;
        }
        __atomic_store_n(st, GT_MANY, __ATOMIC_RELAXED);   /* ours: markers only CAS GT_ONE away */
    }
    done += scan_span_owned(w, s);
    w->gt_objs += done / s->elemsize;
    return done;
}

/* A work entry: an object of a span-local span, an object or an oblet. */
static inline size_t scan_entry(gcrt_gcw *w, uintptr_t e) {
    if (e & GT_TAG) return scan_span(w, e - GT_TAG);
    return scan_object(w, e);
}

/* Drain local and global work until none is left or `budget` bytes were scanned.
 * Objects pass through a small FIFO whose entries are prefetched on the way in, so the
 * cache miss on an object overlaps the scanning of the ones before it. */
int64_t gcrt_drain(gcrt_gcw *w, int64_t budget) {
    uintptr_t ring[PREFETCH_RING];
    unsigned head = 0, n = 0;
    int64_t done = 0;
    for (;;) {
        uintptr_t obj;
        while (n < PREFETCH_RING && (obj = pop(w))) {
            __builtin_prefetch((const void *)(obj & ~GT_TAG));
            ring[(head + n++) % PREFETCH_RING] = obj;
        }
        if (!n) break;
        obj = ring[head];
        head = (head + 1) % PREFETCH_RING;
        n--;
        done += (int64_t)scan_entry(w, obj);
        if ((++w->nscanned & 31) == 0) balance(w);
        if (done >= budget && n == 0) break;
        if (done >= budget) {   /* put the prefetched entries back before stopping */
            while (n) {
                push(w, ring[(head + --n) % PREFETCH_RING]);
            }
            break;
        }
    }
    w->scan_work += (uint64_t)done;
    return done;
}

/* One bounded slice of marking with a work buffer of its own (taken and given back here):
 * the scan work done. */
int64_t gcrt_mark_some(int64_t budget) {
    gcrt_gcw w;
    gcrt_gcw_init(&w);
    int64_t did = gcrt_drain(&w, budget);
    gcrt_gcw_dispose(&w);
    return did;
}

/* A registered thread marks up to budget in critical sections of `section` each: a stop
 * waits out one section, not the whole budget, and may park the thread between two,
 * after which marking may have ended. t NULL: an unregistered thread, no sections needed.
 * Stops when a section finds no grey object; *ran_dry (optional) tells whether the last
 * section ran out of them. */
int64_t gcrt_mark_sections(gcrt_thread *t, int64_t budget, int64_t section, bool *ran_dry) {
    int64_t did = 0;
    bool dry = false;
    for (int64_t d = 1; d > 0 && did < budget;) {
        if (t) gcrt_enter(t);
        if (!gcrt_gc.marking) {
            if (t) gcrt_leave(t);
            break;
        }
        int64_t want = budget - did < section ? budget - did : section;
        d = gcrt_mark_some(want);
        if (t) gcrt_leave(t);
        did += d;
        dry = d < want;
    }
    if (ran_dry) *ran_dry = dry;
    return did;
}

/* ---- worker threads ---- */

static void wait_for_work(unsigned spins) {
    if (spins < 32) {
        __builtin_ia32_pause();
        return;
    }
    if (spins < 64) {
        sched_yield();
        return;
    }
    atomic_add(&M.nidle, 1);
    gcrt_lock(&M.wlock);
    if (!atomic_load_relaxed(&M.full) && M.mode == MODE_RUN) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&M.wcond, &M.wlock, &ts);
    }
    pthread_mutex_unlock(&M.wlock);
    atomic_add(&M.nidle, -1);
}

static void *worker_main(void *arg) {
    (void)arg;
    gcrt_tl_role(GCRT_ROLE_PAUSE);
    for (;;) {
        gcrt_lock(&M.wlock);
        while (M.mode == MODE_IDLE) pthread_cond_wait(&M.wcond, &M.wlock);
        pthread_mutex_unlock(&M.wlock);
        uint64_t c0 = gcrt_thread_cpu_ns();
        gcrt_tl_run run = {0};
        for (unsigned spins = 0; atomic_load_acquire(&M.mode) == MODE_RUN;) {
            if (!atomic_load_relaxed(&M.full)) {
                wait_for_work(spins++);
                continue;
            }
            spins = 0;
            uint64_t s0 = gcrt_tl_now();
            int64_t did = gcrt_mark_some(INT64_MAX);
            if (unlikely(s0) && did) gcrt_tl_run_add(&run, GCRT_TL_MARK_PAUSE, s0, (uint64_t)did);
        }
        gcrt_tl_run_flush(&run, GCRT_TL_MARK_PAUSE);
        atomic_add(&M.idle_cpu_ns, gcrt_thread_cpu_ns() - c0);
    }
    return NULL;
}

/* Before any span exists (the classes decide their spans' bitmap blocks). */
void gcrt_mark_init(int nmarkers) {
    M.nmarkers = nmarkers < 1 ? 1 : nmarkers;
    for (unsigned sc = 1; sc < GCRT_NUM_CLASSES && gcrt_gc.gcgreentea; sc++) {
        if (gcrt_class_size[sc] > GCRT_GT_MAX_ELEM) break;
        if (gcrt_class_nelems[sc] > 64 * sizeof(((gcrt_gcw *)0)->gt_lm) / 8) continue;   /* one page each, as yet */
        gcrt_gt_class[spanclass_make(sc, GCRT_SCAN_CONS)] = 1;
        gcrt_gt_class[spanclass_make(sc, GCRT_SCAN_TYPED)] = 1;
    }
}

/* Keep a reserve of buffers from the first cycle on, so a cycle run because memory ran
 * out can still mark. */
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
        if (!gcrt_spawn_detached(worker_main, NULL, "gcrt-mark")) break;   /* mark with the threads we have */
        M.nthreads++;
    }
}

/* Before the world stops: thread creation and first-time allocations take libc locks
 * that a stopped thread may hold (malloc's, during fork). */
void gcrt_mark_prepare(void) {
    ensure_workers();
    ensure_reserve();
}

/* GODEBUG=gcgreentea=2: span-local marking pays when a span, once taken, has several
 * objects to scan; when it has barely more than one (a random graph, where nearly every
 * pointer leads to another span), queue state, scanned bits and a second touch of the
 * bitmaps cost more than the locality gives (randgraph: mark CPU +36%). So after a cycle
 * whose spans averaged fewer than GT_MIN_DENSITY objects per visit, GT_SKIP cycles mark
 * object by object, then span-local marking is tried again. */
#define GT_MIN_DENSITY 2
#define GT_MIN_VISITS 4096
#define GT_SKIP 8
static unsigned gt_skip;

static bool gt_this_cycle(void) {
    uint64_t v = M.gt_visits, o = M.gt_objs;
    M.gt_visits = M.gt_objs = 0;
    if (gcrt_gc.gcgreentea != GT_AUTO) return gcrt_gc.gcgreentea != 0;
    if (gt_skip) return gt_skip--, false;
    if (v >= GT_MIN_VISITS && o < v * GT_MIN_DENSITY) return gt_skip = GT_SKIP - 1, false;
    return true;
}

void gcrt_mark_begin(void) {
    if (gt_this_cycle()) memcpy(gcrt_gt_mark, gcrt_gt_class, sizeof gcrt_gt_mark);
    else memset(gcrt_gt_mark, 0, sizeof gcrt_gt_mark);
    M.bytes_marked = 0;
    M.scan_work = 0;
    M.bg_credit = 0;
    M.idle_cpu_ns = 0;
    M.assist_cpu_ns = 0;
    M.overflow = 0;
}

void gcrt_mark_workers(bool run) {
    gcrt_lock(&M.wlock);
    M.mode = run ? MODE_RUN : MODE_IDLE;
    pthread_cond_broadcast(&M.wcond);
    pthread_mutex_unlock(&M.wlock);
}

/* Mark until no grey object is left. The caller marks too; workers help. */
void gcrt_mark_drain_all(void) {
    for (unsigned spins = 0;;) {
        if (atomic_load_relaxed(&M.full)) {
            gcrt_mark_some(INT64_MAX);
            spins = 0;
        }
        if (gcrt_mark_work_done()) return;
        if (++spins < 64) __builtin_ia32_pause();
        else sched_yield();
    }
}

/* Overflow recovery, world stopped, no marker at work: rescan every marked scannable
 * object so unmarked children get greyed; repeat while buffers keep running out. Only
 * queue entries are lost, never marks, so a span-local span needs only its unscanned
 * objects scanned; one whose push failed was left ONE, queued nowhere, so every
 * span goes back to idle first (no span is queued or being scanned now). */
static void gt_unqueue(gcrt_span *s, void *arg) {
    (void)arg;
    if (gcrt_gt_mark[s->spanclass]) atomic_store_relaxed(span_gt_state(s), GT_IDLE);
}

static void rescan_marked(gcrt_span *s, void *arg) {
    gcrt_gcw *w = arg;
    if (spanclass_kind(s->spanclass) == GCRT_SCAN_NOSCAN) return;
    if (gcrt_gt_mark[s->spanclass]) {
        uint32_t idle = GT_IDLE;
        if (__atomic_compare_exchange_n(span_gt_state(s), &idle, GT_MANY, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            scan_span_owned(w, s);
        gcrt_drain(w, INT64_MAX);
        return;
    }
    for (size_t i = 0; i < s->nelems; i++) {
        if (!bit_get(s->markbits, i)) continue;
        uintptr_t obj = s->base + i * s->elemsize;
        if (s->nelems == 1)
            for (uintptr_t o = obj; o < s->limit; o += OBLET_BYTES) scan_object(w, o);
        else scan_object(w, obj);
        gcrt_drain(w, INT64_MAX);
    }
}

void gcrt_mark_recover_overflow(void) {
    while (atomic_load_relaxed(&M.overflow)) {
        M.overflow = 0;
        gcrt_gcw w;
        gcrt_heap_for_each_span(gt_unqueue, NULL);
        gcrt_gcw_init(&w);
        gcrt_heap_for_each_span(rescan_marked, &w);
        gcrt_gcw_dispose(&w);
        gcrt_mark_drain_all();
    }
}

uint64_t gcrt_mark_bytes(void) { return atomic_load_relaxed(&M.bytes_marked); }
uint64_t gcrt_mark_scan_work(void) { return atomic_load_relaxed(&M.scan_work); }
void gcrt_mark_add_bytes(uint64_t n) { atomic_add(&M.bytes_marked, n); }
uint64_t gcrt_mark_worker_cpu(void) { return atomic_load_relaxed(&M.idle_cpu_ns); }
uint64_t gcrt_mark_assist_cpu(void) { return atomic_load_relaxed(&M.assist_cpu_ns); }
void gcrt_mark_set_assist_ratio(double r) { __atomic_store(&M.assist_ratio, &r, __ATOMIC_RELAXED); }

/* A mutator that allocated while marking pays scan work in proportion (Go's assists):
 * first from the workers' unclaimed credit, then by marking itself, in one bounded slice.
 * Called outside critical sections; marks inside one.
 *
 * What it cannot pay for want of grey objects (a heap of few pointer-rich objects keeps
 * its grey work in one marker's hands) is forgiven while the heap is below its goal. Past
 * the goal the assist waits instead, as Go's gcParkAssist does, until a marker's credit or
 * shared grey work lets it pay, or marking ends: forgiving there let the heap run on to the
 * hard goal and beyond (kvcache under GOMEMLIMIT beside a CPU hog: 5.1 MB of debt forgiven
 * in one 90 ms mark, the heap at 65.7 MB against a 59.6 MB goal). Allocation is then paced
 * by marking, and the GC thread drops its 25% pacing while an assist waits (it stands in
 * for Go's idle worker on the waiting thread's CPU, which a CPU hog would take). */
#define ASSIST_MIN_WORK ((int64_t)64 << 10)
/* An assist marks in critical sections, which a stop-the-world waits out: bound each.
 * Scan work counts bytes, not cache misses: 256 KiB of a randomly laid out graph of
 * 64-byte nodes took 2-8 ms here, and mark termination waited for it. */
#define ASSIST_MAX_WORK ((int64_t)256 << 10)
#define ASSIST_SECTION_WORK ((int64_t)16 << 10)
#define ASSIST_WAIT_NS 1000000   /* a re-check in case a wake-up was missed: never a give-up */

bool gcrt_assists_waiting(void) { return atomic_load_relaxed(&nassist_wait) != 0; }

void gcrt_mark_credit(int64_t work) {
    atomic_add(&M.bg_credit, work);
    if (work > 0) assist_wake();
}

/* Up to `work` of the workers' credit: what was taken. */
static int64_t take_credit(int64_t work) {
    int64_t credit = atomic_load_relaxed(&M.bg_credit);
    while (credit > 0) {
        int64_t take = credit < work ? credit : work;
        if (__atomic_compare_exchange_n(&M.bg_credit, &credit, credit - take, false, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return take;
    }
    return 0;
}

static void assist_wait(void) {
    uint64_t s0 = gcrt_tl_now();
    uint32_t cyc = gcrt_tl_cycle_now();
    uint32_t seq = atomic_load_relaxed(&assist_seq);
    __atomic_add_fetch(&nassist_wait, 1, __ATOMIC_SEQ_CST);
    if (atomic_load_relaxed(&gcrt_gc.marking) && !atomic_load_relaxed(&M.full) && atomic_load_relaxed(&M.bg_credit) <= 0) {
        struct timespec ts = {0, ASSIST_WAIT_NS};
        syscall(SYS_futex, &assist_seq, FUTEX_WAIT_PRIVATE, seq, &ts, NULL, 0);
        gcrt_tl_end_in(GCRT_TL_ASSIST_WAIT, cyc, s0, 0, 0);
    }
    atomic_add(&nassist_wait, -1);
}

void gcrt_assist(gcrt_thread *t) {
    double ratio;
    __atomic_load(&M.assist_ratio, &ratio, __ATOMIC_RELAXED);
    int64_t work = (int64_t)((double)t->assist_debt * ratio);
    for (;;) {
        gcrt_limiter_update();
        if (work <= 0 || gcrt_limiter_on() || !gcrt_gc.marking) break;   /* on: the collector has had its share */
        work -= take_credit(work);
        if (work > 0 && atomic_load_relaxed(&M.full)) {
            uint64_t c0 = gcrt_thread_cpu_ns(), s0 = gcrt_tl_now();
            uint32_t cyc = gcrt_tl_cycle_now();
            int64_t budget = work < ASSIST_MIN_WORK ? ASSIST_MIN_WORK : work > ASSIST_MAX_WORK ? ASSIST_MAX_WORK : work;
            int64_t did = gcrt_mark_sections(t, budget, ASSIST_SECTION_WORK, NULL);
            if (did) gcrt_tl_end_in(GCRT_TL_ASSIST, cyc, s0, (uint64_t)did, (uint64_t)budget);
            uint64_t cpu = gcrt_thread_cpu_ns() - c0;
            atomic_add(&M.assist_cpu_ns, cpu);
            gcrt_limiter_add(cpu, 0);
            work -= did;
        }
        /* Paid, or debt beyond one slice with grey work left: it carries over to the next
         * allocation. */
        if (work <= 0 || atomic_load_relaxed(&M.full)) break;
        if (atomic_load_relaxed(&gcrt_heap_live) < (int64_t)gcrt_gc.goal) break;   /* forgiven below */
        assist_wait();
    }
    /* Overpayment is credit; unpaid debt with grey work left carries over; the rest (no
     * grey object to take below the goal, marking over, the limiter on) is forgiven. */
    if (work < 0 || (work > 0 && gcrt_gc.marking && !gcrt_limiter_on() && atomic_load_relaxed(&M.full)))
        t->assist_debt = (int64_t)((double)work / (ratio > 0 ? ratio : 1));
    else
        t->assist_debt = 0;
}

/* A barrier from an unregistered thread (which is never stopped) greys at once, under
 * shade_lock, which the second pause takes before marking ends: no mark bit is set once
 * the cycle has moved on to sweeping. */
static pthread_mutex_t shade_lock = PTHREAD_MUTEX_INITIALIZER;
void gcrt_shade_unregistered(uintptr_t v) {
    gcrt_lock(&shade_lock);
    if (gcrt_gc.marking) {
        gcrt_gcw w;
        gcrt_gcw_init(&w);
        gcrt_grey(&w, v);
        gcrt_gcw_dispose(&w);
    }
    pthread_mutex_unlock(&shade_lock);
}

void gcrt_mark_phase_end(void) {
    gcrt_lock(&shade_lock);
    gcrt_gc.marking = 0;
    gc_write_barrier_on = gcrt_gc.gcstorecheck;   /* gcstorecheck: every GC_STORE is checked */
    pthread_mutex_unlock(&shade_lock);
    assist_wake();
}

uint32_t gcrt_flush_epoch;

/* Called by a mutator, outside critical sections, that saw a new flush request. */
void gcrt_wbuf_flush_requested(gcrt_thread *t) {
    gcrt_enter(t);
    t->flush_seen = atomic_load_relaxed(&gcrt_flush_epoch);
    if (gcrt_gc.marking) gcrt_wbuf_flush(t);
    gcrt_leave(t);
}

/* Grey the entries of a write-barrier buffer (a mutator's own, inside its critical
 * section, or any thread's with the world stopped). */
void gcrt_wbuf_flush(gcrt_thread *t) {
    if (!t->wbn) return;
    gcrt_gcw w;
    gcrt_gcw_init(&w);
    for (unsigned i = 0; i < t->wbn; i++) gcrt_grey(&w, t->wbbuf[i]);
    t->wbn = 0;
    gcrt_gcw_dispose(&w);
}

/* For the specials root job (final.c): a finalizable object's referents, not the object. */
size_t gcrt_scan_object(gcrt_gcw *w, uintptr_t obj) { return scan_object(w, obj); }

/* Fork (between cycles, world stopped): workers are parked; in the child they do not exist. */
void gcrt_mark_fork(int phase) {
    if (phase == GCRT_FORK_PREPARE) gcrt_lock(&shade_lock);
    gcrt_fork_mutex(&M.lock, phase);
    gcrt_fork_mutex(&M.wlock, phase);
    if (phase == GCRT_FORK_CHILD) {
        pthread_cond_init(&M.wcond, NULL);
        M.nthreads = 0;
        M.nidle = 0;
        nassist_wait = 0;   /* a parked thread of the parent's may have counted itself */
    }
    if (phase != GCRT_FORK_PREPARE) gcrt_fork_mutex(&shade_lock, phase);
}
