/*
 * test/memprofile.h: a reader of gzipped profile.proto files (github.com/google/pprof's
 * profile.proto), written independently of runtime/pprof.c, for the heap-profile tests.
 *
 *   prof_t *p = prof_read(path);         decode (aborts the test on malformed input)
 *   prof_site(p, "fn", idx)              scaled value idx (0 alloc_objects .. 3 inuse_space)
 *                                        of the samples whose first named frame is fn
 *   prof_write(path)                     gc_write_heap_profile into a new file
 */
#ifndef GCRT_TEST_MEMPROFILE_H
#define GCRT_TEST_MEMPROFILE_H

#include "check.h"

#include <stdbool.h>
#include <zlib.h>

typedef struct { int64_t type, unit; } prof_vt;
typedef struct { uint64_t *locs; size_t nlocs; int64_t *vals; size_t nvals; int64_t label_key, label_num; } prof_sample;
typedef struct { uint64_t func, line; } prof_line;
typedef struct { uint64_t id, mapping, address; prof_line *lines; size_t nlines; } prof_loc;
typedef struct { uint64_t id; int64_t name, system_name, filename; } prof_func;
typedef struct { uint64_t id, start, limit, offset; int64_t filename, build_id; bool has_functions; } prof_map;
typedef struct {
    prof_vt st[8];
    size_t nst;
    prof_sample *samples;
    size_t nsamples;
    prof_loc *locs;
    size_t nlocs;
    prof_func *funcs;
    size_t nfuncs;
    prof_map *maps;
    size_t nmaps;
    char **strs;
    size_t nstrs;
    prof_vt period_type;
    int64_t period, time_nanos;
} prof_t;

typedef struct { const uint8_t *p, *end; } pb_in;

static TEST_UNUSED uint64_t pbr_varint(pb_in *in) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        CHECK(in->p < in->end, " truncated varint");
        uint8_t b = *in->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    CHECK(0, " varint longer than 10 bytes");
    return 0;
}

/* Next field: its number, wire type, and for wire type 2 the sub-range. */
static TEST_UNUSED bool pbr_field(pb_in *in, unsigned *field, unsigned *wt, uint64_t *val, pb_in *sub) {
    if (in->p >= in->end) return false;
    uint64_t key = pbr_varint(in);
    *field = (unsigned)(key >> 3);
    *wt = (unsigned)(key & 7);
    CHECK(*field > 0, " field number 0");
    if (*wt == 0) *val = pbr_varint(in);
    else if (*wt == 2) {
        uint64_t n = pbr_varint(in);
        CHECK(n <= (uint64_t)(in->end - in->p), " length %" PRIu64 " past the end", n);
        sub->p = in->p;
        sub->end = in->p + n;
        in->p += n;
    } else CHECK(0, " unexpected wire type %u (field %u)", *wt, *field);
    return true;
}

/* A repeated integer field: packed (wire type 2) or one value (wire type 0). */
static TEST_UNUSED void pbr_push(uint64_t **arr, size_t *n, unsigned wt, uint64_t val, pb_in *sub) {
    if (wt == 0) {
        *arr = realloc(*arr, (*n + 1) * sizeof **arr);
        (*arr)[(*n)++] = val;
        return;
    }
    while (sub->p < sub->end) {
        uint64_t v = pbr_varint(sub);
        *arr = realloc(*arr, (*n + 1) * sizeof **arr);
        (*arr)[(*n)++] = v;
    }
}

#define PB_GROW(arr, n) ((arr) = realloc((arr), ((n) + 1) * sizeof *(arr)), memset(&(arr)[(n)], 0, sizeof *(arr)), &(arr)[(n)++])

static TEST_UNUSED prof_vt pbr_vt(pb_in m) {
    prof_vt v = {0, 0};
    unsigned f, wt;
    uint64_t x;
    pb_in s;
    while (pbr_field(&m, &f, &wt, &x, &s)) {
        if (f == 1) v.type = (int64_t)x;
        if (f == 2) v.unit = (int64_t)x;
    }
    return v;
}

static TEST_UNUSED prof_t *prof_decode(const uint8_t *buf, size_t len) {
    prof_t *p = calloc(1, sizeof *p);
    pb_in in = {buf, buf + len}, m, s;
    unsigned f, wt, f2, wt2;
    uint64_t x, y;
    while (pbr_field(&in, &f, &wt, &x, &m)) {
        switch (f) {
        case 1: CHECK(p->nst < 8, " too many sample types"); p->st[p->nst++] = pbr_vt(m); break;
        case 2: {
            prof_sample *sm = PB_GROW(p->samples, p->nsamples);
            while (pbr_field(&m, &f2, &wt2, &y, &s)) {
                if (f2 == 1) pbr_push(&sm->locs, &sm->nlocs, wt2, y, &s);
                else if (f2 == 2) pbr_push((uint64_t **)&sm->vals, &sm->nvals, wt2, y, &s);
                else if (f2 == 3) {
                    unsigned f3, wt3;
                    uint64_t z;
                    pb_in s3;
                    while (pbr_field(&s, &f3, &wt3, &z, &s3)) {
                        if (f3 == 1) sm->label_key = (int64_t)z;
                        if (f3 == 3) sm->label_num = (int64_t)z;
                    }
                }
            }
            break;
        }
        case 3: {
            prof_map *mp = PB_GROW(p->maps, p->nmaps);
            while (pbr_field(&m, &f2, &wt2, &y, &s)) {
                if (f2 == 1) mp->id = y;
                if (f2 == 2) mp->start = y;
                if (f2 == 3) mp->limit = y;
                if (f2 == 4) mp->offset = y;
                if (f2 == 5) mp->filename = (int64_t)y;
                if (f2 == 6) mp->build_id = (int64_t)y;
                if (f2 == 7) mp->has_functions = y != 0;
            }
            break;
        }
        case 4: {
            prof_loc *l = PB_GROW(p->locs, p->nlocs);
            while (pbr_field(&m, &f2, &wt2, &y, &s)) {
                if (f2 == 1) l->id = y;
                if (f2 == 2) l->mapping = y;
                if (f2 == 3) l->address = y;
                if (f2 == 4) {
                    prof_line *ln = PB_GROW(l->lines, l->nlines);
                    unsigned f3, wt3;
                    uint64_t z;
                    pb_in s3;
                    while (pbr_field(&s, &f3, &wt3, &z, &s3)) {
                        if (f3 == 1) ln->func = z;
                        if (f3 == 2) ln->line = z;
                    }
                }
            }
            break;
        }
        case 5: {
            prof_func *fn = PB_GROW(p->funcs, p->nfuncs);
            while (pbr_field(&m, &f2, &wt2, &y, &s)) {
                if (f2 == 1) fn->id = y;
                if (f2 == 2) fn->name = (int64_t)y;
                if (f2 == 3) fn->system_name = (int64_t)y;
                if (f2 == 4) fn->filename = (int64_t)y;
            }
            break;
        }
        case 6: {
            CHECK(wt == 2, " string_table entry not length-delimited");
            char **sp = PB_GROW(p->strs, p->nstrs);
            *sp = strndup((const char *)m.p, (size_t)(m.end - m.p));
            break;
        }
        case 9: p->time_nanos = (int64_t)x; break;
        case 11: p->period_type = pbr_vt(m); break;
        case 12: p->period = (int64_t)x; break;
        default: break;
        }
    }
    return p;
}

/* Everything prof_decode allocated (the ASan build's leak check runs on the tests too). */
static TEST_UNUSED void prof_free(prof_t *p) {
    for (size_t i = 0; i < p->nsamples; i++) {
        free(p->samples[i].locs);
        free(p->samples[i].vals);
    }
    for (size_t i = 0; i < p->nlocs; i++) free(p->locs[i].lines);
    for (size_t i = 0; i < p->nstrs; i++) free(p->strs[i]);
    free(p->samples);
    free(p->locs);
    free(p->funcs);
    free(p->maps);
    free(p->strs);
    free(p);
}

static TEST_UNUSED const char *prof_str(const prof_t *p, int64_t i) {
    CHECK(i >= 0 && (size_t)i < p->nstrs, " string index %" PRId64 " outside the table (%zu)", i, p->nstrs);
    return p->strs[i];
}

static TEST_UNUSED prof_t *prof_read(const char *path) {
    gzFile g = gzopen(path, "rb");
    CHECK(g, " cannot open %s", path);
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (int r; (r = gzread(g, buf + n, (unsigned)(cap - n))) > 0;) {
        n += (size_t)r;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    int err;
    gzerror(g, &err);
    CHECK(err == Z_OK || err == Z_STREAM_END, " %s: gzip error %d", path, err);
    gzclose(g);
    prof_t *p = prof_decode(buf, n);
    free(buf);
    return p;
}

static TEST_UNUSED const prof_loc *prof_loc_by_id(const prof_t *p, uint64_t id) {
    for (size_t i = 0; i < p->nlocs; i++)
        if (p->locs[i].id == id) return &p->locs[i];
    return NULL;
}

static TEST_UNUSED const prof_func *prof_func_by_id(const prof_t *p, uint64_t id) {
    for (size_t i = 0; i < p->nfuncs; i++)
        if (p->funcs[i].id == id) return &p->funcs[i];
    return NULL;
}

/* Whether a sample's stack has a frame in function fn (inlined frames too). */
static TEST_UNUSED bool prof_sample_in(const prof_t *p, const prof_sample *s, const char *fn) {
    for (size_t k = 0; k < s->nlocs; k++) {
        const prof_loc *l = prof_loc_by_id(p, s->locs[k]);
        for (size_t j = 0; l && j < l->nlines; j++) {
            const prof_func *f = prof_func_by_id(p, l->lines[j].func);
            if (f && !strcmp(prof_str(p, f->name), fn)) return true;
        }
    }
    return false;
}

/* Sum of value idx over the samples passing through fn. */
static TEST_UNUSED int64_t prof_site(const prof_t *p, const char *fn, int idx) {
    int64_t sum = 0;
    for (size_t i = 0; i < p->nsamples; i++)
        if ((size_t)idx < p->samples[i].nvals && prof_sample_in(p, &p->samples[i], fn)) sum += p->samples[i].vals[idx];
    return sum;
}

static TEST_UNUSED void prof_write(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, " cannot create %s", path);
    int rc = gc_write_heap_profile(fd);
    CHECK(rc == 0, " gc_write_heap_profile: %d", rc);
    close(fd);
}

#endif
