/*
 * t_bdw_alloc: allocation calls through gc.h and gc_typed.h.
 * GC_base/GC_size on interior pointers and on non-GC memory, zeroed memory, GC_realloc
 * (grow, shrink, NULL, size 0), GC_strdup/GC_strndup, GC_posix_memalign (alignment and
 * EINVAL), a pointer one past the end keeps its object (bdwgc's extra byte), GC_free,
 * typed objects traced only at their described words, the collection counters and
 * GC_disable, and an unsupported call aborting with its name.
 */
#include "bdw_test.h"

char *volatile past_end;   /* one past the end of a 40-byte object (volatile: a root the compiler keeps) */
static GC_hidden_pointer lpast;
static void *make_past(void *arg) {
    (void)arg;
    char *p = GC_MALLOC(40);
    past_end = p + 40;
    lpast = GC_HIDE_POINTER(p);
    GC_general_register_disappearing_link((void **)&lpast, p);
    return NULL;
}

typedef struct rec {
    void *ptr;        /* described as a pointer */
    uintptr_t word;   /* holds an address but is described as data */
} rec;
rec *volatile typed_obj;
static GC_hidden_pointer lptr, lword;
static void *make_typed(void *arg) {
    GC_descr d = *(GC_descr *)arg;
    typed_obj = GC_MALLOC_EXPLICITLY_TYPED(sizeof(rec), d);
    CHECK(typed_obj && typed_obj->ptr == NULL && typed_obj->word == 0, "typed object zeroed");
    void *a = GC_MALLOC(16), *b = GC_MALLOC(16);
    typed_obj->ptr = a;
    typed_obj->word = (uintptr_t)b;
    lptr = GC_HIDE_POINTER(a), lword = GC_HIDE_POINTER(b);
    GC_general_register_disappearing_link((void **)&lptr, a);
    GC_general_register_disappearing_link((void **)&lword, b);
    return NULL;
}

static int unsupported_child(void *arg) {
    (void)arg;
    extern void GC_toggleref_add(void);   /* toggle-refs: unsupported */
    GC_toggleref_add();
    return 0;
}

int main(void) {
    GC_INIT();
    char *p = GC_MALLOC(100);
    for (int i = 0; i < 100; i++) CHECK(p[i] == 0, "zeroed");
    CHECK(GC_base(p + 57) == p, "GC_base of an interior pointer");
    CHECK(GC_size(p) >= 100, "GC_size %zu", GC_size(p));
    int local;
    CHECK(GC_base(&local) == NULL && GC_base(NULL) == NULL, "GC_base of non-GC memory");
    CHECK(GC_is_heap_ptr(p) && !GC_is_heap_ptr(&local), "GC_is_heap_ptr");
    memcpy(p, "abcdef", 7);
    char *q = GC_REALLOC(p, 10000);
    CHECK(q && !strcmp(q, "abcdef") && GC_size(q) >= 10000, "realloc grows and keeps the content");
    q = GC_REALLOC(q, 4);
    CHECK(q && !memcmp(q, "abcd", 4), "realloc shrinks");
    CHECK(GC_REALLOC(q, 0) == NULL, "realloc to 0 frees");
    char *r = GC_REALLOC(NULL, 24);
    CHECK(r && GC_base(r) == r, "realloc(NULL) allocates");
    char *s = GC_STRDUP("hello, world");
    CHECK(s && !strcmp(s, "hello, world") && GC_base(s) == s, "GC_strdup");
    char *sn = GC_strndup("hello, world", 5);
    CHECK(sn && !strcmp(sn, "hello"), "GC_strndup");
    size_t aligns[] = {8, 16, 64, 256, 4096};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        void *m = NULL;
        CHECK(GC_posix_memalign(&m, aligns[i], 100) == 0 && m, "posix_memalign %zu", aligns[i]);
        CHECK(((uintptr_t)m & (aligns[i] - 1)) == 0, "aligned to %zu: %p", aligns[i], m);
        memset(m, 1, 100);
    }
    void *m = NULL;
    CHECK(GC_posix_memalign(&m, 24, 8) == EINVAL && GC_posix_memalign(&m, 4, 8) == EINVAL, "EINVAL");
    void *atomic = GC_MALLOC_ATOMIC(1000);
    CHECK(atomic && GC_size(atomic) >= 1000, "atomic");
    GC_FREE(atomic);
    GC_FREE(NULL);

    in_thread(make_past, NULL);
    collect(2);
    CHECK(lpast != 0, "a pointer one past the end keeps the object");
    past_end = NULL;
    collect(2);
    CHECK(lpast == 0, "and the object dies without it");

    GC_word bm[1] = {0};
    GC_set_bit(bm, GC_WORD_OFFSET(rec, ptr));
    GC_descr d = GC_make_descriptor(bm, GC_WORD_LEN(rec));
    in_thread(make_typed, &d);
    collect(2);
    CHECK(lptr != 0, "the described pointer word is traced");
    CHECK(lword == 0, "the data word is not traced");
    rec *arr = GC_CALLOC_EXPLICITLY_TYPED(100, sizeof(rec), d);
    CHECK(arr && GC_size(arr) >= 100 * sizeof(rec), "typed array");

    GC_word n0 = GC_get_gc_no();
    size_t t0 = GC_get_total_bytes();
    GC_gcollect();
    CHECK(GC_get_gc_no() == n0 + 1, "GC_get_gc_no counts collections");
    CHECK(GC_get_heap_size() > 0 && GC_get_heap_size() >= GC_get_free_bytes(), "heap size");
    for (int i = 0; i < 1000; i++) GC_MALLOC(100);
    CHECK(GC_get_total_bytes() >= t0 + 100000, "total bytes");
    GC_disable();
    CHECK(GC_is_disabled(), "disabled");
    GC_gcollect();
    CHECK(GC_get_gc_no() == n0 + 1, "no collection while disabled");
    GC_enable();
    GC_gcollect();
    CHECK(GC_get_gc_no() == n0 + 2, "collections again");
    GC_set_free_space_divisor(6);
    CHECK(GC_get_free_space_divisor() == 6, "divisor");
    GC_enable_incremental();
    CHECK(!GC_is_incremental_mode(), "incremental mode is accepted, not entered");

    child_result_t res;
    int st = run_fork(&res, unsupported_child, NULL);
    CHECK(st != 0 && strstr(res.err, "GC_toggleref_add") && strstr(res.err, "not supported"),
          "unsupported call aborts naming it: status %d, stderr: %s", st, res.err);
    printf("ok\n");
    return 0;
}
