/*
 * stress: a seeded randomized stress program for gcrt (make stress, test/stress/stress.mk).
 *
 * THREADS mutator threads (registered with gc_pthread_create) each own a table of roots and
 * rewire a shared object graph with GC_STORE while cycles run: allocate nodes of random
 * sizes and kinds (conservative, typed, with noscan and large blobs attached), link,
 * unlink, swap and move subtrees between threads through a global exchange, realloc blobs,
 * collect now and then, and walk the graph checking every node. Every node carries its id
 * and a checksum of its immutable contents, so damage (a freed-and-reused or overwritten
 * object) is detected where it is seen, with the seed to replay.
 *
 * Where the library has them (stress.mk defines HAVE_FINALIZERS / HAVE_WEAK / HAVE_POOL
 * when libgcrt.a defines the symbols): finalizers on some nodes (a finalized node must
 * never be reachable again), weak handles (a handle's object, while gc_weak_get returns it,
 * is intact and is the object it was made for), and a pool of checksummed buffers.
 *
 * Environment: STRESS_SEED (default: from the clock; printed), STRESS_SECONDS (default 10),
 * STRESS_THREADS (default 3), STRESS_GOGC (default 100), STRESS_MEMLIMIT (bytes, default
 * off); GODEBUG as usual (the runner sets gccheckmark=1,gcverify=1,gcpoison=1).
 * Replay: the same seed gives each thread the same sequence of operations; interleavings
 * between threads still differ from run to run.
 */
#include "../check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define NKIDS 4
#define ROOTS 128
#define EXCHANGE 64
#define MAX_THREADS 16

typedef struct node node;
struct node {
    uint64_t id;
    uint64_t check;            /* mix(id ^ nbytes ^ kind) */
    uint32_t nbytes;           /* payload bytes after the header */
    uint32_t kind;             /* 0 conservative, 1 typed */
    uint64_t finalized;        /* set by the finalizer */
    node *kids[NKIDS];
    unsigned char *blob;       /* noscan payload, bytes = blob_len, each mix(id)+i */
    uint64_t blob_len;
    uint64_t payload[];        /* nbytes / 8 words: mix(id + i) */
};

static uint64_t seed;
static double seconds = 10;
static int nthreads = 3;
static gc_type_t *node_type;
static node *exchange[EXCHANGE];   /* static data: a root */
static atomic_int stop;
static atomic_ulong n_ops, n_nodes, n_checked, n_collects, n_final_run, n_weak_ok, n_weak_gone, n_pool;
static atomic_ulong next_id = 1;

static void damage(const char *what, const node *n, uint64_t tseed)
{
    fprintf(stderr, "stress: DAMAGE: %s: node %p (id %" PRIu64 ", check %#" PRIx64 ", nbytes %u, kind %u); seed %" PRIu64
            " thread seed %" PRIu64 "\n",
            what, (const void *)n, n->id, n->check, n->nbytes, n->kind, seed, tseed);
    fflush(stderr);
    abort();
}

static uint64_t node_check(const node *n) { return test_mix(n->id ^ ((uint64_t)n->nbytes << 32) ^ n->kind); }

static void check_node(const node *n, uint64_t tseed)
{
    if (gc_base(n) != n) damage("not the start of a live GC object", n, tseed);
    if (n->check != node_check(n)) damage("header checksum", n, tseed);
    if (n->finalized) damage("reachable node was finalized", n, tseed);
    for (uint32_t i = 0; i < n->nbytes / 8; i += 1 + i / 4)
        if (n->payload[i] != test_mix(n->id + i)) damage("payload", n, tseed);
    if (n->blob) {
        if (gc_size(n->blob) < n->blob_len) damage("blob too small", n, tseed);
        uint64_t m = test_mix(n->id);
        for (uint64_t i = 0; i < n->blob_len; i += 1 + i / 8)
            if (n->blob[i] != (unsigned char)(m + i)) damage("blob contents", n, tseed);
    }
    atomic_fetch_add_explicit(&n_checked, 1, memory_order_relaxed);
}

#ifdef HAVE_FINALIZERS
static void finalize(void *obj, void *arg)
{
    node *n = obj;
    (void)arg;
    if (n->check != node_check(n)) damage("finalized node damaged", n, 0);
    n->finalized = 1;
    atomic_fetch_add_explicit(&n_final_run, 1, memory_order_relaxed);
}
#endif

typedef struct rng { uint64_t s; } rng;
static uint64_t rnd(rng *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    return test_mix(r->s);
}
static uint64_t below(rng *r, uint64_t n) { return rnd(r) % n; }

static node *new_node(rng *r)
{
    uint32_t nbytes;
    uint64_t k = below(r, 100);
    if (k < 70) nbytes = (uint32_t)below(r, 64) * 8;
    else if (k < 97) nbytes = (uint32_t)below(r, 1024) * 8;
    else nbytes = 32768 + (uint32_t)below(r, 16) * 8192;   /* large */
    uint32_t kind = below(r, 3) == 0;
    node *n;
    if (kind) {   /* typed: an array of node-sized elements, only their kids/blob traced */
        size_t count = 1 + (nbytes + sizeof(node) - 1) / sizeof(node);
        n = gc_alloc_array(node_type, count);
        nbytes = 0;
    } else {
        n = gc_alloc(sizeof(node) + nbytes);
    }
    if (!n) {
        fprintf(stderr, "stress: allocation failed (errno %d); seed %" PRIu64 "\n", errno, seed);
        abort();
    }
    n->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
    n->nbytes = nbytes;
    n->kind = kind;
    for (uint32_t i = 0; i < n->nbytes / 8; i++) n->payload[i] = test_mix(n->id + i);
    n->check = node_check(n);
    if (below(r, 8) == 0) {
        uint64_t len = below(r, 20) == 0 ? 40000 + below(r, 100000) : 1 + below(r, 2000);
        unsigned char *b = gc_alloc_noscan(len);
        uint64_t m = test_mix(n->id);
        for (uint64_t i = 0; i < len; i++) b[i] = (unsigned char)(m + i);
        GC_STORE(n->blob, b);   /* the slot holds NULL: the barrier is not needed, but allowed */
        n->blob_len = len;
    }
#ifdef HAVE_FINALIZERS
    if (below(r, 50) == 0 && gc_set_finalizer(n, finalize, NULL) != 0) damage("gc_set_finalizer failed", n, 0);
#endif
    atomic_fetch_add_explicit(&n_nodes, 1, memory_order_relaxed);
    return n;
}

/* Walk at most `budget` nodes from n, checking each; returns a random node on the way. */
static node *walk(node *n, rng *r, int budget, uint64_t tseed)
{
    node *pick = n;
    for (int i = 0; n && i < budget; i++) {
        check_node(n, tseed);
        if (below(r, (uint64_t)i + 2) == 0) pick = n;
        n = n->kids[below(r, NKIDS)];
    }
    return pick;
}

#ifdef HAVE_POOL
static gc_pool_t *pool;
static void *pool_new(void *ctx)
{
    (void)ctx;
    uint64_t *b = gc_alloc_noscan(256);
    b[0] = 0;
    return b;
}
static void pool_op(rng *r, uint64_t tseed)
{
    uint64_t *b = gc_pool_get(pool);
    if (!b) damage("gc_pool_get returned NULL", (node *)exchange, tseed);
    if (b[0]) {   /* one we put: id in b[0], checksums after */
        for (int i = 1; i < 32; i++)
            if (b[i] != test_mix(b[0] + (uint64_t)i)) damage("pooled buffer damaged", (node *)b, tseed);
    }
    b[0] = rnd(r) | 1;
    for (int i = 1; i < 32; i++) b[i] = test_mix(b[0] + (uint64_t)i);
    atomic_fetch_add_explicit(&n_pool, 1, memory_order_relaxed);
    gc_pool_put(pool, b);
}
#endif

#define NWEAK 64
typedef struct thread_arg { int idx; uint64_t tseed; } thread_arg;

static void *mutator(void *argp)
{
    thread_arg *a = argp;
    rng r = {a->tseed};
    node *roots[ROOTS] = {0};   /* on this thread's stack: a root */
#ifdef HAVE_WEAK
    struct { gc_weak_t w; uint64_t id; } weak[NWEAK] = {{0}};
#endif
    unsigned long ops = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint64_t op = below(&r, 100);
        unsigned ri = (unsigned)below(&r, ROOTS);
        node *root = roots[ri];
        if (op < 30 || !root) {                       /* new node linked somewhere */
            node *n = new_node(&r);
            if (!root || below(&r, 4) == 0) {
                if (root) GC_STORE(n->kids[0], root);
                roots[ri] = n;
            } else {
                node *p = walk(root, &r, 8, a->tseed);
                unsigned k = (unsigned)below(&r, NKIDS);
                GC_STORE(n->kids[1], p->kids[k]);
                GC_STORE(p->kids[k], n);
            }
        } else if (op < 45) {                         /* unlink */
            node *p = walk(root, &r, 8, a->tseed);
            GC_STORE(p->kids[below(&r, NKIDS)], NULL);
        } else if (op < 60) {                         /* swap two children across subtrees */
            node *p = walk(root, &r, 6, a->tseed);
            node *q = walk(roots[below(&r, ROOTS)], &r, 6, a->tseed);
            if (q) {
                unsigned i = (unsigned)below(&r, NKIDS), j = (unsigned)below(&r, NKIDS);
                node *t = p->kids[i];
                GC_STORE(p->kids[i], q->kids[j]);
                GC_STORE(q->kids[j], t);
            }
        } else if (op < 70) {                         /* hand a subtree to another thread */
            unsigned e = (unsigned)below(&r, EXCHANGE);
            node *got = __atomic_exchange_n(&exchange[e], root, __ATOMIC_ACQ_REL);
            roots[ri] = got;
        } else if (op < 85) {                         /* walk and check */
            walk(root, &r, 64, a->tseed);
        } else if (op < 88) {                         /* drop a whole root */
            roots[ri] = NULL;
        } else if (op < 91) {                         /* realloc a private buffer */
            uint64_t len = 1 + below(&r, 3000), len2 = 1 + below(&r, 6000), m = rnd(&r);
            unsigned char *b = gc_alloc_noscan(len);
            for (uint64_t i = 0; i < len; i++) b[i] = (unsigned char)(m + i);
            b = gc_realloc(b, len2);
            if (!b) damage("gc_realloc failed", root, a->tseed);
            for (uint64_t i = 0; i < len && i < len2; i++)
                if (b[i] != (unsigned char)(m + i)) damage("gc_realloc lost contents", root, a->tseed);
        } else if (op < 92) {
            if (below(&r, 20) == 0) {
                gc_collect();
                atomic_fetch_add_explicit(&n_collects, 1, memory_order_relaxed);
            }
#ifdef HAVE_WEAK
        } else if (op < 96) {                         /* weak handles */
            unsigned w = (unsigned)below(&r, NWEAK);
            if (weak[w].w) {
                node *n = gc_weak_get(weak[w].w);
                if (n) {
                    if (n->id != weak[w].id) damage("weak handle returned another object", n, a->tseed);
                    check_node(n, a->tseed);
                    atomic_fetch_add_explicit(&n_weak_ok, 1, memory_order_relaxed);
                } else {
                    atomic_fetch_add_explicit(&n_weak_gone, 1, memory_order_relaxed);
                }
            }
            weak[w].w = gc_weak_make(root);
            weak[w].id = root->id;
#endif
#ifdef HAVE_POOL
        } else if (op < 98) {
            pool_op(&r, a->tseed);
#endif
#ifdef HAVE_FINALIZERS
        } else if (op < 99) {
            gc_run_finalizers();
#endif
        }
        ops++;
    }
    for (int i = 0; i < ROOTS; i++)
        if (roots[i]) walk(roots[i], &r, 1000, a->tseed);
    atomic_fetch_add(&n_ops, ops);
    return NULL;
}

static double env_num(const char *name, double def)
{
    const char *s = getenv(name);
    return s && *s ? strtod(s, NULL) : def;
}

int main(void)
{
    const char *s = getenv("STRESS_SEED");
    seed = s && *s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    seconds = env_num("STRESS_SECONDS", 10);
    nthreads = (int)env_num("STRESS_THREADS", 3);
    if (nthreads < 1) nthreads = 1;
    if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;
    int gogc = (int)env_num("STRESS_GOGC", 100);
    double limit = env_num("STRESS_MEMLIMIT", -1);
    const char *gd = getenv("GODEBUG");
    printf("stress: seed %" PRIu64 " (replay: STRESS_SEED=%" PRIu64 "), %d threads, %.0f s, GOGC %d, memory limit %s, "
           "GODEBUG=%s; finalizers %s, weak %s, pool %s\n",
           seed, seed, nthreads, seconds, gogc, limit > 0 ? getenv("STRESS_MEMLIMIT") : "off", gd ? gd : "",
#ifdef HAVE_FINALIZERS
           "on",
#else
           "not in this library",
#endif
#ifdef HAVE_WEAK
           "on",
#else
           "not in this library",
#endif
#ifdef HAVE_POOL
           "on"
#else
           "not in this library"
#endif
    );
    fflush(stdout);
    CHECK(gc_init() == 0);
    gc_set_percent(gogc);
    if (limit > 0) gc_set_memory_limit((int64_t)limit);
    size_t offs[NKIDS + 1];
    for (int i = 0; i < NKIDS; i++) offs[i] = offsetof(node, kids) + (size_t)i * sizeof(node *);
    offs[NKIDS] = offsetof(node, blob);
    node_type = gc_type_new(sizeof(node), offs, NKIDS + 1);
    CHECK(node_type != NULL);
#ifdef HAVE_POOL
    pool = gc_pool_new(pool_new, NULL);
    CHECK(pool != NULL);
#endif
    pthread_t th[MAX_THREADS];
    thread_arg args[MAX_THREADS];
    for (int i = 0; i < nthreads; i++) {
        args[i] = (thread_arg){i, test_mix(seed + (uint64_t)i)};
        CHECK(gc_pthread_create(&th[i], NULL, mutator, &args[i]) == 0);
    }
    double t0 = now_sec();
    while (now_sec() - t0 < seconds) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
    gc_collect();
    rng r = {seed};
    for (int i = 0; i < EXCHANGE; i++)
        if (exchange[i]) walk(exchange[i], &r, 1000, seed);
#ifdef HAVE_FINALIZERS
    gc_run_finalizers();
#endif
    gc_memstats_t ms;
    read_ms(&ms);
    printf("stress: seed %" PRIu64 ": %lu ops, %lu nodes, %lu checks, %lu explicit collections, %u cycles, "
           "heap %" PRIu64 " MiB, max pause %.2f ms; finalizers run %lu, weak alive %lu / gone %lu, pool ops %lu: OK\n",
           seed, atomic_load(&n_ops), atomic_load(&n_nodes), atomic_load(&n_checked), atomic_load(&n_collects), ms.num_gc,
           ms.heap_sys >> 20, ms.pause_max_ns / 1e6, atomic_load(&n_final_run), atomic_load(&n_weak_ok),
           atomic_load(&n_weak_gone), atomic_load(&n_pool));
    CHECK(ms.num_gc > 0, "no cycle ran");
    return 0;
}
