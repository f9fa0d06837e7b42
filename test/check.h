/*
 * test/check.h: tiny assertion and process helpers shared by gcrt's tests.
 *
 * Every test is its own program (build/test/NAME); exit status 0 means pass. CHECK prints
 * file:line and the failed condition plus a printf-style message, then exits with 1.
 *
 * Helpers:
 *   CHECK(cond, fmt, ...)          fail unless cond
 *   CHECK_EQ_U / CHECK_EQ_P        compare unsigned integers / pointers, printing both values
 *   HIDE(p) / UNHIDE(h)            store an address so that conservative scanning does not see it
 *   count_freed(hidden, n)         how many of n hidden addresses no longer hold an object
 *   churn_stack()                  overwrite stale stack below the caller (non-inlined)
 *   WITHOUT_AUTO_GC(stmt)          run stmt with automatic collection turned off
 *   now_sec()                      monotonic seconds
 *   run_self(...)                  re-exec this test binary with extra args/env; capture output
 *   run_fork(fn, arg, ...)         run fn(arg) in a forked child; capture its stderr and status
 *   test_dump_stacks(why)          for a test's own watchdog: every thread's stack into the
 *                                  failure's evidence (test/run.sh), before it aborts
 */
#ifndef GCRT_TEST_CHECK_H
#define GCRT_TEST_CHECK_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gcrt.h"

#if defined(__clang__)
#define TEST_NOINLINE __attribute__((noinline))
#else
#define TEST_NOINLINE __attribute__((noinline, noclone))
#endif
#define TEST_UNUSED __attribute__((unused))

static TEST_UNUSED void check_fail_(const char *file, int line, const char *cond, const char *fmt,
                                    ...) __attribute__((noreturn, format(printf, 4, 5)));
static TEST_UNUSED void check_fail_(const char *file, int line, const char *cond, const char *fmt,
                                    ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s:%d: CHECK failed: %s", file, line, cond);
    /* fmt always starts with a space (see CHECK), so an empty message is not a zero-length
     * format string. */
    if (fmt && fmt[0] && fmt[1]) {
        fputc(':', stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    fflush(stderr);
    exit(1);
}

/* CHECK(cond) or CHECK(cond, "fmt", args...). */
#define CHECK(cond, ...)                                                                    \
    do {                                                                                    \
        if (!(cond))                                                                        \
            check_fail_(__FILE__, __LINE__, #cond, " " __VA_ARGS__);                        \
    } while (0)

#define CHECK_EQ_U(a, b)                                                                    \
    do {                                                                                    \
        unsigned long long check_a_ = (unsigned long long)(a);                              \
        unsigned long long check_b_ = (unsigned long long)(b);                              \
        if (check_a_ != check_b_)                                                           \
            check_fail_(__FILE__, __LINE__, #a " == " #b, "%llu != %llu", check_a_,         \
                        check_b_);                                                          \
    } while (0)

#define CHECK_EQ_P(a, b)                                                                    \
    do {                                                                                    \
        const void *check_a_ = (const void *)(a);                                           \
        const void *check_b_ = (const void *)(b);                                           \
        if (check_a_ != check_b_)                                                           \
            check_fail_(__FILE__, __LINE__, #a " == " #b, "%p != %p", check_a_, check_b_);  \
    } while (0)

/* Abort the test with a message (for unreachable paths). */
#define FAIL(...) check_fail_(__FILE__, __LINE__, "FAIL", " " __VA_ARGS__)

/* ---- hidden pointers ----------------------------------------------------------------- */

/* An address XORed with this key is (almost surely) not a heap address, so a value stored
 * in this form anywhere is not a conservative root. */
#define HIDE_KEY ((uintptr_t)0xa5c3f00d5a3c0ff0ull)
#define HIDE(p) ((uintptr_t)(p) ^ HIDE_KEY)
#define UNHIDE(h) ((void *)((uintptr_t)(h) ^ HIDE_KEY))

/* Of n hidden object addresses, how many are free now (gc_base finds no object). */
static TEST_UNUSED size_t count_freed(const uintptr_t *hidden, size_t n)
{
    size_t freed = 0;
    for (size_t i = 0; i < n; i++)
        if (gc_base(UNHIDE(hidden[i])) == NULL)
            freed++;
    return freed;
}

/* Overwrite a chunk of stack below the caller so that stale copies of pointers left there by
 * earlier calls are gone. Not inlined, so it really runs in a deeper frame; not instrumented
 * by ASan, whose redzones around buf are never written and kept such copies (t_final, t_weak
 * and two compat tests failed under make test-asan for it). */
static TEST_UNUSED TEST_NOINLINE __attribute__((no_sanitize_address)) void churn_stack(void)
{
    volatile char buf[32 * 1024];
    memset((char *)buf, 0, sizeof buf);
    __asm__ __volatile__("" : : "r"(buf) : "memory");
}

/* Run the statement(s) with automatic collection off (gc_collect still works), after a
 * forced cycle so that no cycle is in progress when they start. Tests that
 * make garbage and later check it was freed use this: otherwise a cycle could free some of
 * it while the test is still allocating, and the slots could be handed out again to objects
 * the test keeps, making their hidden addresses look alive. */
#define WITHOUT_AUTO_GC(...)                                                                \
    do {                                                                                    \
        int without_auto_gc_pct_ = gc_set_percent(-1);                                      \
        gc_collect(); /* finish any cycle that was already under way */                     \
        __VA_ARGS__;                                                                        \
        gc_set_percent(without_auto_gc_pct_);                                               \
    } while (0)

static TEST_UNUSED double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static TEST_UNUSED gc_memstats_t *read_ms(gc_memstats_t *ms)
{
    gc_read_memstats(ms);
    return ms;
}

/* ---- child processes ----------------------------------------------------------------- */

/* Result of a child run. status is the exit code, or 128+signal if it was killed. The
 * captured streams are NUL-terminated (truncated to the buffer size). */
typedef struct child_result {
    int status;
    char out[1 << 16];
    char err[1 << 16];
    size_t out_len, err_len;
} child_result_t;

/* make test-valgrind sets GCRT_UNDER_VALGRIND=1: programs run 20-50 times slower, so tests
 * that need a number of cycles to overlap a timed phase ask for fewer (at least one),
 * and children get 20 times CHILD_TIMEOUT. */
static TEST_UNUSED int under_valgrind(void)
{
    const char *s = getenv("GCRT_UNDER_VALGRIND");
    return s && *s && strcmp(s, "0") != 0;
}

/* Seconds of wall time a test allows for something, stretched under memcheck (20x). */
static TEST_UNUSED unsigned test_seconds(unsigned s)
{
    return under_valgrind() ? 20 * s : s;
}

/* Bounds on time or CPU share (a pause, a collector's CPU fraction, how far the heap gets
 * past a soft limit while the collector competes for the CPU) mean nothing under memcheck,
 * which runs one thread at a time 20-50 times slower: there the code paths still run and
 * memcheck still checks them, and only these bounds are reported instead of enforced:
 * CHECK_TIMED is CHECK for them. */
static TEST_UNUSED int timing_checks(void)
{
    return !under_valgrind();
}
#define CHECK_TIMED(...)                                                                    \
    do {                                                                                    \
        if (timing_checks()) CHECK(__VA_ARGS__);                                            \
    } while (0)

/* Seconds a child may run before it is killed by SIGALRM (status 128 + 14), its stacks
 * dumped first (the parent's deadline; the child's own alarm, 30 s later, is the backstop
 * for a parent that is itself stuck). */
#ifndef CHILD_TIMEOUT
#define CHILD_TIMEOUT 60
#endif

/* The stacks of all threads of process `pid` and of its children, by test/dumpstacks.sh
 * ($GCRT_DUMPSTACKS, set by test/run.sh), appended to $GCRT_TEST_EVIDENCE/stacks.txt (or to
 * stderr). posix_spawn, not fork: fork runs gcrt's atfork handlers, which take the locks a
 * hung process may hold. */
static TEST_UNUSED void test_dump_stacks_of(pid_t target, const char *why)
{
    extern char **environ;
    const char *script = getenv("GCRT_DUMPSTACKS"), *dir = getenv("GCRT_TEST_EVIDENCE");
    fprintf(stderr, "%s: dumping thread stacks\n", why);
    if (!script) {
        fprintf(stderr, "no stacks: GCRT_DUMPSTACKS is unset (run the test under test/run.sh)\n");
        return;
    }
    char pid[32], out[4096];
    snprintf(pid, sizeof pid, "%d", (int)target);
    if (dir)
        snprintf(out, sizeof out, "%s/stacks.txt", dir);
    else
        snprintf(out, sizeof out, "/dev/stderr");
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0); /* Yama: let gdb attach to us */
    char *argv[] = {(char *)"sh", (char *)script, pid, out, NULL};
    pid_t c;
    int st;
    if (posix_spawn(&c, "/bin/sh", NULL, NULL, argv, environ) != 0) {
        perror("posix_spawn dumpstacks.sh");
        return;
    }
    while (waitpid(c, &st, 0) < 0 && errno == EINTR) {}
    if (dir)
        fprintf(stderr, "stacks: %s\n", out);
}

/* A test's own watchdog calls this when it sees a hang, before it aborts. */
static TEST_UNUSED void test_dump_stacks(const char *why)
{
    test_dump_stacks_of(getpid(), why);
}


/* Read both pipes until EOF, storing what fits. Past the child's deadline, dump its stacks
 * and kill it with SIGALRM. */
static TEST_UNUSED void child_drain_(pid_t pid, int ofd, int efd, child_result_t *r)
{
    double deadline = now_sec() + test_seconds(CHILD_TIMEOUT);
    int killed = 0;
    struct pollfd pf[2];
    int open_fds = 2;
    char scratch[4096];
    r->out_len = r->err_len = 0;
    pf[0].fd = ofd;
    pf[0].events = POLLIN;
    pf[1].fd = efd;
    pf[1].events = POLLIN;
    while (open_fds > 0) {
        double left = deadline - now_sec();
        int n = poll(pf, 2, killed ? -1 : left > 0 ? (int)(left * 1000) + 1 : 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (n == 0) {
            char why[96];
            snprintf(why, sizeof why, "child %d ran past its %u s limit", (int)pid, test_seconds(CHILD_TIMEOUT));
            test_dump_stacks_of(pid, why);
            kill(pid, SIGALRM);
            killed = 1;
            continue;
        }
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char *buf = i == 0 ? r->out : r->err;
            size_t *len = i == 0 ? &r->out_len : &r->err_len;
            size_t cap = (i == 0 ? sizeof r->out : sizeof r->err) - 1;
            ssize_t n = read(pf[i].fd, scratch, sizeof scratch);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(pf[i].fd);
                pf[i].fd = -1;
                open_fds--;
                continue;
            }
            size_t take = (size_t)n;
            if (take > cap - *len)
                take = cap - *len;
            memcpy(buf + *len, scratch, take);
            *len += take;
        }
    }
    r->out[r->out_len] = 0;
    r->err[r->err_len] = 0;
}

static TEST_UNUSED int child_status_(int ws)
{
    if (WIFEXITED(ws))
        return WEXITSTATUS(ws);
    if (WIFSIGNALED(ws))
        return 128 + WTERMSIG(ws);
    return -1;
}

/* Fork with the child's stdout and stderr on pipes; returns the pid (0 in the child). */
static TEST_UNUSED pid_t child_fork_(int op[2], int ep[2])
{
    fflush(stdout);
    fflush(stderr);
    if (pipe(op) != 0 || pipe(ep) != 0) {
        perror("pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        /* Children crash on purpose (misuse tests): their cores are not evidence. */
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore);
        dup2(op[1], 1);
        dup2(ep[1], 2);
        close(op[0]);
        close(op[1]);
        close(ep[0]);
        close(ep[1]);
    }
    return pid;
}

/* Parent side: read the child's output into r, reap it, return its status. */
static TEST_UNUSED int child_collect_(pid_t pid, int op[2], int ep[2], child_result_t *r)
{
    close(op[1]);
    close(ep[1]);
    child_drain_(pid, op[0], ep[0], r);
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    r->status = child_status_(ws);
    return r->status;
}

/* Re-execute this test binary (/proc/self/exe) with argv = {self, args..., NULL}. env is a
 * NULL-terminated list of "NAME=value" to set and "NAME" entries to unset in the child.
 * Returns the child's status (also in r->status); 142 (128 + SIGALRM) if it ran longer than
 * CHILD_TIMEOUT seconds. */
static TEST_UNUSED int run_self(child_result_t *r, const char *const *args,
                                const char *const *env)
{
    int op[2], ep[2];
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"gcrt-test-child";
    for (; args && *args && argc < 31; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    pid_t pid = child_fork_(op, ep);
    if (pid == 0) {
        for (; env && *env; env++) {
            const char *eq = strchr(*env, '=');
            if (eq) {
                char name[256];
                size_t n = (size_t)(eq - *env);
                if (n >= sizeof name)
                    n = sizeof name - 1;
                memcpy(name, *env, n);
                name[n] = 0;
                setenv(name, eq + 1, 1);
            } else {
                unsetenv(*env);
            }
        }
        alarm(test_seconds(CHILD_TIMEOUT) + 30); /* survives execve: the backstop */
        prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);   /* Yama: its stacks can be taken */
        /* The path, not /proc/self/exe itself: under valgrind that names the tool, while
         * readlink is answered with the program's path. */
        char self[4096];
        ssize_t sn = readlink("/proc/self/exe", self, sizeof self - 1);
        if (sn <= 0 || (size_t)sn >= sizeof self - 1)
            strcpy(self, "/proc/self/exe");
        else
            self[sn] = 0;
        execv(self, argv);
        perror("execv");
        _exit(127);
    }
    return child_collect_(pid, op, ep, r);
}

/* Run fn(arg) in a forked child whose stdout/stderr are captured; the child exits with
 * fn's return value (or dies by a signal, reported as 128+sig). Best called before gcrt has
 * started helper threads, since only the calling thread survives fork. */
static TEST_UNUSED int run_fork(child_result_t *r, int (*fn)(void *), void *arg)
{
    int op[2], ep[2];
    pid_t pid = child_fork_(op, ep);
    if (pid == 0) {
        alarm(test_seconds(CHILD_TIMEOUT) + 30);
        prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
        int rc = fn(arg);
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    return child_collect_(pid, op, ep, r);
}


static TEST_UNUSED unsigned test_min_cycles(unsigned n)
{
    return under_valgrind() ? 1 : n;
}

/* A 64-bit mixing function (splitmix-style finaliser) for test checksums. */
static TEST_UNUSED uint64_t test_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* Concurrent-marking tests: run body first in a child with GODEBUG=gccheckmark=1,gcverify=1
 * (while this process has no threads yet), then here with default settings. Fails if the
 * child exits non-zero or reports a fatal error or a gcverify violation. *max_seconds
 * bounds each run of body: 5 s in the child, 3 s here. */
static TEST_UNUSED int run_checked_then_plain(int argc, char **argv, int (*body)(const char *mode),
                                              double *max_seconds)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        *max_seconds = 5.0;
        return body("gccheckmark,gcverify");
    }
    child_result_t *r = malloc(sizeof *r);
    CHECK(r != NULL);
    const char *args[] = {"child", NULL};
    const char *env[] = {"GODEBUG=gccheckmark=1,gcverify=1", "GOGC", NULL};
    int st = run_self(r, args, env);
    fputs(r->out, stdout);
    int child_fatal = strstr(r->err, "gcrt: fatal") != NULL || strstr(r->err, "gcrt: gcverify:") != NULL;
    if (st != 0 || child_fatal)
        fprintf(stderr, "child (GODEBUG=gccheckmark=1,gcverify=1) exited with %d; its stderr:\n%s\n", st, r->err);
    free(r);
    *max_seconds = 3.0;
    body("default");
    CHECK(st == 0, "child with GODEBUG=gccheckmark=1,gcverify=1 exited with %d", st);
    CHECK(!child_fatal, "child reported a fatal error or a gcverify violation");
    return 0;
}

/* Phased concurrent-mutation tests: nt mutator threads, started here as fn((void *)i)
 * (i = 0..nt-1), each looping: wait on *bar (nt + 1 parties); return if *stop; one phase
 * of work; wait on *bar. Between phases, with the mutators parked, check() counts damage.
 * Runs phases until damage is seen, or `target` cycles and at least 10 phases are done, or
 * max_seconds have passed; then stops and joins the mutators. Returns the damage found;
 * *cycles and *phases say what ran. */
static TEST_UNUSED unsigned long test_phased_run(int nt, void *(*fn)(void *), pthread_barrier_t *bar,
                                                 volatile int *stop, unsigned long (*check)(void),
                                                 uint32_t target, double max_seconds, uint32_t *cycles,
                                                 int *phases)
{
    pthread_t th[64];
    CHECK(nt > 0 && nt <= 64);
    CHECK(pthread_barrier_init(bar, NULL, (unsigned)nt + 1) == 0);
    for (int t = 0; t < nt; t++)
        CHECK(gc_pthread_create(&th[t], NULL, fn, (void *)(intptr_t)t) == 0);
    gc_memstats_t ms;
    uint32_t gc0 = read_ms(&ms)->num_gc;
    double t0 = now_sec();
    unsigned long bad = 0;
    *phases = 0;
    for (;;) {
        pthread_barrier_wait(bar);
        pthread_barrier_wait(bar);
        ++*phases;
        bad += check();
        *cycles = read_ms(&ms)->num_gc - gc0;
        if (bad || (*cycles >= target && *phases >= 10) || now_sec() - t0 > max_seconds)
            break;
    }
    __atomic_store_n(stop, 1, __ATOMIC_SEQ_CST);
    pthread_barrier_wait(bar);
    for (int t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
    *cycles = read_ms(&ms)->num_gc - gc0;
    return bad;
}

/* A long singly linked list, 32 bytes a node, numbered from 0: its marking is one chain,
 * which one marker at a time holds. *head must be a root (static data). */
typedef struct test_node {
    struct test_node *next;
    uint64_t pad[3];
} test_node;

static TEST_UNUSED void test_list_build(test_node **head, size_t n)
{
    test_node *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        test_node *x = gc_alloc(sizeof *x);
        CHECK(x != NULL);
        x->pad[0] = i;
        if (prev) GC_STORE(prev->next, x);
        else *head = x;
        prev = x;
    }
}

/* Check the list test_list_build made is whole. */
static TEST_UNUSED void test_list_check(const test_node *head, size_t n)
{
    size_t len = 0;
    for (const test_node *x = head; x; x = x->next) CHECK(x->pad[0] == len++, "list node %zu damaged", len);
    CHECK(len == n, "list of %zu nodes, not %zu", len, n);
}

/* One gctrace line (runtime/trace in gc/cycle.c; its format is t_gctrace's subject). */
typedef struct test_gcline {
    const char *line;   /* its start in the text, and its length */
    int len;
    double clock[3];    /* pause 1, concurrent mark, pause 2 (ms wall) */
    double cpu_assist, cpu_bg, cpu_idle;   /* mark CPU (ms) */
    unsigned h0, h1, h2, goal;   /* MB */
    int forced;
} test_gcline;

/* The next gctrace line at or after *pos in a child's stderr, parsed: 0 when none is left.
 * Lines that do not parse are skipped. */
static TEST_UNUSED int test_gctrace_next(const char **pos, test_gcline *L)
{
    for (const char *l = *pos; *l; l++) {
        if ((l != *pos && l[-1] != '\n') || strncmp(l, "gc ", 3) != 0) continue;
        const char *nl = strchr(l, '\n');
        L->line = l;
        L->len = nl ? (int)(nl - l) : (int)strlen(l);
        double c1, c3;
        int ok = sscanf(l, "gc %*u @%*fs %*u%%: %lf+%lf+%lf ms clock, %lf+%lf/%lf/%lf+%lf ms cpu, %u->%u->%u MB, %u MB goal",
                        &L->clock[0], &L->clock[1], &L->clock[2], &c1, &L->cpu_assist, &L->cpu_bg, &L->cpu_idle, &c3,
                        &L->h0, &L->h1, &L->h2, &L->goal) == 12;
        *pos = l + L->len;
        if (!ok) continue;
        L->forced = L->len >= 8 && strncmp(l + L->len - 8, "(forced)", 8) == 0;
        return 1;
    }
    *pos += strlen(*pos);
    return 0;
}

#endif /* GCRT_TEST_CHECK_H */
