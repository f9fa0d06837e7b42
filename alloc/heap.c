/*
 * heap.c: the page heap (Go's mheap): arenas, free page runs, span descriptors.
 *
 * Address space is reserved in 64 MiB-aligned arenas (PROT_NONE) and committed in 4 MiB
 * steps as the heap grows. Every committed page maps, through gcrt_arena_map and the
 * arena's spans[], to the span holding it, so span_of() is two loads for any address.
 *
 * Free runs are spans in state SPAN_FREE, kept in segregated bins: bins 0..31 hold runs of
 * exactly 1..32 pages; bins 32..62 hold ranges of four bins per power of two; bin 63 holds
 * everything from 8192 pages up. A non-empty-bin bitmask makes finding a fitting run a
 * ctz, not a walk. Freed runs merge with free neighbours at once (coalescing), so no two
 * free spans are adjacent.
 *
 * Invariants, all under heap.lock:
 *   heap_sys == heap_inuse + heap_free + heap_released;
 *   a page's released bit is set iff it lies in a free span and was returned to the OS
 *   (it then reads as zero); span.released == bytes of its pages with the bit set.
 * A span goes from in use to free only by sweeping or by a failed allocation's undo,
 * never while marking runs.
 */
#include "internal.h"

#include <stdio.h>
#include <sys/mman.h>

GCRT_STATE gcrt_heap gcrt_heap_ = {.lock = PTHREAD_MUTEX_INITIALIZER};
gcrt_arena **gcrt_arena_map;

static uint64_t heap_now(void) { return gcrt_now_ns(); }

void gcrt_heap_init(void) {
    gcrt_arena_map = mmap(NULL, GCRT_ARENA_MAP_LEN * sizeof(gcrt_arena *), PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (gcrt_arena_map == MAP_FAILED) gcrt_fatal("cannot reserve the arena map");
    gcrt_heap_.arena_lo = UINTPTR_MAX;
    gcrt_heap_.arena_hi = 0;
}

/* ---- bins ---- */
static unsigned bin_of(size_t n) {   /* the bin a run of n pages lives in */
    if (n <= 32) return (unsigned)n - 1;
    unsigned lg = 63 - (unsigned)__builtin_clzll(n);   /* n in [2^lg, 2^(lg+1)), lg >= 5 */
    unsigned b = 32 + (lg - 5) * 4 + (unsigned)((n >> (lg - 2)) & 3);
    return b > 63 ? 63 : b;
}
/* The first bin whose every run has at least n pages (bin 63 needs a search). */
static unsigned bin_fit(size_t n) {
    unsigned b = bin_of(n);
    if (n > 32 && b < 63) {
        unsigned lg = 63 - (unsigned)__builtin_clzll(n);
        if (n & (((size_t)1 << (lg - 2)) - 1)) b++;   /* n is not the bin's lower bound */
    }
    return b;
}

static void bin_insert(gcrt_span *s) {
    unsigned b = bin_of(s->npages);
    gcrt_list_push(&gcrt_heap_.free_bins[b], s);
    gcrt_heap_.bin_mask |= (uint64_t)1 << b;
}
static void bin_remove(gcrt_span *s) {
    unsigned b = bin_of(s->npages);
    gcrt_list_remove(&gcrt_heap_.free_bins[b], s);
    if (!gcrt_heap_.free_bins[b].first) gcrt_heap_.bin_mask &= ~((uint64_t)1 << b);
}

static gcrt_span *find_run(size_t n) {
    uint64_t mask = gcrt_heap_.bin_mask & ~(((uint64_t)1 << bin_fit(n)) - 1);
    while (mask) {
        unsigned b = (unsigned)__builtin_ctzll(mask);
        mask &= mask - 1;
        if (b < 63) return gcrt_heap_.free_bins[b].first;
        /* Bin 63: address-ordered first fit keeps the big runs compact. */
        gcrt_span *best = NULL;
        for (gcrt_span *s = gcrt_heap_.free_bins[b].first; s; s = s->next)
            if (s->npages >= n && (!best || s->base < best->base)) best = s;
        if (best) return best;
    }
    return NULL;
}

/* ---- page map ---- */
static inline gcrt_arena *arena_of(uintptr_t p) { return gcrt_arena_map[p >> GCRT_ARENA_SHIFT]; }
static inline size_t page_idx(uintptr_t p) { return (p >> GCRT_PAGE_SHIFT) & (GCRT_PAGES_PER_ARENA - 1); }

static void map_pages(gcrt_span *s) {
    for (uintptr_t p = s->base; p < s->base + s->npages * GCRT_PAGE_SIZE; p += GCRT_PAGE_SIZE)
        arena_of(p)->spans[page_idx(p)] = s;
}

/* Count and optionally clear the released bits of [base, base + n pages). */
static size_t released_pages(uintptr_t base, size_t n, bool clear) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        uintptr_t p = base + i * GCRT_PAGE_SIZE;
        gcrt_arena *a = arena_of(p);
        size_t k = page_idx(p);
        uint64_t bit = (uint64_t)1 << (k & 63);
        if (a->released[k >> 6] & bit) {
            count++;
            if (clear) a->released[k >> 6] &= ~bit;
        }
    }
    return count;
}

/* Span descriptors come from exact-size chunks (Go's fixalloc): the metadata allocator's
 * power-of-two blocks would waste 112 of every 256 bytes, 1.4% of an 8 KiB span. */
#define SPAN_CHUNK ((size_t)64 << 10)
static uintptr_t span_chunk_cur, span_chunk_end;

static gcrt_span *span_desc_alloc(void) {
    gcrt_span *s = gcrt_heap_.span_free;
    if (s) {
        gcrt_heap_.span_free = s->next;
        memset(s, 0, sizeof *s);
        return s;
    }
    if (span_chunk_cur + sizeof(gcrt_span) > span_chunk_end) {
        void *c = gcrt_meta_alloc(SPAN_CHUNK);
        if (!c) return NULL;
        span_chunk_cur = (uintptr_t)c;
        span_chunk_end = span_chunk_cur + SPAN_CHUNK;
    }
    s = (gcrt_span *)span_chunk_cur;   /* fresh metadata: zero */
    span_chunk_cur += sizeof(gcrt_span);
    return s;
}
static void span_desc_free(gcrt_span *s) {
    s->state = SPAN_DEAD;
    s->next = gcrt_heap_.span_free;
    gcrt_heap_.span_free = s;
}

/* Insert the free run s, merging it with free neighbours. */
static void free_run(gcrt_span *s) {
    uintptr_t end = s->base + s->npages * GCRT_PAGE_SIZE;
    gcrt_arena *pa = arena_of(s->base - GCRT_PAGE_SIZE);
    gcrt_span *prev = pa ? pa->spans[page_idx(s->base - GCRT_PAGE_SIZE)] : NULL;
    if (prev && prev->state == SPAN_FREE && prev->base + prev->npages * GCRT_PAGE_SIZE == s->base) {
        bin_remove(prev);
        prev->npages += s->npages;
        prev->released += s->released;
        prev->needzero |= s->needzero;
        if (s->freed_at > prev->freed_at) prev->freed_at = s->freed_at;
        span_desc_free(s);
        s = prev;
    }
    gcrt_arena *na = arena_of(end);
    gcrt_span *next = na ? na->spans[page_idx(end)] : NULL;
    if (next && next->state == SPAN_FREE && next->base == end) {
        bin_remove(next);
        s->npages += next->npages;
        s->released += next->released;
        s->needzero |= next->needzero;
        if (next->freed_at > s->freed_at) s->freed_at = next->freed_at;
        span_desc_free(next);
    }
    s->state = SPAN_FREE;
    map_pages(s);
    bin_insert(s);
}

static bool add_arena_meta(uintptr_t base, size_t size) {
    for (uintptr_t a = base; a < base + size; a += GCRT_ARENA_SIZE) {
        gcrt_arena *m = gcrt_meta_alloc(sizeof(gcrt_arena));
        if (!m) return false;
        m->base = a;
        atomic_store_release(&gcrt_arena_map[a >> GCRT_ARENA_SHIFT], m);
    }
    if (base < gcrt_heap_.arena_lo) gcrt_heap_.arena_lo = base;
    if (base + size > gcrt_heap_.arena_hi) gcrt_heap_.arena_hi = base + size;
    return true;
}

/* Commit at least npages more pages as one free run. */
static bool grow(size_t npages) {
    size_t ask = round_up(npages * GCRT_PAGE_SIZE, GCRT_GROW_CHUNK);
    if (gcrt_heap_.cur_end - gcrt_heap_.cur_base < ask) {
        /* The old reservation's tail is too small: commit and free it, then reserve anew. */
        size_t rest = gcrt_heap_.cur_end - gcrt_heap_.cur_base;
        size_t rsize = round_up(ask, GCRT_ARENA_SIZE);
        void *r = gcrt_os_reserve(rsize, GCRT_ARENA_SIZE);
        if (!r) return false;
        if (!add_arena_meta((uintptr_t)r, rsize)) {
            gcrt_os_unmap(r, rsize);
            return false;
        }
        if (rest && gcrt_os_commit((void *)gcrt_heap_.cur_base, rest)) {
            gcrt_span *t = span_desc_alloc();
            if (t) {
                t->base = gcrt_heap_.cur_base;
                t->npages = rest / GCRT_PAGE_SIZE;
                t->freed_at = heap_now();
                gcrt_heap_.heap_sys += rest;
                gcrt_heap_.heap_free += rest;
                free_run(t);
            }
        }
        gcrt_heap_.cur_base = (uintptr_t)r;
        gcrt_heap_.cur_end = (uintptr_t)r + rsize;
    }
    gcrt_span *s = span_desc_alloc();
    if (!s) return false;
    if (!gcrt_os_commit((void *)gcrt_heap_.cur_base, ask)) {
        span_desc_free(s);
        return false;
    }
    s->base = gcrt_heap_.cur_base;
    s->npages = ask / GCRT_PAGE_SIZE;
    s->freed_at = heap_now();
    gcrt_heap_.cur_base += ask;
    gcrt_heap_.heap_sys += ask;
    gcrt_heap_.heap_free += ask;
    free_run(s);
    return true;
}

static bool span_alloc_bitmaps(gcrt_span *s, unsigned spc) {
    unsigned sc = spanclass_sizeclass(spc);
    size_t words = span_bitmap_words(s);
    /* Both bitmaps in one block: one metadata-lock round trip per span, not two. Sweeping
     * swaps the two pointers; the block starts at the lower one. */
    s->allocbits = gcrt_meta_alloc(words * 16);
    if (!s->allocbits) return false;
    s->markbits = s->allocbits + words;
    if (spanclass_kind(spc) == GCRT_SCAN_TYPED) {
        size_t bytes = sc ? s->npages * GCRT_PAGE_SIZE / 64 : round_up(s->npages * GCRT_PAGE_SIZE / 64, 8);
        s->ptrbits = gcrt_meta_alloc(bytes);
        if (!s->ptrbits) return false;
    }
    return true;
}

static void span_free_bitmaps(gcrt_span *s) {
    size_t words = span_bitmap_words(s);
    if (s->allocbits) gcrt_meta_free(s->allocbits < s->markbits ? s->allocbits : s->markbits, words * 16);
    if (s->ptrbits) gcrt_meta_free(s->ptrbits, s->npages * GCRT_PAGE_SIZE / 64);
    s->allocbits = s->markbits = s->ptrbits = NULL;
}

gcrt_span *gcrt_heap_alloc(size_t npages, unsigned spc) {
    if (npages == 0 || npages > ((size_t)1 << 35)) return NULL;
    gcrt_heap *h = &gcrt_heap_;
    pthread_mutex_lock(&h->lock);
    gcrt_span *s = find_run(npages);
    if (!s) {
        if (!grow(npages) || !(s = find_run(npages))) {
            pthread_mutex_unlock(&h->lock);
            return NULL;
        }
    }
    bin_remove(s);
    gcrt_span *t = NULL;
    if (s->npages > npages && !(t = span_desc_alloc())) {
        bin_insert(s);
        pthread_mutex_unlock(&h->lock);
        return NULL;
    }
    /* Only the pages taken are counted: the tail's count follows from the run's total. */
    size_t rel = released_pages(s->base, npages, true);
    if (t) {   /* split: the tail stays free */
        t->base = s->base + npages * GCRT_PAGE_SIZE;
        t->npages = s->npages - npages;
        t->state = SPAN_FREE;
        t->needzero = s->needzero;
        t->freed_at = s->freed_at;
        t->released = s->released - rel * GCRT_PAGE_SIZE;
        map_pages(t);
        bin_insert(t);
        s->npages = npages;
    }
    size_t bytes = npages * GCRT_PAGE_SIZE;
    h->heap_released -= rel * GCRT_PAGE_SIZE;
    h->heap_free -= bytes - rel * GCRT_PAGE_SIZE;
    h->heap_inuse += bytes;
    h->nspans++;
    uintptr_t base = s->base;
    bool needzero = s->needzero && rel != npages;
    memset(s, 0, sizeof *s);   /* state = SPAN_DEAD until fully built */
    s->base = base;
    s->npages = npages;
    map_pages(s);
    pthread_mutex_unlock(&h->lock);

    unsigned sc = spanclass_sizeclass(spc);
    s->spanclass = (uint8_t)spc;
    s->needzero = needzero;
    if (sc) {
        s->elemsize = gcrt_class_size[sc];
        s->nelems = gcrt_class_nelems[sc];
        s->divmagic = gcrt_class_divmagic[sc];
    } else {
        s->elemsize = bytes;
        s->nelems = 1;
        s->divmagic = 0;
    }
    s->limit = base + (size_t)s->nelems * s->elemsize;
    if (!span_alloc_bitmaps(s, spc)) {
        gcrt_heap_free(s);
        return NULL;
    }
    s->alloccache = ~(uint64_t)0;
    if (unlikely(gcrt_debug_hooks)) gcrt_debug_pages_taken(base, bytes, needzero, sc != 0);
    if (sc && needzero) {   /* small spans keep every free slot zero (see sweep.c) */
        memset((void *)base, 0, bytes);
        s->needzero = 0;
    }
    if (unlikely(gcrt_debug_hooks)) gcrt_debug_pages_zeroed(base, bytes, sc != 0);
    s->sweepgen = atomic_load_relaxed(&h->sweepgen);
    atomic_store_release(&s->state, SPAN_INUSE);
    return s;
}

void gcrt_heap_free(gcrt_span *s) {
    gcrt_heap *h = &gcrt_heap_;
    if (unlikely(gcrt_debug_hooks)) gcrt_debug_pages_freed(s->base, s->npages * GCRT_PAGE_SIZE);
    span_free_bitmaps(s);
    pthread_mutex_lock(&h->lock);
    size_t bytes = s->npages * GCRT_PAGE_SIZE;
    h->heap_inuse -= bytes;
    h->heap_free += bytes;
    h->nspans--;
    s->released = 0;
    s->needzero = 1;
    s->freed_at = heap_now();
    atomic_store_release(&s->state, SPAN_FREE);
    free_run(s);
    pthread_mutex_unlock(&h->lock);
}

/* Return idle free pages to the OS. A run is released whole; its pages then read as zero,
 * so the run no longer needs zeroing. madvise runs without heap.lock: the run is taken out
 * of the bins in state SPAN_SCAVENGING, which neighbours do not merge with, and put back
 * (merging) afterwards, so allocating threads never wait for the kernel here. */
static gcrt_span *scavenge_pick(uint64_t now, uint64_t idle_ns) {
    for (unsigned b = 0; b < GCRT_FREE_BINS; b++)
        for (gcrt_span *s = gcrt_heap_.free_bins[b].first; s; s = s->next)
            if (s->released != s->npages * GCRT_PAGE_SIZE && now - s->freed_at >= idle_ns) return s;
    return NULL;
}

size_t gcrt_heap_scavenge(uint64_t idle_ns) {
    gcrt_heap *h = &gcrt_heap_;
    size_t total = 0;
    uint64_t now = heap_now();
    pthread_mutex_lock(&h->lock);
    gcrt_span *s;
    while ((s = scavenge_pick(now, idle_ns))) {
        bin_remove(s);
        s->state = SPAN_SCAVENGING;
        size_t bytes = s->npages * GCRT_PAGE_SIZE;
        pthread_mutex_unlock(&h->lock);
        bool ok = gcrt_os_release((void *)s->base, bytes);
        pthread_mutex_lock(&h->lock);
        if (ok) {
            size_t before = s->released;
            for (uintptr_t p = s->base; p < s->base + bytes; p += GCRT_PAGE_SIZE) {
                size_t k = page_idx(p);
                arena_of(p)->released[k >> 6] |= (uint64_t)1 << (k & 63);
            }
            s->released = bytes;
            s->needzero = 0;
            h->heap_free -= bytes - before;
            h->heap_released += bytes - before;
            total += bytes - before;
        }
        s->state = SPAN_FREE;
        free_run(s);
        if (!ok) break;
    }
    pthread_mutex_unlock(&h->lock);
    return total;
}

void gcrt_heap_for_each_span(void (*fn)(gcrt_span *, void *), void *arg) {
    for (uintptr_t a = gcrt_heap_.arena_lo; a < gcrt_heap_.arena_hi; a += GCRT_ARENA_SIZE) {
        gcrt_arena *ar = gcrt_arena_map[a >> GCRT_ARENA_SHIFT];
        if (!ar) continue;
        for (size_t pg = 0; pg < GCRT_PAGES_PER_ARENA; pg++) {
            gcrt_span *s = ar->spans[pg];
            if (s && s->state == SPAN_INUSE && s->base == a + pg * GCRT_PAGE_SIZE) fn(s, arg);
        }
    }
}
