/*
 * t_thp: the heap in transparent huge pages (alloc/os.c) and the accounting that must
 * follow them (alloc/heap.c).
 *  - where the system offers THP (enabled = always or madvise), a heap grown past 64 MiB
 *    (66 MiB kept live, then 80 MiB more touched) is backed in part by huge pages (smaps
 *    AnonHugePages over the heap's mappings); with GODEBUG=disablethp=1 on a madvise-only
 *    system, none of it is. What is faulted in before 64 MiB stays in 4 KiB pages
 *    (alloc/heap.c), so it is kept live: the 80 MiB released, refilled and scavenged below
 *    are in huge pages
 *    (with them free, the large objects below landed in 4 KiB pages, and a huge page
 *    partly released there made the scavenger's release no multiple of 2 MiB);
 *  - after gc_free_os_memory() the heap's resident bytes (smaps Rss over its mappings) are
 *    at most what gcrt says it retains (heap_sys - heap_released), plus a little slack;
 *  - the same holds after large objects are allocated into the released memory and every
 *    page of them written: a huge page faulted in whole brings back pages beyond the
 *    object's end, which must be counted as retained again, not still released;
 *  - the background scavenger, asked to hold the heap to a smaller GOGC target, releases
 *    whole huge pages only: heap_released grows in multiples of 2 MiB;
 *  - the accounting holds in the 4 KiB-backed part of the huge heap too, released and
 *    refilled with large objects.
 */
#include "check.h"

#include <stdbool.h>

#define MiB ((uint64_t)1 << 20)
#define OBJ 4000
#define KEEP (66 * 1024 * 1024 / OBJ)   /* live throughout, past 64 MiB: where the heap goes huge */
#define NOBJ (80 * 1024 * 1024 / OBJ)   /* then dropped, all in huge pages */

static void **keep;   /* gc_alloc'd: what it holds stays live */

static uintptr_t *addrs;   /* malloc'd: not scanned, so it keeps nothing alive */
static size_t naddrs;

typedef struct {
    uint64_t rss, huge;         /* bytes */
    uint64_t elig_rss, elig_huge;   /* of the mappings marked for huge pages (THPeligible) */
} heapmem_t;

/* Rss and AnonHugePages of every mapping that holds one of addrs[]. */
static heapmem_t heap_mem(void)
{
    heapmem_t m = {0, 0, 0, 0};
    uint64_t rss = 0, huge = 0;
    FILE *f = fopen("/proc/self/smaps", "r");
    CHECK(f, "cannot open /proc/self/smaps");
    char line[512];
    bool in = false;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        unsigned long long kb;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {   /* a mapping's first line */
            in = false;
            for (size_t i = 0; i < naddrs && !in; i++)
                in = addrs[i] >= lo && addrs[i] < hi;
            continue;
        }
        if (!in)
            continue;
        if (sscanf(line, "Rss: %llu kB", &kb) == 1)
            m.rss += rss = kb << 10;
        else if (sscanf(line, "AnonHugePages: %llu kB", &kb) == 1)
            m.huge += huge = kb << 10;
        else if (sscanf(line, "THPeligible: %llu", &kb) == 1 && kb) {   /* after both, in smaps */
            m.elig_rss += rss;
            m.elig_huge += huge;
        }
    }
    fclose(f);
    return m;
}

static uint64_t retained(void)
{
    gc_memstats_t ms;
    gc_read_memstats(&ms);
    return ms.heap_sys - ms.heap_released;
}

static const char *thp_mode(void)
{
    static char buf[128];
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return "none";
    if (!fgets(buf, sizeof buf, f))
        buf[0] = 0;
    fclose(f);
    if (strstr(buf, "[always]"))
        return "always";
    if (strstr(buf, "[madvise]"))
        return "madvise";
    return "never";
}

/* What the heap faults in before it passes 64 MiB stays in 4 KiB pages (alloc/heap.c):
 * kept live, so that what is released and refilled below is the part in huge pages. */
static TEST_NOINLINE void fill_keep(void)
{
    keep = gc_alloc(KEEP * sizeof *keep);
    CHECK(keep, "keep table");
    for (size_t i = 0; i < KEEP; i++) {
        char *p = gc_alloc_noscan(OBJ);
        CHECK(p, "allocation %zu failed", i);
        memset(p, 0x33, OBJ);
        keep[i] = p;
        addrs[naddrs++] = (uintptr_t)p;
    }
}

static TEST_NOINLINE void fill(void)
{
    for (size_t i = 0; i < NOBJ; i++) {
        char *p = gc_alloc_noscan(OBJ);
        CHECK(p, "allocation %zu failed", i);
        memset(p, 0x5a, OBJ);
        addrs[naddrs++] = (uintptr_t)p;
    }
}

/* Large objects into released memory, every page written; nothing keeps them. */
static TEST_NOINLINE void refill(size_t n, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        char *p = gc_alloc_noscan(size);
        CHECK(p, "large allocation failed");
        memset(p, 1, size);
        addrs[naddrs++] = (uintptr_t)p;
    }
}

#define SLACK (256 << 10)

/* The background scavenger and the grower may be at work while this measures. The
 * scavenger's release leaves the OS's memory before gcrt's count; the grower's new chunk
 * enters gcrt's count before the OS's memory. So the count read before the smaps walk
 * bounds it across a release, and the count read after bounds it across a growth:
 * comparing with either count alone failed on a release landing in between (1 run in 5
 * under UBSan, the OS holding 2 MiB "more" than gcrt counted a moment later). */
static void check_accounting(const char *when)
{
    uint64_t r0 = retained();
    heapmem_t m = heap_mem();
    uint64_t r1 = retained(), r = r0 > r1 ? r0 : r1;
    printf("%s: heap Rss %.2f MiB (huge %.2f MiB; in huge-page mappings %.2f MiB, huge %.2f MiB), retained %.2f MiB\n",
           when, m.rss / (double)MiB, m.huge / (double)MiB, m.elig_rss / (double)MiB, m.elig_huge / (double)MiB,
           r / (double)MiB);
    CHECK(m.rss <= r + SLACK, "%s: the OS holds %llu bytes of heap but gcrt counts only %llu retained",
          when, (unsigned long long)m.rss, (unsigned long long)r);
}

int main(int argc, char **argv)
{
    bool child = argc > 1 && !strcmp(argv[1], "nothp");
    gc_init();
    gc_set_percent(-1);   /* this test decides when collections happen */
    addrs = malloc((KEEP + NOBJ + 64) * sizeof *addrs);
    CHECK(addrs, "malloc");
    const char *mode = thp_mode();
    fill_keep();
    fill();
    heapmem_t m = heap_mem();
    printf("THP %s%s: 146 MiB written, heap Rss %.2f MiB, AnonHugePages %.2f MiB\n", mode,
           child ? " (GODEBUG=disablethp=1)" : "", m.rss / (double)MiB, m.huge / (double)MiB);
    if (child) {
        if (!strcmp(mode, "madvise"))
            CHECK(m.huge == 0, "disablethp=1 but %llu bytes of the heap are huge pages", (unsigned long long)m.huge);
        return 0;
    }
    if (strcmp(mode, "never") && strcmp(mode, "none"))
        CHECK(m.huge >= 2 * MiB, "THP is %s but the heap has no huge page", mode);
    else
        printf("THP is off on this system: the huge-page checks below still hold, trivially\n");

    /* the same program with THP turned off */
    child_result_t r;
    static const char *const args[] = {"nothp", NULL};
    static const char *const env[] = {"GODEBUG=disablethp=1", NULL};
    CHECK(run_self(&r, args, env) == 0 && r.status == 0, "the disablethp=1 run failed: %s", r.err);
    fputs(r.out, stdout);

    naddrs = KEEP + NOBJ;   /* the 80 MiB die; their mappings are still the heap's */
    gc_collect();
    gc_collect();
    gc_free_os_memory();
    check_accounting("after gc_free_os_memory");

    /* Objects of 1.5 MiB end inside huge pages whose rest is released and free. */
    refill(6, 3 * MiB / 2);
    check_accounting("after 9 MiB of large objects in released memory");

    /* The background scavenger: a GOGC target far below what the heap retains. */
    naddrs = KEEP + NOBJ + 6;
    gc_collect();
    gc_collect();
    gc_memstats_t a, b;
    refill(8, 2 * MiB);   /* 16 MiB retained, then free after the next cycles */
    gc_set_percent(100);  /* the scavenger's GOGC target needs two cycles with GOGC on */
    gc_collect();
    gc_collect();
    gc_read_memstats(&a);
    double t0 = now_sec();
    do {
        struct timespec d = {0, 50 * 1000 * 1000};
        nanosleep(&d, NULL);
        gc_read_memstats(&b);
    } while (b.heap_released == a.heap_released && now_sec() - t0 < test_seconds(10));
    printf("background scavenger: released %.2f MiB -> %.2f MiB\n", a.heap_released / (double)MiB,
           b.heap_released / (double)MiB);
    CHECK(b.heap_released > a.heap_released, "the background scavenger released nothing in 10 s");
    if (strcmp(mode, "never") && strcmp(mode, "none"))
        CHECK((b.heap_released - a.heap_released) % (2 * MiB) == 0,
              "the background scavenger broke a huge page up: released %llu bytes",
              (unsigned long long)(b.heap_released - a.heap_released));
    check_accounting("after background scavenging");

    /* The part in 4 KiB pages of a heap that is huge: the first half of the kept objects
     * (the lowest addresses) dies, is released and refilled with large objects, which fit
     * best in that hole; a fault there brings back its page alone. */
    for (size_t i = 0; i < KEEP / 2; i++)
        keep[i] = NULL;
    gc_set_percent(-1);
    gc_collect();
    gc_collect();
    gc_free_os_memory();
    check_accounting("after releasing half of the 4 KiB-backed part");
    refill(12, 3 * MiB / 2);
    check_accounting("after 18 MiB of large objects there");
    printf("ok\n");
    return 0;
}
