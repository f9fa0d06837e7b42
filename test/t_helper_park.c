/*
 * t_helper_park: gcrt's idle-priority helpers (runtime/helper.c) wait for work at normal
 * priority, and name themselves.
 *  - after paced cycles (not only gc_collect: those start the idle mark worker too) and a
 *    quiet 200 ms, every gcrt-* thread that waits is at SCHED_OTHER, or gets there within
 *    10 s (one mid-work when the sweep finished is raised to reach its park; beside a CPU
 *    hog per core it was once still at SCHED_IDLE after the 200 ms, before that raise). A helper left at
 *    SCHED_IDLE while it waits made a killed program's reap wait for it beside CPU hogs
 *    (issue 17: the soak ran past its limit; test/stress/reap.c measures it). Before the fix
 *    gcrt-sweep and gcrt-idlemark waited at SCHED_IDLE;
 *  - gcrt-gc, gcrt-sweep, gcrt-scavenge and (where helpers can idle) gcrt-idlemark exist
 *    under those names (each names itself
 *    with prctl rather than being named through /proc);
 *  - while the program allocates, with a cycle marking, the sweeper or the idle mark
 *    worker is seen at SCHED_IDLE at least once in 200 samples (they still work at idle
 *    priority) when the probe found that helpers can be raised again.
 */
#define _GNU_SOURCE
#include "check.h"

#include <dirent.h>
#include <sched.h>

typedef struct node {
    struct node *next;
    char pad[56];
} node;

static node *volatile keep;

typedef struct {
    int tid;
    char comm[32];
    int policy;
} task;

static int list_tasks(task *t, int max) {
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL, "opendir /proc/self/task: %s", strerror(errno));
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < max;) {
        if (e->d_name[0] == '.') continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;   /* exited meanwhile */
        t[n].tid = atoi(e->d_name);
        if (!fgets(t[n].comm, sizeof t[n].comm, f)) t[n].comm[0] = 0;
        fclose(f);
        t[n].comm[strcspn(t[n].comm, "\n")] = 0;
        t[n].policy = sched_getscheduler(t[n].tid);
        n++;
    }
    closedir(d);
    return n;
}

static node *volatile live;   /* ~12 MiB kept: each cycle has marking to do concurrently */

static void churn(size_t n) {
    if (!live)
        for (int i = 0; i < 200000; i++) {
            node *x = gc_alloc(sizeof *x);
            CHECK(x != NULL);
            x->next = live;
            live = x;
        }
    for (size_t i = 0; i < n; i++) {
        node *x = gc_alloc(sizeof *x);
        CHECK(x != NULL);
        if ((i & 255) == 0) {
            x->next = keep;
            keep = x;
        }
        if ((i & 65535) == 0) keep = NULL;
    }
}

static uint32_t num_gc(void) {
    gc_memstats_t ms;
    gc_read_memstats(&ms);
    return ms.num_gc;
}

static int has(const task *t, int n, const char *comm) {
    for (int i = 0; i < n; i++)
        if (!strcmp(t[i].comm, comm)) return 1;
    return 0;
}

int main(void) {
    CHECK(gc_init() == 0);
    /* Can helpers be lowered and raised again here (root, or RLIMIT_NICE)? As the probe. */
    struct sched_param sp = {0};
    int can_idle = 0;
    uint32_t gc0 = num_gc();
    /* Seen at SCHED_IDLE while working: sample during paced cycles. */
    int seen_idle = 0;
    task t[128];
    for (int round = 0; round < 400 && (!seen_idle || num_gc() - gc0 < 3); round++) {
        churn(20000);
        int n = list_tasks(t, 128);
        for (int i = 0; i < n; i++)
            if ((!strcmp(t[i].comm, "gcrt-sweep") || !strcmp(t[i].comm, "gcrt-idlemark")) && t[i].policy == SCHED_IDLE)
                seen_idle = 1;
    }
    CHECK(num_gc() - gc0 >= 3, "only %u cycles ran", num_gc() - gc0);
    keep = NULL;
    live = NULL;
    gc_collect();
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, NULL);

    /* Whether this process may raise a thread out of SCHED_IDLE (what helper.c probes). */
    if (sched_setscheduler(0, SCHED_IDLE, &sp) == 0) {
        can_idle = sched_setscheduler(0, SCHED_OTHER, &sp) == 0;
        if (!can_idle) CHECK(0, "this thread cannot leave SCHED_IDLE again; the test would be stuck at idle priority");
    }

    /* A helper that was mid-work when the last cycle's sweep finished is raised to reach
     * its park (sweep.c, idlemark.c); allow it 10 s of a loaded machine to get there. */
    int n = 0, waiting_idle = 1;
    double t0 = now_sec();
    while (waiting_idle && now_sec() - t0 < 10) {
        n = list_tasks(t, 128);
        waiting_idle = 0;
        for (int i = 0; i < n; i++)
            if (!strncmp(t[i].comm, "gcrt-", 5) && t[i].policy != SCHED_OTHER) waiting_idle = 1;
        if (waiting_idle) nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    double parked_after = now_sec() - t0;
    CHECK(has(t, n, "gcrt-gc"), "no thread named gcrt-gc");
    CHECK(has(t, n, "gcrt-sweep"), "no thread named gcrt-sweep");
    CHECK(has(t, n, "gcrt-scavenge"), "no thread named gcrt-scavenge");
    if (can_idle) CHECK(has(t, n, "gcrt-idlemark"), "no thread named gcrt-idlemark");
    int helpers = 0;
    for (int i = 0; i < n; i++) {
        if (strncmp(t[i].comm, "gcrt-", 5)) continue;
        helpers++;
        printf("  %-14s tid %d policy %s\n", t[i].comm, t[i].tid,
               t[i].policy == SCHED_IDLE ? "SCHED_IDLE" : t[i].policy == SCHED_OTHER ? "SCHED_OTHER" : "other");
        CHECK(t[i].policy == SCHED_OTHER, "%s (tid %d) still at policy %d, not SCHED_OTHER, 10 s after the last cycle",
              t[i].comm, t[i].tid, t[i].policy);
    }
    if (can_idle)
        CHECK(seen_idle, "neither gcrt-sweep nor gcrt-idlemark was seen at SCHED_IDLE while the program allocated");
    else
        printf("  helpers cannot be raised again here: they run at normal priority throughout\n");
    printf("t_helper_park: %d gcrt threads waiting at SCHED_OTHER (all within %.2f s of the quiet 200 ms) after %u "
           "cycles; a helper seen at SCHED_IDLE while working: %s\n",
           helpers, parked_after, num_gc() - gc0, seen_idle ? "yes" : "no");
    return 0;
}
