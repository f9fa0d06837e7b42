/*
 * init.c: gc_init and the environment (GOGC, GOMEMLIMIT, GODEBUG, GOMAXPROCS), with Go's
 * syntax, and gcrt's own test knob GCRT_FAULT_MMAP (alloc/os.c). A malformed value is reported on stderr with the variable's name and the
 * default is kept. Initialisation runs once, under init_lock; gcrt_inited is set last.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

volatile int gcrt_inited;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

void gcrt_fatal(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
    /* write(2): stdio may be locked by a stopped thread. */
    (void)!write(2, "gcrt: fatal: ", 13);
    (void)!write(2, buf, (size_t)n);
    (void)!write(2, "\n", 1);
    abort();
}

/* One write(2), not stdio: a warning may be printed with the world stopped (gcverify,
 * gccheckmark), when a stopped thread may hold stderr's lock (say, inside its own warning). */
void gcrt_warn(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + 6, sizeof buf - 7, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n > sizeof buf - 8) n = sizeof buf - 8;
    memcpy(buf, "gcrt: ", 6);
    buf[6 + n] = '\n';
    (void)!write(2, buf, (size_t)n + 7);
}

/* GOGC: "off" or a decimal integer (negative also means off), as Go's readGOGC. */
int gcrt_parse_gogc(const char *s, int *out) {
    if (!strcmp(s, "off")) {
        *out = -1;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v > INT_MAX || v < INT_MIN || isspace((unsigned char)*s)) return -EINVAL;
    *out = v < 0 ? -1 : (int)v;
    return 0;
}

/* GOMEMLIMIT: "off", or digits with an optional B, KiB, MiB, GiB or TiB suffix. */
int gcrt_parse_memlimit(const char *s, int64_t *out) {
    if (!strcmp(s, "off")) {
        *out = INT64_MAX;
        return 0;
    }
    const char *p = s;
    if (!isdigit((unsigned char)*p)) return -EINVAL;
    uint64_t v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (UINT64_MAX - 9) / 10) return -ERANGE;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    static const struct { const char *suf; unsigned shift; } sufs[] = {
        {"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
    for (size_t i = 0; i < sizeof sufs / sizeof sufs[0]; i++) {
        if (strcmp(p, sufs[i].suf)) continue;
        if (sufs[i].shift && v > (uint64_t)INT64_MAX >> sufs[i].shift) return -ERANGE;
        v <<= sufs[i].shift;
        if (v > (uint64_t)INT64_MAX) return -ERANGE;
        *out = (int64_t)v;
        return 0;
    }
    return -EINVAL;
}

/* GCRT_FAULT_MMAP: N or N:SEED, decimal, N >= 1 (1 refuses every call); SEED defaults to 1. */
int gcrt_parse_fault_mmap(const char *s, uint64_t *every, uint64_t *seed) {
    char *end;
    if (!isdigit((unsigned char)*s)) return -EINVAL;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10), sd = 1;
    if (errno || n == 0) return -EINVAL;
    if (*end == ':') {
        const char *q = end + 1;
        if (!isdigit((unsigned char)*q)) return -EINVAL;
        sd = strtoull(q, &end, 10);
        if (errno) return -EINVAL;
    }
    if (*end) return -EINVAL;
    *every = n;
    *seed = sd;
    return 0;
}

/* GODEBUG=gctracefile=PATH (runtime/timeline.c): the one key whose value is a string; a
 * path cannot hold a comma, which separates GODEBUG's entries. */
static char tracefile[1024];

/* GODEBUG: comma-separated key=value; unknown keys are ignored, as Go does. */
void gcrt_parse_godebug(const char *s) {
    static const struct { const char *key; size_t off; } keys[] = {
        {"gctrace", offsetof(gcrt_gcstate, gctrace)},
        {"gcstoptheworld", offsetof(gcrt_gcstate, gcstoptheworld)},
        {"gccheckmark", offsetof(gcrt_gcstate, gccheckmark)},
        {"scavtrace", offsetof(gcrt_gcstate, scavtrace)},
        {"tinyalloc", offsetof(gcrt_gcstate, tinyalloc)},
        {"gcverify", offsetof(gcrt_gcstate, gcverify)},
        {"gcpoison", offsetof(gcrt_gcstate, gcpoison)},
        {"gcstress", offsetof(gcrt_gcstate, gcstress)},
        {"gcstorecheck", offsetof(gcrt_gcstate, gcstorecheck)},
        {"disablethp", offsetof(gcrt_gcstate, disablethp)},
        {"memprofilerate", offsetof(gcrt_gcstate, memprofilerate)},
        {"memprofilefp", offsetof(gcrt_gcstate, memprofilefp)},
        {"gcgreentea", offsetof(gcrt_gcstate, gcgreentea)},
    };
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            gcrt_warn("GODEBUG: malformed entry \"%s\" (want key=value); ignored", tok);
            continue;
        }
        *eq = 0;
        if (!strcmp(tok, "gctracefile")) {
            if (!eq[1]) gcrt_warn("GODEBUG: gctracefile= wants a path; no GC timeline is written");
            snprintf(tracefile, sizeof tracefile, "%s", eq + 1);
            continue;
        }
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            if (strcmp(tok, keys[i].key)) continue;
            char *end;
            long v = strtol(eq + 1, &end, 10);
            if (!eq[1] || *end || v < 0 || v > INT_MAX)
                gcrt_warn("GODEBUG: %s=%s is not a non-negative integer; ignored", tok, eq + 1);
            else *(int *)((char *)&gcrt_gc + keys[i].off) = (int)v;
        }
    }
}

static void read_env(void) {
    const char *s;
    if ((s = getenv("GOGC")) && *s && gcrt_parse_gogc(s, &gcrt_gc.percent))   /* "" = unset, as Go */
        gcrt_warn("GOGC=%s: malformed (want an integer or \"off\"); using %d", s, gcrt_gc.percent);
    const char *ml = getenv("GOMEMLIMIT");
    if (ml && *ml && gcrt_parse_memlimit(ml, &gcrt_gc.memory_limit))
        gcrt_warn("GOMEMLIMIT=%s: malformed (want bytes with an optional B/KiB/MiB/GiB/TiB suffix, "
                  "or \"off\"); limit stays off", ml);
    if ((s = getenv("GODEBUG"))) gcrt_parse_godebug(s);
    gcrt_tl_init(*tracefile ? tracefile : NULL);
    if ((s = getenv("GCRT_FAULT_MMAP")) && *s) {
        uint64_t every, seed;
        if (gcrt_parse_fault_mmap(s, &every, &seed))
            gcrt_warn("GCRT_FAULT_MMAP=%s: malformed (want N or N:SEED, N >= 1); no faults injected", s);
        else gcrt_fault_random(every, seed);
    }
    if (!ml || !*ml) {   /* unset: 90% of the cgroup's memory limit, if it has one */
        uint64_t cg = gcrt_cgroup_memory_limit("/proc/self/cgroup", "/sys/fs/cgroup");
        if (cg) {
            gcrt_gc.memory_limit = (int64_t)(cg / 10 * 9);
            if (gcrt_gc.gctrace)
                fprintf(stderr, "gcrt: GOMEMLIMIT unset; using 90%% of the cgroup memory limit %llu: %lld bytes\n",
                        (unsigned long long)cg, (long long)gcrt_gc.memory_limit);
        }
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int markers = ncpu > 0 ? (int)ncpu : 1;
    gcrt_gc.ncpu = markers;
    if ((s = getenv("GOMAXPROCS")) && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end || v < 1 || v > 1024) gcrt_warn("GOMAXPROCS=%s: malformed (want a positive integer); using %d", s, markers);
        else markers = (int)v;
    }
    gcrt_gc.nmarkers = markers;
}

void gcrt_ensure_init(void) {
    if (likely(atomic_load_acquire(&gcrt_inited))) return;
    gcrt_lock(&init_lock);
    if (!gcrt_inited) {
        gcrt_stats_.start_ns = gcrt_now_ns();
        gcrt_sizeclass_init();
        gcrt_heap_init();
        gcrt_central_init();
        gcrt_threads_init();
        gcrt_fork_init();
        read_env();
        gcrt_debug_init();
        gcrt_mprof_init();
        gcrt_mark_init(gcrt_gc.nmarkers);
        gcrt_pacer_update();
        atomic_store_release(&gcrt_inited, 1);
    }
    pthread_mutex_unlock(&init_lock);
}

GCRT_API int gc_init(void) {
    gcrt_ensure_init();
    return gc_register_thread();
}
