/*
 * t_bdw_kinds: bdwgc's object kinds and mark procedures (gc_mark.h) on gcrt.
 * - a kind whose descriptor is a mark procedure (GC_MAKE_PROC with an environment): the
 *   procedure pushes, with GC_MARK_AND_PUSH, pointers its objects hold in malloc'd memory;
 *   objects reachable only that way survive collections with their contents, a word of the
 *   object the procedure does not push keeps nothing, and once the holder dies what only it
 *   reached dies too; GC_realloc keeps the kind, GC_get_kind_and_size names it;
 * - mark stack overflow: a procedure that writes bdwgc's {start, descriptor} entries itself
 *   (length, bitmap and nested procedure entries) and returns past the limit gets the
 *   object again with a bigger stack, and nothing it pushed is lost;
 * - GC_generic_malloc of the predefined kinds and of length, bitmap and per-object kinds:
 *   which words keep their targets; GC_generic_malloc_many chains;
 * - the start callback runs once per collection; GC_push_other_roots's callback pushes
 *   ranges of malloc'd memory and sets mark bits; GC_mark_and_push outside a mark aborts
 *   naming itself.
 */
#include "bdw_test.h"
#include <gc_mark.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC 0x5eed0000u

/* ---- a kind with a mark procedure ---- */

enum { NSIDE = 300 };
typedef struct holder {
    void **side;    /* malloc'd: NSIDE pointers the procedure pushes */
    void *unpushed; /* a word of the object the procedure leaves alone */
    GC_word tag;
} holder;

typedef struct leaf {
    unsigned magic;
    struct leaf *next;   /* traced normally once the leaf is greyed */
} leaf;

static unsigned proc_kind, proc_calls, bad_env;
static struct GC_ms_entry *holder_mark(GC_word *addr, struct GC_ms_entry *msp, struct GC_ms_entry *msl, GC_word env) {
    holder *h = (holder *)addr;
    __atomic_add_fetch(&proc_calls, 1, __ATOMIC_RELAXED);
    if (env != 42) bad_env++;
    if (!h->side) return msp;
    for (int i = 0; i < NSIDE; i++) msp = GC_MARK_AND_PUSH(h->side[i], msp, msl, NULL);
    return msp;
}

static void *volatile root_holder;   /* the holder, while it is meant to live */
static GC_hidden_pointer side_links[NSIDE], chain_links[NSIDE], unpushed_link, holder_link;

/* The malloc'd side array, which only the mark procedure reads: kept here so that the ASan
 * build's leak check sees it owned after the holder dies (the collector ignores the word:
 * it points outside its heap). */
static void *volatile side_mem;

static void *make_holder(void *arg) {
    (void)arg;
    holder *h = GC_generic_malloc(sizeof *h, (int)proc_kind);
    CHECK(h && h->side == NULL && h->unpushed == NULL, "a new custom-kind object is zeroed");
    h->side = side_mem = malloc(NSIDE * sizeof(void *));
    for (int i = 0; i < NSIDE; i++) {
        leaf *l = GC_MALLOC(sizeof *l), *n = GC_MALLOC(sizeof *n);
        l->magic = MAGIC + (unsigned)i;
        n->magic = ~(MAGIC + (unsigned)i);
        l->next = n;
        h->side[i] = l;
        side_links[i] = GC_HIDE_POINTER(l);
        chain_links[i] = GC_HIDE_POINTER(n);
        CHECK(GC_general_register_disappearing_link((void **)&side_links[i], l) == GC_SUCCESS, "link");
        CHECK(GC_general_register_disappearing_link((void **)&chain_links[i], n) == GC_SUCCESS, "link");
    }
    void *u = GC_MALLOC(64);
    h->unpushed = u;
    unpushed_link = GC_HIDE_POINTER(u);
    CHECK(GC_general_register_disappearing_link((void **)&unpushed_link, u) == GC_SUCCESS, "link");
    holder_link = GC_HIDE_POINTER(h);
    CHECK(GC_general_register_disappearing_link((void **)&holder_link, h) == GC_SUCCESS, "link");
    size_t sz = 0;
    CHECK(GC_get_kind_and_size(h, &sz) == (int)proc_kind && sz >= sizeof *h, "GC_get_kind_and_size: kind %d",
          GC_get_kind_and_size(h, NULL));
    root_holder = h;
    return NULL;
}

static void *check_side(void *arg) {
    (void)arg;
    holder *h = root_holder;
    for (int i = 0; i < NSIDE; i++) {
        leaf *l = h->side[i];
        CHECK(side_links[i] && GC_REVEAL_POINTER(side_links[i]) == l, "side object %d survives", i);
        CHECK(chain_links[i] && GC_REVEAL_POINTER(chain_links[i]) == l->next, "its child %d survives", i);
        CHECK(l->magic == MAGIC + (unsigned)i && l->next->magic == ~(MAGIC + (unsigned)i), "contents of %d intact", i);
    }
    return NULL;
}

/* GC_realloc of a custom-kind object keeps its kind (the procedure still marks through it). */
static void *grow_holder(void *arg) {
    (void)arg;
    holder *h = GC_REALLOC(root_holder, sizeof(holder) * 4);
    CHECK(h && GC_get_kind_and_size(h, NULL) == (int)proc_kind, "GC_realloc keeps the kind");
    root_holder = h;
    GC_unregister_disappearing_link((void **)&holder_link);
    holder_link = GC_HIDE_POINTER(h);
    CHECK(GC_general_register_disappearing_link((void **)&holder_link, h) == GC_SUCCESS, "link");
    return NULL;
}

/* Mark procedures run on the collecting thread's stack, and their spilled pointers stay
 * there: collections whose garbage is checked run in threads of their own, on a stack
 * cleared below them first, so no stale copy from an earlier mark keeps an object. */
static void scrub_stack(void) {
    volatile char buf[64 << 10];
    memset((char *)buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}
static void *collect_in_thread(void *arg) {
    scrub_stack();
    collect((int)(intptr_t)arg);
    return NULL;
}

static void *proc_kind_live(void *arg) {
    (void)arg;
    void **fl = GC_new_free_list();
    CHECK(fl != NULL, "GC_new_free_list");
    unsigned pi = GC_new_proc(holder_mark);
    CHECK(pi >= GC_RESERVED_MARK_PROCS && pi < GC_MAX_MARK_PROCS, "GC_new_proc index %u", pi);
    proc_kind = GC_new_kind(fl, GC_MAKE_PROC(pi, 42), 0, 1);
    CHECK(proc_kind >= 4, "GC_new_kind index %u", proc_kind);
    in_thread(make_holder, NULL);
    for (int round = 0; round < 5; round++) {
        unsigned c0 = proc_calls;
        collect(1);
        CHECK(proc_calls > c0, "the mark procedure ran in collection %d", round);
        /* garbage between collections, so the heap is reused under the live leaves */
        for (int i = 0; i < 20000; i++) GC_MALLOC(sizeof(leaf));
        in_thread(check_side, NULL);
    }
    CHECK(bad_env == 0, "the procedure got GC_MAKE_PROC's environment");
    CHECK(unpushed_link == 0, "a word the procedure does not push keeps nothing");
    CHECK(holder_link != 0, "the holder lives while rooted");
    in_thread(grow_holder, NULL);
    collect(2);
    in_thread(check_side, NULL);
    return NULL;
}

static void proc_kind_test(void) {
    in_thread(proc_kind_live, NULL);
    /* the holder dies: then what only its procedure reached dies with it */
    root_holder = NULL;
    in_thread(collect_in_thread, (void *)3);
    CHECK(holder_link == 0, "the holder is collected once unreachable");
    int alive = 0;
    for (int i = 0; i < NSIDE; i++) alive += side_links[i] != 0 || chain_links[i] != 0;
    CHECK(alive == 0, "%d objects reached only from a dead holder's procedure survive", alive);
}

/* ---- overflow: entries written by the procedure itself ---- */

typedef struct mse {
    void *start;
    GC_word descr;
} mse;
enum { NOVER = 5000 };
static unsigned over_kind, nest_proc, over_calls, over_overflows;
static GC_hidden_pointer over_links[NOVER], bitmap_kept_link, bitmap_dropped_link;
static void **over_words;    /* malloc'd: NOVER words, one GC pointer each */
static void **bitmap_pair;   /* malloc'd pair: [0] pushed by a bitmap entry, [1] not */
static void *volatile root_over;   /* volatile: only ever written, its stores must stay */

static struct GC_ms_entry *nested_mark(GC_word *addr, struct GC_ms_entry *msp, struct GC_ms_entry *msl, GC_word env) {
    (void)addr, (void)env;
    mse *top = (mse *)msp, *lim = (mse *)msl;
    if (top + 1 >= lim) return msl;   /* bdwgc's overflow: returning the limit */
    *++top = (mse){bitmap_pair, ((GC_word)1 << (sizeof(GC_word) * 8 - 1)) | GC_DS_BITMAP};
    return (struct GC_ms_entry *)top;
}

static struct GC_ms_entry *over_mark(GC_word *addr, struct GC_ms_entry *msp, struct GC_ms_entry *msl, GC_word env) {
    (void)addr, (void)env;
    over_calls++;
    mse *top = (mse *)msp, *lim = (mse *)msl;
    for (int i = 0; i < NOVER; i++) {
        if (top + 1 >= lim) {
            over_overflows++;
            return msl;
        }
        *++top = (mse){&over_words[i], sizeof(void *) | GC_DS_LENGTH};
    }
    if (top + 1 >= lim) return msl;
    *++top = (mse){NULL, GC_MAKE_PROC(nest_proc, 0)};
    return (struct GC_ms_entry *)top;
}

static void *make_over(void *arg) {
    (void)arg;
    root_over = GC_generic_malloc(32, (int)over_kind);
    over_words = malloc(NOVER * sizeof(void *));
    for (int i = 0; i < NOVER; i++) {
        leaf *l = GC_MALLOC(sizeof *l);
        l->magic = MAGIC ^ (unsigned)i;
        over_words[i] = l;
        over_links[i] = GC_HIDE_POINTER(l);
        CHECK(GC_general_register_disappearing_link((void **)&over_links[i], l) == GC_SUCCESS, "link");
    }
    bitmap_pair = malloc(2 * sizeof(void *));
    bitmap_pair[0] = GC_MALLOC(16);
    bitmap_pair[1] = GC_MALLOC(16);
    bitmap_kept_link = GC_HIDE_POINTER(bitmap_pair[0]);
    bitmap_dropped_link = GC_HIDE_POINTER(bitmap_pair[1]);
    GC_general_register_disappearing_link((void **)&bitmap_kept_link, bitmap_pair[0]);
    GC_general_register_disappearing_link((void **)&bitmap_dropped_link, bitmap_pair[1]);
    return NULL;
}

static void overflow_test(void) {
    nest_proc = GC_new_proc(nested_mark);
    over_kind = GC_new_kind(GC_new_free_list(), GC_MAKE_PROC(GC_new_proc(over_mark), 0), 0, 1);
    in_thread(make_over, NULL);
    in_thread(collect_in_thread, (void *)2);
    CHECK(over_overflows > 0 && over_calls > over_overflows, "the procedure overflowed (%u of %u calls) and was retried",
          over_overflows, over_calls);
    int lost = 0;
    for (int i = 0; i < NOVER; i++)
        lost += !over_links[i] || ((leaf *)GC_REVEAL_POINTER(over_links[i]))->magic != (MAGIC ^ (unsigned)i);
    CHECK(lost == 0, "%d of %d objects pushed past an overflow were lost", lost, NOVER);
    CHECK(bitmap_kept_link != 0, "a nested procedure's bitmap entry marks its pointer word");
    CHECK(bitmap_dropped_link == 0, "words outside the bitmap keep nothing");
    root_over = NULL;
}

/* ---- predefined and descriptor kinds ---- */

static GC_hidden_pointer kl[16];
static void *volatile kroots[16];
static void *make_kind_obj(int slot, int kind, size_t size, int word) {
    void **o = GC_generic_malloc(size, kind);
    CHECK(o != NULL, "GC_generic_malloc kind %d", kind);
    void *t = GC_MALLOC(16);
    o[word] = t;
    kl[slot] = GC_HIDE_POINTER(t);
    GC_general_register_disappearing_link((void **)&kl[slot], t);
    return o;
}
static unsigned k_len16, k_bitmap, k_scan, k_noscan, k_perobj;
static void *make_kinds(void *arg) {
    (void)arg;
    kroots[0] = make_kind_obj(0, GC_I_PTRFREE, 32, 0);
    kroots[1] = make_kind_obj(1, GC_I_NORMAL, 32, 3);
    make_kind_obj(2, 2, 32, 1);   /* UNCOLLECTABLE: no root needed, scanned */
    kroots[3] = make_kind_obj(3, (int)k_len16, 32, 1);
    kroots[4] = make_kind_obj(4, (int)k_len16, 32, 2);
    kroots[5] = make_kind_obj(5, (int)k_bitmap, 32, 0);
    kroots[6] = make_kind_obj(6, (int)k_bitmap, 32, 1);
    kroots[7] = make_kind_obj(7, (int)k_scan, 64, 7);
    kroots[8] = make_kind_obj(8, (int)k_noscan, 64, 0);
    /* per-object: word 0 holds the descriptor (length 16: words 0-1 scanned) */
    void **p = make_kind_obj(9, (int)k_perobj, 48, 1);
    p[0] = (void *)(GC_word)(2 * sizeof(void *));
    kroots[9] = p;
    void **q = make_kind_obj(10, (int)k_perobj, 48, 2);
    q[0] = (void *)(GC_word)(2 * sizeof(void *));
    kroots[10] = q;
    return NULL;
}

static void kinds_test(void) {
    k_len16 = GC_new_kind(GC_new_free_list(), 2 * sizeof(void *) | GC_DS_LENGTH, 0, 1);
    /* bitmap: word 0 a pointer, word 1 not */
    k_bitmap = GC_new_kind(GC_new_free_list(), ((GC_word)1 << (sizeof(GC_word) * 8 - 1)) | GC_DS_BITMAP, 0, 1);
    k_scan = GC_new_kind(GC_new_free_list(), 0, 1, 1);
    k_noscan = GC_new_kind(GC_new_free_list(), 0, 0, 1);
    k_perobj = GC_new_kind(GC_new_free_list(), 0 | GC_DS_PER_OBJECT, 0, 1);
    in_thread(make_kinds, NULL);
    in_thread(collect_in_thread, (void *)2);
    static const struct {
        int slot, kept;
        const char *what;
    } want[] = {{0, 0, "PTRFREE"}, {1, 1, "NORMAL"}, {2, 1, "UNCOLLECTABLE"}, {3, 1, "length 16, word 1"},
                {4, 0, "length 16, word 2"}, {5, 1, "bitmap, word 0"}, {6, 0, "bitmap, word 1"},
                {7, 1, "whole object (0 + size)"}, {8, 0, "nothing (0)"}, {9, 1, "per-object length 16, word 1"},
                {10, 0, "per-object length 16, word 2"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK((kl[want[i].slot] != 0) == want[i].kept, "kind %s: the pointed-to object %s", want[i].what,
              want[i].kept ? "must survive" : "must be collected");
    CHECK(GC_get_kind_and_size(kroots[0], NULL) == GC_I_PTRFREE && GC_get_kind_and_size(kroots[1], NULL) == GC_I_NORMAL,
          "GC_get_kind_and_size of predefined kinds");
}

/* ---- GC_generic_malloc_many ---- */

static void *many_normal, *many_atomic;
static void *make_many(void *arg) {
    (void)arg;
    GC_generic_malloc_many(48, GC_I_NORMAL, &many_normal);
    GC_generic_malloc_many(16, GC_I_PTRFREE, &many_atomic);
    return NULL;
}
static int chain_len(void *p, size_t min, int *bad) {
    int n = 0;
    for (; p; p = GC_NEXT(p), n++)
        if (GC_base(p) != p || GC_size(p) < min) (*bad)++;
    return n;
}
static void many_test(void) {
    in_thread(make_many, NULL);
    int bad = 0;
    int nn = chain_len(many_normal, 48, &bad), na = chain_len(many_atomic, 16, &bad);
    CHECK(nn > 1 && na > 1 && bad == 0, "chains of %d and %d objects (%d bad)", nn, na, bad);
    in_thread(collect_in_thread, (void *)2);   /* the NORMAL chain is traced through its links from many_normal */
    int nn2 = chain_len(many_normal, 48, &bad);
    CHECK(nn2 == nn && bad == 0, "the chain survives collections: %d of %d", nn2, nn);
    void *m = GC_malloc_many(24);
    CHECK(m && GC_NEXT(m) && GC_size(m) >= 24, "GC_malloc_many");
}

/* ---- the start callback and GC_push_other_roots ---- */

static unsigned starts;
static void on_start(void) { starts++; }

static void **other_block;   /* malloc'd, pushed by the callback */
static GC_hidden_pointer other_link, marked_link, marked_hidden;   /* marked_hidden: set by GC_set_mark_bit */
static void push_other(void) {
    GC_push_all(other_block, other_block + 4);
    GC_set_mark_bit(GC_REVEAL_POINTER(marked_hidden));
}
static void *make_other(void *arg) {
    (void)arg;
    other_block = calloc(4, sizeof(void *));
    void *o = GC_MALLOC(40), *m = GC_MALLOC_ATOMIC(40);
    other_block[2] = o;
    other_link = GC_HIDE_POINTER(o);
    marked_link = marked_hidden = GC_HIDE_POINTER(m);
    GC_general_register_disappearing_link((void **)&other_link, o);
    GC_general_register_disappearing_link((void **)&marked_link, m);
    return NULL;
}

static int outside_child(void *arg) {
    (void)arg;
    static int x[4];
    GC_mark_and_push(x, NULL, NULL, NULL);
    return 0;
}

static void callbacks_test(void) {
    GC_set_start_callback(on_start);
    CHECK(GC_get_start_callback() == on_start, "GC_get_start_callback");
    unsigned s0 = starts;
    in_thread(collect_in_thread, (void *)3);
    CHECK(starts == s0 + 3, "the start callback ran %u times for 3 collections", starts - s0);
    GC_set_start_callback(NULL);
    in_thread(collect_in_thread, (void *)1);
    CHECK(starts == s0 + 3, "no callback once unset");

    in_thread(make_other, NULL);
    GC_push_other_roots_proc old = GC_get_push_other_roots();
    GC_set_push_other_roots(push_other);
    in_thread(collect_in_thread, (void *)3);
    CHECK(other_link != 0, "a range pushed by GC_push_all from GC_push_other_roots keeps its object");
    CHECK(marked_link != 0, "GC_set_mark_bit keeps an object");
    GC_set_push_other_roots(old);
    in_thread(collect_in_thread, (void *)2);
    CHECK(other_link == 0 && marked_link == 0, "both die once the callback is gone");

    child_result_t res;
    int st = run_fork(&res, outside_child, NULL);
    CHECK(st != 0 && strstr(res.err, "GC_mark_and_push") && strstr(res.err, "outside a mark procedure"),
          "GC_mark_and_push outside a mark aborts naming itself: status %d, stderr: %s", st, res.err);
}

int main(void) {
    GC_INIT();
    proc_kind_test();
    overflow_test();
    kinds_test();
    many_test();
    callbacks_test();
    printf("ok\n");
    return 0;
}
