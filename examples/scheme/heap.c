/*
 * heap.c: layouts, strings and vectors, symbol interning and the global variable table.
 *
 * Invariants:
 * - a symbol is its canonical name + 2. With gcrt the name is gc_unique_bytes' copy, so two
 *   symbols with the same name are the same word (eq?) for as long as either is referenced,
 *   and an unreferenced symbol's name is collected. The SCHEME_BDWGC build interns into a
 *   table of its own (names never collected).
 * - the global table maps a symbol to its cell; cells are never removed, so compiled code
 *   can hold a cell and skip the lookup. The table array is a heap object referenced from
 *   static data (scanned by both collectors); inserting into an empty slot is a STORE.
 */
#include "scheme.h"

#include <stdlib.h>

#ifndef SCHEME_BDWGC
gc_type_t *scm_t_word, *scm_t_pair, *scm_t_closure, *scm_t_cell;
#endif

void scm_oom(void) {
    fprintf(stderr, "scheme: out of memory\n");
    exit(2);
}

V make_string(const char *s, size_t n) {
    Str *p = alloc_raw(sizeof(Str) + n + 1);
    CHECK_ALLOC(p);
    p->hdr = HDR(T_STR, 0);
    p->len = n;
    if (s) memcpy(p->s, s, n);
    p->s[n] = 0;
    return (V)p;
}

V make_vector(size_t n, V fill) {
    uintptr_t *w = make_words(T_VEC, n);
    for (size_t i = 0; i < n; i++) w[1 + i] = fill;   /* fresh object: no barrier */
    return (V)w;
}

#ifdef SCHEME_BDWGC
static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* Open-addressed table of names (GC_MALLOC'd, reachable from this static). */
static char **symtab;
static size_t symcap, symcount;

V intern(const char *name, size_t n) {
    if (symcount * 2 >= symcap) {
        size_t ncap = symcap ? symcap * 2 : 1024;
        char **nt = GC_MALLOC(ncap * sizeof(char *));
        CHECK_ALLOC(nt);
        for (size_t i = 0; i < symcap; i++) {
            if (!symtab[i]) continue;
            size_t j = hash_bytes(symtab[i], strlen(symtab[i])) & (ncap - 1);
            while (nt[j]) j = (j + 1) & (ncap - 1);
            nt[j] = symtab[i];
        }
        symtab = nt;
        symcap = ncap;
    }
    size_t j = hash_bytes(name, n) & (symcap - 1);
    for (; symtab[j]; j = (j + 1) & (symcap - 1))
        if (strlen(symtab[j]) == n && memcmp(symtab[j], name, n) == 0) return (V)symtab[j] + 2;
    char *c = GC_MALLOC_ATOMIC(n + 1 < 8 ? 8 : n + 1);
    CHECK_ALLOC(c);
    memcpy(c, name, n);
    c[n] = 0;
    symtab[j] = c;
    symcount++;
    return (V)c + 2;
}
#else
V intern(const char *name, size_t n) {
    const char *u = gc_unique_bytes(name, n);
    CHECK_ALLOC(u);
    if ((uintptr_t)u & 7) {
        fprintf(stderr, "scheme: gc_unique_bytes returned an unaligned pointer %p\n", (void *)u);
        abort();
    }
    return (V)u + 2;
}
#endif

/* Globals: open addressing on the symbol word; entries are cells. */
static V *gtab;
static size_t gcap, gcount;

static size_t sym_hash(V sym) { return (size_t)((sym >> 3) * 0x9E3779B97F4A7C15ull >> 20); }

V global_cell(V sym) {
    if (gcount * 2 >= gcap) {
        size_t ncap = gcap ? gcap * 2 : 512;
        V *nt = alloc_words(ncap);
        CHECK_ALLOC(nt);
        for (size_t i = 0; i < gcap; i++) {
            if (!gtab[i]) continue;
            size_t j = sym_hash(CELLP(gtab[i])->sym) & (ncap - 1);
            while (nt[j]) j = (j + 1) & (ncap - 1);
            nt[j] = gtab[i];   /* fresh array: no barrier */
        }
        gtab = nt;
        gcap = ncap;
    }
    size_t j = sym_hash(sym) & (gcap - 1);
    for (; gtab[j]; j = (j + 1) & (gcap - 1))
        if (CELLP(gtab[j])->sym == sym) return gtab[j];
    Cell *c = alloc_cell();
    CHECK_ALLOC(c);
    c->hdr = HDR(T_CELL, 0);
    c->sym = sym;
    c->value = 0;
    STORE(gtab[j], (V)c);
    gcount++;
    return (V)c;
}

void heap_init(void) {
#ifdef SCHEME_BDWGC
    GC_INIT();
#else
    gc_init();
    static const size_t word_offs[] = {0};
    static const size_t pair_offs[] = {offsetof(Pair, car), offsetof(Pair, cdr)};
    static const size_t clo_offs[] = {offsetof(Closure, lambda), offsetof(Closure, env)};
    static const size_t cell_offs[] = {offsetof(Cell, value), offsetof(Cell, sym)};
    scm_t_word = gc_type_new(sizeof(V), word_offs, 1);
    scm_t_pair = gc_type_new(sizeof(Pair), pair_offs, 2);
    scm_t_closure = gc_type_new(sizeof(Closure), clo_offs, 2);
    scm_t_cell = gc_type_new(sizeof(Cell), cell_offs, 2);
    if (!scm_t_word || !scm_t_pair || !scm_t_closure || !scm_t_cell) {
        fprintf(stderr, "scheme: gc_type_new failed\n");
        exit(2);
    }
#endif
}
