/*
 * limiter.c: the GC CPU limiter (Go 1.19's gcCPULimiter), a leaky bucket of CPU time.
 *
 * Collector CPU (marking slices of the GC thread and of the idle worker (Go leaves the
 * latter out), assists, allocation-time scavenging, and
 * GOMAXPROCS x each pause) fills the bucket; mutator CPU (process CPU less all collector
 * CPU, idle marking included) drains it; it never goes below empty, so idle time banks no
 * credit. Capacity is GOMAXPROCS x 1 s. While the bucket is full the limiter is on:
 * assists are skipped, the GC thread marks only its 25% share (no idle marking), and
 * allocation does not scavenge for the memory limit, so a heap that cannot fit under the
 * limit costs the program at most about half its CPU instead of all of it. It turns off
 * at the first net drain.
 *
 * gcrt_limiter_step is the pure bucket arithmetic (tested by t_pacer_sim); the rest samples
 * the process. Updates are at most one per millisecond and by one thread at a time
 * (trylock); readers only load `on`.
 */
#include "internal.h"

#include <time.h>

void gcrt_limiter_step(gcrt_limiter *l, double gc_ns, double mutator_ns) {
    double d = gc_ns - mutator_ns;
    l->fill += d;
    if (l->fill < 0) l->fill = 0;
    l->on = l->fill >= l->capacity;   /* on while full; off once drained below full */
    /* Go drops what overflows a full bucket, so its limited state averages a little over
     * half the CPU (it switches every update). Keeping up to a tenth of the capacity above
     * full balances the collector's time against the mutator's over ~100 ms instead: 50%. */
    double top = l->capacity * 1.1;
    if (l->fill > top) {
        l->overflow += (uint64_t)(l->fill - top);
        l->fill = top;
    }
}

static gcrt_limiter L;
static int on;                     /* L.on, for lock-free readers */
static int filling;                /* L.fill > 0: the collector out-ran the program lately */
static uint64_t gc_acc, idle_acc;  /* collector CPU so far (atomic) */
static uint64_t last_wall, last_proc, last_gc, last_idle;
static pthread_mutex_t lim_lock = PTHREAD_MUTEX_INITIALIZER;

void gcrt_limiter_add(uint64_t gc_ns, uint64_t idle_ns) {
    if (gc_ns) atomic_add(&gc_acc, gc_ns);
    if (idle_ns) atomic_add(&idle_acc, idle_ns);
}

bool gcrt_limiter_on(void) { return atomic_load_relaxed(&on); }
bool gcrt_limiter_filling(void) { return atomic_load_relaxed(&filling); }

void gcrt_limiter_update(void) {
    uint64_t now = gcrt_now_ns();
    if (now - atomic_load_relaxed(&last_wall) < 1000000 || pthread_mutex_trylock(&lim_lock)) return;
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    uint64_t proc = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    uint64_t gc = atomic_load_relaxed(&gc_acc), idle = atomic_load_relaxed(&idle_acc);
    if (last_wall) {
        double dgc = (double)(gc - last_gc), didle = (double)(idle - last_idle);
        double mut = (double)(proc - last_proc) - dgc - didle;
        if (mut < 0) mut = 0;
        L.capacity = 1e9 * (gcrt_gc.nmarkers > 0 ? gcrt_gc.nmarkers : 1);
        gcrt_limiter_step(&L, dgc, mut);
        atomic_store_relaxed(&on, L.on);
        atomic_store_relaxed(&filling, L.fill > 0);
    }
    last_proc = proc, last_gc = gc, last_idle = idle;
    atomic_store_relaxed(&last_wall, now);
    pthread_mutex_unlock(&lim_lock);
}

/* Fork (runtime/fork.c): a lock left held in the child would stop the limiter for good. */
void gcrt_limiter_fork(int phase) { gcrt_fork_mutex(&lim_lock, phase); }
