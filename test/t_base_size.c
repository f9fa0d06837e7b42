/*
 * t_base_size: gc_base / gc_size on GC pointers and on everything else.
 *  - start, interior and last byte of an object map to its start and usable size, for every
 *    small size class, large objects, and typed/array objects;
 *  - one past the end belongs to the next slot (or nothing), never to the object;
 *  - foreign pointers (stack, malloc, static data, code, NULL, small integers, wild values)
 *    give NULL / 0.
 */
#include "check.h"

static const unsigned class_size[] = {
    8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,   160,
    176,   192,   208,   224,   240,   256,   288,   320,   352,   384,   416,   448,
    480,   512,   576,   640,   704,   768,   896,   1024,  1152,  1280,  1408,  1536,
    1792,  2048,  2304,  2688,  3072,  3200,  3456,  4096,  4864,  5376,  6144,  6528,
    6784,  6912,  8192,  9472,  9728,  10240, 10880, 12288, 13568, 14336, 16384, 18432,
    19072, 20480, 21760, 24576, 27264, 28672, 32768};
#define NCLASS (sizeof class_size / sizeof class_size[0])

static char static_buf[256];
static const char static_ro[64] = "read-only data";

static void check_object(void *p, size_t req, int exact)
{
    char *c = p;
    size_t us = gc_size(p);
    CHECK(us >= req, "gc_size %zu < request %zu", us, req);
    if (exact)
        CHECK_EQ_U(us, exact);
    size_t offs[] = {0, 1, 7, 8, req / 2, req - 1, us - 1};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        if (offs[i] >= us)
            continue;
        CHECK(gc_base(c + offs[i]) == p, "gc_base(%p + %zu) = %p, want %p (size %zu)", p,
              offs[i], gc_base(c + offs[i]), p, us);
        CHECK(gc_size(c + offs[i]) == us, "gc_size(%p + %zu) = %zu, want %zu", p, offs[i],
              gc_size(c + offs[i]), us);
    }
    /* One past the end: NULL (free slot / end of span) or the start of the next object. */
    void *b = gc_base(c + us);
    CHECK(b != p, "one-past-end of %p (%zu) maps to the object itself", p, us);
    CHECK(b == NULL || (char *)b >= c + us, "one-past-end of %p (%zu) maps to %p", p, us, b);
    if (b == NULL)
        CHECK(gc_size(c + us) == 0);
}

static TEST_NOINLINE void check_foreign(const void *p, const char *what)
{
    CHECK(gc_base(p) == NULL, "gc_base(%s %p) = %p", what, p, gc_base(p));
    CHECK(gc_size(p) == 0, "gc_size(%s %p) = %zu", what, p, gc_size(p));
}

int main(void)
{
    CHECK(gc_init() == 0);

    /* Every small class, noscan (exact size) and scan (at least the request). */
    void **keep = gc_alloc(NCLASS * 4 * sizeof(void *));
    CHECK(keep != NULL);
    for (size_t k = 0; k < NCLASS; k++) {
        size_t s = class_size[k];
        if (s > 32760)
            continue;
        for (int j = 0; j < 2; j++) {
            void *p = gc_alloc_noscan(s);
            CHECK(p != NULL);
            check_object(p, s, (int)s);
            keep[k * 4 + j] = p;
            void *q = gc_alloc(s);
            CHECK(q != NULL);
            check_object(q, s, 0);
            keep[k * 4 + 2 + j] = q;
        }
        /* A request one byte above the previous class lands in this class. */
        if (k > 0) {
            void *p = gc_alloc_noscan(class_size[k - 1] + 1);
            CHECK(p != NULL);
            check_object(p, class_size[k - 1] + 1, (int)s);
        }
    }

    /* Consecutive objects of one class: the one-past-end pointer of each belongs to the
     * next if they are adjacent. */
    {
        enum { M = 64 };
        char *objs[M];
        for (int i = 0; i < M; i++) {
            objs[i] = gc_alloc_noscan(48);
            CHECK(objs[i] != NULL);
        }
        for (int i = 0; i + 1 < M; i++)
            if (objs[i + 1] == objs[i] + 48)
                CHECK_EQ_P(gc_base(objs[i] + 48), objs[i + 1]);
        gc_keep_alive(objs);
    }

    /* Large objects. */
    size_t lsz[] = {32761, 50000, 1 << 20, 5000000};
    for (size_t i = 0; i < sizeof lsz / sizeof lsz[0]; i++) {
        void *p = gc_alloc(lsz[i]);
        CHECK(p != NULL);
        check_object(p, lsz[i], 0);
        void *q = gc_alloc_noscan(lsz[i]);
        CHECK(q != NULL);
        check_object(q, lsz[i], 0);
        gc_keep_alive(p);
        gc_keep_alive(q);
    }

    /* Typed objects and arrays. */
    {
        size_t offs[] = {0, 16};
        gc_type_t *t = gc_type_new(40, offs, 2);
        CHECK(t != NULL);
        void *a = gc_alloc_typed(t);
        CHECK(a != NULL);
        check_object(a, 40, 0);
        void *arr = gc_alloc_array(t, 1000);
        CHECK(arr != NULL);
        check_object(arr, 40000, 0);
        CHECK_EQ_P(gc_base((char *)arr + 40 * 500 + 8), arr);
        void *small_arr = gc_alloc_array(t, 3);
        CHECK(small_arr != NULL);
        check_object(small_arr, 120, 0);
        gc_keep_alive(a);
        gc_keep_alive(arr);
        gc_keep_alive(small_arr);
    }

    /* Objects survive a collection and still answer the same. */
    gc_collect();
    for (size_t k = 0; k < NCLASS; k++) {
        if (class_size[k] > 32760)
            continue;
        CHECK_EQ_P(gc_base(keep[k * 4]), keep[k * 4]);
        CHECK_EQ_U(gc_size((char *)keep[k * 4] + class_size[k] - 1), class_size[k]);
    }
    gc_keep_alive(keep);

    /* Foreign pointers. */
    int local = 5;
    char stack_buf[128];
    void *m = malloc(100);
    void *big_m = malloc(1 << 20);
    CHECK(m && big_m);
    check_foreign(NULL, "NULL");
    check_foreign((void *)1, "1");
    check_foreign((void *)8, "8");
    check_foreign((void *)4095, "4095");
    check_foreign((void *)4096, "4096");
    check_foreign((void *)0x10000, "0x10000");
    check_foreign((void *)UINTPTR_MAX, "UINTPTR_MAX");
    check_foreign((void *)(UINTPTR_MAX - 7), "UINTPTR_MAX-7");
    check_foreign((void *)((uintptr_t)1 << 47), "1<<47");
    check_foreign((void *)((uintptr_t)1 << 63), "1<<63");
    check_foreign(&local, "stack int");
    check_foreign(stack_buf + 17, "stack buffer");
    check_foreign(m, "malloc");
    check_foreign((char *)m + 50, "malloc interior");
    check_foreign(big_m, "large malloc");
    check_foreign(static_buf, "static .bss");
    check_foreign(static_ro + 3, "static .rodata");
    check_foreign((const void *)(uintptr_t)&main, "code");
    check_foreign("string literal", "string literal");
    check_foreign(&errno, "errno (TLS)");
    free(m);
    free(big_m);

    printf("t_base_size: %zu classes, large, typed and foreign pointers OK\n", NCLASS);
    return 0;
}
