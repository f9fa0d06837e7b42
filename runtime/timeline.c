/*
 * timeline.c: GODEBUG=gctracefile=PATH, a timeline of every GC cycle as Chrome trace-event
 * JSON (the format Perfetto and chrome://tracing open; Go's runtime/trace does this job
 * for Go's GC). Per cycle: pause 1 (sweep termination) and pause 2 (mark termination),
 * each with the wait for the world to stop nested in it, on the thread that ran it; the
 * mark workers' active intervals (fractional: the GC thread; idle; the pause helpers);
 * mark assists and assist waits on the mutator threads that paid them; sweeping (the
 * background sweeper, proportional sweeping on mutators, finishing the sweep); the
 * scavenger's releases. A synthetic "GC" track shows each cycle as GC N [pause 1 |
 * concurrent mark | pause 2] then its sweep phase, and counters show heap live and goal.
 *
 * Invariants:
 *  - Off (no path), gcrt_tl_on is 0 from init on, and every recording site is one
 *    predictable branch on it (gcrt_tl_now returns 0, and a 0 start records nothing).
 *  - On, recording takes no lock, makes no system call and allocates nothing, so it is
 *    safe anywhere: inside critical sections, with the world stopped, on gcrt's helpers.
 *    Events go into one bounded multi-producer ring (a sequence number per slot, Vyukov's
 *    queue): a producer claims a slot by CAS on the head, fills it and publishes it with
 *    a release store of its sequence. A full ring drops the event and counts it (the count
 *    is in the file). Events are a few per mark slice run, assist and sweep batch: a cycle
 *    of a 100 MB heap takes hundreds, the ring holds 32768.
 *  - Only the writer consumes (tl.lock, taken outside critical sections and pauses only):
 *    the thread that ends a cycle, after the world restarted (where the gctrace line is
 *    printed), the GC thread during a long mark when the ring is half full, and the exit
 *    hook. A slot claimed but not yet published stops the drain there; the next one goes on.
 *  - The file is valid JSON after every write: events go before a trailer ("]" and the
 *    closing object) that the next write overwrites (pwrite at the offset where the events
 *    end). A process killed between writes leaves the last complete file; exit() (also in
 *    the middle of a cycle) drains everything and records the unfinished cycle as such.
 *    A pipe or terminal cannot be rewritten: there the trailer is written at exit only.
 *  - Timestamps are CLOCK_MONOTONIC in microseconds since gc_init (the clock gctrace's @
 *    figure counts from), in exact binary fractions of 1/1024 us (see ticks); pause spans
 *    are the ones gctrace and gc_read_memstats measure, to within a nanosecond.
 *  - A forked child records nothing, and never writes: the file is the parent's.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int gcrt_tl_on;
uint32_t gcrt_tl_cycle_no;   /* the cycle events are tagged with (atomic) */

#define RING (1u << 15)
#define GAP_NS 50000   /* runs of slices this close are one interval (gcrt_tl_run_add) */
#define TID_GC 1073741825   /* the synthetic "GC" track */
#define MAXTIDS 4096
#define BUFSZ ((size_t)1 << 16)

typedef struct tl_ev {
    uint64_t seq;
    uint64_t t0, t1, a, b, c;
    uint32_t tid, cycle;
    uint16_t kind;
    uint8_t role;
} tl_ev;

/* A thread's name, taken by the thread itself at its first event (prctl: reading another
 * thread's /proc/self/task/TID/comm leaves dentries there, which make the reap of a killed
 * program spin; thread.c). Written before that event is published, read by the writer. */
typedef struct tl_name {
    uint32_t tid;      /* set once by CAS; then comm, then the event's seq (release) */
    uint8_t written;   /* the writer's: thread_name emitted */
    char comm[16];
} tl_name;

/* What each kind shows: its name, its track (the recording thread, or the GC track) and
 * the names of its arguments (NULL: not shown). */
static const struct {
    const char *name;
    char ph;   /* 'X' complete, 'C' counter */
    bool gctrack;
    const char *a, *b, *c;
} kinds[GCRT_TL_NKINDS] = {
    [GCRT_TL_STOP] = {"stopping the world", 'X', false, NULL, NULL, NULL},
    [GCRT_TL_STW1] = {"pause 1 (sweep termination)", 'X', false, NULL, NULL, NULL},
    [GCRT_TL_STW2] = {"pause 2 (mark termination)", 'X', false, NULL, NULL, NULL},
    [GCRT_TL_STW2_RESTART] = {"pause 2 (restarted: work left)", 'X', false, NULL, NULL, NULL},
    [GCRT_TL_MARK_START] = {"mark (starting thread's slice)", 'X', false, "scan_bytes", NULL, NULL},
    [GCRT_TL_MARK_FRAC] = {"mark worker (fractional)", 'X', false, "scan_bytes", "slices", NULL},
    [GCRT_TL_MARK_IDLE] = {"mark worker (idle)", 'X', false, "scan_bytes", "slices", NULL},
    [GCRT_TL_MARK_PAUSE] = {"mark worker (pause helper)", 'X', false, "scan_bytes", "slices", NULL},
    [GCRT_TL_ASSIST] = {"mark assist", 'X', false, "scan_bytes", "budget", NULL},
    [GCRT_TL_ASSIST_WAIT] = {"mark assist (waiting)", 'X', false, NULL, NULL, NULL},
    [GCRT_TL_SWEEP_BG] = {"background sweep", 'X', false, "spans", NULL, NULL},
    [GCRT_TL_SWEEP_PAY] = {"proportional sweep", 'X', false, "spans", NULL, NULL},
    [GCRT_TL_SWEEP_FINISH] = {"sweep (finishing)", 'X', false, "spans", NULL, NULL},
    [GCRT_TL_SCAV] = {"scavenge", 'X', false, "released_bytes", "chunks", NULL},
    [GCRT_TL_SCAV_LIMIT] = {"scavenge (memory limit)", 'X', false, "released_bytes", NULL, NULL},
    [GCRT_TL_SCAV_FORCED] = {"scavenge (forced)", 'X', false, "released_bytes", NULL, NULL},
    [GCRT_TL_G_CYCLE] = {"GC", 'X', true, "heap_start", "heap_end_of_mark", "heap_marked"},
    [GCRT_TL_G_CYCLE_OPEN] = {"GC (unfinished at exit)", 'X', true, NULL, NULL, NULL},
    [GCRT_TL_G_STW1] = {"STW sweep termination", 'X', true, "forced", NULL, NULL},
    [GCRT_TL_G_MARK] = {"concurrent mark", 'X', true, NULL, NULL, NULL},
    [GCRT_TL_G_STW2] = {"STW mark termination", 'X', true, "goal", "next_goal", NULL},
    [GCRT_TL_G_STW2_RESTART] = {"STW mark termination (restarted)", 'X', true, NULL, NULL, NULL},
    [GCRT_TL_G_SWEEP] = {"sweep", 'X', true, "complete", NULL, NULL},
    [GCRT_TL_C_HEAP] = {"heap live", 'C', true, "bytes", NULL, NULL},
    [GCRT_TL_C_GOAL] = {"heap goal", 'C', true, "bytes", NULL, NULL},
};

static const char *role_names[] = {
    [GCRT_ROLE_THREAD] = "thread", [GCRT_ROLE_GC] = "GC thread, fractional mark worker",
    [GCRT_ROLE_IDLE] = "idle mark worker", [GCRT_ROLE_PAUSE] = "pause mark worker",
    [GCRT_ROLE_SWEEP] = "background sweeper", [GCRT_ROLE_SCAV] = "scavenger",
};

static GCRT_STATE struct {   /* no heap pointer: not a root */
    tl_ev *ring;
    uint64_t head;             /* next slot to claim (CAS) */
    uint64_t tail;             /* next slot to drain (tl.lock) */
    uint64_t dropped;          /* atomic */
    uint32_t open_cycle;       /* started, not ended (0: none) */
    uint64_t open_start;
    uint64_t sweep_from;       /* the last cycle's end: its sweep phase began */
    uint32_t sweep_cycle;      /* that cycle, its sweep phase not yet recorded (0: none) */
    uint64_t sweep_last;       /* when a span was last swept (atomic max) */
    pthread_mutex_t lock;      /* the writer */
    int fd;
    bool seekable, closed, first;
    off_t off;                 /* where the events end (the trailer starts) */
    pid_t pid;
    uint64_t base;
    char *path;
    tl_name *names;            /* each thread's name, by tid (open addressing; tid 0 empty) */
    char *buf;                 /* BUFSZ bytes being written */
    size_t n;
} tl = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

static GCRT_TLS pid_t my_tid;
static GCRT_TLS uint8_t my_role;

void gcrt_tl_role(int role) { my_role = (uint8_t)role; }

/* ---- recording: lock-free ---- */

/* The slot of tid, claimed for it when claim is set and it has none; NULL when it has
 * none (or the table is full: the thread stays unnamed). A recycled tid keeps the name of
 * the first thread that had it. */
static tl_name *name_slot(uint32_t tid, bool claim) {
    unsigned h = (tid * 2654435761u) % MAXTIDS;
    for (unsigned i = 0; i < MAXTIDS; i++, h = (h + 1) % MAXTIDS) {
        uint32_t cur = atomic_load_relaxed(&tl.names[h].tid);
        if (!cur && claim) __atomic_compare_exchange_n(&tl.names[h].tid, &cur, tid, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        if (cur == tid || (!cur && claim)) return &tl.names[h];   /* a failed CAS loaded cur */
        if (!cur) return NULL;
    }
    return NULL;
}

static void note_name(uint32_t tid) {
    tl_name *nm = name_slot(tid, true);
    if (nm && !nm->comm[0]) {   /* not a recycled tid's */
        prctl(PR_GET_NAME, nm->comm, 0, 0, 0);
        nm->comm[15] = 0;
    }
}

static void record(unsigned kind, uint32_t cycle, uint64_t t0, uint64_t t1, uint64_t a, uint64_t b, uint64_t c) {
    if (!atomic_load_relaxed(&gcrt_tl_on)) return;
    if (unlikely(!my_tid)) note_name(my_tid = gettid());
    uint64_t pos = atomic_load_relaxed(&tl.head);
    tl_ev *e;
    for (;;) {
        e = &tl.ring[pos & (RING - 1)];
        uint64_t seq = atomic_load_acquire(&e->seq);
        if (seq == pos) {
            if (__atomic_compare_exchange_n(&tl.head, &pos, pos + 1, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) break;
        } else if (seq < pos) {   /* a lap behind: full */
            atomic_add(&tl.dropped, 1);
            return;
        } else {
            pos = atomic_load_relaxed(&tl.head);
        }
    }
    e->t0 = t0;
    e->t1 = t1 < t0 ? t0 : t1;
    e->a = a;
    e->b = b;
    e->c = c;
    e->tid = kinds[kind].gctrack ? TID_GC : (uint32_t)my_tid;
    e->cycle = cycle;
    e->kind = (uint16_t)kind;
    e->role = my_role;
    atomic_store_release(&e->seq, pos + 1);
}

void gcrt_tl_record3(unsigned kind, uint64_t t0, uint64_t t1, uint64_t a, uint64_t b, uint64_t c) {
    record(kind, atomic_load_relaxed(&gcrt_tl_cycle_no), t0, t1, a, b, c);
}

void gcrt_tl_record_in(unsigned kind, uint32_t cycle, uint64_t t0, uint64_t t1, uint64_t a, uint64_t b) {
    record(kind, cycle, t0, t1, a, b, 0);
}

void gcrt_tl_record(unsigned kind, uint64_t t0, uint64_t t1, uint64_t a, uint64_t b) {
    record(kind, atomic_load_relaxed(&gcrt_tl_cycle_no), t0, t1, a, b, 0);
}

/* A run is tagged with the cycle of its first slice: a starved idle worker may end it
 * only once the next cycle has begun. */
void gcrt_tl_run_flush(gcrt_tl_run *r, unsigned kind) {
    if (r->n) record(kind, r->cycle, r->t0, r->t1, r->a, r->n, 0);
    r->n = 0;
    r->a = 0;
}

void gcrt_tl_run_add(gcrt_tl_run *r, unsigned kind, uint64_t s0, uint64_t a) {
    uint64_t s1 = gcrt_now_ns();
    if (r->n && s0 - r->t1 > GAP_NS) gcrt_tl_run_flush(r, kind);
    if (!r->n) r->t0 = s0, r->cycle = atomic_load_relaxed(&gcrt_tl_cycle_no);
    r->t1 = s1;
    r->a += a;
    r->n++;
}

void gcrt_tl_swept(void) {
    uint64_t now = gcrt_now_ns(), last = atomic_load_relaxed(&tl.sweep_last);
    while (last < now && !__atomic_compare_exchange_n(&tl.sweep_last, &last, now, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
}

/* Before pause 1 of cycle n (start: when it began stopping the world): the last cycle's
 * sweep phase is over (its last span was swept by now). */
void gcrt_tl_cycle_begin(uint32_t n, uint64_t start) {
    if (tl.sweep_cycle) {
        uint64_t end = atomic_load_relaxed(&tl.sweep_last);
        if (end > start) end = start;
        gcrt_tl_record(GCRT_TL_G_SWEEP, tl.sweep_from, end < tl.sweep_from ? tl.sweep_from : end, 1, 0);
        tl.sweep_cycle = 0;
    }
    atomic_store_relaxed(&gcrt_tl_cycle_no, n);
    tl.open_start = start;
    atomic_store_release(&tl.open_cycle, n);
}

static void drain_write(bool final);

void gcrt_tl_cycle_end(const gcrt_tl_cycle *c) {
    gcrt_tl_record3(GCRT_TL_G_CYCLE, c->start, c->tend, c->heap0, c->heap1, c->marked);
    gcrt_tl_record(GCRT_TL_G_STW1, c->start, c->stw1_end, (uint64_t)c->forced, 0);
    gcrt_tl_record(GCRT_TL_C_HEAP, c->start, c->start, c->heap0, 0);
    gcrt_tl_record(GCRT_TL_C_GOAL, c->start, c->start, c->goal0, 0);
    if (!c->stw) {
        gcrt_tl_record(GCRT_TL_G_MARK, c->stw1_end, c->tterm, 0, 0);
        gcrt_tl_record(GCRT_TL_G_STW2, c->tterm, c->tend, c->goal0, c->goal1);
        gcrt_tl_record(GCRT_TL_C_HEAP, c->tterm, c->tterm, c->heap1, 0);
    }
    gcrt_tl_record(GCRT_TL_C_HEAP, c->tend, c->tend, c->marked, 0);
    gcrt_tl_record(GCRT_TL_C_GOAL, c->tend, c->tend, c->goal1, 0);
    tl.sweep_from = c->tend;
    tl.sweep_cycle = c->n;
    atomic_store_relaxed(&tl.open_cycle, 0);
    drain_write(false);
}

/* ---- the writer (tl.lock; outside critical sections and pauses) ---- */

static void emit(const char *s, size_t n);

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...) {
    char b[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (n > 0) emit(b, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1);
}

static void fail(const char *what, int err) {
    gcrt_warn("GODEBUG=gctracefile=%s: %s: %s; the GC timeline stops here", tl.path, what, strerror(err));
    tl.closed = true;
    atomic_store_relaxed(&gcrt_tl_on, 0);
}

static void flush_buf(void) {
    size_t done = 0;
    while (done < tl.n && !tl.closed) {
        ssize_t w = tl.seekable ? pwrite(tl.fd, tl.buf + done, tl.n - done, tl.off) : write(tl.fd, tl.buf + done, tl.n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            fail("write", w < 0 ? errno : EIO);
            break;
        }
        done += (size_t)w;
        tl.off += w;
    }
    tl.n = 0;
}

static void emit(const char *s, size_t n) {
    if (tl.n + n > BUFSZ) flush_buf();
    memcpy(tl.buf + tl.n, s, n);
    tl.n += n;
}

/* "sep" before every array element but the first. */
static const char *sep(void) {
    if (tl.first) {
        tl.first = false;
        return "\n";
    }
    return ",\n";
}

/* Times are written in units of 1/1024 us (0.98 ns), as exact decimals: viewers add ts and
 * dur in binary floating point, where such fractions are exact, so an event that ends
 * where its parent ends still nests (with ns as 3 decimals, 142847.590 + 1626.792 came out
 * above 144291.176 + 183.206, and DevTools dropped the child from the tree). */
static uint64_t ticks(uint64_t ns) {
    uint64_t d = ns > tl.base ? ns - tl.base : 0;
    return (d * 128 + 62) / 125;
}

static char *fmt_ticks(char *b, uint64_t t) {
    int k = sprintf(b, "%llu", (unsigned long long)(t >> 10));
    if (t & 1023) {
        k += sprintf(b + k, ".%010llu", (unsigned long long)((t & 1023) * 9765625));
        while (b[k - 1] == '0') b[--k] = 0;
    }
    return b;
}

static void name_thread(uint32_t tid, unsigned role) {
    tl_name *nm = name_slot(tid, false);
    if (!nm || nm->written) return;   /* unnamed (table full), or named already */
    nm->written = 1;
    char comm[16];
    memcpy(comm, nm->comm, sizeof comm);
    for (char *p = comm; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) *p = 0;
    char name[160];
    if (role == GCRT_ROLE_THREAD)
        snprintf(name, sizeof name, "%s %u%s%s%s", (pid_t)tid == tl.pid ? "main thread" : "mutator", tid,
                 *comm ? " (" : "", comm, *comm ? ")" : "");
    else snprintf(name, sizeof name, "%s %u%s%s%s", role_names[role], tid, *comm ? " (" : "", comm, *comm ? ")" : "");
    put("%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%u,\"args\":{\"name\":\"%s\"}}", sep(), (int)tl.pid,
        tid, name);
    put("%s{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":%d,\"tid\":%u,\"args\":{\"sort_index\":%d}}", sep(),
        (int)tl.pid, tid, role == GCRT_ROLE_THREAD ? 0 : -10 + (int)role);
}

static void write_event(const tl_ev *e) {
    const char *nm = kinds[e->kind].name;
    char t0[32], dur[32], name[48], args[256];
    if (e->kind == GCRT_TL_G_CYCLE) snprintf(name, sizeof name, "GC %u", e->cycle), nm = name;
    if (e->tid != TID_GC) name_thread(e->tid, e->role);
    int k = snprintf(args, sizeof args, "\"cycle\":%u", e->cycle);
    const char *an[3] = {kinds[e->kind].a, kinds[e->kind].b, kinds[e->kind].c};
    uint64_t av[3] = {e->a, e->b, e->c};
    for (int i = 0; i < 3; i++)
        if (an[i]) k += snprintf(args + k, sizeof args - (size_t)k, ",\"%s\":%llu", an[i], (unsigned long long)av[i]);
    if (kinds[e->kind].ph == 'C') {
        put("%s{\"name\":\"%s\",\"cat\":\"gc\",\"ph\":\"C\",\"ts\":%s,\"pid\":%d,\"args\":{\"bytes\":%llu}}", sep(), nm,
            fmt_ticks(t0, ticks(e->t0)), (int)tl.pid, (unsigned long long)e->a);
        return;
    }
    uint64_t q0 = ticks(e->t0);
    fmt_ticks(dur, ticks(e->t1) - q0);
    put("%s{\"name\":\"%s\",\"cat\":\"gc\",\"ph\":\"X\",\"ts\":%s,\"dur\":%s,\"pid\":%d,\"tid\":%u,\"args\":{%s}}", sep(),
        nm, fmt_ticks(t0, q0), dur, (int)tl.pid, e->tid, args);
}

static void write_trailer(void) {
    off_t at = tl.off + (off_t)tl.n;   /* where the trailer starts */
    put("\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"generator\":\"gcrt GODEBUG=gctracefile\",\"dropped_events\":\"%llu\"}}\n",
        (unsigned long long)atomic_load_relaxed(&tl.dropped));
    flush_buf();
    if (tl.seekable) {
        if (!tl.closed && ftruncate(tl.fd, tl.off) != 0) fail("ftruncate", errno);
        tl.off = at;   /* the next events overwrite the trailer */
    }
}

static void drain_locked(void) {
    for (;;) {
        tl_ev *e = &tl.ring[tl.tail & (RING - 1)];
        if (atomic_load_acquire(&e->seq) != tl.tail + 1) break;   /* empty, or being written */
        tl_ev copy = *e;
        atomic_store_release(&e->seq, tl.tail + RING);
        tl.tail++;
        write_event(&copy);
    }
}

static void drain_write(bool final) {
    if (getpid() != tl.pid) return;   /* a forked child: the file is the parent's */
    gcrt_lock(&tl.lock);
    if (!tl.closed) {
        drain_locked();
        if (final) {
            uint64_t now = gcrt_now_ns();
            uint32_t open = atomic_load_acquire(&tl.open_cycle);
            if (open) gcrt_tl_record(GCRT_TL_G_CYCLE_OPEN, tl.open_start, now, 0, 0);
            else if (tl.sweep_cycle) {
                uint64_t end = atomic_load_relaxed(&tl.sweep_last);
                gcrt_tl_record(GCRT_TL_G_SWEEP, tl.sweep_from, end < tl.sweep_from ? tl.sweep_from : end,
                               !gcrt_sweep_pending(), 0);
                tl.sweep_cycle = 0;
            }
            drain_locked();
        }
        if (final || tl.seekable) write_trailer();
        else flush_buf();
        if (final) {
            tl.closed = true;
            close(tl.fd);
            tl.fd = -1;
        }
    }
    pthread_mutex_unlock(&tl.lock);
}

void gcrt_tl_maybe_drain(void) {
    if (atomic_load_relaxed(&tl.head) - atomic_load_relaxed(&tl.tail) > RING / 2) drain_write(false);
}

static void at_exit(void) { drain_write(true); }

void gcrt_tl_init(const char *path) {
    if (!path) return;
    tl.path = strdup(path);
    /* Only when on: the ring, the write buffer and the thread table, off-heap. */
    size_t rb = RING * sizeof(tl_ev), tb = MAXTIDS * sizeof(tl_name);
    char *m = mmap(NULL, rb + tb + BUFSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!tl.path || m == MAP_FAILED) {
        gcrt_warn("GODEBUG=gctracefile=%s: out of memory for the GC timeline; none is written", path);
        return;
    }
    tl.ring = (tl_ev *)m;
    tl.names = (tl_name *)(m + rb);
    tl.buf = m + rb + tb;
    for (uint64_t i = 0; i < RING; i++) tl.ring[i].seq = i;
    tl.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (tl.fd < 0) {
        gcrt_warn("GODEBUG=gctracefile=%s: cannot open: %s; no GC timeline is written", path, strerror(errno));
        return;
    }
    struct stat st;
    tl.seekable = fstat(tl.fd, &st) == 0 && S_ISREG(st.st_mode);
    tl.pid = getpid();
    tl.base = gcrt_stats_.start_ns;
    tl.first = true;
    put("{\"traceEvents\":[");
    put("%s{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":\"gcrt %d\"}}", sep(),
        (int)tl.pid, (int)tl.pid, (int)tl.pid);
    put("%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":\"GC\"}}", sep(), (int)tl.pid,
        TID_GC);
    put("%s{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"sort_index\":-10}}", sep(),
        (int)tl.pid, TID_GC);
    if (tl.seekable) write_trailer();
    else flush_buf();
    if (tl.closed) return;
    /* Registered before GCRT_MEMPROFILE's hook, so it runs after it (atexit runs in
     * reverse): the cycle that profile's gc_collect runs is in the timeline. */
    atexit(at_exit);
    atomic_store_release(&gcrt_tl_on, 1);
}

void gcrt_tl_fork_child(void) { atomic_store_relaxed(&gcrt_tl_on, 0); }
