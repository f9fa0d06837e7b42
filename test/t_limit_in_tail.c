/*
 * t_limit_in_tail: a memory limit lowered while a cycle is in its tail (mark termination
 * over, the cycle not yet done) starts the next cycle once that one is done, with nothing
 * allocated after the call.
 *
 * The tail is held open: stderr is a full pipe and GODEBUG=gctrace=1, so the GC thread
 * blocks writing the trace line, after mark termination published the next trigger and
 * counted the cycle. The main thread sees num_gc move, lowers the limit below the live heap,
 * and a helper drains the pipe 200 ms later. The cycle kept its trigger, computed for the old
 * limit, until its end, and published the new one when nobody allocated any more: no cycle
 * started (t_memlimit, under load, failed so in 1 run of 60). Now the setter's pacer update
 * publishes the trigger of a cycle in its tail, and the setter waits out the tail and starts
 * the cycle.
 */
#include "check.h"
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#define MiB ((uint64_t)1 << 20)
#define NLIVE (40 * 1024)   /* 40 MiB of 1 KiB scanned objects stay live */

static int rfd;

static void *drain(void *arg) {
    (void)arg;
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, NULL);
    char buf[65536];
    while (read(rfd, buf, sizeof buf) > 0) {}
    return NULL;
}

static int child(void) {
    CHECK(gc_init() == 0);
    void **live = gc_alloc(NLIVE * sizeof *live);
    CHECK(live);
    /* scanned: the mark is more than the starting thread's slice, so the GC thread ends it */
    for (long i = 0; i < NLIVE; i++) CHECK(live[i] = gc_alloc(1024));
    gc_collect();
    int p[2];
    CHECK(pipe(p) == 0);
    rfd = p[0];
    int saved = dup(2);
    CHECK(dup2(p[1], 2) == 2);
    /* fill the pipe: the next trace line blocks its writer */
    fcntl(2, F_SETFL, fcntl(2, F_GETFL) | O_NONBLOCK);
    static char junk[4096];
    memset(junk, '.', sizeof junk);
    while (write(2, junk, sizeof junk) > 0) {}
    while (write(2, junk, 1) > 0) {}
    fcntl(2, F_SETFL, fcntl(2, F_GETFL) & ~O_NONBLOCK);

    gc_memstats_t ms;
    read_ms(&ms);
    unsigned n0 = ms.num_gc;
    unsigned long long made = 0;
    while (ms.num_gc == n0) {   /* garbage until a cycle is counted: its tail is now blocked */
        for (int i = 0; i < 256; i++) CHECK(gc_alloc_noscan(4096));
        made += 256 * 4096;
        read_ms(&ms);
        CHECK(made < 16 * 1024 * MiB, "no cycle after %llu MiB of garbage", made / MiB);
    }
    unsigned before = ms.num_gc;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, drain, NULL) == 0);
    gc_set_memory_limit(32 * MiB);   /* below the 40 MiB live heap */
    for (int i = 0; i < 300 && ms.num_gc == before; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        read_ms(&ms);
    }
    unsigned after = ms.num_gc;
    gc_set_memory_limit(INT64_MAX);
    dup2(saved, 2);
    close(p[1]);
    pthread_join(th, NULL);
    CHECK(after > before, "the limit lowered in a cycle's tail started no cycle (num_gc %u)", after);
    for (long i = 0; i < NLIVE; i++) CHECK(gc_base(live[i]) == live[i]);
    printf("cycles after the call: %u\n", after - before);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "child")) return child();
    static child_result_t cr;
    const char *args[] = {"child", NULL};
    const char *env[] = {"GOGC=100", "GODEBUG=gctrace=1", NULL};
    int st = run_self(&cr, args, env);
    fputs(cr.out, stdout);
    CHECK(st == 0, "child exited %d; stderr:\n%.2000s", st, cr.err);
    printf("t_limit_in_tail: OK\n");
    return 0;
}
