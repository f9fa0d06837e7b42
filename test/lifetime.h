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

static TEST_UNUSED TEST_NOINLINE void lt_scrub_vector_regs(void)
{
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f"))
        __asm__ volatile("vpxord %%zmm16,%%zmm16,%%zmm16\n\tvpxord %%zmm17,%%zmm17,%%zmm17\n\t"
                         "vpxord %%zmm18,%%zmm18,%%zmm18\n\tvpxord %%zmm19,%%zmm19,%%zmm19\n\t"
                         "vpxord %%zmm20,%%zmm20,%%zmm20\n\tvpxord %%zmm21,%%zmm21,%%zmm21\n\t"
                         "vpxord %%zmm22,%%zmm22,%%zmm22\n\tvpxord %%zmm23,%%zmm23,%%zmm23\n\t"
                         "vpxord %%zmm24,%%zmm24,%%zmm24\n\tvpxord %%zmm25,%%zmm25,%%zmm25\n\t"
                         "vpxord %%zmm26,%%zmm26,%%zmm26\n\tvpxord %%zmm27,%%zmm27,%%zmm27\n\t"
                         "vpxord %%zmm28,%%zmm28,%%zmm28\n\tvpxord %%zmm29,%%zmm29,%%zmm29\n\t"
                         "vpxord %%zmm30,%%zmm30,%%zmm30\n\tvpxord %%zmm31,%%zmm31,%%zmm31" ::: "memory");
    if (__builtin_cpu_supports("avx"))
        __asm__ volatile("vzeroall" ::: "memory");
    else
        __asm__ volatile("pxor %%xmm0,%%xmm0\n\tpxor %%xmm1,%%xmm1\n\tpxor %%xmm2,%%xmm2\n\tpxor %%xmm3,%%xmm3\n\t"
                         "pxor %%xmm4,%%xmm4\n\tpxor %%xmm5,%%xmm5\n\tpxor %%xmm6,%%xmm6\n\tpxor %%xmm7,%%xmm7\n\t"
                         "pxor %%xmm8,%%xmm8\n\tpxor %%xmm9,%%xmm9\n\tpxor %%xmm10,%%xmm10\n\tpxor %%xmm11,%%xmm11\n\t"
                         "pxor %%xmm12,%%xmm12\n\tpxor %%xmm13,%%xmm13\n\tpxor %%xmm14,%%xmm14\n\tpxor %%xmm15,%%xmm15" ::: "memory");
#endif
}

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
