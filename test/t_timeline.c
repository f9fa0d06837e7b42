/*
 * t_timeline: GODEBUG=gctracefile=PATH writes every cycle as Chrome trace-event JSON
 * (runtime/timeline.c). Children (this binary re-executed) run cycles and print what they
 * know (num_gc, gc_read_memstats' pause of each cycle, which threads allocated while
 * marking, which did nothing); tools/gcrt-timeline-check then checks the file: strict
 * JSON, fields, per-thread nesting, every cycle's pause 1 / mark / pause 2 tiling it and its
 * sweep, the pauses on the threads that ran them, their sums against pause_ns to 2 ns, and
 * as many cycles as num_gc (and as gctrace lines). Cases:
 *  - assist: a 32 MiB tree stays live while two threads allocate: both have mark assists
 *    on their own tracks; a registered thread that only sleeps has no event at all;
 *  - exit: exit() while a gc_collect loop runs in another thread (usually mid-cycle):
 *    still valid JSON, the open cycle (if any) marked unfinished;
 *  - kill: SIGKILL after 5 cycles (no exit hook runs): the file as of the last cycle's
 *    end is valid JSON with those cycles;
 *  - pipe: gctracefile=/dev/stdout, a pipe that cannot be rewritten: valid at exit;
 *  - a path that cannot be opened: a warning naming GODEBUG=gctracefile, the program runs
 *    on and gctrace still works.
 * The checker is a Python script (Debian's python3, in TEST_PKGS).
 */
#define _GNU_SOURCE
#include "check.h"

#include <libgen.h>
#include <pthread.h>
#include <sys/stat.h>

#define MiB ((size_t)1 << 20)

typedef struct tnode {
    struct tnode *l, *r;
    uint64_t pad[2];
} tnode;

static tnode *tree;   /* live while the children allocate */
static void *volatile sink;

static tnode *build(int depth)
{
    tnode *n = gc_alloc(sizeof *n);
    CHECK(n != NULL);
    if (depth > 0) {
        tnode *l = build(depth - 1), *r = build(depth - 1);
        GC_STORE(n->l, l);
        GC_STORE(n->r, r);
    }
    return n;
}

static size_t count(const tnode *n) { return n ? 1 + count(n->l) + count(n->r) : 0; }

static uint32_t num_gc(void)
{
    gc_memstats_t ms;
    return read_ms(&ms)->num_gc;
}

static void print_pauses(FILE *f)
{
    gc_memstats_t ms;
    read_ms(&ms);
    CHECK(ms.num_gc <= 256, "%u cycles: pause_ns keeps 256", ms.num_gc);
    fprintf(f, "num_gc=%u\npauses=", ms.num_gc);
    for (uint32_t i = 0; i < ms.num_gc; i++) fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)ms.pause_ns[i]);
    fprintf(f, "\n");
}

static uint32_t gc_stop_at;
static volatile int quiet_done;
static pid_t tids[2], quiet_tid;

static void *allocator(void *arg)
{
    int k = (int)(intptr_t)arg;
    tids[k] = gettid();
    double t0 = now_sec();
    while (num_gc() < gc_stop_at && now_sec() - t0 < test_seconds(20))
        for (int i = 0; i < 10000; i++) sink = gc_alloc(64);
    return NULL;
}

static void *quiet(void *arg)
{
    (void)arg;
    quiet_tid = gettid();
    while (!quiet_done) usleep(1000);
    return NULL;
}

static int child_assist(void)
{
    gc_init();
    tree = build(20);   /* 2M - 1 nodes of 32 bytes: a wide graph whose grey work is shared */
    gc_stop_at = num_gc() + 6;
    pthread_t th[3];
    CHECK(gc_pthread_create(&th[2], NULL, quiet, NULL) == 0);
    for (int i = 0; i < 2; i++) CHECK(gc_pthread_create(&th[i], NULL, allocator, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    quiet_done = 1;
    pthread_join(th[2], NULL);
    CHECK(count(tree) == ((size_t)1 << 21) - 1);
    gc_collect();
    print_pauses(stdout);
    printf("assist_tids=%d,%d\nquiet_tids=%d\n", (int)tids[0], (int)tids[1], (int)quiet_tid);
    return 0;
}

static void *collector(void *arg)
{
    (void)arg;
    for (;;) gc_collect();
    return NULL;
}

static int child_exit(void)
{
    gc_init();
    tree = build(20);
    pthread_t th;
    CHECK(gc_pthread_create(&th, NULL, collector, NULL) == 0);
    uint32_t n0 = num_gc();
    while (num_gc() < n0 + 3) usleep(500);
    usleep(3000);
    fprintf(stderr, "exit after %u cycles\n", num_gc());
    exit(0);
}

static void churn(size_t bytes)
{
    for (size_t done = 0; done < bytes; done += 2048) sink = gc_alloc(2048);
}

static void *killer(void *arg)
{
    (void)arg;
    while (num_gc() < 5) usleep(200);
    fprintf(stderr, "num_gc=%u at the kill\n", num_gc());
    kill(getpid(), SIGKILL);
    return NULL;
}

static int child_small(int kill_it)
{
    gc_init();
    pthread_t th;
    if (kill_it) CHECK(gc_pthread_create(&th, NULL, killer, NULL) == 0);
    for (int i = 0; i < (kill_it ? 1000 : 1); i++) {
        churn(24 * MiB);
        gc_collect();
    }
    fprintf(stderr, "num_gc=%u\n", num_gc());
    return 0;
}

/* ---- parent ---- */

static char checker[4096], dir[256];

static unsigned gctrace_lines(const char *err)
{
    unsigned n = 0;
    for (const char *l = err; (l = strstr(l, "gc ")); l++)
        if ((l == err || l[-1] == '\n') && l[3] >= '1' && l[3] <= '9') n++;
    return n;
}

/* The value of "key=" in text, up to the line's end. */
static char *field(const char *text, const char *key, char *buf, size_t n)
{
    const char *p = strstr(text, key);
    CHECK(p != NULL, "no %s in:\n%s", key, text);
    p += strlen(key);
    size_t k = strcspn(p, "\n");
    CHECK(k < n);
    memcpy(buf, p, k);
    buf[k] = 0;
    return buf;
}

static int check_file(const char *file, const char *extra, char *out, size_t outn)
{
    char cmd[1 << 17];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s 2>&1", checker, file, extra);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    size_t k = fread(out, 1, outn - 1, p);
    out[k] = 0;
    int st = pclose(p);
    printf("$ gcrt-timeline-check %s %.200s%s\n%s", file, extra, strlen(extra) > 200 ? "..." : "", out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char out[1 << 16];

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "assist")) return child_assist();
    if (argc > 1 && !strcmp(argv[1], "exit")) return child_exit();
    if (argc > 1 && !strcmp(argv[1], "small")) return child_small(0);
    if (argc > 1 && !strcmp(argv[1], "kill")) return child_small(1);

    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0);
    self[n] = 0;
    const char *src = getenv("GCRT_SRC");
    if (src) snprintf(checker, sizeof checker, "%s/tools/gcrt-timeline-check", src);
    else snprintf(checker, sizeof checker, "%s/../../tools/gcrt-timeline-check", dirname(self));
    CHECK(access(checker, R_OK) == 0, "no checker at %s", checker);
    CHECK(access("/usr/bin/python3", X_OK) == 0, "no /usr/bin/python3 (Debian's python3, in TEST_PKGS)");
    snprintf(dir, sizeof dir, "/tmp/t_timeline.%d", (int)getpid());
    CHECK(mkdir(dir, 0700) == 0);
    child_result_t *r = malloc(sizeof *r);
    CHECK(r != NULL);
    char godebug[8192], file[4096], extra[1 << 16], a[1 << 14], b[256], c[256], d[64];

    /* assist */
    snprintf(file, sizeof file, "%s/assist.json", dir);
    snprintf(godebug, sizeof godebug, "GODEBUG=gctrace=1,gctracefile=%s", file);
    const char *env_assist[] = {godebug, "GOMAXPROCS=2", "GOGC=100", NULL};
    int st = run_self(r, (const char *[]){"assist", NULL}, env_assist);
    CHECK(st == 0, "assist child exited %d:\n%s", st, r->err);
    unsigned ngc = (unsigned)atoi(field(r->out, "num_gc=", d, sizeof d));
    CHECK(gctrace_lines(r->err) == ngc, "%u gctrace lines, num_gc %u", gctrace_lines(r->err), ngc);
    snprintf(extra, sizeof extra, "--num-gc %u --pauses %s --assist-tids %s --quiet-tids %s", ngc,
             field(r->out, "pauses=", a, sizeof a), field(r->out, "assist_tids=", b, sizeof b),
             field(r->out, "quiet_tids=", c, sizeof c));
    CHECK(check_file(file, extra, out, sizeof out) == 0, "the assist timeline fails its check");

    /* exit in the middle of a cycle */
    snprintf(file, sizeof file, "%s/exit.json", dir);
    snprintf(godebug, sizeof godebug, "GODEBUG=gctracefile=%s", file);
    st = run_self(r, (const char *[]){"exit", NULL}, (const char *[]){godebug, NULL});
    CHECK(st == 0, "exit child exited %d:\n%s", st, r->err);
    CHECK(check_file(file, "--unfinished-ok", out, sizeof out) == 0, "the exit timeline fails its check");
    printf("t_timeline: exit %s\n", strstr(out, "GC (unfinished at exit)") ? "in the middle of a cycle: recorded as unfinished"
                                                                           : "fell between two cycles this time");

    /* SIGKILL: no exit hook */
    snprintf(file, sizeof file, "%s/kill.json", dir);
    snprintf(godebug, sizeof godebug, "GODEBUG=gctracefile=%s", file);
    st = run_self(r, (const char *[]){"kill", NULL}, (const char *[]){godebug, NULL});
    CHECK(st == 128 + SIGKILL, "kill child exited %d:\n%s", st, r->err);
    CHECK(check_file(file, "--killed --min-gc 4", out, sizeof out) == 0, "the killed timeline fails its check");

    /* a pipe */
    snprintf(file, sizeof file, "%s/pipe.json", dir);
    st = run_self(r, (const char *[]){"small", NULL}, (const char *[]){"GODEBUG=gctracefile=/dev/stdout", NULL});
    CHECK(st == 0, "pipe child exited %d:\n%s", st, r->err);
    FILE *f = fopen(file, "w");
    CHECK(f && fwrite(r->out, 1, r->out_len, f) == r->out_len && fclose(f) == 0);
    snprintf(extra, sizeof extra, "--num-gc %s", field(r->err, "num_gc=", d, sizeof d));
    CHECK(check_file(file, extra, out, sizeof out) == 0, "the piped timeline fails its check");

    /* a bad path */
    st = run_self(r, (const char *[]){"small", NULL},
                  (const char *[]){"GODEBUG=gctrace=1,gctracefile=/nonexistent-dir/x.json", NULL});
    CHECK(st == 0, "bad-path child exited %d:\n%s", st, r->err);
    CHECK(strstr(r->err, "gcrt: GODEBUG=gctracefile=/nonexistent-dir/x.json: cannot open: No such file or directory"),
          "no warning naming the variable:\n%s", r->err);
    CHECK(gctrace_lines(r->err) >= 1, "gctrace stopped with the bad path:\n%s", r->err);
    printf("t_timeline: bad path: %.*s\n", (int)strcspn(strstr(r->err, "gcrt: GODEBUG"), "\n"), strstr(r->err, "gcrt: GODEBUG"));

    char rm[8192];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    CHECK(system(rm) == 0);
    free(r);
    printf("t_timeline: ok\n");
    return 0;
}
