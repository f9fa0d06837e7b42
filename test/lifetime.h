/*
 * test/lifetime.h: helpers for the finalizer, cleanup, weak and unique tests.
 *
 * Making an object unreachable under a conservative collector: make it in a non-inlined
 * helper, keep only its hidden address (check.h's HIDE), and before each collection wipe
 * both the dead stack below the caller (churn_stack) and the vector registers, which the
 * collecting thread's saved context exposes to the scan (compilers keep pointers there
 * after struct copies and paired stores).
 *
 *   lt_scrub_vector_regs()   zero xmm/ymm/zmm registers
 *   lt_collect()             churn the stack, scrub, gc_collect()
 *   lt_alive(h)              the object at hidden address h is still allocated
 *   lt_in_thread(fn, arg)    run fn(arg) in a new registered thread and join it: garbage it
 *                            makes leaves no stale copy on any stack that is still scanned
 */
#ifndef GCRT_TEST_LIFETIME_H
#define GCRT_TEST_LIFETIME_H

#include "check.h"

#include <pthread.h>
#include <sys/mman.h>

/* gcrt's own (gc/final.c, internal): a static libgcrt.a links it for the tests */
void gcrt_scrub_vector_regs(void);
#define lt_scrub_vector_regs gcrt_scrub_vector_regs

static TEST_UNUSED TEST_NOINLINE void lt_collect(void)
{
    churn_stack();
    lt_scrub_vector_regs();
    gc_collect();
}

/* The address is unhidden only in this frame, never in a register a caller keeps. */
static TEST_UNUSED TEST_NOINLINE int lt_alive(uintptr_t h)
{
    return gc_base(UNHIDE(h)) == UNHIDE(h);
}

typedef struct lt_call {
    void (*fn)(void *);
    void *arg;
} lt_call_t;

static TEST_UNUSED void *lt_thread_main(void *p)
{
    lt_call_t *c = p;
    c->fn(c->arg);
    return NULL;
}

/* The thread runs on a stack of its own, unmapped after the join: glibc would otherwise
 * cache the stack and hand it to the next thread created (the finalizer thread, say), whose
 * frames leave some of the old words unwritten above its stack pointer, where they are
 * scanned again (seen under memcheck, which lays frames out differently). */
static TEST_UNUSED void lt_in_thread(void (*fn)(void *), void *arg)
{
    lt_call_t c = {fn, arg};
    pthread_t th;
    pthread_attr_t attr;
    size_t size = (size_t)1 << 20;
    void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    CHECK(stack != MAP_FAILED);
    CHECK(pthread_attr_init(&attr) == 0);
    CHECK(pthread_attr_setstack(&attr, stack, size) == 0);
    CHECK(gc_pthread_create(&th, &attr, lt_thread_main, &c) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    pthread_attr_destroy(&attr);
    CHECK(munmap(stack, size) == 0);
}

#endif /* GCRT_TEST_LIFETIME_H */
