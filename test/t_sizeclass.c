/*
 * t_sizeclass: the allocator uses Go's 68-entry size-class table.
 *  - the hard-coded table below is self-consistent (objects per span, tail waste, alignment);
 *  - for every request 1..32768, gc_size(gc_alloc_noscan(n)) is the smallest class >= n
 *    (32761..32768 are "large" but still occupy exactly 32768 bytes = 4 pages);
 *  - pointerful objects get at least the requested size;
 *  - objects of one class never overlap, and interior pointers map to the object start.
 */
#include "check.h"

#define NCLASS 68

/* Go's internal/runtime/gc/sizeclasses.go, class 0 = large. */
static const unsigned class_size[NCLASS] = {
    0,     8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,
    160,   176,   192,   208,   224,   240,   256,   288,   320,   352,   384,   416,
    448,   480,   512,   576,   640,   704,   768,   896,   1024,  1152,  1280,  1408,
    1536,  1792,  2048,  2304,  2688,  3072,  3200,  3456,  4096,  4864,  5376,  6144,
    6528,  6784,  6912,  8192,  9472,  9728,  10240, 10880, 12288, 13568, 14336, 16384,
    18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768};
static const unsigned class_pages[NCLASS] = {
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3,
    4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8, 3, 10, 7, 4};
/* objects per span and tail waste, as printed in the Go table */
static const unsigned class_objects[NCLASS] = {
    0,   1024, 512, 341, 256, 170, 128, 102, 85, 73, 64, 56, 51, 46, 42, 39, 36,
    34,  32,   28,  25,  23,  21,  19,  18,  17, 16, 14, 12, 11, 10, 9,  8,  7,
    6,   11,   5,   9,   4,   7,   3,   8,   5,  7,  2,  5,  3,  4,  5,  6,  7,
    1,   6,    5,   4,   3,   2,   3,   4,   1,  4,  3,  2,  3,  1,  3,  2,  1};
static const unsigned class_tail[NCLASS] = {
    0,   0,   0,   8,   0,   32,  0,   32,  32,  16,  0,   128, 32,  96, 128, 80,  128,
    32,  0,   128, 192, 96,  128, 288, 128, 32,  0,   128, 512, 448, 512, 128, 0,
    128, 512, 896, 512, 256, 0,   256, 128, 0,   384, 384, 0,   256, 256, 0,   128,
    256, 768, 0,   512, 512, 0,   128, 0,   256, 0,   0,   0,   128, 0,   256, 0,
    128, 0,   0};

#define PAGE 8192u

static unsigned smallest_class(size_t n)
{
    for (int c = 1; c < NCLASS; c++)
        if (class_size[c] >= n)
            return class_size[c];
    return 0;
}

static void check_table(void)
{
    for (int c = 1; c < NCLASS; c++) {
        unsigned s = class_size[c], span = class_pages[c] * PAGE;
        CHECK(s % 8 == 0, "class %d size %u", c, s);
        CHECK(c == 1 || s > class_size[c - 1], "class %d not increasing", c);
        CHECK(class_pages[c] >= 1 && class_pages[c] <= 10, "class %d pages", c);
        CHECK(span / s == class_objects[c], "class %d: %u objects computed, %u in table", c,
              span / s, class_objects[c]);
        CHECK(span % s == class_tail[c], "class %d: tail %u computed, %u in table", c,
              span % s, class_tail[c]);
        CHECK(span / s <= 1024, "class %d: too many objects per span", c);
        /* Worst-case waste stays near 12.5% except for the tiniest classes. */
        unsigned prev = class_size[c - 1];
        double maxwaste = ((double)(s - prev - 1) * (span / s) + span % s) / span;
        CHECK(c < 8 || maxwaste < 0.17, "class %d max waste %.3f", c, maxwaste);
        /* The alignment rule of the contract relies on this: every class >= 32 is a
         * multiple of 16. */
        CHECK(s < 32 || s % 16 == 0, "class %d", c);
    }
    CHECK_EQ_U(class_size[NCLASS - 1], 32768);
}

/* Allocate one noscan object of every size from 1 to 32768 and check its usable size. */
static void check_every_size(void)
{
    unsigned bad = 0;
    for (size_t n = 1; n <= 32768; n++) {
        void *p = gc_alloc_noscan(n);
        CHECK(p != NULL, "gc_alloc_noscan(%zu) failed", n);
        size_t got = gc_size(p);
        size_t want = smallest_class(n);
        if (got != want) {
            if (bad++ < 10)
                fprintf(stderr, "gc_size(gc_alloc_noscan(%zu)) = %zu, want %zu\n", n, got, want);
        }
        CHECK(gc_base(p) == p, "gc_base of fresh object %zu", n);
        /* Touch the first and last usable byte. */
        ((volatile char *)p)[0] = 1;
        ((volatile char *)p)[n - 1] = 1;
    }
    CHECK(bad == 0, "%u sizes map to the wrong size class", bad);

    /* Pointerful objects: at least the request (a malloc header may reduce usable size). */
    for (size_t n = 1; n <= 32768; n += (n < 1100 ? 1 : 61)) {
        void *p = gc_alloc(n);
        CHECK(p != NULL, "gc_alloc(%zu)", n);
        size_t got = gc_size(p);
        CHECK(got >= n, "gc_size(gc_alloc(%zu)) = %zu", n, got);
        CHECK(got <= 32768 + PAGE, "gc_size(gc_alloc(%zu)) = %zu too big", n, got);
        CHECK(gc_base((char *)p + n - 1) == p, "gc_alloc(%zu) last byte base", n);
    }
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* For every class: allocate three spans' worth, check no two objects overlap and that each
 * object's interior maps back to it. */
static void check_layout(void)
{
    uintptr_t *addr = malloc(sizeof(uintptr_t) * 3 * 1024);
    CHECK(addr != NULL);
    for (int c = 1; c < NCLASS; c++) {
        unsigned s = class_size[c];
        if (s > 32760)
            continue; /* the 32768 class is reached only by large objects */
        unsigned k = class_objects[c] * 3;
        /* Keep them alive through a GC-visible root: a scan array on the heap. */
        void **keep = gc_alloc(sizeof(void *) * k);
        CHECK(keep != NULL);
        for (unsigned i = 0; i < k; i++) {
            keep[i] = gc_alloc_noscan(s);
            CHECK(keep[i] != NULL);
            CHECK_EQ_U(gc_size(keep[i]), s);
            CHECK_EQ_P(gc_base((char *)keep[i] + s - 1), keep[i]);
            CHECK_EQ_P(gc_base((char *)keep[i] + s / 2), keep[i]);
            memset(keep[i], (int)(i & 0xff), s);
            addr[i] = (uintptr_t)keep[i];
        }
        qsort(addr, k, sizeof addr[0], cmp_ptr);
        for (unsigned i = 1; i < k; i++)
            CHECK(addr[i] - addr[i - 1] >= s, "class %u: objects %#lx and %#lx overlap", s,
                  (unsigned long)addr[i - 1], (unsigned long)addr[i]);
        for (unsigned i = 0; i < k; i++) {
            const unsigned char *q = keep[i];
            CHECK(q[0] == (i & 0xff) && q[s - 1] == (i & 0xff), "class %u object %u clobbered",
                  s, i);
        }
        gc_keep_alive(keep);
    }
    free(addr);
}

int main(void)
{
    CHECK(gc_init() == 0);
    check_table();
    check_every_size();
    check_layout();
    printf("t_sizeclass: %d classes, sizes 1..32768 OK\n", NCLASS - 1);
    return 0;
}
