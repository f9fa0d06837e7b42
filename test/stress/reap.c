/*
 * reap.c: how long it takes to reap a gcrt program killed while other work keeps every
 * CPU busy (issue 17, the soak's end past its 300 s limit).
 *
 * The parent starts one CPU hog per core (same session, same autogroup, as make
 * test-repeat's loaded half runs them), then REAP_RUNS times in each of three modes: forks
 * a child that starts gcrt's helpers (collections, background sweep, idle marking), ends
 * it with SIGTERM, and measures the waitpid that reaps it, in wall time and in the
 * parent's system time. The modes:
 *   idle: the child has stopped allocating after a last gc_collect (its helpers wait for
 *         work) and dies of SIGTERM's default action;
 *   exit: the child is allocating, and its SIGTERM handler makes it call exit(0), as
 *         kvcache's does;
 *   busy: the child is allocating and dies of SIGTERM's default action, with helpers
 *         likely mid-work at SCHED_IDLE (reported, not judged: nothing can raise them).
 *
 * What it catches: a program's threads die each at its own priority, and beside the hogs a
 * SCHED_IDLE thread gets a slice about once a second; the parent's reap waits for the last
 * one, spinning in the kernel part of the time (shrink_dcache_parent over the dying
 * process's /proc entries). 277 s of system time in one soak. gcrt's helpers therefore
 * wait for work at normal priority, exit() raises them all, and they name themselves
 * (a lookup of /proc/PID/task/TID leaves entries there for the reaper to wait on).
 *
 * Exits 1 when any reap in the idle or exit mode took longer than REAP_LIMIT_MS
 * (default 1000).
 */
#define _GNU_SOURCE
#include "gcrt.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double stime_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct node {
    struct node *next;
    char pad[40];
} node;

enum { MODE_IDLE, MODE_EXIT, MODE_BUSY };
static const char *mode_names[] = {"idle", "exit", "busy"};
static volatile sig_atomic_t stop;

static void on_term(int sig) { stop = sig; }

static void child(int ready_fd, int mode) {
    if (mode == MODE_EXIT) signal(SIGTERM, on_term);
    if (gc_init() != 0) _exit(3);
    /* A few cycles, so that every helper exists; then allocate as a server does. */
    node *keep = NULL;
    for (int c = 0; c < 6; c++) {
        for (int i = 0; i < 20000; i++) {
            node *n = gc_alloc(sizeof *n);
            n->next = i % 8 ? NULL : keep;
            if (i % 8 == 0) keep = n;
        }
        gc_collect();
        keep = NULL;
    }
    if (write(ready_fd, "r", 1) != 1) _exit(3);
    if (mode == MODE_IDLE)
        for (;;) pause();
    for (unsigned long i = 0;; i++) {
        node *n = gc_alloc(sizeof *n);
        n->next = (i & 1023) ? keep : NULL;
        keep = n;
        if (stop) exit(0);
    }
}

int main(void) {
    int runs = getenv("REAP_RUNS") ? atoi(getenv("REAP_RUNS")) : 40;
    double limit = (getenv("REAP_LIMIT_MS") ? atof(getenv("REAP_LIMIT_MS")) : 1000) / 1e3;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (runs < 1 || cpus < 1) return 2;
    pid_t hogs[64];
    int nhogs = cpus > 64 ? 64 : (int)cpus;
    for (int i = 0; i < nhogs; i++)
        if ((hogs[i] = fork()) == 0)
            for (volatile unsigned long x = 0;; x++) {
            }
    double *wall = calloc((size_t)runs, sizeof *wall), *sys = calloc((size_t)runs, sizeof *sys);
    int judged_slow = 0;
    for (int mode = MODE_IDLE; mode <= MODE_BUSY; mode++) {
        int slow = 0;
        for (int r = 0; r < runs; r++) {
            int p[2];
            if (pipe(p) != 0) return 2;
            pid_t c = fork();
            if (c == 0) {
                close(p[0]);
                child(p[1], mode);
            }
            close(p[1]);
            char b;
            if (read(p[0], &b, 1) != 1) {
                fprintf(stderr, "reap: child %d died before it was ready\n", (int)c);
                return 2;
            }
            close(p[0]);
            struct timespec ts = {0, 30000000};
            nanosleep(&ts, NULL);
            double s0 = stime_s();
            kill(c, SIGTERM);
            double t0 = now_s();
            waitpid(c, NULL, 0);
            wall[r] = now_s() - t0;
            sys[r] = stime_s() - s0;
            if (wall[r] > limit) {
                slow++;
                fprintf(stderr, "reap: %s run %d: %.3f s to reap (%.3f s of it system time in the reaper)\n",
                        mode_names[mode], r, wall[r], sys[r]);
            }
        }
        double tw = 0, tsys = 0;
        for (int r = 0; r < runs; r++) tw += wall[r], tsys += sys[r];
        qsort(wall, (size_t)runs, sizeof *wall, cmp_d);
        qsort(sys, (size_t)runs, sizeof *sys, cmp_d);
        printf("reap %s: %d runs beside %d hogs: reap median %.1f ms, worst %.1f ms, mean %.1f ms; "
               "reaper system time median %.1f ms, worst %.1f ms, total %.2f s; %d over %.0f ms%s\n",
               mode_names[mode], runs, nhogs, wall[runs / 2] * 1e3, wall[runs - 1] * 1e3, tw / runs * 1e3,
               sys[runs / 2] * 1e3, sys[runs - 1] * 1e3, tsys, slow, limit * 1e3, mode == MODE_BUSY ? " (not judged)" : "");
        fflush(stdout);
        if (mode != MODE_BUSY) judged_slow += slow;
    }
    for (int i = 0; i < nhogs; i++) kill(hogs[i], SIGKILL);
    for (int i = 0; i < nhogs; i++) waitpid(hogs[i], NULL, 0);
    return judged_slow ? 1 : 0;
}
