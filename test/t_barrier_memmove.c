/*
 * t_barrier_memmove: gc_memmove applies the deletion barrier to every pointer it
 * overwrites, while concurrent cycles run.
 *
 * Each of two mutator threads owns NARR small pointer arrays (NSMALL slots, gc_alloc'd, so
 * scanned conservatively), one big pointer array (BIGN slots, larger than a mark oblet) and
 * a scratch array, all reachable from a static table (through a heap object). Every slot
 * of the small and big arrays holds a distinct target object (id + payload + checksum;
 * see target_t for why it is scanned); the arrays are the only references to the targets.
 * The threads keep moving the pointers with gc_memmove only (never a plain store into the
 * arrays):
 *  - rotate a small array left or right by k (the k wrapped-around pointers are parked in
 *    a stack buffer and moved back with gc_memmove);
 *  - swap the contents of two small arrays through the scratch array
 *    (s <- a, a <- b, b <- s, s <- zeros): a marker that has scanned b and s but not a
 *    loses a's old contents unless the a <- b move shades what it overwrites;
 *  - swap a segment of a small array with a segment of the big array, and two segments of
 *    the big array, the same way;
 *  - rotate the big array by k.
 * Garbage is allocated all the time and GOGC is 5, so cycles run back to back. Between
 * phases the main thread checks every array: no NULL slot, every target intact
 * (checksum, gc_base(t) == t), every id exactly once.
 * The same body is run again in a child with GODEBUG=gccheckmark=1,gcverify=1, which must
 * exit 0 with no "gcrt: fatal" on stderr.
 */
#include "check.h"

#include <stdatomic.h>

#define NTHREADS 2
#define NARR 200
#define NSMALL 64
#define BIGN 20000 /* 160000 bytes: a large object, scanned in oblets */
#define PER_THREAD (NARR * NSMALL + BIGN)
#define NTARGETS (NTHREADS * PER_THREAD)
#define OPS_PER_PHASE 1500
#define MIN_CYCLES 20
#define TARGET_CYCLES 600

/* Targets are scanned (gc_alloc) although they hold no pointers: scanning each one takes the
 * marker a little time, so that it works through the arrays (and the targets each array
 * greys) over the whole mark phase rather than in one burst, and mutators meet arrays in
 * every state: scanned, being scanned, not yet scanned. */
#define NPAY 13
typedef struct target {
    uint64_t id;
    uint64_t pay[NPAY];
    uint64_t sum;
    uint64_t pad;
} target_t;

typedef struct arrays {
    target_t **small[NARR];
    target_t **big;
    target_t **scratch; /* BIGN slots */
} arrays_t;

static arrays_t *tables[NTHREADS]; /* static data: the only roots (the table is a heap object) */
static target_t *const zeros[BIGN];  /* a source of NULLs to clear the scratch array */
static pthread_barrier_t bar;
static atomic_int stop;
static atomic_ulong ops_done, ops_marking, words_moved;
static double max_seconds;

static uint64_t tsum(const target_t *t)
{
    uint64_t h = t->id;
    for (int i = 0; i < NPAY; i++)
        h = test_mix(h ^ t->pay[i]);
    return h;
}

static int target_ok(const target_t *t)
{
    if (!t || gc_base(t) != t)
        return 0;
    uint64_t id = t->id;
    if (id == 0 || id > NTARGETS)
        return 0;
    for (int i = 0; i < NPAY; i++)
        if (t->pay[i] != test_mix(id * 16 + (uint64_t)i))
            return 0;
    return t->sum == tsum(t);
}

static uint64_t next_id = 1;

static target_t *new_target(void)
{
    target_t *t = gc_alloc(sizeof *t);
    CHECK(t != NULL);
    t->id = next_id++;
    for (int i = 0; i < NPAY; i++)
        t->pay[i] = test_mix(t->id * 16 + (uint64_t)i);
    t->sum = tsum(t);
    return t;
}

static TEST_NOINLINE void garbage(uint64_t *rng, int n)
{
    for (int i = 0; i < n; i++) {
        *rng = test_mix(*rng + 1);
        size_t sz = (*rng & 31) == 0 ? 2048 : sizeof(target_t);
        unsigned char *g = gc_alloc_noscan(sz);
        CHECK(g != NULL);
        memset(g, 0xdb, sz);
    }
}

static void moved(size_t words, int marking)
{
    atomic_fetch_add(&ops_done, 1);
    atomic_fetch_add(&words_moved, words);
    if (marking)
        atomic_fetch_add(&ops_marking, 1);
}

/* Rotate a[0..n) by k: left (a[i] <- a[i+k]) or right (a[i+k] <- a[i]). */
static TEST_NOINLINE void rotate(target_t **a, size_t n, size_t k, int left, uint64_t *rng)
{
    target_t *park[NSMALL];
    int marking = gc_write_barrier_on;
    if (left) {
        memcpy(park, a, k * sizeof *a);
        gc_memmove(a, a + k, (n - k) * sizeof *a);
        garbage(rng, 2);
        gc_memmove(a + n - k, park, k * sizeof *a);
    } else {
        memcpy(park, a + n - k, k * sizeof *a);
        gc_memmove(a + k, a, (n - k) * sizeof *a);
        garbage(rng, 2);
        gc_memmove(a, park, k * sizeof *a);
    }
    moved(n, marking);
}

/* Swap a[0..n) and b[0..n) through s; a and b do not overlap. */
static TEST_NOINLINE void swap_via(target_t **a, target_t **b, target_t **s, size_t n,
                                   uint64_t *rng)
{
    int marking = gc_write_barrier_on;
    gc_memmove(s, a, n * sizeof *a);
    garbage(rng, 1);
    gc_memmove(a, b, n * sizeof *a); /* a's old contents are now only in s */
    garbage(rng, 2);
    gc_memmove(b, s, n * sizeof *a);
    gc_memmove(s, zeros, n * sizeof *a);
    moved(3 * n, marking);
}

static void *mutator(void *arg)
{
    int t = (int)(intptr_t)arg;
    uint64_t rng = test_mix((uint64_t)t + 777);
    for (;;) {
        pthread_barrier_wait(&bar);
        if (atomic_load(&stop))
            break;
        arrays_t *A = tables[t];
        for (int op = 0; op < OPS_PER_PHASE; op++) {
            uint64_t r = test_mix(rng += 0x9e3779b97f4a7c15ull);
            target_t **a = A->small[r % NARR], **b = A->small[(r >> 16) % NARR];
            size_t k = 1 + (size_t)((r >> 32) % (NSMALL - 1));
            switch ((r >> 48) % 16) {
            case 0: case 1: case 2: case 3: case 4:
                rotate(a, NSMALL, k, (int)((r >> 60) & 1), &rng);
                break;
            case 5: case 6: case 7: case 8: case 9:
                if (a != b)
                    swap_via(a, b, A->scratch, NSMALL, &rng);
                break;
            case 10: case 11: case 12: { /* a segment of a small array <-> of the big one */
                size_t off = (size_t)((r >> 8) % (BIGN - k));
                swap_via(a + (NSMALL - k) / 2, A->big + off, A->scratch, k, &rng);
                break;
            }
            case 13: case 14: { /* two disjoint segments of the big array */
                size_t len = 1 + (size_t)((r >> 20) % 4096);
                size_t o1 = (size_t)((r >> 4) % (BIGN / 2 - len));
                size_t o2 = BIGN / 2 + (size_t)((r >> 36) % (BIGN / 2 - len));
                swap_via(A->big + o1, A->big + o2, A->scratch, len, &rng);
                break;
            }
            default:
                rotate(A->big, BIGN, k, (int)((r >> 60) & 1), &rng);
                break;
            }
            garbage(&rng, 2);
        }
        churn_stack();
        pthread_barrier_wait(&bar);
    }
    return NULL;
}

static unsigned long check_slot(target_t *x, unsigned char *seen, int t, const char *where,
                                size_t i)
{
    if (!target_ok(x)) {
        static int shown;
        if (shown++ < 5)
            fprintf(stderr, "thread %d %s slot %zu: target %p damaged or lost (id %llu)\n", t,
                    where, i, (void *)x, x ? (unsigned long long)x->id : 0ull);
        return 1;
    }
    if (seen[x->id]++) {
        fprintf(stderr, "target id %llu found twice\n", (unsigned long long)x->id);
        return 1;
    }
    return 0;
}

static TEST_NOINLINE unsigned long verify_all(unsigned char *seen)
{
    unsigned long bad = 0;
    memset(seen, 0, NTARGETS + 1);
    for (int t = 0; t < NTHREADS; t++) {
        arrays_t *A = tables[t];
        for (int k = 0; k < NARR; k++)
            for (size_t i = 0; i < NSMALL; i++)
                bad += check_slot(A->small[k][i], seen, t, "small array", i);
        for (size_t i = 0; i < BIGN; i++)
            bad += check_slot(A->big[i], seen, t, "big array", i);
        for (size_t i = 0; i < BIGN; i++)
            if (A->scratch[i]) {
                bad++;
                fprintf(stderr, "scratch slot %zu not cleared\n", i);
                break;
            }
    }
    return bad;
}

static TEST_NOINLINE void build(void)
{
    for (int t = 0; t < NTHREADS; t++) {
        arrays_t *A = gc_alloc(sizeof *A);
        CHECK(A != NULL);
        tables[t] = A;
        for (int k = 0; k < NARR; k++) {
            A->small[k] = gc_alloc(NSMALL * sizeof(target_t *));
            CHECK(A->small[k] != NULL);
            for (size_t i = 0; i < NSMALL; i++)
                A->small[k][i] = new_target();
        }
        A->big = gc_alloc(BIGN * sizeof(target_t *));
        A->scratch = gc_alloc(BIGN * sizeof(target_t *));
        CHECK(A->big != NULL && A->scratch != NULL);
        for (size_t i = 0; i < BIGN; i++)
            A->big[i] = new_target();
    }
}

static int body(const char *mode)
{
    CHECK(gc_init() == 0);
    build();
    churn_stack();
    unsigned char *seen = malloc(NTARGETS + 1);
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
            fprintf(stderr, "%s: phase %d: %lu bad slots\n", mode, phases, bad);
        bad_total += bad;
        uint32_t cycles = read_ms(&ms)->num_gc - gc0;
        /* On a loaded machine cycles come slowly: past the time budget, keep going (up to
         * three times it) until MIN_CYCLES have overlapped the mutation. */
        double el = now_sec() - t0;
        if (bad_total || (cycles >= TARGET_CYCLES && phases >= 10) ||
            (el > max_seconds && cycles >= MIN_CYCLES) || el > 3 * max_seconds)
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
    printf("t_barrier_memmove[%s]: %u cycles during %.1fs of mutation, %d phases, %lu "
           "gc_memmove operations (%lu with the barrier on), %lu pointer words moved, %lu bad "
           "slots during the run, %lu at the end, %d targets\n",
           mode, cycles, secs, phases, atomic_load(&ops_done), atomic_load(&ops_marking),
           atomic_load(&words_moved), bad_total, bad, NTARGETS);
    fflush(stdout);
    CHECK(bad_total == 0, "targets damaged or lost during the run");
    CHECK(bad == 0, "targets damaged or lost at the end");
    CHECK(cycles >= test_min_cycles(MIN_CYCLES), "only %u cycles overlapped the mutation", cycles);
    /* memcheck may never schedule it inside a mark phase */
    CHECK_TIMED(atomic_load(&ops_marking) > 0, "no gc_memmove happened while marking");
    free(seen);
    return 0;
}

int main(int argc, char **argv) { return run_checked_then_plain(argc, argv, body, &max_seconds); }
