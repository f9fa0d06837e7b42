/*
 * t_unique: gc_unique_bytes (Go's unique.Make for byte strings).
 *  - equal content gives the same pointer, different content different pointers; the copy
 *    is NUL-terminated, equal to the input, and GC memory (embedded NULs and n == 0 too);
 *  - a lookup of content already present allocates nothing (memstats mallocs unchanged);
 *  - unused copies are collected (their weak handles clear, memstats objects drop) and the
 *    table forgets them: the same content interned again is a fresh, valid copy;
 *  - two threads interning the same strings at once get the same pointers.
 */
#include "lifetime.h"

#include <pthread.h>

#define NSTR 2000
#define NTMP 5000

static const void *ptrs[2][NSTR];

static void name(char *buf, size_t cap, const char *pre, int i)
{
    snprintf(buf, cap, "%s-%d-%08x", pre, i, (unsigned)test_mix((uint64_t)i));
}

static void *intern_all(void *arg)
{
    int k = (int)(intptr_t)arg;
    char buf[64];
    for (int r = 0; r < 3; r++)
        for (int j = 0; j < NSTR; j++) {
            int i = k ? NSTR - 1 - j : j;
            name(buf, sizeof buf, "sym", i);
            const void *p = gc_unique_bytes(buf, strlen(buf));
            CHECK(p != NULL);
            if (r && ptrs[k][i] != p)
                FAIL("thread %d: %s interned twice to different copies", k, buf);
            ptrs[k][i] = p;
        }
    return NULL;
}

static gc_weak_t *tmp_w;   /* GC array of handles to the temporary copies */

static void make_tmp(void *unused)
{
    (void)unused;
    char buf[64];
    for (int i = 0; i < NTMP; i++) {
        name(buf, sizeof buf, "tmp", i);
        const void *p = gc_unique_bytes(buf, strlen(buf));
        CHECK(p != NULL);
        tmp_w[i] = gc_weak_make((void *)p);
        CHECK(tmp_w[i] != NULL);
    }
}

int main(void)
{
    gc_init();
    const char *a = gc_unique_bytes("hello", 5);
    char hb[] = "hello";
    const char *b = gc_unique_bytes(hb, 5);
    const char *c = gc_unique_bytes("hellp", 5);
    const char *d = gc_unique_bytes("hell", 4);
    CHECK(a && a == b, "equal content, different copies");
    CHECK(c && c != a && d && d != a);
    CHECK(strcmp(a, "hello") == 0 && a[5] == 0 && strcmp(d, "hell") == 0);
    CHECK(gc_base(a) == a && gc_base(a) != gc_base(hb), "the copy must be GC memory");
    const char *e0 = gc_unique_bytes("", 0), *e1 = gc_unique_bytes(NULL, 0);
    CHECK(e0 && e0 == e1 && e0[0] == 0);
    const char bin[] = {'a', 0, 'b', 0, 'c'};
    const char *x = gc_unique_bytes(bin, 5), *y = gc_unique_bytes("a", 1);
    CHECK(x && x != y && memcmp(x, bin, 5) == 0 && x[5] == 0 && x == gc_unique_bytes(bin, 5));
    errno = 0;
    CHECK(gc_unique_bytes(NULL, 3) == NULL && errno == EINVAL);

    /* present: no allocation */
    gc_memstats_t m0, m1;
    gc_read_memstats(&m0);
    for (int i = 0; i < 1000; i++)
        CHECK(gc_unique_bytes("hello", 5) == a);
    gc_read_memstats(&m1);
    CHECK(m1.mallocs == m0.mallocs, "lookups of present content allocated %llu objects",
          (unsigned long long)(m1.mallocs - m0.mallocs));

    /* threads */
    pthread_t th[2];
    for (int k = 0; k < 2; k++)
        CHECK(gc_pthread_create(&th[k], NULL, intern_all, (void *)(intptr_t)k) == 0);
    for (int k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
    for (int i = 0; i < NSTR; i++)
        CHECK(ptrs[0][i] == ptrs[1][i], "string %d: threads got different copies", i);
    gc_collect();
    char buf[64];
    for (int i = 0; i < NSTR; i++) {
        name(buf, sizeof buf, "sym", i);
        CHECK(gc_unique_bytes(buf, strlen(buf)) == ptrs[0][i], "a referenced copy was replaced");
    }

    /* unused copies are collected, and forgotten */
    tmp_w = gc_alloc(NTMP * sizeof *tmp_w);
    gc_set_percent(-1);
    lt_in_thread(make_tmp, NULL);
    gc_read_memstats(&m0);
    int cleared = 0;
    for (int r = 0; r < 4 && cleared < NTMP * 95 / 100; r++) {
        lt_collect();
        gc_run_finalizers();   /* the cleanups that drop table entries */
        cleared = 0;
        for (int i = 0; i < NTMP; i++)
            cleared += gc_weak_get(tmp_w[i]) == NULL;
    }
    lt_collect();
    gc_read_memstats(&m1);
    printf("%d of %d unused copies collected; heap objects %llu -> %llu\n", cleared, NTMP,
           (unsigned long long)m0.heap_objects, (unsigned long long)m1.heap_objects);
    CHECK(cleared >= NTMP * 95 / 100, "only %d of %d unused copies collected", cleared, NTMP);
    CHECK(m1.heap_objects + NTMP * 9 / 10 <= m0.heap_objects, "memstats: the copies were not freed");
    for (int i = 0; i < NTMP; i += 7) {
        name(buf, sizeof buf, "tmp", i);
        const char *p = gc_unique_bytes(buf, strlen(buf));
        CHECK(p && strcmp(p, buf) == 0 && p == gc_unique_bytes(buf, strlen(buf)));
    }
    gc_keep_alive(a);
    gc_keep_alive(c);
    gc_keep_alive(d);
    gc_keep_alive(x);
    printf("t_unique: ok\n");
    return 0;
}
