/*
 * t_fault_mmap: GCRT_FAULT_MMAP=N[:SEED], gcrt's random refusal of about one in N of its
 * heap and metadata mappings (alloc/os.c), as a process sees it from outside.
 *  - N=4:1, N=2:7 and N=3:99, each in a child under GODEBUG=gcverify=1 (every cycle checks
 *    the heap): two threads allocate every kind (scanned, noscan, typed, arrays, realloc)
 *    and size (16 B to 6 MiB) while their live data climbs to 128 MiB, so the heap keeps
 *    asking for memory. Every failed allocation must be a clean NULL with errno ENOMEM
 *    after an out-of-memory handler call; every object kept must read back its pattern,
 *    be its own gc_base and at least its size, at checks during the run and after a final
 *    collection; the counters must agree (heap_inuse + heap_idle == heap_sys). First, one
 *    thread holds 400 MiB in 5 MiB objects, each a commit of its own. The child's refusals
 *    are counted on its stderr: there must be some, and under N=2 some NULLs.
 *  - N=1 refuses every call: gc_init reports -ENOMEM, nothing crashes.
 *  - A malformed value is reported with the variable's name and injects nothing.
 */
#include "check.h"

#include <stdatomic.h>

#define MiB ((size_t)1 << 20)
#define SLOTS 4096
#define LIVE_MAX (64 * MiB)   /* per thread */

static atomic_ulong oom_calls, nulls, allocs;
static gc_type_t *node_type;

static void on_oom(size_t size)
{
    (void)size;
    atomic_fetch_add(&oom_calls, 1);
}

typedef struct worker {
    void **slot;         /* registered as a root range */
    size_t *size;
    uint64_t *tag;
    unsigned char *kind;
    size_t live;
    uint64_t rng;
    unsigned id;
} worker;

static uint64_t next_rand(worker *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

/* The pattern of an object: bytes every STRIDE from offset 24, and the last one. Typed
 * nodes are 32 bytes with pointers at offsets 0 and 16, which stay NULL: 24 + 992k and a
 * size's last byte (sizes of typed objects are multiples of 32) fall in the words between. */
#define STRIDE 992
static void fill(unsigned char *p, size_t n, uint64_t tag)
{
    size_t from = n >= 32 ? 24 : 0;
    for (size_t i = from; i < n; i += STRIDE) p[i] = (unsigned char)(tag + i);
    p[n - 1] = (unsigned char)(tag >> 8);
}

static void verify(worker *w, size_t i, const char *when)
{
    unsigned char *p = w->slot[i];
    size_t n = w->size[i];
    uint64_t tag = w->tag[i];
    if (!p) return;
    CHECK(gc_base(p) == p, "%s: thread %u slot %zu: gc_base(%p) = %p", when, w->id, i, (void *)p, gc_base(p));
    CHECK(gc_size(p) >= n, "%s: thread %u slot %zu: gc_size %zu < %zu", when, w->id, i, gc_size(p), n);
    size_t from = n >= 32 ? 24 : 0;
    /* k < n - 1: where a stride byte is the last one, fill wrote the last byte's value. */
    for (size_t k = from; k < n - 1; k += STRIDE)
        CHECK(p[k] == (unsigned char)(tag + k), "%s: thread %u slot %zu (%zu bytes): byte %zu corrupted", when,
              w->id, i, n, k);
    CHECK(p[n - 1] == (unsigned char)(tag >> 8), "%s: thread %u slot %zu: last byte corrupted", when, w->id, i);
}

static size_t pick_size(worker *w)
{
    uint64_t r = next_rand(w);
    switch (r % 16) {
    case 0: return 512 * 1024 + (size_t)(r >> 8) % (6 * MiB);   /* large */
    case 1: case 2: case 3: return 4096 + (size_t)(r >> 8) % 60000;
    default: return 16 + (size_t)(r >> 8) % 4000;
    }
}

/* One allocation into slot i (its old object becomes garbage). */
static void step(worker *w, uint64_t gen)
{
    size_t i = next_rand(w) % SLOTS, n = pick_size(w);
    unsigned kind = (unsigned)(next_rand(w) % 5);
    void *p = NULL;
    errno = 0;
    switch (kind) {
    case 0: p = gc_alloc(n); break;
    case 1: p = gc_alloc_noscan(n); break;
    case 2: n = n / 32 * 32 + 32; p = gc_alloc_array(node_type, n / 32); break;
    case 3: n = 32; p = gc_alloc_typed(node_type); break;
    default:   /* grow or shrink what the slot holds; a failed realloc leaves it intact */
        if (w->slot[i] && w->kind[i] <= 1) {
            p = gc_realloc(w->slot[i], n);
            if (!p) {
                CHECK(errno == ENOMEM, "gc_realloc(%zu) failed with errno %d", n, errno);
                atomic_fetch_add(&nulls, 1);
                verify(w, i, "after a failed gc_realloc");
                return;
            }
            kind = w->kind[i];   /* realloc keeps the scan kind; the whole object is re-tagged */
        } else {
            kind = 0;
            p = gc_alloc(n);
        }
    }
    atomic_fetch_add(&allocs, 1);
    if (!p) {
        CHECK(errno == ENOMEM, "allocation of %zu bytes (kind %u) failed with errno %d, want ENOMEM", n, kind, errno);
        atomic_fetch_add(&nulls, 1);
        return;
    }
    uint64_t tag = gen * 131 + i;
    fill(p, n, tag);
    if (w->slot[i]) w->live -= w->size[i];   /* replaced, or reallocated */
    w->slot[i] = p;
    w->size[i] = n;
    w->tag[i] = tag;
    w->kind[i] = (unsigned char)kind;
    w->live += n;
    /* Live data past this phase's target: drop slots until under it. */
    size_t target = (size_t)(gen / 20000 + 1) * 16 * MiB;
    if (target > LIVE_MAX) target = LIVE_MAX;
    for (size_t j = next_rand(w) % SLOTS; w->live > target; j = (j + 1) % SLOTS) {
        if (!w->slot[j] || j == i) continue;
        w->live -= w->size[j];
        w->slot[j] = NULL;
    }
}

static double run_seconds = 2.0;

static void *worker_main(void *arg)
{
    worker *w = arg;
    double end = now_sec() + run_seconds;
    for (uint64_t gen = 0; now_sec() < end || gen < 20000; gen++) {
        step(w, gen);
        if (gen % 20000 == 19999)
            for (size_t i = 0; i < SLOTS; i++) verify(w, i, "during the run");
    }
    return NULL;
}

/* Retry what a refused mapping made fail: gcrt's calls below may meet a refusal too. */
#define RETRY(expr) ({ int r_ = 0; for (int k_ = 0; k_ < 1000 && (r_ = (expr)) != 0; k_++); r_; })

/* Before the threads: one thread holds 80 noscan objects of 5 MiB (400 MiB), each
 * needing a commit of its own; under N=2 an allocation fails when its commit, the retry
 * after the collection it forces and the retry after the handler are all refused (1 in
 * 8), so that some do is all but certain: (7/8)^80 = 2e-5. */
static void large_phase(void)
{
    enum { N = 80 };
    void **big = calloc(N, sizeof(void *));
    CHECK(big != NULL);
    CHECK(RETRY(gc_add_roots(big, N * sizeof(void *))) == 0);
    for (unsigned i = 0; i < N; i++) {
        errno = 0;
        atomic_fetch_add(&allocs, 1);
        if (!(big[i] = gc_alloc_noscan(5 * MiB))) {
            CHECK(errno == ENOMEM, "5 MiB allocation failed with errno %d", errno);
            atomic_fetch_add(&nulls, 1);
            continue;
        }
        fill(big[i], 5 * MiB, i);
    }
    for (unsigned i = 0; i < N; i++) {
        unsigned char *p = big[i];
        if (!p) continue;
        for (size_t k = 24; k < 5 * MiB; k += STRIDE) CHECK(p[k] == (unsigned char)(i + k), "5 MiB object %u corrupted", i);
    }
    CHECK(gc_remove_roots(big, N * sizeof(void *)) == 0);
    free(big);
}

static int child_work(void)
{
    int r = RETRY(gc_init());
    CHECK(r == 0, "gc_init kept failing: %d", r);
    gc_set_oom_handler(on_oom);
    size_t offs[] = {0, 16};
    for (int k = 0; k < 1000 && !node_type; k++) node_type = gc_type_new(32, offs, 2);
    CHECK(node_type != NULL);
    large_phase();
    worker w[2];
    pthread_t t[2];
    for (unsigned i = 0; i < 2; i++) {
        w[i] = (worker){.id = i, .rng = 0x9e3779b97f4a7c15ull * (i + 1)};
        w[i].slot = calloc(SLOTS, sizeof(void *));
        w[i].size = calloc(SLOTS, sizeof(size_t));
        w[i].tag = calloc(SLOTS, sizeof(uint64_t));
        w[i].kind = calloc(SLOTS, 1);
        CHECK(w[i].slot && w[i].size && w[i].tag && w[i].kind);
        CHECK(RETRY(gc_add_roots(w[i].slot, SLOTS * sizeof(void *))) == 0);
    }
    for (unsigned i = 0; i < 2; i++) CHECK(RETRY(gc_pthread_create(&t[i], NULL, worker_main, &w[i])) == 0);
    for (unsigned i = 0; i < 2; i++) pthread_join(t[i], NULL);
    gc_collect();
    for (unsigned i = 0; i < 2; i++)
        for (size_t j = 0; j < SLOTS; j++) verify(&w[i], j, "after the final collection");
    gc_memstats_t ms;
    read_ms(&ms);
    CHECK(ms.heap_inuse + ms.heap_idle == ms.heap_sys, "inuse %llu + idle %llu != sys %llu",
          (unsigned long long)ms.heap_inuse, (unsigned long long)ms.heap_idle, (unsigned long long)ms.heap_sys);
    CHECK(ms.heap_released <= ms.heap_idle);
    unsigned long n = atomic_load(&nulls), h = atomic_load(&oom_calls);
    CHECK(h >= n, "%lu NULLs but only %lu out-of-memory handler calls", n, h);
    printf("allocs %lu nulls %lu oom_calls %lu num_gc %u heap_sys %llu MiB\n", (unsigned long)atomic_load(&allocs), n,
           h, ms.num_gc, (unsigned long long)(ms.heap_sys / MiB));
    for (unsigned i = 0; i < 2; i++) {
        CHECK(gc_remove_roots(w[i].slot, SLOTS * sizeof(void *)) == 0);
        free(w[i].slot);
        free(w[i].size);
        free(w[i].tag);
        free(w[i].kind);
    }
    return 0;
}

/* Every mapping refused: gc_init fails cleanly (its thread record is metadata). */
static int child_every(void)
{
    int r = gc_init();
    CHECK(r == -ENOMEM, "gc_init with every mapping refused returned %d, want -ENOMEM", r);
    printf("gc_init: %d\n", r);
    return 0;
}

static int child_plain(void)
{
    CHECK(gc_init() == 0);
    void *p = gc_alloc_noscan(64 * MiB);
    CHECK(p != NULL, "64 MiB with no faults injected failed");
    memset(p, 1, 64 * MiB);
    printf("plain: ok\n");
    return 0;
}

static unsigned count_lines(const char *s, const char *needle)
{
    unsigned n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++) n++;
    return n;
}

static child_result_t res;

static void run(const char *mode, const char *knob, unsigned want_refusals, int want_nulls)
{
    char env_knob[64];
    snprintf(env_knob, sizeof env_knob, "GCRT_FAULT_MMAP=%s", knob);
    const char *args[] = {mode, NULL};
    const char *env[] = {env_knob, "GODEBUG=gcverify=1", "GOGC", "GOMEMLIMIT", NULL};
    int st = run_self(&res, args, env);
    unsigned refused = count_lines(res.err, "GCRT_FAULT_MMAP: refused");
    printf("[%s %s] exit %d, %u refusals: %s", mode, knob, st, refused, res.out);
    if (st != 0) fprintf(stderr, "child stderr (tail): %s\n", res.err_len > 2000 ? res.err + res.err_len - 2000 : res.err);
    CHECK(st == 0, "child %s with GCRT_FAULT_MMAP=%s failed", mode, knob);
    CHECK(refused >= want_refusals, "GCRT_FAULT_MMAP=%s: %u refusals, want at least %u", knob, refused, want_refusals);
    if (want_nulls) {
        unsigned long n = 0;
        const char *p = strstr(res.out, "nulls ");
        CHECK(p && sscanf(p, "nulls %lu", &n) == 1 && n > 0, "GCRT_FAULT_MMAP=%s: no allocation ever failed", knob);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "work")) return child_work();
    if (argc > 1 && !strcmp(argv[1], "every")) return child_every();
    if (argc > 1 && !strcmp(argv[1], "plain")) return child_plain();
    run("work", "4:1", 1, 0);
    run("work", "2:7", 1, 1);
    run("work", "3:99", 1, 0);
    run("every", "1", 1, 0);
    run("plain", "abc", 0, 0);
    CHECK(strstr(res.err, "GCRT_FAULT_MMAP=abc: malformed") != NULL, "no warning for a malformed value: %s", res.err);
    CHECK(count_lines(res.err, "refused") == 0);
    run("plain", "4:x", 0, 0);
    CHECK(strstr(res.err, "GCRT_FAULT_MMAP=4:x: malformed") != NULL);
    run("plain", "0", 0, 0);
    CHECK(strstr(res.err, "GCRT_FAULT_MMAP=0: malformed") != NULL);
    printf("t_fault_mmap: OK\n");
    return 0;
}
