/*
 * t_gogc_env: the GOGC environment variable, read by gc_init (each case is a child process
 * re-executing this binary).
 *  - malformed values (abc, -5x, 12.5, "50 ") print a message naming GOGC on stderr and
 *    leave the default 100;
 *  - unset: 100 and no message; empty: 100;
 *  - GOGC=50 / GOGC=200 / GOGC=0: that value, no message;
 *  - GOGC=off: the setting reads negative; 64 MiB of garbage causes no cycle (num_gc stays
 *    0) and the heap grows, while gc_collect still runs a cycle; the same churn with the
 *    default does run cycles and keeps the heap small;
 *  - in-process: gc_set_percent returns the previous value (negative values read back as
 *    negative), so it can be used to read the current setting.
 * The child prints "percent=P num_gc=N heap_alloc=A forced=F" on stdout.
 */
#include "check.h"

#define MiB ((uint64_t)1 << 20)

static TEST_NOINLINE void churn(size_t bytes)
{
    for (size_t done = 0; done < bytes; done += 1024) {
        char *p = gc_alloc_noscan(1024);
        if (!p) {
            fprintf(stderr, "allocation failed\n");
            exit(3);
        }
        p[0] = 1;
    }
}

/* Child: report the setting, optionally churn, then force a cycle. */
static int child(const char *mode)
{
    if (gc_init() != 0)
        return 2;
    int p = gc_set_percent(100);
    gc_set_percent(p); /* restore whatever it was */
    CHECK(gc_set_percent(p) == p, "gc_set_percent does not read back");
    gc_memstats_t ms;
    if (strcmp(mode, "churn") == 0) {
        churn(64 * MiB);
        read_ms(&ms);
        unsigned ngc = ms.num_gc;
        uint64_t ha = ms.heap_alloc;
        gc_collect();
        read_ms(&ms);
        printf("percent=%d num_gc=%u heap_alloc=%llu forced=%u after=%u\n", p, ngc,
               (unsigned long long)ha, ms.num_forced_gc, ms.num_gc);
    } else {
        read_ms(&ms);
        printf("percent=%d num_gc=%u heap_alloc=%llu forced=%u after=%u\n", p, ms.num_gc,
               (unsigned long long)ms.heap_alloc, ms.num_forced_gc, ms.num_gc);
    }
    fflush(stdout);
    return 0;
}

typedef struct outcome {
    int percent;
    unsigned num_gc, forced, after;
    unsigned long long heap_alloc;
    int warned; /* stderr mentions GOGC */
} outcome_t;

static child_result_t cr;

static outcome_t run(const char *gogc, const char *mode)
{
    char envbuf[128];
    const char *env[2] = {NULL, NULL};
    if (gogc) {
        snprintf(envbuf, sizeof envbuf, "GOGC=%s", gogc);
        env[0] = envbuf;
    } else {
        env[0] = "GOGC"; /* unset */
    }
    const char *args[] = {"child", mode, NULL};
    int st = run_self(&cr, args, env);
    CHECK(st == 0, "child with GOGC=%s (%s) exited %d%s; stderr:\n%s", gogc ? gogc : "(unset)",
          mode, st, st == 128 + SIGALRM ? " (hung, killed by the timeout)" : "", cr.err);
    outcome_t o;
    memset(&o, 0, sizeof o);
    int n = sscanf(cr.out, "percent=%d num_gc=%u heap_alloc=%llu forced=%u after=%u", &o.percent,
                   &o.num_gc, &o.heap_alloc, &o.forced, &o.after);
    CHECK(n == 5, "child output not understood: \"%s\"", cr.out);
    o.warned = strstr(cr.err, "GOGC") != NULL;
    return o;
}

static void expect_malformed(const char *v)
{
    outcome_t o = run(v, "plain");
    CHECK(o.warned, "GOGC=\"%s\" is malformed but nothing naming GOGC was printed (stderr: \"%s\")",
          v, cr.err);
    CHECK(o.percent == 100, "GOGC=\"%s\" is malformed: setting %d, want the default 100", v,
          o.percent);
}

static void expect_value(const char *v, int want)
{
    outcome_t o = run(v, "plain");
    CHECK(!o.warned, "GOGC=\"%s\" is valid but stderr says: \"%s\"", v ? v : "(unset)", cr.err);
    CHECK(o.percent == want, "GOGC=\"%s\": setting %d, want %d", v ? v : "(unset)", o.percent,
          want);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "child") == 0)
        return child(argv[2]);

    /* In-process: default and read-back via return values. */
    {
        const char *g = getenv("GOGC");
        if (g)
            unsetenv("GOGC");
        CHECK(gc_init() == 0);
        CHECK(gc_set_percent(200) == 100, "default setting is not 100");
        CHECK(gc_set_percent(-1) == 200);
        int r = gc_set_percent(-7);
        CHECK(r < 0, "off reads back as %d", r);
        r = gc_set_percent(0);
        CHECK(r < 0, "off reads back as %d", r);
        CHECK(gc_set_percent(100) == 0);
        CHECK(gc_set_percent(100) == 100);
    }

    expect_value(NULL, 100);
    {
        /* Empty: Go treats it like unset. Whether a note is printed is not checked. */
        outcome_t o = run("", "plain");
        CHECK(o.percent == 100, "GOGC=\"\": setting %d, want 100", o.percent);
    }
    expect_value("50", 50);
    expect_value("200", 200);
    expect_value("0", 0);
    expect_value("100", 100);
    expect_malformed("abc");
    expect_malformed("-5x");
    expect_malformed("12.5");
    expect_malformed("50 ");
    expect_malformed("0x10");
    expect_malformed("99999999999999999999");

    /* off: no automatic cycles, heap grows; gc_collect still works. */
    outcome_t off = run("off", "churn");
    CHECK(!off.warned, "GOGC=off is valid but stderr says: \"%s\"", cr.err);
    CHECK(off.percent < 0, "GOGC=off reads back as %d", off.percent);
    CHECK(off.num_gc == 0, "GOGC=off: %u automatic cycles during 64 MiB of garbage", off.num_gc);
    CHECK(off.heap_alloc >= 60 * MiB, "GOGC=off: heap_alloc only %llu after 64 MiB of garbage",
          off.heap_alloc);
    CHECK(off.after == 1 && off.forced == 1, "GOGC=off: gc_collect gave num_gc %u forced %u",
          off.after, off.forced);

    /* The default, for contrast: cycles run and the heap stays near the 4 MiB goal. */
    outcome_t def = run(NULL, "churn");
    CHECK(def.num_gc >= 3, "default GOGC: only %u cycles during 64 MiB of garbage", def.num_gc);
    CHECK(def.heap_alloc < 32 * MiB, "default GOGC: heap_alloc %llu after churn",
          def.heap_alloc);

    /* GOGC=50 collects more often than the default. */
    outcome_t fifty = run("50", "churn");
    CHECK(fifty.percent == 50);
    CHECK(fifty.num_gc > def.num_gc, "GOGC=50 ran %u cycles, default %u", fifty.num_gc,
          def.num_gc);

    printf("t_gogc_env: OK (off: 0 cycles, heap %llu MiB; default: %u cycles; 50: %u cycles)\n",
           off.heap_alloc / MiB, def.num_gc, fifty.num_gc);
    return 0;
}
