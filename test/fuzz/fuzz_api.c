/*
 * fuzz_api: libFuzzer target that runs a random sequence of API calls against a model.
 *
 * The input is a program: each operation is a few bytes (allocate conservative / typed /
 * noscan-tailed objects of fuzzed sizes into a root table, link and unlink children with
 * GC_STORE, move a child to a root, drop a root, gc_realloc, interior-pointer gc_base and
 * gc_size queries, gc_collect, gc_set_percent, weak handles, finalizers). The model knows
 * every object's id, size
 * and children, hence which objects are reachable from the root table (static data: a
 * root). After each collection and at the end, every reachable object must be intact:
 * gc_base(p) == p, gc_size(p) >= its size, its id, size, children and payload bytes as
 * the model says; a weak handle to a reachable object returns it (to any other object:
 * NULL or that object, intact); a finalizer never runs on a reachable object (it flips the
 * object's id). Each input starts from an empty root table, so the objects of earlier
 * inputs are garbage. With -DFUZZ_REPLAY it is a plain program running the files it is
 * given (the regression corpus in make test).
 */
#include "gcrt.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NROOTS 16
#define MAXOBJ 512
#define NKIDS 2

typedef struct obj {
    uint64_t id, size;
    struct obj *kids[NKIDS];
    unsigned char payload[];
} obj;

typedef struct model {
    obj *p;          /* valid only while reachable in the model */
    uint64_t id, size;
    int kids[NKIDS]; /* model indices, -1 none */
} model;

static obj *roots[NROOTS];   /* static data: scanned */
static int root_m[NROOTS];
static model *M;             /* malloc'd: not scanned, so it keeps nothing alive */
static int nm;
static uint64_t next_id = 1;
static gc_type_t *obj_type;
static unsigned char *reach;
#define NWEAK 8
static gc_weak_t weaks[NWEAK];   /* static data: the handles stay alive */
static int weak_m[NWEAK];

static void finalize(void *o, void *arg)
{
    (void)arg;
    ((obj *)o)->id ^= (uint64_t)1 << 63;   /* a reachable object's header check catches it */
}

static void bug(const char *what, int mi)
{
    fprintf(stderr, "fuzz_api: %s (model object %d, id %llu)\n", what, mi, mi >= 0 ? (unsigned long long)M[mi].id : 0ull);
    abort();
}

static unsigned char pat(uint64_t id, uint64_t i) { return (unsigned char)(id * 131 + i * 7 + (i >> 8)); }

static void fill(obj *o)
{
    for (uint64_t i = 0; i + sizeof(obj) < o->size; i++) o->payload[i] = pat(o->id, i);
}

static void verify_obj(int mi)
{
    model *m = &M[mi];
    obj *o = m->p;
    if (gc_base(o) != o) bug("reachable object is not a live GC object", mi);
    if (gc_size(o) < m->size) bug("gc_size smaller than the allocation", mi);
    if (o->id != m->id || o->size != m->size) bug("header damaged", mi);
    for (int k = 0; k < NKIDS; k++)
        if (o->kids[k] != (m->kids[k] < 0 ? NULL : M[m->kids[k]].p)) bug("child pointer differs from the model", mi);
    for (uint64_t i = 0; i + sizeof(obj) < m->size; i++)
        if (o->payload[i] != pat(m->id, i)) bug("payload damaged", mi);
}

static void mark_reach(int mi)
{
    if (mi < 0 || reach[mi]) return;
    reach[mi] = 1;
    for (int k = 0; k < NKIDS; k++) mark_reach(M[mi].kids[k]);
}

static void verify_all(void)
{
    memset(reach, 0, MAXOBJ);
    for (int r = 0; r < NROOTS; r++) mark_reach(root_m[r]);
    for (int i = 0; i < nm; i++)
        if (reach[i]) verify_obj(i);
    for (int w = 0; w < NWEAK; w++) {
        if (weak_m[w] < 0) continue;
        obj *o = gc_weak_get(weaks[w]);
        if (reach[weak_m[w]] && o != M[weak_m[w]].p) bug("weak handle of a reachable object lost it", weak_m[w]);
        if (o && o != M[weak_m[w]].p) bug("weak handle returned another object", weak_m[w]);
    }
}

static int new_obj(size_t size, int kind)
{
    if (nm == MAXOBJ) return -1;
    if (size < sizeof(obj)) size = sizeof(obj);
    obj *o;
    if (kind == 1) {
        size_t count = (size + sizeof(obj) - 1) / sizeof(obj);
        o = gc_alloc_array(obj_type, count);
        size = count * sizeof(obj);
    } else {
        o = gc_alloc(size);
    }
    if (!o) bug("allocation failed", -1);
    for (uint64_t i = 0; i < size; i++)
        if (((unsigned char *)o)[i]) bug("fresh object not zeroed", -1);
    o->id = next_id++;
    o->size = size;
    fill(o);
    M[nm] = (model){o, o->id, size, {-1, -1}};
    return nm++;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (!obj_type) {
        gc_init();
        size_t offs[NKIDS];
        for (int k = 0; k < NKIDS; k++) offs[k] = offsetof(obj, kids) + (size_t)k * sizeof(obj *);
        obj_type = gc_type_new(sizeof(obj), offs, NKIDS);
        M = malloc(MAXOBJ * sizeof *M);
        reach = malloc(MAXOBJ);
    }
    memset(roots, 0, sizeof roots);
    memset(weaks, 0, sizeof weaks);
    for (int r = 0; r < NROOTS; r++) root_m[r] = -1;
    for (int w = 0; w < NWEAK; w++) weak_m[w] = -1;
    nm = 0;
    int collects = 0;
    size_t i = 0;
#define NEXT() (i < n ? d[i++] : 0)
    while (i < n) {
        unsigned op = NEXT() % 11;
        unsigned a = NEXT() % NROOTS;
        unsigned b = NEXT() % NROOTS;
        unsigned k = NEXT() % NKIDS;
        int ma = root_m[a], mb = root_m[b];
        switch (op) {
        case 0: {   /* allocate into root a */
            size_t size = NEXT();
            size <<= NEXT() % 12;
            int kind = NEXT() % 2;
            int mi = new_obj(size + 1, kind);
            if (mi >= 0) {
                roots[a] = M[mi].p;
                root_m[a] = mi;
            }
            break;
        }
        case 1:   /* a.kids[k] = b */
            if (ma >= 0) {
                GC_STORE(M[ma].p->kids[k], mb >= 0 ? M[mb].p : NULL);
                M[ma].kids[k] = mb;
            }
            break;
        case 2:   /* a.kids[k] = NULL */
            if (ma >= 0) {
                GC_STORE(M[ma].p->kids[k], NULL);
                M[ma].kids[k] = -1;
            }
            break;
        case 3:   /* root a = b.kids[k] */
            if (mb >= 0) {
                int c = M[mb].kids[k];
                roots[a] = c >= 0 ? M[c].p : NULL;
                root_m[a] = c;
            }
            break;
        case 4:
            roots[a] = NULL;
            root_m[a] = -1;
            break;
        case 5:
            if (collects++ < 3) {
                gc_collect();
                verify_all();
            }
            break;
        case 6:   /* realloc root a's object into a new object with a new id */
            if (ma >= 0 && nm < MAXOBJ) {
                size_t size = NEXT();
                size = sizeof(obj) + (size << (NEXT() % 10));
                obj *q = gc_realloc(M[ma].p, size);
                if (!q) bug("gc_realloc failed", ma);
                size_t keep = size < M[ma].size ? size : M[ma].size;
                for (uint64_t j = 0; j + sizeof(obj) < keep; j++)
                    if (q->payload[j] != pat(M[ma].id, j)) bug("gc_realloc lost payload", ma);
                if (q == M[ma].p) {   /* shrunk in place: the same object, now `size` bytes */
                    q->size = M[ma].size = size;
                    fill(q);   /* it may have grown within its slot */
                    break;
                }
                q->id = next_id++;
                q->size = size;
                fill(q);
                M[nm] = (model){q, q->id, size, {M[ma].kids[0], M[ma].kids[1]}};
                if (q->kids[0] != M[ma].p->kids[0] || q->kids[1] != M[ma].p->kids[1]) bug("gc_realloc lost children", ma);
                roots[a] = q;
                root_m[a] = nm++;
            }
            break;
        case 7:   /* interior pointers */
            if (ma >= 0) {
                size_t off = ((size_t)NEXT() * 977) % M[ma].size;
                if (gc_base((char *)M[ma].p + off) != M[ma].p) bug("gc_base of an interior pointer", ma);
            }
            break;
        case 8:
            gc_set_percent(NEXT() % 4 == 0 ? -1 : 1 + NEXT() % 200);
            break;
        case 9:   /* weak handle b%NWEAK to root a's object */
            if (ma >= 0) {
                weaks[b % NWEAK] = gc_weak_make(M[ma].p);
                if (!weaks[b % NWEAK]) bug("gc_weak_make failed", ma);
                weak_m[b % NWEAK] = ma;
            }
            break;
        case 10:
            if (ma >= 0) {
                int r = gc_set_finalizer(M[ma].p, finalize, NULL);
                if (r != 0 && r != -EEXIST) bug("gc_set_finalizer failed", ma);
            }
            break;
        }
    }
    verify_all();
    gc_set_percent(100);
    return 0;
}

#ifdef FUZZ_REPLAY
#include "replay.h"
#endif
