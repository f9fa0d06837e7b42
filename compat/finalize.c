/*
 * finalize.c: bdwgc's finalization and disappearing links on gcrt, and the hash table the
 * compatibility sources share (compat/bdwgc.h).
 *
 * Finalizers are gcrt's specials (gc/final.c) with bdwgc's three orderings (GCRT_FIN_*).
 * The gcrt record's arg is a GC object {fn, cd}, so bdwgc's client data is traced as a root
 * while the finalizer is registered, and GC_register_finalizer can hand back the old pair.
 * gcrt's finalizer thread is off (gcrt_fin_manual): as in bdwgc, queued finalizers run in a
 * thread that allocates or collects (bdw_fin_poll), or, with GC_finalize_on_demand, when the
 * program calls GC_invoke_finalizers after the notifier told it to.
 *
 * Disappearing links: two tables (short, long) keyed by the link's address, holding the
 * object, in malloc'd memory the collector never scans (a link does not keep its object).
 * gcrt_mark_end_hook walks them at mark termination with the world stopped and the marks
 * final: a link whose own object is unmarked is forgotten; a link whose object is unmarked
 * is set to NULL (short), or, for a long link, once the object has no finalizer left to
 * bring it back. The walk also publishes GC_gc_no and the heap bounds.
 */
#define _GNU_SOURCE
#define GC_BUILD
#include "internal.h"
#include "compat/bdwgc.h"

#include <stdlib.h>
#include <string.h>

/* ---- the table ---- */

enum { EMPTY = 0, DELETED = 1 };

static inline size_t slot_of(uintptr_t key, size_t cap) {
    return (size_t)((key >> 3) * 0x9E3779B97F4A7C15ull >> 20) & (cap - 1);
}

static gcrt_bdw_ent *find(gcrt_bdw_ent *e, size_t cap, uintptr_t key, bool insert) {
    gcrt_bdw_ent *tomb = NULL;
    for (size_t i = slot_of(key, cap);; i = (i + 1) & (cap - 1)) {
        if (e[i].key == key) return &e[i];
        if (e[i].key == DELETED && !tomb) tomb = &e[i];
        if (e[i].key == EMPTY) return insert ? (tomb ? tomb : &e[i]) : NULL;
    }
}

static void tab_enter(gcrt_bdw_tab *t) {
    gcrt_enter(gcrt_self);
    gcrt_lock(&t->lock);
}
static void tab_leave(gcrt_bdw_tab *t) {
    pthread_mutex_unlock(&t->lock);
    gcrt_leave(gcrt_self);
}

static gcrt_bdw_ent *tab_alloc(gcrt_bdw_tab *t, size_t cap) {
    gcrt_bdw_ent *e = calloc(cap, sizeof *e);
    if (e && t->root && gc_add_roots(e, cap * sizeof *e) < 0) {
        free(e);
        return NULL;
    }
    return e;
}
static void tab_free(gcrt_bdw_tab *t, gcrt_bdw_ent *e, size_t cap) {
    if (t->root) gc_remove_roots(e, cap * sizeof *e);
    free(e);
}

int gcrt_bdw_tab_init(gcrt_bdw_tab *t, bool root) {
    pthread_mutex_init(&t->lock, NULL);
    t->root = root;
    t->cap = 64;
    t->n = t->used = 0;
    t->e = tab_alloc(t, t->cap);
    if (!t->e) gcrt_fatal("bdwgc compatibility: out of memory at initialisation");
    return 0;
}

/* Called in t's section with the lock held; returns with them held, the table roomy. */
static int tab_make_room(gcrt_bdw_tab *t) {
    while ((t->used + 1) * 4 > t->cap * 3) {
        size_t cap = t->n * 2 + 2 > t->cap / 2 ? t->cap * 2 : t->cap;   /* mostly deleted: same size */
        tab_leave(t);
        gcrt_bdw_ent *e = tab_alloc(t, cap);
        tab_enter(t);
        if (!e) return -ENOMEM;
        if ((t->used + 1) * 4 <= t->cap * 3) {   /* another thread grew it meanwhile */
            tab_leave(t);
            tab_free(t, e, cap);
            tab_enter(t);
            continue;
        }
        for (size_t i = 0; i < t->cap; i++)
            if (t->e[i].key > DELETED) *find(e, cap, t->e[i].key, true) = t->e[i];
        gcrt_bdw_ent *old = t->e;
        size_t oldcap = t->cap;
        t->e = e;
        t->cap = cap;
        t->used = t->n;
        tab_leave(t);
        tab_free(t, old, oldcap);   /* its entries are in the new table, a root already */
        tab_enter(t);
    }
    return 0;
}

int gcrt_bdw_tab_put(gcrt_bdw_tab *t, uintptr_t key, uintptr_t val) {
    tab_enter(t);
    int rc = tab_make_room(t);
    if (rc == 0) {
        gcrt_bdw_ent *x = find(t->e, t->cap, key, true);
        rc = x->key != key;
        if (rc) {
            t->n++;
            if (x->key == EMPTY) t->used++;
        }
        x->key = key;
        x->val = val;
    }
    tab_leave(t);
    return rc;
}

bool gcrt_bdw_tab_get(gcrt_bdw_tab *t, uintptr_t key, uintptr_t *val) {
    tab_enter(t);
    gcrt_bdw_ent *x = find(t->e, t->cap, key, false);
    if (x && val) *val = x->val;
    tab_leave(t);
    return x != NULL;
}

static void ent_del(gcrt_bdw_tab *t, gcrt_bdw_ent *x) {
    x->key = DELETED;
    x->val = 0;
    t->n--;
}

bool gcrt_bdw_tab_del(gcrt_bdw_tab *t, uintptr_t key, uintptr_t *val) {
    tab_enter(t);
    gcrt_bdw_ent *x = find(t->e, t->cap, key, false);
    if (x) {
        if (val) *val = x->val;
        ent_del(t, x);
    }
    tab_leave(t);
    return x != NULL;
}

bool gcrt_bdw_tab_peek(const gcrt_bdw_tab *t, uintptr_t key, uintptr_t *val) {
    gcrt_bdw_ent *x = find(t->e, t->cap, key, false);
    if (x && val) *val = x->val;
    return x != NULL;
}

static bool survives(uintptr_t p);
void gcrt_bdw_tab_sweep(gcrt_bdw_tab *t) {
    for (size_t i = 0; i < t->cap; i++)
        if (t->e[i].key > DELETED && !survives(t->e[i].key)) ent_del(t, &t->e[i]);
}

/* ---- finalizers ---- */

typedef struct fin_rec {
    GC_finalization_proc fn;
    void *cd;
} fin_rec;

static void fin_tramp(void *obj, void *arg) {
    fin_rec *r = arg;
    r->fn(obj, r->cd);
}

static void register_fin(const char *who, void *obj, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn,
                         void **ocd, int mode) {
    bdw_thread();
    fin_rec *r = NULL;
    if (fn) {
        r = gc_alloc(sizeof *r);
        if (!r) gcrt_fatal("%s: out of memory", who);
        r->fn = fn;
        r->cd = cd;
    }
    void *of = NULL, *oa = NULL;
    /* bdwgc ignores an object that is not in its heap (ofn and ocd say "none") */
    if (gc_base(obj) == obj) {
        int rc = gcrt_finalizer_swap(obj, fn ? (void *)fin_tramp : NULL, r, mode, &of, &oa);
        if (rc == -ENOMEM) gcrt_fatal("%s: out of memory", who);
    } else {
        gcrt_bdw_warn("%s(%p): not the start of a GC object; ignored", who, obj);
    }
    fin_rec *old = oa;
    if (ofn) *ofn = old ? old->fn : NULL;
    if (ocd) *ocd = old ? old->cd : NULL;
}

GCRT_API void GC_register_finalizer(void *obj, GC_finalization_proc fn, void *cd, GC_finalization_proc *ofn,
                                    void **ocd) {
    register_fin("GC_register_finalizer", obj, fn, cd, ofn, ocd, GCRT_FIN_ORDERED);
}
GCRT_API void GC_register_finalizer_ignore_self(void *obj, GC_finalization_proc fn, void *cd,
                                                GC_finalization_proc *ofn, void **ocd) {
    register_fin("GC_register_finalizer_ignore_self", obj, fn, cd, ofn, ocd, GCRT_FIN_IGNORE_SELF);
}
GCRT_API void GC_register_finalizer_no_order(void *obj, GC_finalization_proc fn, void *cd,
                                             GC_finalization_proc *ofn, void **ocd) {
    register_fin("GC_register_finalizer_no_order", obj, fn, cd, ofn, ocd, GCRT_FIN_NO_ORDER);
}
GCRT_API void GC_register_finalizer_unreachable(void *obj, GC_finalization_proc fn, void *cd,
                                                GC_finalization_proc *ofn, void **ocd) {
    (void)obj, (void)fn, (void)cd, (void)ofn, (void)ocd;
    gcrt_bdw_unsupported("GC_register_finalizer_unreachable (Java-style finalization)");
}

static const uint32_t no_seq;
const volatile uint32_t *gcrt_bdw_finseq = &no_seq;
uint32_t gcrt_bdw_finseen;
GC_finalizer_notifier_proc GC_finalizer_notifier;
static GCRT_TLS int in_finalizers;   /* bdwgc does not run finalizers from inside one */

/* The stack below the caller, where finalizers ran and left their objects' addresses:
 * the thread goes on running (bdwgc's finalizers run in program threads), and a stale copy
 * would keep a finalized object, and in a chain all that follows it, alive. */
__attribute__((noinline)) static void scrub_below(void) {
    volatile char buf[8 << 10];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
    gcrt_scrub_vector_regs();
}

GCRT_API int GC_invoke_finalizers(void) {
    bdw_thread();
    if (in_finalizers) return 0;
    in_finalizers = 1;
    int n = gc_run_finalizers();
    in_finalizers = 0;
    if (n) scrub_below();
    return n;
}

GCRT_API int GC_should_invoke_finalizers(void) { return gcrt_finq_len() != 0; }

void gcrt_bdw_fin_notify(void) {
    gcrt_bdw_finseen = *gcrt_bdw_finseq;
    if (!gcrt_finq_len()) return;
    if (GC_finalize_on_demand) {
        if (GC_finalizer_notifier) GC_finalizer_notifier();
    } else {
        GC_invoke_finalizers();
    }
}

GCRT_API void GC_set_finalize_on_demand(int v) { GC_finalize_on_demand = v; }
GCRT_API int GC_get_finalize_on_demand(void) { return GC_finalize_on_demand; }
GCRT_API void GC_set_finalizer_notifier(GC_finalizer_notifier_proc p) { GC_finalizer_notifier = p; }
GCRT_API GC_finalizer_notifier_proc GC_get_finalizer_notifier(void) { return GC_finalizer_notifier; }
/* Only GC_register_finalizer_unreachable (unsupported) depends on it. */
GCRT_API void GC_set_java_finalization(int v) { GC_java_finalization = v; }
GCRT_API int GC_get_java_finalization(void) { return GC_java_finalization; }

/* ---- disappearing links ---- */

static gcrt_bdw_tab short_links, long_links;

/* Whether the object p points into is marked this cycle (world stopped). Not a heap
 * object: static or root memory, which never dies. */
static bool survives(uintptr_t p) {
    gcrt_span *s = span_of_heap(p);
    if (!s) return true;
    size_t i = span_objindex(s, p);
    return span_slot_allocated(s, i) && bit_get(s->markbits, i);
}

static void clear_links(gcrt_bdw_tab *t, bool is_long) {
    for (size_t i = 0; i < t->cap; i++) {
        gcrt_bdw_ent *x = &t->e[i];
        if (x->key <= DELETED) continue;
        if (!survives(x->key)) {   /* the link's own object is garbage: forget the link */
            ent_del(t, x);
            continue;
        }
        if (survives(x->val)) continue;
        if (is_long) {
            gcrt_span *s = span_of_heap(x->val);
            uintptr_t base = s->base + span_objindex(s, x->val) * s->elemsize;
            if (gcrt_has_finalizer(base)) continue;   /* it may yet come back */
        }
        *(void **)x->key = NULL;
        ent_del(t, x);
    }
}

/* Mark termination, world stopped: no thread is inside a table update (critical sections). */
static void mark_end(void) {
    clear_links(&short_links, false);
    clear_links(&long_links, true);
    GC_gc_no++;
    extern void *GC_least_plausible_heap_addr, *GC_greatest_plausible_heap_addr;
    /* one below the heap: arena_lo itself is the first object's address, and this variable
     * is static data, scanned, which kept that object alive for ever */
    GC_least_plausible_heap_addr = (void *)(gcrt_heap_.arena_lo - 1);
    GC_greatest_plausible_heap_addr = (void *)gcrt_heap_.arena_hi;
}

void gcrt_bdw_links_init(void) {
    gcrt_bdw_tab_init(&short_links, false);
    gcrt_bdw_tab_init(&long_links, false);
    gcrt_bdw_finseq = gcrt_finq_seq();
    gcrt_mark_end_hook = mark_end;
}

static void check_link(const char *who, void **link) {
    if (!link || ((uintptr_t)link & (sizeof(void *) - 1)))
        gcrt_fatal("%s: link %p is NULL or not aligned to a pointer", who, (void *)link);
}

static int reg_link(gcrt_bdw_tab *t, const char *who, void **link, const void *obj) {
    bdw_thread();
    check_link(who, link);
    if (!obj) gcrt_fatal("%s: NULL object", who);
    int rc = gcrt_bdw_tab_put(t, (uintptr_t)link, (uintptr_t)obj);
    return rc < 0 ? GC_NO_MEMORY : rc == 1 ? GC_SUCCESS : GC_DUPLICATE;
}

static int move_link(gcrt_bdw_tab *t, const char *who, void **link, void **new_link) {
    bdw_thread();
    check_link(who, new_link);
    uintptr_t obj;
    if (!gcrt_bdw_tab_get(t, (uintptr_t)link, &obj)) return GC_NOT_FOUND;
    if (link == new_link) return GC_SUCCESS;
    if (gcrt_bdw_tab_get(t, (uintptr_t)new_link, NULL)) return GC_DUPLICATE;
    if (gcrt_bdw_tab_put(t, (uintptr_t)new_link, obj) < 0) return GC_NO_MEMORY;
    gcrt_bdw_tab_del(t, (uintptr_t)link, NULL);
    return GC_SUCCESS;
}

GCRT_API int GC_general_register_disappearing_link(void **link, const void *obj) {
    return reg_link(&short_links, "GC_general_register_disappearing_link", link, obj);
}
GCRT_API int GC_register_disappearing_link(void **link) {
    bdw_thread();
    void *base = gc_base(link);
    if (!base) gcrt_fatal("GC_register_disappearing_link: %p is not inside a GC object", (void *)link);
    return reg_link(&short_links, "GC_register_disappearing_link", link, base);
}
GCRT_API int GC_move_disappearing_link(void **link, void **new_link) {
    return move_link(&short_links, "GC_move_disappearing_link", link, new_link);
}
GCRT_API int GC_unregister_disappearing_link(void **link) {
    bdw_thread();
    return gcrt_bdw_tab_del(&short_links, (uintptr_t)link, NULL);
}
GCRT_API int GC_register_long_link(void **link, const void *obj) {
    return reg_link(&long_links, "GC_register_long_link", link, obj);
}
GCRT_API int GC_move_long_link(void **link, void **new_link) {
    return move_link(&long_links, "GC_move_long_link", link, new_link);
}
GCRT_API int GC_unregister_long_link(void **link) {
    bdw_thread();
    return gcrt_bdw_tab_del(&long_links, (uintptr_t)link, NULL);
}
