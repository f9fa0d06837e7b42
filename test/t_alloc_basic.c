/*
 * t_alloc_basic: basic allocation behaviour.
 *  - fresh objects are zeroed over their whole usable size, for scan and noscan kinds;
 *  - objects do not overlap: patterns written into many live objects stay intact;
 *  - after garbage is collected its slots are reused, and reused memory is zeroed again
 *    (objects are filled with 0xff before being dropped);
 *  - allocation before gc_init initialises implicitly.
 */
#include "check.h"

#define N 10000

static const size_t sizes[] = {8, 16, 24, 32, 48, 100, 256, 500, 1024, 3000, 8192, 20000, 32760};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static int all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return 0;
    return 1;
}

/* Allocate n objects of `size`, fill them with 0xff over their usable size. Odd-numbered
 * ones are stored in keep (a GC-visible array) and stay alive; the addresses of all of them
 * are remembered only in hidden form. */
static TEST_NOINLINE void make_dirty(uintptr_t *hidden, size_t n, size_t size, int noscan,
                                     void **keep)
{
    for (size_t i = 0; i < n; i++) {
        void *p = noscan ? gc_alloc_noscan(size) : gc_alloc(size);
        CHECK(p != NULL, "alloc(%zu)", size);
        size_t us = gc_size(p);
        CHECK(us >= size);
        CHECK(all_zero(p, us), "fresh object of %zu bytes not zeroed", size);
        memset(p, 0xff, us);
        hidden[i] = HIDE(p);
        if (keep && (i & 1))
            keep[i / 2] = p;
    }
}

static int cmp_u(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static int all_ff(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != 0xff)
            return 0;
    return 1;
}

/* half_live = 1: every other object survives, so its spans stay in use and the freed slots in
 * between must be handed out again (zeroed) before fresh spans are taken.
 * half_live = 0: everything dies; new objects must still be zero (pages reused). */
static void reuse_round(size_t size, int noscan, int half_live)
{
    size_t n = size <= 1024 ? N : size <= 8192 ? 2000 : 300;
    uintptr_t *old = malloc(n * sizeof *old);
    uintptr_t *dead = malloc(n * sizeof *dead);
    CHECK(old && dead);
    void **keep = half_live ? gc_alloc(n / 2 * sizeof(void *)) : NULL;
    CHECK(!half_live || keep != NULL);
    WITHOUT_AUTO_GC(make_dirty(old, n, size, noscan, keep));
    churn_stack();
    gc_collect();

    size_t freed = 0, ndead = 0;
    for (size_t i = 0; i < n; i++) {
        void *p = UNHIDE(old[i]);
        if (half_live && (i & 1)) {
            CHECK(gc_base(p) == p, "size %zu: live object %zu was freed", size, i);
            CHECK(all_ff(p, size), "size %zu: live object %zu was modified", size, i);
            continue;
        }
        dead[ndead++] = (uintptr_t)p;
        if (gc_base(p) == NULL)
            freed++;
    }
    if (freed * 10 < ndead * 9) {
        /* Diagnose: was the sweep simply unfinished when gc_collect returned? */
        usleep(200000);
        size_t later = 0;
        for (size_t i = 0; i < ndead; i++)
            if (gc_base((void *)dead[i]) == NULL)
                later++;
        FAIL("size %zu noscan=%d half_live=%d: only %zu of %zu garbage objects freed when "
             "gc_collect returned (%zu after another 200 ms)",
             size, noscan, half_live, freed, ndead, later);
    }
    qsort(dead, ndead, sizeof *dead, cmp_u);
    /* Hide the sorted copy as well, so it does not pin the new objects. */
    for (size_t i = 0; i < ndead; i++)
        dead[i] = HIDE(dead[i]);

    /* The new objects are kept alive in a root array so that they all get distinct slots. */
    void **fresh = gc_alloc(ndead * sizeof(void *));
    CHECK(fresh != NULL);
    size_t reused = 0;
    for (size_t i = 0; i < ndead; i++) {
        void *p = noscan ? gc_alloc_noscan(size) : gc_alloc(size);
        CHECK(p != NULL);
        size_t us = gc_size(p);
        CHECK(all_zero(p, us),
              "size %zu noscan=%d half_live=%d: object %zu (%p) not zeroed after reuse", size,
              noscan, half_live, i, p);
        fresh[i] = p;
        /* binary search among the freed addresses (unhiding on the fly) */
        uintptr_t key = (uintptr_t)p;
        size_t lo = 0, hi = ndead;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if ((uintptr_t)UNHIDE(dead[mid]) < key)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < ndead && (uintptr_t)UNHIDE(dead[lo]) == key)
            reused++;
    }
    /* Slots are reused only in spans that stay in use, i.e. classes with several objects
     * per span (8192, 16384, 24576 and 32768 hold one: their spans go back to the page heap). */
    size_t cls = gc_size(fresh[0]);
    int one_per_span = cls == 8192 || cls == 16384 || cls == 24576 || cls == 32768;
    if (half_live && !one_per_span)
        CHECK(reused * 2 >= ndead,
              "size %zu noscan=%d: only %zu of %zu new objects reuse freed slots", size, noscan,
              reused, ndead);
    if (half_live)
        for (size_t i = 1; i < n; i += 2)
            CHECK(all_ff(keep[i / 2], size), "size %zu: live neighbour %zu clobbered", size, i);
    /* Clear the arrays before dropping them: should a stale copy of their address survive
     * somewhere (the scan is conservative), they must not pin the objects of this round,
     * whose freed pages later rounds reuse. */
    memset(fresh, 0, ndead * sizeof(void *));
    if (keep)
        memset(keep, 0, n / 2 * sizeof(void *));
    gc_keep_alive(fresh);
    gc_keep_alive(keep);
    free(old);
    free(dead);
}

/* Many live objects with distinct patterns: nothing overlaps or gets clobbered by
 * collections. */
static void patterns(void)
{
    enum { M = 20000 };
    void **keep = gc_alloc(M * sizeof(void *));
    CHECK(keep != NULL);
    for (size_t i = 0; i < M; i++) {
        size_t sz = 1 + (i * 7919) % 700;
        unsigned char *p = (i & 1) ? gc_alloc_noscan(sz) : gc_alloc(sz);
        CHECK(p != NULL);
        CHECK(all_zero(p, sz));
        memset(p, (int)(i % 251) + 1, sz);
        keep[i] = p;
        if (i % 5000 == 4999)
            gc_collect();
    }
    gc_collect();
    for (size_t i = 0; i < M; i++) {
        size_t sz = 1 + (i * 7919) % 700;
        const unsigned char *p = keep[i];
        CHECK(gc_base(p) == p, "live object %zu lost", i);
        for (size_t j = 0; j < sz; j++)
            CHECK(p[j] == (unsigned char)((i % 251) + 1), "object %zu byte %zu clobbered", i, j);
    }
    gc_keep_alive(keep);
}

int main(void)
{
    /* Implicit initialisation by the first allocation, then gc_init is idempotent. */
    void *first = gc_alloc(40);
    CHECK(first != NULL, "gc_alloc before gc_init");
    CHECK(all_zero(first, 40));
    CHECK(gc_init() == 0);
    CHECK(gc_init() == 0, "gc_init is idempotent");

    patterns();
    for (size_t i = 0; i < NSIZES; i++) {
        for (int k = 0; k < 4; k++)
            reuse_round(sizes[i], k & 1, k >> 1);
    }
    gc_memstats_t ms;
    read_ms(&ms);
    CHECK(ms.mallocs - ms.frees == ms.heap_objects);
    printf("t_alloc_basic: zeroing, reuse and %zu size rounds OK (%u GCs)\n", 4 * NSIZES,
           ms.num_gc);
    return 0;
}
