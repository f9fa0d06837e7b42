/*
 * churn.c: allocation churn with a tiny live set, collection on.
 *
 * One thread allocates `n` 32-byte scanned objects (gc_alloc / GC_MALLOC) and keeps only the
 * last LIVE of them in a ring held in static data (32 KiB live), so nearly everything
 * allocated becomes garbage at once. Both collectors run with their default pacing
 * (gcrt: GOGC=100 unless the environment says otherwise; bdwgc: free-space divisor 3).
 * Reports wall and CPU (user+sys of the whole process, so collector threads count) per
 * allocation, the number of collections and the longest pause.
 *
 * usage: churn_<impl> [n=COUNT] [startmarkers]
 */
#include "bench.h"

#define OBJ_SIZE 32
#define LIVE 1024

typedef struct obj {
    long value;
    struct obj *peer; /* a pointer field: the object is scanned, and sometimes holds one */
    long pad[2];
} obj_t;

_Static_assert(sizeof(obj_t) == OBJ_SIZE, "obj_t is 32 bytes");

static obj_t *ring[LIVE];

static inline obj_t *new_obj(void)
{
#if defined(USE_GCRT)
    return gc_alloc(sizeof(obj_t));
#else
    return GC_MALLOC(sizeof(obj_t));
#endif
}

static __attribute__((noinline)) void churn(long start, long n)
{
    for (long i = start; i < start + n; i++) {
        obj_t *p = new_obj();
        if (__builtin_expect(p == NULL, 0)) {
            fprintf(stderr, "allocation failed after %ld objects\n", i);
            exit(3);
        }
        p->value = i;
        /* every 64th object points at the oldest object in the ring, which has no peer
         * itself (so no chains form); p->peer still holds NULL, so no barrier is needed */
        if ((i & 63) == 0)
            p->peer = ring[(i + 1) & (LIVE - 1)];
        ring[i & (LIVE - 1)] = p;
        if ((i & ((1 << 20) - 1)) == 0)
            gcstat_poll(); /* gcrt keeps only the last 256 pauses */
    }
}

int main(int argc, char **argv)
{
#if defined(USE_MALLOC)
    fprintf(stderr, "churn: gcrt or bdwgc only\n");
    return 2;
#endif
    long n = arg_long(argc, argv, "n", 50000000);
    bench_gc_init(argc, argv);

    long warm = n / 20;
    churn(0, warm);
    gcstat_t s0 = gcstat_read();
    bench_clock_t a = bench_clock(RUSAGE_SELF);
    churn(warm, n);
    bench_clock_t d = bench_elapsed(a, bench_clock(RUSAGE_SELF));
    gcstat_t s = gcstat_read();

    long check = 0;
    for (int i = 0; i < LIVE; i++) {
        check += ring[i]->value;
        if (ring[i]->peer && ring[i]->peer->value != ring[i]->value - (LIVE - 1))
            check = -1000000000L; /* a peer pointer was corrupted: make the checksum wrong */
    }
    /* counts for the timed loop only */
    s.gcs -= s0.gcs;
    s.pauses -= s0.pauses;
    s.total_pause_ns -= s0.total_pause_ns;
    printf("RESULT bench=churn impl=%s n=%ld wall_ns=%.2f cpu_ns=%.2f user_ns=%.2f sys_ns=%.2f "
           "wall_ms=%.1f cpu_ms=%.1f rss_kb=%ld",
           IMPL_NAME, n, (double)d.wall / n, (double)(d.user + d.sys) / n, (double)d.user / n,
           (double)d.sys / n, d.wall / 1e6, (d.user + d.sys) / 1e6, max_rss_kb());
    print_gcstat(s);
    printf(" check=%ld\n", check);
    return 0;
}
