/*
 * pause.c: the pause probe. A live heap of 64-byte nodes (live_mib, default 1024 MiB),
 * one thread churning garbage and rewiring the live graph, one thread sleeping 1 ms at a
 * time and recording how late it wakes. Reports the collector's longest stop-the-world
 * pause and the sleeper's lateness (p99, p99.9, max). Same program text for gcrt and
 * bdwgc; only the macros below differ.
 *
 * Before the sleeper starts counting, the churning thread runs until warm_gcs collections
 * have finished (default 3) and the heap stopped growing, so it has its steady size: on this VM a thread
 * that faults in fresh pages delays the other threads of its process by tens of ms (a plain
 * C program that only touches new mmap'd memory in one thread shows a 1 ms sleeper in the
 * same process 26 ms late at p99.9), which would measure the hypervisor, not the collector.
 *
 * usage: pause_<impl> [live_mib=N] [seconds=S] [warm_gcs=N] [startmarkers]
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(USE_GCRT)
#define ALLOC(n) gc_alloc(n)
#define STORE(l, v) GC_STORE(l, v)
#define THREAD_CREATE(t, f, a) gc_pthread_create(t, NULL, f, a)
#elif defined(USE_BDWGC)
#define ALLOC(n) GC_MALLOC(n)
#define STORE(l, v) ((l) = (v))
#define THREAD_CREATE(t, f, a) GC_pthread_create(t, NULL, f, a)
#else
#error "pause.c is for the collectors"
#endif

typedef struct node {
    struct node *next[6];
    uint64_t value, check;
} node;   /* 64 bytes */

#define NCHAINS 4096
static node **chains;   /* a GC object: the roots of the live graph */
static size_t nodes_per_chain;
static volatile int stop;
static volatile uint64_t churned;

static uint64_t mix(uint64_t x) {
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    return x ^ (x >> 27);
}

static node *new_node(uint64_t v) {
    node *n = ALLOC(sizeof *n);
    n->value = v;
    n->check = mix(v);
    return n;
}

static void build(size_t live_mib) {
    size_t total = live_mib * ((size_t)1 << 20) / sizeof(node);
    nodes_per_chain = total / NCHAINS;
    chains = ALLOC(NCHAINS * sizeof(node *));
    for (size_t c = 0; c < NCHAINS; c++) {
        node *head = NULL;
        for (size_t i = 0; i < nodes_per_chain; i++) {
            node *n = new_node(c * nodes_per_chain + i);
            n->next[0] = head;   /* fresh object: the slot is NULL, no barrier needed */
            head = n;
        }
        chains[c] = head;
    }
}

/* Churn: garbage, and now and then replace the second node of a chain (a barrier store). */
static void *churn(void *arg) {
    (void)arg;
    uint64_t r = 88172645463325252ull, n = 0;
    while (!stop) {
        for (int i = 0; i < 1024; i++) {
            node *g = new_node(r);
            BENCH_USE(g);
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        }
        node *head = chains[r % NCHAINS];
        if (head && head->next[0]) {
            node *fresh = new_node(head->next[0]->value);
            fresh->next[0] = head->next[0]->next[0];
            STORE(head->next[0], fresh);
        }
        n += 1024;
        churned = n;
    }
    return NULL;
}

static uint64_t *late;
static size_t nlate, caplate;
static volatile int recording;

/* Collections so far, and the heap's size (mapped for the heap, released or not). */
static uint64_t gc_count(uint64_t *heap) {
#if defined(USE_GCRT)
    gc_memstats_t ms;
    gc_read_memstats(&ms);
    *heap = ms.heap_sys;
    return ms.num_gc;
#else
    *heap = GC_get_heap_size();
    return GC_get_gc_no();
#endif
}

static void *sleeper(void *arg) {
    (void)arg;
    while (!stop) {
        uint64_t t0 = now_ns();
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        uint64_t d = now_ns() - t0;
        if (recording && nlate < caplate) late[nlate++] = d > 1000000 ? d - 1000000 : 0;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    bench_gc_init(argc, argv);
    size_t live_mib = (size_t)arg_long(argc, argv, "live_mib", 1024);
    long seconds = arg_long(argc, argv, "seconds", 10);
    uint64_t t0 = now_ns();
    build(live_mib);
    uint64_t tb = now_ns();
    long warm_gcs = arg_long(argc, argv, "warm_gcs", 3);
    caplate = (size_t)seconds * 2000 + 1000;
    late = calloc(caplate, sizeof *late);
    for (size_t i = 0; i < caplate; i++)
        late[i] = 1;   /* fault the record in now, not from the sleeper */
    pthread_t tc, ts;
    uint64_t heap, g0 = gc_count(&heap), last_gc = g0, last_heap = heap;
    THREAD_CREATE(&tc, churn, NULL);
    THREAD_CREATE(&ts, sleeper, NULL);
    /* Warm-up (at most 60 s): warm_gcs collections, and the heap grown to its steady size:
     * no more than 1% bigger at a collection than at the one before. Three collections
     * were not always enough at 1 GiB live: the heap still grew by some 100 MiB into the
     * measured phase, and the pages it faults in stall a virtual CPU for ms at a time. */
    for (int i = 0; i < 600; i++) {
        struct timespec d = {0, 100000000};
        nanosleep(&d, NULL);
        uint64_t g = gc_count(&heap);
        if (g == last_gc) continue;
        int steady = heap <= last_heap + last_heap / 100;
        last_gc = g, last_heap = heap;
        if (g - g0 >= (uint64_t)warm_gcs && steady) break;
    }
    uint64_t tw = now_ns(), warm_done = gc_count(&heap) - g0;
    gcstat_init();   /* count only the pauses of the measured phase */
    uint64_t churn0 = churned;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);   /* fresh pages faulted in while measuring: see sleepfloor.c */
    recording = 1;
    /* gc_read_memstats stops the world (Go's ReadMemStats does too), and a stop waits for a
     * thread caught in a page fault: reading it ten times a second, as this probe once did,
     * added pauses of its own to the sleeper's. Its ring of the last 256 pauses is read
     * every 20 s, so none is missed at this probe's rate of a few collections a second. */
    for (long s = 0; s < seconds * 10; s++) {
        struct timespec d = {0, 100000000};
        nanosleep(&d, NULL);
        if (s % 200 == 199) gcstat_poll();
    }
    getrusage(RUSAGE_SELF, &ru1);
    stop = 1;
    pthread_join(tc, NULL);
    pthread_join(ts, NULL);
    gcstat_poll();
    /* the live graph must be intact */
    uint64_t bad = 0, seen = 0;
    for (size_t c = 0; c < NCHAINS; c++)
        for (node *n = chains[c]; n; n = n->next[0], seen++)
            if (n->check != mix(n->value)) bad++;
    qsort(late, nlate, sizeof *late, cmp_u64);
    uint64_t p99 = nlate ? late[(size_t)(nlate * 0.99)] : 0, p999 = nlate ? late[(size_t)(nlate * 0.999)] : 0;
    uint64_t mx = nlate ? late[nlate - 1] : 0;
    printf("RESULT bench=pause impl=%s live_mib=%zu build_s=%.2f warm_s=%.2f warm_gcs=%llu seconds=%ld churned_m=%.1f wakeups=%zu "
           "minflt_per_s=%.0f late_p99_us=%.1f late_p999_us=%.1f late_max_us=%.1f nodes=%llu bad=%llu rss_kb=%ld",
           IMPL_NAME, live_mib, (tb - t0) / 1e9, (tw - tb) / 1e9, (unsigned long long)warm_done, seconds, (churned - churn0) / 1e6, nlate,
           (double)(ru1.ru_minflt - ru0.ru_minflt) / (double)seconds, p99 / 1e3, p999 / 1e3, mx / 1e3,
           (unsigned long long)seen, (unsigned long long)bad, max_rss_kb());
    print_gcstat(gcstat_read());
#if defined(USE_GCRT)
    gc_memstats_t ms;
    gc_read_memstats(&ms);
    /* The longest single pause of the whole run, build and warm-up included (informative:
     * maxpause_us, a cycle's two pauses summed in the measured phase, is the figure). */
    printf(" longest_stw_all_us=%.1f", ms.pause_max_ns / 1e3);
#endif
    printf("\n");
    return bad ? 1 : 0;
}
