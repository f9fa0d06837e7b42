/*
 * t_enomem: running out of memory.
 *  - fault injection (gcrt_fault_set, an internal hook of libgcrt.a): a failed heap growth
 *    makes gc_alloc return NULL with errno ENOMEM after calling the oom handler with the
 *    requested size; once the fault is disabled the heap works again;
 *  - a failing madvise (memory release) is tolerated;
 *  - absurd requests (SIZE_MAX, SIZE_MAX/2, ...) and gc_alloc_array overflow return NULL
 *    with ENOMEM without crashing; gc_realloc to an absurd size leaves the old object intact;
 *  - gc_set_oom_handler returns the previous handler;
 *  - an oom handler that makes memory available again (here: lifts the fault) gets the
 *    allocation retried, which then succeeds;
 *  - the n-th mmap failing, for n = 1..6, under each kind of allocation (small, typed,
 *    noscan, large): NULL + ENOMEM or success, never a crash, and the heap works after;
 *  - the n-th mmap part runs in a child with GODEBUG=gcverify=1,gcpoison=1, the rest in a
 *    child with GODEBUG=gcverify=1 and then here: every collection on the way (the one the
 *    failing allocation runs included) checks the heap.
 */
#include "check.h"

/* Internal (hidden-visibility) hook of libgcrt.a: kind 0 = mmap, 1 = madvise; the nth call
 * from now fails; 0 disables. */
void gcrt_fault_set(int kind, long nth);

#define MiB ((size_t)1 << 20)
static size_t round_up_mib(uint64_t n) { return (size_t)((n + MiB - 1) / MiB * MiB); }

static volatile int oom_calls;
static volatile size_t oom_size;

static void on_oom(size_t size)
{
    oom_calls++;
    oom_size = size;
}

static void other_handler(size_t size) { (void)size; }

static void reset_oom(void)
{
    oom_calls = 0;
    oom_size = 0;
}

/* An absurd request: NULL, errno ENOMEM, no crash. */
static void absurd(const char *what, void *p)
{
    int e = errno;
    CHECK(p == NULL, "%s returned %p", what, p);
    CHECK(e == ENOMEM, "%s: errno %d, want ENOMEM", what, e);
}

/* Returns 1 if the heap is usable: allocate, write and verify a few objects. */
static void heap_works(const char *when)
{
    enum { K = 2000 };
    void **keep = gc_alloc(K * sizeof(void *));
    CHECK(keep != NULL, "%s: gc_alloc failed", when);
    for (int i = 0; i < K; i++) {
        size_t n = 16 + (size_t)(i * 37) % 5000;
        keep[i] = (i & 1) ? gc_alloc_noscan(n) : gc_alloc(n);
        CHECK(keep[i] != NULL, "%s: alloc %zu failed", when, n);
        memset(keep[i], i & 0xff, n);
    }
    void *big = gc_alloc_noscan(32 * MiB);
    CHECK(big != NULL, "%s: 32 MiB alloc failed", when);
    memset(big, 1, 32 * MiB);
    gc_collect();
    for (int i = 0; i < K; i++) {
        size_t n = 16 + (size_t)(i * 37) % 5000;
        const unsigned char *c = keep[i];
        CHECK(c[0] == (i & 0xff) && c[n - 1] == (i & 0xff), "%s: object %d corrupted", when, i);
    }
    gc_keep_alive(keep);
    gc_keep_alive(big);
}

static void lift_fault(size_t size)
{
    oom_calls++;
    oom_size = size;
    gcrt_fault_set(0, 0);   /* "memory came back" */
}

/* Allocation of every kind with the nth mmap/mprotect from now failing. Each run allocates
 * (and keeps) more than the heap has free, so it must grow the heap. Run first, while the
 * heap is small. */
#define HOLD 65536
static void nth_faults(void)
{
    size_t offs[] = {0, 16};
    gc_type_t *ty = gc_type_new(4000, offs, 2);
    CHECK(ty != NULL);
    unsigned failed = 0, ok = 0;
    void **hold = calloc(HOLD, sizeof(void *));
    CHECK(hold != NULL);
    CHECK(gc_add_roots(hold, HOLD * sizeof(void *)) == 0);
    for (long nth = 1; nth <= 6; nth++) {
        for (int kind = 0; kind < 4; kind++) {
            static const size_t sizes[] = {8000, 4000, 20000, 300000};
            gc_memstats_t ms;
            read_ms(&ms);
            size_t want = ms.heap_idle + 8 * MiB, got = 0;
            reset_oom();
            gcrt_fault_set(0, nth);
            int e = 0;
            size_t i;
            for (i = 0; i < HOLD && got < want; i++, got += sizes[kind]) {
                errno = 0;
                switch (kind) {
                case 0: hold[i] = gc_alloc(sizes[0]); break;
                case 1: hold[i] = gc_alloc_typed(ty); break;
                case 2: hold[i] = gc_alloc_noscan(sizes[2]); break;
                default: hold[i] = gc_alloc(sizes[3]); break;
                }
                if (!hold[i]) {
                    e = errno;
                    break;
                }
            }
            gcrt_fault_set(0, 0);
            if (i < HOLD && got < want) {
                failed++;
                CHECK(e == ENOMEM, "nth %ld kind %d: errno %d", nth, kind, e);
                CHECK(oom_calls >= 1, "nth %ld kind %d: no oom handler call", nth, kind);
            } else {
                ok++;
            }
            for (size_t j = 0; j < i; j++) CHECK(gc_base(hold[j]) == hold[j], "nth %ld kind %d: object lost", nth, kind);
            memset(hold, 0, HOLD * sizeof(void *));
            gc_collect();
        }
    }
    CHECK(gc_remove_roots(hold, HOLD * sizeof(void *)) == 0);
    free(hold);
    printf("nth-mmap faults: %u of %u allocation runs hit ENOMEM\n", failed, failed + ok);
    CHECK(failed > 0, "no injected fault was ever hit");
    heap_works("after nth-mmap faults");
}

static int body(void)
{
    CHECK(gc_init() == 0);
    CHECK(gc_set_oom_handler(on_oom) == NULL, "no handler is set initially");
    CHECK(gc_set_oom_handler(other_handler) == on_oom);
    CHECK(gc_set_oom_handler(on_oom) == other_handler);
    heap_works("initially");

    /* 1. Small allocations until the heap must grow, with the growth failing (done first,
     * while the heap has little free space). Objects are kept
     * alive through a malloc'd root range so that no collection can make room. */
    {
        size_t max = 512 * 1024; /* up to 512 MiB of 1 KiB objects */
        void **roots = calloc(max, sizeof(void *));
        CHECK(roots != NULL);
        CHECK(gc_add_roots(roots, max * sizeof(void *)) == 0);
        reset_oom();
        gcrt_fault_set(0, 1);
        size_t i;
        int e = 0;
        for (i = 0; i < max; i++) {
            errno = 0;
            roots[i] = gc_alloc(1000);
            if (roots[i] == NULL) {
                e = errno;
                break;
            }
        }
        gcrt_fault_set(0, 0);
        CHECK(i < max, "%zu small allocations (%zu MiB) never hit the failing mmap", i,
              i * 1024 / MiB);
        CHECK(e == ENOMEM, "errno %d after failed small allocation", e);
        CHECK(oom_calls >= 1, "oom handler not called for a small allocation");
        CHECK(oom_size == 1000, "oom handler got %zu, want 1000", (size_t)oom_size);
        /* Everything allocated before the failure is intact and the heap grows again. */
        for (size_t j = 0; j < i; j++)
            CHECK(gc_base(roots[j]) == roots[j], "object %zu lost", j);
        for (size_t j = i; j < i + 1000 && j < max; j++) {
            roots[j] = gc_alloc(1000);
            CHECK(roots[j] != NULL, "small allocation fails after the fault was disabled");
        }
        printf("small allocations failed after %zu objects (%zu MiB)\n", i, i * 1000 / MiB);
        CHECK(gc_remove_roots(roots, max * sizeof(void *)) == 0);
        free(roots);
        churn_stack();
        gc_collect();
        heap_works("after a failed small growth");
    }

    /* 2. A large allocation whose heap growth fails. 512 MiB cannot come from the current heap
     * (at most a few tens of MiB), so it needs a new mapping. */
    {
        size_t n = 512 * MiB + 12345;
        reset_oom();
        gcrt_fault_set(0, 1);
        errno = 0;
        void *p = gc_alloc_noscan(n);
        int e = errno;
        gcrt_fault_set(0, 0);
        CHECK(p == NULL, "allocation succeeded although the mmap fault was armed");
        CHECK(e == ENOMEM, "errno %d after a failed heap growth, want ENOMEM", e);
        CHECK(oom_calls == 1, "oom handler called %d times", oom_calls);
        CHECK(oom_size == n, "oom handler got size %zu, want %zu", (size_t)oom_size, n);
        heap_works("after a failed large growth");
        /* The same request works once the fault is gone. */
        p = gc_alloc_noscan(n);
        CHECK(p != NULL, "512 MiB allocation fails after the fault was disabled");
        ((volatile char *)p)[0] = 1;
        ((volatile char *)p)[n - 1] = 1;
        p = NULL;
        churn_stack();
        gc_collect();
    }

    /* 3. madvise failures when returning memory to the OS are harmless. */
    for (long nth = 1; nth <= 3; nth++) {
        void *p = gc_alloc_noscan(64 * MiB);
        CHECK(p != NULL);
        memset(p, 1, 64 * MiB);
        p = NULL;
        churn_stack();
        gcrt_fault_set(1, nth);
        gc_free_os_memory();
        gcrt_fault_set(1, 0);
        gc_memstats_t ms;
        read_ms(&ms);
        CHECK(ms.heap_inuse + ms.heap_idle == ms.heap_sys, "stats inconsistent after madvise fault");
        CHECK(ms.heap_released <= ms.heap_idle);
        heap_works("after a failed madvise");
    }

    /* 4. Absurd sizes. */
    reset_oom();
    errno = 0;
    absurd("gc_alloc(SIZE_MAX)", gc_alloc(SIZE_MAX));
    absurd("gc_alloc_noscan(SIZE_MAX)", gc_alloc_noscan(SIZE_MAX));
    absurd("gc_alloc(SIZE_MAX/2)", gc_alloc(SIZE_MAX / 2));
    absurd("gc_alloc_noscan(SIZE_MAX/2 + 1)", gc_alloc_noscan(SIZE_MAX / 2 + 1));
    absurd("gc_alloc(SIZE_MAX - 4095)", gc_alloc(SIZE_MAX - 4095));
    absurd("gc_alloc_noscan(SIZE_MAX - 8191)", gc_alloc_noscan(SIZE_MAX - 8191));
    absurd("gc_alloc_noscan(SIZE_MAX - 32767)", gc_alloc_noscan(SIZE_MAX - 32767));
    absurd("gc_alloc((size_t)1 << 62)", gc_alloc((size_t)1 << 62));
    {
        size_t offs[] = {0};
        gc_type_t *t = gc_type_new(24, offs, 1);
        CHECK(t != NULL);
        absurd("gc_alloc_array(24 B, SIZE_MAX)", gc_alloc_array(t, SIZE_MAX));
        absurd("gc_alloc_array(24 B, SIZE_MAX/24 + 1)", gc_alloc_array(t, SIZE_MAX / 24 + 1));
        absurd("gc_alloc_array(24 B, SIZE_MAX/16)", gc_alloc_array(t, SIZE_MAX / 16));
        absurd("gc_alloc_array(24 B, (1<<61)+1)", gc_alloc_array(t, ((size_t)1 << 61) + 1));
        gc_type_t *big = gc_type_new((size_t)1 << 20, offs, 1);
        CHECK(big != NULL);
        absurd("gc_alloc_array(1 MiB, 1<<44)", gc_alloc_array(big, (size_t)1 << 44));

        char *obj = gc_alloc(100);
        CHECK(obj != NULL);
        memcpy(obj, "survivor", 9);
        absurd("gc_realloc(obj, SIZE_MAX)", gc_realloc(obj, SIZE_MAX));
        absurd("gc_realloc(obj, SIZE_MAX/2)", gc_realloc(obj, SIZE_MAX / 2));
        absurd("gc_realloc(NULL, SIZE_MAX)", gc_realloc(NULL, SIZE_MAX));
        CHECK(strcmp(obj, "survivor") == 0, "object damaged by a failed gc_realloc");
        CHECK(gc_base(obj) == obj);
        gc_keep_alive(obj);
    }
    if (oom_calls == 0)
        printf("note: the oom handler is not called for absurd sizes\n");
    heap_works("after absurd requests");

    /* 5. A handler that brings memory back: the allocation is retried and succeeds. */
    {
        gc_set_oom_handler(lift_fault);
        /* The request must need new memory, or the fault is never reached: the earlier
         * parts leave the heap with free runs (542 MiB idle of 580 MiB here, more when a
         * conservative root kept less alive), and a request they can hold maps nothing.
         * Larger than the whole heap, it cannot come from them. */
        gc_memstats_t m0;
        size_t want = round_up_mib(read_ms(&m0)->heap_sys + 64 * MiB);
        if (want < 700 * MiB) want = 700 * MiB;
        reset_oom();
        gcrt_fault_set(0, 1);
        void *p = gc_alloc_noscan(want);
        int e = errno;
        gcrt_fault_set(0, 0);
        CHECK(p != NULL, "allocation of %zu MiB failed (errno %d) although the oom handler made memory available",
              want / MiB, e);
        CHECK(oom_calls == 1 && oom_size == want, "handler calls %d, size %zu (asked %zu, heap_sys %llu)", oom_calls,
              (size_t)oom_size, want, (unsigned long long)m0.heap_sys);
        ((volatile char *)p)[want - 1] = 1;
        p = NULL;
        churn_stack();
        gc_collect();
        gc_set_oom_handler(on_oom);
    }

    gc_memstats_t ms;
    read_ms(&ms);
    CHECK(ms.mallocs - ms.frees == ms.heap_objects);
    CHECK(ms.heap_inuse + ms.heap_idle == ms.heap_sys);
    CHECK(gc_set_oom_handler(NULL) == on_oom);
    printf("t_enomem: injected mmap/madvise faults and absurd sizes handled (%u GCs)\n", ms.num_gc);
    return 0;
}

static int nth_body(void)
{
    CHECK(gc_init() == 0);
    gc_set_oom_handler(on_oom);
    nth_faults();
    return 0;
}

/* Run this binary as a child with `arg` under GODEBUG=godebug. */
static void checked_child(const char *arg, const char *godebug)
{
    child_result_t *r = malloc(sizeof *r);
    CHECK(r != NULL);
    const char *args[] = {arg, NULL};
    const char *env[] = {godebug, "GOGC", NULL};
    int st = run_self(r, args, env);
    if (st != 0) fprintf(stderr, "child %s with %s: exit %d\n%s%s\n", arg, godebug, st, r->out, r->err);
    CHECK(st == 0);
    printf("[%s, %s] %s", arg, godebug, r->out);
    free(r);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "child")) return body();
    if (argc > 1 && !strcmp(argv[1], "nth")) return nth_body();
    checked_child("nth", "GODEBUG=gcverify=1,gcpoison=1");
    checked_child("child", "GODEBUG=gcverify=1");
    return body();
}
