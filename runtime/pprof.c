/*
 * pprof.c: gc_write_heap_profile, the heap profile as a gzipped profile.proto (the format
 * of github.com/google/pprof, what Go's pprof.WriteHeapProfile writes), read by
 * `go tool pprof`.
 *
 * Content, as Go's writeHeapProto: period_type space/bytes, period = the sampling rate,
 * sample types alloc_objects/count, alloc_space/bytes, inuse_objects/count,
 * inuse_space/bytes, each record's counts scaled by 1/(1 - exp(-avgsize/rate)) (Go's
 * scaleHeapSample: the inverse of the chance an object of that size was sampled) and a
 * "bytes" label with the object size. Go scales by the rate when the profile is written;
 * here each record keeps the rate its samples were taken at (buckets are per rate), so
 * changing the rate does not rescale what was sampled before. Locations are return addresses less one (the call
 * instruction, so lines are the call's); the mapping table is the process's executable
 * mappings from /proc/self/maps with their files, offsets and build ids, so that pprof
 * can symbolize a profile itself. Function names and file:line (inlined frames included)
 * are resolved here with libdw (elfutils), loaded with dlopen when a profile is written:
 * programs linking gcrt need neither libdw nor its dependencies, and without it the
 * profile carries addresses and mappings only (docs/profiling.md). The protobuf encoding
 * is written by hand: varints and length-delimited fields are all it needs.
 *
 * Everything here runs outside critical sections and uses malloc freely: the records are
 * a copy taken under mprof.c's lock.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <dwarf.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---- protobuf ---- */

typedef struct pbuf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} pbuf;

static void pb_bytes(pbuf *b, const void *s, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + n) cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void pb_varint(pbuf *b, uint64_t v) {
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) t[n] |= 0x80;
        n++;
    } while (v);
    pb_bytes(b, t, n);
}

static void pb_uint(pbuf *b, unsigned field, uint64_t v) {   /* wire type 0; zero is the default */
    if (!v) return;
    pb_varint(b, (uint64_t)field << 3);
    pb_varint(b, v);
}

static void pb_len(pbuf *b, unsigned field, const void *s, size_t n) {   /* wire type 2 */
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    pb_bytes(b, s, n);
}

static void pb_msg(pbuf *b, unsigned field, pbuf *m) {   /* a finished sub-message, reset */
    if (m->oom) b->oom = true;
    pb_len(b, field, m->p, m->n);
    m->n = 0;
}

/* ---- the string table ---- */

typedef struct strtab {
    char **s;
    size_t n, cap;
    size_t *slot;   /* open addressing: index + 1 */
    size_t nslot;
    bool oom;
} strtab;

static uint64_t str_hash(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

static int64_t str_index(strtab *t, const char *s) {
    if (!s) s = "";
    if (t->n * 2 >= t->nslot) {
        size_t ns = t->nslot ? t->nslot * 2 : 1024;
        size_t *slot = calloc(ns, sizeof *slot);
        if (!slot) {
            t->oom = true;
            return 0;
        }
        for (size_t i = 0; i < t->n; i++) {
            size_t h = str_hash(t->s[i]) & (ns - 1);
            while (slot[h]) h = (h + 1) & (ns - 1);
            slot[h] = i + 1;
        }
        free(t->slot);
        t->slot = slot;
        t->nslot = ns;
    }
    size_t h = str_hash(s) & (t->nslot - 1);
    for (; t->slot[h]; h = (h + 1) & (t->nslot - 1))
        if (!strcmp(t->s[t->slot[h] - 1], s)) return (int64_t)(t->slot[h] - 1);
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        char **q = realloc(t->s, cap * sizeof *q);
        if (!q) {
            t->oom = true;
            return 0;
        }
        t->s = q;
        t->cap = cap;
    }
    char *d = strdup(s);
    if (!d) {
        t->oom = true;
        return 0;
    }
    t->s[t->n] = d;
    t->slot[h] = ++t->n;
    return (int64_t)(t->n - 1);
}

/* ---- mappings (/proc/self/maps) ---- */

typedef struct mapping {
    uintptr_t lo, hi, off;
    char *file;
    char buildid[65];
} mapping;

static mapping *read_maps(size_t *np) {
    *np = 0;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f) return NULL;
    mapping *m = NULL;
    size_t n = 0, cap = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi, off;
        char perm[8];
        int pos = 0;
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %n", &lo, &hi, perm, &off, &pos) < 4 || !strchr(perm, 'x'))
            continue;
        char *path = line + pos;
        path[strcspn(path, "\n")] = 0;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            mapping *q = realloc(m, nc * sizeof *q);
            if (!q) break;
            m = q;
            cap = nc;
        }
        m[n] = (mapping){.lo = lo, .hi = hi, .off = off, .file = strdup(path)};
        n++;
    }
    fclose(f);
    *np = n;
    return m;
}

static size_t mapping_of(const mapping *m, size_t n, uintptr_t pc) {   /* id, 0 if none */
    for (size_t i = 0; i < n; i++)
        if (pc >= m[i].lo && pc < m[i].hi) return i + 1;
    return 0;
}

/* ---- symbols (libdw, by dlopen) ---- */

static struct dw {
    int state;   /* 0 not tried, 1 loaded, -1 unavailable */
    Dwfl *(*begin)(const Dwfl_Callbacks *);
    void (*end)(Dwfl *);
    int (*proc_report)(Dwfl *, pid_t);
    int (*report_end)(Dwfl *, int (*)(Dwfl_Module *, void *, const char *, Dwarf_Addr, void *), void *);
    int (*find_elf)(Dwfl_Module *, void **, const char *, Dwarf_Addr, char **, Elf **);
    int (*find_debuginfo)(Dwfl_Module *, void **, const char *, Dwarf_Addr, const char *, const char *,
                          GElf_Word, char **);
    Dwfl_Module *(*addrmodule)(Dwfl *, Dwarf_Addr);
    const char *(*addrname)(Dwfl_Module *, GElf_Addr);
    Dwfl_Line *(*getsrc)(Dwfl_Module *, Dwarf_Addr);
    const char *(*lineinfo)(Dwfl_Line *, Dwarf_Addr *, int *, int *, Dwarf_Word *, Dwarf_Word *);
    int (*build_id)(Dwfl_Module *, const unsigned char **, GElf_Addr *);
    Dwarf_Die *(*addrdie)(Dwfl_Module *, Dwarf_Addr, Dwarf_Addr *);
    int (*getscopes)(Dwarf_Die *, Dwarf_Addr, Dwarf_Die **);
    int (*getscopes_die)(Dwarf_Die *, Dwarf_Die **);
    int (*tag)(Dwarf_Die *);
    const char *(*diename)(Dwarf_Die *);
    Dwarf_Attribute *(*attr)(Dwarf_Die *, unsigned int, Dwarf_Attribute *);
    Dwarf_Attribute *(*attr_integrate)(Dwarf_Die *, unsigned int, Dwarf_Attribute *);
    int (*formudata)(Dwarf_Attribute *, Dwarf_Word *);
    const char *(*formstring)(Dwarf_Attribute *);
    int (*getsrcfiles)(Dwarf_Die *, Dwarf_Files **, size_t *);
    const char *(*filesrc)(Dwarf_Files *, size_t, Dwarf_Word *, Dwarf_Word *);
} dw;
static pthread_mutex_t dw_lock = PTHREAD_MUTEX_INITIALIZER;

static bool dw_load(void) {
    if (getenv("GCRT_PPROF_NOLIBDW")) return false;   /* tests: the addresses-only profile */
    if (dw.state) return dw.state > 0;
    dw.state = -1;
    void *h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) return false;
    struct { void **fn; const char *name; } syms[] = {
        {(void **)&dw.begin, "dwfl_begin"}, {(void **)&dw.end, "dwfl_end"},
        {(void **)&dw.proc_report, "dwfl_linux_proc_report"}, {(void **)&dw.report_end, "dwfl_report_end"},
        {(void **)&dw.find_elf, "dwfl_linux_proc_find_elf"},
        {(void **)&dw.find_debuginfo, "dwfl_standard_find_debuginfo"},
        {(void **)&dw.addrmodule, "dwfl_addrmodule"}, {(void **)&dw.addrname, "dwfl_module_addrname"},
        {(void **)&dw.getsrc, "dwfl_module_getsrc"}, {(void **)&dw.lineinfo, "dwfl_lineinfo"},
        {(void **)&dw.build_id, "dwfl_module_build_id"}, {(void **)&dw.addrdie, "dwfl_module_addrdie"},
        {(void **)&dw.getscopes, "dwarf_getscopes"}, {(void **)&dw.getscopes_die, "dwarf_getscopes_die"},
        {(void **)&dw.tag, "dwarf_tag"},
        {(void **)&dw.diename, "dwarf_diename"}, {(void **)&dw.attr, "dwarf_attr"},
        {(void **)&dw.attr_integrate, "dwarf_attr_integrate"}, {(void **)&dw.formudata, "dwarf_formudata"},
        {(void **)&dw.formstring, "dwarf_formstring"}, {(void **)&dw.getsrcfiles, "dwarf_getsrcfiles"},
        {(void **)&dw.filesrc, "dwarf_filesrc"},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
        if (!(*syms[i].fn = dlsym(h, syms[i].name))) return false;
    dw.state = 1;
    return true;
}

static Dwfl *dw_open(void) {
    static char *debuginfo_path;
    static Dwfl_Callbacks cb;
    cb.find_elf = dw.find_elf;
    cb.find_debuginfo = dw.find_debuginfo;
    cb.debuginfo_path = &debuginfo_path;
    Dwfl *d = dw.begin(&cb);
    if (!d) return NULL;
    if (dw.proc_report(d, getpid()) != 0 || dw.report_end(d, NULL, NULL) != 0) {
        dw.end(d);
        return NULL;
    }
    return d;
}

/* ---- the profile ---- */

typedef struct frame {   /* one line of a location: function (name, file) and line */
    int64_t name, file, line;
} frame;

typedef struct loc {
    uintptr_t pc;
    uint64_t id, mapping;
    frame *fr;
    unsigned nfr;
} loc;

typedef struct builder {
    strtab st;
    loc *locs;          /* open addressing by pc */
    size_t nloc, loccap;
    frame *funcs;       /* distinct (name, file): function ids are index + 1 */
    size_t nfunc, funccap;
    mapping *maps;
    size_t nmaps;
    Dwfl *dwfl;
    bool oom;
} builder;

static uint64_t func_id(builder *b, int64_t name, int64_t file) {
    for (size_t i = b->nfunc; i-- > 0;)   /* few thousand at most; newest first hits often */
        if (b->funcs[i].name == name && b->funcs[i].file == file) return i + 1;
    if (b->nfunc == b->funccap) {
        size_t cap = b->funccap ? b->funccap * 2 : 256;
        frame *q = realloc(b->funcs, cap * sizeof *q);
        if (!q) {
            b->oom = true;
            return 0;
        }
        b->funcs = q;
        b->funccap = cap;
    }
    b->funcs[b->nfunc] = (frame){name, file, 0};
    return ++b->nfunc;
}

static void add_frame(builder *b, loc *l, const char *name, const char *file, int line) {
    frame *q = realloc(l->fr, (l->nfr + 1) * sizeof *q);
    if (!q) {
        b->oom = true;
        return;
    }
    l->fr = q;
    l->fr[l->nfr++] = (frame){str_index(&b->st, name), str_index(&b->st, file), line};
}

/* The lines of the code at pc, innermost inlined function first, the function the
 * inlining happened in last (pprof's order). */
static void symbolize(builder *b, loc *l) {
    if (!b->dwfl) return;
    Dwarf_Addr a = l->pc;
    Dwfl_Module *m = dw.addrmodule(b->dwfl, a);
    if (!m) return;
    const char *sym = dw.addrname(m, a);
    const char *file = NULL;
    int line = 0;
    Dwfl_Line *dl = dw.getsrc(m, a);
    if (dl) file = dw.lineinfo(dl, NULL, &line, NULL, NULL, NULL);
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = dw.addrdie(m, a, &bias);
    Dwarf_Die *scopes = NULL;
    int ns = cu ? dw.getscopes(cu, a - bias, &scopes) : 0;
    /* Past an inlined subroutine, dwarf_getscopes goes on with its abstract definition's
     * scopes; the functions it was inlined into are the DIE's own parents. */
    for (int i = 0; i < ns; i++) {
        int tag = dw.tag(&scopes[i]);
        if (tag == DW_TAG_subprogram) break;
        if (tag != DW_TAG_inlined_subroutine) continue;
        Dwarf_Die *chain = NULL;
        int nc = dw.getscopes_die(&scopes[i], &chain);
        free(scopes);
        scopes = chain;
        ns = nc;
        break;
    }
    Dwarf_Files *files = NULL;
    size_t nfiles = 0;
    if (ns > 0 && dw.getsrcfiles(cu, &files, &nfiles) != 0) files = NULL;
    for (int i = 0; i < ns; i++) {
        int tag = dw.tag(&scopes[i]);
        if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
        Dwarf_Attribute at;
        const char *name = dw.diename(&scopes[i]);
        if (!name && dw.attr_integrate(&scopes[i], DW_AT_name, &at)) name = dw.formstring(&at);
        add_frame(b, l, name ? name : sym, file, line);
        if (tag == DW_TAG_subprogram) break;
        /* the caller's line is where this inlined call sits */
        Dwarf_Word w = 0;
        line = dw.attr(&scopes[i], DW_AT_call_line, &at) && dw.formudata(&at, &w) == 0 ? (int)w : 0;
        file = NULL;
        if (files && dw.attr(&scopes[i], DW_AT_call_file, &at) && dw.formudata(&at, &w) == 0 && w < nfiles)
            file = dw.filesrc(files, w, NULL, NULL);
    }
    free(scopes);
    if (!l->nfr && sym) add_frame(b, l, sym, file, line);
}

static loc *loc_get(builder *b, uintptr_t pc) {
    if (b->nloc * 2 >= b->loccap) {
        size_t cap = b->loccap ? b->loccap * 2 : 1024;
        loc *q = calloc(cap, sizeof *q);
        if (!q) {
            b->oom = true;
            return NULL;
        }
        for (size_t i = 0; i < b->loccap; i++) {
            if (!b->locs[i].id) continue;
            size_t h = (b->locs[i].pc * 0x9e3779b97f4a7c15ull >> 20) & (cap - 1);
            while (q[h].id) h = (h + 1) & (cap - 1);
            q[h] = b->locs[i];
        }
        free(b->locs);
        b->locs = q;
        b->loccap = cap;
    }
    size_t h = (pc * 0x9e3779b97f4a7c15ull >> 20) & (b->loccap - 1);
    for (; b->locs[h].id; h = (h + 1) & (b->loccap - 1))
        if (b->locs[h].pc == pc) return &b->locs[h];
    loc *l = &b->locs[h];
    *l = (loc){.pc = pc, .id = ++b->nloc, .mapping = mapping_of(b->maps, b->nmaps, pc)};
    symbolize(b, l);
    return l;
}

/* Go's scaleHeapSample. */
static void scale(uint64_t count, uint64_t size, int64_t rate, int64_t *oc, int64_t *os) {
    if (!count || !size) {
        *oc = *os = 0;
        return;
    }
    if (rate <= 1) {
        *oc = (int64_t)count;
        *os = (int64_t)size;
        return;
    }
    double avg = (double)size / (double)count, s = 1 / (1 - exp(-avg / (double)rate));
    *oc = (int64_t)((double)count * s);
    *os = (int64_t)((double)size * s);
}

static void value_type(pbuf *out, pbuf *m, strtab *st, unsigned field, const char *type, const char *unit) {
    pb_uint(m, 1, (uint64_t)str_index(st, type));
    pb_uint(m, 2, (uint64_t)str_index(st, unit));
    pb_msg(out, field, m);
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int gzip_write(int fd, const pbuf *b) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -ENOMEM;
    uint8_t out[65536];
    z.next_in = b->p;
    z.avail_in = (uInt)b->n;
    int rc = 0, zr;
    do {
        z.next_out = out;
        z.avail_out = sizeof out;
        zr = deflate(&z, Z_FINISH);
        if (zr == Z_STREAM_ERROR) {
            rc = -EIO;
            break;
        }
        rc = write_all(fd, out, sizeof out - z.avail_out);
    } while (!rc && zr != Z_STREAM_END);
    deflateEnd(&z);
    return rc;
}

static void builder_free(builder *b) {
    for (size_t i = 0; i < b->st.n; i++) free(b->st.s[i]);
    free(b->st.s);
    free(b->st.slot);
    for (size_t i = 0; i < b->loccap; i++) free(b->locs[i].fr);
    free(b->locs);
    free(b->funcs);
    for (size_t i = 0; i < b->nmaps; i++) free(b->maps[i].file);
    free(b->maps);
    if (b->dwfl) dw.end(b->dwfl);
}

GCRT_API int gc_write_heap_profile(int fd) {
    gcrt_ensure_init();
    if (fd < 0) return -EBADF;
    gcrt_thread *me = gcrt_self;
    if (me && me->in_gcrt) gcrt_fatal("gc_write_heap_profile: called inside a gcrt critical section");
    int64_t rate = atomic_load_relaxed(&gcrt_mprof_rate);
    size_t nrec;
    gcrt_mrecord *rec = gcrt_mprof_records(&nrec);
    builder b;
    memset(&b, 0, sizeof b);
    str_index(&b.st, "");   /* string 0 is "" */
    b.maps = read_maps(&b.nmaps);
    gcrt_lock(&dw_lock);   /* one libdw session at a time */
    if (dw_load()) b.dwfl = dw_open();
    pbuf out = {0}, m = {0}, v = {0};
    value_type(&out, &m, &b.st, 1, "alloc_objects", "count");
    value_type(&out, &m, &b.st, 1, "alloc_space", "bytes");
    value_type(&out, &m, &b.st, 1, "inuse_objects", "count");
    value_type(&out, &m, &b.st, 1, "inuse_space", "bytes");
    for (size_t i = 0; i < nrec; i++) {
        gcrt_mrecord *r = &rec[i];
        if (!r->allocs && !r->frees) continue;
        for (unsigned k = 0; k < r->nstk; k++) {   /* return addresses: the call is one before */
            loc *l = loc_get(&b, r->stk[k] - 1);
            if (l) pb_varint(&v, l->id);
        }
        pb_msg(&m, 1, &v);
        int64_t vals[4];
        scale(r->allocs, r->alloc_bytes, r->rate, &vals[0], &vals[1]);
        scale(r->allocs - r->frees, r->alloc_bytes - r->free_bytes, r->rate, &vals[2], &vals[3]);
        for (int k = 0; k < 4; k++) pb_varint(&v, (uint64_t)vals[k]);
        pb_msg(&m, 2, &v);
        pb_uint(&v, 1, (uint64_t)str_index(&b.st, "bytes"));
        pb_uint(&v, 3, r->size);
        pb_msg(&m, 3, &v);
        pb_msg(&out, 2, &m);
    }
    free(rec);
    bool symbols = b.dwfl != NULL;
    for (size_t i = 0; i < b.nmaps; i++) {
        mapping *mp = &b.maps[i];
        Dwfl_Module *mod = b.dwfl ? dw.addrmodule(b.dwfl, mp->lo) : NULL;
        const unsigned char *bits;
        GElf_Addr vaddr;
        int nb = mod ? dw.build_id(mod, &bits, &vaddr) : 0;
        for (int k = 0; k < nb && k < 32; k++) sprintf(mp->buildid + 2 * k, "%02x", bits[k]);
        pb_uint(&m, 1, i + 1);
        pb_uint(&m, 2, mp->lo);
        pb_uint(&m, 3, mp->hi);
        pb_uint(&m, 4, mp->off);
        pb_uint(&m, 5, (uint64_t)str_index(&b.st, mp->file));
        pb_uint(&m, 6, (uint64_t)str_index(&b.st, mp->buildid));
        pb_uint(&m, 7, symbols);
        pb_uint(&m, 8, symbols);
        pb_uint(&m, 9, symbols);
        pb_uint(&m, 10, symbols);
        pb_msg(&out, 3, &m);
    }
    for (size_t i = 0; i < b.loccap; i++) {
        loc *l = &b.locs[i];
        if (!l->id) continue;
        pb_uint(&m, 1, l->id);
        pb_uint(&m, 2, l->mapping);
        pb_uint(&m, 3, l->pc);
        for (unsigned k = 0; k < l->nfr; k++) {
            pb_uint(&v, 1, func_id(&b, l->fr[k].name, l->fr[k].file));
            pb_uint(&v, 2, (uint64_t)l->fr[k].line);
            pb_msg(&m, 4, &v);
        }
        pb_msg(&out, 4, &m);
    }
    for (size_t i = 0; i < b.nfunc; i++) {
        pb_uint(&m, 1, i + 1);
        pb_uint(&m, 2, (uint64_t)b.funcs[i].name);
        pb_uint(&m, 3, (uint64_t)b.funcs[i].name);
        pb_uint(&m, 4, (uint64_t)b.funcs[i].file);
        pb_msg(&out, 5, &m);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pb_uint(&out, 9, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    pb_uint(&m, 1, (uint64_t)str_index(&b.st, "space"));
    pb_uint(&m, 2, (uint64_t)str_index(&b.st, "bytes"));
    pb_msg(&out, 11, &m);
    pb_uint(&out, 12, (uint64_t)rate);
    for (size_t i = 0; i < b.st.n; i++) pb_len(&out, 6, b.st.s[i], strlen(b.st.s[i]));   /* last: every string is in */
    bool oom = out.oom || m.oom || v.oom || b.st.oom || b.oom;
    builder_free(&b);
    pthread_mutex_unlock(&dw_lock);
    int rc = oom ? -ENOMEM : gzip_write(fd, &out);
    free(out.p);
    free(m.p);
    free(v.p);
    return rc;
}

int gcrt_write_heap_profile_path(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    int rc = gc_write_heap_profile(fd);
    if (close(fd) < 0 && !rc) rc = -errno;
    return rc;
}
