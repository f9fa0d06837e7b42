/*
 * t_env_parse: every form of GOGC, GOMEMLIMIT and GODEBUG value, and the cgroup default.
 *  - gcrt_parse_gogc: "off", decimal integers with an optional sign (Go's strconv.Atoi),
 *    negatives mean off; rejects empty, spaces, fractions, hex, int overflow;
 *  - gcrt_parse_memlimit: Go's ^[0-9]+(([KMGT]i)?B)?$ plus "off": bare bytes, B, KiB, MiB,
 *    GiB, TiB; rejects KB/MB, lower case, fractions, signs, spaces, a unit alone, and
 *    anything past INT64_MAX (-ERANGE);
 *  - in a child process: GOMEMLIMIT=64MiB reads back through gc_set_memory_limit(-1);
 *    malformed GOMEMLIMIT and GODEBUG values print a message naming the variable and keep
 *    the default; GOMEMLIMIT=off is no limit;
 *  - gcrt_cgroup_memory_limit on synthetic /proc/self/cgroup files and cgroup trees:
 *    v2 memory.max ("max" = none, the smallest limit up the tree wins), v2 under
 *    root/unified, v1 memory.limit_in_bytes (2^63-ish = none), no memory controller.
 */
#include "check.h"
#include "internal.h"

#include <sys/stat.h>

static void gogc_ok(const char *s, int want) {
    int v = 12345;
    int r = gcrt_parse_gogc(s, &v);
    CHECK(r == 0 && v == want, "GOGC=\"%s\": r=%d v=%d, want %d", s, r, v, want);
}
static void gogc_bad(const char *s) {
    int v = 12345;
    CHECK(gcrt_parse_gogc(s, &v) < 0 && v == 12345, "GOGC=\"%s\" accepted", s);
}
static void ml_ok(const char *s, int64_t want) {
    int64_t v = 7;
    int r = gcrt_parse_memlimit(s, &v);
    CHECK(r == 0 && v == want, "GOMEMLIMIT=\"%s\": r=%d v=%lld, want %lld", s, r, (long long)v, (long long)want);
}
static void ml_bad(const char *s, int err) {
    int64_t v = 7;
    int r = gcrt_parse_memlimit(s, &v);
    CHECK(r == err && v == 7, "GOMEMLIMIT=\"%s\": r=%d v=%lld, want error %d", s, r, (long long)v, err);
}

static child_result_t cr;
static void env_case(const char *var, const char *val, int64_t want_limit, bool want_warn) {
    char e[128];
    snprintf(e, sizeof e, "%s=%s", var, val);
    const char *env[] = {e, strcmp(var, "GOMEMLIMIT") ? "GOMEMLIMIT" : NULL, NULL};
    const char *args[] = {"child", NULL};
    CHECK(run_self(&cr, args, env) == 0, "child %s exited %d: %s", e, cr.status, cr.err);
    long long lim = 0;
    CHECK(sscanf(cr.out, "limit=%lld", &lim) == 1, "child output \"%s\"", cr.out);
    if (want_limit >= 0)
        CHECK(lim == want_limit, "%s: limit %lld, want %lld", e, lim, (long long)want_limit);
    bool warned = strstr(cr.err, var) != NULL;
    CHECK(warned == want_warn, "%s: stderr \"%s\" (want %s message naming %s)", e, cr.err, want_warn ? "a" : "no", var);
}

static char dir[256];
static void put(const char *rel, const char *text) {
    char p[512], cmd[600];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", p);
    CHECK(system(cmd) == 0);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL, "cannot write %s", p);
    fputs(text, f);
    fclose(f);
}
static uint64_t cg(void) {
    char pc[512], root[512];
    snprintf(pc, sizeof pc, "%s/proc_cgroup", dir);
    snprintf(root, sizeof root, "%s/sys", dir);
    return gcrt_cgroup_memory_limit(pc, root);
}
static void reset(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'/sys '%s'/proc_cgroup", dir, dir);
    CHECK(system(cmd) == 0);
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "child")) {
        gc_init();
        printf("limit=%lld\n", (long long)gc_set_memory_limit(-1));
        return 0;
    }
    gogc_ok("100", 100);
    gogc_ok("0", 0);
    gogc_ok("+50", 50);
    gogc_ok("-1", -1);
    gogc_ok("-200", -1);
    gogc_ok("off", -1);
    gogc_ok("2147483647", 2147483647);
    gogc_bad("");
    gogc_bad(" 50");
    gogc_bad("50 ");
    gogc_bad("12.5");
    gogc_bad("0x10");
    gogc_bad("OFF");
    gogc_bad("2147483648");
    gogc_bad("abc");

    ml_ok("off", INT64_MAX);
    ml_ok("0", 0);
    ml_ok("1", 1);
    ml_ok("123B", 123);
    ml_ok("1KiB", 1024);
    ml_ok("5MiB", 5 << 20);
    ml_ok("2GiB", (int64_t)2 << 30);
    ml_ok("3TiB", (int64_t)3 << 40);
    ml_ok("9223372036854775807", INT64_MAX);
    ml_ok("9223372036854775807B", INT64_MAX);
    ml_ok("8388607TiB", (int64_t)8388607 << 40);
    ml_bad("", -EINVAL);
    ml_bad("1KB", -EINVAL);
    ml_bad("1MB", -EINVAL);
    ml_bad("1kib", -EINVAL);
    ml_bad("1Ki", -EINVAL);
    ml_bad("1.5GiB", -EINVAL);
    ml_bad("-1", -EINVAL);
    ml_bad("+1", -EINVAL);
    ml_bad(" 1MiB", -EINVAL);
    ml_bad("1 MiB", -EINVAL);
    ml_bad("1MiB ", -EINVAL);
    ml_bad("MiB", -EINVAL);
    ml_bad("Off", -EINVAL);
    ml_bad("9223372036854775808", -ERANGE);
    ml_bad("8388608TiB", -ERANGE);
    ml_bad("99999999999999999999999", -ERANGE);

    /* The environment, read by gc_init in a child. */
    env_case("GOMEMLIMIT", "64MiB", 64 << 20, false);
    env_case("GOMEMLIMIT", "off", INT64_MAX, false);
    env_case("GOMEMLIMIT", "64MB", INT64_MAX, true);
    env_case("GOMEMLIMIT", "1.5GiB", INT64_MAX, true);
    env_case("GOMEMLIMIT", "99999999999TiB", INT64_MAX, true);
    env_case("GODEBUG", "gctrace=x", -1, true);
    env_case("GODEBUG", "scavtrace", -1, true);
    env_case("GODEBUG", "scavtrace=0,gctrace=0", -1, false);

    /* The cgroup default. */
    snprintf(dir, sizeof dir, "/tmp/t_env_parse.%d", (int)getpid());
    reset();
    put("proc_cgroup", "0::/a/b\n");
    put("sys/a/b/memory.max", "max\n");
    put("sys/a/memory.max", "536870912\n");
    CHECK_EQ_U(cg(), 536870912);          /* an ancestor's limit applies */
    put("sys/a/b/memory.max", "268435456\n");
    CHECK_EQ_U(cg(), 268435456);          /* the smallest up the tree */
    put("sys/a/memory.max", "max\n");
    put("sys/a/b/memory.max", "max\n");
    CHECK_EQ_U(cg(), 0);                  /* "max" everywhere: none */
    reset();
    put("proc_cgroup", "0::/svc\n");
    put("sys/unified/svc/memory.max", "1073741824\n");
    CHECK_EQ_U(cg(), 1073741824);         /* hybrid layout */
    reset();
    put("proc_cgroup", "5:cpu,cpuacct:/x\n4:memory:/docker/abc\n0::/\n");
    put("sys/memory/docker/abc/memory.limit_in_bytes", "209715200\n");
    CHECK_EQ_U(cg(), 209715200);          /* v1 */
    put("sys/memory/docker/abc/memory.limit_in_bytes", "9223372036854771712\n");
    CHECK_EQ_U(cg(), 0);                  /* v1 unlimited */
    put("sys/memory/memory.limit_in_bytes", "104857600\n");
    CHECK_EQ_U(cg(), 104857600);          /* the mount's root (a namespaced container) */
    reset();
    put("proc_cgroup", "3:cpu:/x\n");
    CHECK_EQ_U(cg(), 0);                  /* no memory controller */
    put("proc_cgroup", "0::/q\n");
    put("sys/q/memory.max", "garbage\n");
    CHECK_EQ_U(cg(), 0);                  /* unreadable value: ignored */
    CHECK_EQ_U(gcrt_cgroup_memory_limit("/nonexistent/cgroup", "/nonexistent"), 0);
    reset();
    rmdir(dir);
    printf("t_env_parse: OK\n");
    return 0;
}
