/*
 * t_bdw_final: bdwgc's documented finalization semantics through gc.h.
 * - ordered (GC_register_finalizer): in a chain A -> B, A's finalizer runs first and B's only
 *   at a later collection; a cycle of finalizable objects is never finalized; an object
 *   pointing to itself is not finalized, unless registered with _ignore_self;
 * - _no_order: A -> B both finalized in the same collection;
 * - registering again returns the old procedure and client data; fn == NULL removes it;
 * - client data is traced while the finalizer is registered;
 * - finalizers run in the thread that collects (bdwgc runs them from allocation and
 *   GC_gcollect), and with GC_finalize_on_demand only from GC_invoke_finalizers, after the
 *   notifier was called.
 */
#include "bdw_test.h"

typedef struct obj {
    struct obj *next;
    long tag;
} obj;

static char order[64];
static int norder;
static pthread_t fin_thread_seen;
static void fin(void *o, void *cd) {
    (void)cd;
    order[norder++] = (char)((obj *)o)->tag;
    order[norder] = 0;
    fin_thread_seen = pthread_self();
}

/* A -> B, both finalizable with the given registration. */
typedef void (*reg_fn)(void *, GC_finalization_proc, void *, GC_finalization_proc *, void **);
static void *make_chain(void *arg) {
    reg_fn reg = (reg_fn)arg;
    obj *a = GC_NEW(obj), *b = GC_NEW(obj);
    a->tag = 'A';
    b->tag = 'B';
    a->next = b;
    reg(a, fin, NULL, NULL, NULL);
    reg(b, fin, NULL, NULL, NULL);
    return NULL;
}

static void *make_cycle(void *arg) {
    (void)arg;
    obj *a = GC_NEW(obj), *b = GC_NEW(obj);
    a->tag = 'C';
    b->tag = 'D';
    a->next = b;
    b->next = a;
    GC_register_finalizer(a, fin, NULL, NULL, NULL);
    GC_register_finalizer(b, fin, NULL, NULL, NULL);
    return NULL;
}

static void *make_self(void *arg) {
    obj *s = GC_NEW(obj);
    s->next = s;
    s->tag = arg ? 'I' : 'S';
    if (arg) GC_register_finalizer_ignore_self(s, fin, NULL, NULL, NULL);
    else GC_register_finalizer(s, fin, NULL, NULL, NULL);
    return NULL;
}

static char cd_seen[16];
static void fin_cd(void *o, void *cd) {
    (void)o;
    memcpy(cd_seen, cd, 6);
}
static void *make_with_cd(void *arg) {
    (void)arg;
    obj *o = GC_NEW(obj);
    char *cd = GC_MALLOC_ATOMIC(16);   /* reachable only as client data */
    memcpy(cd, "hello", 6);
    GC_register_finalizer(o, fin_cd, cd, NULL, NULL);
    return NULL;
}

static int replaced_ran;
static void fin_other(void *o, void *cd) {
    (void)o, (void)cd;
    replaced_ran++;
}
static void *make_replaced(void *arg) {
    (void)arg;
    obj *o = GC_NEW(obj), *p = GC_NEW(obj);
    GC_finalization_proc ofn = (GC_finalization_proc)1;
    void *ocd = (void *)1;
    GC_register_finalizer(o, fin, (void *)0x10, &ofn, &ocd);
    CHECK(ofn == NULL && ocd == NULL, "first registration: no old finalizer");
    GC_register_finalizer(o, fin_other, (void *)0x20, &ofn, &ocd);
    CHECK(ofn == fin && ocd == (void *)0x10, "old finalizer and data returned");
    GC_register_finalizer(p, fin, NULL, NULL, NULL);
    GC_register_finalizer(p, NULL, NULL, &ofn, &ocd);   /* removed */
    CHECK(ofn == fin, "removal returns the old finalizer");
    return NULL;
}

static int notified;
static void notifier(void) { notified++; }

int main(void) {
    GC_INIT();
    /* ordered chain */
    in_thread(make_chain, (void *)GC_register_finalizer);
    collect(1);
    CHECK(!strcmp(order, "A"), "after one collection only A is finalized, got \"%s\"", order);
    CHECK(pthread_equal(fin_thread_seen, pthread_self()), "finalizer ran in the collecting thread");
    collect(3);
    CHECK(!strcmp(order, "AB"), "B is finalized after A, got \"%s\"", order);
    /* unordered chain: both at once */
    norder = 0, order[0] = 0;
    in_thread(make_chain, (void *)GC_register_finalizer_no_order);
    collect(1);
    CHECK(strlen(order) == 2, "no_order: both finalized by one collection, got \"%s\"", order);
    /* cycles and self pointers */
    norder = 0, order[0] = 0;
    in_thread(make_cycle, NULL);
    in_thread(make_self, NULL);
    in_thread(make_self, (void *)1);
    collect(4);
    CHECK(!strcmp(order, "I"), "only the ignore_self object is finalized (cycle and self-pointer are not), got \"%s\"",
          order);
    /* client data traced */
    in_thread(make_with_cd, NULL);
    for (int i = 0; i < 4; i++) {   /* allocate between collections: the data must not be reused */
        collect(1);
        for (int j = 0; j < 1000; j++) memset(GC_MALLOC_ATOMIC(16), 'x', 16);
    }
    CHECK(!strcmp(cd_seen, "hello"), "client data kept alive for the finalizer: \"%s\"", cd_seen);
    /* replace and remove */
    norder = 0, order[0] = 0;
    in_thread(make_replaced, NULL);
    collect(3);
    CHECK(replaced_ran == 1 && norder == 0, "replacement ran (%d), original and removed ones did not (%d)",
          replaced_ran, norder);
    /* finalize on demand */
    GC_set_finalize_on_demand(1);
    GC_set_finalizer_notifier(notifier);
    CHECK(GC_get_finalize_on_demand() == 1 && GC_get_finalizer_notifier() == notifier, "getters");
    in_thread(make_chain, (void *)GC_register_finalizer_no_order);
    collect(1);
    CHECK(norder == 0, "on demand: nothing ran by itself (%d)", norder);
    CHECK(notified >= 1, "notifier called");
    CHECK(GC_should_invoke_finalizers(), "GC_should_invoke_finalizers");
    int n = GC_invoke_finalizers();
    CHECK(n == 2 && norder == 2, "GC_invoke_finalizers ran %d (%d)", n, norder);
    CHECK(!GC_should_invoke_finalizers(), "queue empty");
    printf("ok\n");
    return 0;
}
