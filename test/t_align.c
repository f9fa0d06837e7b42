/*
 * t_align: the contract's alignment rule, for every kind of allocation.
 * An object is 16-byte aligned if its size class (the smallest Go class >= request) is a
 * multiple of 16 and >= 16; otherwise it is at least 8-byte aligned. Large objects
 * (> 32760 B) are page aligned and hence 16-aligned.
 * Checked for noscan, conservative-scan, typed, array and realloc'd objects, several objects
 * per size so that every slot position of a span is seen.
 */
#include "check.h"

static const unsigned class_size[] = {
    8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,   160,
    176,   192,   208,   224,   240,   256,   288,   320,   352,   384,   416,   448,
    480,   512,   576,   640,   704,   768,   896,   1024,  1152,  1280,  1408,  1536,
    1792,  2048,  2304,  2688,  3072,  3200,  3456,  4096,  4864,  5376,  6144,  6528,
    6784,  6912,  8192,  9472,  9728,  10240, 10880, 12288, 13568, 14336, 16384, 18432,
    19072, 20480, 21760, 24576, 27264, 28672, 32768};

static size_t size_class(size_t n)
{
    if (n > 32760)
        return 0; /* large */
    for (size_t i = 0; i < sizeof class_size / sizeof class_size[0]; i++)
        if (class_size[i] >= n)
            return class_size[i];
    return 0;
}

static size_t required_align(size_t n)
{
    size_t c = size_class(n);
    if (c == 0)
        return 4096;
    if (n >= 16 && c % 16 == 0)
        return 16;
    return 8;
}

static unsigned long failures;

static void check_align(const void *p, size_t n, const char *kind)
{
    size_t a = required_align(n);
    CHECK(p != NULL, "%s(%zu) returned NULL", kind, n);
    if ((uintptr_t)p % a != 0) {
        if (failures++ < 12)
            fprintf(stderr, "%s(%zu) = %p: not %zu-byte aligned\n", kind, n, p, a);
    }
}

int main(void)
{
    CHECK(gc_init() == 0);
    unsigned long checked = 0;
    enum { PER = 5 };

    /* Every request size up to 4 KiB, then a stride up to the small limit, then large. */
    for (size_t n = 1; n <= 40000; n += (n < 4096 ? 1 : n < 33000 ? 97 : 1009)) {
        for (int k = 0; k < PER; k++) {
            check_align(gc_alloc_noscan(n), n, "gc_alloc_noscan");
            check_align(gc_alloc(n), n, "gc_alloc");
            checked += 2;
        }
    }
    for (size_t n = 32750; n <= 32780; n++) {
        check_align(gc_alloc_noscan(n), n, "gc_alloc_noscan");
        check_align(gc_alloc(n), n, "gc_alloc");
        checked += 2;
    }

    /* Typed objects: sizes multiple of 8, pointers at a few offsets. */
    for (size_t sz = 8; sz <= 8192; sz += (sz < 1024 ? 8 : 136)) {
        size_t offs[3] = {0, (sz / 2) & ~(size_t)7, sz - 8};
        gc_type_t *t = gc_type_new(sz, offs, 3);
        CHECK(t != NULL, "gc_type_new(%zu)", sz);
        for (int k = 0; k < PER; k++) {
            check_align(gc_alloc_typed(t), sz, "gc_alloc_typed");
            checked++;
        }
        size_t counts[] = {1, 2, 3, 7, 100};
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            if (sz * counts[c] > 1000000)
                continue;
            check_align(gc_alloc_array(t, counts[c]), sz * counts[c], "gc_alloc_array");
            checked++;
        }
    }

    /* gc_realloc to many sizes, from each kind. */
    {
        size_t offs[1] = {0};
        gc_type_t *t = gc_type_new(24, offs, 1);
        CHECK(t != NULL);
        for (size_t n = 1; n <= 3000; n += 7) {
            void *a = gc_alloc(10), *b = gc_alloc_noscan(10), *c = gc_alloc_typed(t);
            check_align(gc_realloc(a, n), n, "gc_realloc(scan)");
            check_align(gc_realloc(b, n), n, "gc_realloc(noscan)");
            check_align(gc_realloc(c, n), n, "gc_realloc(typed)");
            check_align(gc_realloc(NULL, n), n, "gc_realloc(NULL)");
            checked += 4;
        }
    }

    CHECK(failures == 0, "%lu of %lu allocations misaligned", failures, checked);
    printf("t_align: %lu allocations correctly aligned\n", checked);
    return 0;
}
