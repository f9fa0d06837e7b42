/*
 * typed.c: bdwgc's gc_typed.h on gcrt's precise layouts.
 *
 * A GC_descr is the address of a descr record (off-heap, never freed: bdwgc's descriptors
 * are made once per type). Each record keeps the gcrt layouts (gc_type_new) made for it,
 * one per object or element size seen, on a list that only grows: readers walk it without
 * the lock (entries are published with a release store). Words past the bitmap's length
 * hold no pointers, as in bdwgc.
 */
#define _GNU_SOURCE
#define GC_BUILD
#include "internal.h"
#include "compat/bdwgc.h"

#include <stdlib.h>

#define DESCR_MAGIC 0x6264777479706564ull   /* "bdwtyped" */

typedef struct layout {
    struct layout *next;
    size_t size;
    gc_type_t *type;
} layout;

typedef struct descr {
    uint64_t magic;
    struct descr *next;      /* all_descrs: bdwgc's API never frees a descriptor */
    size_t len, n;           /* bitmap words described, pointer words among them */
    layout *layouts;         /* atomic head */
    size_t offsets[];        /* byte offsets of the pointer words */
} descr;

static pthread_mutex_t descr_lock = PTHREAD_MUTEX_INITIALIZER;
static descr *all_descrs;   /* descr_lock; keeps each descriptor owned for the program's life */

GCRT_API GC_descr GC_make_descriptor(const GC_word *bm, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += GC_get_bit(bm, i);
    descr *d = malloc(sizeof *d + n * sizeof(size_t));
    if (!d) gcrt_fatal("GC_make_descriptor: out of memory");
    d->magic = DESCR_MAGIC;
    d->len = len;
    d->n = 0;
    d->layouts = NULL;
    for (size_t i = 0; i < len; i++)
        if (GC_get_bit(bm, i)) d->offsets[d->n++] = i * sizeof(GC_word);
    gcrt_lock(&descr_lock);
    d->next = all_descrs;
    all_descrs = d;
    pthread_mutex_unlock(&descr_lock);
    return (GC_descr)(uintptr_t)d;
}

static descr *descr_of(const char *who, GC_descr dw) {
    descr *d = (descr *)(uintptr_t)dw;
    if (!d || d->magic != DESCR_MAGIC) gcrt_fatal("%s: %#lx is not a descriptor from GC_make_descriptor", who, dw);
    return d;
}

/* The layout for objects (or elements) of size bytes. */
static gc_type_t *layout_for(const char *who, descr *d, size_t size) {
    for (layout *l = atomic_load_acquire(&d->layouts); l; l = l->next)
        if (l->size == size) return l->type;
    if (size < d->len * sizeof(GC_word))
        gcrt_fatal("%s: %zu bytes is less than the descriptor's %zu words", who, size, d->len);
    gcrt_lock(&descr_lock);
    layout *l;
    for (l = d->layouts; l; l = l->next)
        if (l->size == size) break;
    if (!l) {
        l = malloc(sizeof *l);
        gc_type_t *t = l ? gc_type_new(size, d->offsets, d->n) : NULL;
        if (!t) gcrt_fatal("%s: cannot make a layout of %zu bytes", who, size);
        l->size = size;
        l->type = t;
        l->next = d->layouts;
        atomic_store_release(&d->layouts, l);
    }
    pthread_mutex_unlock(&descr_lock);
    return l->type;
}

GCRT_API void *GC_malloc_explicitly_typed(size_t size, GC_descr dw) {
    bdw_thread();
    descr *d = descr_of("GC_malloc_explicitly_typed", dw);
    /* bdwgc's extra byte, rounded to a word (which holds no pointer) */
    size_t sz = round_up(size + (GC_all_interior_pointers ? 1 : 0), sizeof(GC_word));
    void *p = gc_alloc_typed(layout_for("GC_malloc_explicitly_typed", d, sz));
    if (unlikely(!p)) return GC_get_oom_fn()(size);
    bdw_fin_poll();
    return p;
}

GCRT_API void *GC_malloc_explicitly_typed_ignore_off_page(size_t size, GC_descr d) {
    return GC_malloc_explicitly_typed(size, d);
}

GCRT_API void *GC_calloc_explicitly_typed(size_t n, size_t elsize, GC_descr dw) {
    bdw_thread();
    descr *d = descr_of("GC_calloc_explicitly_typed", dw);
    if (elsize == 0 || elsize % sizeof(void *))
        gcrt_fatal("GC_calloc_explicitly_typed: element size %zu is not a positive multiple of %zu", elsize,
                   sizeof(void *));
    gc_type_t *t = layout_for("GC_calloc_explicitly_typed", d, elsize);
    /* one element more stands for bdwgc's extra byte past the end */
    void *p = gc_alloc_array(t, n + (GC_all_interior_pointers ? 1 : 0));
    if (unlikely(!p)) return n && elsize > SIZE_MAX / n ? NULL : GC_get_oom_fn()(n * elsize);
    bdw_fin_poll();
    return p;
}
