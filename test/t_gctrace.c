/*
 * t_gctrace: GODEBUG=gctrace=1 prints one line per cycle on stderr, in Go's format:
 *   gc N @T s P%: a+b+c ms clock, d+e/f/g+h ms cpu, H0->H1->H2 MB, G MB goal,
 *   S MB stacks, X MB globals, NP P[ (forced)]
 * A child (this binary re-executed) churns garbage so that automatic cycles run, then calls
 * gc_collect twice; it prints its memstats on stdout. The parent checks:
 *  - every "gc " line parses exactly, numbers are consecutive from 1, one line per cycle
 *    (count == num_gc), the timestamps never go back, percentages are 0..100;
 *  - exactly num_forced_gc lines end in " (forced)", and the last two do;
 *  - "N P" equals GOMAXPROCS from the environment (2 and 1 are tried);
 *  - GODEBUG with other keys (comma-separated) still enables the trace;
 *  - without gctrace (unset, or gctrace=0) no "gc " line appears.
 */
#include "check.h"

#include <ctype.h>

#define MiB ((size_t)1 << 20)

static void *volatile keep[256]; /* a little live data */

static TEST_NOINLINE void churn(size_t bytes)
{
    size_t i = 0;
    for (size_t done = 0; done < bytes; done += 2048, i++) {
        void *p = (i & 1) ? gc_alloc_noscan(2048) : gc_alloc(2048);
        if (!p)
            exit(3);
        keep[i % 256] = p;
    }
}

static int child(void)
{
    if (gc_init() != 0)
        return 2;
    churn(48 * MiB);
    gc_collect();
    gc_collect();
    gc_memstats_t ms;
    read_ms(&ms);
    printf("num_gc=%u forced=%u\n", ms.num_gc, ms.num_forced_gc);
    fflush(stdout);
    return 0;
}

/* ---- a tiny matcher ---- */
typedef struct cur {
    const char *s;
    int ok;
} cur_t;

static void lit(cur_t *c, const char *l)
{
    size_t n = strlen(l);
    if (c->ok && strncmp(c->s, l, n) == 0)
        c->s += n;
    else
        c->ok = 0;
}

static unsigned long long num_u(cur_t *c)
{
    if (!c->ok || !isdigit((unsigned char)*c->s)) {
        c->ok = 0;
        return 0;
    }
    unsigned long long v = 0;
    while (isdigit((unsigned char)*c->s))
        v = v * 10 + (unsigned)(*c->s++ - '0');
    return v;
}

/* digits, optionally '.' digits */
static double num_f(cur_t *c)
{
    if (!c->ok || !isdigit((unsigned char)*c->s)) {
        c->ok = 0;
        return 0;
    }
    const char *start = c->s;
    while (isdigit((unsigned char)*c->s))
        c->s++;
    if (*c->s == '.') {
        c->s++;
        if (!isdigit((unsigned char)*c->s)) {
            c->ok = 0;
            return 0;
        }
        while (isdigit((unsigned char)*c->s))
            c->s++;
    }
    return strtod(start, NULL);
}

typedef struct trace_line {
    unsigned long long n, pct, h0, h1, h2, goal, stacks, globals, procs;
    double t, clock[3], cpu[5];
    int forced;
} trace_line_t;

static int parse_line(const char *line, trace_line_t *L)
{
    cur_t c = {line, 1};
    memset(L, 0, sizeof *L);
    lit(&c, "gc ");
    L->n = num_u(&c);
    lit(&c, " @");
    L->t = num_f(&c);
    lit(&c, "s ");
    L->pct = num_u(&c);
    lit(&c, "%: ");
    L->clock[0] = num_f(&c);
    lit(&c, "+");
    L->clock[1] = num_f(&c);
    lit(&c, "+");
    L->clock[2] = num_f(&c);
    lit(&c, " ms clock, ");
    L->cpu[0] = num_f(&c);
    lit(&c, "+");
    L->cpu[1] = num_f(&c);
    lit(&c, "/");
    L->cpu[2] = num_f(&c);
    lit(&c, "/");
    L->cpu[3] = num_f(&c);
    lit(&c, "+");
    L->cpu[4] = num_f(&c);
    lit(&c, " ms cpu, ");
    L->h0 = num_u(&c);
    lit(&c, "->");
    L->h1 = num_u(&c);
    lit(&c, "->");
    L->h2 = num_u(&c);
    lit(&c, " MB, ");
    L->goal = num_u(&c);
    lit(&c, " MB goal, ");
    L->stacks = num_u(&c);
    lit(&c, " MB stacks, ");
    L->globals = num_u(&c);
    if (c.ok && *c.s == ' ') /* Go's docs show "#MB globals", its output "# MB globals" */
        c.s++;
    lit(&c, "MB globals, ");
    L->procs = num_u(&c);
    lit(&c, " P");
    if (c.ok && strcmp(c.s, " (forced)") == 0) {
        L->forced = 1;
        c.s += strlen(" (forced)");
    }
    return c.ok && *c.s == 0;
}

static child_result_t cr;

/* Run a child with the given GODEBUG / GOMAXPROCS; check its trace. Returns the number of
 * trace lines. */
static unsigned check_trace(const char *godebug, const char *maxprocs, int expect_trace)
{
    char e1[128], e2[64];
    const char *env[4] = {"GOGC", NULL, NULL, NULL};
    int k = 1;
    if (godebug) {
        snprintf(e1, sizeof e1, "GODEBUG=%s", godebug);
        env[k++] = e1;
    } else {
        env[k++] = "GODEBUG";
    }
    if (maxprocs) {
        snprintf(e2, sizeof e2, "GOMAXPROCS=%s", maxprocs);
        env[k++] = e2;
    }
    const char *args[] = {"child", NULL};
    int st = run_self(&cr, args, env);
    CHECK(st == 0, "child (GODEBUG=%s) exited %d%s; stderr:\n%s", godebug ? godebug : "", st,
          st == 128 + SIGALRM ? " (hung, killed by the timeout)" : "", cr.err);
    unsigned num_gc = 0, forced = 0;
    CHECK(sscanf(cr.out, "num_gc=%u forced=%u", &num_gc, &forced) == 2, "child said \"%s\"",
          cr.out);

    unsigned lines = 0, forced_lines = 0;
    int last_forced = 0, prev_forced = 0;
    double last_t = 0;
    char *save = NULL;
    char *buf = strdup(cr.err);
    CHECK(buf != NULL);
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "gc ", 3) != 0)
            continue;
        trace_line_t L;
        CHECK(parse_line(line, &L), "gctrace line does not match Go's format:\n  %s", line);
        lines++;
        CHECK(L.n == lines, "cycle number %llu, want %u:\n  %s", L.n, lines, line);
        CHECK(L.t >= last_t, "time went back:\n  %s", line);
        last_t = L.t;
        CHECK(L.pct <= 100, "%s", line);
        CHECK(L.h0 < 4096 && L.h1 < 4096 && L.h2 < 4096 && L.goal < 4096,
              "implausible heap sizes:\n  %s", line);
        CHECK(L.h2 <= L.h1 + 1, "marked more than the heap at mark termination:\n  %s", line);
        if (maxprocs)
            CHECK(L.procs == strtoull(maxprocs, NULL, 10), "GOMAXPROCS=%s but:\n  %s", maxprocs,
                  line);
        else
            CHECK(L.procs >= 1, "%s", line);
        for (int i = 0; i < 3; i++)
            CHECK(L.clock[i] < 60000, "%s", line);
        prev_forced = last_forced;
        last_forced = L.forced;
        forced_lines += (unsigned)L.forced;
    }
    free(buf);
    if (!expect_trace) {
        CHECK(lines == 0, "GODEBUG=%s printed %u trace lines", godebug ? godebug : "(unset)",
              lines);
        return 0;
    }
    CHECK(lines == num_gc, "GODEBUG=%s: %u trace lines for %u cycles; stderr:\n%s", godebug,
          lines, num_gc, cr.err);
    CHECK(num_gc >= 4, "only %u cycles: the churn should have triggered some", num_gc);
    CHECK(forced_lines == forced, "%u lines say (forced), num_forced_gc = %u", forced_lines,
          forced);
    CHECK(forced >= 2 && last_forced && prev_forced, "the last two cycles were gc_collect's");
    return lines;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "child") == 0)
        return child();

    /* The matcher itself, on Go's documented example. */
    trace_line_t L;
    CHECK(parse_line("gc 7 @1.234s 3%: 0.041+1.8+0.035 ms clock, 0.32+0.45/3.2/5.1+0.28 ms cpu, "
                     "12->13->6 MB, 13 MB goal, 0 MB stacks, 0 MB globals, 8 P",
                     &L));
    CHECK(L.n == 7 && L.h1 == 13 && L.procs == 8 && !L.forced);
    CHECK(parse_line("gc 1 @0.001s 0%: 0+0+0 ms clock, 0+0/0/0+0 ms cpu, 4->4->0 MB, 4 MB goal, "
                     "0 MB stacks, 0 MB globals, 2 P (forced)",
                     &L) &&
          L.forced);
    CHECK(!parse_line("gc 1 @0.001s 0%: 0+0+0 ms clock, 4->4->0 MB, 4 MB goal, 2 P", &L));

    unsigned a = check_trace("gctrace=1", "2", 1);
    unsigned b = check_trace("gctrace=1", "1", 1);
    unsigned c = check_trace("madvdontneed=1,gctrace=1,foo=bar", NULL, 1);
    check_trace(NULL, NULL, 0);
    check_trace("gctrace=0", NULL, 0);
    printf("t_gctrace: %u, %u and %u trace lines OK\n", a, b, c);
    return 0;
}
