/*
 * t_debug_modes: the GODEBUG debug modes catch what they promise (runtime/debug.c).
 * Each case runs in a child (this binary re-executed with a case name and GODEBUG), which
 * must die with the expected message on stderr, or exit 0 for the cases that must pass:
 *  - gcpoison=1: a write into a freed small object aborts when its slot is handed out again,
 *    naming the object's address and size class; the same for a freed large object's pages;
 *  - gcverify=1: a write into a freed slot is found at the next mark (free slot not zero);
 *  - gcstress=N: a collection every N allocations, objects reachable stay intact;
 *  - gcstorecheck=1: GC_STORE into malloc'd memory or into a freed object aborts; into GC
 *    objects, registered roots, globals and the stack it does not; concurrent mutation with
 *    the check on stays correct;
 *  - in the ASan build (-DGCRT_ASAN): reading or writing a freed object (small or large) is
 *    an ASan use-after-poison,
 *    and gc_init refuses to run with detect_stack_use_after_return (fake stack frames are
 *    not scanned).
 */
#include "check.h"

#include <pthread.h>

#define OBJ_SIZE 48   /* size class 5 */

/* Allocate objects in a deeper frame and keep only their hidden addresses, so no copy of
 * a pointer stays in a live frame. */
#define NGARBAGE 256
void *keep[NGARBAGE];             /* every other object stays alive: its span is not freed whole */
static TEST_NOINLINE void make_garbage_n(size_t size, uintptr_t *h)
{
    for (int i = 0; i < NGARBAGE; i++) {
        char *p = gc_alloc(size);
        memset(p, 7, size);
        h[i] = HIDE(p);
        keep[i] = i & 1 && size < 4096 ? p : NULL;
    }
}

/* The hidden address of a freed object of `size` bytes: conservative roots may keep one
 * or two of the garbage objects alive, not all. */
static uintptr_t make_garbage(size_t size)
{
    static uintptr_t h[NGARBAGE];
    make_garbage_n(size, h);
    for (int round = 0; round < 5; round++) {
        churn_stack();
        gc_collect();
        for (int i = NGARBAGE - 2; i >= 0; i -= 2)   /* even: not kept */
            if (!gc_base(UNHIDE(h[i]))) return h[i];
    }
    FAIL("none of %d garbage objects of %zu bytes was freed", NGARBAGE, size);
}

static void free_it(uintptr_t h) { CHECK(gc_base(UNHIDE(h)) == NULL); }

static void write_after_free(uintptr_t h, size_t off)
{
    ((volatile char *)UNHIDE(h))[off] = 42;
}

/* gcpoison: the slot is checked when handed out again. */
static int case_poison_small(void)
{
    gc_init();
    gc_set_percent(-1);
    uintptr_t h = make_garbage(OBJ_SIZE);
    free_it(h);
    write_after_free(h, 17);
    /* Allocate objects of the same class until the damaged slot comes round. */
    for (int i = 0; i < 1000000; i++) {
        void *p = gc_alloc(OBJ_SIZE);
        if ((uintptr_t)p == (uintptr_t)UNHIDE(h)) break;
    }
    printf("the damaged slot was handed out without a report\n");
    return 1;
}

static int case_poison_large(void)
{
    gc_init();
    gc_set_percent(-1);
    uintptr_t h = make_garbage(256 << 10);   /* large: 256 of them is 64 MiB, none kept */
    free_it(h);
    write_after_free(h, 100000);
    for (int i = 0; i < 300; i++) (void)!gc_alloc_noscan(256 << 10);
    printf("the damaged pages were reused without a report\n");
    return 1;
}

/* gcverify: the damaged free slot is found at the next cycle. */
static int case_verify_free(void)
{
    gc_init();
    gc_set_percent(-1);
    uintptr_t h = make_garbage(OBJ_SIZE);
    free_it(h);
    write_after_free(h, 8);
    gc_collect();
    printf("gcverify did not notice the damaged free slot\n");
    return 1;
}

/* gcstress: collections happen on their own, and a linked list survives them. */
typedef struct node { struct node *next; uint64_t v, sum; } node;
static int case_stress(void)
{
    gc_init();
    gc_memstats_t ms0, ms1;
    read_ms(&ms0);
    node *head = NULL;
    for (uint64_t i = 0; i < 20000; i++) {
        node *n = gc_alloc(sizeof *n);
        CHECK(n != NULL);
        n->v = i;
        n->sum = test_mix(i);
        n->next = head;
        head = n;
        (void)!gc_alloc_noscan(64);   /* garbage */
    }
    read_ms(&ms1);
    uint64_t count = 0;
    for (node *n = head; n; n = n->next, count++)
        CHECK(n->sum == test_mix(n->v), "node %" PRIu64 " damaged", n->v);
    CHECK(count == 20000);
    /* 40000 allocations, one cycle per 1000 of them. */
    CHECK(ms1.num_gc - ms0.num_gc >= 35, "only %u cycles for 40000 allocations with gcstress=1000",
          ms1.num_gc - ms0.num_gc);
    printf("gcstress=1000: %u cycles for 40000 allocations\n", ms1.num_gc - ms0.num_gc);
    return 0;
}

static void *global_slot;
static int case_store_ok(void)
{
    gc_init();
    void **obj = gc_alloc(4 * sizeof(void *));
    void *roots[2] = {0};
    CHECK(gc_add_roots(roots, sizeof roots) == 0);
    void *local = NULL;
    for (int i = 0; i < 1000; i++) {
        void *v = gc_alloc(32);
        GC_STORE(obj[i & 3], v);
        GC_STORE(roots[i & 1], v);
        GC_STORE(global_slot, v);
        GC_STORE(local, v);
        CHECK(obj[i & 3] == v && roots[i & 1] == v && global_slot == v && local == v);
    }
    gc_collect();
    gc_keep_alive(local);
    printf("gcstorecheck: 4000 stores into an object, roots, a global and a local accepted\n");
    return 0;
}

static int case_store_malloc(void)
{
    gc_init();
    void **m = calloc(4, sizeof(void *));
    GC_STORE(m[1], gc_alloc(16));
    printf("GC_STORE into malloc'd memory was not reported\n");
    return 1;
}

static int case_store_freed(void)
{
    gc_init();
    gc_set_percent(-1);
    uintptr_t h = make_garbage(OBJ_SIZE);
    free_it(h);
    void **dangling = UNHIDE(h);
    GC_STORE(dangling[0], gc_alloc(16));
    printf("GC_STORE into a freed object was not reported\n");
    return 1;
}

/* Concurrent mutation with gcstorecheck on: pairs of threads rewire a shared array of
 * nodes with GC_STORE while cycles run; every node keeps its checksum. */
#define NSLOTS 512
static node **shared;
static volatile int stop_flag;
static void *mutator(void *arg)
{
    uint64_t x = (uintptr_t)arg;
    while (!stop_flag) {
        x = test_mix(x + 1);
        node *n = gc_alloc(sizeof *n);
        n->v = x;
        n->sum = test_mix(x);
        node *old = shared[x % NSLOTS];
        if (old) CHECK(old->sum == test_mix(old->v), "node damaged");
        GC_STORE(n->next, old);
        GC_STORE(shared[x % NSLOTS], n);
        if ((x & 7) == 0) GC_STORE(shared[(x >> 8) % NSLOTS], NULL);
    }
    return NULL;
}
static int case_store_concurrent(void)
{
    gc_init();
    shared = gc_alloc(NSLOTS * sizeof(node *));
    pthread_t th[2];
    for (int i = 0; i < 2; i++) CHECK(gc_pthread_create(&th[i], NULL, mutator, (void *)(uintptr_t)(i + 1)) == 0);
    double t0 = now_sec();
    while (now_sec() - t0 < 2.0) gc_collect();
    stop_flag = 1;
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    gc_collect();
    unsigned long seen = 0;
    for (int i = 0; i < NSLOTS; i++)
        for (node *n = shared[i]; n; n = n->next, seen++) CHECK(n->sum == test_mix(n->v), "node damaged");
    printf("gcstorecheck: concurrent mutation ok, %lu nodes reachable\n", seen);
    return 0;
}

#ifdef GCRT_ASAN
static int case_asan_read(void)
{
    gc_init();
    gc_set_percent(-1);
    uintptr_t h = make_garbage(OBJ_SIZE);
    free_it(h);
    volatile char c = ((volatile char *)UNHIDE(h))[5];
    (void)c;
    printf("reading a freed object was not reported by ASan\n");
    return 1;
}
#endif

struct tcase {
    const char *name, *godebug, *want;   /* want: a substring of stderr; NULL: exit 0 */
    int (*fn)(void);
};
/* In the ASan build the write into freed memory is itself reported, before any check. */
#ifdef GCRT_ASAN
#define WAF(msg) "ERROR: AddressSanitizer: use-after-poison"
#else
#define WAF(msg) msg
#endif
static const struct tcase cases[] = {
    {"poison_small", "GODEBUG=gcpoison=1", WAF("gcpoison: write to freed memory: object"), case_poison_small},
    {"poison_large", "GODEBUG=gcpoison=1", WAF("gcpoison: write to freed memory: page of a freed span"), case_poison_large},
    {"verify_free", "GODEBUG=gcverify=1", WAF("is not free memory: word at offset 8"), case_verify_free},
    {"verify_free_poison", "GODEBUG=gcverify=1,gcpoison=1", WAF("is not free memory: word at offset 8"), case_verify_free},
    {"stress", "GODEBUG=gcstress=1000,gcverify=1", NULL, case_stress},
    {"store_ok", "GODEBUG=gcstorecheck=1", NULL, case_store_ok},
    {"store_malloc", "GODEBUG=gcstorecheck=1", "gcstorecheck: GC_STORE into", case_store_malloc},
    {"store_freed", "GODEBUG=gcstorecheck=1", "inside a freed object of size class 5", case_store_freed},
    {"store_concurrent", "GODEBUG=gcstorecheck=1,gccheckmark=1,gcverify=1", NULL, case_store_concurrent},
    /* span-local marking every cycle: this case found its two races (docs/architecture.md) */
    {"store_concurrent_gt", "GODEBUG=gcstorecheck=1,gccheckmark=1,gcverify=1,gcgreentea=1", NULL, case_store_concurrent},
#ifdef GCRT_ASAN
    {"asan_read", "GODEBUG=", "use-after-poison", case_asan_read},
    {"asan_fake_stack", "ASAN_OPTIONS=detect_stack_use_after_return=1", "detect_stack_use_after_return is on",
     case_store_ok},
#endif
};

int main(int argc, char **argv)
{
    size_t n = sizeof cases / sizeof cases[0];
    if (argc > 1) {
        for (size_t i = 0; i < n; i++)
            if (!strcmp(argv[1], cases[i].name)) return cases[i].fn();
        FAIL("unknown case %s", argv[1]);
    }
    child_result_t *r = malloc(sizeof *r);
    CHECK(r != NULL);
    for (size_t i = 0; i < n; i++) {
        const struct tcase *c = &cases[i];
        const char *args[] = {c->name, NULL};
        const char *env[] = {c->godebug, "GOGC", NULL};
        int st = run_self(r, args, env);
        const char *msg = c->want ? strstr(r->err, c->want) : NULL;
        if (c->want ? !msg || st == 0 : st != 0 || strstr(r->err, "fatal")) {
            fprintf(stderr, "case %s (%s): exit %d, stdout:\n%s\nstderr:\n%s\n", c->name, c->godebug, st, r->out, r->err);
            FAIL("case %s", c->name);
        }
        if (msg) {
            const char *eol = strchr(msg, '\n');
            printf("%-18s %s -> %.*s\n", c->name, c->godebug, (int)(eol ? eol - msg : 200), msg);
        } else {
            printf("%-18s %s -> ok: %s", c->name, c->godebug, r->out);
        }
    }
    free(r);
    printf("t_debug_modes: %zu cases OK\n", n);
    return 0;
}
