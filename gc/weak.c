/*
 * weak.c: weak handles (Go's weak.Make / Pointer.Value, the handle half of mheap.go's weak
 * specials) and unique byte strings (Go's unique.Make, built on them).
 *
 * A handle is an 8-byte noscan GC object (the cell) holding the object's address, which is
 * therefore not traced. The object's weak record (final.c) points at the cell and pins it
 * (marked every cycle), so while the object lives every gc_weak_make of the same address returns
 * the same cell; once the program drops the cell and the object is gone, the cell is
 * collected like any object. A cell the program still holds after its object died stays
 * valid and reads NULL for ever.
 *
 * Invariants:
 *   - The sweeper clears the cell (under the span's stripe lock) when it finds the object
 *     unmarked, before any finalizer of the object is queued, and before the object's slot
 *     can be reused.
 *   - gc_weak_get never returns an object that the last mark left unmarked: if the span is
 *     swept, the cell (re-read after seeing the span's sweepgen) is authoritative; if not,
 *     it decides under the stripe lock by the mark bit, unless this generation's specials
 *     pass already ran (span->specials_sg), in which case the cell is authoritative again.
 *     The sweeper's specials pass runs before the span's mark bits turn into allocation
 *     bits, so under the lock the mark bits are this cycle's, except on a span where every
 *     object is marked: its pass takes no lock, so a clear bit is believed only if
 *     specials_sg, re-read after the bitmap, still shows the pass not run (the sweeper
 *     publishes specials_sg before it swaps the bitmaps).
 *   - While marking, whatever gc_weak_get or gc_weak_make hands out is shaded (SATB: a
 *     pointer that appears on a stack after the snapshot must be marked).
 * All of it runs in the caller's critical section, so no cycle can flip sweepgen between
 * the checks and the return.
 *
 * unique: an off-heap chained hash table, keyed by the bytes' hash, whose entries hold weak
 * handles to GC-owned noscan copies. A lookup that finds a live copy allocates nothing.
 * Each copy carries a cleanup whose arg is its entry (off-heap, so the arg keeps nothing
 * alive); when the copy dies the cleanup unlinks and frees the entry. The table lock (uniq.lock) is never taken by the collector.
 */
#include "internal.h"

#include <stdio.h>

GCRT_API gc_weak_t gc_weak_make(void *obj) {
    gcrt_ensure_init();
    gcrt_thread *t = gcrt_thread_get();
    if (!obj) return NULL;
    struct gc_weak *cell = NULL, *h = NULL;
    for (;;) {
        uintptr_t base;
        int err = 0;
        gcrt_enter(t);
        gcrt_span *s = span_find_object(obj, &base);
        if (s) h = gcrt_special_weak(s, (uintptr_t)obj, cell, &err);
        gcrt_leave(t);
        if (!s) {
            errno = EINVAL;   /* not in a GC object: no weak handle */
            return NULL;
        }
        if (err) {
            errno = err;
            return NULL;
        }
        if (h) break;
        /* Allocate outside the critical section and the lock, then look again: another
         * thread may have installed one meanwhile (then this cell is garbage). */
        /* A cell must be an object of its own: the pin bit is per slot, and two cells
         * sharing a tiny block (GODEBUG=tinyalloc=1) would share it. */
        size_t size = atomic_load_relaxed(&gcrt_gc.tinyalloc) ? GCRT_TINY_SIZE : sizeof *cell;
        if (!(cell = gc_alloc_noscan(size))) return NULL;
    }
    gc_keep_alive(obj);
    return h;
}

/* The slow path of gc_weak_get: p's span is not swept in this generation. */
static uintptr_t weak_get_unswept(struct gc_weak *h, uintptr_t p, gcrt_span *s, uint32_t sg) {
    pthread_mutex_t *l = gcrt_special_lock(s);
    gcrt_lock(l);
    uintptr_t q = atomic_load_acquire(&h->obj);
    if (q == p && atomic_load_acquire(&s->specials_sg) != sg && atomic_load_acquire(&s->sweepgen) != sg) {
        size_t i = span_objindex(s, p);
        /* A span whose every object is marked has its specials pass done without the lock
         * (final.c), and sweeping may then swap in the next cycle's clear mark bits: a
         * clear bit counts only if the pass had not run when the bitmap was read. */
        if (!bit_get(atomic_load_acquire(&s->markbits), i))
            q = atomic_load_acquire(&s->specials_sg) == sg ? atomic_load_acquire(&h->obj) : 0;
    }
    pthread_mutex_unlock(l);
    return q;
}

GCRT_API void *gc_weak_get(gc_weak_t h) {
    if (!h) return NULL;
    gcrt_thread *t = gcrt_thread_get();
    gcrt_enter(t);
    uintptr_t p;
    for (;;) {
        p = atomic_load_acquire(&h->obj);
        if (!p) break;
        gcrt_span *s = span_of(p);
        uint32_t sg = atomic_load_acquire(&gcrt_heap_.sweepgen);
        if (s && atomic_load_acquire(&s->sweepgen) == sg) {
            uintptr_t q = atomic_load_acquire(&h->obj);   /* cleared before the span was marked swept */
            if (q == p) break;
            continue;
        }
        if (!s) gcrt_fatal("gc_weak_get: handle %p holds %#lx, which is not in the heap", (void *)h, (unsigned long)p);
        p = weak_get_unswept(h, p, s, sg);
        break;
    }
    if (p && gcrt_gc.marking) gc_write_barrier_slow((void *)p);
    gcrt_leave(t);
    return (void *)p;
}

/* ---- unique byte strings ---- */

typedef struct uentry {
    struct uentry *next;
    uint64_t hash;
    size_t len;
    struct gc_weak *cell;
} uentry;

static struct {
    pthread_mutex_t lock;
    uentry **buckets;
    size_t nbuckets, n;
} uniq = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t hash_bytes(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    return h ^ (h >> 32);
}

/* A live copy of (p, n) in the table, or NULL; uniq.lock held. */
static const void *uniq_find(const void *p, size_t n, uint64_t hash) {
    if (!uniq.nbuckets) return NULL;
    for (uentry *e = uniq.buckets[hash & (uniq.nbuckets - 1)]; e; e = e->next) {
        if (e->hash != hash || e->len != n) continue;
        const void *c = gc_weak_get(e->cell);
        if (c && memcmp(c, p, n) == 0) return c;
    }
    return NULL;
}

static bool uniq_grow(gcrt_thread *t) {
    size_t nb = uniq.nbuckets ? uniq.nbuckets * 2 : 64;
    gcrt_enter(t);
    uentry **b = gcrt_meta_alloc(nb * sizeof *b);
    gcrt_leave(t);
    if (!b) return false;
    for (size_t i = 0; i < uniq.nbuckets; i++)
        for (uentry *e = uniq.buckets[i], *nx; e; e = nx) {
            nx = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    if (uniq.buckets) {
        gcrt_enter(t);
        gcrt_meta_free(uniq.buckets, uniq.nbuckets * sizeof *b);
        gcrt_leave(t);
    }
    uniq.buckets = b;
    uniq.nbuckets = nb;
    return true;
}

/* The cleanup of a copy: drop its entry (the arg; an inserted entry goes only here). */
static void uniq_remove(void *arg) {
    uentry *e = arg;
    gcrt_thread *t = gcrt_thread_get();
    gcrt_lock(&uniq.lock);
    uentry **pp = &uniq.buckets[e->hash & (uniq.nbuckets - 1)];
    while (*pp && *pp != e) pp = &(*pp)->next;
    if (!*pp) gcrt_fatal("gc_unique_bytes: the entry of a dead copy is not in the table");
    *pp = e->next;
    uniq.n--;
    pthread_mutex_unlock(&uniq.lock);
    gcrt_enter(t);
    gcrt_meta_free(e, sizeof *e);
    gcrt_leave(t);
}

GCRT_API const void *gc_unique_bytes(const void *p, size_t n) {
    gcrt_ensure_init();
    gcrt_thread *t = gcrt_thread_get();
    if (!p && n) {
        errno = EINVAL;
        return NULL;
    }
    if (!n) p = "";   /* memcmp/memcpy want a valid pointer even for 0 bytes */
    uint64_t hash = hash_bytes(p, n);
    gcrt_lock(&uniq.lock);
    const void *c = uniq_find(p, n, hash);
    pthread_mutex_unlock(&uniq.lock);
    if (c) return c;
    /* Not there: build a copy with its handle and cleanup outside the lock (they allocate
     * and may collect), then insert unless another thread won. */
    char *copy = gc_alloc_noscan(n + 1);
    if (!copy) return NULL;
    memcpy(copy, p, n);
    copy[n] = 0;
    struct gc_weak *cell = gc_weak_make(copy);
    if (!cell) return NULL;
    gcrt_enter(t);
    uentry *e = gcrt_meta_alloc(sizeof *e);
    gcrt_leave(t);
    if (!e) {
        errno = ENOMEM;
        return NULL;
    }
    *e = (uentry){.hash = hash, .len = n, .cell = cell};
    bool inserted = false;
    gcrt_lock(&uniq.lock);
    if ((c = uniq_find(p, n, hash)) == NULL && (uniq.n < uniq.nbuckets || uniq_grow(t))) {
        e->next = uniq.buckets[hash & (uniq.nbuckets - 1)];
        uniq.buckets[hash & (uniq.nbuckets - 1)] = e;
        uniq.n++;
        c = copy;
        inserted = true;
    }
    pthread_mutex_unlock(&uniq.lock);
    if (!inserted) {   /* lost the race, or the table could not grow */
        gcrt_enter(t);
        gcrt_meta_free(e, sizeof *e);
        gcrt_leave(t);
        if (!c) errno = ENOMEM;
        return c;
    }
    /* The entry goes when the copy dies. If the cleanup cannot be had, the entry stays
     * for good (harmless: a dead cell reads NULL; lookups pass over it). */
    if (!gc_add_cleanup(copy, uniq_remove, e))
        gcrt_warn("gc_unique_bytes: no memory for a cleanup; a dead entry stays in the table");
    gc_keep_alive(copy);
    return c;
}

/* Fork (runtime/fork.c), world stopped. */
void gcrt_weak_fork(int phase) { gcrt_fork_mutex(&uniq.lock, phase); }
