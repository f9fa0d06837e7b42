/*
 * t_fork: fork() with gcrt's atfork handlers (runtime/fork.c). The parent runs the
 * finalizer thread and two registered threads allocating while collections run with a small
 * GOGC, and forks repeatedly, also while its concurrent mark is running. Every child must
 * allocate, collect, create a registered thread that allocates, see a finalizer run, and
 * find the parent's data intact, within a time bound; the parent checks each exit status.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "lifetime.h"

typedef struct node {
    struct node *next;
    uint64_t val;
    uint64_t pad[2];
} node;

static node *build(size_t n, uint64_t seed) {
    node *h = NULL;
    for (size_t i = 0; i < n; i++) {
        node *x = gc_alloc(sizeof *x);
        if (!x) return NULL;
        x->val = test_mix(seed + i);
        x->next = h;
        h = x;
    }
    return h;
}

static int verify(const node *h, size_t n, uint64_t seed) {
    for (size_t i = n; i-- > 0; h = h->next)
        if (!h || h->val != test_mix(seed + i)) return 0;
    return h == NULL;
}

static node *parent_list;   /* a root: the children check it */
#define PARENT_N 200000
#define PARENT_SEED 7

static atomic_int stop;
static atomic_int running;   /* threads past their start-up */
static atomic_long fin_ran;

static void fin(void *obj, void *arg) {
    (void)obj;
    atomic_fetch_add(&fin_ran, (long)(uintptr_t)arg);
}

static void *churn(void *arg) {
    atomic_fetch_add(&running, 1);
    uint64_t seed = (uintptr_t)arg * 1000003;
    while (!atomic_load(&stop)) {
        node *l = build(2000, seed);
        if (!verify(l, 2000, seed)) {
            fprintf(stderr, "parent thread: list corrupted\n");
            abort();
        }
        seed++;
    }
    return NULL;
}

/* A registered thread living in libc's malloc: glibc's fork takes malloc's locks after
 * every prepare handler, so the world must not be stopped across fork. */
static TEST_UNUSED void *mallocer(void *arg) {
    atomic_fetch_add(&running, 1);
    (void)arg;
    while (!atomic_load(&stop)) {
        void *v[64];
        for (int i = 0; i < 64; i++) v[i] = malloc(16 + (size_t)i * 24);
        for (int i = 0; i < 64; i++) free(v[i]);
    }
    return NULL;
}

static void *child_thread(void *arg) {
    uint64_t seed = (uintptr_t)arg;
    for (int r = 0; r < 10; r++) {
        node *l = build(3000, seed + (uint64_t)r);
        if (!verify(l, 3000, seed + (uint64_t)r)) return (void *)1;
        if (r % 5 == 0) gc_collect();
    }
    return NULL;
}

TEST_NOINLINE static void drop_finalizable(void *unused) {
    (void)unused;
    void *p = gc_alloc(64);
    CHECK(gc_set_finalizer(p, fin, (void *)(uintptr_t)1) == 0, "gc_set_finalizer");
}

/* The child's work: every step that touches gcrt's locks, threads and helpers. */
static int child_main(int i) {
    alarm(test_seconds(10));
    node *mine = build(5000, 99 + (uint64_t)i);
    CHECK(mine, "allocation in the child");
    for (int k = 0; k < 3; k++) gc_collect();
    CHECK(verify(mine, 5000, 99 + (uint64_t)i), "child's own list after gc_collect");
    CHECK(verify(parent_list, PARENT_N, PARENT_SEED), "parent's list in the child");
    pthread_t th;
    CHECK(gc_pthread_create(&th, NULL, child_thread, (void *)(uintptr_t)(i * 77)) == 0, "gc_pthread_create");
    void *r;
    pthread_join(th, &r);
    CHECK(r == NULL, "child's registered thread saw a corrupted list");
    long before = atomic_load(&fin_ran);
    lt_in_thread(drop_finalizable, NULL);   /* no stale copy on this stack */
    double t0 = now_sec();
    while (atomic_load(&fin_ran) == before && now_sec() - t0 < test_seconds(5)) {
        lt_collect();
        gc_run_finalizers();
    }
    CHECK(atomic_load(&fin_ran) > before, "no finalizer ran in the child");
    gc_collect();
    CHECK(verify(mine, 5000, 99 + (uint64_t)i), "child's own list at the end");
    CHECK(verify(parent_list, PARENT_N, PARENT_SEED), "parent's list at the end");
    return 0;
}

static void fork_and_check(int i) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int rc = child_main(i);
        fflush(stderr);
        _exit(rc);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: %s %d", i,
          WIFEXITED(st) ? "exit status" : "killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

static void *collector(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) gc_collect();
    return NULL;
}

int main(void) {
    alarm(test_seconds(60));
    gc_init();
    gc_set_percent(10);
    parent_list = build(PARENT_N, PARENT_SEED);
    CHECK(parent_list, "parent list");
    /* The finalizer thread: started by the first finalizer, seen running one. */
    lt_in_thread(drop_finalizable, NULL);   /* no stale copy on this stack (ASan's frames kept one) */
    double t0 = now_sec();
    while (atomic_load(&fin_ran) == 0 && now_sec() - t0 < test_seconds(5)) lt_collect();
    CHECK(atomic_load(&fin_ran) > 0, "the parent's finalizer thread ran nothing");

    pthread_t th[3];
    for (int i = 0; i < 2; i++)
        CHECK(gc_pthread_create(&th[i], NULL, churn, (void *)(uintptr_t)(i + 1)) == 0, "gc_pthread_create");
/* Under ASan, children forked while this thread runs sometimes hang (2 of 3 runs; none
 * in 3 runs without it). ASan replaces glibc's malloc, and glibc's fork quiesces only its
 * own: the suspected cause (not confirmed) is a child copied with ASan's allocator lock
 * held. Under ASan a third gcrt-allocating thread stands in. */
#ifndef GCRT_ASAN
    CHECK(gc_pthread_create(&th[2], NULL, mallocer, NULL) == 0, "gc_pthread_create");
#else
    CHECK(gc_pthread_create(&th[2], NULL, churn, (void *)(uintptr_t)3) == 0, "gc_pthread_create");
#endif
    /* Fork once all three run their loops: under ASan a thread still in its start-up
     * (ASan's own, which mallocs) when fork copies the process leaves the child ASan's
     * allocator lock held, as ASan's allocator has no fork handlers (GCC 12). */
    while (atomic_load(&running) < 3) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    double start = now_sec();
    int forks = 0;
    for (int i = 0; i < 8; i++, forks++) fork_and_check(i);

    /* Fork while the concurrent mark runs: prepare waits for the cycle to end. */
    pthread_t col;
    CHECK(gc_pthread_create(&col, NULL, collector, NULL) == 0, "collector thread");
    int during_mark = 0;
    for (int i = 0; i < 6; i++, forks++) {
        double w = now_sec();
        while (!gc_write_barrier_on && now_sec() - w < 2) {}
        during_mark += gc_write_barrier_on != 0;
        fork_and_check(100 + i);
    }
    atomic_store(&stop, 1);
    pthread_join(col, NULL);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    CHECK(during_mark > 0, "never caught the concurrent mark running (of 6 tries)");
    CHECK(verify(parent_list, PARENT_N, PARENT_SEED), "parent's list after the forks");
    printf("t_fork: %d children ok (%d forked during marking) in %.2f s\n", forks, during_mark, now_sec() - start);
    return 0;
}
