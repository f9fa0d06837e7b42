/*
 * t_final_many: one million finalizers become runnable in one cycle, and the work is
 * linear: list operations on the per-span specials (counted by the library's
 * gcrt_specials_steps, an internal counter of libgcrt.a) stay within a small constant per
 * finalizer, and every finalizer runs exactly once. Also 100 000 first, so the log shows
 * the two times side by side (the assertion is on the counted steps, not on time).
 */
#include "lifetime.h"

/* Internal counter of libgcrt.a: list nodes visited by specials insertions and lookups. */
extern uint64_t gcrt_specials_steps;

#define N_BIG 1000000
#define N_SMALL 100000

/* Counted per round (o[1]): a finalizer of the first round whose object a stale stack
 * word kept past that round's 99% may run during the second, and once counted as the
 * second's it made "1000001 finalizers ran for 1000000 objects". */
static uint64_t ran_in[2], bad, this_round;

static void fin(void *obj, void *arg)
{
    uint64_t *o = obj;
    if (o[0] != (uint64_t)(uintptr_t)arg || o[1] > 1)
        __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
    else
        __atomic_add_fetch(&ran_in[o[1]], 1, __ATOMIC_RELAXED);
}

static TEST_NOINLINE void make(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t *o = gc_alloc(16);
        CHECK(o != NULL);
        o[0] = i * 7 + 1;
        o[1] = this_round;
        CHECK(gc_set_finalizer(o, fin, (void *)(uintptr_t)(i * 7 + 1)) == 0);
    }
}

static void round_of(size_t n)
{
    uint64_t s0 = __atomic_load_n(&gcrt_specials_steps, __ATOMIC_RELAXED);
    double t0 = now_sec();
    make(n);
    uint64_t steps = __atomic_load_n(&gcrt_specials_steps, __ATOMIC_RELAXED) - s0;
    double t1 = now_sec();
    lt_collect();
    double t2 = now_sec();
    for (int i = 0; i < 3 && __atomic_load_n(&ran_in[this_round], __ATOMIC_RELAXED) < n - n / 100; i++) {
        double w = now_sec();
        while (__atomic_load_n(&ran_in[this_round], __ATOMIC_RELAXED) < n - n / 100 && now_sec() - w < 3)
            gc_run_finalizers();
        if (__atomic_load_n(&ran_in[this_round], __ATOMIC_RELAXED) < n - n / 100)
            lt_collect();
    }
    double t3 = now_sec();
    uint64_t r = __atomic_load_n(&ran_in[this_round], __ATOMIC_RELAXED);
    printf("n=%zu: set %.3f s (%.2f list steps each), collect %.3f s, run %.3f s, ran %llu\n", n, t1 - t0,
           (double)steps / (double)n, t2 - t1, t3 - t2, (unsigned long long)r);
    CHECK(steps <= (uint64_t)n * 8, "%llu list steps for %zu finalizers: not linear", (unsigned long long)steps, n);
    CHECK(r >= n - n / 100, "only %llu of %zu finalizers ran", (unsigned long long)r, n);
    CHECK(r <= n, "%llu finalizers ran for %zu objects", (unsigned long long)r, n);
    CHECK(bad == 0, "a finalizer saw the wrong object");
    /* Once run, the objects go at the next cycles: the heap shrinks back. */
    lt_collect();
    lt_collect();
}

int main(void)
{
    gc_init();
    gc_set_percent(-1);
    round_of(N_SMALL);
    this_round = 1;
    round_of(N_BIG);
    CHECK(ran_in[0] <= N_SMALL, "%llu finalizers ran for %d objects of the first round",
          (unsigned long long)ran_in[0], N_SMALL);
    gc_memstats_t ms;
    gc_read_memstats(&ms);
    CHECK(ms.heap_objects < N_BIG / 10, "%llu objects still allocated after their finalizers ran",
          (unsigned long long)ms.heap_objects);
    printf("t_final_many: ok\n");
    return 0;
}
