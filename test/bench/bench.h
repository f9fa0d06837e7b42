/*
 * bench.h: shared helpers for the gcrt benchmark programs in test/bench/.
 *
 * Each benchmark is one source file compiled once per allocator:
 *   -DUSE_GCRT   gcrt (gc_alloc / gc_alloc_noscan), linked with build/libgcrt.a
 *   -DUSE_BDWGC  bdwgc 8.x (GC_MALLOC / GC_MALLOC_ATOMIC), linked with -lgc
 *   -DUSE_MALLOC malloc/free (alloc.c, gcbench.c, binarytrees.c, sleepfloor.c): glibc's, or
 *                mimalloc's when the run sets LD_PRELOAD (the RESULT line says which: malloc=)
 * The program text is otherwise identical. Every program prints one or more machine-readable
 * lines starting with "RESULT " made of key=value fields; test/bench/run.sh collects them.
 */
#ifndef GCRT_BENCH_H
#define GCRT_BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RUSAGE_THREAD */
#endif

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#if defined(USE_GCRT) + defined(USE_BDWGC) + defined(USE_MALLOC) != 1
#error "define exactly one of USE_GCRT, USE_BDWGC, USE_MALLOC"
#endif

#if defined(USE_GCRT)
#include "gcrt.h"
#define IMPL_NAME "gcrt"
#elif defined(USE_BDWGC)
#define GC_THREADS 1
#include <gc.h>
#if defined(GCRT_BDWGC)   /* compat/include/gc.h: the bdwgc program on gcrt's shim */
#include "gcrt.h"         /* its collector statistics are gcrt's (gc_read_memstats) */
#define IMPL_NAME "shim"
#else
#define IMPL_NAME "bdwgc"
#endif
#else
#include <dlfcn.h>
#include <pthread.h>
#define IMPL_NAME "malloc"
#endif

/* ---- clocks ------------------------------------------------------------------------ */

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t tv_ns(struct timeval tv)
{
    return (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
}

typedef struct {
    uint64_t wall, user, sys; /* ns */
} bench_clock_t;

/* who: RUSAGE_SELF (whole process, all threads) or RUSAGE_THREAD (calling thread). */
static inline bench_clock_t bench_clock(int who)
{
    struct rusage ru;
    bench_clock_t c;
    getrusage(who, &ru);
    c.wall = now_ns();
    c.user = tv_ns(ru.ru_utime);
    c.sys = tv_ns(ru.ru_stime);
    return c;
}

static inline bench_clock_t bench_elapsed(bench_clock_t a, bench_clock_t b)
{
    bench_clock_t d = { b.wall - a.wall, b.user - a.user, b.sys - a.sys };
    return d;
}

/* Peak resident set of the process in KiB. */
static inline long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* ---- argument helpers -------------------------------------------------------------- */

/* Reads "key=value" from argv; returns dflt when absent. */
static inline long arg_long(int argc, char **argv, const char *key, long dflt)
{
    size_t kl = strlen(key);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], key, kl) == 0 && argv[i][kl] == '=')
            return strtol(argv[i] + kl + 1, NULL, 0);
    return dflt;
}

static inline int arg_flag(int argc, char **argv, const char *word)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], word) == 0)
            return 1;
    return 0;
}

/* ---- collector statistics: number of collections and pauses ------------------------ */

typedef struct {
    uint64_t gcs;          /* collections completed */
    uint64_t max_pause_ns; /* longest stop-the-world pause seen */
    uint64_t total_pause_ns;
    uint64_t pauses;       /* pauses counted in max/total */
    uint64_t lost;         /* pauses that fell out of gcrt's 256-entry ring between polls */
    int markers;           /* bdwgc: marker threads in use (GC_get_parallel()+1) */
} gcstat_t;

#if defined(USE_GCRT) || defined(GCRT_BDWGC)

static gc_memstats_t bench_ms; /* ~4 KiB; static so polls need no stack */
static uint32_t bench_seen_gc, bench_base_gc;
static uint64_t bench_max_pause, bench_lost, bench_base_pause_total;

/* Folds the pauses of the collections completed since the last poll into the maximum.
 * Call it at phase boundaries: gcrt keeps only the last 256 pauses. */
static inline void gcstat_poll(void)
{
    gc_read_memstats(&bench_ms);
    uint32_t n = bench_ms.num_gc, from = bench_seen_gc;
    if (n - from > 256) {
        bench_lost += n - from - 256;
        from = n - 256;
    }
    for (uint32_t g = from; g < n; g++) { /* collection g+1 sits at index g % 256 */
        uint64_t p = bench_ms.pause_ns[g % 256];
        if (p > bench_max_pause)
            bench_max_pause = p;
    }
    bench_seen_gc = n;
}

/* Start a measured phase: what gcstat_read reports from now on leaves out the pauses of
 * the collections before it (bdwgc's side likewise only counts from here). */
static inline void gcstat_init(void)
{
    gcstat_poll();
    bench_max_pause = 0;
    bench_lost = 0;
    bench_base_gc = bench_ms.num_gc;
    bench_base_pause_total = bench_ms.pause_total_ns;
}

static inline gcstat_t gcstat_read(void)
{
    gcstat_t s;
    gcstat_poll();
    s.gcs = bench_ms.num_gc - bench_base_gc;
    s.max_pause_ns = bench_max_pause;
    s.total_pause_ns = bench_ms.pause_total_ns - bench_base_pause_total;
    s.pauses = bench_ms.num_gc - bench_base_gc;
    s.lost = bench_lost;
    s.markers = 0;
    return s;
}

#elif defined(USE_BDWGC)

/* bdwgc reports collection events to one callback, called by the collecting thread with the
 * allocator lock held. A pause is PRE_STOP_WORLD .. POST_START_WORLD; if the library never
 * reports stop-world events, START .. END of each collection is used instead. */
static uint64_t bdw_stop_t, bdw_start_t;
static uint64_t bdw_max_stw, bdw_total_stw, bdw_n_stw;
static uint64_t bdw_max_coll, bdw_total_coll, bdw_n_coll;

static void GC_CALLBACK bdw_on_event(GC_EventType e)
{
    uint64_t t, d;
    switch (e) {
    case GC_EVENT_PRE_STOP_WORLD:
        bdw_stop_t = now_ns();
        break;
    case GC_EVENT_POST_START_WORLD:
        if (bdw_stop_t) {
            t = now_ns();
            d = t - bdw_stop_t;
            bdw_stop_t = 0;
            bdw_total_stw += d;
            bdw_n_stw++;
            if (d > bdw_max_stw)
                bdw_max_stw = d;
        }
        break;
    case GC_EVENT_START:
        bdw_start_t = now_ns();
        break;
    case GC_EVENT_END:
        if (bdw_start_t) {
            d = now_ns() - bdw_start_t;
            bdw_start_t = 0;
            bdw_total_coll += d;
            bdw_n_coll++;
            if (d > bdw_max_coll)
                bdw_max_coll = d;
        }
        break;
    default:
        break;
    }
}

static inline void gcstat_init(void)
{
    GC_set_on_collection_event(bdw_on_event);
}

static inline void gcstat_poll(void)
{
}

static inline gcstat_t gcstat_read(void)
{
    gcstat_t s;
    s.gcs = GC_get_gc_no();
    if (bdw_n_stw) {
        s.max_pause_ns = bdw_max_stw;
        s.total_pause_ns = bdw_total_stw;
        s.pauses = bdw_n_stw;
    } else {
        s.max_pause_ns = bdw_max_coll;
        s.total_pause_ns = bdw_total_coll;
        s.pauses = bdw_n_coll;
    }
    s.lost = 0;
    s.markers = GC_get_parallel() + 1;
    return s;
}

#else

static inline void gcstat_init(void) {}
static inline void gcstat_poll(void) {}
static inline gcstat_t gcstat_read(void)
{
    gcstat_t s = { 0, 0, 0, 0, 0, 0 };
    return s;
}

#endif

/* ---- collector set-up -------------------------------------------------------------- */

/* Initialise the collector for a benchmark. argv word "startmarkers" (bdwgc only) calls
 * GC_start_mark_threads() after GC_INIT(), so GC_MARKERS=N takes effect in a
 * single-threaded program (8.2.2 starts helpers only with the first client thread). */
static inline void bench_gc_init(int argc, char **argv)
{
#if defined(USE_GCRT)
    (void)argc; (void)argv;
    if (gc_init() != 0) {
        fprintf(stderr, "gc_init failed\n");
        exit(2);
    }
#elif defined(USE_BDWGC)
    GC_INIT();
    if (arg_flag(argc, argv, "startmarkers"))
        GC_start_mark_threads();
#else
    (void)argc; (void)argv;
#endif
    gcstat_init();
}

/* Print the standard tail of a RESULT line (collector statistics) and end the line. */
static inline void print_gcstat(gcstat_t s)
{
    printf(" gcs=%llu maxpause_us=%.1f pausetotal_ms=%.2f pauses=%llu",
           (unsigned long long)s.gcs, s.max_pause_ns / 1e3, s.total_pause_ns / 1e6,
           (unsigned long long)s.pauses);
    if (s.lost)
        printf(" pauses_lost=%llu", (unsigned long long)s.lost);
#if defined(USE_BDWGC) && !defined(GCRT_BDWGC)
    printf(" markers=%d", s.markers);
#elif defined(USE_MALLOC)
    /* mimalloc, when LD_PRELOADed over glibc, exports its own API besides malloc */
    printf(" malloc=%s", dlsym(RTLD_DEFAULT, "mi_version") ? "mimalloc" : "glibc");
#endif
}

/* Keep a value observable to the compiler. */
#define BENCH_USE(x) __asm__ volatile("" : : "r"(x) : "memory")

#endif /* GCRT_BENCH_H */
