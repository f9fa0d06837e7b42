/*
 * t_bdw_alloc_lock: a thread is never stopped for a collection between the end of the
 * function it runs under GC_call_with_alloc_lock and its own next instructions.
 *
 * Guile 3.0.8 grows a thread's VM stack (mmap'd memory its thread kind's mark procedure
 * scans from the saved stack pointer to the top) under GC_call_with_alloc_lock: the
 * function moves the stack and its top, and the caller stores the new stack pointer only
 * after the call returns. With bdwgc no collection starts while the lock is held, and the
 * stop signal reaches the thread wherever it is by the time the collector has taken the
 * lock: past that store. The shim used to run the function as a gcrt critical section, so
 * a stop requested meanwhile parked the thread as the section ended, exactly before the
 * store, and the mark procedure read the old, unmapped stack (and Guile's own copy of it
 * returned live stack pages to the OS): several Guile threads consing at once crashed.
 *
 * Here a thread moves such a stack back and forth under the lock (the function also
 * spins 200 us, so a stop arrives while it runs in about every other collection) and
 * stores the new stack pointer after the call, then sleeps 0.2 ms; two threads allocate
 * garbage meanwhile, so collections keep starting. (A thread the kernel preempts in the
 * few instructions between the lock's release and that store can still be stopped there,
 * with bdwgc as here; the sleeps keep such preemptions of the mover rare.)
 * The kind's mark procedure counts the times it finds the stack pointer outside the
 * stack (a torn state) and otherwise pushes every slot; the stack's slots are the only
 * references to objects whose contents are checked as the test goes: the count must stay
 * 0 and no object may change.
 */
#include "bdw_test.h"
#include <gc_mark.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

enum { LIVE = 64, SMALL = 1024, BIG = 4096, ITERS_MIN = 500, GCS_MIN = 100 };
#define MAGIC 0x7a11c0deu

typedef struct vmstack {
    uintptr_t *bottom, *top, *sp;   /* [sp, top) is live; mmap'd, not GC memory */
    size_t words;
} vmstack;

typedef struct leaf {
    unsigned magic, slot;
} leaf;

static atomic_uint torn, marked;
static struct GC_ms_entry *stack_mark(GC_word *addr, struct GC_ms_entry *msp, struct GC_ms_entry *msl, GC_word env) {
    (void)env;
    vmstack *v = (vmstack *)addr;
    if (!v->bottom) return msp;
    if (v->sp < v->bottom || v->sp > v->top) {   /* the state the program never lets a mark see */
        atomic_fetch_add(&torn, 1);
        return msp;
    }
    atomic_fetch_add(&marked, 1);
    for (uintptr_t *p = v->sp; p < v->top; p++) msp = GC_MARK_AND_PUSH((void *)*p, msp, msl, NULL);
    return msp;
}

static uintptr_t *map_words(size_t n) {
    void *m = mmap(NULL, n * sizeof(uintptr_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED, "mmap of %zu words", n);
    return m;
}

static void spin_us(long us) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < us * 1000L);
}

/* Guile's vm_expand_stack_inner: move the stack, fix its bounds, hand back the new sp. */
typedef struct move {
    vmstack *v;
    uintptr_t *new_sp;
} move;
static void *move_stack(void *arg) {
    move *m = arg;
    vmstack *v = m->v;
    size_t words = v->words == SMALL ? BIG : SMALL;
    uintptr_t *nb = map_words(words), *nt = nb + words;
    size_t used = (size_t)(v->top - v->sp);
    memcpy(nt - used, v->sp, used * sizeof(uintptr_t));
    munmap(v->bottom, v->words * sizeof(uintptr_t));
    v->bottom = nb;
    v->top = nt;
    v->words = words;
    m->new_sp = nt - used;
    spin_us(200);
    return m;
}

static int stack_kind;
static vmstack *volatile the_stack;   /* a root: the custom-kind object itself stays */
static atomic_int stop;
static unsigned iterations;

static TEST_NOINLINE void put_leaf(vmstack *v, unsigned slot) {
    leaf *l = GC_MALLOC_ATOMIC(sizeof *l);
    l->magic = MAGIC;
    l->slot = slot;
    v->sp[slot] = (uintptr_t)l;   /* its only reference from here on */
}

static void check_leaves(vmstack *v) {
    for (unsigned i = 0; i < LIVE; i++) {
        leaf *l = (leaf *)v->sp[i];
        CHECK(l->magic == MAGIC && l->slot == i, "slot %u: the object only the stack references changed (freed "
              "while reachable); %u torn marks so far", i, atomic_load(&torn));
    }
}

static void *mover(void *arg) {
    (void)arg;
    vmstack *v = the_stack;
    for (unsigned i = 0; !atomic_load(&stop); i++) {
        move m = {v, NULL};
        CHECK(GC_call_with_alloc_lock(move_stack, &m) == &m, "GC_call_with_alloc_lock returns fn's value");
        v->sp = m.new_sp;   /* after the call, as Guile's vm_expand_stack */
        put_leaf(v, i % LIVE);
        if (i % 16 == 0) check_leaves(v);
        iterations = i + 1;
        struct timespec gap = {0, 200000};
        nanosleep(&gap, NULL);
    }
    check_leaves(v);
    return NULL;
}

static void *allocator(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        void **l = NULL;
        for (int i = 0; i < 1000; i++) {
            void **c = GC_MALLOC(4 * sizeof(void *));
            c[0] = l;
            l = c;
        }
    }
    return NULL;
}

int main(void) {
    GC_INIT();
    stack_kind = (int)GC_new_kind(GC_new_free_list(), GC_MAKE_PROC(GC_new_proc(stack_mark), 0), 0, 1);
    vmstack *v = GC_generic_malloc(sizeof *v, stack_kind);
    v->bottom = map_words(SMALL);
    v->top = v->bottom + SMALL;
    v->words = SMALL;
    v->sp = v->top - LIVE;
    for (unsigned i = 0; i < LIVE; i++) put_leaf(v, i);
    the_stack = v;

    pthread_t m, a[2];
    GC_word gc0 = GC_get_gc_no();
    CHECK(GC_pthread_create(&m, NULL, mover, NULL) == 0);
    for (int i = 0; i < 2; i++) CHECK(GC_pthread_create(&a[i], NULL, allocator, NULL) == 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if ((iterations >= ITERS_MIN && GC_get_gc_no() - gc0 >= GCS_MIN) || s > 20) break;
    }
    atomic_store(&stop, 1);
    CHECK(GC_pthread_join(m, NULL) == 0);
    for (int i = 0; i < 2; i++) CHECK(GC_pthread_join(a[i], NULL) == 0);
    unsigned gcs = (unsigned)(GC_get_gc_no() - gc0);
    printf("%u stack moves, %u collections, %u marks of the stack, %u torn\n", iterations, gcs,
           atomic_load(&marked), atomic_load(&torn));
    CHECK(gcs >= GCS_MIN && iterations >= ITERS_MIN, "the run was too short to say anything (%u collections, %u moves)",
          gcs, iterations);
    CHECK(atomic_load(&torn) == 0, "a collection stopped the moving thread between GC_call_with_alloc_lock's fn "
          "and its caller's next store %u times", atomic_load(&torn));
    check_leaves(v);
    puts("ok");
    return 0;
}
