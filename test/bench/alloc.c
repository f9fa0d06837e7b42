/*
 * alloc.c: small-object allocation speed, no collection.
 *
 * Built three times: -DUSE_GCRT (gc_alloc, gc_set_percent(-1)), -DUSE_BDWGC (GC_MALLOC after
 * GC_disable()), -DUSE_MALLOC (glibc malloc; every malloc is paired with the free of the
 * object allocated RING allocations earlier, i.e. objects are freed one at a time, FIFO,
 * after a delay of RING allocations).
 *
 * Each worker thread allocates `n` objects whose requested size cycles over 16, 24, ..., 128
 * bytes, writes the first word of each, and keeps the last RING pointers in a ring (so the
 * work cannot be elided). Before timing, every worker does an untimed warm-up round of n/8
 * allocations; then all workers start together at a barrier. Each worker measures its own
 * user and system CPU time (getrusage RUSAGE_THREAD) and wall time.
 *
 * Fresh heap pages are faulted in during the timed loop; the kernel charges that as system
 * time, so user CPU per allocation is the primary figure.
 *
 * prefault=1 (gcrt, bdwgc): first allocate as much garbage as the run will allocate and
 * collect it, so that the timed loop reuses pages that are already resident. On a VM whose
 * host backs guest memory lazily a fresh page can cost tens of microseconds, charged to
 * whatever the guest was running (user time included), which drowns the allocator's own
 * cost; with prefault the figure is the allocator plus clearing reused spans.
 *
 * rounds=R (gcrt, bdwgc): the allocator in steady state with its memory in cache. Each
 * thread allocates n objects per round (small enough to stay in the CPU caches), then all
 * threads meet, one collects the garbage (untimed), and the next round allocates into the
 * swept memory. The timed figure is the rounds' thread CPU time (CLOCK_THREAD_CPUTIME_ID,
 * exact, user and system together; nothing faults in after the untimed first round): the
 * fast path, refills, lazy sweeping and clearing reused slots, without the DRAM traffic
 * that a heap which only grows adds to every allocation.
 *
 * gc=1 (gcrt, bdwgc): the same loop with collection on, at the collectors' default pacing:
 * each thread's live set is its ring (RING objects), everything older is garbage, as the
 * malloc build frees it; the figure that compares all allocators (and Go's go/alloc) is
 * mallocs_s, millions of allocations per second of wall time, all threads together.
 *
 * bw=1 (malloc build): the machine's floor for a heap that only grows: each thread clears
 * and writes the first word of n objects of the same cycling sizes, laid end to end in
 * resident memory (in huge pages), as an allocator with collection off must. Shows what
 * two threads writing new memory cost on this machine's shared memory bandwidth, whatever
 * allocator.
 *
 * usage: alloc_<impl> [threads=N] [n=COUNT] [prefault=1 | rounds=R | gc=1] -> RESULT bench=alloc ...
 *        alloc_malloc bw=1 [threads=N] [n=COUNT]  -> RESULT bench=bw ...
 *        alloc_gcrt meta [mib=256] [size=64]    -> RESULT bench=meta ... (gcrt only)
 */
#include "bench.h"

#include <pthread.h>
#include <sys/mman.h>

#define RING 256
#define MIN_SIZE 16
#define MAX_SIZE 128
#define SIZE_STEP 8
#define MAX_THREADS 16

typedef struct {
    long n, warm, rounds;
    uint64_t cpu_ns;         /* rounds mode: the timed rounds' thread CPU time */
    bench_clock_t t;         /* timed-loop user/sys/wall of this thread */
    unsigned pos;
    void *ring[RING];
} worker_t;

static worker_t workers[MAX_THREADS]; /* static data: a root for both collectors */
static int finished;                   /* workers done with the timed loop */
static pthread_barrier_t start_barrier;

static inline void *bench_alloc(size_t size)
{
#if defined(USE_GCRT)
    return gc_alloc(size);
#elif defined(USE_BDWGC)
    return GC_MALLOC(size);
#else
    return malloc(size);
#endif
}

static __attribute__((noinline)) void alloc_loop(worker_t *w, long n)
{
    size_t size = MIN_SIZE;
    unsigned r = w->pos;
    for (long i = 0; i < n; i++) {
        void *p = bench_alloc(size);
        if (__builtin_expect(p == NULL, 0)) {
            fprintf(stderr, "allocation of %zu bytes failed after %ld\n", size, i);
            exit(3);
        }
        *(long *)p = i;
#if defined(USE_MALLOC)
        free(w->ring[r]);
#endif
        w->ring[r] = p;
        r = (r + 1) & (RING - 1);
        size += SIZE_STEP;
        if (size > MAX_SIZE)
            size = MIN_SIZE;
    }
    w->pos = r;
    BENCH_USE(w);
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void collect_now(void)
{
#if defined(USE_GCRT)
    gc_collect();
#elif defined(USE_BDWGC)
    GC_enable();
    GC_gcollect();
    GC_disable();
#endif
}

/* rounds mode: round 0 is untimed (it faults the pages in); after each round the threads
 * meet and the one the barrier picks collects: nothing but the last RING objects of each
 * thread survives. */
static void rounds_main(worker_t *w)
{
    for (long r = 0; r <= w->rounds; r++) {
        uint64_t c0 = thread_cpu_ns();
        alloc_loop(w, w->n);
        if (r > 0) w->cpu_ns += thread_cpu_ns() - c0;
        if (pthread_barrier_wait(&start_barrier) == PTHREAD_BARRIER_SERIAL_THREAD) collect_now();
        pthread_barrier_wait(&start_barrier);
    }
}

static char *bw_buf[MAX_THREADS];

/* bw mode: what writing new memory costs, with no allocator at all */
static void bw_loop(worker_t *w, char *p, long n)
{
    size_t size = MIN_SIZE;
    for (long i = 0; i < n; i++) {
        memset(p, 0, size);
        *(long *)p = i;
        w->ring[i & (RING - 1)] = p;
        p += size;
        size += SIZE_STEP;
        if (size > MAX_SIZE) size = MIN_SIZE;
    }
    BENCH_USE(w);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    int idx = (int)(w - workers);
    if (bw_buf[idx]) {
        pthread_barrier_wait(&start_barrier);
        bench_clock_t a = bench_clock(RUSAGE_THREAD);
        bw_loop(w, bw_buf[idx], w->n);
        bench_clock_t b = bench_clock(RUSAGE_THREAD);
        w->t = bench_elapsed(a, b);
        return NULL;
    }
    if (w->rounds) {
        bench_clock_t a = bench_clock(RUSAGE_THREAD);
        rounds_main(w);
        bench_clock_t b = bench_clock(RUSAGE_THREAD);
        w->t = bench_elapsed(a, b);
        return NULL;
    }
    alloc_loop(w, w->warm);
    pthread_barrier_wait(&start_barrier);
    bench_clock_t a = bench_clock(RUSAGE_THREAD);
    alloc_loop(w, w->n);
    bench_clock_t b = bench_clock(RUSAGE_THREAD);
    w->t = bench_elapsed(a, b);
    __atomic_add_fetch(&finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int run_alloc(int threads, long n, long rounds, int gc_on)
{
    pthread_t tid[MAX_THREADS];
    pthread_barrier_init(&start_barrier, NULL, (unsigned)threads);
    for (int i = 0; i < threads; i++) {
        workers[i].n = n;
        workers[i].warm = n / 8;
        workers[i].rounds = rounds;
        int rc;
#if defined(USE_GCRT)
        rc = gc_pthread_create(&tid[i], NULL, worker_main, &workers[i]);
#else
        rc = pthread_create(&tid[i], NULL, worker_main, &workers[i]); /* GC_pthread_create
                                                                        under bdwgc */
#endif
        if (rc != 0) {
            fprintf(stderr, "thread create failed: %d\n", rc);
            return 1;
        }
    }
    /* gc=1: gcrt keeps the last 256 pauses and a run collects hundreds of times, so the
     * main thread folds them into the maximum ten times a second while the workers run */
    while (gc_on && __atomic_load_n(&finished, __ATOMIC_ACQUIRE) < threads) {
        struct timespec d = {0, 100000000};
        nanosleep(&d, NULL);
        gcstat_poll();
    }
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);

    uint64_t user = 0, sys = 0, wall = 0;
    for (int i = 0; i < threads; i++) {
        user += workers[i].t.user;
        sys += workers[i].t.sys;
        if (workers[i].t.wall > wall)
            wall = workers[i].t.wall;
    }
    if (bw_buf[0]) {
        printf("RESULT bench=bw threads=%d n=%ld user_ns=%.2f sys_ns=%.2f wall_ns=%.2f\n", threads, n,
               user / ((double)n * threads), sys / ((double)n * threads), (double)wall / n);
        return 0;
    }
    if (rounds) {
        uint64_t cpu = 0;
        for (int i = 0; i < threads; i++)
            cpu += workers[i].cpu_ns;
        double total = (double)n * rounds * threads;
        printf("RESULT bench=alloc-rounds impl=%s threads=%d n=%ld rounds=%ld cpu_ns=%.2f rss_kb=%ld", IMPL_NAME,
               threads, n, rounds, cpu / total, max_rss_kb());
        gcstat_t s = gcstat_read();
        print_gcstat(s);
        printf("\n");
        return 0;
    }
    double total = (double)n * threads;
    /* user/sys: CPU per allocation averaged over all allocations of all threads.
     * wall: time until the last thread finished, divided by the per-thread count. */
    printf("RESULT bench=alloc impl=%s threads=%d n=%ld gc=%d user_ns=%.2f sys_ns=%.2f wall_ns=%.2f "
           "mallocs_s=%.2f rss_kb=%ld",
           IMPL_NAME, threads, n, gc_on, user / total, sys / total, (double)wall / n,
           total / (double)wall * 1e3, max_rss_kb());
    gcstat_t s = gcstat_read();
    print_gcstat(s);
    printf("\n");
    return 0;
}

#if defined(USE_GCRT)
/* Metadata overhead: allocate `mib` MiB of `size`-byte objects with collection off, then
 * report metadata_sys / heap_inuse (and the same ratio for the growth alone). */
static int run_meta(long mib, long size)
{
    static gc_memstats_t before, after;
    gc_read_memstats(&before);
    long count = (mib << 20) / size;
    void *keep = NULL;
    for (long i = 0; i < count; i++) {
        void **p = gc_alloc((size_t)size);
        if (!p) {
            fprintf(stderr, "gc_alloc(%ld) failed after %ld objects\n", size, i);
            return 3;
        }
        p[0] = keep; /* chain them: all stay reachable (collection is off anyway) */
        keep = p;
    }
    gc_read_memstats(&after);
    BENCH_USE(keep);
    double ratio = after.heap_inuse ? (double)after.metadata_sys / after.heap_inuse : 0;
    double dinuse = (double)after.heap_inuse - (double)before.heap_inuse;
    double dmeta = (double)after.metadata_sys - (double)before.metadata_sys;
    printf("RESULT bench=meta impl=gcrt size=%ld objects=%ld heap_inuse=%llu heap_sys=%llu "
           "metadata_sys=%llu metadata_before=%llu sys=%llu meta_pct=%.3f meta_growth_pct=%.3f "
           "rss_kb=%ld\n",
           size, count, (unsigned long long)after.heap_inuse,
           (unsigned long long)after.heap_sys, (unsigned long long)after.metadata_sys,
           (unsigned long long)before.metadata_sys, (unsigned long long)after.sys,
           100.0 * ratio, dinuse > 0 ? 100.0 * dmeta / dinuse : 0.0, max_rss_kb());
    gc_keep_alive(keep);
    return 0;
}
#endif

int main(int argc, char **argv)
{
    int threads = (int)arg_long(argc, argv, "threads", 1);
    long n = arg_long(argc, argv, "n", 10000000);
    if (threads < 1 || threads > MAX_THREADS || n < 1) {
        fprintf(stderr, "usage: %s [threads=1..%d] [n=COUNT] | meta [mib=M] [size=S]\n",
                argv[0], MAX_THREADS);
        return 2;
    }
    bench_gc_init(argc, argv);
    int gc_on = arg_long(argc, argv, "gc", 0) != 0;
#if defined(USE_GCRT)
    if (arg_flag(argc, argv, "meta")) {
        gc_set_percent(-1);
        return run_meta(arg_long(argc, argv, "mib", 256), arg_long(argc, argv, "size", 64));
    }
    if (!gc_on)
        gc_set_percent(-1);
#elif defined(USE_BDWGC)
    if (!gc_on)
        GC_disable();
#endif
    if (arg_flag(argc, argv, "meta")) {
        fprintf(stderr, "meta: gcrt only\n");
        return 2;
    }
    long rounds = arg_long(argc, argv, "rounds", 0);
#if defined(USE_MALLOC)
    if (arg_long(argc, argv, "bw", 0)) {
        size_t bytes = (size_t)n * ((MIN_SIZE + MAX_SIZE) / 2) + MAX_SIZE;
        for (int i = 0; i < threads; i++) {
            /* In huge pages, as gcrt's heap is past 64 MiB: in 4 KiB pages this VM's host
             * charges 10 us or more for the first access to a page in a while, even one
             * already resident, and that would be counted as the floor. */
            void *b = NULL;
            if (posix_memalign(&b, (size_t)2 << 20, bytes)) return 3;
            bw_buf[i] = b;
            (void)madvise(b, bytes, MADV_HUGEPAGE);
            memset(bw_buf[i], 1, bytes);   /* resident before timing */
        }
    }
    if (rounds) {
        fprintf(stderr, "rounds: the collectors only\n");
        return 2;
    }
#endif
    if (gc_on && (rounds || arg_long(argc, argv, "prefault", 0))) {
        fprintf(stderr, "gc=1: not with rounds= or prefault=, which collect by themselves\n");
        return 2;
    }
    if (arg_long(argc, argv, "prefault", 0)) {
        worker_t *w = &workers[0];
        alloc_loop(w, (n + n / 8) * threads);
        memset(w->ring, 0, sizeof w->ring);
        collect_now();
    }
    return run_alloc(threads, n, rounds, gc_on);
}
