/*
 * t_types: precise layouts, arrays and realloc.
 *  - gc_type_new rejects unaligned offsets and offsets at or beyond the size (NULL, EINVAL),
 *    and accepts pointer-free and pointer-dense layouts;
 *  - gc_alloc_typed / gc_alloc_array give zeroed objects of at least the right size whose
 *    pointer fields keep their targets alive (array: every element);
 *  - gc_realloc keeps the contents (grow and shrink, small <-> large), zeroes the new tail,
 *    acts as gc_alloc for NULL, returns a minimal object for size 0, and keeps the scan kind:
 *    a realloc'd noscan object still does not retain what it points to, a realloc'd scan or
 *    typed object still does.
 */
#include "check.h"

#define N 4000

typedef struct pair {
    void *a;       /* pointer field */
    uintptr_t x;   /* data */
    void *b;       /* pointer field */
    uint64_t y;    /* data */
} pair_t;

static int all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return 0;
    return 1;
}

static void rejects(size_t size, const size_t *offs, size_t n, const char *what)
{
    errno = 0;
    gc_type_t *t = gc_type_new(size, offs, n);
    int e = errno;
    CHECK(t == NULL, "gc_type_new accepted %s", what);
    CHECK(e == EINVAL, "gc_type_new(%s): errno %d, want EINVAL", what, e);
}

/* Targets: objects whose only references are the ones under test. Their addresses are kept
 * hidden in `hidden`. */
static TEST_NOINLINE void *make_target(uintptr_t *hidden, size_t i)
{
    unsigned char *t = gc_alloc_noscan(64);
    CHECK(t != NULL);
    memset(t, 0x77, 64);
    hidden[i] = HIDE(t);
    return t;
}

static size_t count_alive(const uintptr_t *hidden, size_t n)
{
    size_t alive = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *t = UNHIDE(hidden[i]);
        if (gc_base(t) == t && t[0] == 0x77 && t[63] == 0x77)
            alive++;
    }
    return alive;
}

/* A container of kind `kind` (0 scan, 1 noscan, 2 typed with pointers at 0) holding N
 * pointers, then realloc'd to `newsize`. Returns how many targets survive a collection. */
static gc_type_t *ptr_type; /* one pointer-sized field */

static TEST_NOINLINE void *fill_container(int kind, uintptr_t *hidden, size_t newsize)
{
    void **c;
    if (kind == 0)
        c = gc_alloc(N * sizeof(void *));
    else if (kind == 1)
        c = gc_alloc_noscan(N * sizeof(void *));
    else
        c = gc_alloc_array(ptr_type, N);
    CHECK(c != NULL);
    for (size_t i = 0; i < N; i++)
        c[i] = make_target(hidden, i);
    void **r = gc_realloc(c, newsize);
    CHECK(r != NULL);
    for (size_t i = 0; i < N; i++)
        CHECK(r[i] == UNHIDE(hidden[i]), "gc_realloc lost element %zu", i);
    CHECK(all_zero((char *)r + N * sizeof(void *), newsize - N * sizeof(void *)),
          "grown tail not zeroed");
    return r;
}

static void *volatile g_container; /* static root for realloc_kind */

static void realloc_kind(int kind, size_t newsize, const char *name)
{
    static uintptr_t hidden[N];
    WITHOUT_AUTO_GC(g_container = fill_container(kind, hidden, newsize));
    churn_stack();
    gc_collect();
    size_t alive = count_alive(hidden, N);
    if (kind == 1)
        CHECK(alive * 10 <= N, "%s: %zu of %d targets retained by a realloc'd noscan object",
              name, alive, N);
    else
        CHECK(alive == N, "%s: only %zu of %d targets retained by a realloc'd %s object", name,
              alive, N, kind == 0 ? "scan" : "typed");
    g_container = NULL;
}

int main(void)
{
    CHECK(gc_init() == 0);

    /* gc_type_new validation. */
    {
        size_t o1[] = {4};
        rejects(16, o1, 1, "offset 4 (unaligned)");
        size_t o2[] = {0, 12};
        rejects(32, o2, 2, "offset 12 (unaligned)");
        size_t o3[] = {16};
        rejects(16, o3, 1, "offset == size");
        size_t o4[] = {0, 8, 800};
        rejects(64, o4, 3, "offset beyond size");
        size_t o5[] = {1};
        rejects(8, o5, 1, "offset 1");
        size_t o6[] = {(size_t)-8};
        rejects(64, o6, 1, "huge offset");

        size_t ok1[] = {0, 16};
        CHECK(gc_type_new(sizeof(pair_t), ok1, 2) != NULL);
        CHECK(gc_type_new(64, NULL, 0) != NULL, "pointer-free type rejected");
        size_t dense[128];
        for (size_t i = 0; i < 128; i++)
            dense[i] = i * 8;
        CHECK(gc_type_new(1024, dense, 128) != NULL, "all-pointer type rejected");
        size_t unsorted[] = {24, 0, 8};
        CHECK(gc_type_new(32, unsorted, 3) != NULL, "unsorted offsets rejected");
        size_t last[] = {56};
        CHECK(gc_type_new(64, last, 1) != NULL, "last-word pointer rejected");
        size_t bigoff[] = {0, 100000 - 8 - 100000 % 8};
        CHECK(gc_type_new(100000, bigoff, 2) != NULL, "large type rejected");
    }

    size_t po[] = {offsetof(pair_t, a), offsetof(pair_t, b)};
    gc_type_t *pt = gc_type_new(sizeof(pair_t), po, 2);
    CHECK(pt != NULL);
    size_t one[] = {0};
    ptr_type = gc_type_new(sizeof(void *), one, 1);
    CHECK(ptr_type != NULL);

    /* Typed objects: zeroed, usable, pointer fields keep targets alive. */
    {
        static uintptr_t hidden[N];
        static pair_t *volatile objs[N / 2]; /* static root */
        for (size_t i = 0; i < N / 2; i++) {
            pair_t *p = gc_alloc_typed(pt);
            CHECK(p != NULL);
            CHECK(gc_size(p) >= sizeof *p);
            CHECK(all_zero(p, gc_size(p)), "typed object not zeroed");
            p->a = make_target(hidden, 2 * i);
            p->b = make_target(hidden, 2 * i + 1);
            p->x = i;
            p->y = ~(uint64_t)i;
            objs[i] = p;
        }
        churn_stack();
        gc_collect();
        CHECK_EQ_U(count_alive(hidden, N), N);
        for (size_t i = 0; i < N / 2; i++)
            CHECK(objs[i]->x == i && objs[i]->y == ~(uint64_t)i);
        for (size_t i = 0; i < N / 2; i++)
            objs[i] = NULL;
    }

    /* Arrays: every element's pointer fields are traced, data fields kept. */
    {
        static uintptr_t hidden[N];
        static pair_t *volatile arr; /* static root */
        size_t count = N / 2;
        arr = gc_alloc_array(pt, count);
        CHECK(arr != NULL);
        CHECK(gc_size(arr) >= count * sizeof(pair_t));
        CHECK(all_zero(arr, count * sizeof(pair_t)), "array not zeroed");
        for (size_t i = 0; i < count; i++) {
            arr[i].a = make_target(hidden, 2 * i);
            arr[i].b = make_target(hidden, 2 * i + 1);
            arr[i].x = i * 3;
        }
        churn_stack();
        gc_collect();
        CHECK_EQ_U(count_alive(hidden, N), N);
        for (size_t i = 0; i < count; i++)
            CHECK(arr[i].x == i * 3);
        /* small arrays and a one-element array */
        for (size_t c = 1; c <= 40; c++) {
            pair_t *s = gc_alloc_array(pt, c);
            CHECK(s != NULL && gc_size(s) >= c * sizeof(pair_t));
            CHECK(all_zero(s, c * sizeof(pair_t)));
        }
        errno = 0;
        void *z = gc_alloc_array(pt, 0);
        (void)z; /* either NULL or a minimal object; must not crash */
        arr = NULL;
    }

    /* gc_realloc contents: after each step the whole object holds pat(i). */
    {
#define PAT(i) ((unsigned char)((i) * 7 + 3))
        unsigned char *p = gc_realloc(NULL, 100);
        CHECK(p != NULL, "gc_realloc(NULL, 100)");
        CHECK(gc_size(p) >= 100 && all_zero(p, 100));
        for (size_t i = 0; i < 100; i++)
            p[i] = PAT(i);
        size_t sizes[] = {200, 1000, 50, 40000, 1 << 20, 3000, 100, 16, 100, 33000, 32000};
        size_t cur = 100;
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k];
            unsigned char *q = gc_realloc(p, n);
            CHECK(q != NULL, "gc_realloc to %zu", n);
            CHECK(gc_size(q) >= n);
            CHECK(gc_base(q) == q);
            size_t keep = cur < n ? cur : n;
            for (size_t i = 0; i < keep; i++)
                CHECK(q[i] == PAT(i), "gc_realloc %zu -> %zu: byte %zu lost", cur, n, i);
            if (n > cur)
                CHECK(all_zero(q + cur, n - cur), "gc_realloc %zu -> %zu: new bytes not zero",
                      cur, n);
            for (size_t i = keep; i < n; i++)
                q[i] = PAT(i);
            p = q;
            cur = n;
        }
        void *z = gc_realloc(p, 0);
        CHECK(z != NULL, "gc_realloc(p, 0) should return a minimal object");
        CHECK(gc_base(z) == z);
#undef PAT
    }

    /* Typed realloc keeps its layout for the kept prefix. */
    {
        static uintptr_t hidden[2];
        static pair_t *volatile p; /* static root */
        p = gc_alloc_typed(pt);
        CHECK(p != NULL);
        p->a = make_target(hidden, 0);
        p->b = make_target(hidden, 1);
        p->x = 42;
        p = gc_realloc(p, 4 * sizeof(pair_t));
        CHECK(p != NULL);
        CHECK(p->x == 42 && p->a == UNHIDE(hidden[0]) && p->b == UNHIDE(hidden[1]));
        churn_stack();
        gc_collect();
        CHECK_EQ_U(count_alive(hidden, 2), 2);
        p = NULL;
    }

    /* Realloc keeps the scan kind (aggregate checks over N targets). */
    realloc_kind(0, N * sizeof(void *) + 64, "scan grow");
    realloc_kind(0, N * sizeof(void *) * 20, "scan grow large");
    realloc_kind(1, N * sizeof(void *) + 64, "noscan grow");
    realloc_kind(1, N * sizeof(void *) * 20, "noscan grow large");
    realloc_kind(2, N * sizeof(void *) + 64, "typed grow");
    realloc_kind(2, N * sizeof(void *), "typed same size");

    printf("t_types: type validation, typed objects, arrays and realloc OK\n");
    return 0;
}
