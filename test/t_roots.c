/*
 * t_roots: every kind of root keeps objects alive across collections.
 *  - static data: an initialised global (.data), a zero global (.bss), an interior pointer;
 *  - the main thread's stack;
 *  - a value held only in a CPU register of another registered thread (x86-64 only): the
 *    thread spins in an asm loop with the real pointer in a register and only a hidden copy
 *    anywhere in memory;
 *  - a gc_add_roots range in malloc'd memory (which is not a root by itself);
 *    gc_remove_roots of that range lets the objects be collected; removing an unknown or
 *    already removed range returns -EINVAL.
 * "Alive" means: still allocated (gc_base), contents intact after a lot of allocation of the
 * same size that would have reused the slot.
 */
#include "check.h"

#include <stdatomic.h>

#define OBJSZ 96
#define N 2000

static void *volatile g_data = (void *)1; /* .data */
static void *volatile g_bss;             /* .bss */
static char *volatile g_interior;        /* interior pointer in .bss */

static TEST_NOINLINE void *new_marked(unsigned tag)
{
    unsigned *p = gc_alloc_noscan(OBJSZ);
    CHECK(p != NULL);
    for (size_t i = 0; i < OBJSZ / sizeof(unsigned); i++)
        p[i] = tag * 2654435761u + (unsigned)i;
    return p;
}

static int intact(const void *obj, unsigned tag)
{
    const unsigned *p = obj;
    if (gc_base(p) != p)
        return 0;
    for (size_t i = 0; i < OBJSZ / sizeof(unsigned); i++)
        if (p[i] != tag * 2654435761u + (unsigned)i)
            return 0;
    return 1;
}

/* Collect, then allocate garbage of the same size class (so freed slots get reused and
 * overwritten), then collect again. */
static TEST_NOINLINE void collect_and_churn(void)
{
    churn_stack();
    gc_collect();
    for (int i = 0; i < 20000; i++) {
        unsigned char *g = gc_alloc_noscan(OBJSZ);
        CHECK(g != NULL);
        memset(g, 0xcd, OBJSZ);
    }
    churn_stack();
    gc_collect();
}

/* ---- register-only root (x86-64) ---- */
#if defined(__x86_64__)
static atomic_int reg_ready, reg_release;
static uintptr_t reg_hidden;

static void *reg_thread(void *arg)
{
    (void)arg;
    uintptr_t v = reg_hidden; /* hidden form only */
    /* In the loop the register holds the real address; it is never stored to memory. */
    __asm__ __volatile__("xorq %[key], %[v]\n\t"
                         "movl $1, (%[ready])\n\t"
                         "1: pause\n\t"
                         "cmpl $0, (%[release])\n\t"
                         "je 1b\n\t"
                         "xorq %[key], %[v]\n\t"
                         : [v] "+r"(v)
                         : [key] "r"(HIDE_KEY), [ready] "r"(&reg_ready), [release] "r"(&reg_release)
                         : "memory", "cc");
    return (void *)v;
}
#endif

/* ---- stack root ---- */
static TEST_NOINLINE int stack_root_check(void)
{
    void *volatile local = new_marked(7);
    void *volatile interior = (char *)new_marked(8) + OBJSZ / 2;
    uintptr_t h1 = HIDE(local), h2 = HIDE((char *)interior - OBJSZ / 2);
    collect_and_churn();
    int ok = intact(UNHIDE(h1), 7) && intact(UNHIDE(h2), 8);
    gc_keep_alive(local);
    gc_keep_alive(interior);
    return ok;
}

static TEST_NOINLINE void fill_malloc_roots(void **m, uintptr_t *hidden)
{
    for (int i = 0; i < N; i++) {
        m[i] = new_marked(1000 + (unsigned)i);
        hidden[i] = HIDE(m[i]);
    }
}

int main(void)
{
    CHECK(gc_init() == 0);

    /* Static roots. */
    g_data = new_marked(1);
    g_bss = new_marked(2);
    g_interior = (char *)new_marked(3) + OBJSZ - 1;
    uintptr_t hd = HIDE(g_data), hb = HIDE(g_bss), hi = HIDE(g_interior - (OBJSZ - 1));
    collect_and_churn();
    CHECK(intact(UNHIDE(hd), 1), ".data global root lost its object");
    CHECK(intact(UNHIDE(hb), 2), ".bss global root lost its object");
    CHECK(intact(UNHIDE(hi), 3), "interior pointer in a global lost its object");

    /* Stack roots. */
    CHECK(stack_root_check(), "stack root lost its object");

    /* Register-only root in another thread. */
#if defined(__x86_64__)
    {
        reg_hidden = HIDE(new_marked(4));
        churn_stack();
        pthread_t th;
        CHECK(gc_pthread_create(&th, NULL, reg_thread, NULL) == 0);
        while (!atomic_load(&reg_ready))
            sched_yield();
        collect_and_churn();
        collect_and_churn();
        CHECK(intact(UNHIDE(reg_hidden), 4), "object held only in a register was collected");
        atomic_store(&reg_release, 1);
        void *ret;
        CHECK(pthread_join(th, &ret) == 0);
        CHECK((uintptr_t)ret == reg_hidden, "register value changed");
        ret = NULL;
        printf("register root: OK\n");
    }
#else
    printf("register root: skipped (not x86-64)\n");
#endif

    /* gc_add_roots on malloc'd memory. */
    {
        void **m = malloc(N * sizeof(void *));
        uintptr_t *hidden = malloc(N * sizeof(uintptr_t));
        CHECK(m && hidden);
        CHECK(gc_add_roots(m, N * sizeof(void *)) == 0);
        fill_malloc_roots(m, hidden);
        collect_and_churn();
        for (int i = 0; i < N; i++)
            CHECK(intact(UNHIDE(hidden[i]), 1000 + (unsigned)i),
                  "object %d held by a gc_add_roots range was collected", i);

        /* Bad removals. */
        int stack_thing;
        CHECK(gc_remove_roots(&stack_thing, sizeof stack_thing) == -EINVAL,
              "removing an unknown range");
        CHECK(gc_remove_roots(m, N * sizeof(void *) - 8) == -EINVAL,
              "removing a range of a different size");
        CHECK(gc_remove_roots((char *)m + 8, N * sizeof(void *) - 8) == -EINVAL,
              "removing a sub-range");

        /* After removal the malloc'd memory is not a root any more. */
        CHECK(gc_remove_roots(m, N * sizeof(void *)) == 0);
        CHECK(gc_remove_roots(m, N * sizeof(void *)) == -EINVAL, "removing twice");
        collect_and_churn();
        size_t freed = 0;
        for (int i = 0; i < N; i++)
            if (gc_base(UNHIDE(hidden[i])) == NULL ||
                !intact(UNHIDE(hidden[i]), 1000 + (unsigned)i))
                freed++;
        CHECK(freed * 10 >= (size_t)N * 9,
              "after gc_remove_roots only %zu of %d objects were collected", freed, N);
        printf("gc_add_roots/gc_remove_roots: %zu of %d collected after removal\n", freed, N);

        /* Two overlapping ranges: removing one keeps the other working. */
        fill_malloc_roots(m, hidden);
        CHECK(gc_add_roots(m, N * sizeof(void *)) == 0);
        CHECK(gc_add_roots(m, N / 2 * sizeof(void *)) == 0);
        CHECK(gc_remove_roots(m, N / 2 * sizeof(void *)) == 0);
        collect_and_churn();
        for (int i = 0; i < N; i++)
            CHECK(intact(UNHIDE(hidden[i]), 1000 + (unsigned)i),
                  "object %d lost after removing an overlapping range", i);
        CHECK(gc_remove_roots(m, N * sizeof(void *)) == 0);
        free(m);
        free(hidden);
    }

    /* Globals still hold after all this. */
    CHECK(intact(UNHIDE(hd), 1) && intact(UNHIDE(hb), 2) && intact(UNHIDE(hi), 3));
    gc_memstats_t ms;
    read_ms(&ms);
    printf("t_roots: static, stack, register and added roots OK (%u GCs)\n", ms.num_gc);
    return 0;
}
