/*
 * t_noscan: pointers stored only inside gc_alloc_noscan objects do not keep their targets
 * alive, while the same pointers in a gc_alloc (scanned) object do (control).
 * Checked for small and large noscan containers, for pointers to object starts and
 * interiors, and for a noscan object that is itself reachable from a scanned one.
 */
#include "check.h"

#define N 10000

static void **volatile g_noscan;      /* live noscan container, rooted in .bss */
static void **volatile g_scan;        /* live scan container (control) */
static void **volatile g_noscan_small; /* many small noscan containers, each holding 4 pointers */

static size_t count_alive(const uintptr_t *hidden, size_t n, unsigned char tag)
{
    size_t alive = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = UNHIDE(hidden[i]);
        if (gc_base(p) == p && p[0] == tag && p[31] == tag)
            alive++;
    }
    return alive;
}

static TEST_NOINLINE void fill(void **container, uintptr_t *hidden, size_t n, unsigned char tag,
                               int interior)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char *t = gc_alloc(32);
        CHECK(t != NULL);
        memset(t, tag, 32);
        hidden[i] = HIDE(t);
        container[i] = interior ? t + 8 * (i % 4) : t;
    }
}

static TEST_NOINLINE void fill_small_containers(uintptr_t *hidden, size_t n, unsigned char tag)
{
    /* g_noscan_small is a scanned array of pointers to noscan boxes of 4 pointers each. */
    for (size_t i = 0; i < n / 4; i++) {
        void **box = gc_alloc_noscan(4 * sizeof(void *));
        CHECK(box != NULL);
        g_noscan_small[i] = box;
        fill(box, hidden + 4 * i, 4, tag, 0);
    }
}

static TEST_NOINLINE void make_containers(size_t n)
{
    g_noscan = gc_alloc_noscan(n * sizeof(void *));
    g_scan = gc_alloc(n * sizeof(void *));
    g_noscan_small = gc_alloc((n / 4) * sizeof(void *));
    CHECK(g_noscan && g_scan && g_noscan_small);
}

int main(void)
{
    CHECK(gc_init() == 0);
    static uintptr_t hid_noscan[N], hid_scan[N], hid_small[N];

    for (int round = 0; round < 2; round++) {
        /* round 0: containers of N pointers (80 KB: large objects);
         * round 1: 2000-pointer containers (16 KB: small objects), interior pointers. */
        size_t n = round == 0 ? N : 2000;
        int interior = round == 1;
        make_containers(n);
        WITHOUT_AUTO_GC(fill(g_noscan, hid_noscan, n, 0xa1, interior));
        WITHOUT_AUTO_GC(fill(g_scan, hid_scan, n, 0xb2, interior));
        WITHOUT_AUTO_GC(fill_small_containers(hid_small, n, 0xc3));
        churn_stack();
        gc_collect();

        size_t alive_scan = count_alive(hid_scan, n, 0xb2);
        size_t alive_noscan = count_alive(hid_noscan, n, 0xa1);
        size_t alive_small = count_alive(hid_small, n, 0xc3);
        CHECK(gc_base(g_noscan) == g_noscan, "the noscan container itself was freed");
        CHECK(gc_base(g_noscan_small[0]) == g_noscan_small[0], "a small noscan box was freed");
        CHECK(alive_scan == n, "round %d: only %zu of %zu targets of a scanned container survived",
              round, alive_scan, n);
        CHECK(alive_noscan * 10 <= n,
              "round %d: %zu of %zu targets referenced only from a noscan object survived",
              round, alive_noscan, n);
        CHECK(alive_small * 10 <= n,
              "round %d: %zu of %zu targets referenced only from small noscan boxes survived",
              round, alive_small, n);
        /* The pointers are still stored in the noscan containers (never touched by the GC). */
        for (size_t i = 0; i < n; i++) {
            void *want = UNHIDE(hid_noscan[i]);
            if (interior)
                want = (char *)want + 8 * (i % 4);
            CHECK(g_noscan[i] == want, "noscan container modified");
        }
        printf("round %d: scan %zu/%zu alive, noscan %zu/%zu alive, small noscan %zu/%zu alive\n",
               round, alive_scan, n, alive_noscan, n, alive_small, n);
        g_noscan = g_scan = g_noscan_small = NULL;
    }
    printf("t_noscan: OK\n");
    return 0;
}
