/*
 * cycle.c: one collection cycle (Go's mgc.go), stop-the-world form.
 *
 *   1. Finish the previous sweep (a cycle never starts with unswept spans).
 *   2. Gather static roots, stop the world (runtime/thread.c), wait for other sweepers.
 *   3. Flush every thread's cache: all spans are then on central lists and swept, so the
 *      allocation state of every slot is in allocbits/freeindex.
 *   4. Mark from stacks, registers, static data and registered ranges (gc/mark.c).
 *   5. Advance sweepgen: every span is now unswept; heap_live = bytes marked; new goal.
 *   6. Start the world. Sweeping proceeds lazily (refills) and in the background;
 *      gc_collect() finishes it before returning.
 *
 * gc.lock serializes cycles and gc_read_memstats; it is never taken inside a critical
 * section, so a thread waiting for it can always be stopped.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

GCRT_STATE gcrt_gcstate gcrt_gc = {.lock = PTHREAD_MUTEX_INITIALIZER, .done = PTHREAD_COND_INITIALIZER, .percent = 100,
                        .memory_limit = INT64_MAX};
int64_t gcrt_heap_live;

uint64_t gcrt_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t gcrt_thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Go's fmtNSAsMS: whole ms from 10 ms up, else two significant digits, <= 3 decimals. */
static char *fmt_ms(char *buf, uint64_t ns) {
    if (ns >= 10000000) {
        sprintf(buf, "%llu", (unsigned long long)(ns / 1000000));
        return buf;
    }
    uint64_t x = ns / 1000;
    int dec = 3;
    if (x == 0) return strcpy(buf, "0");
    while (x >= 100) {
        x /= 10;
        dec--;
    }
    uint64_t p = 1;
    for (int i = 0; i < dec; i++) p *= 10;
    if (dec) sprintf(buf, "%llu.%0*llu", (unsigned long long)(x / p), dec, (unsigned long long)(x % p));
    else sprintf(buf, "%llu", (unsigned long long)x);
    return buf;
}

typedef struct trace_info {
    uint32_t n;
    uint64_t start, stw1, mark, stw2, markcpu;
    uint64_t heap0, heap1, marked, goal, stacks, globals;
    int util, procs, forced;
} trace_info;

static void print_trace(const trace_info *t) {
    char a[5][32], c[5][32];
    uint64_t since = t->start - gcrt_stats_.start_ns;
    fprintf(stderr,
            "gc %u @%llu.%03llus %d%%: %s+%s+%s ms clock, %s+%s/%s/%s+%s ms cpu, %llu->%llu->%llu MB, "
            "%llu MB goal, %llu MB stacks, %llu MB globals, %d P%s\n",
            t->n, (unsigned long long)(since / 1000000000), (unsigned long long)(since / 1000000 % 1000), t->util,
            fmt_ms(a[0], t->stw1), fmt_ms(a[1], t->mark), fmt_ms(a[2], t->stw2),
            fmt_ms(c[0], t->stw1 * (uint64_t)t->procs), fmt_ms(c[1], 0), fmt_ms(c[2], t->markcpu), fmt_ms(c[3], 0),
            fmt_ms(c[4], t->stw2 * (uint64_t)t->procs), (unsigned long long)(t->heap0 >> 20),
            (unsigned long long)(t->heap1 >> 20), (unsigned long long)(t->marked >> 20),
            (unsigned long long)(t->goal >> 20), (unsigned long long)(t->stacks >> 20),
            (unsigned long long)(t->globals >> 20), t->procs, t->forced ? " (forced)" : "");
}

static int nprocs(void) {
    static int n;
    if (!n) {
        long v = sysconf(_SC_NPROCESSORS_ONLN);
        n = v > 0 ? (int)v : 1;
    }
    return n;
}

void gcrt_collect(bool forced) {
    gcrt_gcstate *g = &gcrt_gc;
    gcrt_thread *me = gcrt_self;
    if (me && me->in_gcrt) gcrt_fatal("internal error: collection started inside a critical section");
    pthread_mutex_lock(&g->lock);
    if (!forced && (uint64_t)atomic_load_relaxed(&gcrt_heap_live) < atomic_load_relaxed(&g->trigger)) {
        pthread_mutex_unlock(&g->lock);   /* another thread collected while we waited */
        return;
    }
    g->running = 1;
    gcrt_sweep_finish();
    trace_info ti = {0};
    uint64_t cpu0 = gcrt_thread_cpu_ns();
    ti.start = gcrt_now_ns();
    gcrt_roots_prepare();
    ucontext_t uc;   /* the collector's own registers, where its stack scan sees them */
    getcontext(&uc);
    if (me) {
        me->stop_sp = (uintptr_t)&uc;
        me->nregs = 0;
    }
    gcrt_stop_world();
    gcrt_sweep_wait_idle();
    ti.heap0 = (uint64_t)atomic_load_relaxed(&gcrt_heap_live);
    for (gcrt_thread *t = gcrt_threads; t; t = t->next) gcrt_cache_release_all(&t->cache);
    uint64_t tmark = gcrt_now_ns();

    uint64_t stacks, globals;
    ti.marked = gcrt_mark_world_stopped(&ti.markcpu, &stacks, &globals);
    uint64_t tterm = gcrt_now_ns();
    if (g->gcverify) gcrt_verify_marks();

    ti.heap1 = (uint64_t)atomic_load_relaxed(&gcrt_heap_live);
    ti.goal = g->goal;
    gcrt_sweep_start();
    atomic_store_relaxed(&gcrt_heap_live, (int64_t)ti.marked);
    g->stacks_bytes = stacks;
    g->globals_bytes = globals;
    gcrt_pacer_cycle_end(ti.marked);
    g->cycle++;
    gcrt_start_world();
    gcrt_roots_done();
    uint64_t tend = gcrt_now_ns();

    ti.stw1 = tmark - ti.start;
    ti.mark = tterm - tmark;
    ti.stw2 = tend - tterm;
    ti.procs = g->nmarkers;
    ti.forced = forced;
    uint64_t pause = tend - ti.start;
    gcrt_stats *st = &gcrt_stats_;
    pthread_mutex_lock(&st->lock);
    st->pause_ns[st->num_gc % 256] = pause;
    st->pause_end[st->num_gc % 256] = wall_ns();
    st->pause_total_ns += pause;
    st->num_gc++;
    if (forced) st->num_forced_gc++;
    st->last_gc_ns = wall_ns();
    st->gc_cpu_ns += ti.markcpu + (gcrt_thread_cpu_ns() - cpu0);
    ti.n = st->num_gc;
    uint64_t elapsed = gcrt_now_ns() - st->start_ns;
    ti.util = elapsed ? (int)(st->gc_cpu_ns * 100 / (elapsed * (uint64_t)nprocs())) : 0;
    pthread_mutex_unlock(&st->lock);
    g->running = 0;
    pthread_cond_broadcast(&g->done);
    pthread_mutex_unlock(&g->lock);

    gcrt_bgsweep_wake();
    if (forced) gcrt_sweep_finish();
    if (g->gctrace) print_trace(&ti);
}

void gcrt_gc_maybe_start(void) {
    if (atomic_load_relaxed(&gcrt_gc.percent) < 0) return;
    gcrt_collect(false);
}

GCRT_API void gc_collect(void) {
    gcrt_ensure_init();
    gcrt_collect(true);
}

GCRT_API void gc_free_os_memory(void) {
    gc_collect();
    gcrt_thread *t = gcrt_self;
    if (t) gcrt_enter(t);
    gcrt_heap_scavenge(0);
    if (t) gcrt_leave(t);
}

GCRT_API void gc_keep_alive(const void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

GCRT_API void gc_memmove(void *dst, const void *src, size_t n) { memmove(dst, src, n); }
