/*
 * t_greentea: span-local marking (GODEBUG=gcgreentea, gc/mark.c) on objects that point to
 * each other inside their span and across spans, while concurrent cycles run and mutators
 * rewire them with GC_STORE.
 *
 * NCL clusters of K 48-byte nodes; a cluster's nodes are allocated one after another, so
 * they share a span (a span of 48-byte slots holds about three and a half clusters). The
 * only root of a cluster is its head in a static table; its nodes form one chain in a random
 * order of their slots, so marking a node marks the next one somewhere else in the same
 * span, before or after it: a span scan that did not take the marks made while it scans
 * loses the rest of the chain. Every node also has a cross pointer to a node of another
 * cluster. Half of the clusters are typed (precise), half conservative. Two mutator threads
 * (each owning half of the clusters), with GOGC 5 and garbage of the nodes' size class, so
 * that cycles run back to back:
 *  - swap two neighbours of a chain (a->b->c->d to a->c->b->d: b and then c are held only in
 *    locals between the stores, which the deletion barrier must shade and marking scan);
 *  - point a node's cross pointer at a random node of any cluster;
 *  - replace a cluster by a new one (allocated black while marking; the old one becomes
 *    garbage except where cross pointers still reach it).
 * Between phases the main thread walks every chain: K nodes, each intact (id and checksum;
 * gcpoison fills freed slots), gc_base(node) == node, and every cross target intact.
 * Run in children with GODEBUG=gccheckmark=1,gcverify=1,gcpoison=1 and gcgreentea=1, then
 * gcgreentea=0 (gcverify also checks that no span-local span is left queued and every mark
 * has its scanned bit), then here with the defaults.
 */
#include "check.h"

#include <stdatomic.h>

#define NTHREADS 2
#define NCL 512
#define K 48
#define OPS_PER_PHASE 6000
#define MIN_CYCLES 20
#define TARGET_CYCLES 600

typedef struct node {
    struct node *next, *cross;
    uint64_t id, pay[2], sum;
} node_t;

static node_t *heads[NCL]; /* static data: the clusters' only roots */
static gc_type_t *node_type;
static pthread_barrier_t bar;
static volatile int stop;
static atomic_ulong ops_done, ops_marking, bad_seen;
static double max_seconds;

static uint64_t node_sum(const node_t *n) { return test_mix(n->id ^ test_mix(n->pay[0] ^ test_mix(n->pay[1]))); }

static int node_ok(const node_t *n)
{
    if (gc_base(n) != n)
        return 0;
    return n->pay[0] == test_mix(n->id * 2) && n->pay[1] == test_mix(n->id * 2 + 1) && n->sum == node_sum(n);
}

static TEST_NOINLINE node_t *new_node(int typed, uint64_t id)
{
    node_t *n = typed ? gc_alloc_typed(node_type) : gc_alloc(sizeof(node_t));
    CHECK(n != NULL);
    n->id = id;
    n->pay[0] = test_mix(id * 2);
    n->pay[1] = test_mix(id * 2 + 1);
    n->sum = node_sum(n);
    return n;
}

/* A cluster: K nodes allocated in a row, chained in a random order of their slots, each
 * cross pointer at a node of another cluster (or NULL before those exist). Returns the head;
 * the nodes are held only by the chain from the moment their predecessor links them. */
static TEST_NOINLINE node_t *new_cluster(int c, uint64_t *rng, uint64_t *next_id)
{
    node_t *n[K];
    int perm[K];
    for (int i = 0; i < K; i++) {
        n[i] = new_node(c & 1, (*next_id)++);
        perm[i] = i;
    }
    for (int i = K - 1; i > 0; i--) {
        *rng = test_mix(*rng + 1);
        int j = (int)(*rng % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int i = 0; i < K; i++) {
        *rng = test_mix(*rng + 1);
        node_t *h = heads[*rng % NCL];
        GC_STORE(n[perm[i]]->cross, h);
        if (i + 1 < K)
            GC_STORE(n[perm[i]]->next, n[perm[i + 1]]);
    }
    node_t *head = n[perm[0]];
    memset(n, 0, sizeof n);
    return head;
}

/* Garbage of the nodes' size class (noscan, patterned), so freed node slots are reused. */
static TEST_NOINLINE void garbage(uint64_t *rng, int count)
{
    for (int i = 0; i < count; i++) {
        *rng = test_mix(*rng + 1);
        unsigned char *g = gc_alloc_noscan((*rng & 255) == 0 ? 4096 : sizeof(node_t));
        CHECK(g != NULL);
        memset(g, 0xdb, sizeof(node_t));
    }
}

static TEST_NOINLINE void touch(const node_t *n)
{
    if (n && !node_ok(n))
        atomic_fetch_add(&bad_seen, 1);
}

/* a->b->c->d becomes a->c->b->d, with b and then c held only in locals between stores. */
static TEST_NOINLINE void swap_op(uint64_t *rng, int c)
{
    node_t *a = heads[c];
    int steps = (int)(*rng % (K - 3));
    for (int i = 0; i < steps; i++)
        a = a->next;
    node_t *b = a->next, *x = b->next, *d = x->next;
    GC_STORE(a->next, x);
    garbage(rng, 2);
    touch(b);
    GC_STORE(b->next, d);
    GC_STORE(x->next, b);
    garbage(rng, 1);
}

static TEST_NOINLINE void cross_op(uint64_t *rng, int c)
{
    node_t *a = heads[c];
    int steps = (int)(*rng % K);
    for (int i = 0; i < steps; i++)
        a = a->next;
    node_t *t = heads[(*rng >> 20) % NCL];
    for (int i = (int)((*rng >> 40) % K); i > 0 && t->next; i--)
        t = t->next;
    GC_STORE(a->cross, t);
    garbage(rng, 1);
}

static void *mutator(void *arg)
{
    int t = (int)(intptr_t)arg;
    int lo = t * (NCL / NTHREADS), hi = lo + NCL / NTHREADS;
    uint64_t rng = test_mix((uint64_t)t + 777), next_id = ((uint64_t)(t + 1) << 40);
    for (;;) {
        pthread_barrier_wait(&bar);
        if (__atomic_load_n(&stop, __ATOMIC_SEQ_CST))
            break;
        for (int k = 0; k < OPS_PER_PHASE; k++) {
            rng = test_mix(rng + 0x9e3779b97f4a7c15ull);
            int c = lo + (int)(rng % (uint64_t)(hi - lo)), marking = gc_write_barrier_on;
            unsigned op = (unsigned)(rng >> 56) % 16;
            if (op == 0) {
                node_t *h = new_cluster(c, &rng, &next_id);
                GC_STORE(heads[c], h);
            } else if (op < 10) {
                swap_op(&rng, c);
            } else {
                cross_op(&rng, c);
            }
            atomic_fetch_add(&ops_done, 1);
            if (marking)
                atomic_fetch_add(&ops_marking, 1);
        }
        churn_stack();
        pthread_barrier_wait(&bar);
    }
    return NULL;
}

static const char *run_mode;

/* Walk every chain: the number of damaged or missing nodes. */
static TEST_NOINLINE unsigned long verify_all(void)
{
    const char *mode = run_mode;
    unsigned long bad = 0;
    for (int c = 0; c < NCL; c++) {
        int n = 0;
        for (const node_t *x = heads[c]; x; x = x->next) {
            if (!node_ok(x) || (x->cross && !node_ok(x->cross))) {
                if (bad++ < 5)
                    fprintf(stderr, "%s: cluster %d node %d at %p damaged (id %#llx), or its cross target %p\n", mode, c,
                            n, (const void *)x, (unsigned long long)x->id, (const void *)x->cross);
                break;
            }
            if (++n > K)
                break;
        }
        if (n != K && bad++ < 5)
            fprintf(stderr, "%s: cluster %d has %d nodes, not %d\n", mode, c, n, K);
    }
    return bad;
}

static int body(const char *mode)
{
    CHECK(gc_init() == 0);
    run_mode = mode;
    size_t offs[] = {offsetof(node_t, next), offsetof(node_t, cross)};
    node_type = gc_type_new(sizeof(node_t), offs, 2);
    CHECK(node_type != NULL);
    uint64_t rng = 99, id = 1;
    for (int c = 0; c < NCL; c++)
        heads[c] = new_cluster(c, &rng, &id);
    churn_stack();
    CHECK(verify_all() == 0);
    gc_set_percent(5);
    uint32_t cycles;
    int phases;
    double t0 = now_sec();
    unsigned long bad_total =
        test_phased_run(NTHREADS, mutator, &bar, &stop, verify_all, TARGET_CYCLES, max_seconds, &cycles, &phases);
    churn_stack();
    gc_collect();
    gc_collect();
    unsigned long bad = verify_all();
    printf("t_greentea[%s]: %u cycles in %.1fs, %d phases, %lu ops (%lu with the barrier on), %lu damaged seen by "
           "mutators, %lu damaged at the end\n",
           mode, cycles, now_sec() - t0, phases, atomic_load(&ops_done), atomic_load(&ops_marking),
           atomic_load(&bad_seen), bad);
    fflush(stdout);
    CHECK(bad_total == 0, "damaged or lost nodes during the run");
    CHECK(atomic_load(&bad_seen) == 0, "a mutator saw a damaged node");
    CHECK(bad == 0, "damaged or lost nodes at the end");
    CHECK(cycles >= test_min_cycles(MIN_CYCLES), "only %u cycles overlapped the mutation", cycles);
    CHECK_TIMED(atomic_load(&ops_marking) > 0, "no operation happened while marking");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "child") == 0) {
        max_seconds = 5.0;
        return body(argv[2]);
    }
    static const char *const modes[] = {"gcgreentea=1", "gcgreentea=0"};
    int failed = 0;
    for (int m = 0; m < 2; m++) {
        child_result_t *r = malloc(sizeof *r);
        CHECK(r != NULL);
        char godebug[128];
        snprintf(godebug, sizeof godebug, "GODEBUG=gccheckmark=1,gcverify=1,gcpoison=1,%s", modes[m]);
        const char *args[] = {"child", modes[m], NULL};
        const char *env[] = {godebug, "GOGC", NULL};
        int st = run_self(r, args, env);
        fputs(r->out, stdout);
        int fatal = strstr(r->err, "gcrt: fatal") != NULL || strstr(r->err, "gcrt: gcverify:") != NULL;
        if (st != 0 || fatal) {
            fprintf(stderr, "child (%s) exited with %d; its stderr:\n%s\n", godebug, st, r->err);
            failed++;
        }
        free(r);
    }
    max_seconds = 3.0;
    body("default");
    CHECK(failed == 0, "%d checked children failed", failed);
    return 0;
}
