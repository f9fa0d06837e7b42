/*
 * t_bdw_links: disappearing links and uncollectable objects through gc.h.
 * - a short link is cleared once its object is unreachable, and not while it is reachable;
 *   an unregistered link is left alone; GC_move_disappearing_link and the return codes;
 * - to a finalizable object: the short link is cleared when it is found unreachable, the
 *   long link only after the finalizer ran and the object is gone;
 * - GC_call_with_alloc_lock reveals a hidden pointer consistently;
 * - an uncollectable object is never collected and is scanned as a root (what only it
 *   points to survives) until GC_free, after which both are collected.
 */
#include "bdw_test.h"

static GC_hidden_pointer l1, l2, l3, lshort, llong, lu, lkept;
static void *held;   /* keeps its object reachable */

static void *make(void *arg) {
    (void)arg;
    void *a = GC_MALLOC(32), *b = GC_MALLOC(32), *c = GC_MALLOC(32);
    l1 = GC_HIDE_POINTER(a), l2 = GC_HIDE_POINTER(b), l3 = GC_HIDE_POINTER(c);
    CHECK(GC_general_register_disappearing_link((void **)&l1, a) == GC_SUCCESS, "register");
    CHECK(GC_general_register_disappearing_link((void **)&l1, a) == GC_DUPLICATE, "duplicate");
    CHECK(GC_general_register_disappearing_link((void **)&l2, b) == GC_SUCCESS, "register 2");
    CHECK(GC_general_register_disappearing_link((void **)&l3, c) == GC_SUCCESS, "register 3");
    CHECK(GC_unregister_disappearing_link((void **)&l2) == 1, "unregister");
    CHECK(GC_unregister_disappearing_link((void **)&l2) == 0, "unregister twice");
    held = c;
    return NULL;
}

static int finalized;
static void fin(void *o, void *cd) {
    (void)o, (void)cd;
    finalized++;
}
static void *make_fin(void *arg) {
    (void)arg;
    void *f = GC_MALLOC(32);
    lshort = llong = GC_HIDE_POINTER(f);
    GC_register_finalizer(f, fin, NULL, NULL, NULL);
    CHECK(GC_general_register_disappearing_link((void **)&lshort, f) == GC_SUCCESS, "short");
    CHECK(GC_register_long_link((void **)&llong, f) == GC_SUCCESS, "long");
    return NULL;
}

static void *reveal(void *p) { return *(GC_hidden_pointer *)p ? GC_REVEAL_POINTER(*(GC_hidden_pointer *)p) : NULL; }

typedef struct holder {
    void *p;
} holder;
static GC_hidden_pointer hidden_u;
static void *make_uncollectable(void *arg) {
    (void)arg;
    holder *u = GC_MALLOC_UNCOLLECTABLE(sizeof *u);
    void *child = GC_MALLOC(64);
    u->p = child;
    hidden_u = GC_HIDE_POINTER(u);
    lu = GC_HIDE_POINTER(child);
    lkept = GC_HIDE_POINTER(u);
    CHECK(GC_general_register_disappearing_link((void **)&lu, child) == GC_SUCCESS, "link to child");
    CHECK(GC_general_register_disappearing_link((void **)&lkept, u) == GC_SUCCESS, "link to uncollectable");
    return NULL;
}
static void *check_uncollectable(void *arg) {
    (void)arg;
    holder *u = GC_REVEAL_POINTER(hidden_u);
    CHECK(u->p == GC_REVEAL_POINTER(lu), "child still in place");
    CHECK(GC_base(u) == u && GC_size(u) >= sizeof *u, "GC_base/GC_size of an uncollectable object");
    return NULL;
}
static void *free_uncollectable(void *arg) {
    (void)arg;
    GC_FREE(GC_REVEAL_POINTER(hidden_u));
    return NULL;
}

int main(void) {
    GC_INIT();
    in_thread(make, NULL);
    GC_hidden_pointer l2_before = l2;
    collect(2);
    CHECK(l1 == 0, "short link to an unreachable object cleared");
    CHECK(l2 == l2_before, "unregistered link untouched");
    CHECK(l3 != 0 && GC_REVEAL_POINTER(l3) == held, "link to a reachable object kept");
    void *moved = (void *)l3;
    CHECK(GC_move_disappearing_link((void **)&l3, (void **)&l3) == GC_SUCCESS, "move to itself");
    CHECK(GC_move_disappearing_link((void **)&l1, (void **)&l2) == GC_NOT_FOUND, "move of a cleared link");
    l2 = (GC_hidden_pointer)moved;
    CHECK(GC_move_disappearing_link((void **)&l3, (void **)&l2) == GC_SUCCESS, "move");
    held = NULL;
    churn_stack();
    collect(2);
    CHECK(l2 == 0, "moved link cleared at its new place");
    CHECK(l3 == (GC_hidden_pointer)moved, "old place no longer a link");

    in_thread(make_fin, NULL);
    collect(1);
    CHECK(finalized == 1, "finalizer ran (%d)", finalized);
    CHECK(lshort == 0, "short link cleared when the object was found unreachable");
    CHECK(llong != 0, "long link kept while the finalizer could bring the object back");
    collect(2);
    CHECK(llong == 0, "long link cleared once the object is gone");

    GC_hidden_pointer h = GC_HIDE_POINTER(&finalized);
    CHECK(GC_call_with_alloc_lock(reveal, &h) == &finalized, "GC_call_with_alloc_lock");

    in_thread(make_uncollectable, NULL);
    collect(3);
    CHECK(lkept != 0 && lu != 0, "uncollectable object and its child survive");
    in_thread(check_uncollectable, NULL);   /* no copy of u on this thread's stack */
    in_thread(free_uncollectable, NULL);
    churn_stack();
    collect(2);
    CHECK(lkept == 0 && lu == 0, "after GC_free both are collected (%#lx %#lx)", lkept, lu);
    printf("ok\n");
    return 0;
}
