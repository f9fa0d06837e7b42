/*
 * os.c: the only place gcrt talks to the kernel about memory, and the off-heap metadata
 * allocator.
 *
 * Fault injection (tests): gcrt_fault_set(kind, n) makes the n-th following mmap or commit
 * (kind MMAP) or madvise (kind MADVISE) fail as if the kernel refused, and every later one
 * too, until gcrt_fault_set(kind, 0): memory stays unavailable until it "returns".
 * GCRT_FAULT_MMAP=N[:SEED] in the environment (read at init, runtime/init.c) refuses about
 * one in N of the heap's reservations and commits and of the metadata reservations instead,
 * for a whole process (a soak, t_fault_mmap): call k fails when a hash of (SEED, k) is 0
 * mod N, so a run's sequence of refusals is fixed by the seed and the order of calls. Each
 * refusal is told on stderr (a test counts them there). It spares no thread: the grower's
 * refused growth is only growth not done ahead.
 *
 * Metadata blocks come from power-of-two free lists carved from 256 KiB mappings, guarded by
 * meta_lock. They are never scanned: gcrt's own bookkeeping never keeps objects alive.
 */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

static long fault_nth[2];
uint64_t gcrt_meta_sys;

void gcrt_fault_set(int kind, long nth) { atomic_store_relaxed(&fault_nth[kind], nth); }

/* The grower stands aside while a test injects mmap faults: they are aimed at the calls of
 * the thread under test, and a growth in the background would take (or dodge) them. It
 * is exempt too, for the growth it began just before the test armed them (t_enomem: the
 * fault meant for a 700 MiB allocation went to the grower's chunk). */
bool gcrt_fault_armed(void) { return atomic_load_relaxed(&fault_nth[GCRT_FAULT_MMAP]) != 0; }
static __thread bool fault_exempt;
void gcrt_fault_exempt(void) { fault_exempt = true; }

static uint64_t rand_every, rand_seed, rand_calls, rand_refused;

void gcrt_fault_random(uint64_t every, uint64_t seed) {
    rand_seed = seed;
    atomic_store_relaxed(&rand_every, every);
}

/* splitmix64's finaliser: consecutive call numbers give independent-looking draws. */
static uint64_t mix64(uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static bool fault_random_hit(const char *what, size_t size) {
    uint64_t every = atomic_load_relaxed(&rand_every);
    if (likely(every == 0)) return false;
    uint64_t k = __atomic_add_fetch(&rand_calls, 1, __ATOMIC_RELAXED);
    if (mix64(rand_seed * 0x9e3779b97f4a7c15ull + k) % every) return false;
    uint64_t r = __atomic_add_fetch(&rand_refused, 1, __ATOMIC_RELAXED);
    gcrt_warn("GCRT_FAULT_MMAP: refused %s of %zu bytes (call %llu, refusal %llu)", what, size,
              (unsigned long long)k, (unsigned long long)r);
    return true;
}

static bool fault_hit(int kind) {
    long n = atomic_load_relaxed(&fault_nth[kind]);
    if (likely(n == 0) || fault_exempt) return false;
    if (n < 0) return true;
    if (__atomic_sub_fetch(&fault_nth[kind], 1, __ATOMIC_RELAXED) > 0) return false;
    atomic_store_relaxed(&fault_nth[kind], -1);
    return true;
}

/* Heap arenas are placed from a hint, as Go places its own from 0x00c000000000, but higher:
 * at 0x3ec000000000 (about 63 TiB; the next hint 1 TiB further on when the kernel cannot
 * place one there), where no 32- or 40-bit integer, size, flag word or text a program keeps
 * can be mistaken by a conservative scan for a heap pointer. Left to itself a kernel (or
 * valgrind, which hands out low addresses) may put the heap at 0x8000000 = 128 Mi, a value
 * in libc's and ld.so's constants, and the first object there would never die; Go's own
 * 0xc000000000 is still inside the range of 40-bit random values a program may store. */
#define ARENA_HINT_START ((uintptr_t)0x3ec0 << 32)
#define ARENA_HINT_STEP ((uintptr_t)1 << 40)
#define ARENA_HINT_TRIES 8
static uintptr_t arena_hint = ARENA_HINT_START;   /* under heap.lock, as every caller is */

/* The whole arena is mapped accessible at once, as Go maps a whole arena (MAP_NORESERVE:
 * no memory until a page is touched). Making each 4 MiB chunk accessible as it was
 * committed took mmap_lock for writing: it waited for the grower's fault-in (which holds
 * it for reading for milliseconds), and every other thread's page faults queued behind it,
 * so a stop-the-world waited for them (mark termination stops of 4-40 ms in the pause
 * probe). */
static void *reserve_hinted(size_t size, size_t len) {
    for (int i = 0; i < ARENA_HINT_TRIES && sizeof(void *) == 8; i++) {
        void *want = (void *)arena_hint;
        void *p = mmap(want, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == want) {   /* aligned: the caller trims only the tail, so the next one fits on */
            arena_hint += size;
            return p;
        }
        if (p != MAP_FAILED) munmap(p, len);
        arena_hint = (arena_hint & ~(ARENA_HINT_STEP - 1)) + ARENA_HINT_STEP;
    }
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* The aligned `size` bytes of a mapping p of size + align bytes, the rest unmapped; marked
 * for huge pages once the heap is in them. */
static void *trim_aligned(void *p, size_t size, size_t align) {
    uintptr_t start = round_up((uintptr_t)p, align), end = start + size, pend = (uintptr_t)p + size + align;
    if (start > (uintptr_t)p) munmap(p, start - (uintptr_t)p);
    if (pend > end) munmap((void *)end, pend - end);
    if (gcrt_os_thp()) (void)madvise((void *)start, size, MADV_HUGEPAGE);
    return (void *)start;
}

/* THP "always": the kernel backs any anonymous range with huge pages, at a fault and by
 * khugepaged, unless it is MADV_NOHUGEPAGE. Arenas reserved before the heap goes huge are
 * marked so, to be in the 4 KiB pages that the accounting counts them in (heap.c, the
 * arenas' small bits); the switch's MADV_HUGEPAGE overrides it for what it marks. Read
 * with system calls only (heap.lock held, maybe in a critical section). */
static bool thp_always(void) {
    static int v = -1;
    if (v < 0) {
        char buf[80] = {0};
        int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        if (fd >= 0) close(fd);
        v = n > 0 && strstr(buf, "[always]");
    }
    return v;
}

void *gcrt_os_reserve(size_t size, size_t align) {
    if (fault_hit(GCRT_FAULT_MMAP) || fault_random_hit("an arena reservation", size)) return NULL;
    void *p = reserve_hinted(size, size + align);
    if (!p) return NULL;
    p = trim_aligned(p, size, align);
    if (!gcrt_os_thp() && !gcrt_gc.disablethp && thp_always()) (void)madvise(p, size, MADV_NOHUGEPAGE);
    return p;
}

/* Heap arenas are mapped as transparent huge pages (MADV_HUGEPAGE; GODEBUG=disablethp=1
 * leaves it to the system's setting, as Go's knob of that name does). A 4 KiB fault costs
 * about 12 us on this project's virtual machines, where the host shadows every guest page
 * table write: an allocator streaming into new memory spent 90% of its time there, and a
 * thread in such a fault delays a stop-the-world by as long. One fault per 2 MiB instead.
 * What a huge page costs is memory the heap has not used yet; the scavenger keeps huge
 * pages whole (heap.c), and a release's accounting follows a huge page faulted back in. */
static int thp_on;   /* set once, under heap.lock; read anywhere */
bool gcrt_os_thp(void) { return atomic_load_relaxed(&thp_on); }

/* A heap under 64 MiB stays in 4 KiB pages: huge pages would round a small program's
 * footprint up (GCBench's peak RSS went from 0.93x bdwgc's to 1.18x), and its faults are
 * few. At 64 MiB (heap.c, heap.lock held) what no one has touched yet is marked, and later
 * arenas as they are reserved; what was faulted in before stays in 4 KiB pages for good. */
static void meta_thp_start(void);
void gcrt_os_thp_start(uintptr_t lo, size_t size) {   /* not under disablethp */
    if (size) (void)madvise((void *)lo, size, MADV_HUGEPAGE);   /* a hint: EINVAL without THP */
    if (!gcrt_os_thp()) meta_thp_start();
    atomic_store_relaxed(&thp_on, 1);
}

/* Arenas are accessible from their reservation (above): committing a chunk is accounting
 * only, kept as a call for fault injection (the tests' refused commit). */
bool gcrt_os_commit(void *p, size_t size) {
    (void)p;
    return !fault_hit(GCRT_FAULT_MMAP) && !fault_random_hit("a heap commit", size);
}

/* Fault in pages ahead of use (the grower's chunks, a page cache's new chunk) without
 * changing a byte, even one another thread stores to the page at the same moment.
 * In 4 KiB pages, with MADV_POPULATE_WRITE (Linux 5.14): one system call for the range;
 * touching them one by one made GCBench 10% slower. In huge pages, with a locked OR of
 * zero into each page: one fault per 2 MiB either way, and MADV_POPULATE_WRITE holds
 * mmap_lock for reading across the whole range, for milliseconds there, so that an mmap
 * by another thread (inside a critical section) waits behind it for writing, and a
 * stop-the-world behind that; a page fault takes only its VMA's lock. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
static bool os_populate(void *p, size_t size) { return madvise(p, size, MADV_POPULATE_WRITE) == 0; }

GCRT_NO_ASAN void gcrt_os_fault_in(void *p, size_t size, bool huge) {   /* the tools see free slots as unaddressable */
    if (!huge && os_populate(p, size)) return;   /* else EINVAL: an older kernel */
    gcrt_scan_roots_begin((uintptr_t)p, (uintptr_t)p + size);
    for (size_t off = 0; off < size; off += 4096) __atomic_fetch_or((volatile char *)p + off, 0, __ATOMIC_RELAXED);
    gcrt_scan_roots_end((uintptr_t)p, (uintptr_t)p + size);
}


bool gcrt_os_release(void *p, size_t size) {
    if (fault_hit(GCRT_FAULT_MADVISE)) return false;
    return madvise(p, size, MADV_DONTNEED) == 0;
}

void gcrt_os_unmap(void *p, size_t size) { munmap(p, size); }

/* ---- metadata ----
 * Carved 256 KiB at a time (counted in gcrt_meta_sys when carved) from address space
 * reserved 64 MiB at a time: a registered thread allocates metadata inside a critical
 * section, and an mmap there waits for mmap_lock as a writer, behind any reader (the
 * kernel's DAMON walks a process's page tables under it): 3 ms were seen, a stop waiting
 * on it. Untouched reserved pages cost no memory. */
#define META_CHUNK ((size_t)256 << 10)
#define META_RESERVE ((size_t)64 << 20)
#define META_MAX_SHIFT 16
#define META_HUGE ((size_t)2 << 20)
static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;

/* The collector allocates metadata inside pauses (work buffers, checkmark bits), so no
 * stopped thread may hold meta_lock: a registered caller holds it only inside a critical
 * section, whatever its own caller (gc_type_new, for one, is not in one). */
static void meta_lock_take(void) {
    gcrt_thread *t = gcrt_self;
    if (t) gcrt_enter(t);
    gcrt_lock(&meta_lock);
}
static void meta_lock_drop(void) {
    pthread_mutex_unlock(&meta_lock);
    gcrt_thread *t = gcrt_self;
    if (t) gcrt_leave(t);
}
static void *meta_free[META_MAX_SHIFT + 1];
static uintptr_t meta_cur, meta_end, meta_res_lo, meta_res_cur, meta_res_end;
/* Faulted in ahead (gcrt_meta_ahead): the reservation up to meta_pop_hi, and the range
 * being faulted in now, [meta_busy_lo, meta_busy_hi), where a freed big block is not
 * unmapped (gcrt_meta_free), so that the touches cannot reach a mapping not ours. */
static uintptr_t meta_pop_hi, meta_busy_lo, meta_busy_hi;


/* Aligned to huge pages, and marked for them once the heap is (meta_thp_start); not at
 * the arenas' hinted addresses (arena_hint is heap.lock's). */
static void *meta_reserve(size_t len) {
    if (fault_hit(GCRT_FAULT_MMAP) || fault_random_hit("a metadata reservation", len)) return NULL;
    void *p = mmap(NULL, len + META_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : trim_aligned(p, len, META_HUGE);
}

/* len bytes (a multiple of 4 KiB) of reserved space, meta_lock held. */
static void *meta_carve(size_t len) {
    if (meta_res_cur + len > meta_res_end) {
        size_t rlen = len > META_RESERVE ? len : META_RESERVE;
        void *r = meta_reserve(rlen);
        if (!r) return NULL;
        meta_res_lo = meta_res_cur = (uintptr_t)r;
        meta_res_end = meta_res_cur + rlen;
    }
    void *p = (void *)meta_res_cur;
    meta_res_cur += len;
    atomic_add(&gcrt_meta_sys, len);
    return p;
}

/* The next chunk, meta_lock held. */
static bool meta_chunk(void) {
    void *c = meta_carve(META_CHUNK);
    if (!c) return false;
    meta_cur = (uintptr_t)c;
    meta_end = meta_cur + META_CHUNK;
    return true;
}

/* Metadata faulted in ahead of use, once it is in huge pages. Span descriptors, bitmaps
 * and work buffers are first touched inside critical sections, often under heap.lock,
 * and by the collector inside its pauses; a huge page's first touch costs 1.5-5 ms here.
 * Callers outside any critical section or lock (a page cache's populate, in its blocking
 * region; the grower; a cycle's start) keep the reservation faulted in up to one huge
 * page past the carve point: this returns the range to fault in with gcrt_meta_fault_in,
 * false when there is none or another caller has it. */
bool gcrt_meta_ahead(uintptr_t *lo, uintptr_t *hi) {
    if (!gcrt_os_thp()) return false;   /* 4 KiB pages: a fault ahead saves little */
    bool ok = false;
    meta_lock_take();
    if (!meta_busy_hi && meta_res_cur) {
        uintptr_t from = meta_pop_hi > meta_res_cur && meta_pop_hi <= meta_res_end ? meta_pop_hi : meta_res_cur;
        uintptr_t to = round_up(meta_res_cur, META_HUGE) + META_HUGE;
        if (to > meta_res_end) to = meta_res_end;
        if (from < to) {
            *lo = meta_busy_lo = from;
            *hi = meta_busy_hi = to;
            ok = true;
        }
    }
    meta_lock_drop();
    return ok;
}

/* Fault in a range from gcrt_meta_ahead. Content unchanged, so other threads may already
 * be using blocks carved from it. */
void gcrt_meta_fault_in(uintptr_t lo, uintptr_t hi) {
    gcrt_os_fault_in((void *)lo, hi - lo, gcrt_os_thp());
    meta_lock_take();
    if (lo >= meta_res_lo && hi <= meta_res_end) meta_pop_hi = hi;   /* else a new reservation meanwhile */
    meta_busy_lo = meta_busy_hi = 0;
    meta_lock_drop();
}

/* All of it, for a caller that may wait (the grower, a cycle's start). */
void gcrt_meta_fault_ahead(void) {
    uintptr_t lo, hi;
    if (gcrt_meta_ahead(&lo, &hi)) gcrt_meta_fault_in(lo, hi);
}

/* Metadata in huge pages from when the heap is (heap.lock held, once): the reservation's
 * rest from its next untouched 2 MiB, and every later reservation (meta_reserve). In
 * 4 KiB pages the first access to each page costs this VM's host 10 us or more, even
 * after the page was faulted in: span descriptors and bitmaps written while streaming
 * into a new heap took 30% of the allocation benchmark's user time, 450 ns a descriptor. */
static void meta_thp_start(void) {
    meta_lock_take();
    uintptr_t lo = round_up(meta_res_cur, META_HUGE);
    if (lo < meta_res_end) (void)madvise((void *)lo, meta_res_end - lo, MADV_HUGEPAGE);
    meta_lock_drop();
}

static unsigned meta_shift(size_t size) {
    unsigned s = 4;
    while (((size_t)1 << s) < size) s++;
    return s;
}

void *gcrt_meta_alloc(size_t size) {
    unsigned sh = meta_shift(size);
    if (sh > META_MAX_SHIFT) {   /* freed by munmap (gcrt_meta_free): fresh pages, zero */
        meta_lock_take();
        void *p = meta_carve(round_up(size, 4096));
        meta_lock_drop();
        return p;
    }
    size_t bsize = (size_t)1 << sh;
    meta_lock_take();
    void *p = meta_free[sh];
    if (p) {
        meta_free[sh] = *(void **)p;
        meta_lock_drop();
        memset(p, 0, bsize);
        return p;
    }
    if (meta_cur + bsize > meta_end && !meta_chunk()) {
        meta_lock_drop();
        return NULL;
    }
    p = (void *)meta_cur;   /* fresh mapping: already zero */
    meta_cur += bsize;
    meta_lock_drop();
    return p;
}

/* n blocks of one size (at most 64 KiB) in one lock trip, for the page caches' reserves
 * (heap.c): recycled blocks first, so that what sweeping frees is reused. Returns how many
 * it got. */
unsigned gcrt_meta_alloc_batch(size_t size, void **out, unsigned n) {
    unsigned sh = meta_shift(size), got = 0;
    size_t bsize = (size_t)1 << sh;
    if (sh > META_MAX_SHIFT) return 0;
    meta_lock_take();
    for (; got < n && meta_free[sh]; got++) {
        out[got] = meta_free[sh];
        meta_free[sh] = *(void **)out[got];
        *(void **)out[got] = NULL;   /* the rest of a recycled block is cleared by its user */
    }
    for (; got < n; got++) {
        if (meta_cur + bsize > meta_end && !meta_chunk()) break;
        out[got] = (void *)meta_cur;
        meta_cur += bsize;
    }
    meta_lock_drop();
    return got;
}

void gcrt_meta_free_batch(size_t size, void **blocks, unsigned n) {
    unsigned sh = meta_shift(size);
    if (!n || sh > META_MAX_SHIFT) return;
    meta_lock_take();
    for (unsigned i = 0; i < n; i++) {
        *(void **)blocks[i] = meta_free[sh];
        meta_free[sh] = blocks[i];
    }
    meta_lock_drop();
}

void gcrt_meta_free(void *p, size_t size) {
    if (!p) return;
    unsigned sh = meta_shift(size);
    if (sh > META_MAX_SHIFT) {
        size_t len = round_up(size, 4096);
        /* Being faulted in: the memory goes, the address space stays ours. Only the range
         * faulted in now can hold it: a later one starts past every carved block. So the
         * system call can wait until the lock, which pauses take, is dropped. */
        uintptr_t a = (uintptr_t)p;
        meta_lock_take();
        bool busy = a < meta_busy_hi && a + len > meta_busy_lo;
        meta_lock_drop();
        if (busy) (void)madvise(p, len, MADV_DONTNEED);
        else gcrt_os_unmap(p, len);
        __atomic_sub_fetch(&gcrt_meta_sys, len, __ATOMIC_RELAXED);
        return;
    }
    meta_lock_take();
    *(void **)p = meta_free[sh];
    meta_free[sh] = p;
    meta_lock_drop();
}

bool gcrt_meta_grow(void **arr, size_t *cap, size_t used, size_t elem, size_t first) {
    if (used < *cap) return true;
    size_t nc = *cap ? *cap * 2 : first;
    void *n = gcrt_meta_alloc(nc * elem);
    if (!n) return false;
    if (*arr) {
        memcpy(n, *arr, used * elem);
        gcrt_meta_free(*arr, *cap * elem);
    }
    *arr = n;
    *cap = nc;
    return true;
}

void gcrt_meta_fork(int phase) {
    gcrt_fork_mutex(&meta_lock, phase);
    if (phase == GCRT_FORK_CHILD) meta_busy_lo = meta_busy_hi = 0;   /* its toucher did not fork */
}
