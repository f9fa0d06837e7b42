/*
 * thread.c: the thread registry and stopping the world (bdwgc's way, with one signal).
 *
 * Stopping: the collector bumps stw_seq to an odd value and sends SIG_SUSPEND (SIGPWR by
 * default; GCRT_SIG_SUSPEND=N picks another) to every other registered thread. The handler
 * saves the interrupted registers and stack pointer, posts ack_sem, and sleeps on a futex
 * until stw_seq changes; starting the world bumps stw_seq and wakes them all. No restart
 * signal is needed, so no restart can be lost or merged with the next stop.
 *
 * Blocking regions: a fault-in of fresh heap pages takes milliseconds on a virtual
 * machine and cannot be interrupted, so a stop would wait for it. A thread entering one
 * (gcrt_blocking) saves its registers and stack pointer as the handler would and sets
 * bstate BLOCKING; the stopper claims it by CAS to CLAIMED instead of signalling it, and
 * the thread leaves the region only by CAS back from BLOCKING, which start_world restores
 * before it bumps stw_seq. A thread whose CAS the stopper lost is signalled and acks as
 * usual, possibly from inside the region.
 *
 * Safe points: a thread inside a gcrt critical section (allocator fast or slow path,
 * holding any gcrt lock) is not stopped by the handler; it notes suspend_pending and stops
 * itself when the section ends. Hence a stopped thread never holds a gcrt lock and never
 * has a half-updated cache, and the collector may take any allocator lock and flush every
 * cache once the world is stopped. Critical sections never wait for a collection, so they
 * always end.
 *
 * gcrt_threads_lock guards the registry; the collector holds it from stop to start, so a
 * thread registering or unregistering during a collection waits (stoppable) until it ends.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <cpuid.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>

GCRT_TLS gcrt_thread *gcrt_self;
pthread_mutex_t gcrt_threads_lock = PTHREAD_MUTEX_INITIALIZER;
gcrt_thread *gcrt_threads;
int gcrt_nthreads;

static int sig_suspend = SIGPWR;
static uint32_t stw_seq;
static sem_t ack_sem;
static pthread_key_t exit_key;

static void save_context(gcrt_thread *t, const ucontext_t *uc) {
    const greg_t *g = uc->uc_mcontext.gregs;
    t->nregs = NGREG;
    for (int i = 0; i < t->nregs; i++) t->regs[i] = (uintptr_t)g[i];
}

/* A stopped thread's vector registers, copied out of the signal frame's XSAVE image. The
 * frame itself is not scanned: XSAVE skips a component in its initial configuration (the
 * ymm upper halves after vzeroupper, say), the kernel leaves padding and reserved words
 * unwritten, and all of those bytes keep whatever the thread's dead stack held there (an
 * address that kept a finalized object alive for good: t_stale_frame). A component whose
 * XSTATE_BV bit is clear holds zeros. Offsets of the extended components: CPUID leaf 0xd,
 * read by gcrt_threads_init (the kernel writes the standard, uncompacted layout). */
enum { X_SSE = 1, X_AVX = 2, X_ZMM_HI256 = 6, X_HI16_ZMM = 7, XSAVE_MAX = 8 };
static const unsigned xcomps[] = {X_SSE, X_AVX, X_ZMM_HI256, X_HI16_ZMM};   /* the ones copied */
static struct { uint32_t off, size; } xcomp[XSAVE_MAX] = {[X_SSE] = {160, 256}};
#define FP_XSTATE_MAGIC1_ 0x46505853u
#define UC_FP_XSTATE_ 0x1

static void xstate_layout_init(void) {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 0xd) return;
    for (unsigned k = 1; k < sizeof xcomps / sizeof xcomps[0]; k++) {   /* X_SSE: the legacy area */
        __cpuid_count(0xd, xcomps[k], a, b, c, d);
        xcomp[xcomps[k]].off = b, xcomp[xcomps[k]].size = a;
    }
#endif
}

static void copy_words(gcrt_thread *t, const char *src, size_t bytes) {
    size_t n = bytes / sizeof(uintptr_t);
    if (n > GCRT_MAX_REGS - (size_t)t->nregs) n = GCRT_MAX_REGS - (size_t)t->nregs;
    memcpy(&t->regs[t->nregs], src, n * sizeof(uintptr_t));
    t->nregs += (int)n;
}

static void save_vector_regs(gcrt_thread *t, const ucontext_t *uc) {
    const char *fx = (const char *)uc->uc_mcontext.fpregs;
    if (!fx) return;
    uint32_t magic = 0, xsize = 0;
    uint64_t bv = 1u << X_SSE;   /* an FXSAVE image always holds the xmm registers */
    if (uc->uc_flags & UC_FP_XSTATE_) {
        memcpy(&magic, fx + 464, 4);   /* the kernel's _fpx_sw_bytes in the legacy area's tail */
        memcpy(&xsize, fx + 480, 4);
    }
    if (magic == FP_XSTATE_MAGIC1_ && xsize >= 576) memcpy(&bv, fx + 512, 8);
    else xsize = 512;
    for (unsigned k = 0; k < sizeof xcomps / sizeof xcomps[0]; k++) {
        unsigned i = xcomps[k];
        if ((bv >> i & 1) && xcomp[i].size && xcomp[i].off + xcomp[i].size <= xsize)
            copy_words(t, fx + xcomp[i].off, xcomp[i].size);
    }
}

/* Park until the world restarts. Async-signal-safe: sem_post, futex and memcpy only. */
static void park(gcrt_thread *t, const ucontext_t *uc) {
    uint32_t seq = atomic_load_acquire(&stw_seq);
    if (!(seq & 1)) return;   /* a stale signal: the world already restarted */
    save_context(t, uc);
    save_vector_regs(t, uc);
    /* The scan starts at the red zone below the interrupted stack pointer: the signal frame
     * and this handler's frames lie on the thread's dead stack below it, and any slot there
     * that nobody wrote still holds what the thread's last deep call left (under ASan, a
     * finalized object's address from the finalizer call). The registers are in t->regs. */
    t->stop_sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP] - 128;
    sem_post(&ack_sem);
    while (atomic_load_acquire(&stw_seq) == seq)
        syscall(SYS_futex, &stw_seq, FUTEX_WAIT_PRIVATE, seq, NULL, NULL, 0);
}

/* GC_STORE sequences (gcrt.h): per module, pairs [start, end) of instruction addresses. A
 * thread stopped inside one resumes at its start, so it tests the barrier flag again. */
#define MAX_SEQ_TABLES 256
static struct seq_table {
    const unsigned long *start, *stop;
    unsigned long lo, hi;
} seq_tables[MAX_SEQ_TABLES];
static unsigned seq_ntables;   /* published with release after the entry is written */
static pthread_mutex_t seq_lock = PTHREAD_MUTEX_INITIALIZER;

GCRT_API void gc_register_store_sequences(const unsigned long *start, const unsigned long *stop) {
    if (!start || stop <= start) return;
    gcrt_lock(&seq_lock);
    unsigned n = seq_ntables;
    bool known = false;
    for (unsigned i = 0; i < n; i++) known |= seq_tables[i].start == start;
    if (!known) {
        if (n == MAX_SEQ_TABLES) gcrt_fatal("more than %d modules register GC_STORE sequences", MAX_SEQ_TABLES);
        unsigned long lo = ~0ul, hi = 0;
        for (const unsigned long *p = start; p + 1 < stop; p += 2) {
            if (p[0] < lo) lo = p[0];
            if (p[1] > hi) hi = p[1];
        }
        seq_tables[n] = (struct seq_table){start, stop, lo, hi};
        atomic_store_release(&seq_ntables, n + 1);
    }
    pthread_mutex_unlock(&seq_lock);
}

static void restart_store_sequence(ucontext_t *uc) {
    unsigned long rip = (unsigned long)uc->uc_mcontext.gregs[REG_RIP];
    unsigned n = atomic_load_acquire(&seq_ntables);
    for (unsigned i = 0; i < n; i++) {
        const struct seq_table *t = &seq_tables[i];
        if (rip < t->lo || rip >= t->hi) continue;
        for (const unsigned long *p = t->start; p + 1 < t->stop; p += 2)
            if (rip >= p[0] && rip < p[1]) {
                uc->uc_mcontext.gregs[REG_RIP] = (greg_t)p[0];
                return;
            }
    }
}

static void suspend_handler(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    (void)si;
    int saved = errno;
    gcrt_thread *t = gcrt_self;
    if (t) {
        if (t->in_gcrt) t->suspend_pending = 1;
        else {
            restart_store_sequence(ucv);
            park(t, ucv);
        }
    }
    errno = saved;
}

void gcrt_context_drop_scratch(ucontext_t *uc) {
    static const int scratch[] = {REG_RAX, REG_RCX, REG_RDX, REG_RSI, REG_RDI, REG_R8, REG_R9, REG_R10, REG_R11};
    for (unsigned i = 0; i < sizeof scratch / sizeof scratch[0]; i++) uc->uc_mcontext.gregs[scratch[i]] = 0;
}

void gcrt_suspend_deferred(gcrt_thread *t) {
    t->suspend_pending = 0;
    ucontext_t uc;
    GCRT_CONTEXT_AT_CALL(&uc);   /* callee-saved registers, where the stack scan sees them */
    park(t, &uc);
}

static bool bstate_move(gcrt_thread *t, int from, int to) {
    return __atomic_compare_exchange_n(&t->bstate, &from, to, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* Not inline: uc, in this frame, holds the callers' callee-saved registers, and the stack
 * scan starts below it. */
__attribute__((noinline)) void gcrt_blocking(gcrt_thread *t, void (*fn)(void *), void *arg) {
    ucontext_t uc;
    GCRT_CONTEXT_AT_CALL(&uc);
    save_context(t, &uc);
    t->stop_sp = (uintptr_t)&uc;
    atomic_store_release(&t->bstate, GCRT_TS_BLOCKING);
    fn(arg);
    while (!bstate_move(t, GCRT_TS_BLOCKING, GCRT_TS_RUNNING)) {
        uint32_t seq = atomic_load_acquire(&stw_seq);   /* CLAIMED: the world is stopped */
        if (seq & 1) syscall(SYS_futex, &stw_seq, FUTEX_WAIT_PRIVATE, seq, NULL, NULL, 0);
    }
    __asm__ volatile("" : : "r"(&uc) : "memory");   /* uc lives until the region ends */
}

/* Inside gcrt_blocking's fn: run fn as a running thread (it may touch the heap), then
 * enter the region again with the registers and stack pointer of this point, below the
 * first entry's, so the frames fn's caller pushed since are scanned too. Outside a region
 * it just calls fn. */
__attribute__((noinline)) void gcrt_blocking_active(gcrt_thread *t, void (*fn)(void *), void *arg) {
    if (atomic_load_acquire(&t->bstate) == GCRT_TS_RUNNING) {
        fn(arg);
        return;
    }
    while (!bstate_move(t, GCRT_TS_BLOCKING, GCRT_TS_RUNNING)) {
        uint32_t seq = atomic_load_acquire(&stw_seq);
        if (seq & 1) syscall(SYS_futex, &stw_seq, FUTEX_WAIT_PRIVATE, seq, NULL, NULL, 0);
    }
    fn(arg);
    ucontext_t uc;
    GCRT_CONTEXT_AT_CALL(&uc);
    save_context(t, &uc);
    /* uc's frame ends with this call, but the stack below the caller's frame stays mapped:
     * a scan from here covers the caller's frames and some dead words */
    t->stop_sp = (uintptr_t)&uc;
    atomic_store_release(&t->bstate, GCRT_TS_BLOCKING);
}

int gcrt_suspend_signal(void) { return sig_suspend; }   /* compat/: GC_get_suspend_signal */

static void thread_exit_hook(void *arg) {
    gcrt_thread *t = arg;
    if (gcrt_self == t) gc_unregister_thread();
}

void gcrt_threads_init(void) {
    const char *s = getenv("GCRT_SIG_SUSPEND");
    if (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end || v < 1 || v > SIGRTMAX || v == SIGKILL || v == SIGSTOP || v == SIGSEGV)
            gcrt_warn("GCRT_SIG_SUSPEND=%s: not a usable signal number; using SIGPWR", s);
        else sig_suspend = (int)v;
    }
    sem_init(&ack_sem, 0, 0);
    xstate_layout_init();
    pthread_key_create(&exit_key, thread_exit_hook);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = suspend_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);   /* nothing interrupts a parked thread but the futex wake */
    sigdelset(&sa.sa_mask, SIGSEGV);
    sigdelset(&sa.sa_mask, SIGBUS);
    sigdelset(&sa.sa_mask, SIGILL);
    sigdelset(&sa.sa_mask, SIGFPE);
    if (sigaction(sig_suspend, &sa, NULL) != 0) gcrt_fatal("cannot install the suspend signal handler");
}

gcrt_thread *gcrt_thread_slow(void) {
    if (!atomic_load_acquire(&gcrt_inited)) {
        gc_init();
        if (gcrt_self) return gcrt_self;
    }
    gcrt_fatal("allocation from a thread that is not registered with gcrt: call "
               "gc_register_thread() in the thread first, or create it with gc_pthread_create()");
}

GCRT_API int gc_register_thread(void) {
    gcrt_ensure_init();
    if (gcrt_self) return 0;
    gcrt_thread *t = gcrt_meta_alloc(sizeof *t);
    if (!t) return -ENOMEM;
    gcrt_cache_init(&t->cache);
    t->pthread = pthread_self();
    t->tid = (pid_t)syscall(SYS_gettid);
    pthread_attr_t attr;
    void *addr;
    size_t size;
    /* pthread_getattr_np mallocs (its affinity mask). Under gcrt_threads_lock, which fork's
     * prepare handler holds across fork(), no thread is inside it when the process is
     * copied: a malloc without fork handlers of its own (ASan's) would otherwise leave the
     * child its lock held, and the child's first new thread would hang there. */
    gcrt_lock(&gcrt_threads_lock);
    if (pthread_getattr_np(pthread_self(), &attr) != 0) {
        pthread_mutex_unlock(&gcrt_threads_lock);
        gcrt_meta_free(t, sizeof *t);
        return -EAGAIN;
    }
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    t->stack_lo = (uintptr_t)addr;
    t->stack_hi = (uintptr_t)addr + size;
    t->next = gcrt_threads;
    if (gcrt_threads) gcrt_threads->prev = t;
    gcrt_threads = t;
    gcrt_nthreads++;
    gcrt_self = t;
    pthread_mutex_unlock(&gcrt_threads_lock);
    pthread_setspecific(exit_key, t);
    return 0;
}

GCRT_API volatile int gc_write_barrier_on;

/* GC_STORE's slow path: remember the overwritten value; greyed in batches (Go's wbBuf).
 * Appending needs no critical section: an entry a stop catches half-written belongs to a
 * store that has not happened yet, so marking may ignore it. */
GCRT_API void gc_write_barrier_slow(void *old) {
    uintptr_t v = (uintptr_t)old;
    if (v - gcrt_heap_.arena_lo >= gcrt_heap_.arena_hi - gcrt_heap_.arena_lo) return;
    gcrt_thread *t = gcrt_self;
    if (unlikely(!t)) {
        gcrt_shade_unregistered(v);
        return;
    }
    unsigned n = t->wbn;
    if (n >= GCRT_WBUF_ENTRIES) n = 0;   /* a stale count from before a flush */
    t->wbbuf[n] = v;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    t->wbn = n + 1;
    if (n + 1 == GCRT_WBUF_ENTRIES) {
        gcrt_enter(t);
        if (gcrt_gc.marking) gcrt_wbuf_flush(t);
        else t->wbn = 0;
        gcrt_leave(t);
    } else if (unlikely(t->flush_seen != atomic_load_relaxed(&gcrt_flush_epoch))) {
        gcrt_wbuf_flush_requested(t);
    }
}

GCRT_API int gc_unregister_thread(void) {
    gcrt_thread *t = gcrt_self;
    if (!t) {
        gcrt_warn("gc_unregister_thread: the calling thread is not registered (unregistered twice?); -EINVAL");
        return -EINVAL;
    }
    gcrt_enter(t);
    if (gcrt_gc.marking) gcrt_wbuf_flush(t);   /* its stores have happened: shade them */
    t->wbn = 0;
    gcrt_cache_release_all(&t->cache);
    gcrt_pool_thread_exit(t);
    gcrt_leave(t);
    gcrt_lock(&gcrt_threads_lock);
    gcrt_enter(t);   /* from here no stop may park this thread: it is leaving the list */
    gcrt_stats_thread_gone(&t->cache);   /* under the registry lock: counted once */
    if (t->prev) t->prev->next = t->next;
    else gcrt_threads = t->next;
    if (t->next) t->next->prev = t->prev;
    gcrt_nthreads--;
    gcrt_self = NULL;
    pthread_mutex_unlock(&gcrt_threads_lock);
    pthread_setspecific(exit_key, NULL);
    gcrt_meta_free(t, sizeof *t);
    return 0;
}

/* The start routine's argument travels in malloc'd memory, which is not scanned, and the
 * new thread is not a root until it registers: until then the argument is a registered
 * root range of its own, so an object passed only through it cannot be collected (nor
 * missed by a snapshot taken in between). */
struct start_arg {
    void *arg;   /* first: the root range */
    void *(*fn)(void *);
};

static void *thread_start(void *p) {
    struct start_arg *a = p;
    gc_register_thread();
    void *(*fn)(void *) = a->fn;
    void *arg = a->arg;
    gc_remove_roots(&a->arg, sizeof a->arg);
    gcrt_meta_free(a, sizeof *a);
    void *r = fn(arg);
    if (gcrt_self) gc_unregister_thread();   /* fn may have unregistered itself */
    return r;
}

GCRT_API int gc_pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
    gcrt_ensure_init();
    /* gcrt's metadata, not malloc: fork.c holds its lock across fork() (see above) */
    struct start_arg *a = gcrt_meta_alloc(sizeof *a);
    if (!a) return EAGAIN;
    a->fn = fn;
    a->arg = arg;
    if (gc_add_roots(&a->arg, sizeof a->arg) != 0) {
        gcrt_meta_free(a, sizeof *a);
        return EAGAIN;
    }
    int r = pthread_create(th, attr, thread_start, a);
    if (r) {
        gc_remove_roots(&a->arg, sizeof a->arg);
        gcrt_meta_free(a, sizeof *a);
    }
    return r;
}

/* Acks usually come within tens of microseconds: wait for them spinning, and sleep only
 * after 100 us. A stopper that slept at once was seen woken 3.8 ms after the last ack on
 * a busy machine; one that yielded the CPU instead lost it for a time slice (3-4 ms). */
static void wait_acks(int n) {
    uint64_t t0 = gcrt_now_ns();
    for (int got = 0; got < n;) {
        if (sem_trywait(&ack_sem) == 0) {
            got++;
            continue;
        }
        if (gcrt_now_ns() - t0 < 100000) {
            for (int i = 0; i < 64; i++) __builtin_ia32_pause();
            continue;
        }
        while (sem_wait(&ack_sem) != 0 && errno == EINTR) {}
        got++;
    }
}

void gcrt_stop_world(void) {
    gcrt_lock(&gcrt_threads_lock);
    gcrt_thread *me = gcrt_self;
    atomic_add(&stw_seq, 1);   /* odd: stopped */
    int n = 0;
    for (gcrt_thread *t = gcrt_threads; t; t = t->next) {
        if (t == me) continue;
        if (bstate_move(t, GCRT_TS_BLOCKING, GCRT_TS_CLAIMED)) continue;   /* in a blocking region */
        int r = pthread_kill(t->pthread, sig_suspend);
        if (r == 0) n++;
        else if (r != ESRCH) gcrt_fatal("cannot signal thread %d: %s", (int)t->tid, strerror(r));
        else gcrt_fatal("registered thread %d exited without gc_unregister_thread()", (int)t->tid);
    }
    wait_acks(n);
}

/* Let the stopped threads run: the claimed ones may leave their regions first, then the
 * sequence turns even and wakes the parked ones. */
static void resume_all(void) {
    for (gcrt_thread *t = gcrt_threads; t; t = t->next)
        if (atomic_load_relaxed(&t->bstate) == GCRT_TS_CLAIMED) atomic_store_release(&t->bstate, GCRT_TS_BLOCKING);
    atomic_add(&stw_seq, 1);   /* even: running */
    syscall(SYS_futex, &stw_seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void gcrt_start_world(void) {
    resume_all();
    pthread_mutex_unlock(&gcrt_threads_lock);
}

/* Fork (runtime/fork.c). PREPARE, before the world stops, takes seq_lock (held outside
 * critical sections); gcrt_threads_fork_stopped then restarts the world but keeps
 * gcrt_threads_lock, which PARENT releases. */
void gcrt_threads_fork(int phase) {
    gcrt_fork_mutex(&seq_lock, phase);
    if (phase == GCRT_FORK_PARENT) pthread_mutex_unlock(&gcrt_threads_lock);
    if (phase != GCRT_FORK_CHILD) return;
    /* Only the forking thread exists. The others' caches were emptied before the world
     * restarted (but for the chunk of one that was faulting it in, given back here) and
     * cannot have been refilled (every allocator lock is held across fork), so they hold
     * no span; their pool locals are handed on as at gc_unregister_thread. */
    gcrt_thread *me = gcrt_self;
    for (gcrt_thread *t = gcrt_threads, *next; t; t = next) {
        next = t->next;
        if (t == me) continue;
        if (t->cache.pcache.populating) {   /* a chunk the flush left with a blocking region */
            t->cache.pcache.populating = 0;
            gcrt_pcache_release(&t->cache.pcache);
        }
        gcrt_pool_thread_exit(t);
        gcrt_meta_free(t, sizeof *t);
    }
    gcrt_threads = me;
    gcrt_nthreads = me ? 1 : 0;
    if (me) {
        me->next = me->prev = NULL;
        me->tid = (pid_t)syscall(SYS_gettid);
        me->pthread = pthread_self();
    }
    stw_seq = 0;
    sem_destroy(&ack_sem);
    sem_init(&ack_sem, 0, 0);
    pthread_mutex_init(&gcrt_threads_lock, NULL);
}

/* World stopped by fork's prepare, before it takes the allocator locks: empty every other
 * thread's cache (none is in a critical section), as a pause does. */
void gcrt_threads_fork_flush(void) {
    gcrt_thread *me = gcrt_self;
    for (gcrt_thread *t = gcrt_threads; t; t = t->next)
        if (t != me) gcrt_cache_release_all(&t->cache);
}

/* Then, every gcrt lock held, let them run again so that none stays parked inside libc
 * (malloc's or stdio's lock, which fork takes after the prepare handlers). The registry
 * stays locked until PARENT. */
void gcrt_threads_fork_restart(void) { resume_all(); }

/* Helper threads start with every signal blocked (a thread inherits its creator's mask):
 * they are never stopped, and an application's signals belong to its own threads. */
typedef struct spawn_rec {
    void *(*fn)(void *);
    void *arg;
    char name[16];
} spawn_rec;

/* Named from inside with prctl, never through /proc/self/task/TID/comm, which is what
 * pthread_setname_np does for another thread: that lookup leaves dentries under the
 * helper's task directory, and when a program is killed beside CPU hogs, the reaper
 * spins in the kernel (shrink_dcache_parent) until a starved SCHED_IDLE helper has
 * invalidated its own (issue 17: 277 s of system time in one soak; test/stress/reap.c). */
static void *spawn_main(void *p) {
    spawn_rec r = *(spawn_rec *)p;
    free(p);
    prctl(PR_SET_NAME, r.name, 0, 0, 0);
    return r.fn(r.arg);
}

bool gcrt_spawn_detached(void *(*fn)(void *), void *arg, const char *name) {
    spawn_rec *rec = malloc(sizeof *rec);
    if (!rec) return false;
    rec->fn = fn;
    rec->arg = arg;
    snprintf(rec->name, sizeof rec->name, "%s", name);
    pthread_t th;
    pthread_attr_t a;
    sigset_t all, old;
    sigfillset(&all);
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int r = pthread_create(&th, &a, spawn_main, rec);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
    if (r != 0) free(rec);
    return r == 0;
}
