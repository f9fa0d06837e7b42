/*
 * cgroup.c: the memory limit of the cgroup this process runs in, which becomes GOMEMLIMIT's
 * default (90% of it) when GOMEMLIMIT is unset.
 *
 * /proc/self/cgroup names the process's cgroup: "0::/path" for the unified (v2) hierarchy,
 * "N:ctrl,memory,...:/path" for the v1 memory controller. The limit in force is the smallest
 * one set on that cgroup or any ancestor (memory.max for v2, "max" meaning none;
 * memory.limit_in_bytes for v1, where values near 2^63 mean none). Ancestors are walked up to
 * the mount's root, which also covers a container whose cgroup namespace makes its own
 * cgroup the root. v2 is looked for at the root and at root/unified (hybrid layouts).
 * Both paths are parameters so that tests can point them at files they made.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

#define UNLIMITED_V1 ((uint64_t)1 << 62)

/* The value in file, or 0 if it is missing, "max" or unlimited. */
static uint64_t read_limit(const char *file) {
    FILE *f = fopen(file, "r");
    if (!f) return 0;
    char buf[64] = {0};
    bool ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    if (!ok) return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (end == buf || errno || (*end && *end != '\n') || v >= UNLIMITED_V1) return 0;
    return (uint64_t)v;
}

/* The smallest limit on dir/path or an ancestor of path; 0 if none. */
static uint64_t walk(const char *dir, const char *path, const char *file) {
    char p[1024];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p) return 0;
    uint64_t best = 0;
    for (;;) {
        size_t n = strlen(p);
        while (n > 0 && p[n - 1] == '/') p[--n] = 0;   /* "/" and "" are the root */
        char f[2048];
        snprintf(f, sizeof f, "%s%s/%s", dir, p, file);
        uint64_t v = read_limit(f);
        if (v && (!best || v < best)) best = v;
        if (!n) break;
        char *slash = strrchr(p, '/');
        if (!slash) break;
        *slash = 0;
    }
    return best;
}

uint64_t gcrt_cgroup_memory_limit(const char *proc_cgroup, const char *root) {
    FILE *f = fopen(proc_cgroup, "r");
    if (!f) return 0;
    char line[1024], dir[1024];
    uint64_t best = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c1 = *c2 = 0;
        const char *ctrls = c1 + 1, *path = c2 + 1;
        uint64_t v = 0;
        if (!strcmp(line, "0") && !*ctrls) {   /* v2 */
            snprintf(dir, sizeof dir, "%s", root);
            v = walk(dir, path, "memory.max");
            snprintf(dir, sizeof dir, "%s/unified", root);
            uint64_t u = walk(dir, path, "memory.max");
            if (u && (!v || u < v)) v = u;
        } else {   /* v1: is "memory" one of the controllers? */
            char cs[256];
            snprintf(cs, sizeof cs, "%s", ctrls);
            bool mem = false;
            for (char *save, *t = strtok_r(cs, ",", &save); t; t = strtok_r(NULL, ",", &save))
                if (!strcmp(t, "memory")) mem = true;
            if (!mem) continue;
            snprintf(dir, sizeof dir, "%s/memory", root);
            v = walk(dir, path, "memory.limit_in_bytes");
        }
        if (v && (!best || v < best)) best = v;
    }
    fclose(f);
    return best;
}
