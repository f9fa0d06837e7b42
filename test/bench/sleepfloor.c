/*
 * sleepfloor.c: the pause probe's sleeper on a machine kept as busy as the probe keeps it,
 * with no collector at all: `walkers` threads (default 2, one per CPU here, as the churning
 * thread plus a mark worker are) touch random cache lines of a resident live_mib buffer
 * (default 1024 MiB; walker 0 reads, the others write), while one thread sleeps 1 ms at a
 * time and records how late it wakes. The lateness it reports is the floor set by the
 * kernel, the hypervisor and the other tenants of this machine: no collector can make the
 * pause probe's sleeper wake more promptly than this one does.
 *
 * The buffer is in transparent huge pages (thp=1, the default), as gcrt's heap is past
 * 64 MiB; thp=0 leaves it in 4 KiB pages, which on this project's VMs stall a CPU on the
 * host's first touch of each page in a while and make a harsher floor. idle=1 runs the
 * walkers after the first at SCHED_IDLE, as the probe's idle mark worker, background
 * sweeper and grower run: the same CPUs kept busy, but what a waking thread can preempt.
 *
 * fresh_pps=N makes walker 1 also touch N fresh pages per second (new anonymous memory,
 * huge pages under thp=1, as a growing heap does): on a VM whose host backs guest memory
 * lazily, a fault on a page the host has not backed stalls the whole virtual CPU, and
 * whatever it was about to run (the sleeper's wake-up) with it. The pause probe reports its own rate (minflt_per_s).
 *
 * usage: sleepfloor_malloc [walkers=N] [idle=0|1] [thp=0|1] [live_mib=N] [seconds=S] [fresh_pps=N]
 *        -> RESULT bench=sleepfloor ...
 */
#include "bench.h"

#include <pthread.h>
#include <sys/mman.h>

#if !defined(USE_MALLOC)
#error "sleepfloor.c is the collector-free floor: build it with -DUSE_MALLOC"
#endif

static volatile int stop;
static int idle_walkers, thp;
static char *buf;
static size_t buf_size;
static long fresh_pps;

#define FRESH_MAX ((size_t)16 << 30)   /* reserved, never all touched */

static void *walker(void *arg) {
    uint64_t id = (uint64_t)(uintptr_t)arg, r = 0x9e3779b97f4a7c15ull * (id + 1), sum = 0;
    if (id > 0 && idle_walkers) {   /* as the probe's idle mark worker, sweeper and grower */
        struct sched_param sp = {0};
        (void)sched_setscheduler(0, SCHED_IDLE, &sp);
    }
    size_t lines = buf_size / 64, fresh_off = 0;
    char *fresh = NULL;
    if (id == 1 && fresh_pps > 0) {
        fresh = mmap(NULL, FRESH_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (fresh == MAP_FAILED) fresh = NULL;
        else if (thp) (void)madvise(fresh, FRESH_MAX, MADV_HUGEPAGE);
    }
    size_t step = thp ? (size_t)2 << 20 : 4096;   /* a fault each: a huge page's or a small one's */
    uint64_t next = now_ns(), gap = fresh_pps > 0 ? 1000000000u / (uint64_t)fresh_pps : 0;
    while (!stop) {
        if (fresh)
            for (uint64_t t = now_ns(); next < t && fresh_off < FRESH_MAX; next += gap, fresh_off += step)
                fresh[fresh_off] = 1;
        for (int i = 0; i < 4096; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            char *p = buf + (r % lines) * 64;
            if (id == 0) sum += (unsigned char)*p;
            else (*p)++;
        }
    }
    BENCH_USE(sum);
    return NULL;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int walkers = (int)arg_long(argc, argv, "walkers", 2);
    size_t live_mib = (size_t)arg_long(argc, argv, "live_mib", 1024);
    long seconds = arg_long(argc, argv, "seconds", 10);
    fresh_pps = arg_long(argc, argv, "fresh_pps", 0);
    idle_walkers = (int)arg_long(argc, argv, "idle", 0);
    thp = (int)arg_long(argc, argv, "thp", 1);
    if (walkers < 0 || walkers > 16 || seconds < 1 || fresh_pps < 0 || (fresh_pps && walkers < 2)) {
        fprintf(stderr, "usage: %s [walkers=0..16] [idle=0|1] [thp=0|1] [live_mib=N] [seconds=S] [fresh_pps=N, walkers>=2]\n",
                argv[0]);
        return 2;
    }
    buf_size = live_mib << 20;
    buf = mmap(NULL, buf_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) return 3;
    if (thp) (void)madvise(buf, buf_size, MADV_HUGEPAGE);   /* as gcrt's heap past 64 MiB */
    memset(buf, 1, buf_size);   /* resident before timing */
    size_t cap = (size_t)seconds * 1000 + 16, n = 0;
    uint64_t *late = calloc(cap, sizeof *late);
    if (!late) return 3;
    memset(late, 1, cap * sizeof *late);
    pthread_t t[16];
    for (int i = 0; i < walkers; i++)
        pthread_create(&t[i], NULL, walker, (void *)(uintptr_t)i);
    uint64_t end = now_ns() + (uint64_t)seconds * 1000000000u;
    while (n < cap && now_ns() < end) {
        uint64_t t0 = now_ns();
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        uint64_t d = now_ns() - t0;
        late[n++] = d > 1000000 ? d - 1000000 : 0;
    }
    stop = 1;
    for (int i = 0; i < walkers; i++)
        pthread_join(t[i], NULL);
    qsort(late, n, sizeof *late, cmp_u64);
    size_t over2 = 0;
    for (size_t i = 0; i < n; i++)
        over2 += late[i] > 2000000;
    printf("RESULT bench=sleepfloor walkers=%d idle=%d thp=%d live_mib=%zu seconds=%ld fresh_pps=%ld wakeups=%zu "
           "late_p99_us=%.1f late_p999_us=%.1f late_max_us=%.1f over_2ms=%zu\n",
           walkers, idle_walkers, thp, live_mib, seconds, fresh_pps, n, late[(size_t)(n * 0.99)] / 1e3,
           late[(size_t)(n * 0.999)] / 1e3, late[n - 1] / 1e3, over2);
    return 0;
}
