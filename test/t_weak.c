/*
 * t_weak: weak handles with Go's semantics (weak.Make / Pointer.Value).
 *  - gc_weak_make(NULL) and non-GC memory give NULL; one canonical handle per address
 *    (twice the same pointer), a different one for an interior address, whose get
 *    returns that interior address;
 *  - get returns the object while it lives, across cycles (never cleared while it lives);
 *  - cleared (get returns NULL) once the object was found unreachable; the handle itself
 *    stays valid memory while held and keeps reading NULL;
 *  - cleared before the object's finalizer runs (the finalizer checks it), and a handle
 *    made after the resurrection is a new one;
 *  - a handle the program dropped is kept while its object lives (same handle later);
 *  - handles are GC objects: dropped with their object, they are freed too;
 *  - many handles at once: every dead object's handle is cleared, no live one is.
 */
#include "lifetime.h"

typedef struct obj {
    uint64_t magic;
    struct obj *next;
} obj_t;

static gc_weak_t fin_handle;   /* the handle the finalizer checks (a GC object: kept) */
static volatile int fin_ran, fin_saw_live_handle;
static obj_t *resurrected;

static void fin(void *o, void *arg)
{
    (void)arg;
    if (gc_weak_get(fin_handle) != NULL)
        fin_saw_live_handle = 1;
    resurrected = o;
    fin_ran = 1;
}

static TEST_NOINLINE obj_t *mk(uint64_t m)
{
    obj_t *o = gc_alloc(sizeof *o);
    CHECK(o != NULL);
    o->magic = m;
    return o;
}

static TEST_NOINLINE gc_weak_t make_dead(uintptr_t *hobj)
{
    obj_t *o = mk(7);
    gc_weak_t w = gc_weak_make(o);
    CHECK(w != NULL);
    CHECK(gc_weak_get(w) == o);
    *hobj = HIDE(o);
    return w;
}

static TEST_NOINLINE void make_finalized(void)
{
    obj_t *o = mk(8);
    fin_handle = gc_weak_make(o);
    CHECK(gc_set_finalizer(o, fin, NULL) == 0);
}

static TEST_NOINLINE void make_dropped_pair(uintptr_t *hobj, uintptr_t *hw)
{
    obj_t *o = mk(9);
    gc_weak_t w = gc_weak_make(o);
    *hobj = HIDE(o);
    *hw = HIDE(w);
}

static TEST_NOINLINE uintptr_t hide_new_handle(obj_t *o)
{
    gc_weak_t w = gc_weak_make(o);
    CHECK(w != NULL);
    return HIDE(w);
}

#define MANY 20000
static gc_weak_t *many_w;   /* GC array of handles */
static obj_t **many_keep;    /* GC array: the even objects */

static void make_many(void *unused)
{
    (void)unused;
    for (int i = 0; i < MANY; i++) {
        obj_t *o = mk((uint64_t)i);
        many_w[i] = gc_weak_make(o);
        if (i % 2 == 0)
            many_keep[i / 2] = o;
    }
}

int main(void)
{
    gc_init();
    gc_set_percent(-1);
    int local;
    CHECK(gc_weak_make(NULL) == NULL);
    CHECK(gc_weak_get(NULL) == NULL);
    errno = 0;
    CHECK(gc_weak_make(&local) == NULL && errno == EINVAL);

    /* canonical, interior */
    obj_t *live = mk(1);
    gc_weak_t w1 = gc_weak_make(live), w2 = gc_weak_make(live);
    CHECK(w1 != NULL && w1 == w2, "two handles for one object");
    gc_weak_t wi = gc_weak_make(&live->next);
    CHECK(wi != NULL && wi != w1 && wi == gc_weak_make(&live->next));
    CHECK(gc_weak_get(wi) == (void *)&live->next);
    for (int i = 0; i < 3; i++) {
        lt_collect();
        CHECK(gc_weak_get(w1) == live, "weak handle cleared while its object lives");
        CHECK(gc_weak_make(live) == w1, "handle changed while the object lives");
    }

    /* canonical even when the program dropped the handle: the object's record keeps it */
    uintptr_t hidden_w = HIDE(gc_weak_make(live));
    obj_t *other = mk(2);
    uintptr_t hidden_w2 = hide_new_handle(other);
    for (int i = 0; i < 3; i++)
        lt_collect();
    CHECK(HIDE(gc_weak_make(live)) == hidden_w);
    CHECK(HIDE(gc_weak_make(other)) == hidden_w2, "a dropped handle of a live object was not kept");
    CHECK(gc_weak_get(gc_weak_make(other)) == other);

    /* cleared when the object dies; the handle stays readable */
    uintptr_t hd;
    gc_weak_t wd = make_dead(&hd);
    for (int i = 0; i < 4 && gc_weak_get(wd); i++)
        lt_collect();
    CHECK(gc_weak_get(wd) == NULL, "handle of a dead object not cleared");
    CHECK(!lt_alive(hd), "dead object not freed");
    for (int i = 0; i < 1000; i++)
        CHECK(gc_alloc(16) != NULL);   /* reuse the slot: the handle must still say NULL */
    lt_collect();
    CHECK(gc_weak_get(wd) == NULL);

    /* cleared before the finalizer runs; a new handle after resurrection */
    make_finalized();
    gc_weak_t old = fin_handle;
    for (int i = 0; i < 4 && !fin_ran; i++) {
        lt_collect();
        gc_run_finalizers();
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    CHECK(fin_ran, "finalizer never ran");
    CHECK(!fin_saw_live_handle, "weak handle not cleared before the finalizer ran");
    CHECK(resurrected && resurrected->magic == 8);
    gc_weak_t renewed = gc_weak_make(resurrected);
    CHECK(renewed != NULL && renewed != old, "a resurrected object must get a new handle");
    CHECK(gc_weak_get(renewed) == resurrected && gc_weak_get(old) == NULL);
    resurrected = NULL;

    /* a dropped handle whose object died is freed too */
    uintptr_t ho, hw;
    make_dropped_pair(&ho, &hw);
    for (int i = 0; i < 4 && (lt_alive(ho) || lt_alive(hw)); i++)
        lt_collect();
    CHECK(!lt_alive(ho) && !lt_alive(hw), "object %d / handle %d not freed", lt_alive(ho), lt_alive(hw));

    /* many: every even object lives, odd ones die */
    many_w = gc_alloc(MANY * sizeof *many_w);
    many_keep = gc_alloc(MANY / 2 * sizeof *many_keep);
    lt_in_thread(make_many, NULL);
    lt_collect();
    lt_collect();
    int cleared = 0;
    for (int i = 0; i < MANY; i++) {
        obj_t *o = gc_weak_get(many_w[i]);
        if (i % 2 == 0)
            CHECK(o == many_keep[i / 2] && o->magic == (uint64_t)i, "live object %d lost its handle", i);
        else if (!o)
            cleared++;
        else
            CHECK(o->magic == (uint64_t)i, "handle %d returned a damaged object", i);
    }
    printf("%d of %d dead objects' handles cleared\n", cleared, MANY / 2);
    CHECK(cleared >= MANY / 2 * 95 / 100, "only %d of %d handles of dead objects cleared", cleared, MANY / 2);
    gc_keep_alive(live);
    gc_keep_alive(other);
    printf("t_weak: ok\n");
    return 0;
}
