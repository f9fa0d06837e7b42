/*
 * t_barrier_roots: root ranges registered with gc_add_roots while marking receive the only
 * reference to objects moved out of heap slots with GC_STORE; after gc_remove_roots the
 * objects are collected.
 *
 * Each of NTHREADS threads owns NSRC heap holders (reachable from a static table) whose
 * slots hold objects (id + payload + checksum). In a loop, each thread:
 *  1. waits briefly (allocating) for marking to be on;
 *  2. callocs a range of RW words (malloc'd memory is not a root by itself) and registers
 *     it with gc_add_roots;
 *  3. moves RW objects into it: load from a heap slot, plain store into the range, then
 *     GC_STORE the heap slot to NULL, so the range holds the only reference; the heap slot
 *     is refilled with a fresh object by a plain store (it holds NULL);
 *  4. keeps up to NACTIVE ranges registered, checking their objects now and then while
 *     garbage is allocated and cycles run (GOGC 5, so they run back to back);
 *  5. retires the oldest range: records its objects' addresses in hidden form and their ids,
 *     calls gc_remove_roots (which must return 0) and leaves the pointers in the
 *     unregistered memory, now invisible to the collector.
 * Checks: every object in a registered range stays intact (checksum, gc_base(p) == p);
 * removing a range twice gives -EINVAL; at the end, after the remaining ranges are retired
 * too and two forced collections with automatic collection off, the retired objects are
 * gone: at most 5% of them (stale stack words may pin a few) still hold their object.
 * The same body is run again in a child with GODEBUG=gccheckmark=1,gcverify=1, which must
 * exit 0 with no "gcrt: fatal" on stderr.
 */
#include "check.h"

#include <errno.h>
#include <stdatomic.h>

#define NTHREADS 2
#define NSRC 128
#define NSLOTS 64
#define RW 32      /* words per root range */
#define NACTIVE 8  /* registered ranges per thread */
#define MAX_RETIRED 1000000
#define RETIRE_STOP (MAX_RETIRED - 4 * NTHREADS * NACTIVE * RW) /* stop adding ranges */
#define BALLAST 16384 /* 128-byte scanned objects: 2 MiB, so that marking takes a while */
#define MIN_CYCLES 20
#define TARGET_CYCLES 800
#define MIN_RANGES 200 /* per thread */

typedef struct obj {
    uint64_t id;
    uint64_t pay[5];
    uint64_t sum;
    uint64_t pad;
} obj_t;

typedef struct holder {
    obj_t *s[NSLOTS];
} holder_t;

typedef struct retired {
    uintptr_t hidden;
    uint64_t id;
} retired_t;

static holder_t *holders[NTHREADS][NSRC]; /* static data: roots */
static void **ballast;
static retired_t *retired; /* malloc'd: not scanned (and the addresses are hidden anyway) */
static atomic_ulong n_retired, ranges_added, ranges_added_marking, bad_seen, checks;
static atomic_ulong next_id = 1;
static atomic_int stop;
static double max_seconds;

static uint64_t osum(const obj_t *o)
{
    uint64_t h = o->id;
    for (int i = 0; i < 5; i++)
        h = test_mix(h ^ o->pay[i]);
    return h;
}

static int obj_ok(const obj_t *o)
{
    if (!o || gc_base(o) != o || o->id == 0)
        return 0;
    for (int i = 0; i < 5; i++)
        if (o->pay[i] != test_mix(o->id * 8 + (uint64_t)i))
            return 0;
    return o->sum == osum(o);
}

static obj_t *new_obj(void)
{
    obj_t *o = gc_alloc(sizeof *o);
    CHECK(o != NULL);
    o->id = atomic_fetch_add(&next_id, 1);
    for (int i = 0; i < 5; i++)
        o->pay[i] = test_mix(o->id * 8 + (uint64_t)i);
    o->sum = osum(o);
    return o;
}

static TEST_NOINLINE void garbage(uint64_t *rng, int n)
{
    for (int i = 0; i < n; i++) {
        *rng = test_mix(*rng + 1);
        size_t sz = (*rng & 31) == 0 ? 1024 : sizeof(obj_t);
        unsigned char *g = gc_alloc_noscan(sz);
        CHECK(g != NULL);
        memset(g, 0xdb, sz);
    }
}

static TEST_NOINLINE int wait_marking(uint64_t *rng)
{
    for (int i = 0; i < 400 && !gc_write_barrier_on; i++)
        garbage(rng, 1);
    return gc_write_barrier_on;
}

/* Register a fresh range and move RW objects from the thread's heap slots into it. */
static TEST_NOINLINE obj_t **add_range(int t, uint64_t *rng)
{
    int marking = wait_marking(rng);
    obj_t **R = calloc(RW, sizeof *R);
    CHECK(R != NULL);
    CHECK(gc_add_roots(R, RW * sizeof *R) == 0);
    atomic_fetch_add(&ranges_added, 1);
    if (marking && gc_write_barrier_on)
        atomic_fetch_add(&ranges_added_marking, 1);
    for (int j = 0; j < RW; j++) {
        uint64_t r = test_mix(*rng += 0x9e3779b97f4a7c15ull);
        holder_t *h = holders[t][r % NSRC];
        int i = (int)((r >> 20) % NSLOTS);
        obj_t *p = h->s[i];
        CHECK(p != NULL);
        R[j] = p;                 /* a registered root: no barrier */
        GC_STORE(h->s[i], NULL);  /* now only R refers to p */
        if ((j & 7) == 0)
            garbage(rng, 2);
        h->s[i] = new_obj();      /* the slot holds NULL: a plain store */
    }
    return R;
}

static TEST_NOINLINE void check_range(obj_t **R)
{
    atomic_fetch_add(&checks, 1);
    for (int j = 0; j < RW; j++)
        if (!obj_ok(R[j])) {
            if (atomic_fetch_add(&bad_seen, 1) < 5)
                fprintf(stderr, "object %p in a registered range damaged or lost\n", (void *)R[j]);
        }
}

/* Unregister R, remembering its objects in hidden form; R keeps the (now invisible)
 * pointers and is freed at the end. */
static TEST_NOINLINE void retire_range(obj_t **R)
{
    check_range(R);
    unsigned long base = atomic_fetch_add(&n_retired, RW);
    CHECK(base + RW <= MAX_RETIRED, "too many retired objects");
    for (int j = 0; j < RW; j++) {
        retired[base + (unsigned long)j].hidden = HIDE(R[j]);
        retired[base + (unsigned long)j].id = R[j]->id;
    }
    CHECK(gc_remove_roots(R, RW * sizeof *R) == 0);
    CHECK(gc_remove_roots(R, RW * sizeof *R) == -EINVAL, "a range removed twice");
}

typedef struct tstate {
    int t;
    obj_t **active[NACTIVE];
    int nactive;
    obj_t ***dead; /* malloc'd list of retired ranges, freed at the end */
    size_t ndead, capdead;
    atomic_ulong ranges;
} tstate_t;

static TEST_NOINLINE void step(tstate_t *st, uint64_t *rng)
{
    if (st->nactive == NACTIVE) {
        obj_t **old = st->active[0];
        retire_range(old);
        memmove(st->active, st->active + 1, (NACTIVE - 1) * sizeof st->active[0]);
        st->nactive--;
        if (st->ndead == st->capdead) {
            st->capdead = st->capdead ? st->capdead * 2 : 256;
            st->dead = realloc(st->dead, st->capdead * sizeof *st->dead);
            CHECK(st->dead != NULL);
        }
        st->dead[st->ndead++] = old;
    }
    if (atomic_load(&n_retired) >= RETIRE_STOP) {
        atomic_store(&stop, 1);
        return;
    }
    st->active[st->nactive++] = add_range(st->t, rng);
    st->ranges++;
    for (int k = 0; k < st->nactive; k++) {
        garbage(rng, 48);
        if ((test_mix(*rng) & 3) == 0)
            check_range(st->active[k]);
    }
}

static TEST_NOINLINE void finish(tstate_t *st)
{
    while (st->nactive) {
        retire_range(st->active[0]);
        memmove(st->active, st->active + 1, (NACTIVE - 1) * sizeof st->active[0]);
        st->nactive--;
        st->active[st->nactive] = NULL;
    }
}

static void free_dead(tstate_t *st)
{
    for (size_t i = 0; i < st->ndead; i++)
        free(st->dead[i]);
    free(st->dead);
}

static void *helper(void *arg)
{
    tstate_t *st = arg;
    uint64_t rng = test_mix((uint64_t)st->t + 5150);
    while (!atomic_load(&stop))
        step(st, &rng);
    finish(st);
    churn_stack();
    return NULL;
}

static int body(const char *mode)
{
    CHECK(gc_init() == 0);
    retired = malloc(MAX_RETIRED * sizeof *retired);
    CHECK(retired != NULL);
    for (int t = 0; t < NTHREADS; t++)
        for (int k = 0; k < NSRC; k++) {
            holders[t][k] = gc_alloc(sizeof(holder_t));
            CHECK(holders[t][k] != NULL);
            for (int i = 0; i < NSLOTS; i++)
                holders[t][k]->s[i] = new_obj();
        }
    ballast = gc_alloc(BALLAST * sizeof(void *));
    CHECK(ballast != NULL);
    for (int i = 0; i < BALLAST; i++) {
        uint64_t *b = gc_alloc(128);
        CHECK(b != NULL);
        for (int k = 0; k < 16; k++)
            b[k] = test_mix((uint64_t)i * 16 + (uint64_t)k);
        ballast[i] = b;
    }
    churn_stack();

    gc_set_percent(5);
    gc_memstats_t ms;
    uint32_t gc0 = read_ms(&ms)->num_gc;
    double t0 = now_sec();
    tstate_t *st = calloc(NTHREADS, sizeof *st);
    CHECK(st != NULL);
    pthread_t th[NTHREADS];
    for (int t = 1; t < NTHREADS; t++) {
        st[t].t = t;
        CHECK(gc_pthread_create(&th[t], NULL, helper, &st[t]) == 0);
    }
    st[0].t = 0;
    uint64_t rng = 1;
    for (;;) {
        step(&st[0], &rng);
        uint32_t cycles = read_ms(&ms)->num_gc - gc0;
        int enough = cycles >= TARGET_CYCLES;
        for (int t = 0; t < NTHREADS; t++)
            enough = enough && st[t].ranges >= MIN_RANGES;
        if (atomic_load(&bad_seen) || atomic_load(&stop) || enough || now_sec() - t0 > max_seconds)
            break;
    }
    atomic_store(&stop, 1);
    finish(&st[0]);
    for (int t = 1; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    double secs = now_sec() - t0;
    uint32_t cycles = read_ms(&ms)->num_gc - gc0;
    unsigned long total_ranges = 0;
    for (int t = 0; t < NTHREADS; t++)
        total_ranges += st[t].ranges;

    /* Every range is retired now. With automatic collection off (so freed slots are not
     * handed out again), collect and count the retired objects still in place. */
    unsigned long alive = 0, nret = atomic_load(&n_retired);
    churn_stack();
    WITHOUT_AUTO_GC({
        churn_stack();
        gc_collect();
        gc_collect();
        for (unsigned long i = 0; i < nret; i++) {
            const obj_t *o = UNHIDE(retired[i].hidden);
            if (gc_base(o) == o && o->id == retired[i].id)
                alive++;
        }
    });
    for (int t = 0; t < NTHREADS; t++)
        free_dead(&st[t]);

    /* The heap holders are untouched by the retirement: still intact. */
    unsigned long bad_holders = 0;
    for (int t = 0; t < NTHREADS; t++)
        for (int k = 0; k < NSRC; k++)
            for (int i = 0; i < NSLOTS; i++)
                bad_holders += !obj_ok(holders[t][k]->s[i]);

    printf("t_barrier_roots[%s]: %u cycles during %.1fs of mutation, %lu root ranges added "
           "(%lu while marking), %lu range checks, %lu damaged objects in registered ranges, "
           "%lu of %lu retired objects still allocated after gc_remove_roots and collection, "
           "%lu damaged in heap holders\n",
           mode, cycles, secs, atomic_load(&ranges_added), atomic_load(&ranges_added_marking),
           atomic_load(&checks), atomic_load(&bad_seen), alive, nret, bad_holders);
    fflush(stdout);
    CHECK(atomic_load(&bad_seen) == 0, "objects referenced only from registered ranges were lost");
    CHECK(bad_holders == 0, "objects in heap holders damaged");
    /* memcheck runs the mutators 20-50 times slower: one range per thread still tests the path */
    CHECK(total_ranges >= (unsigned long)NTHREADS * (under_valgrind() ? 1 : 20), "only %lu ranges",
          total_ranges);
    CHECK(nret == total_ranges * RW);
    CHECK(alive * 20 <= nret, "%lu of %lu objects still allocated after their only root range "
                              "was removed", alive, nret);
    CHECK(cycles >= test_min_cycles(MIN_CYCLES), "only %u cycles overlapped the mutation", cycles);
    /* memcheck may never schedule it inside a mark phase */
    CHECK_TIMED(atomic_load(&ranges_added_marking) > 0, "no range was added while marking");
    free(st);
    return 0;
}

int main(int argc, char **argv) { return run_checked_then_plain(argc, argv, body, &max_seconds); }
