/*
 * t_typed_precise: a typed object keeps alive only what its declared pointer fields point to.
 * Layout: { void *ptr; uintptr_t data; void *ptr2; uintptr_t data2; uint64_t pad[4] } with
 * pointer fields at 0 and 16. Pointers stored in data fields (start or interior) must not
 * keep their targets alive; pointer fields (start or interior) must.
 * Checked for single typed objects, arrays (gc_alloc_array), large typed objects and
 * a pointer-free type.
 */
#include "check.h"

#define N 5000

typedef struct rec {
    void *ptr;       /* pointer */
    uintptr_t data;  /* not a pointer */
    void *ptr2;      /* pointer */
    uintptr_t data2; /* not a pointer */
    uint64_t pad[4]; /* not pointers */
} rec_t;

static gc_type_t *rec_type, *nop_type;
static rec_t **volatile g_recs; /* scanned array of typed objects */
static rec_t *volatile g_arr;  /* typed array */
static rec_t *volatile g_big;  /* large typed array */
static void **volatile g_nop;  /* objects of a pointer-free type */

static uintptr_t hA[N], hB[N], hC[N], hD[N], hE[N];

static TEST_NOINLINE void *target(uintptr_t *h, size_t i, unsigned char tag)
{
    unsigned char *t = gc_alloc(48);
    CHECK(t != NULL);
    memset(t, tag, 48);
    h[i] = HIDE(t);
    return t;
}

static size_t alive(const uintptr_t *h, size_t n, unsigned char tag)
{
    size_t a = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = UNHIDE(h[i]);
        if (gc_base(p) == p && p[0] == tag && p[47] == tag)
            a++;
    }
    return a;
}

static void fill_rec(rec_t *r, size_t i)
{
    r->ptr = target(hA, i, 0xa0);                                  /* kept */
    r->data = (uintptr_t)target(hB, i, 0xb0);                      /* not kept */
    r->ptr2 = (char *)target(hC, i, 0xc0) + 20;                    /* interior, kept */
    r->data2 = (uintptr_t)target(hD, i, 0xd0) + 8;                 /* interior, not kept */
    r->pad[i % 4] = (uintptr_t)target(hE, i, 0xe0);                /* not kept */
}

static void verify(const char *what, size_t n)
{
    size_t a = alive(hA, n, 0xa0), b = alive(hB, n, 0xb0), c = alive(hC, n, 0xc0),
           d = alive(hD, n, 0xd0), e = alive(hE, n, 0xe0);
    printf("%s: pointer fields %zu+%zu/%zu alive; data fields %zu+%zu+%zu/%zu alive\n", what, a,
           c, n, b, d, e, n);
    CHECK(a == n, "%s: only %zu of %zu targets of pointer fields survived", what, a, n);
    CHECK(c == n, "%s: only %zu of %zu interior targets of pointer fields survived", what, c, n);
    CHECK(b * 10 <= n, "%s: %zu of %zu targets of data fields survived", what, b, n);
    CHECK(d * 10 <= n, "%s: %zu of %zu interior targets of data fields survived", what, d, n);
    CHECK(e * 10 <= n, "%s: %zu of %zu targets of padding survived", what, e, n);
}

static TEST_NOINLINE void build_singles(void)
{
    g_recs = gc_alloc(N * sizeof(rec_t *));
    CHECK(g_recs != NULL);
    for (size_t i = 0; i < N; i++) {
        rec_t *r = gc_alloc_typed(rec_type);
        CHECK(r != NULL);
        fill_rec(r, i);
        g_recs[i] = r;
    }
}

static TEST_NOINLINE void build_array(void)
{
    g_arr = gc_alloc_array(rec_type, N);
    CHECK(g_arr != NULL);
    for (size_t i = 0; i < N; i++)
        fill_rec(&g_arr[i], i);
}

static TEST_NOINLINE void build_big(size_t n)
{
    /* n records in one large object, n * 64 bytes > 32 KiB */
    g_big = gc_alloc_array(rec_type, n);
    CHECK(g_big != NULL);
    for (size_t i = 0; i < n; i++)
        fill_rec(&g_big[i], i);
}

static TEST_NOINLINE void build_nop(void)
{
    g_nop = gc_alloc(N * sizeof(void *));
    CHECK(g_nop != NULL);
    for (size_t i = 0; i < N; i++) {
        void **o = gc_alloc_typed(nop_type);
        CHECK(o != NULL);
        o[0] = target(hB, i, 0xb0);
        o[3] = target(hD, i, 0xd0);
        g_nop[i] = o;
    }
}

int main(void)
{
    CHECK(gc_init() == 0);
    size_t offs[] = {offsetof(rec_t, ptr), offsetof(rec_t, ptr2)};
    rec_type = gc_type_new(sizeof(rec_t), offs, 2);
    CHECK(rec_type != NULL);
    nop_type = gc_type_new(64, NULL, 0);
    CHECK(nop_type != NULL);

    WITHOUT_AUTO_GC(build_singles());
    churn_stack();
    gc_collect();
    verify("gc_alloc_typed", N);
    for (size_t i = 0; i < N; i++)
        CHECK(g_recs[i]->ptr == UNHIDE(hA[i]) && g_recs[i]->data == (uintptr_t)UNHIDE(hB[i]),
              "typed object fields modified");
    g_recs = NULL;

    WITHOUT_AUTO_GC(build_array());
    churn_stack();
    gc_collect();
    verify("gc_alloc_array", N);
    g_arr = NULL;

    WITHOUT_AUTO_GC(build_big(2000));
    churn_stack();
    gc_collect();
    verify("large typed array", 2000);
    g_big = NULL;

    WITHOUT_AUTO_GC(build_nop());
    churn_stack();
    gc_collect();
    {
        size_t b = alive(hB, N, 0xb0), d = alive(hD, N, 0xd0);
        printf("pointer-free type: %zu+%zu/%d targets alive\n", b, d, N);
        CHECK(b * 10 <= N && d * 10 <= N, "pointer-free typed objects retained %zu+%zu of %d",
              b, d, N);
        CHECK(gc_base(g_nop[0]) == g_nop[0]);
    }
    g_nop = NULL;
    printf("t_typed_precise: OK\n");
    return 0;
}
