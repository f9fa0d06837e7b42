/*
 * t_barrier_newobj: pointers stored into objects allocated while marking (allocated black,
 * never scanned in that cycle) and those objects handed between threads.
 *
 * Payloads (id + payload + checksum) live in carriers of NCS slots; carriers live in
 * per-thread tables (heap objects reachable from static data) and in a shared exchange
 * object. Each payload is referenced by exactly one carrier slot. Each of NTHREADS
 * mutators repeatedly:
 *  1. allocates two fresh carriers C and D (sometimes a large object, whose black
 *     allocation takes another path) and fills them with PLAIN stores into their NULL slots
 *     from two old carriers O1, O2 of its table;
 *  2. empties O1 and O2 with GC_STORE(slot, NULL), or (every other time) leaves them full
 *     and only drops them: GC_STORE(table slot, C) overwrites O1, and likewise for D, O2;
 *  3. overwrites non-NULL slots of the fresh C and D with GC_STORE: swaps payloads
 *     between them and rotates C;
 *  4. under a mutex, puts C into a random exchange slot and takes the carrier E that was
 *     there (often one another thread allocated during this very cycle), installs E in
 *     its table with GC_STORE, and swaps payloads between E and D with GC_STORE.
 * Garbage is allocated all the time and GOGC is 5, so cycles run back to back and most
 * carriers are allocated while marking. Between phases the main thread walks the tables and
 * the exchange: every carrier and payload intact (checksum, gc_base(p) == p), every payload
 * id exactly once. The same body is run again in a child with
 * GODEBUG=gccheckmark=1,gcverify=1, which must exit 0 with no "gcrt: fatal" on stderr.
 */
#include "check.h"

#include <stdatomic.h>

#define NTHREADS 2
#define NTAB 512  /* carriers per thread table */
#define NXCHG 64  /* carriers in the exchange */
#define NCS 12    /* payload slots per carrier */
#define NCARRIERS (NTHREADS * NTAB + NXCHG)
#define NPAYLOADS (NCARRIERS * NCS)
#define LARGE_CARRIER 40000 /* bytes: above the small-object limit */
#define OPS_PER_PHASE 1500
#define MIN_CYCLES 20
#define TARGET_CYCLES 800

typedef struct payload {
    uint64_t id;
    uint64_t pay[5];
    uint64_t sum;
    uint64_t pad;
} payload_t;

#define CARRIER_MAGIC 0xca771e7ca771e700ull
typedef struct carrier {
    uint64_t magic;
    uint64_t born; /* allocating thread * 2 + (allocated while marking); not a pointer */
    payload_t *s[NCS];
} carrier_t;

typedef struct table {
    carrier_t *c[NTAB];
} table_t;

typedef struct xchg {
    carrier_t *c[NXCHG];
} xchg_t;

static table_t *tables[NTHREADS]; /* static data: roots */
static xchg_t *exchange;
static pthread_mutex_t xlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t bar;
static atomic_int stop;
static atomic_ulong bad_seen, fresh_carriers, fresh_marking, handoffs, foreign_fresh;
static double max_seconds;

static uint64_t psum(const payload_t *p)
{
    uint64_t h = p->id;
    for (int i = 0; i < 5; i++)
        h = test_mix(h ^ p->pay[i]);
    return h;
}

static int payload_ok(const payload_t *p)
{
    if (!p || gc_base(p) != p)
        return 0;
    uint64_t id = p->id;
    if (id == 0 || id > NPAYLOADS)
        return 0;
    for (int i = 0; i < 5; i++)
        if (p->pay[i] != test_mix(id * 8 + (uint64_t)i))
            return 0;
    return p->sum == psum(p);
}

static int carrier_ok(const carrier_t *c) { return c && gc_base(c) == c && c->magic == CARRIER_MAGIC; }

static uint64_t next_id = 1;

static payload_t *new_payload(void)
{
    payload_t *p = gc_alloc(sizeof *p);
    CHECK(p != NULL);
    p->id = next_id++;
    for (int i = 0; i < 5; i++)
        p->pay[i] = test_mix(p->id * 8 + (uint64_t)i);
    p->sum = psum(p);
    return p;
}

/* A carrier with NULL slots; its magic word is not a pointer, so a plain store. Also
 * records whether it was allocated while marking. */
static TEST_NOINLINE carrier_t *new_carrier(int t, uint64_t r)
{
    int marking = gc_write_barrier_on;
    carrier_t *c = gc_alloc((r & 15) == 0 ? LARGE_CARRIER : sizeof(carrier_t));
    CHECK(c != NULL);
    for (int i = 0; i < NCS; i++)
        CHECK(c->s[i] == NULL, "fresh carrier not zeroed");
    c->magic = CARRIER_MAGIC;
    c->born = (uint64_t)t * 2 + (marking != 0);
    atomic_fetch_add(&fresh_carriers, 1);
    if (marking)
        atomic_fetch_add(&fresh_marking, 1);
    return c;
}

static TEST_NOINLINE void garbage(uint64_t *rng, int n)
{
    for (int i = 0; i < n; i++) {
        *rng = test_mix(*rng + 1);
        size_t sz = (*rng & 31) == 0 ? 1024 : sizeof(payload_t);
        unsigned char *g = gc_alloc_noscan(sz);
        CHECK(g != NULL);
        memset(g, 0xdb, sz);
    }
}

static TEST_NOINLINE void touch(const payload_t *p)
{
    if (!payload_ok(p))
        atomic_fetch_add(&bad_seen, 1);
}

static TEST_NOINLINE void one_op(int t, uint64_t *rng)
{
    table_t *T = tables[t];
    uint64_t r = test_mix(*rng += 0x9e3779b97f4a7c15ull);
    int k1 = (int)(r % NTAB), k2 = (int)((r >> 16) % NTAB);
    if (k1 == k2)
        return;
    int empty_old = (int)((r >> 40) & 1);

    /* 1. fresh carriers filled by plain stores into NULL slots */
    carrier_t *C = new_carrier(t, r >> 44);
    carrier_t *O = T->c[k1];
    for (int i = 0; i < NCS; i++)
        C->s[i] = O->s[i];
    if (empty_old)
        for (int i = 0; i < NCS; i++)
            GC_STORE(O->s[i], NULL); /* 2. only C holds them now */
    garbage(rng, 2);
    carrier_t *D = new_carrier(t, r >> 52);
    carrier_t *O2 = T->c[k2];
    for (int i = 0; i < NCS; i++)
        D->s[i] = O2->s[i];
    if (empty_old)
        for (int i = 0; i < NCS; i++)
            GC_STORE(O2->s[i], NULL);
    /* 2. drop the old carriers (GC_STORE over them) */
    GC_STORE(T->c[k1], C);
    GC_STORE(T->c[k2], D);
    O = O2 = NULL;
    garbage(rng, 2);

    /* 3. overwrite non-NULL slots of the fresh objects */
    for (int n = 0; n < 4; n++) {
        r = test_mix(r + 1);
        int i = (int)(r % NCS), j = (int)((r >> 8) % NCS);
        payload_t *p = C->s[i], *q = D->s[j];
        GC_STORE(C->s[i], q);
        garbage(rng, 1);
        GC_STORE(D->s[j], p);
    }
    {
        payload_t *first = C->s[0];
        for (int i = 0; i + 1 < NCS; i++)
            GC_STORE(C->s[i], C->s[i + 1]);
        GC_STORE(C->s[NCS - 1], first);
    }
    touch(C->s[(r >> 20) % NCS]);

    /* 4. hand C to the exchange, take E, install E where C was */
    r = test_mix(r + 7);
    int x = (int)(r % NXCHG);
    pthread_mutex_lock(&xlock);
    carrier_t *E = exchange->c[x];
    GC_STORE(exchange->c[x], C);
    pthread_mutex_unlock(&xlock);
    garbage(rng, 1);
    /* For the summary: E came from another thread, which allocated it while marking (most
     * likely during the cycle still running). */
    if (gc_write_barrier_on && (E->born & 1) && (int)(E->born >> 1) != t)
        atomic_fetch_add(&foreign_fresh, 1);
    GC_STORE(T->c[k1], E); /* C is now referenced only by the exchange */
    C = NULL;
    for (int n = 0; n < 3; n++) {
        r = test_mix(r + 1);
        int i = (int)(r % NCS), j = (int)((r >> 8) % NCS);
        payload_t *p = E->s[i], *q = D->s[j];
        GC_STORE(E->s[i], q);
        GC_STORE(D->s[j], p);
    }
    touch(E->s[(r >> 30) % NCS]);
    atomic_fetch_add(&handoffs, 1);
}

static void *mutator(void *arg)
{
    int t = (int)(intptr_t)arg;
    uint64_t rng = test_mix((uint64_t)t + 4242);
    for (;;) {
        pthread_barrier_wait(&bar);
        if (atomic_load(&stop))
            break;
        for (int k = 0; k < OPS_PER_PHASE; k++) {
            one_op(t, &rng);
            garbage(&rng, 2);
        }
        churn_stack();
        pthread_barrier_wait(&bar);
    }
    return NULL;
}

static unsigned long check_carrier(const carrier_t *c, unsigned char *seen, const char *where,
                                   int idx)
{
    static int shown;
    if (!carrier_ok(c)) {
        if (shown++ < 5)
            fprintf(stderr, "%s carrier %d (%p) damaged or lost\n", where, idx, (const void *)c);
        return 1;
    }
    unsigned long bad = 0;
    for (int i = 0; i < NCS; i++) {
        const payload_t *p = c->s[i];
        if (!payload_ok(p)) {
            if (shown++ < 5)
                fprintf(stderr, "%s carrier %d slot %d: payload %p damaged or lost (id %llu)\n",
                        where, idx, i, (const void *)p, p ? (unsigned long long)p->id : 0ull);
            bad++;
        } else if (seen[p->id]++) {
            if (shown++ < 5)
                fprintf(stderr, "payload id %llu found twice\n", (unsigned long long)p->id);
            bad++;
        }
    }
    return bad;
}

static TEST_NOINLINE unsigned long verify_all(unsigned char *seen)
{
    unsigned long bad = 0;
    memset(seen, 0, NPAYLOADS + 1);
    for (int t = 0; t < NTHREADS; t++)
        for (int k = 0; k < NTAB; k++)
            bad += check_carrier(tables[t]->c[k], seen, "table", k);
    for (int x = 0; x < NXCHG; x++)
        bad += check_carrier(exchange->c[x], seen, "exchange", x);
    return bad;
}

static TEST_NOINLINE carrier_t *filled_carrier(void)
{
    carrier_t *c = gc_alloc(sizeof *c);
    CHECK(c != NULL);
    c->magic = CARRIER_MAGIC;
    for (int i = 0; i < NCS; i++)
        c->s[i] = new_payload();
    return c;
}

static TEST_NOINLINE void build(void)
{
    for (int t = 0; t < NTHREADS; t++) {
        tables[t] = gc_alloc(sizeof(table_t));
        CHECK(tables[t] != NULL);
        for (int k = 0; k < NTAB; k++)
            tables[t]->c[k] = filled_carrier();
    }
    exchange = gc_alloc(sizeof(xchg_t));
    CHECK(exchange != NULL);
    for (int x = 0; x < NXCHG; x++)
        exchange->c[x] = filled_carrier();
}

static int body(const char *mode)
{
    CHECK(gc_init() == 0);
    build();
    churn_stack();
    unsigned char *seen = malloc(NPAYLOADS + 1);
    CHECK(seen != NULL);
    CHECK(verify_all(seen) == 0);

    gc_set_percent(5);
    CHECK(pthread_barrier_init(&bar, NULL, NTHREADS + 1) == 0);
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
        CHECK(gc_pthread_create(&th[t], NULL, mutator, (void *)(intptr_t)t) == 0);

    gc_memstats_t ms;
    uint32_t gc0 = read_ms(&ms)->num_gc;
    double t0 = now_sec();
    int phases = 0;
    unsigned long bad_total = 0;
    for (;;) {
        pthread_barrier_wait(&bar);
        pthread_barrier_wait(&bar);
        phases++;
        unsigned long bad = verify_all(seen);
        if (bad)
            fprintf(stderr, "%s: phase %d: %lu bad carriers or payloads\n", mode, phases, bad);
        bad_total += bad;
        uint32_t cycles = read_ms(&ms)->num_gc - gc0;
        if (bad_total || (cycles >= TARGET_CYCLES && phases >= 10) || now_sec() - t0 > max_seconds)
            break;
    }
    atomic_store(&stop, 1);
    pthread_barrier_wait(&bar);
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    double secs = now_sec() - t0;
    uint32_t cycles = read_ms(&ms)->num_gc - gc0;

    churn_stack();
    gc_collect();
    gc_collect();
    unsigned long bad = verify_all(seen);
    printf("t_barrier_newobj[%s]: %u cycles during %.1fs of mutation, %d phases, %lu fresh "
           "carriers (%lu allocated while marking), %lu handoffs through the exchange (%lu took a "
           "carrier another thread allocated while marking), %lu "
           "damaged seen by mutators, %lu bad during the run, %lu at the end, %d payloads\n",
           mode, cycles, secs, phases, atomic_load(&fresh_carriers), atomic_load(&fresh_marking),
           atomic_load(&handoffs), atomic_load(&foreign_fresh), atomic_load(&bad_seen), bad_total, bad, NPAYLOADS);
    fflush(stdout);
    CHECK(bad_total == 0, "payloads or carriers damaged or lost during the run");
    CHECK(atomic_load(&bad_seen) == 0, "a mutator saw a damaged payload");
    CHECK(bad == 0, "payloads or carriers damaged or lost at the end");
    CHECK(cycles >= test_min_cycles(MIN_CYCLES), "only %u cycles overlapped the mutation", cycles);
    /* memcheck may never schedule it inside a mark phase */
    CHECK_TIMED(atomic_load(&fresh_marking) > 0, "no carrier was allocated while marking");
    free(seen);
    return 0;
}

int main(int argc, char **argv) { return run_checked_then_plain(argc, argv, body, &max_seconds); }
