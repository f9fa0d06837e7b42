/* t_memprofile_pb: gc_write_heap_profile's output decoded here (test/memprofile.h, written
 * from profile.proto, not from pprof.c) and checked for structure: gzip, the four sample
 * types and the period, string 0 empty and every index in the table, samples with four
 * values (inuse <= alloc) and a "bytes" label, every location id and function id defined
 * once, each location inside its mapping, the executable's mapping with its file and
 * build id, the allocating call's file and line, an inlined call as two lines of one
 * location (callee first), and without libdw (GCRT_PPROF_NOLIBDW=1) addresses and mappings
 * only, marked as not symbolized. */
#include "memprofile.h"

static const char *path = "t_memprofile_pb.pb.gz";
static int line_site, line_inl;
static void *volatile sink;

TEST_NOINLINE static void site_direct(void) {
    line_site = __LINE__; for (int i = 0; i < 20000; i++) sink = gc_alloc(200);
}
static inline __attribute__((always_inline)) void inl_helper(void) {
    line_inl = __LINE__; for (int i = 0; i < 20000; i++) sink = gc_alloc(300);
}
TEST_NOINLINE static void site_inl(void) { inl_helper(); }

static const prof_loc *leaf_of(const prof_t *p, const char *fn) {   /* the allocating call's location */
    for (size_t i = 0; i < p->nsamples; i++)
        if (prof_sample_in(p, &p->samples[i], fn)) return prof_loc_by_id(p, p->samples[i].locs[0]);
    return NULL;
}

static void check_structure(const prof_t *p, bool symbols) {
    static const char *types[4][2] = {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                                      {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
    CHECK(p->nstrs > 0 && !strcmp(p->strs[0], ""), " string 0 must be empty");
    CHECK(p->nst == 4, " %zu sample types", p->nst);
    for (int i = 0; i < 4; i++)
        CHECK(!strcmp(prof_str(p, p->st[i].type), types[i][0]) && !strcmp(prof_str(p, p->st[i].unit), types[i][1]),
              " sample type %d is %s/%s", i, prof_str(p, p->st[i].type), prof_str(p, p->st[i].unit));
    CHECK(!strcmp(prof_str(p, p->period_type.type), "space") && !strcmp(prof_str(p, p->period_type.unit), "bytes"),
          " period type");
    CHECK(p->period == 4096, " period %" PRId64, p->period);
    CHECK(p->time_nanos > 0, " no time");
    CHECK(p->nsamples > 0 && p->nlocs > 0 && p->nmaps > 0, " %zu samples %zu locations %zu mappings", p->nsamples,
          p->nlocs, p->nmaps);
    for (size_t i = 0; i < p->nsamples; i++) {
        const prof_sample *s = &p->samples[i];
        CHECK(s->nvals == 4 && s->nlocs > 0, " sample %zu: %zu values, %zu locations", i, s->nvals, s->nlocs);
        CHECK(s->vals[0] > 0 && s->vals[1] > 0 && s->vals[2] <= s->vals[0] && s->vals[3] <= s->vals[1] && s->vals[2] >= 0,
              " sample %zu values %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64, i, s->vals[0], s->vals[1], s->vals[2],
              s->vals[3]);
        CHECK(!strcmp(prof_str(p, s->label_key), "bytes") && s->label_num > 0, " sample %zu: no bytes label", i);
        for (size_t k = 0; k < s->nlocs; k++) CHECK(prof_loc_by_id(p, s->locs[k]), " undefined location %" PRIu64, s->locs[k]);
    }
    for (size_t i = 0; i < p->nmaps; i++) {
        const prof_map *m = &p->maps[i];
        CHECK(m->id == i + 1 && m->start < m->limit, " mapping %zu: id %" PRIu64 " [%" PRIx64 ", %" PRIx64 ")", i, m->id,
              m->start, m->limit);
        CHECK(m->has_functions == symbols, " mapping %zu has_functions %d", i, m->has_functions);
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0, " readlink");
    exe[n] = 0;
    bool found_exe = false;
    for (size_t i = 0; i < p->nmaps; i++)
        if (!strcmp(prof_str(p, p->maps[i].filename), exe)) {
            found_exe = true;
            if (symbols) CHECK(strlen(prof_str(p, p->maps[i].build_id)) == 40, " build id \"%s\"", prof_str(p, p->maps[i].build_id));
        }
    CHECK(found_exe, " no mapping names %s", exe);
    for (size_t i = 0; i < p->nlocs; i++) {
        const prof_loc *l = &p->locs[i];
        CHECK(l->id, " location without id");
        for (size_t j = i + 1; j < p->nlocs; j++) CHECK(p->locs[j].id != l->id, " location id %" PRIu64 " twice", l->id);
        CHECK(l->mapping >= 1 && l->mapping <= p->nmaps, " location %" PRIu64 ": mapping %" PRIu64, l->id, l->mapping);
        const prof_map *m = &p->maps[l->mapping - 1];
        CHECK(l->address >= m->start && l->address < m->limit, " location %" PRIu64 " outside its mapping", l->id);
        CHECK(symbols ? l->nlines > 0 || m->filename == 0 : l->nlines == 0, " location %" PRIu64 ": %zu lines", l->id,
              l->nlines);
        for (size_t k = 0; k < l->nlines; k++) CHECK(prof_func_by_id(p, l->lines[k].func), " undefined function");
    }
    for (size_t i = 0; i < p->nfuncs; i++) {
        CHECK(p->funcs[i].id == i + 1 && *prof_str(p, p->funcs[i].name), " function %zu", i);
        prof_str(p, p->funcs[i].filename);
    }
}

int main(void) {
    gc_init();
    gc_set_mem_profile_rate(4096);
    site_direct();
    site_inl();
    gc_collect();

    prof_write(path);
    prof_t *p = prof_read(path);
    check_structure(p, true);
    const prof_loc *l = leaf_of(p, "site_direct");
    CHECK(l && l->nlines == 1, " site_direct: %zu lines", l ? l->nlines : 0);
    const prof_func *f = prof_func_by_id(p, l->lines[0].func);
    const char *file = prof_str(p, f->filename);
    CHECK(!strcmp(prof_str(p, f->name), "site_direct") && strstr(file, "t_memprofile_pb.c") &&
              l->lines[0].line == (uint64_t)line_site,
          " site_direct at %s %s:%" PRIu64 ", want line %d", prof_str(p, f->name), file, l->lines[0].line, line_site);
    l = leaf_of(p, "inl_helper");
    CHECK(l && l->nlines == 2, " the inlined call: %zu lines", l ? l->nlines : 0);
    const prof_func *in = prof_func_by_id(p, l->lines[0].func), *out = prof_func_by_id(p, l->lines[1].func);
    CHECK(!strcmp(prof_str(p, in->name), "inl_helper") && !strcmp(prof_str(p, out->name), "site_inl") &&
              l->lines[0].line == (uint64_t)line_inl,
          " inlined lines: %s:%" PRIu64 " in %s:%" PRIu64, prof_str(p, in->name), l->lines[0].line, prof_str(p, out->name),
          l->lines[1].line);
    printf("symbolized: %zu samples, %zu locations, %zu functions, %zu mappings\n", p->nsamples, p->nlocs, p->nfuncs,
           p->nmaps);

    setenv("GCRT_PPROF_NOLIBDW", "1", 1);
    prof_write(path);
    prof_free(p);
    p = prof_read(path);
    check_structure(p, false);
    CHECK(p->nfuncs == 0, " %zu functions without libdw", p->nfuncs);
    printf("addresses only: %zu samples, %zu locations, %zu mappings\n", p->nsamples, p->nlocs, p->nmaps);

    CHECK(gc_write_heap_profile(-1) == -EBADF, " bad fd");
    prof_free(p);
    unlink(path);
    printf("ok\n");
    return 0;
}
