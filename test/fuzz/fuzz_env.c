/*
 * fuzz_env: libFuzzer target for the environment parsers (runtime/init.c): GOGC
 * (gcrt_parse_gogc), GOMEMLIMIT (gcrt_parse_memlimit) and GODEBUG (gcrt_parse_godebug).
 *
 * The input is split at the first two NUL bytes into three strings, each given to one
 * parser. Beyond not crashing (ASan, UBSan), each parser is checked against the grammar:
 *  - GOGC: "off" or a decimal int; an accepted value is -1 or >= 0 and equals strtoll's
 *    reading of the string (negative means -1); a rejected one is not such an int;
 *  - GOMEMLIMIT: "off", or digits with "", B, KiB, MiB, GiB, TiB; an accepted value equals
 *    digits << shift computed here in 128 bits, and one that does not fit is -ERANGE;
 *  - GODEBUG: every known key given as key=<decimal int that fits> is set to it.
 * Built with -DFUZZ_REPLAY instead of -fsanitize=fuzzer it is a plain program that runs the
 * files named on its command line (the regression corpus in make test).
 */
#include "internal.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

static void bug(const char *what, const char *in)
{
    fprintf(stderr, "fuzz_env: %s: input \"%s\"\n", what, in);
    abort();
}

static void check_gogc(const char *s)
{
    int v = 12345;
    int r = gcrt_parse_gogc(s, &v);
    bool canonical = false;
    long long ref = 0;
    if (*s && !isspace((unsigned char)*s)) {
        char *end;
        errno = 0;
        ref = strtoll(s, &end, 10);
        canonical = !*end && !errno && ref >= INT_MIN && ref <= INT_MAX;
    }
    if (!strcmp(s, "off")) {
        if (r || v != -1) bug("GOGC=off not read as -1", s);
    } else if (canonical) {
        if (r) bug("GOGC rejected an int", s);
        if (v != (ref < 0 ? -1 : (int)ref)) bug("GOGC value differs from strtoll", s);
    } else if (!r) {
        bug("GOGC accepted a non-int", s);
    }
}

static void check_memlimit(const char *s)
{
    int64_t v = 777;
    int r = gcrt_parse_memlimit(s, &v);
    if (!strcmp(s, "off")) {
        if (r || v != INT64_MAX) bug("GOMEMLIMIT=off", s);
        return;
    }
    const char *p = s;
    unsigned __int128 n = 0;
    bool big = false;
    for (; isdigit((unsigned char)*p); p++) {
        n = n * 10 + (unsigned)(*p - '0');
        if (n > ((unsigned __int128)1 << 100)) big = true, n = (unsigned __int128)1 << 100;
    }
    static const struct { const char *suf; unsigned shift; } sufs[] = {
        {"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
    int shift = -1;
    for (size_t i = 0; i < sizeof sufs / sizeof sufs[0]; i++)
        if (!strcmp(p, sufs[i].suf)) shift = (int)sufs[i].shift;
    if (p == s || shift < 0) {   /* digits too many for 64 bits may be reported first */
        if (r != -EINVAL && !(r == -ERANGE && (big || n > UINT64_MAX / 10))) bug("GOMEMLIMIT: malformed value not -EINVAL", s);
        return;
    }
    unsigned __int128 want = n << shift;
    if (big || want > INT64_MAX) {
        if (r != -ERANGE) bug("GOMEMLIMIT: too large a value not -ERANGE", s);
    } else if (r || (unsigned __int128)v != want) {
        bug("GOMEMLIMIT: wrong value", s);
    }
}

static void check_godebug(const char *s)
{
    static const struct { const char *key; int *field; } keys[] = {
        {"gctrace", &gcrt_gc.gctrace},   {"gcstoptheworld", &gcrt_gc.gcstoptheworld},
        {"gccheckmark", &gcrt_gc.gccheckmark}, {"gcverify", &gcrt_gc.gcverify},
        {"gcpoison", &gcrt_gc.gcpoison}, {"gcstress", &gcrt_gc.gcstress},
        {"gcstorecheck", &gcrt_gc.gcstorecheck}, {"tinyalloc", &gcrt_gc.tinyalloc},
    };
    size_t nk = sizeof keys / sizeof keys[0];
    for (size_t i = 0; i < nk; i++) *keys[i].field = -7;
    gcrt_parse_godebug(s);
    if (strlen(s) >= 1000) return;   /* the parser reads a bounded copy */
    /* The last well-formed entry of each key wins. */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    int want[16];
    for (size_t i = 0; i < nk; i++) want[i] = -7;
    for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) continue;
        *eq = 0;
        for (size_t i = 0; i < nk; i++) {
            if (strcmp(tok, keys[i].key)) continue;
            char *end;
            errno = 0;
            long v = strtol(eq + 1, &end, 10);
            if (eq[1] && !*end && !errno && v >= 0 && v <= INT_MAX) want[i] = (int)v;
        }
    }
    for (size_t i = 0; i < nk; i++)
        if (*keys[i].field != want[i]) bug("GODEBUG: a key's value differs from the grammar", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 3);
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = buf[size + 2] = 0;
    const char *a = buf;
    const char *b = a + strlen(a) + (strlen(a) < size ? 1 : 0);
    const char *c = b + strlen(b) + (b + strlen(b) < buf + size ? 1 : 0);
    check_gogc(a);
    check_memlimit(b);
    check_godebug(c);
    free(buf);
    return 0;
}

#ifdef FUZZ_REPLAY
#include "replay.h"
#endif
