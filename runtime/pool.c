/*
 * pool.c: gc_pool_*, Go's sync.Pool: a per-thread private slot and shared list, stealing,
 * and a victim cache rotated at the start of every cycle (Go's poolCleanup).
 *
 * Structure. A pool (gc_pool_t, off-heap) has one local per thread that ever put into it
 * (Go's poolLocal, per P there): `private`, one object only the owner touches, and
 * `shared`, a ring the owner pushes and pops at the head and other threads steal from at
 * the tail, under the local's spin lock. Each local also holds the victim generation of
 * both (`vprivate`, `victim`). A thread finds its locals through gcrt_thread.pools, a
 * table indexed by the pool's small integer id. Every local of a pool is on the pool's
 * list, newest first; a local's `next` never changes once published, and locals are freed
 * only with the world stopped (gc_pool_destroy), so stealers walk the list without a lock.
 *
 * Fast path (Go's pin: here a gcrt critical section): get takes `private`, put fills an
 * empty `private`. Plain loads and stores on lines only the owner writes: no lock, no
 * atomic read-modify-write. The section matters because the collector rotates `private`
 * in pause 1: a stop that arrives between the load and the store of a get is deferred to
 * the section's end, so rotation never sees half a get (which would hand the object out
 * twice). Everything that changes pool state runs inside a section; pause 1 and
 * gc_pool_destroy run with the world stopped, hence see every local at rest and need no
 * pool lock (no stopped thread holds one).
 *
 * Liveness (the SATB argument). Pool storage is off-heap and not scanned with the heap; it
 * is a root, scanned in pause 1 right after rotation, so everything in a pool at the
 * snapshot (now all in the victim generation) is greyed. During marking:
 *  - a get hands out an object that was in the pool at the snapshot, hence already grey or
 *    black, or one put since (next point): it needs no shading, exactly like a value read
 *    from a stack or a global;
 *  - a put stores an object the putter holds: every object a thread can reach during
 *    marking was reachable at the snapshot (GC_STORE shades every pointer it deletes from
 *    the heap, docs/architecture.md "Write barrier") or was allocated since (black), so it
 *    is marked by the end of marking, like a value stored into a global or a stack slot
 *    (which the barrier also does not cover).
 * So at mark end every object in a pool is marked: nothing in a pool is ever freed.
 * GODEBUG=gccheckmark=1 and gcverify=1 check pool contents as strict roots.
 *
 * Victim cycle (Go's): pause 1 drops the victim generation (its storage is emptied before
 * the scan, so its objects are garbage unless reachable elsewhere) and moves the primary
 * one into its place. An object put and not taken again survives one collection as a
 * victim and is freed by the next. Rotation is O(1) per local: O(pools x threads), and
 * nothing at all when there are no pools. Ring buffers above RING_KEEP entries that rotation
 * drops are not freed in the pause (no allocator lock in a pause): they go on `retired`
 * and the next slow path frees them.
 *
 * Threads. gc_unregister_thread calls gcrt_pool_thread_exit: for each of its locals the
 * thread moves `private` into `shared` and `vprivate` into `victim` (so other threads can
 * still take them, and they age out as usual) and gives the local up (owner = NULL, under
 * the pool's lock). The next thread that puts into the pool adopts a local without an
 * owner instead of allocating one, so a pool has at most as many locals as threads ever
 * used it at once.
 *
 * Destroy. A pool's locals are referenced from other threads' tables, which only their
 * owners may touch while running: gc_pool_destroy stops the world (outside any critical
 * section, like a collection), clears those entries, unlinks the pool and frees the memory
 * after restarting the world. Its objects become garbage. A pool no thread ever put into
 * has no locals and is destroyed without stopping anything. Using a pool during or after
 * gc_pool_destroy is undefined; a magic number catches most such uses with an abort.
 *
 * Misuse: gc_pool_put(p, NULL) aborts ("gc_pool_put: NULL object"); Go ignores a nil Put,
 * but in C it is almost always a bug worth a clear message. new_fn runs outside any
 * critical section (it may allocate, and so start or wait for a collection).
 *
 * Locks: P.lock (the live-pool list, the id allocator) before pool->lock (list
 * insertion, owner fields, victim_seq) before local->lock (a spin lock: the two rings).
 * All are taken only inside critical sections, so no stopped thread holds one.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <sched.h>

#define POOL_MAGIC 0x706f6f6c67637274ull   /* "poolgcrt" */
#define RING_FIRST 8                        /* Go's first poolDequeue size */
#define RING_KEEP 64                        /* rotation keeps ring buffers up to this size */

/* A ring of object pointers: entries [tail, tail + n) modulo cap. Guarded by its local's
 * lock; n is also read without it as a hint (relaxed). */
typedef struct pool_ring {
    uintptr_t *buf;
    uint32_t cap, tail, n;
} pool_ring;

typedef struct gcrt_pool_local gcrt_pool_local;
struct gcrt_pool_local {
    char pad0[64];
    /* Owner only (and the world-stopped collector): no other thread reads this line. */
    void *private, *vprivate;
    char pad1[64];
    gc_pool_t *pool;
    gcrt_pool_local *next;   /* the pool's list; immutable once published */
    gcrt_thread *owner;      /* NULL: given up by an exited thread (pool->lock) */
    int lock;
    pool_ring shared, victim;
    char pad2[64];
};

/* The thread's locals by pool id (gcrt_thread.pools); the owner grows it, inside a
 * critical section. Padded on both sides (TAB_PAD after the entries), so no line of it is
 * shared with metadata other threads write. */
struct gcrt_pool_tab {
    char pad0[64];
    uint32_t cap;
    gcrt_pool_local *l[];
};
#define TAB_PAD 64
static size_t tab_bytes(uint32_t cap) {
    return sizeof(struct gcrt_pool_tab) + cap * sizeof(gcrt_pool_local *) + TAB_PAD;
}

struct gc_pool {
    char pad0[64];
    /* Read-only after gc_pool_new: read by every get and put, written by none. */
    uint64_t magic;
    uint32_t id;
    void *(*new_fn)(void *ctx);
    void *ctx;               /* a root, like the variables a Go New closure captures */
    char pad1[64];
    pthread_mutex_t lock;
    gcrt_pool_local *locals; /* newest first; published with release */
    uint32_t victim_seq;     /* bumped when an exiting thread adds to a victim ring */
    int victim_empty;        /* hint: every victim generation was found empty */
    gc_pool_t *next, *prev;  /* live pools (P.lock) */
    char pad2[64];
};

static GCRT_STATE struct {
    pthread_mutex_t lock;    /* see "Locks" above */
    gc_pool_t *live;
    size_t npools;
    uint32_t next_id;
    uint32_t *free_ids;      /* ids of destroyed pools, reused first */
    size_t nfree, cap_free;
    uintptr_t *retired;      /* dropped ring buffers: {next, cap} in their first words */
} P = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- spin lock (local->lock): held for a few stores, inside critical sections --------- */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("pause");
#endif
}

static inline void local_lock(gcrt_pool_local *l) {
    for (unsigned spins = 0; __atomic_exchange_n(&l->lock, 1, __ATOMIC_ACQUIRE);)
        while (atomic_load_relaxed(&l->lock)) {
            if (++spins < 100) cpu_relax();
            else sched_yield();   /* the holder lost its CPU */
        }
}

static inline void local_unlock(gcrt_pool_local *l) { atomic_store_release(&l->lock, 0); }

/* ---- rings ------------------------------------------------------------------------- */

static void ring_buf_free(uintptr_t *buf, uint32_t cap) {
    if (buf) gcrt_meta_free(buf, cap * sizeof *buf);
}

/* Free what rotation retired. Caller: inside a critical section. */
static void free_retired(void) {
    uintptr_t *b = __atomic_exchange_n(&P.retired, NULL, __ATOMIC_ACQUIRE);
    while (b) {
        uintptr_t *next = (uintptr_t *)b[0];
        ring_buf_free(b, (uint32_t)b[1]);
        b = next;
    }
}

/* Owner: make room for one more entry. The new buffer is allocated outside the lock (only
 * the owner pushes, so a full ring can only get emptier meanwhile). False when out of
 * memory. */
static bool ring_reserve(gcrt_pool_local *l, pool_ring *r) {
    if (atomic_load_relaxed(&r->n) < r->cap) return true;
    uint32_t ncap = r->cap ? r->cap * 2 : RING_FIRST;
    if (ncap < r->cap || ncap > (1u << 30)) return false;
    uintptr_t *nb = gcrt_meta_alloc(ncap * sizeof *nb);
    if (!nb) return false;
    local_lock(l);
    uintptr_t *ob = r->buf;
    uint32_t ocap = r->cap;
    for (uint32_t i = 0; i < r->n; i++) nb[i] = ob[(r->tail + i) & (ocap - 1)];
    r->buf = nb;
    r->cap = ncap;
    r->tail = 0;
    local_unlock(l);
    ring_buf_free(ob, ocap);
    return true;
}

/* Under l->lock: room was reserved (or the ring is known to have it). */
static inline void ring_push_head(pool_ring *r, void *x) {
    r->buf[(r->tail + r->n) & (r->cap - 1)] = (uintptr_t)x;
    atomic_store_relaxed(&r->n, r->n + 1);
}

static inline void *ring_pop_head(pool_ring *r) {
    if (!r->n) return NULL;
    uint32_t n = r->n - 1;
    atomic_store_relaxed(&r->n, n);
    return (void *)r->buf[(r->tail + n) & (r->cap - 1)];
}

static inline void *ring_pop_tail(pool_ring *r) {
    if (!r->n) return NULL;
    void *x = (void *)r->buf[r->tail & (r->cap - 1)];
    r->tail++;
    atomic_store_relaxed(&r->n, r->n - 1);
    return x;
}

/* Lock-free peek at another thread's ring before locking it. */
static void *steal_tail(gcrt_pool_local *o, pool_ring *r) {
    if (!atomic_load_relaxed(&r->n)) return NULL;
    local_lock(o);
    void *x = ring_pop_tail(r);
    local_unlock(o);
    return x;
}

/* ---- the fast paths ------------------------------------------------------------------ */

static inline gcrt_pool_local *local_fast(gcrt_thread *t, const gc_pool_t *p) {
    struct gcrt_pool_tab *tab = t->pools;
    uint32_t id = p->id;
    if (unlikely(!tab || id >= tab->cap)) return NULL;
    return tab->l[id];
}

static __attribute__((noreturn, noinline)) void bad_pool(const char *fn, const gc_pool_t *p) {
    if (!p) gcrt_fatal("%s: NULL pool", fn);
    gcrt_fatal("%s: %p is not a live pool (destroyed, or never returned by gc_pool_new)", fn, (const void *)p);
}

static __attribute__((noinline)) void *get_slow(gcrt_thread *t, gc_pool_t *p);
static __attribute__((noinline)) void put_slow(gcrt_thread *t, gc_pool_t *p, gcrt_pool_local *l, void *obj);

GCRT_API void *gc_pool_get(gc_pool_t *p) {
    if (unlikely(!p || p->magic != POOL_MAGIC)) bad_pool("gc_pool_get", p);
    gcrt_thread *t = gcrt_thread_get();
    gcrt_enter(t);
    gcrt_pool_local *l = local_fast(t, p);
    void *x;
    if (likely(l && (x = l->private))) {
        l->private = NULL;
        gcrt_leave(t);
        return x;
    }
    gcrt_leave(t);
    return get_slow(t, p);
}

GCRT_API void gc_pool_put(gc_pool_t *p, void *obj) {
    if (unlikely(!p || p->magic != POOL_MAGIC)) bad_pool("gc_pool_put", p);
    if (unlikely(!obj)) gcrt_fatal("gc_pool_put: NULL object (pools hold objects; put only what gc_pool_get "
                                   "or an allocation returned)");
    gcrt_thread *t = gcrt_thread_get();
    gcrt_enter(t);
    gcrt_pool_local *l = local_fast(t, p);
    if (likely(l && !l->private)) {
        l->private = obj;
        gcrt_leave(t);
        return;
    }
    put_slow(t, p, l, obj);
    gcrt_leave(t);
}

/* ---- slow paths (inside a critical section unless noted) ------------------------------ */

/* The caller's local for p, adopting an abandoned one or creating it; NULL when out of
 * memory. */
static gcrt_pool_local *local_create(gcrt_thread *t, gc_pool_t *p) {
    struct gcrt_pool_tab *tab = t->pools;
    uint32_t id = p->id;
    if (!tab || id >= tab->cap) {
        uint32_t ncap = tab && tab->cap * 2 > id ? tab->cap * 2 : id + 8;
        struct gcrt_pool_tab *nt = gcrt_meta_alloc(tab_bytes(ncap));
        if (!nt) return NULL;
        nt->cap = ncap;
        if (tab) {
            memcpy(nt->l, tab->l, tab->cap * sizeof tab->l[0]);
            gcrt_meta_free(tab, tab_bytes(tab->cap));
        }
        t->pools = tab = nt;
    }
    gcrt_pool_local *l = NULL;
    gcrt_lock(&p->lock);
    for (gcrt_pool_local *o = p->locals; o; o = o->next)
        if (!o->owner) {
            l = o;
            break;
        }
    if (!l && (l = gcrt_meta_alloc(sizeof *l))) {
        l->pool = p;
        l->next = p->locals;
        atomic_store_release(&p->locals, l);
    }
    if (l) l->owner = t;
    pthread_mutex_unlock(&p->lock);
    tab->l[id] = l;
    return l;
}

static void put_slow(gcrt_thread *t, gc_pool_t *p, gcrt_pool_local *l, void *obj) {
    if (unlikely(atomic_load_relaxed(&P.retired))) free_retired();
    if (!l && !(l = local_create(t, p))) return;   /* out of memory: the pool drops obj */
    if (!l->private) {
        l->private = obj;
        return;
    }
    if (!ring_reserve(l, &l->shared)) return;
    local_lock(l);
    ring_push_head(&l->shared, obj);
    local_unlock(l);
}

/* Steal from the shared (or victim) ring of every local of p but own, starting after own
 * (Go starts at pid+1, which spreads the thieves). */
static void *steal_others(gc_pool_t *p, gcrt_pool_local *own, bool victim) {
    void *x;
    gcrt_pool_local *o = own ? atomic_load_acquire(&own->next) : NULL;
    for (; o; o = atomic_load_acquire(&o->next))
        if ((x = steal_tail(o, victim ? &o->victim : &o->shared))) return x;
    for (o = atomic_load_acquire(&p->locals); o && o != own; o = atomic_load_acquire(&o->next))
        if ((x = steal_tail(o, victim ? &o->victim : &o->shared))) return x;
    return NULL;
}

static void *take_victim(gc_pool_t *p, gcrt_pool_local *l) {
    void *x = NULL;
    if (l && (x = l->vprivate)) {
        l->vprivate = NULL;
        return x;
    }
    if (atomic_load_relaxed(&p->victim_empty)) return NULL;
    uint32_t seq = atomic_load_acquire(&p->victim_seq);
    if (l && (x = steal_tail(l, &l->victim))) return x;
    if ((x = steal_others(p, l, true))) return x;
    /* Go's victimSize = 0: later misses skip the victims until the next rotation, unless
     * an exiting thread added to them while we looked. */
    gcrt_lock(&p->lock);
    if (p->victim_seq == seq) atomic_store_relaxed(&p->victim_empty, 1);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void *get_slow(gcrt_thread *t, gc_pool_t *p) {
    gcrt_enter(t);
    if (unlikely(atomic_load_relaxed(&P.retired))) free_retired();
    gcrt_pool_local *l = local_fast(t, p);
    void *x = NULL;
    if (l && atomic_load_relaxed(&l->shared.n)) {
        local_lock(l);
        x = ring_pop_head(&l->shared);   /* LIFO: the most recently put is warmest */
        local_unlock(l);
    }
    if (!x) x = steal_others(p, l, false);
    if (!x) x = take_victim(p, l);
    gcrt_leave(t);
    /* new_fn runs outside the section: it may allocate and so wait for a collection. */
    if (!x && p->new_fn) x = p->new_fn(p->ctx);
    return x;
}

/* ---- lifecycle ----------------------------------------------------------------------- */

GCRT_API gc_pool_t *gc_pool_new(void *(*new_fn)(void *ctx), void *ctx) {
    gcrt_thread *t = gcrt_thread_get();
    gcrt_enter(t);
    free_retired();
    gc_pool_t *p = gcrt_meta_alloc(sizeof *p);
    if (!p) goto oom;
    pthread_mutex_init(&p->lock, NULL);
    p->new_fn = new_fn;
    p->ctx = ctx;
    p->victim_empty = 1;
    gcrt_lock(&P.lock);
    if (P.nfree) p->id = P.free_ids[--P.nfree];
    else if (P.next_id < UINT32_MAX - 1) p->id = P.next_id++;
    else {
        pthread_mutex_unlock(&P.lock);
        gcrt_meta_free(p, sizeof *p);
        goto oom;
    }
    p->next = P.live;
    if (P.live) P.live->prev = p;
    P.live = p;
    P.npools++;
    p->magic = POOL_MAGIC;
    pthread_mutex_unlock(&P.lock);
    gcrt_leave(t);
    return p;
oom:
    gcrt_leave(t);
    errno = ENOMEM;
    return NULL;
}

GCRT_API void gc_pool_destroy(gc_pool_t *p) {
    if (!p) return;
    if (p->magic != POOL_MAGIC) bad_pool("gc_pool_destroy", p);
    gcrt_thread *t = gcrt_thread_get();
    gcrt_pool_local *locals = atomic_load_acquire(&p->locals);
    if (locals) {
        /* Other threads' tables point at the locals and only a stopped world lets us clear
         * them. Stopping waits for the registry lock, so it is not done inside a section;
         * nothing here takes a lock, as a stopped thread may hold one outside gcrt. */
        gcrt_stop_world();
        for (gcrt_pool_local *l = locals; l; l = l->next)
            if (l->owner) {
                l->owner->pools->l[p->id] = NULL;
                l->owner = NULL;
            }
        gcrt_start_world();
    }
    /* No table refers to p any more; the collector stops seeing it once it is unlinked. */
    gcrt_enter(t);
    gcrt_lock(&P.lock);
    if (p->prev) p->prev->next = p->next;
    else P.live = p->next;
    if (p->next) p->next->prev = p->prev;
    P.npools--;
    p->magic = 0;
    if (gcrt_meta_grow((void **)&P.free_ids, &P.cap_free, P.nfree, sizeof *P.free_ids, 16))
        P.free_ids[P.nfree++] = p->id;   /* else (out of memory) the id is not reused */
    pthread_mutex_unlock(&P.lock);
    while (locals) {
        gcrt_pool_local *n = locals->next;
        ring_buf_free(locals->shared.buf, locals->shared.cap);
        ring_buf_free(locals->victim.buf, locals->victim.cap);
        gcrt_meta_free(locals, sizeof *locals);
        locals = n;
    }
    pthread_mutex_destroy(&p->lock);
    gcrt_meta_free(p, sizeof *p);
    gcrt_leave(t);
}

/* gc_unregister_thread, inside its critical section: leave every local to the pool. */
void gcrt_pool_thread_exit(gcrt_thread *t) {
    struct gcrt_pool_tab *tab = t->pools;
    if (!tab) return;
    for (uint32_t id = 0; id < tab->cap; id++) {
        gcrt_pool_local *l = tab->l[id];
        if (!l) continue;
        gc_pool_t *p = l->pool;
        /* Dropping them would be allowed (Go drops a P's pool on GOMAXPROCS changes);
         * handing them on is as cheap. Out of memory they are dropped. */
        if (l->private && ring_reserve(l, &l->shared)) {
            local_lock(l);
            ring_push_head(&l->shared, l->private);
            local_unlock(l);
        }
        l->private = NULL;
        bool victim = l->vprivate && ring_reserve(l, &l->victim);
        gcrt_lock(&p->lock);
        if (victim) {
            local_lock(l);
            ring_push_head(&l->victim, l->vprivate);
            local_unlock(l);
            p->victim_seq++;
            atomic_store_relaxed(&p->victim_empty, 0);
        }
        l->vprivate = NULL;
        l->owner = NULL;
        pthread_mutex_unlock(&p->lock);
    }
    gcrt_meta_free(tab, tab_bytes(tab->cap));
    t->pools = NULL;
}

/* ---- the collector's side: world stopped --------------------------------------------- */

static void ring_roots(const pool_ring *r, void (*fn)(uintptr_t, uintptr_t, void *), void *arg) {
    if (!r->n) return;
    uint32_t start = r->tail & (r->cap - 1), first = r->cap - start < r->n ? r->cap - start : r->n;
    fn((uintptr_t)(r->buf + start), (uintptr_t)(r->buf + start + first), arg);
    if (first < r->n) fn((uintptr_t)r->buf, (uintptr_t)(r->buf + (r->n - first)), arg);
}

/* Every word a pool keeps alive: ctx, both generations of every local. */
void gcrt_pool_roots_each(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg) {
    for (gc_pool_t *p = P.live; p; p = p->next) {
        fn((uintptr_t)&p->ctx, (uintptr_t)(&p->ctx + 1), arg);
        for (gcrt_pool_local *l = p->locals; l; l = l->next) {
            fn((uintptr_t)&l->private, (uintptr_t)(&l->vprivate + 1), arg);
            ring_roots(&l->shared, fn, arg);
            ring_roots(&l->victim, fn, arg);
        }
    }
}

/* Pause 1 (Go's poolCleanup): drop the victims, demote the primaries, then scan what the
 * pools hold as roots of the snapshot. */
void gcrt_pool_cycle_start(void (*scan)(uintptr_t lo, uintptr_t hi, void *arg), void *arg) {
    if (!P.npools) return;
    for (gc_pool_t *p = P.live; p; p = p->next) {
        bool any = false;
        for (gcrt_pool_local *l = p->locals; l; l = l->next) {
            l->vprivate = l->private;
            l->private = NULL;
            pool_ring dropped = l->victim;
            l->victim = l->shared;
            l->shared = (pool_ring){0};
            if (dropped.cap <= RING_KEEP) l->shared.buf = dropped.buf, l->shared.cap = dropped.cap;
            else {   /* freed by the next slow path: no allocator lock in a pause */
                dropped.buf[0] = (uintptr_t)P.retired;
                dropped.buf[1] = dropped.cap;
                P.retired = dropped.buf;
            }
            any |= l->vprivate || l->victim.n;
        }
        p->victim_empty = !any;
    }
    gcrt_pool_roots_each(scan, arg);
}

/* Fork (runtime/fork.c), world stopped: every pool lock is taken inside critical sections
 * only, so none is held; all are held across fork in the documented order, so a thread
 * restarted before fork cannot be inside a ring when the child is made. */
void gcrt_pool_fork(int phase) {
    if (phase == GCRT_FORK_PREPARE) {
        gcrt_lock(&P.lock);
        for (gc_pool_t *p = P.live; p; p = p->next) {
            gcrt_lock(&p->lock);
            for (gcrt_pool_local *l = p->locals; l; l = l->next) local_lock(l);
        }
        return;
    }
    for (gc_pool_t *p = P.live; p; p = p->next) {
        for (gcrt_pool_local *l = p->locals; l; l = l->next) {
            if (phase == GCRT_FORK_PARENT) local_unlock(l);
            else l->lock = 0;
        }
        gcrt_fork_mutex(&p->lock, phase);
    }
    gcrt_fork_mutex(&P.lock, phase);
}
