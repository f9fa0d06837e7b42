/*
 * pool.c: gc_pool get+put pairs per thread (issue 6's target: at most 15 ns per pair per
 * thread, scaling across 2 threads), next to the other ways of getting a 64-byte object
 * and letting it go, measured in the same process:
 *   mode=pool    gcrt only: o = gc_pool_get(p); write o; gc_pool_put(p, o)
 *                (new_fn allocates 64 bytes; all threads share the one pool)
 *   mode=malloc  glibc: o = malloc(64); write o; free(o)
 *   mode=alloc   gcrt: gc_alloc(64) / bdwgc: GC_MALLOC(64); write o; drop it (the
 *                collector runs: the cost of an object includes its share of collection)
 *
 * Each thread runs an untimed warm-up of n/8 pairs (pages touched, caches and pool locals
 * built), then all start together at a barrier and time n pairs each. ns_per_pair is the
 * mean over threads of each thread's wall time / n; max_ns the slowest thread; cpu_ns the
 * mean of each thread's own CPU time (RUSAGE_THREAD) / n, which time spent waiting for a
 * CPU on a busy machine does not inflate.
 *
 * usage: pool_<gcrt|bdwgc> mode=pool|malloc|alloc [threads=N] [n=COUNT]
 *        -> RESULT bench=pool impl=... mode=... threads=N n=... ns_per_pair=... max_ns=... cpu_ns=...
 */
#include "bench.h"

#include <pthread.h>

#define MAX_THREADS 16
#define SIZE 64

enum { MODE_POOL, MODE_MALLOC, MODE_ALLOC };

typedef struct {
    long n;
    uint64_t wall, cpu;
    char pad[64];
} worker_t;

static worker_t workers[MAX_THREADS];
static pthread_barrier_t start_barrier;
static int mode;

#if defined(USE_GCRT)
static gc_pool_t *pool;
static void *new_obj(void *ctx)
{
    (void)ctx;
    return gc_alloc(SIZE);
}
#endif

static __attribute__((noinline)) void loop(long n)
{
    switch (mode) {
#if defined(USE_GCRT)
    case MODE_POOL:
        for (long i = 0; i < n; i++) {
            long *o = gc_pool_get(pool);
            o[0] = i;
            gc_pool_put(pool, o);
        }
        break;
#endif
    case MODE_MALLOC:
        for (long i = 0; i < n; i++) {
            long *o = malloc(SIZE);
            o[0] = i;
            BENCH_USE(o);   /* or the compiler may drop the pair */
            free(o);
        }
        break;
    case MODE_ALLOC:
        for (long i = 0; i < n; i++) {
#if defined(USE_GCRT)
            long *o = gc_alloc(SIZE);
#else
            long *o = GC_MALLOC(SIZE);
#endif
            o[0] = i;
            BENCH_USE(o);
        }
        break;
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    loop(w->n / 8);
    pthread_barrier_wait(&start_barrier);
    bench_clock_t a = bench_clock(RUSAGE_THREAD);
    loop(w->n);
    bench_clock_t d = bench_elapsed(a, bench_clock(RUSAGE_THREAD));
    w->wall = d.wall;
    w->cpu = d.user + d.sys;
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = (int)arg_long(argc, argv, "threads", 1);
    long n = arg_long(argc, argv, "n", 20000000);
    const char *m = "pool";
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "mode=", 5) == 0)
            m = argv[i] + 5;
    mode = !strcmp(m, "pool") ? MODE_POOL : !strcmp(m, "malloc") ? MODE_MALLOC : !strcmp(m, "alloc") ? MODE_ALLOC : -1;
#if !defined(USE_GCRT)
    if (mode == MODE_POOL) mode = -1;
#endif
    if (threads < 1 || threads > MAX_THREADS || n < 1 || mode < 0) {
        fprintf(stderr, "usage: %s mode=pool|malloc|alloc (pool: gcrt only) [threads=1..%d] [n=COUNT]\n", argv[0],
                MAX_THREADS);
        return 2;
    }
    bench_gc_init(argc, argv);
#if defined(USE_GCRT)
    pool = gc_pool_new(new_obj, NULL);
#endif
    pthread_t tid[MAX_THREADS];
    pthread_barrier_init(&start_barrier, NULL, (unsigned)threads);
    for (int i = 0; i < threads; i++) {
        workers[i].n = n;
#if defined(USE_GCRT)
        int rc = gc_pthread_create(&tid[i], NULL, worker_main, &workers[i]);
#else
        int rc = pthread_create(&tid[i], NULL, worker_main, &workers[i]); /* GC_pthread_create under bdwgc */
#endif
        if (rc != 0) {
            fprintf(stderr, "thread create failed: %d\n", rc);
            return 1;
        }
    }
    double sum = 0, cpu = 0;
    uint64_t max = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        sum += (double)workers[i].wall / (double)n;
        cpu += (double)workers[i].cpu / (double)n;
        if (workers[i].wall > max)
            max = workers[i].wall;
    }
    printf("RESULT bench=pool impl=%s mode=%s threads=%d n=%ld ns_per_pair=%.2f max_ns=%.2f cpu_ns=%.2f", IMPL_NAME, m,
           threads, n, sum / threads, (double)max / (double)n, cpu / threads);
    print_gcstat(gcstat_read());
    printf("\n");
    return 0;
}
