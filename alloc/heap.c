/*
 * heap.c: the page heap (Go's mheap): arenas, free page runs, span descriptors.
 *
 * Address space is reserved in 64 MiB-aligned arenas (accessible at once, MAP_NORESERVE)
 * and committed, as accounting, in 4 MiB steps as the heap grows. Every committed page
 * maps, through gcrt_arena_map and the arena's spans[], to the span holding it, so
 * span_of() is two loads for any address.
 *
 * Free runs are spans in state SPAN_FREE, kept in segregated bins: bins 0..31 hold runs of
 * exactly 1..32 pages; bins 32..62 hold ranges of four bins per power of two; bin 63 holds
 * everything from 8192 pages up. A non-empty-bin bitmask makes finding a fitting run a
 * ctz, not a walk. Freed runs merge with free neighbours at once (coalescing), so no two
 * free spans are adjacent.
 *
 * Invariants, all under heap.lock:
 *   heap_sys == heap_inuse + heap_free + heap_released + heap_pcache (page-cache chunks);
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

/* The run allocation takes n pages from: the smallest bin that fits, and in bin 63 the
 * lowest address (address-ordered first fit keeps the big runs compact). With min_released,
 * the same order among the runs with that many bytes released (the grower's refault). */
static gcrt_span *find_run_released(size_t n, size_t min_released) {
    uint64_t mask = gcrt_heap_.bin_mask & ~(((uint64_t)1 << bin_fit(n)) - 1);
    while (mask) {
        unsigned b = (unsigned)__builtin_ctzll(mask);
        mask &= mask - 1;
        gcrt_span *best = NULL;
        for (gcrt_span *s = gcrt_heap_.free_bins[b].first; s; s = s->next)
            if (s->npages >= n && s->released >= min_released && (!best || s->base < best->base)) {
                best = s;
                if (b < 63) break;   /* below bin 63 every run fits: the first */
            }
        if (best) return best;
    }
    return NULL;
}
static gcrt_span *find_run(size_t n) { return find_run_released(n, 0); }

/* ---- page map ---- */
static inline gcrt_arena *arena_of(uintptr_t p) { return gcrt_arena_map[p >> GCRT_ARENA_SHIFT]; }
static inline size_t page_idx(uintptr_t p) { return (p >> GCRT_PAGE_SHIFT) & (GCRT_PAGES_PER_ARENA - 1); }


/* The released bitmap: one bit per page, 64 pages a word. The scavenger sets the bits of
 * the run it releases with heap.lock dropped (the run is SPAN_SCAVENGING, its bits its own),
 * but a word also holds the bits of its neighbours, which threads holding heap.lock (or
 * another scavenger) set and clear meanwhile. So every write is an atomic read-modify-write
 * of the word: a plain |= or &= lost a neighbour's update, and a page released with its bit
 * lost was released and counted again by the next scavenge, leaving heap_free one page
 * below zero for good (t_scavenge_race). */
static inline void released_set(uintptr_t p) {
    size_t k = page_idx(p);
    atomic_or(&arena_of(p)->released[k >> 6], (uint64_t)1 << (k & 63));
}

/* Count and optionally clear the released bits of [base, base + n pages); with mask (n <= 64),
 * also set bit i of *mask for each released page i. */
static size_t released_pages(uintptr_t base, size_t n, bool clear, uint64_t *mask) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        uintptr_t p = base + i * GCRT_PAGE_SIZE;
        gcrt_arena *a = arena_of(p);
        size_t k = page_idx(p);
        uint64_t bit = (uint64_t)1 << (k & 63);
        if (atomic_load_relaxed(&a->released[k >> 6]) & bit) {
            count++;
            if (clear) atomic_and(&a->released[k >> 6], ~bit);
            if (mask) *mask |= (uint64_t)1 << i;
        }
    }
    return count;
}

static bool page_released(uintptr_t p) {
    size_t k = page_idx(p);
    return (atomic_load_relaxed(&arena_of(p)->released[k >> 6]) >> (k & 63)) & 1;
}

/* ---- huge pages ----
 * With the heap in transparent huge pages (os.c), a huge page is faulted in whole: the
 * first touch of any page of an aligned 2 MiB range whose pages were all released brings
 * all of them back. Two rules keep heap_released what the OS holds:
 *   - the background scavenger releases whole huge pages only (huge_unreleased finds
 *     them), so that it never breaks one up for a few pages and the kernel's khugepaged
 *     has no half-empty huge page to fill back in behind its back;
 *   - taking a page from a wholly released huge page that lies within one free run
 *     counts the rest of it as resident again (take_run: huge_refault), where the heap is
 *     in huge pages (huge_backed).
 * What was faulted in before the heap went huge stays in 4 KiB pages (its arena's `small`
 * bits, set once in grow_run; those pages are never MADV_HUGEPAGE, and under THP "always"
 * they are MADV_NOHUGEPAGE (os.c), so neither a fault nor khugepaged makes them huge):
 * there a fault brings back its page alone. Collapsing them
 * instead (MADV_COLLAPSE) held the address space's lock for writing across each 2 MiB
 * copy, and a loaded kvcache's threads, faulting behind it, missed a stop and a PING
 * for over a second (issue 17; docs/testing.md).
 * Limit-driven and forced releases (GOMEMLIMIT, gc_free_os_memory) still go page by page:
 * they must reach their target. Arenas are 64 MiB-aligned, so a huge page's 256 released
 * bits are four whole words of the bitmap. */
#define HUGE_PAGES (GCRT_HUGE_SIZE / GCRT_PAGE_SIZE)
#define HUGE_WORDS (HUGE_PAGES / 64)

_Static_assert(GCRT_ARENA_SIZE / GCRT_HUGE_SIZE <= 32, "an arena's small bits are one word");

static bool huge_backed(uintptr_t h) {
    gcrt_arena *a = arena_of(h);
    return gcrt_os_thp() && !((atomic_load_relaxed(&a->small) >> (page_idx(h) / HUGE_PAGES)) & 1);
}

static bool huge_all_released(uintptr_t h) {
    const uint64_t *w = &arena_of(h)->released[page_idx(h) >> 6];
    for (size_t i = 0; i < HUGE_WORDS; i++)
        if (~atomic_load_relaxed(&w[i])) return false;
    return true;
}

static uintptr_t huge_up(uintptr_t p) { return (p + GCRT_HUGE_SIZE - 1) & ~(GCRT_HUGE_SIZE - 1); }
static uintptr_t huge_down(uintptr_t p) { return p & ~(GCRT_HUGE_SIZE - 1); }

/* Fault in [lo, hi) a huge page's worth at a time, each in the way its region wants
 * (gcrt_os_fault_in): a range may cross from 4 KiB-backed pages into huge ones. */
static void fault_in(uintptr_t lo, uintptr_t hi) {
    while (lo < hi) {
        uintptr_t h = huge_down(lo) + GCRT_HUGE_SIZE, e = h < hi ? h : hi;
        bool huge = huge_backed(huge_down(lo));
        while (e < hi && huge_backed(e) == huge) e = e + GCRT_HUGE_SIZE < hi ? e + GCRT_HUGE_SIZE : hi;
        gcrt_os_fault_in((void *)lo, e - lo, huge);
        lo = e;
    }
}

/* Run s holds an aligned huge page not all released. */
static bool huge_unreleased(gcrt_span *s) {
    for (uintptr_t h = huge_up(s->base); h + GCRT_HUGE_SIZE <= s->base + s->npages * GCRT_PAGE_SIZE; h += GCRT_HUGE_SIZE)
        if (!huge_all_released(h)) return true;
    return false;
}

/* Before the first npages of free run s are taken: if they end inside a huge page that
 * lies within s and is wholly released, its pages after them come back with them. Clears
 * their bits and returns their count. */
static size_t huge_refault(gcrt_span *s, size_t npages) {
    if (!gcrt_os_thp() || !s->released) return 0;
    uintptr_t take_end = s->base + npages * GCRT_PAGE_SIZE, h = huge_down(take_end);
    if (h == take_end || h < s->base || h + GCRT_HUGE_SIZE > s->base + s->npages * GCRT_PAGE_SIZE ||
        !huge_backed(h) || !huge_all_released(h))
        return 0;
    return released_pages(take_end, (h + GCRT_HUGE_SIZE - take_end) / GCRT_PAGE_SIZE, true, NULL);
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

static void map_range(uintptr_t base, size_t npages, gcrt_span *s) {
    for (size_t i = 0; i < npages; i++) {
        uintptr_t p = base + i * GCRT_PAGE_SIZE;
        arena_of(p)->spans[page_idx(p)] = s;
    }
}

static gcrt_span *free_neighbour(uintptr_t page, bool below, uintptr_t at) {
    gcrt_arena *a = arena_of(page);
    gcrt_span *n = a ? a->spans[page_idx(page)] : NULL;
    if (!n || n->state != SPAN_FREE) return NULL;
    return (below ? n->base + n->npages * GCRT_PAGE_SIZE : n->base) == at ? n : NULL;
}

/* Insert the free run s, merging it with free neighbours. `mapped`: s's pages already map
 * to s. Of the (up to) three runs merged, the descriptor of the biggest already mapped one
 * survives and only the others' pages are remapped: remapping the whole merged run cost
 * O(run) per free, quadratic when a sweep frees thousands of spans into one big run. */
static void free_run(gcrt_span *s, bool mapped) {
    uintptr_t end = s->base + s->npages * GCRT_PAGE_SIZE;
    gcrt_span *prev = free_neighbour(s->base - GCRT_PAGE_SIZE, true, s->base);
    gcrt_span *next = free_neighbour(end, false, end);
    gcrt_span *keep = mapped ? s : NULL;
    if (prev && (!keep || prev->npages > keep->npages)) keep = prev;
    if (next && (!keep || next->npages > keep->npages)) keep = next;
    if (!keep) keep = s;
    uintptr_t base = prev ? prev->base : s->base;
    size_t npages = s->npages, released = s->released;
    uint8_t needzero = s->needzero;
    uint64_t freed_at = s->freed_at;
    gcrt_span *part[3] = {prev, s, next};
    for (int i = 0; i < 3; i++) {
        gcrt_span *r = part[i];
        if (!r) continue;
        if (r != s) {
            bin_remove(r);
            npages += r->npages;
            released += r->released;
            needzero |= r->needzero;
            if (r->freed_at > freed_at) freed_at = r->freed_at;
        }
        if (r != keep || (r == s && !mapped)) map_range(r->base, r->npages, keep);
        if (r != keep) span_desc_free(r);
    }
    keep->base = base;
    keep->npages = npages;
    keep->released = released;
    keep->needzero = needzero;
    keep->freed_at = freed_at;
    keep->state = SPAN_FREE;
    bin_insert(keep);
}

static bool add_arena_meta(uintptr_t base, size_t size) {
    for (uintptr_t a = base; a < base + size; a += GCRT_ARENA_SIZE) {
        gcrt_arena *m = gcrt_meta_alloc(sizeof(gcrt_arena));
        if (!m) return false;
        m->base = a;
        m->small = 0;   /* reserved in huge pages, or marked at the switch (grow_run) */
        atomic_store_release(&gcrt_arena_map[a >> GCRT_ARENA_SHIFT], m);
    }
    if (base < gcrt_heap_.arena_lo) gcrt_heap_.arena_lo = base;
    if (base + size > gcrt_heap_.arena_hi) gcrt_heap_.arena_hi = base + size;
    return true;
}

/* Commit at least npages more pages as one free run (faulted in first when populate: the
 * grower's, alloc/grow.c). heap.lock held, but dropped around the commit: callers look for
 * their run again afterwards, in a loop. */
static bool grow_run(size_t npages, bool populate) {
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
                free_run(t, false);
            }
        }
        gcrt_heap_.cur_base = (uintptr_t)r;
        gcrt_heap_.cur_end = (uintptr_t)r + rsize;
    }
    gcrt_span *s = span_desc_alloc();
    if (!s) return false;
    /* Commit without heap.lock: the range is claimed, and nothing maps it until it joins
     * the free runs, so other threads keep allocating meanwhile. */
    uintptr_t base = gcrt_heap_.cur_base;
    gcrt_heap_.cur_base += ask;
    /* Counted from before the commit and fault-in (as free: gcverify allows heap_free above
     * what the free runs hold), so the heap never holds more than heap_sys -
     * heap_released, however long a starved grower takes to fault its chunk in. */
    gcrt_heap_.heap_sys += ask;
    gcrt_heap_.heap_free += ask;
    atomic_add(&gcrt_heap_.runs_out, 1);
    pthread_mutex_unlock(&gcrt_heap_.lock);
    bool ok = gcrt_os_commit((void *)base, ask);
    if (ok && populate) fault_in(base, base + ask);
    gcrt_lock(&gcrt_heap_.lock);
    atomic_add(&gcrt_heap_.runs_out, -1);
    /* Huge pages from here on (os.c), from the next huge page no one has touched: the
     * reservation's tail past every chunk claimed so far (grows in flight included), and
     * the arenas still to come. Every page before it may be faulted in already and stays
     * in 4 KiB pages (the arenas' small bits), so that a release there and a fault after
     * it are counted page by page. The tail ends on an arena's end. */
    if (ok && !gcrt_os_thp() && !gcrt_gc.disablethp && gcrt_heap_.heap_sys >= GCRT_THP_MIN_HEAP) {
        /* this grow's own chunk too when it is the last claimed and untouched (a
         * thread's grow, not the grower's populated one) */
        uintptr_t from = huge_up(!populate && gcrt_heap_.cur_base == base + ask ? base : gcrt_heap_.cur_base);
        uintptr_t to = gcrt_heap_.cur_end;
        if (from > to) from = to;
        for (uintptr_t a = gcrt_heap_.arena_lo; a < gcrt_heap_.arena_hi; a += GCRT_ARENA_SIZE) {
            gcrt_arena *ar = arena_of(a);
            if (!ar) continue;
            size_t n = a + GCRT_ARENA_SIZE <= from || a >= to ? 32 : a >= from ? 0 : (from - a) / GCRT_HUGE_SIZE;
            atomic_store_relaxed(&ar->small, n >= 32 ? ~(uint32_t)0 : ((uint32_t)1 << n) - 1);
        }
        gcrt_os_thp_start(from, to - from);
    }
    if (!ok) {
        if (gcrt_heap_.cur_base == base + ask) gcrt_heap_.cur_base = base;   /* else lost: address space only */
        gcrt_heap_.heap_sys -= ask;
        gcrt_heap_.heap_free -= ask;
        span_desc_free(s);
        return false;
    }
    s->base = base;
    s->npages = ask / GCRT_PAGE_SIZE;
    s->freed_at = heap_now();
    free_run(s, false);
    return true;
}

static bool grow(size_t npages) { return grow_run(npages, false); }

/* A new descriptor for pages [lo, hi) of free run s (out of the bins), mapped to them,
 * with their share of s's released bytes moved over. NULL when out of descriptors. */
static gcrt_span *split_off(gcrt_span *s, uintptr_t lo, uintptr_t hi) {
    gcrt_span *t = span_desc_alloc();
    if (!t) return NULL;
    t->base = lo;
    t->npages = (hi - lo) / GCRT_PAGE_SIZE;
    t->state = SPAN_FREE;
    t->needzero = s->needzero;
    t->freed_at = s->freed_at;
    t->released = released_pages(lo, t->npages, false, NULL) * GCRT_PAGE_SIZE;
    s->released -= t->released;
    map_range(lo, t->npages, t);
    return t;
}

/* Pages [lo, hi) of free run s (in its bin) as a run of their own, out of the bins; what
 * is left of s on either side stays in the bins. Of the two sides the bigger keeps s, so
 * only the smaller is remapped (the grower's pieces come off the bottom, or just above
 * the pieces it refaulted before: that side is at most its reserve). NULL, with s in its
 * bin, when out of descriptors. heap.lock held. */
static gcrt_span *carve_run(gcrt_span *s, uintptr_t lo, uintptr_t hi) {
    uintptr_t base = s->base, end = base + s->npages * GCRT_PAGE_SIZE;
    bin_remove(s);
    if (lo == base && hi == end) return s;
    bool keep_head = lo - base >= end - hi;   /* s keeps a side that is not empty */
    gcrt_span *piece = split_off(s, lo, hi), *other = NULL;
    if (!piece) {
        bin_insert(s);
        return NULL;
    }
    if (keep_head ? hi < end : lo > base) {
        if (!(other = keep_head ? split_off(s, hi, end) : split_off(s, base, lo))) {
            s->released += piece->released;
            map_range(lo, piece->npages, s);
            span_desc_free(piece);
            bin_insert(s);
            return NULL;
        }
    }
    if (keep_head) {
        s->npages = (lo - base) / GCRT_PAGE_SIZE;
    } else {
        s->base = hi;
        s->npages = (end - hi) / GCRT_PAGE_SIZE;
    }
    bin_insert(s);
    if (other) bin_insert(other);
    return piece;
}

/* The lowest released page of [lo, hi), or hi; words with no released page are skipped
 * 64 pages at a time (the pieces refaulted before lie below the next one). */
static uintptr_t released_bottom(uintptr_t lo, uintptr_t hi) {
    while (lo < hi) {
        size_t k = page_idx(lo);
        if (!(k & 63) && hi - lo >= 64 * GCRT_PAGE_SIZE && !atomic_load_relaxed(&arena_of(lo)->released[k >> 6])) {
            lo += 64 * GCRT_PAGE_SIZE;
            continue;
        }
        if (page_released(lo)) return lo;
        lo += GCRT_PAGE_SIZE;
    }
    return hi;
}

/* The grower's chunk from released pages: npages from the lowest released page of the
 * free run that allocation takes pages from next (find_run's order; a run gives its head
 * first), among those of 64 pages or more with 64 released, faulted back in rather than
 * new pages committed. Committing while released runs lay idle grew the address space
 * without end under repeated releases of everything (t_scavenge_race: heap_sys 2.6 GB for
 * 5 MiB live); refaulting elsewhere than where allocation goes next left every thread
 * faulting released pages in itself (t_grow: 0 of 49 regions resident ahead). The piece is
 * carved out of the run (carve_run) and out of the bins while it is faulted in
 * (SPAN_SCAVENGING: no one allocates from it or merges with it), the rest of the run left
 * to allocation; it is counted resident from before, as a new chunk is. Where the heap is
 * in huge pages, a piece never ends inside a wholly released huge page (the first touch
 * faults one in whole). heap.lock held, dropped around the fault-in. */
static bool refault_released(size_t npages) {
    gcrt_heap *h = &gcrt_heap_;
    gcrt_span *s = find_run_released(64, 64 * GCRT_PAGE_SIZE);
    if (!s) return false;
    uintptr_t base = s->base, end = base + s->npages * GCRT_PAGE_SIZE;
    /* npages from the lowest released one, resident pages among them included (faulted
     * again for nothing, but a stretch cut at the first of them could be a page a try) */
    uintptr_t lo = released_bottom(base, end);
    if (lo == end) return false;
    uintptr_t hi = end - lo > npages * GCRT_PAGE_SIZE ? lo + npages * GCRT_PAGE_SIZE : end, hh = huge_down(hi - 1);
    /* An end inside a wholly released huge page (lo never is: the page below it is not
     * released) moves down to it, within the budget, or up when the piece lies in it. */
    if (hh + GCRT_HUGE_SIZE != hi && huge_backed(hh) && huge_all_released(hh)) {
        if (hh > lo) hi = hh;
        else if (hh + GCRT_HUGE_SIZE <= end) hi = hh + GCRT_HUGE_SIZE;
        else return false;   /* the huge page runs past the run: its rest is not ours to fault */
    }
    if (!(s = carve_run(s, lo, hi))) return false;
    size_t rel = released_pages(lo, s->npages, true, NULL);
    s->state = SPAN_SCAVENGING;
    s->released = 0;
    h->heap_released -= rel * GCRT_PAGE_SIZE;
    h->heap_free += rel * GCRT_PAGE_SIZE;
    atomic_add(&h->runs_out, 1);
    pthread_mutex_unlock(&h->lock);
    fault_in(lo, hi);
    gcrt_lock(&h->lock);
    atomic_add(&h->runs_out, -1);
    s->freed_at = heap_now();   /* the reserve, not idle pages for the scavenger */
    free_run(s, true);
    return true;
}

/* One chunk more for the grower, faulted in before it joins the free runs (so no thread
 * takes a page of it meanwhile), when free pages are below `reserve`: released pages
 * first, and new ones only when free and released pages together are below it, as a heap
 * without a grower would grow. Released pages in runs it cannot take (out with the
 * scavenger, or in pieces under 64 pages) are left to the threads that allocate them:
 * committing a chunk whenever no such run was at hand still grew heap_sys by 140 MiB a
 * second under t_scavenge_race's releases of everything, run for 16 s (t_grow checks the
 * plain case: a heap refilled after a release does not grow). */
bool gcrt_heap_grow_ahead(size_t reserve, uint64_t epoch) {
    gcrt_heap *h = &gcrt_heap_;
    gcrt_lock(&h->lock);
    bool grew = h->release_epoch == epoch && h->heap_free < reserve &&
                (refault_released(GCRT_GROW_CHUNK / GCRT_PAGE_SIZE) ||
                 (h->heap_free + h->heap_released < reserve && grow_run(GCRT_GROW_CHUNK / GCRT_PAGE_SIZE, true)));
    pthread_mutex_unlock(&h->lock);
    return grew;
}

/* Metadata for a span: from the page cache's reserve (no lock) when pc is given. Reserve
 * blocks are power-of-two sized like gcrt_meta_alloc's, so gcrt_meta_free takes them back. */
static void *meta_take(gcrt_pcache *pc, size_t size) {
    unsigned sh = size <= 16 ? 4 : 64 - (unsigned)__builtin_clzll(size - 1);
    if (!pc || sh - 4 >= GCRT_PCACHE_META_SHIFTS) return gcrt_meta_alloc(size);
    unsigned k = sh - 4;
    if (!pc->nmeta[k]) pc->nmeta[k] = gcrt_meta_alloc_batch(size, pc->meta[k], GCRT_PCACHE_META_N);
    if (!pc->nmeta[k]) return NULL;
    void *p = pc->meta[k][--pc->nmeta[k]];
    memset(p, 0, size);   /* recycled blocks are dirty */
    return p;
}

static bool span_alloc_bitmaps(gcrt_span *s, unsigned spc, gcrt_pcache *pc) {
    unsigned sc = spanclass_sizeclass(spc);
    size_t words = span_bitmap_words(s);
    /* Both bitmaps in one block: one metadata-lock round trip per span, not two (none
     * from a page cache's reserve). Sweeping swaps the two pointers; the block starts at
     * the lower one. Span-local marking's scanned bits and queue state follow them. */
    s->allocbits = meta_take(pc, span_bits_block_bytes(spc, words));
    if (!s->allocbits) return false;
    s->markbits = s->allocbits + words;
    if (spanclass_kind(spc) == GCRT_SCAN_TYPED) {
        size_t bytes = sc ? s->npages * GCRT_PAGE_SIZE / 64 : round_up(s->npages * GCRT_PAGE_SIZE / 64, 8);
        s->ptrbits = meta_take(pc, bytes);
        if (!s->ptrbits) return false;
    }
    return true;
}

static void span_free_bitmaps(gcrt_span *s) {
    size_t words = span_bitmap_words(s);
    if (s->allocbits)
        gcrt_meta_free(s->allocbits < s->markbits ? s->allocbits : s->markbits, span_bits_block_bytes(s->spanclass, words));
    if (s->ptrbits) gcrt_meta_free(s->ptrbits, s->npages * GCRT_PAGE_SIZE / 64);
    s->allocbits = s->markbits = s->ptrbits = NULL;
}

/* Take the first npages of the free run s (out of the bins) for the caller: returns the
 * descriptor of the pages taken, mapped to them, or NULL (s back in its bin) when no
 * descriptor is left. On a split the tail keeps s, whose pages already map to it, and the
 * head (at most what a span needs) gets a new descriptor: remapping the tail instead cost
 * O(free run) per take, quadratic over a heap carved 64 pages at a time. Counts and clears
 * the released bits of the pages taken (into *mask if given). heap.lock held. */
static gcrt_span *take_run(gcrt_span *s, size_t npages, size_t *rel, uint64_t *mask) {
    bin_remove(s);
    gcrt_span *h = s;
    if (s->npages > npages && !(h = span_desc_alloc())) {
        bin_insert(s);
        return NULL;
    }
    size_t back = h != s ? huge_refault(s, npages) : 0;
    /* Only the pages taken are counted: the tail's count follows from the run's total. */
    *rel = released_pages(s->base, npages, true, mask);
    if (h != s) {   /* split: the tail stays free */
        h->base = s->base;
        h->npages = npages;
        h->state = SPAN_FREE;   /* out of the bins, the caller's */
        h->needzero = s->needzero;
        h->freed_at = s->freed_at;
        h->released = *rel * GCRT_PAGE_SIZE;
        map_range(h->base, npages, h);
        s->base += npages * GCRT_PAGE_SIZE;
        s->npages -= npages;
        s->released -= h->released + back * GCRT_PAGE_SIZE;   /* pages faulted back in read as zero too */
        gcrt_heap_.heap_released -= back * GCRT_PAGE_SIZE;
        gcrt_heap_.heap_free += back * GCRT_PAGE_SIZE;
        bin_insert(s);
    }
    return h;
}

/* Lay out a span of class spc on pages the caller owns; bitmaps from the page cache's
 * reserve when pc is given. False (the span still to be freed) when out of metadata. */
static bool span_init(gcrt_span *s, unsigned spc, bool needzero, gcrt_pcache *pc);

/* ---- per-thread page caches (Go's pageCache) ----
 * A chunk is the first (up to) 64 pages of the free run that fits the span best (new pages
 * only when none fits, as without a cache): in a fragmented heap a chunk may be a single
 * hole, in a growing one it is a full 64 pages. Its descriptor
 * becomes SPAN_CACHED and keeps mapping every page not yet carved, so neighbours never
 * merge with it and span_of_heap rejects those pages. Carving takes the lowest fitting run
 * of free bits, a descriptor from the reserve, and maps its pages to it, all without a
 * lock. Returning writes each maximal run of free bits back as a free span (coalescing);
 * the reserve always holds a descriptor for each run but the one the chunk's own
 * descriptor takes, so returning never allocates and cannot fail. */
#define PCACHE_BYPASS ((gcrt_span *)1)   /* use the page heap directly */

static inline uint64_t low_bits(size_t n) { return n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1; }

/* Index of the first run of n set bits in x, or -1. After each step bit i of x stands for
 * `have` set bits from i up. */
static int find_bit_run(uint64_t x, size_t n) {
    for (size_t have = 1; have < n && x;) {
        size_t step = have < n - have ? have : n - have;
        x &= x >> step;
        have += step;
    }
    return x ? __builtin_ctzll(x) : -1;
}

static unsigned bit_runs(uint64_t x) { return (unsigned)__builtin_popcountll(x & ~(x << 1)); }

/* Take the lowest run of set bits out of *f (non-zero): its first index and its length. */
static size_t bit_run_take(uint64_t *f, unsigned *first) {
    unsigned i = (unsigned)__builtin_ctzll(*f);
    uint64_t rest = ~(*f >> i);
    size_t n = rest ? (size_t)__builtin_ctzll(rest) : 64 - i;
    *f &= ~(low_bits(n) << i);
    *first = i;
    return n;
}

void gcrt_pcache_fold_locked(gcrt_pcache *pc) {
    gcrt_heap *h = &gcrt_heap_;
    h->heap_inuse += pc->carved;
    h->heap_pcache -= pc->carved;
    h->heap_pcache_rel -= pc->carved_rel;
    h->nspans += pc->nspans;
    pc->carved = pc->carved_rel = pc->nspans = 0;
}

/* Give the chunk's free pages back to the page heap. heap.lock held. */
static void pcache_return_locked(gcrt_pcache *pc) {
    gcrt_heap *h = &gcrt_heap_;
    gcrt_pcache_fold_locked(pc);
    pc->pop_mask = 0;   /* the pages are the heap's again */
    if (!pc->base) return;
    uint64_t f = pc->free, now = heap_now();
    gcrt_span *own = pc->chunk;
    while (f) {
        unsigned i;
        size_t n = bit_run_take(&f, &i);
        uint64_t m = low_bits(n) << i;
        gcrt_span *r = own;   /* maps every uncarved page: this run's are mapped to it */
        bool mapped = r != NULL;
        if (r) own = NULL;
        else {
            r = pc->descs;   /* there by the reserve invariant */
            pc->descs = r->next;
            pc->ndescs--;
        }
        uintptr_t base = pc->base + (uintptr_t)i * GCRT_PAGE_SIZE;
        size_t rel = 0;
        for (uint64_t sm = m & pc->scav; sm; sm &= sm - 1) {
            released_set(pc->base + (uintptr_t)__builtin_ctzll(sm) * GCRT_PAGE_SIZE);
            rel += GCRT_PAGE_SIZE;
        }
        memset(r, 0, sizeof *r);
        r->base = base;
        r->npages = n;
        r->released = rel;
        r->needzero = (m & ~pc->zero) != 0;
        r->freed_at = now;
        h->heap_pcache -= n * GCRT_PAGE_SIZE;
        h->heap_pcache_rel -= rel;
        h->heap_free += n * GCRT_PAGE_SIZE - rel;
        h->heap_released += rel;
        free_run(r, mapped);
    }
    if (own) span_desc_free(own);   /* not reached: a chunk with no free page is dropped */
    pc->base = 0;
    pc->chunk = NULL;
    pc->free = pc->zero = pc->scav = 0;
}

/* Make the run s (in its bin) the cache's chunk. heap.lock held. */
static bool pcache_take_locked(gcrt_pcache *pc, gcrt_span *s) {
    gcrt_heap *h = &gcrt_heap_;
    size_t n = s->npages < GCRT_PCACHE_PAGES ? s->npages : GCRT_PCACHE_PAGES, rel;
    uint64_t scav = 0;
    bool dirty = s->needzero;
    if (!(s = take_run(s, n, &rel, &scav))) return false;
    h->heap_released -= rel * GCRT_PAGE_SIZE;
    h->heap_free -= (n - rel) * GCRT_PAGE_SIZE;
    h->heap_pcache += n * GCRT_PAGE_SIZE;
    h->heap_pcache_rel += rel * GCRT_PAGE_SIZE;
    pc->base = s->base;
    pc->chunk = s;
    pc->free = low_bits(n);
    pc->scav = scav;
    pc->zero = dirty ? scav : low_bits(n);
    s->released = 0;
    s->next = s->prev = NULL;
    atomic_store_release(&s->state, SPAN_CACHED);
    return true;
}

/* Fault in the pages of a new chunk that are known zero and not released (fresh from a
 * commit, or handed back unused): the cache is about to carve them into spans. Faulting
 * them in together (about 5% of the Scheme GCBench's time went to faults taken one by one
 * under virtualisation) is done after the allocation's critical section, in a blocking
 * region (thread.c): a 2 MiB huge page takes 1.5-7 ms to fault in here, and a stop had
 * waited for it (the pause probe's stops of 3-9 ms). pop_* records the pages; a pause
 * leaves a populating thread's cache alone, and the touches (os.c) do not change a byte,
 * so a page that meanwhile went to a span another thread allocates from is safe. */
typedef struct {
    const gcrt_pcache *pc;
    uintptr_t meta_lo, meta_hi;   /* from gcrt_meta_ahead, or hi = 0 */
} populate_job;

static void pcache_populate(void *arg) {
    const populate_job *j = arg;
    for (uint64_t f = j->pc->pop_mask; f;) {
        unsigned i;
        size_t n = bit_run_take(&f, &i);
        uintptr_t p = j->pc->pop_base + (uintptr_t)i * GCRT_PAGE_SIZE;
        fault_in(p, p + n * GCRT_PAGE_SIZE);
    }
    if (j->meta_hi) gcrt_meta_fault_in(j->meta_lo, j->meta_hi);
}

void gcrt_pcache_populate_slow(gcrt_thread *t) {
    gcrt_pcache *pc = &t->cache.pcache;
    populate_job j = {pc, 0, 0};
    if (pc->pop_meta) (void)gcrt_meta_ahead(&j.meta_lo, &j.meta_hi);   /* hi stays 0 if none */
    pc->pop_meta = false;
    pc->populating = 1;
    gcrt_blocking(t, pcache_populate, &j);
    pc->pop_mask = 0;
    pc->populating = 0;
}

/* One heap.lock trip: a new chunk if need_chunk, and the descriptor reserve topped up.
 * False when the cache cannot serve the request (the caller then uses the page heap). */
static bool pcache_refill(gcrt_pcache *pc, size_t npages, bool need_chunk) {
    gcrt_heap *h = &gcrt_heap_;
    bool ok = true;
    gcrt_lock(&h->lock);
    if (need_chunk) {
        pcache_return_locked(pc);
        /* Best fit for the span, as without a cache: pages freed by sweeping, still warm,
         * are reused before fresh ones; a large run gives a full 64-page chunk. */
        gcrt_span *s = find_run(npages);
        while (!s && grow(GCRT_PCACHE_PAGES)) s = find_run(npages);
        ok = s && pcache_take_locked(pc, s);
    }
    while (pc->ndescs < GCRT_PCACHE_DESCS) {
        gcrt_span *d = span_desc_alloc();
        if (!d) break;
        d->next = pc->descs;
        pc->descs = d;
        pc->ndescs++;
    }
    pthread_mutex_unlock(&h->lock);
    if (need_chunk) gcrt_grow_check();
    if (need_chunk && ok) {
        pc->pop_base = pc->base;
        pc->pop_mask = pc->free & pc->zero & ~pc->scav;
    }
    pc->pop_meta |= need_chunk;
    return ok;
}

static gcrt_span *pcache_alloc(gcrt_pcache *pc, size_t npages, unsigned spc) {
    int i = pc->base ? find_bit_run(pc->free, npages) : -1;
    /* Reserve invariant: after this carve, ndescs >= runs of free bits - 1. */
    if (i < 0 || pc->ndescs < bit_runs(pc->free) + 1) {
        if (!pcache_refill(pc, npages, i < 0)) return PCACHE_BYPASS;
        gcrt_scavenge_for_limit();   /* the chunk may have grown the heap */
        if (i < 0) i = find_bit_run(pc->free, npages);
        if (i < 0 || pc->ndescs < bit_runs(pc->free) + 1) return PCACHE_BYPASS;
    }
    uint64_t m = low_bits(npages) << i;
    pc->free &= ~m;
    gcrt_span *s = pc->descs;
    pc->descs = s->next;
    pc->ndescs--;
    memset(s, 0, sizeof *s);   /* state = SPAN_DEAD until fully built */
    s->base = pc->base + (uintptr_t)i * GCRT_PAGE_SIZE;
    s->npages = npages;
    map_range(s->base, s->npages, s);
    pc->carved += npages * GCRT_PAGE_SIZE;
    pc->carved_rel += (size_t)__builtin_popcountll(m & pc->scav) * GCRT_PAGE_SIZE;
    pc->nspans++;
    bool needzero = (m & ~pc->zero) != 0;
    if (!pc->free) {   /* all carved: the chunk's descriptor maps nothing any more */
        gcrt_span *c = pc->chunk;
        c->state = SPAN_DEAD;
        c->next = pc->descs;
        pc->descs = c;
        pc->ndescs++;
        pc->base = 0;
        pc->chunk = NULL;
    }
    if (!span_init(s, spc, needzero, pc)) {
        gcrt_heap_free(s);
        return NULL;
    }
    return s;
}

void gcrt_pcache_release(gcrt_pcache *pc) {
    gcrt_heap *h = &gcrt_heap_;
    gcrt_lock(&h->lock);
    if (pc->populating) {   /* a pause while the owner faults the chunk in: it keeps it */
        gcrt_pcache_fold_locked(pc);   /* sweeping counts every span made (heap.nspans) */
        pthread_mutex_unlock(&h->lock);
        return;
    }
    pcache_return_locked(pc);
    while (pc->descs) {
        gcrt_span *d = pc->descs;
        pc->descs = d->next;
        span_desc_free(d);
    }
    pc->ndescs = 0;
    pthread_mutex_unlock(&h->lock);
    for (unsigned k = 0; k < GCRT_PCACHE_META_SHIFTS; k++) {
        gcrt_meta_free_batch((size_t)16 << k, pc->meta[k], pc->nmeta[k]);
        pc->nmeta[k] = 0;
    }
}

gcrt_span *gcrt_heap_alloc(size_t npages, unsigned spc) {
    if (npages == 0 || npages > ((size_t)1 << 35)) return NULL;
    gcrt_thread *me = gcrt_self;
    if (npages <= GCRT_PCACHE_MAX_SPAN && me && me->in_gcrt) {
        gcrt_span *s = pcache_alloc(&me->cache.pcache, npages, spc);
        if (s != PCACHE_BYPASS) return s;
    }
    gcrt_heap *h = &gcrt_heap_;
    gcrt_lock(&h->lock);
    gcrt_span *s;
    while (!(s = find_run(npages)))
        if (!grow(npages)) {
            pthread_mutex_unlock(&h->lock);
            return NULL;
        }
    size_t rel;
    if (!(s = take_run(s, npages, &rel, NULL))) {
        pthread_mutex_unlock(&h->lock);
        return NULL;
    }
    size_t bytes = npages * GCRT_PAGE_SIZE;
    h->heap_released -= rel * GCRT_PAGE_SIZE;
    h->heap_free -= bytes - rel * GCRT_PAGE_SIZE;
    h->heap_inuse += bytes;
    h->nspans++;
    uintptr_t base = s->base;
    bool needzero = s->needzero && rel != npages;
    memset(s, 0, sizeof *s);   /* state = SPAN_DEAD until fully built; take_run mapped it */
    s->base = base;
    s->npages = npages;
    pthread_mutex_unlock(&h->lock);
    gcrt_scavenge_for_limit();
    gcrt_grow_check();
    if (!span_init(s, spc, needzero, NULL)) {
        gcrt_heap_free(s);
        return NULL;
    }
    return s;
}

static bool span_init(gcrt_span *s, unsigned spc, bool needzero, gcrt_pcache *pc) {
    unsigned sc = spanclass_sizeclass(spc);
    size_t bytes = s->npages * GCRT_PAGE_SIZE;
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
    s->limit = s->base + (size_t)s->nelems * s->elemsize;
    if (!span_alloc_bitmaps(s, spc, pc)) return false;
    span_refill_alloccache(s);   /* freeindex 0, allocbits clear: the first nelems bits */
    if (unlikely(gcrt_debug_hooks)) gcrt_debug_pages_taken(s->base, bytes, needzero, sc != 0);
    if (sc && needzero) {   /* small spans keep every free slot zero (see sweep.c) */
        memset((void *)s->base, 0, bytes);
        s->needzero = 0;
    }
    if (unlikely(gcrt_debug_hooks)) gcrt_debug_pages_zeroed(s->base, bytes, sc != 0);
    s->sweepgen = atomic_load_relaxed(&gcrt_heap_.sweepgen);
    atomic_store_release(&s->state, SPAN_INUSE);
    return true;
}

/* gcrt_heap_free for a list of spans linked by next (the background sweeper's batch):
 * one heap.lock trip. */
void gcrt_heap_free_batch(gcrt_span *list) {
    gcrt_heap *h = &gcrt_heap_;
    for (gcrt_span *s = list; s; s = s->next) {
        if (unlikely(gcrt_debug_hooks)) gcrt_debug_pages_freed(s->base, s->npages * GCRT_PAGE_SIZE);
        span_free_bitmaps(s);
    }
    uint64_t now = heap_now();
    gcrt_lock(&h->lock);
    for (gcrt_span *s = list, *next; s; s = next) {
        next = s->next;   /* free_run relinks s */
        size_t bytes = s->npages * GCRT_PAGE_SIZE;
        h->heap_inuse -= bytes;
        h->heap_free += bytes;
        h->nspans--;
        s->released = 0;
        s->needzero = 1;
        s->freed_at = now;
        atomic_store_release(&s->state, SPAN_FREE);
        free_run(s, true);
    }
    pthread_mutex_unlock(&h->lock);
}

void gcrt_heap_free(gcrt_span *s) {
    s->next = NULL;
    gcrt_heap_free_batch(s);
}

/* Return idle free pages to the OS, up to a byte budget, so the scavenger can be paced.
 * Bigger runs go first (more bytes per system call, and small runs are the ones about to be
 * reused). A run may be released in part: its released bits say which pages are zero, and
 * it still needs zeroing unless all of them are. madvise runs without heap.lock: the run is
 * taken out of the bins in state SPAN_SCAVENGING, which neighbours do not merge with and
 * allocation does not see, so its pages' bits are this thread's until it is put back. */
static gcrt_span *scavenge_pick(uint64_t now, uint64_t idle_ns, bool huge) {
    for (int b = GCRT_FREE_BINS - 1; b >= 0; b--)
        for (gcrt_span *s = gcrt_heap_.free_bins[b].first; s; s = s->next)
            if (s->released != s->npages * GCRT_PAGE_SIZE && now - s->freed_at >= idle_ns &&
                (!huge || huge_unreleased(s)))
                return s;
    return NULL;
}

/* Release up to `want` bytes of s's unreleased pages, from its top down; false when the
 * OS refused. *done gets the bytes released. */
static bool scavenge_run(gcrt_span *s, size_t want, size_t *done, bool huge) {
    uintptr_t end = s->base + s->npages * GCRT_PAGE_SIZE;
    *done = 0;
    if (huge) {   /* whole huge pages, from the top down */
        uintptr_t lo = huge_up(s->base);
        for (uintptr_t h = huge_down(end); h > lo && (!want || *done < want); h -= GCRT_HUGE_SIZE) {
            uintptr_t b = h - GCRT_HUGE_SIZE;
            size_t n = HUGE_PAGES - released_pages(b, HUGE_PAGES, false, NULL);
            if (!n) continue;
            if (!gcrt_os_release((void *)b, GCRT_HUGE_SIZE)) return false;
            uint64_t *w = &arena_of(b)->released[page_idx(b) >> 6];
            for (size_t i = 0; i < HUGE_WORDS; i++) atomic_store_relaxed(&w[i], ~(uint64_t)0);   /* s's alone */
            *done += n * GCRT_PAGE_SIZE;
        }
        return true;
    }
    for (uintptr_t hi = end; hi > s->base && (!want || *done < want);) {
        while (hi > s->base && page_released(hi - GCRT_PAGE_SIZE)) hi -= GCRT_PAGE_SIZE;
        uintptr_t lo = hi;
        /* At least one page, even for a budget smaller than that. */
        while (lo > s->base && !page_released(lo - GCRT_PAGE_SIZE) && (!want || lo == hi || *done + (hi - lo) < want))
            lo -= GCRT_PAGE_SIZE;
        if (lo == hi) break;
        if (!gcrt_os_release((void *)lo, hi - lo)) return false;
        for (uintptr_t p = lo; p < hi; p += GCRT_PAGE_SIZE) released_set(p);
        *done += hi - lo;
        hi = lo;
    }
    return true;
}

/* A release of everything (gc_free_os_memory) begins: the grower must not grow on a kick
 * from before it. The kick is dropped first, so that the grower cannot read the new epoch
 * with an old kick (grow.c). Else it faulted in up to its reserve again right after the
 * release, for no allocation. */
void gcrt_heap_release_begin(void) {
    gcrt_grow_cancel();
    gcrt_thread *t = gcrt_self;   /* heap.lock: only inside a critical section */
    if (t) gcrt_enter(t);
    gcrt_lock(&gcrt_heap_.lock);
    atomic_store_relaxed(&gcrt_heap_.release_epoch, gcrt_heap_.release_epoch + 1);
    pthread_mutex_unlock(&gcrt_heap_.lock);
    if (t) gcrt_leave(t);
}

size_t gcrt_heap_scavenge(size_t want, uint64_t idle_ns, bool huge, bool *in_flight) {
    gcrt_heap *h = &gcrt_heap_;
    gcrt_thread *me = gcrt_self;   /* gc_free_os_memory: the caller's cached pages too */
    if (idle_ns == 0 && me && me->in_gcrt) gcrt_pcache_release(&me->cache.pcache);
    size_t total = 0;
    uint64_t now = heap_now();
    gcrt_lock(&h->lock);
    gcrt_span *s = NULL;
    while ((!want || total < want) && (s = scavenge_pick(now, idle_ns, huge))) {
        bin_remove(s);
        s->state = SPAN_SCAVENGING;
        atomic_add(&h->runs_out, 1);
        pthread_mutex_unlock(&h->lock);
        size_t done;
        bool ok = scavenge_run(s, want ? want - total : 0, &done, huge);
        gcrt_lock(&h->lock);
        atomic_add(&h->runs_out, -1);
        s->released += done;
        if (s->released == s->npages * GCRT_PAGE_SIZE) s->needzero = 0;
        h->heap_free -= done;
        h->heap_released += done;
        total += done;
        s->state = SPAN_FREE;
        free_run(s, true);
        if (!ok || !done) break;
    }
    /* Read where the last pick found nothing: every run not out now is released (heap.lock) */
    if (in_flight) *in_flight = !s && atomic_load_relaxed(&h->runs_out);
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
