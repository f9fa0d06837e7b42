/*
 * gc_typed.h: bdwgc 8.2's typed allocation on gcrt's precise layouts (gc_type_new). A
 * descriptor is a bitmap of pointer words; words past its length hold no pointers.
 */
#ifndef GCRT_BDWGC_GC_TYPED_H
#define GCRT_BDWGC_GC_TYPED_H
#define GC_TYPED_H
#include "gc.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef GC_word *GC_bitmap;
#define GC_WORDSZ (8 * sizeof(GC_word))
#define GC_get_bit(bm, index) (((bm)[(index) / GC_WORDSZ] >> ((index) % GC_WORDSZ)) & 1)
#define GC_set_bit(bm, index) ((bm)[(index) / GC_WORDSZ] |= (GC_word)1 << ((index) % GC_WORDSZ))
#define GC_WORD_OFFSET(t, f) (offsetof(t, f) / sizeof(GC_word))
#define GC_WORD_LEN(t) (sizeof(t) / sizeof(GC_word))
#define GC_BITMAP_SIZE(t) ((GC_WORD_LEN(t) + GC_WORDSZ - 1) / GC_WORDSZ)

typedef GC_word GC_descr;
/* A descriptor for objects whose first len words are described by bm (bit set: pointer).
 * Meant to be made once per type; it lives for the program's lifetime. */
GC_API GC_descr GC_make_descriptor(const GC_word *bm, size_t len);
/* A zeroed object of size bytes (at least len words), scanned precisely. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc_explicitly_typed(size_t size, GC_descr d);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_malloc_explicitly_typed_ignore_off_page(size_t size, GC_descr d);
/* n elements of element_size bytes (a multiple of sizeof(void *)), each described by d. */
GC_API GC_ATTR_MALLOC GC_ATTR_CALLOC_SIZE(1, 2) void *GC_calloc_explicitly_typed(size_t n, size_t element_size,
                                                                                 GC_descr d);
#define GC_MALLOC_EXPLICITLY_TYPED(bytes, d) GC_malloc_explicitly_typed(bytes, d)
#define GC_CALLOC_EXPLICITLY_TYPED(n, bytes, d) GC_calloc_explicitly_typed(n, bytes, d)

#ifdef __cplusplus
}
#endif
#endif
