/*
 * t_grow: the grower (alloc/grow.c) faults a growing heap's new pages in ahead of the
 * threads that allocate from them.
 *  - a thread builds a live heap to 96 MiB and forces a collection (the grower starts at a
 *    cycle's end once the heap passes 64 MiB), then allocates 160 MiB more in 256 KiB
 *    objects (large: their pages come straight from the page heap, which faults nothing
 *    in itself), pausing 20 ms every 2 MiB (100 MiB/s; the grower faults 4 KiB pages in at
 *    about 170 MiB/s here). Before writing the first object of each new 2 MiB region it
 *    asks mincore whether the object's pages are resident: at least half must be, faulted in by the grower (about 95%
 *    are in huge pages, 75-80% in 4 KiB pages on a loaded machine); without it none are;
 *  - the objects are intact, and heap_sys grows by about what was allocated: the grower
 *    keeps at most its reserve (64 MiB) beyond need;
 *  - with everything dropped and released, 96 MiB allocated again at the same pace does not
 *    grow the heap: the grower faults released pages back in for its reserve before it
 *    commits new ones, and keeps ahead as it does in new memory (checked as above, with
 *    half a CPU idle).
 * The grower shares the CPUs with the program's threads (normal priority since issue 17,
 * docs/architecture.md): its lead is a property of a machine with a CPU to spare, and it is checked only when the paced phase
 * had at least half a CPU idle on average (from /proc/stat). Beside `stress-ng --cpu 2`
 * there is none (0.00-0.02 idle CPUs measured) and 7 of 81 regions were resident, by
 * design: the allocating thread then faults its pages in itself, and the rest is checked.
 * Run twice: with the heap in huge pages (the default) and with GODEBUG=disablethp=1,
 * where every 4 KiB page is a fault of its own.
 */
#define _GNU_SOURCE
#include "check.h"

#include <sys/mman.h>

#define MiB ((uint64_t)1 << 20)
#define OBJ (256 << 10)
#define REUSE_SLACK (4 * MiB)

static void **live;   /* a gc_alloc'd table, reachable from static data */
static size_t nlive;

static size_t resident, fresh;
static uintptr_t last_region;

/* Every 4 KiB page of [p, p + n) resident? */
static int all_resident(void *p, size_t n)
{
    static unsigned char vec[OBJ / 4096];
    CHECK(mincore(p, n, vec) == 0, "mincore: %s", strerror(errno));
    for (size_t i = 0; i < n / 4096; i++)
        if (!(vec[i] & 1))
            return 0;
    return 1;
}

static void grow_by(uint64_t bytes, int pace)
{
    for (uint64_t done = 0; done < bytes; done += OBJ) {
        long *p = gc_alloc_noscan(OBJ);
        CHECK(p, "allocation failed");
        /* The object's part in each 2 MiB region it is the first to reach: a huge page
         * faulted in by its first write would make the region's other objects resident
         * whoever faulted it. An object may start in the region the one before ended in
         * (in refilled memory they straddle every boundary), so a region is checked where
         * the first object to reach it begins in it or runs into it. */
        uintptr_t lo = (uintptr_t)p, hi = lo + OBJ;
        for (uintptr_t r = lo >> 21; pace && r <= (hi - 1) >> 21; r++) {
            if (r == last_region)
                continue;
            uintptr_t a = r << 21 > lo ? r << 21 : lo, b = (r + 1) << 21 < hi ? (r + 1) << 21 : hi;
            resident += all_resident((void *)a, b - a);
            fresh++;
        }
        last_region = (hi - 1) >> 21;
        memset(p, 0x11, OBJ);
        p[0] = (long)nlive;
        p[OBJ / sizeof(long) - 1] = ~(long)nlive;
        live[nlive++] = p;
        if (pace && done % (2 * MiB) == 0) {
            struct timespec d = {0, 20 * 1000 * 1000};
            nanosleep(&d, NULL);
        }
    }
}

/* CPUs idle (and in iowait) since the last call, on average, from /proc/stat's cpu line. */
static double idle_cpus(void)
{
    static unsigned long long last_idle;
    static double last_t;
    unsigned long long v[5] = {0};
    FILE *f = fopen("/proc/stat", "r");
    CHECK(f, "/proc/stat: %s", strerror(errno));
    CHECK(fscanf(f, "cpu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4]) == 5, "/proc/stat format");
    fclose(f);
    unsigned long long idle = v[3] + v[4];
    double t = now_sec(), r = 0;
    if (last_t > 0)
        r = (double)(idle - last_idle) / (double)sysconf(_SC_CLK_TCK) / (t - last_t);
    last_idle = idle;
    last_t = t;
    return r;
}

static int run(void)
{
    gc_init();
    live = gc_alloc((256 + 96) * MiB / OBJ * sizeof *live);
    CHECK(live, "table");
    grow_by(96 * MiB, 0);
    gc_collect();
    gc_memstats_t a, b;
    gc_read_memstats(&a);
    idle_cpus();
    grow_by(160 * MiB, 1);
    double idle = idle_cpus();
    gc_read_memstats(&b);
    printf("%s: %zu of %zu new 2 MiB regions were resident before their first write (%.2f CPUs idle); "
           "heap_sys %.0f -> %.0f MiB\n",
           getenv("GODEBUG") ? getenv("GODEBUG") : "huge pages", resident, fresh, idle, a.heap_sys / (double)MiB,
           b.heap_sys / (double)MiB);
    if (idle >= 0.5)
        CHECK(resident * 2 >= fresh, "only %zu of %zu regions were resident with %.2f CPUs idle: the grower did not keep ahead",
              resident, fresh, idle);
    else
        printf("the grower's lead is not checked: %.2f CPUs were idle, and it runs only on idle ones\n", idle);
    CHECK(b.heap_sys - a.heap_sys <= 160 * MiB + 64 * MiB + 8 * MiB, "the heap grew by %.0f MiB for 160 MiB",
          (b.heap_sys - a.heap_sys) / (double)MiB);
    for (size_t i = 0; i < nlive; i++) {
        long *p = live[i];
        CHECK(p[0] == (long)i && p[OBJ / sizeof(long) - 1] == ~(long)i, "object %zu damaged", i);
    }

    /* With all of it dropped and released, 96 MiB allocated again at the same pace must
     * not grow the heap: the grower's reserve comes from the released pages first. When it
     * committed new chunks beside them, heap_sys grew by its 8 MiB reserve here (264 -> 272 MiB). */
    memset(live, 0, nlive * sizeof *live);
    nlive = 0;
    gc_collect();
    gc_collect();
    gc_free_os_memory();
    gc_read_memstats(&a);
    resident = fresh = 0;
    last_region = 0;
    idle_cpus();
    grow_by(96 * MiB, 1);
    idle = idle_cpus();
    gc_read_memstats(&b);
    printf("96 MiB again after a release: heap_sys %.0f -> %.0f MiB (%.0f MiB released before); "
           "%zu of %zu 2 MiB regions resident before their first write (%.2f CPUs idle)\n", a.heap_sys / (double)MiB,
           b.heap_sys / (double)MiB, a.heap_released / (double)MiB, resident, fresh, idle);
    if (idle >= 0.5)
        CHECK(resident * 2 >= fresh, "only %zu of %zu released regions were resident again with %.2f CPUs idle: "
              "the grower did not fault released pages back in ahead", resident, fresh, idle);
    CHECK(b.heap_sys <= a.heap_sys + REUSE_SLACK, "the heap grew from %.0f to %.0f MiB with %.0f MiB released to reuse",
          a.heap_sys / (double)MiB, b.heap_sys / (double)MiB, a.heap_released / (double)MiB);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "child"))
        return run();
    static const char *const args[] = {"child", NULL};
    static const char *const env_huge[] = {NULL};
    static const char *const env_small[] = {"GODEBUG=disablethp=1", NULL};
    const char *const *envs[] = {env_huge, env_small};
    for (int i = 0; i < 2; i++) {
        child_result_t r;
        run_self(&r, args, envs[i]);
        fputs(r.out, stdout);
        CHECK(r.status == 0, "child %d failed: %s", i, r.err);
    }
    printf("ok\n");
    return 0;
}
