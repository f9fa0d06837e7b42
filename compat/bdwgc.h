/*
 * compat/bdwgc.h: what the bdwgc compatibility sources share (not installed).
 *
 * gcrt_bdw_tab is an open-addressing hash table of (key, value) words in malloc'd memory.
 * Its readers include the collector in a pause (links at mark termination, the conservative
 * scan of a root table), so every update runs inside a gcrt critical section and never
 * allocates there: a growing table is allocated (and, for a root table, registered) before
 * the section and swapped in inside it. Keys 0 (empty) and 1 (deleted) are reserved.
 */
#ifndef GCRT_COMPAT_BDWGC_H
#define GCRT_COMPAT_BDWGC_H
#include "compat/include/gc.h"
#include "compat/include/gc_typed.h"

typedef struct gcrt_bdw_ent {
    uintptr_t key, val;
} gcrt_bdw_ent;
typedef struct gcrt_bdw_tab {
    pthread_mutex_t lock;    /* held only inside critical sections */
    gcrt_bdw_ent *e;
    size_t cap, n, used;     /* slots, live entries, live + deleted */
    bool root;               /* the entries are a registered root range */
} gcrt_bdw_tab;
GCRT_HIDDEN int gcrt_bdw_tab_init(gcrt_bdw_tab *t, bool root);
/* 1 new, 0 replaced (the old value in *old if old), -ENOMEM. */
GCRT_HIDDEN int gcrt_bdw_tab_put(gcrt_bdw_tab *t, uintptr_t key, uintptr_t val);
GCRT_HIDDEN bool gcrt_bdw_tab_get(gcrt_bdw_tab *t, uintptr_t key, uintptr_t *val);
GCRT_HIDDEN bool gcrt_bdw_tab_del(gcrt_bdw_tab *t, uintptr_t key, uintptr_t *val);
/* With the world stopped (no update can be in progress): a lookup without the lock, and
 * the removal of every entry whose key is not a marked object's address. */
GCRT_HIDDEN bool gcrt_bdw_tab_peek(const gcrt_bdw_tab *t, uintptr_t key, uintptr_t *val);
GCRT_HIDDEN void gcrt_bdw_tab_sweep(gcrt_bdw_tab *t);

GCRT_HIDDEN gcrt_thread *gcrt_bdw_thread_slow(void);
/* The calling thread, registered, the library initialised. */
static inline gcrt_thread *bdw_thread(void) {
    gcrt_thread *t = gcrt_self;
    if (unlikely(!t)) t = gcrt_bdw_thread_slow();
    return t;
}

/* final.c: finalizers queued since the last look run here (or the notifier is called, with
 * GC_finalize_on_demand), as bdwgc runs them from allocation. One load and compare. */
extern GCRT_HIDDEN const volatile uint32_t *gcrt_bdw_finseq;
extern GCRT_HIDDEN uint32_t gcrt_bdw_finseen;
GCRT_HIDDEN void gcrt_bdw_fin_notify(void);
static inline void bdw_fin_poll(void) {
    if (unlikely(*gcrt_bdw_finseq != gcrt_bdw_finseen)) gcrt_bdw_fin_notify();
}
GCRT_HIDDEN void gcrt_bdw_links_init(void);
/* kinds.c: custom kinds and mark procedures. */
GCRT_HIDDEN void gcrt_bdw_kinds_init(void);
GCRT_HIDDEN bool gcrt_bdw_kind_of(void *base, unsigned *k);
GCRT_HIDDEN void gcrt_bdw_kind_forget(void *base);
GCRT_HIDDEN void *gcrt_bdw_kind_realloc(void *p, unsigned k, size_t n);
GCRT_HIDDEN bool gcrt_bdw_is_uncollectable(void *base);   /* bdwgc.c */

GCRT_HIDDEN __attribute__((format(printf, 1, 2))) void gcrt_bdw_warn(const char *fmt, ...);
GCRT_HIDDEN __attribute__((noreturn)) void gcrt_bdw_unsupported(const char *call);
#endif
