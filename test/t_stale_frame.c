/*
 * t_stale_frame: a stopped thread keeps alive only what its registers and live stack hold.
 *
 * The suspend signal's frame, and the handler's frames below it, land on the thread's dead
 * stack. What the kernel does not write there (vector state in its initial configuration,
 * which XSAVE skips, and alignment gaps) and the slots the handler's frames leave unwritten
 * keep whatever the thread's last deep call put there. Here a thread fills its dead stack
 * with an object's address, clears its vector registers (vzeroall: the AVX state is then
 * initial, and the kernel writes none of it into the frame) and waits in a system call.
 * Every collection stops it there; the object must still be freed. Before the fix the
 * address was found in the frame's ymm area (XSTATE_BV bit 2 clear), and under ASan also in
 * the handler's frames, and the object was kept for good (t_final failed under ASan so).
 *
 * The other side: an object whose address is only in the upper half of a stopped thread's
 * ymm register (the thread waits inside one asm block, so no compiler-made copy exists)
 * is kept, whatever the collector now skips of the frame.
 */
#include "lifetime.h"

#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FILL_WORDS 4096   /* 32 KiB below the waiter's frame */
#define CLEAN_WORDS 64    /* nearest the frame: left zero, for the red zone and saved registers */

static uintptr_t hidden;
static _Atomic int phase;

static TEST_NOINLINE uintptr_t make_object(void)
{
    void **o = gc_alloc(64);
    CHECK(o != NULL);
    o[0] = o;   /* something to see if it were scanned */
    return HIDE(o);
}

/* The address is unhidden only here; the words nearest the caller stay zero. */
static TEST_NOINLINE __attribute__((no_sanitize_address)) void fill_dead_stack(uintptr_t h)
{
    volatile uintptr_t buf[FILL_WORDS];
    for (size_t i = 0; i < FILL_WORDS; i++) buf[i] = i < FILL_WORDS - CLEAN_WORDS ? (uintptr_t)UNHIDE(h) : 0;
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static void futex_wait(_Atomic int *w, int v) { syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0); }
static void futex_wake(_Atomic int *w) { syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

static void *waiter(void *arg)
{
    (void)arg;
    fill_dead_stack(hidden);
    lt_scrub_vector_regs();
    atomic_store(&phase, 1);
    while (atomic_load(&phase) == 1) futex_wait(&phase, 1);
    return NULL;
}

/* Waits until phase leaves 1 with the object's address only in ymm6's upper half: the
 * hidden address and the key meet in xmm registers, never in a general one. */
static void *ymm_holder(void *arg)
{
    uintptr_t h = *(uintptr_t *)arg, key = HIDE_KEY;
    atomic_store(&phase, 1);
    __asm__ volatile("vmovq %[h], %%xmm6\n\t"
                     "vmovq %[key], %%xmm7\n\t"
                     "vpxor %%xmm7, %%xmm6, %%xmm6\n\t"
                     "vinsertf128 $1, %%xmm6, %%ymm6, %%ymm6\n\t"
                     "vpxor %%xmm7, %%xmm7, %%xmm7\n\t"
                     "vinsertf128 $0, %%xmm7, %%ymm6, %%ymm6\n\t"   /* the low half: zero */
                     "1:\n\t"
                     "mov %[nr], %%eax\n\t"
                     "mov %[w], %%rdi\n\t"
                     "mov %[op], %%esi\n\t"
                     "mov $1, %%edx\n\t"
                     "xor %%r10d, %%r10d\n\t"
                     "syscall\n\t"
                     "cmpl $1, (%[w])\n\t"
                     "je 1b\n\t"
                     "vzeroupper"
                     :
                     : [h] "r"(h), [key] "r"(key), [w] "r"(&phase), [nr] "i"(SYS_futex), [op] "i"(FUTEX_WAIT_PRIVATE)
                     : "rax", "rdi", "rsi", "rdx", "r10", "rcx", "r11", "xmm6", "xmm7", "memory");
    return NULL;
}

int main(void)
{
    gc_init();
    gc_set_percent(-1);   /* cycles only where the test asks for them */
    hidden = make_object();
    pthread_t t;
    CHECK(gc_pthread_create(&t, NULL, waiter, NULL) == 0);
    while (atomic_load(&phase) != 1) usleep(1000);
    usleep(50 * 1000);   /* in its futex wait, where every stop interrupts it */
    int cycles = 0;
    for (; cycles < 4 && lt_alive(hidden); cycles++)
        lt_collect();
    CHECK(!lt_alive(hidden), "the object was kept by stale words in a stopped thread's signal frame (%d cycles)", cycles);
    atomic_store(&phase, 2);
    futex_wake(&phase);
    CHECK(pthread_join(t, NULL) == 0);
    printf("freed after %d cycles with the waiter stopped in its futex wait\n", cycles);

    if (!__builtin_cpu_supports("avx")) {
        printf("no AVX: no ymm register to hold an address; the live-register half did not run\n");
        return 0;
    }
    static uintptr_t live;
    live = make_object();
    atomic_store(&phase, 0);
    CHECK(gc_pthread_create(&t, NULL, ymm_holder, &live) == 0);
    while (atomic_load(&phase) != 1) usleep(1000);
    usleep(50 * 1000);
    for (int i = 0; i < 3; i++) {
        lt_collect();
        CHECK(lt_alive(live), "an object whose address was only in a stopped thread's ymm register was freed");
    }
    atomic_store(&phase, 2);
    futex_wake(&phase);
    CHECK(pthread_join(t, NULL) == 0);
    printf("kept for 3 cycles by a stopped thread's ymm register alone\n");
    return 0;
}
