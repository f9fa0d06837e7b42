/*
 * gc_mark.h: bdwgc 8.2's object kinds and mark procedures, on gcrt (compat/kinds.c).
 * Same ABI as bdwgc's header of that name: descriptors, GC_new_kind/GC_new_proc,
 * GC_generic_malloc(_many), GC_mark_and_push and the push calls a mark procedure or a
 * GC_push_other_roots callback may make. docs/bdwgc.md says how they map.
 */
#ifndef GC_MARK_H
#define GC_MARK_H
#include "gc.h"
#ifdef __cplusplus
extern "C" {
#endif

/* A mark stack entry: opaque here; a procedure pushes with GC_mark_and_push. */
#if defined(GC_BUILD)
struct GC_ms_entry;
#else
struct GC_ms_entry { void *opaque; };
#endif
typedef struct GC_ms_entry *(*GC_mark_proc)(GC_word *addr, struct GC_ms_entry *mark_stack_ptr,
                                            struct GC_ms_entry *mark_stack_limit, GC_word env);

#define GC_PROC_BYTES 100
#define GC_LOG_MAX_MARK_PROCS 6
#define GC_MAX_MARK_PROCS (1 << GC_LOG_MAX_MARK_PROCS)
#define GC_RESERVED_MARK_PROCS 8
#define GC_GCJ_RESERVED_MARK_PROC_INDEX 0

/* Descriptors: the low GC_DS_TAG_BITS bits say how the rest is read. */
#define GC_DS_TAG_BITS 2
#define GC_DS_TAGS ((1 << GC_DS_TAG_BITS) - 1)
#define GC_DS_LENGTH 0       /* the word is a byte count from the start: scan it all */
#define GC_DS_BITMAP 1       /* the high bits flag pointer words, the top bit the first word */
#define GC_DS_PROC 2         /* a mark procedure's index and an environment word */
#define GC_MAKE_PROC(proc_index, env) \
    (((((env) << GC_LOG_MAX_MARK_PROCS) | (proc_index)) << GC_DS_TAG_BITS) | GC_DS_PROC)
#define GC_DS_PER_OBJECT 3   /* the descriptor is in the object (or its type record, if negative) */
#define GC_INDIR_PER_OBJ_BIAS 0x10

/* Bounds of the heap, for GC_MARK_AND_PUSH's quick test; valid during a mark. */
GC_API void *GC_least_plausible_heap_addr;
GC_API void *GC_greatest_plausible_heap_addr;

GC_API struct GC_ms_entry *GC_mark_and_push(void *obj, struct GC_ms_entry *mark_stack_ptr,
                                            struct GC_ms_entry *mark_stack_limit, void **src);
#define GC_MARK_AND_PUSH(obj, msp, lim, src)                                      \
    ((GC_word)(obj) >= (GC_word)GC_least_plausible_heap_addr &&                   \
             (GC_word)(obj) <= (GC_word)GC_greatest_plausible_heap_addr            \
         ? GC_mark_and_push(obj, msp, lim, src)                                    \
         : (msp))

GC_API size_t GC_get_debug_header_size(void);
#define GC_USR_PTR_FROM_BASE(p) ((void *)((char *)(p) + GC_get_debug_header_size()))

GC_API void **GC_new_free_list(void);
GC_API void **GC_new_free_list_inner(void);
GC_API unsigned GC_new_kind(void **free_list, GC_word mark_descriptor_template, int add_size_to_descriptor,
                            int clear_new_objects);
GC_API unsigned GC_new_kind_inner(void **free_list, GC_word mark_descriptor_template,
                                  int add_size_to_descriptor, int clear_new_objects);
GC_API unsigned GC_new_proc(GC_mark_proc);
GC_API unsigned GC_new_proc_inner(GC_mark_proc);

GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_generic_malloc(size_t lb, int knd);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_generic_malloc_ignore_off_page(size_t lb, int knd);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_generic_malloc_uncollectable(size_t lb, int knd);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_generic_or_special_malloc(size_t lb, int knd);
GC_API void GC_generic_malloc_many(size_t lb, int knd, void **result);
GC_API GC_ATTR_MALLOC void *GC_malloc_many(size_t lb);
#define GC_NEXT(p) (*(void **)(p))
GC_API int GC_get_kind_and_size(const void *p, size_t *psize);

/* Kinds that allocation inlined from bdwgc's gc_inline.h names. */
#define GC_I_PTRFREE 0
#define GC_I_NORMAL 1

typedef void (*GC_start_callback_proc)(void);
GC_API void GC_set_start_callback(GC_start_callback_proc);
GC_API GC_start_callback_proc GC_get_start_callback(void);

GC_API void GC_set_mark_bit(const void *);
GC_API void GC_push_all(void *bottom, void *top);
GC_API void GC_push_all_eager(void *bottom, void *top);
GC_API void GC_push_conditional(void *bottom, void *top, int all);
typedef void (*GC_push_other_roots_proc)(void);
GC_API void GC_set_push_other_roots(GC_push_other_roots_proc);
GC_API GC_push_other_roots_proc GC_get_push_other_roots(void);

#ifdef __cplusplus
}
#endif
#endif
