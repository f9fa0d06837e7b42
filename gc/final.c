/*
 * final.c: specials (Go's mspan.specials), finalizers, cleanups, the finalizer queue and
 * the finalizer thread (Go's mfinal.go and the special-record half of mheap.go).
 *
 * Specials. Per-object metadata lives in off-heap records on a list per span, found from
 * the object's address through span_of: no global table. A span's list is sorted by byte
 * offset in the span, descending (allocation fills spans upwards, so setting specials on
 * objects in allocation order inserts at the head), then by kind. Records of one object are
 * contiguous. The list is guarded by one of SP_STRIPES locks chosen by the span
 * descriptor's address (descriptors are recycled but never unmapped, so a stale
 * descriptor still names the same lock: cleanup_stop on a dead object is safe).
 *
 * Every holder of a stripe lock, of finq.lock or of spalloc.lock is inside a critical
 * section (or is the collector with the world stopped): a stopped thread never holds one,
 * so the sweeper may take them in a pause. Lock order: stripe -> spset.lock -> finq.lock
 * -> spalloc.lock -> M.lock (mark.c) -> metadata lock.
 *
 * Spans that carry specials or pinned weak cells are listed in spset (span->spset =
 * index + 1). A span enters the set with its first record or pin and leaves it only when
 * sweeping finds neither, so
 * the set never shrinks while marking (sweeping is finished before a cycle starts) and a
 * span leaves it before its pages can go back to the heap. Each entry flags the span's
 * root work (records to walk, pinned cells), kept exact under spset.lock, with counts of
 * each. Cycles with no root work pay three counter tests; sweeping a span without
 * specials pays one field test.
 *
 * Marking (Go's markrootSpans), a root job run once per cycle before the first mark slice:
 *   finalizer: the object's contents are scanned but the object is not marked, so what it
 *     reaches survives and the object itself is marked only if something else reaches it;
 *     its arg is greyed;
 *   cleanup: its arg is greyed (the object is not);
 *   weak: nothing per record: the handle cell (a GC object) is pinned in its span's
 *     pinbits while the object lives, and pinned spans' bitmaps are ORed into their mark
 *     bits; spans whose records are all weak (nroots == 0) are not even looked at. A job
 *     that is only that OR is quick (run before the mark is handed to the GC thread);
 *   finq: every queued object and arg is greyed.
 * A record added while marking greys the same things at insertion (the root job may have
 * passed its span); an entry taken off finq while marking is shaded as it leaves (a
 * deletion from a root the snapshot did not cover).
 *
 * Sweeping (Go's two passes, gcrt_sweep_specials, before the span's marks are counted):
 * for an unmarked object with a finalizer, mark it (resurrect: its referents were marked
 * by the root job), queue its finalizer, clear its weak handles, keep its cleanups; for an
 * unmarked object without one, clear its weak handles and queue its cleanups. Everything
 * happens under the span's stripe lock, before the span's mark bits become its allocation
 * bits; span->specials_sg records that this generation's pass is done (weak.c reads it).
 * A span whose objects are all marked and that stays in the set has nothing to do: it
 * only publishes specials_sg, without the lock (weak.c re-checks it for that case).
 *
 * Consequences (as in Go): a finalized object is freed at the earliest one cycle after its
 * finalizer was queued; in a chain A -> B with finalizers on both, B is reachable from A's
 * contents, so A is finalized first and B a cycle after A is gone; a cycle of objects with
 * a finalizer on one of them is never collected (it reaches itself through its contents).
 *
 * Running: finq is a FIFO of 4 KiB blocks. The finalizer thread (a registered thread,
 * started by the first finalizer or cleanup) and gc_run_finalizers pop entries one at a
 * time and call them outside every gcrt lock and critical section, so a finalizer may
 * allocate, set finalizers and collect, and a slow one delays only later finalizers.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <linux/futex.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { SPECIAL_FINALIZER = 1, SPECIAL_WEAK = 2, SPECIAL_CLEANUP = 3,
       SPECIAL_PROFILE = 4 /* a heap-profile sample (runtime/mprof.c): arg is its bucket */ };

/* Records the root job must visit (finalizers, cleanups): weak and profile records need
 * nothing per cycle. */
static inline bool special_is_root(uint8_t kind) { return kind == SPECIAL_FINALIZER || kind == SPECIAL_CLEANUP; }

struct gcrt_special {
    gcrt_special *next;
    uintptr_t offset;        /* byte offset in the span */
    uint64_t id;             /* cleanups: unique id (Go's cleanupID); 0 otherwise */
    uint8_t kind;
    uint8_t fmode;           /* finalizers: GCRT_FIN_* (bdwgc's orderings, compat/) */
    void *fn;                /* finalizer: void (*)(void *, void *); cleanup: void (*)(void *) */
    void *arg;               /* finalizer/cleanup arg; weak: the handle cell */
};

#define SP_STRIPES 256
static GCRT_STATE pthread_mutex_t sp_stripe[SP_STRIPES] = {[0 ... SP_STRIPES - 1] = PTHREAD_MUTEX_INITIALIZER};

static inline pthread_mutex_t *stripe_of(const gcrt_span *s) {
    uintptr_t a = (uintptr_t)s;
    return &sp_stripe[((a >> 6) ^ (a >> 14)) & (SP_STRIPES - 1)];
}

/* List nodes visited by insertions and lookups (a test bounds it: no quadratic cost). */
uint64_t gcrt_specials_steps;

/* ---- record allocator (Go's fixalloc): off-heap, never scanned ---- */
#define SPALLOC_CHUNK ((size_t)64 << 10)
static GCRT_STATE struct {
    pthread_mutex_t lock;
    gcrt_special *free;
} spalloc = {.lock = PTHREAD_MUTEX_INITIALIZER};

static gcrt_special *special_alloc(void) {
    gcrt_lock(&spalloc.lock);
    gcrt_special *r = spalloc.free;
    if (!r) {
        char *chunk = gcrt_meta_alloc(SPALLOC_CHUNK);
        if (chunk) {
            for (size_t o = 0; o + sizeof *r <= SPALLOC_CHUNK; o += sizeof *r) {
                gcrt_special *x = (gcrt_special *)(chunk + o);
                x->next = spalloc.free;
                spalloc.free = x;
            }
            r = spalloc.free;
        }
    }
    if (r) spalloc.free = r->next;
    pthread_mutex_unlock(&spalloc.lock);
    if (r) memset(r, 0, sizeof *r);
    return r;
}

static void special_free(gcrt_special *r) {
    gcrt_lock(&spalloc.lock);
    r->next = spalloc.free;
    spalloc.free = r;
    pthread_mutex_unlock(&spalloc.lock);
}

/* ---- the set of spans with specials ----
 * Each entry also says whether its span has work for the root job (records other than
 * weak ones, or pinned cells), so the job skips the many weak-only spans without touching
 * their descriptors. The flag is recomputed under spset.lock whenever nroots crosses zero
 * or pinbits comes or goes. */
enum { SP_WALK = 1, SP_PINS = 2 };   /* spentry.roots: nroots != 0, pinbits != NULL */
typedef struct spentry {
    gcrt_span *s;
    uintptr_t roots;
} spentry;
static GCRT_STATE struct {
    pthread_mutex_t lock;
    spentry *arr;
    size_t n, cap;
    size_t nwalk, npins;   /* entries with SP_WALK, SP_PINS (read atomically in pause 1) */
} spset = {.lock = PTHREAD_MUTEX_INITIALIZER};

static inline uintptr_t span_roots(gcrt_span *s) {
    return (atomic_load_relaxed(&s->nroots) ? SP_WALK : 0) | (atomic_load_relaxed(&s->pinbits) ? SP_PINS : 0);
}

static void spset_count(uintptr_t roots, size_t d) {   /* spset.lock held */
    if (roots & SP_WALK) atomic_store_relaxed(&spset.nwalk, spset.nwalk + d);
    if (roots & SP_PINS) atomic_store_relaxed(&spset.npins, spset.npins + d);
}

/* nroots crossed zero or pinbits changed (the caller holds the lock that guards that
 * field: the stripe lock or pin_lock); s is in the set. */
static void spset_note(gcrt_span *s) {
    gcrt_lock(&spset.lock);
    spentry *e = &spset.arr[s->spset - 1];
    spset_count(e->roots, (size_t)-1);
    e->roots = span_roots(s);
    spset_count(e->roots, 1);
    pthread_mutex_unlock(&spset.lock);
}

/* Caller holds s's stripe lock or pin_lock (either shuts out spset_remove, which needs
 * both). */
static bool spset_add(gcrt_span *s) {
    if (atomic_load_relaxed(&s->spset)) return true;
    gcrt_lock(&spset.lock);
    bool ok = atomic_load_relaxed(&s->spset) ||
              gcrt_meta_grow((void **)&spset.arr, &spset.cap, spset.n, sizeof *spset.arr, 256);
    if (ok && !atomic_load_relaxed(&s->spset)) {
        spset.arr[spset.n++] = (spentry){s, span_roots(s)};
        spset_count(span_roots(s), 1);
        atomic_store_relaxed(&s->spset, (uint32_t)spset.n);
    }
    pthread_mutex_unlock(&spset.lock);
    return ok;
}

static void spset_remove(gcrt_span *s) {   /* stripe lock and pin_lock held; never while marking */
    gcrt_lock(&spset.lock);
    size_t i = s->spset - 1;
    spset_count(spset.arr[i].roots, (size_t)-1);
    spentry last = spset.arr[--spset.n];
    spset.arr[i] = last;
    atomic_store_relaxed(&last.s->spset, (uint32_t)(i + 1));
    atomic_store_relaxed(&s->spset, 0);
    pthread_mutex_unlock(&spset.lock);
}

/* ---- list operations (stripe lock held) ---- */

static uint64_t nunordered;   /* GCRT_FIN_NO_ORDER finalizer records (atomic): see gcrt_specials_unordered */

/* The link after which a record (offset, kind) belongs: the first record not greater. */
static gcrt_special **special_pos(gcrt_span *s, uintptr_t offset, uint8_t kind) {
    gcrt_special **pp = &s->specials;
    uint64_t steps = 0;
    for (gcrt_special *r; (r = *pp); pp = &r->next, steps++)
        if (r->offset < offset || (r->offset == offset && r->kind >= kind)) break;
    atomic_add(&gcrt_specials_steps, steps + 1);
    return pp;
}

static gcrt_special **special_find(gcrt_span *s, uintptr_t offset, uint8_t kind) {
    gcrt_special **pp = special_pos(s, offset, kind);
    return *pp && (*pp)->offset == offset && (*pp)->kind == kind ? pp : NULL;
}

/* Link r at its place; false (r not linked) when the span set cannot grow. */
static bool special_insert(gcrt_span *s, gcrt_special *r) {
    if (!spset_add(s)) return false;
    gcrt_special **pp = special_pos(s, r->offset, r->kind);
    r->next = *pp;
    atomic_store_release(pp, r);
    if (r->kind == SPECIAL_FINALIZER && r->fmode == GCRT_FIN_NO_ORDER) atomic_add(&nunordered, 1);
    if (special_is_root(r->kind)) {
        atomic_store_relaxed(&s->nroots, s->nroots + 1);
        if (s->nroots == 1) spset_note(s);
    }
    return true;
}

/* Unlink and free the record at *pp. */
static void special_unlink(gcrt_span *s, gcrt_special **pp) {
    gcrt_special *r = *pp;
    *pp = r->next;
    if (r->kind == SPECIAL_FINALIZER && r->fmode == GCRT_FIN_NO_ORDER) atomic_add(&nunordered, (uint64_t)-1);
    if (special_is_root(r->kind)) {
        atomic_store_relaxed(&s->nroots, s->nroots - 1);
        if (!s->nroots) spset_note(s);
    }
    special_free(r);
}

/* ---- pinned weak cells ----
 * A weak cell must survive every cycle while its object lives (gc_weak_make returns the
 * same one). Rather than walking a million weak records per cycle, each cell span keeps
 * a bitmap of such cells (pinbits), which the root job ORs into its mark bits a word at a
 * time. A cell is pinned when its record is made and unpinned when the sweeper clears it.
 * pin_lock guards the arrays' allocation and release (release only by the cell span's
 * sweeper, when no bit is set); bits change atomically. A pinned cell is marked, so its
 * span cannot be freed. Lock order: stripe -> pin_lock -> spset.lock. */
static pthread_mutex_t pin_lock = PTHREAD_MUTEX_INITIALIZER;

static bool cell_pin(struct gc_weak *cell) {
    gcrt_span *s = span_of_heap((uintptr_t)cell);
    size_t i = span_objindex(s, (uintptr_t)cell);
    bool ok = true;
    gcrt_lock(&pin_lock);
    if (!s->pinbits) {
        uint64_t *b = gcrt_meta_alloc(span_bitmap_words(s) * 8);
        ok = b && spset_add(s);
        if (ok) {
            atomic_store_release(&s->pinbits, b);
            spset_note(s);
        } else if (b) {
            gcrt_meta_free(b, span_bitmap_words(s) * 8);
        }
    }
    if (ok) atomic_or(&s->pinbits[i >> 6], (uint64_t)1 << (i & 63));
    pthread_mutex_unlock(&pin_lock);
    return ok;
}

static void cell_unpin(struct gc_weak *cell) {
    gcrt_span *s = span_of_heap((uintptr_t)cell);
    size_t i = span_objindex(s, (uintptr_t)cell);
    __atomic_fetch_and(&s->pinbits[i >> 6], ~((uint64_t)1 << (i & 63)), __ATOMIC_RELAXED);
}

static inline void prefetch_pinned(gcrt_span *s) {
    uint64_t *pin = atomic_load_relaxed(&s->pinbits);
    if (!pin) return;
    for (size_t k = 0; k < span_bitmap_words(s); k += 8) {
        __builtin_prefetch(&pin[k]);
        __builtin_prefetch(&s->markbits[k], 1);
    }
}

/* Root job: mark a span's pinned cells. */
static void mark_pinned(gcrt_gcw *w, gcrt_span *s) {
    uint64_t *pin = atomic_load_acquire(&s->pinbits);
    if (!pin) return;
    uint64_t n = 0;
    for (size_t k = 0; k < span_bitmap_words(s); k++) {
        uint64_t p = atomic_load_relaxed(&pin[k]);
        if (p && (p & ~atomic_load_relaxed(&s->markbits[k])))
            n += (uint64_t)__builtin_popcountll(p & ~atomic_or(&s->markbits[k], p));
    }
    w->bytes_marked += n * s->elemsize;
}

/* The sweeper, s's stripe lock held: drop the pin bitmap once nothing is pinned, and the
 * span from the set once it has neither records nor pins (under pin_lock, so no pin can
 * slip in between). */
static void spset_leave_if_empty(gcrt_span *s) {
    gcrt_lock(&pin_lock);
    if (s->pinbits) {
        uint64_t any = 0;
        for (size_t k = 0; k < span_bitmap_words(s); k++) any |= atomic_load_relaxed(&s->pinbits[k]);
        if (!any) {
            gcrt_meta_free(s->pinbits, span_bitmap_words(s) * 8);
            atomic_store_relaxed(&s->pinbits, (uint64_t *)NULL);
            spset_note(s);
        }
    }
    if (!s->specials && !s->pinbits) spset_remove(s);
    pthread_mutex_unlock(&pin_lock);
}

/* ---- the finalizer queue ---- */
typedef struct finentry {
    uint8_t kind;            /* SPECIAL_FINALIZER or SPECIAL_CLEANUP */
    void *fn;
    void *obj;               /* finalizers: the object */
    void *arg;
} finentry;

#define FINBLOCK_ENTRIES ((4096 - 16) / sizeof(finentry))
typedef struct finblock {
    struct finblock *next;
    uint32_t head, n;
    finentry e[FINBLOCK_ENTRIES];
} finblock;

static GCRT_STATE struct {
    pthread_mutex_t lock;
    finblock *head, *tail, *spare;
    uint64_t len;            /* queued entries (atomic reads outside the lock) */
    uint32_t seq;            /* futex word: bumped when entries are queued */
    int thread;              /* 0 none, 1 starting/running, -1 could not start */
} finq = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Queue an entry (sweeper, stripe lock held); false when out of memory. */
static bool finq_push(uint8_t kind, void *fn, void *obj, void *arg) {
    gcrt_lock(&finq.lock);
    finblock *b = finq.tail;
    if (!b || b->n == FINBLOCK_ENTRIES) {
        finblock *nb = finq.spare;
        if (nb) finq.spare = NULL;
        else nb = gcrt_meta_alloc(sizeof(finblock));
        if (!nb) {
            pthread_mutex_unlock(&finq.lock);
            return false;
        }
        nb->next = NULL;
        nb->head = nb->n = 0;
        if (b) b->next = nb;
        else finq.head = nb;
        finq.tail = b = nb;
    }
    b->e[b->n++] = (finentry){kind, fn, obj, arg};
    atomic_add(&finq.len, 1);
    pthread_mutex_unlock(&finq.lock);
    return true;
}

static void finq_wake(void) {
    atomic_add(&finq.seq, 1);
    syscall(SYS_futex, &finq.seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Take the oldest entry; inside a critical section of t. */
static bool finq_pop(gcrt_thread *t, finentry *out) {
    if (!atomic_load_relaxed(&finq.len)) return false;
    gcrt_lock(&finq.lock);
    finblock *b = finq.head;
    bool got = b && b->head < b->n;
    if (got) {
        *out = b->e[b->head];
        memset(&b->e[b->head], 0, sizeof(finentry));
        b->head++;
        atomic_add(&finq.len, (uint64_t)-1);
        if (b->head == b->n && (b->n == FINBLOCK_ENTRIES || !b->next)) {
            finq.head = b->next;
            if (!finq.head) finq.tail = NULL;
            if (!finq.spare) finq.spare = b;
            else gcrt_meta_free(b, sizeof(finblock));
        }
    }
    pthread_mutex_unlock(&finq.lock);
    /* The entry moves from a root the snapshot did not cover to this thread's stack: shade
     * it like a deleted pointer. */
    if (got && gcrt_gc.marking) {
        gc_write_barrier_slow(out->obj);
        gc_write_barrier_slow(out->arg);
    }
    (void)t;
    return got;
}

/* Run one queued finalizer or cleanup in the calling thread; false if none was queued.
 * Not inlined, and nothing of the entry is used after the call: no copy of the object's
 * address may outlive the call in a register or frame of a long-lived caller (the
 * finalizer thread's), where the conservative scan would keep the object for ever. */
__attribute__((noinline)) static bool run_one(gcrt_thread *t) {
    finentry e;
    gcrt_enter(t);
    bool got = finq_pop(t, &e);
    gcrt_leave(t);
    if (!got) return false;
    if (e.kind == SPECIAL_FINALIZER) ((void (*)(void *, void *))e.fn)(e.obj, e.arg);
    else ((void (*)(void *))e.fn)(e.arg);
    memset(&e, 0, sizeof e);   /* no stale copy for the conservative stack scan */
    __asm__ volatile("" : : "r"(&e) : "memory");
    return true;
}

/* Vector registers are saved in a stopped thread's signal frame, which the stack scan
 * covers, and memcpy and struct copies leave addresses in them. Also called by the tests'
 * lifetime helpers (test/lifetime.h). */
__attribute__((noinline)) void gcrt_scrub_vector_regs(void) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f"))
        __asm__ volatile("vpxord %%zmm16,%%zmm16,%%zmm16\n\tvpxord %%zmm17,%%zmm17,%%zmm17\n\t"
                         "vpxord %%zmm18,%%zmm18,%%zmm18\n\tvpxord %%zmm19,%%zmm19,%%zmm19\n\t"
                         "vpxord %%zmm20,%%zmm20,%%zmm20\n\tvpxord %%zmm21,%%zmm21,%%zmm21\n\t"
                         "vpxord %%zmm22,%%zmm22,%%zmm22\n\tvpxord %%zmm23,%%zmm23,%%zmm23\n\t"
                         "vpxord %%zmm24,%%zmm24,%%zmm24\n\tvpxord %%zmm25,%%zmm25,%%zmm25\n\t"
                         "vpxord %%zmm26,%%zmm26,%%zmm26\n\tvpxord %%zmm27,%%zmm27,%%zmm27\n\t"
                         "vpxord %%zmm28,%%zmm28,%%zmm28\n\tvpxord %%zmm29,%%zmm29,%%zmm29\n\t"
                         "vpxord %%zmm30,%%zmm30,%%zmm30\n\tvpxord %%zmm31,%%zmm31,%%zmm31" ::: "memory");
    if (__builtin_cpu_supports("avx")) __asm__ volatile("vzeroall" ::: "memory");
    else
        __asm__ volatile("pxor %%xmm0,%%xmm0\n\tpxor %%xmm1,%%xmm1\n\tpxor %%xmm2,%%xmm2\n\tpxor %%xmm3,%%xmm3\n\t"
                         "pxor %%xmm4,%%xmm4\n\tpxor %%xmm5,%%xmm5\n\tpxor %%xmm6,%%xmm6\n\tpxor %%xmm7,%%xmm7\n\t"
                         "pxor %%xmm8,%%xmm8\n\tpxor %%xmm9,%%xmm9\n\tpxor %%xmm10,%%xmm10\n\tpxor %%xmm11,%%xmm11\n\t"
                         "pxor %%xmm12,%%xmm12\n\tpxor %%xmm13,%%xmm13\n\tpxor %%xmm14,%%xmm14\n\tpxor %%xmm15,%%xmm15" ::: "memory");
#endif
}

/* Before the finalizer thread sleeps: wipe the stack its finalizers used and the vector
 * registers, so stale pointers do not keep finalized objects alive for ever. */
__attribute__((noinline)) GCRT_NO_ASAN static void scrub_stack(void) {
    volatile char buf[16 << 10];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
    gcrt_scrub_vector_regs();
}

GCRT_API int gc_run_finalizers(void) {
    gcrt_ensure_init();
    gcrt_thread *t = gcrt_thread_get();
    int n = 0;
    while (run_one(t)) n++;
    return n;
}

static void *fin_main(void *arg) {
    (void)arg;
    gcrt_thread *t = gcrt_thread_get();
    for (bool ran = false;;) {
        uint32_t seen = atomic_load_acquire(&finq.seq);
        if (run_one(t)) {
            ran = true;
            continue;
        }
        if (ran) scrub_stack();
        ran = false;
        struct timespec ts = {1, 0};   /* a bound: a lost wake-up only delays */
        syscall(SYS_futex, &finq.seq, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
    }
    return NULL;
}

/* A forked child has no finalizer thread: the next finalizer or cleanup starts one. */
static void fin_atfork_child(void) { finq.thread = 0; }

/* Start the finalizer thread with the first finalizer or cleanup (outside critical
 * sections). If it cannot start, finalizers still run from gc_run_finalizers. */
int gcrt_fin_manual;
static void fin_thread_ensure(void) {
    if (gcrt_fin_manual || atomic_load_relaxed(&finq.thread)) return;
    int zero = 0;
    if (!atomic_cas(&finq.thread, &zero, 1)) return;
    static int atfork;
    if (!atfork++) pthread_atfork(NULL, NULL, fin_atfork_child);
    pthread_t th;
    if (gc_pthread_create(&th, NULL, fin_main, NULL) != 0) {
        atomic_store_relaxed(&finq.thread, -1);
        gcrt_warn("cannot start the finalizer thread: finalizers run only from gc_run_finalizers()");
        return;
    }
    pthread_detach(th);
}

/* compat/ (bdwgc runs finalizers in the allocating thread): the queue's wake-up word, bumped
 * whenever entries are queued, and its length. */
const volatile uint32_t *gcrt_finq_seq(void) { return &finq.seq; }
uint64_t gcrt_finq_len(void) { return atomic_load_relaxed(&finq.len); }

/* ---- marking: the specials root job ---- */

/* Scan what a finalizable object reaches, not the object. */
static void grey_contents(gcrt_gcw *w, gcrt_span *s, uintptr_t obj) {
    if (spanclass_kind(s->spanclass) != GCRT_SCAN_NOSCAN) gcrt_scan_object(w, obj);
}

/* A weak cell is a small noscan object that the program may still hold: mark it
 * without the general grey's lookups (consecutive records' cells share spans). */
static inline void mark_cell(gcrt_gcw *w, gcrt_span **cache, uintptr_t v) {
    gcrt_span *s = *cache;
    if (!s || v < s->base || v >= s->limit) {
        if (!(s = span_of_heap(v))) return;
        *cache = s;
    }
    size_t i = span_objindex(s, v);
    uint64_t *word = &s->markbits[i >> 6], bit = (uint64_t)1 << (i & 63);
    if (atomic_load_relaxed(word) & bit) return;
    if (atomic_or(word, bit) & bit) return;
    w->bytes_marked += s->elemsize;
}

/* bdwgc's GC_register_finalizer_ignore_self: the contents less the words that point back
 * into the object itself, so a self-referencing object can still be finalized. */
static void grey_contents_not_self(gcrt_gcw *w, gcrt_span *s, uintptr_t obj) {
    unsigned kind = spanclass_kind(s->spanclass);
    if (kind == GCRT_SCAN_NOSCAN) return;
    /* a custom-kind object (compat/): its mark procedure decides, self pointers included */
    if (kind == GCRT_SCAN_TYPED && gcrt_scan_hook && gcrt_scan_hook(w, obj, s->elemsize)) return;
    uintptr_t end = obj + s->elemsize;
    for (uintptr_t a = obj; a < end; a += sizeof(uintptr_t)) {
        if (kind == GCRT_SCAN_TYPED && !bit_get(s->ptrbits, (a - s->base) / sizeof(uintptr_t))) continue;
        uintptr_t v = gcrt_scan_load((const uintptr_t *)a);
        if (v < obj || v >= end) gcrt_grey(w, v);
    }
}

static void markroot_special(gcrt_gcw *w, gcrt_span **cellspan, gcrt_span *s, gcrt_special *r) {
    switch (r->kind) {
    case SPECIAL_FINALIZER: {
        uintptr_t obj = s->base + span_objindex(s, s->base + r->offset) * s->elemsize;
        /* unordered (GC_register_finalizer_no_order): nothing of the object is marked here;
         * gcrt_specials_unordered marks what it reaches once it is found unreachable */
        if (r->fmode == GCRT_FIN_IGNORE_SELF) grey_contents_not_self(w, s, obj);
        else if (r->fmode != GCRT_FIN_NO_ORDER) grey_contents(w, s, obj);
        gcrt_grey(w, (uintptr_t)r->arg);
        break;
    }
    case SPECIAL_CLEANUP:
        gcrt_grey(w, (uintptr_t)r->arg);
        break;
    case SPECIAL_WEAK:
        mark_cell(w, cellspan, (uintptr_t)r->arg);
        break;
    }
}

/* Pause 1: whether this cycle has a root job, and if so take its work buffer now, so
 * that marking cannot be found finished before the job has run. A job with only pinned
 * cells to mark is a few word ORs per cell span: quick. */
static gcrt_gcw root_gcw;
int gcrt_specials_begin(void) {
    bool walk = atomic_load_relaxed(&spset.nwalk) || atomic_load_relaxed(&finq.len);
    if (!walk && !atomic_load_relaxed(&spset.npins)) return GCRT_SPECIALS_NONE;
    gcrt_gcw_init(&root_gcw);
    return walk ? GCRT_SPECIALS_WALK : GCRT_SPECIALS_QUICK;
}

/* The root job, after gcrt_specials_begin returned true, while marking (me: the calling
 * registered thread, or NULL in a pause or from an unregistered thread). Spans that enter
 * the set after it started are skipped: their records were greyed at insertion. */
void gcrt_specials_markroot(gcrt_thread *me) {
    gcrt_gcw *w = &root_gcw;
    gcrt_span *cellspan = NULL;
    if (me) gcrt_enter(me);
    gcrt_lock(&spset.lock);
    size_t n = spset.n;
    pthread_mutex_unlock(&spset.lock);
    /* Spans with root work, a batch at a time (the array may move as it grows). */
    gcrt_span *batch[64];
    for (size_t i = 0; i < n;) {
        size_t nb = 0;
        gcrt_lock(&spset.lock);
        for (; i < n && nb < 64; i++)
            if (spset.arr[i].roots) batch[nb++] = spset.arr[i].s;
        for (size_t j = 0; j < nb && j < 6; j++) {
            __builtin_prefetch(batch[j]);
            __builtin_prefetch((char *)batch[j] + 64);
        }
        pthread_mutex_unlock(&spset.lock);
        for (size_t j = 0; j < nb; j++) {
            gcrt_span *s = batch[j];
            /* Each span costs a few cache misses (descriptor, pin and mark bitmaps) and
             * little else: fetch the next ones' ahead. */
            if (j + 6 < nb) {
                __builtin_prefetch(batch[j + 6]);
                __builtin_prefetch((char *)batch[j + 6] + 64);
            }
            if (j + 3 < nb) prefetch_pinned(batch[j + 3]);
            mark_pinned(w, s);
            if (!atomic_load_relaxed(&s->nroots)) continue;   /* pinned cells only */
            pthread_mutex_t *l = stripe_of(s);
            gcrt_lock(l);
            for (gcrt_special *r = s->specials; r; r = r->next) markroot_special(w, &cellspan, s, r);
            pthread_mutex_unlock(l);
        }
        if (me) {   /* let a pending stop through now and then */
            gcrt_leave(me);
            gcrt_enter(me);
        }
    }
    gcrt_lock(&finq.lock);
    for (finblock *b = finq.head; b; b = b->next)
        for (uint32_t j = b->head; j < b->n; j++) {
            gcrt_grey(w, (uintptr_t)b->e[j].obj);
            gcrt_grey(w, (uintptr_t)b->e[j].arg);
        }
    pthread_mutex_unlock(&finq.lock);
    gcrt_gcw_dispose(w);
    if (me) gcrt_leave(me);
}

/* A record added while marking: grey what the root job would have (t's critical section,
 * stripe lock held). */
static void shade_new_special(gcrt_span *s, gcrt_special *r) {
    if (!gcrt_gc.marking) return;
    gcrt_gcw w;
    gcrt_span *cellspan = NULL;
    gcrt_gcw_init(&w);
    markroot_special(&w, &cellspan, s, r);
    gcrt_gcw_dispose(&w);
}

/* ---- sweeping ---- */

static void clear_weak(gcrt_special *r) {
    struct gc_weak *h = r->arg;
    atomic_store_release(&h->obj, (uintptr_t)0);
    cell_unpin(h);
}

/* Whether s may skip spset_leave_if_empty this cycle (the sweeper of s, no lock): it has a
 * record, which only its sweeper or its object's owner removes (the owner's removal just
 * defers the leaving to a later sweep), or a pin bitmap, which only this sweeper frees. The
 * bitmap is read (a cache miss per cell span, most of this pass's cost) only one cycle in
 * 16: a span whose cells all lost their pins but are still held keeps it until then. */
static bool span_stays_in_set(gcrt_span *s, uint32_t sg) {
    if (atomic_load_acquire(&s->specials)) return true;
    uint64_t *pin = atomic_load_acquire(&s->pinbits);
    if (!pin) return false;
    if ((sg >> 1) & 15) return true;
    for (size_t k = 0; k < span_bitmap_words(s); k++)
        if (atomic_load_relaxed(&pin[k])) return true;
    return false;
}

/* The sweeper, on a span it claimed, before its marks are counted. */
static gcrt_special *dummy_end;   /* an empty list */
void gcrt_sweep_specials(gcrt_span *s) {
    uint32_t sg = atomic_load_relaxed(&gcrt_heap_.sweepgen);
    pthread_mutex_t *l = stripe_of(s);
    bool queued = false;
    /* Nothing died in this span (the usual case for long-lived objects with specials): no
     * record to look at. The marks are this sweeper's alone until it finishes. */
    size_t marked = 0;
    for (size_t k = 0; k < span_bitmap_words(s); k++) marked += (size_t)__builtin_popcountll(s->markbits[k]);
    bool alldone = marked == s->alloccount;
    if (alldone && marked && span_stays_in_set(s, sg)) {
        /* Nor can it leave the set: no lock needed. A reader of specials_sg that saw the
         * old value decides by mark bits, which say the same as the records now (and a
         * clear bit read after the bitmap swap is caught by its re-read of specials_sg). */
        atomic_store_release(&s->specials_sg, sg);
        return;
    }
    gcrt_lock(l);
    gcrt_special **pp = alldone ? &dummy_end : &s->specials;
    while (*pp) {
        gcrt_special *r = *pp;
        size_t idx = span_objindex(s, s->base + r->offset);
        uintptr_t lo = idx * s->elemsize;   /* the object's records: offsets in [lo, end) */
        uint64_t *mw = &s->markbits[idx >> 6], bit = (uint64_t)1 << (idx & 63);
        gcrt_special **first = pp;
        if (atomic_load_relaxed(mw) & bit) {   /* live: keep its records */
            while (*pp && (*pp)->offset >= lo) pp = &(*pp)->next;
            continue;
        }
        bool fin = false;
        for (gcrt_special *x = r; x && x->offset >= lo; x = x->next) fin |= x->kind == SPECIAL_FINALIZER;
        if (fin) {   /* resurrect: its referents were marked by the root job */
            atomic_or(mw, bit);
            atomic_add(&gcrt_heap_live, (int64_t)s->elemsize);
        }
        for (pp = first; *pp && (*pp)->offset >= lo;) {
            gcrt_special *x = *pp;
            uint8_t kind = x->kind;
            bool drop;
            if (kind == SPECIAL_WEAK) {
                clear_weak(x);
                drop = true;
            } else if (kind == SPECIAL_PROFILE) {   /* Go keeps it while a finalizer resurrects */
                drop = !fin;
                if (drop) gcrt_mprof_free(x->arg, s->elemsize);
            } else if (kind == SPECIAL_FINALIZER) {
                drop = finq_push(kind, x->fn, (void *)(s->base + x->offset), x->arg);
            } else {
                drop = !fin && finq_push(kind, x->fn, NULL, x->arg);   /* else: waits for real death */
            }
            if (drop) {
                special_unlink(s, pp);
                queued |= special_is_root(kind);
                continue;
            }
            if (kind == SPECIAL_PROFILE) {
                pp = &x->next;
                continue;
            }
            /* No memory to queue it: keep the object and the record for a later cycle
             * rather than lose a finalizer or a cleanup. */
            if (!fin || kind == SPECIAL_FINALIZER) atomic_or(mw, bit);
            pp = &x->next;
        }
    }
    atomic_store_release(&s->specials_sg, sg);
    spset_leave_if_empty(s);
    pthread_mutex_unlock(l);
    if (queued) finq_wake();
}

/* ---- finalizers ---- */

/* Set (fn != NULL) or remove obj's finalizer. replace: an existing one is swapped for the
 * new one (bdwgc's GC_register_finalizer) and returned through ofn and oarg; otherwise it is
 * -EEXIST (gc_set_finalizer, Go's rule). */
static int finalizer_set(const char *who, void *obj, void *fn, void *arg, int mode, bool replace, void **ofn,
                         void **oarg) {
    gcrt_ensure_init();
    gcrt_thread *t = gcrt_thread_get();
    if (ofn) *ofn = NULL, *oarg = NULL;
    if (!obj) {
        gcrt_warn("%s: NULL object; -EINVAL", who);
        return -EINVAL;
    }
    int rc = 0;
    uintptr_t base;
    gcrt_enter(t);
    gcrt_span *s = span_find_object(obj, &base);
    if (!s || base != (uintptr_t)obj) {
        gcrt_leave(t);
        /* Go panics here; the contract asks for -EINVAL, so say why instead of failing mutely */
        if (s)
            gcrt_warn("%s: %p points into the GC object at %p, not at its start; -EINVAL", who, obj,
                      (void *)base);
        else
            gcrt_warn("%s: %p is not a GC object (static, stack, malloc'd or freed memory); -EINVAL", who, obj);
        return -EINVAL;
    }
    pthread_mutex_t *l = stripe_of(s);
    gcrt_lock(l);
    uintptr_t off = base - s->base;
    gcrt_special **pp = special_find(s, off, SPECIAL_FINALIZER);
    if (pp && (replace || !fn)) {
        if (ofn) *ofn = (*pp)->fn, *oarg = (*pp)->arg;
        special_unlink(s, pp);
        pp = NULL;
    }
    if (!fn) {
    } else if (pp) {
        rc = -EEXIST;
    } else {
        gcrt_special *r = special_alloc();
        if (!r) rc = -ENOMEM;
        else {
            *r = (gcrt_special){.offset = off, .kind = SPECIAL_FINALIZER, .fmode = (uint8_t)mode, .fn = fn, .arg = arg};
            if (!special_insert(s, r)) {
                special_free(r);
                rc = -ENOMEM;
            } else {
                shade_new_special(s, r);
            }
        }
    }
    pthread_mutex_unlock(l);
    gcrt_leave(t);
    if (fn && rc == 0) fin_thread_ensure();
    return rc;
}

GCRT_API int gc_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg) {
    return finalizer_set("gc_set_finalizer", obj, (void *)fn, arg, GCRT_FIN_ORDERED, false, NULL, NULL);
}

int gcrt_finalizer_swap(void *obj, void *fn, void *arg, int mode, void **ofn, void **oarg) {
    return finalizer_set("GC_register_finalizer", obj, fn, arg, mode, true, ofn, oarg);
}

/* Whether the object at obj (its start) has a finalizer; world stopped (compat/ links). */
bool gcrt_has_finalizer(uintptr_t obj) {
    gcrt_span *s = span_of_heap(obj);
    return s && special_find(s, obj - s->base, SPECIAL_FINALIZER);
}

/* Mark termination, world stopped, after the drain and the caches' flush (cycle.c):
 * bdwgc's unordered finalization. An object with a GCRT_FIN_NO_ORDER finalizer that is
 * still unmarked is unreachable from the roots and from every ordered finalizable object:
 * queue its finalizer now, clear its weak handles, and grey it so that it and what it
 * reaches survive for the finalizer (its contents were not scanned by the root job).
 * Returns whether anything was greyed: the caller drains again. */
bool gcrt_specials_unordered(void) {
    if (!atomic_load_relaxed(&nunordered)) return false;
    gcrt_gcw w;
    gcrt_gcw_init(&w);
    bool greyed = false, queued = false;
    for (size_t i = 0; i < spset.n; i++) {
        gcrt_span *s = spset.arr[i].s;
        if (!(spset.arr[i].roots & SP_WALK)) continue;
        pthread_mutex_t *l = stripe_of(s);
        gcrt_lock(l);
        for (gcrt_special **pp = &s->specials; *pp;) {
            gcrt_special *r = *pp;
            size_t idx = span_objindex(s, s->base + r->offset);
            if (r->kind != SPECIAL_FINALIZER || r->fmode != GCRT_FIN_NO_ORDER || bit_get(s->markbits, idx) ||
                !span_slot_allocated(s, idx)) {
                pp = &r->next;
                continue;
            }
            uintptr_t obj = s->base + idx * s->elemsize;
            if (!finq_push(SPECIAL_FINALIZER, r->fn, (void *)obj, r->arg)) {   /* no memory: next cycle */
                pp = &r->next;
                continue;
            }
            special_unlink(s, pp);
            queued = true;
            /* its weak handles die with it, as the sweeper clears a resurrected object's */
            for (gcrt_special **q = &s->specials; *q;) {
                if ((*q)->kind == SPECIAL_WEAK && (*q)->offset == obj - s->base) {
                    clear_weak(*q);
                    special_unlink(s, q);
                } else q = &(*q)->next;
            }
            gcrt_grey(&w, obj);
            greyed = true;
            pp = &s->specials;   /* the list changed around pp: restart (marked ones are skipped) */
        }
        pthread_mutex_unlock(l);
    }
    gcrt_gcw_dispose(&w);
    if (queued) finq_wake();
    return greyed;
}

/* ---- cleanups ---- */

/* The program's handle: a GC object (noscan), so it stays valid for gc_cleanup_stop as long
 * as the program holds it, and it does not keep the object alive. The id, unique for the
 * process, makes a stale stop (the cleanup ran, the address was reused) a no-op. */
struct gc_cleanup {
    uintptr_t obj;
    uint64_t id;
};
static uint64_t cleanup_ids;

GCRT_API gc_cleanup_t gc_add_cleanup(void *obj, void (*fn)(void *arg), void *arg) {
    gcrt_ensure_init();
    gcrt_thread *t = gcrt_thread_get();
    if (!obj || !fn) {
        errno = EINVAL;
        return NULL;
    }
    struct gc_cleanup *h = gc_alloc_noscan(sizeof *h);
    if (!h) return NULL;
    uintptr_t base;
    int err = 0;
    gcrt_enter(t);
    gcrt_span *s = span_find_object(obj, &base);
    /* An arg inside the object would keep it alive for ever (Go panics on arg == ptr). */
    if (!s || ((uintptr_t)arg >= base && (uintptr_t)arg < base + s->elemsize)) {
        gcrt_leave(t);
        errno = EINVAL;
        return NULL;
    }
    pthread_mutex_t *l = stripe_of(s);
    gcrt_lock(l);
    gcrt_special *r = special_alloc();
    if (!r) err = ENOMEM;
    else {
        *r = (gcrt_special){.offset = base - s->base, .kind = SPECIAL_CLEANUP, .id = atomic_add(&cleanup_ids, 1),
                            .fn = (void *)fn, .arg = arg};
        if (!special_insert(s, r)) {
            special_free(r);
            err = ENOMEM;
        } else {
            h->obj = base;
            h->id = r->id;
            shade_new_special(s, r);
        }
    }
    pthread_mutex_unlock(l);
    gcrt_leave(t);
    if (err) {
        errno = err;
        return NULL;
    }
    fin_thread_ensure();
    return h;
}

GCRT_API void gc_cleanup_stop(gc_cleanup_t c) {
    if (!c) return;
    gcrt_thread *t = gcrt_thread_get();
    gcrt_enter(t);
    /* Any span now at that address will do: a record with this id exists only on the
     * object's own span, and only until the cleanup is queued. */
    gcrt_span *s = span_of(c->obj);
    if (s) {
        pthread_mutex_t *l = stripe_of(s);
        gcrt_lock(l);
        for (gcrt_special **pp = &s->specials; *pp; pp = &(*pp)->next) {
            gcrt_special *r = *pp;
            if (r->kind == SPECIAL_CLEANUP && r->id == c->id) {
                special_unlink(s, pp);
                break;
            }
        }
        pthread_mutex_unlock(l);
    }
    gcrt_leave(t);
}

/* ---- weak handles (records for weak.c) ---- */

/* The handle cell of the weak record at p (exact address), or NULL. If there is none and
 * cell is non-NULL, install cell (pointing at p) and return it. Caller in a critical
 * section; s holds p. */
struct gc_weak *gcrt_special_weak(gcrt_span *s, uintptr_t p, struct gc_weak *cell, int *err) {
    pthread_mutex_t *l = stripe_of(s);
    gcrt_lock(l);
    uintptr_t off = p - s->base;
    gcrt_special **pp = special_find(s, off, SPECIAL_WEAK);
    struct gc_weak *h = pp ? (*pp)->arg : NULL;
    if (!h && cell) {
        gcrt_special *r = special_alloc();
        if (!r) *err = ENOMEM;
        else {
            *r = (gcrt_special){.offset = off, .kind = SPECIAL_WEAK, .arg = cell};
            atomic_store_release(&cell->obj, p);
            if (!cell_pin(cell)) {
                special_free(r);
                *err = ENOMEM;
            } else if (!special_insert(s, r)) {
                cell_unpin(cell);
                special_free(r);
                *err = ENOMEM;
            } else {
                h = cell;
            }
        }
    }
    if (h && gcrt_gc.marking) gc_write_barrier_slow(h);   /* handed to the program */
    pthread_mutex_unlock(l);
    return h;
}

pthread_mutex_t *gcrt_special_lock(gcrt_span *s) { return stripe_of(s); }

/* ---- heap-profile samples (runtime/mprof.c) ---- */

bool gcrt_special_profile(gcrt_thread *t, void *p, gcrt_mbucket *b) {
    uintptr_t base;
    bool ok = false;
    gcrt_enter(t);
    gcrt_span *s = span_find_object(p, &base);
    if (s && base == (uintptr_t)p) {
        pthread_mutex_t *l = stripe_of(s);
        gcrt_lock(l);
        gcrt_special *r = special_alloc();
        if (r) {
            *r = (gcrt_special){.offset = base - s->base, .kind = SPECIAL_PROFILE, .arg = b};
            ok = special_insert(s, r);
            if (!ok) special_free(r);
        }
        pthread_mutex_unlock(l);
    }
    gcrt_leave(t);
    return ok;
}

/* The set's size and its root-work counts (tests). */
void gcrt_specials_counts(size_t *spans, size_t *walk, size_t *pins) {
    gcrt_lock(&spset.lock);
    *spans = spset.n;
    *walk = spset.nwalk;
    *pins = spset.npins;
    pthread_mutex_unlock(&spset.lock);
}

/* Fork (runtime/fork.c), world stopped: every holder of these is inside a critical section
 * or the sweeper behind the sweep gate, so none is held; taken in the documented order. */
void gcrt_final_fork(int phase) {
    if (phase == GCRT_FORK_PREPARE) {
        for (unsigned i = 0; i < SP_STRIPES; i++) gcrt_lock(&sp_stripe[i]);
        gcrt_lock(&pin_lock);
        gcrt_lock(&spset.lock);
        gcrt_lock(&finq.lock);
        gcrt_lock(&spalloc.lock);
        return;
    }
    gcrt_fork_mutex(&spalloc.lock, phase);
    gcrt_fork_mutex(&finq.lock, phase);
    gcrt_fork_mutex(&spset.lock, phase);
    gcrt_fork_mutex(&pin_lock, phase);
    for (unsigned i = SP_STRIPES; i-- > 0;) gcrt_fork_mutex(&sp_stripe[i], phase);
}
