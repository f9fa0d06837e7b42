/*
 * t_barrier_thread: threads created (gc_pthread_create) while marking receive the only
 * reference to a structure, and the structure survives intact.
 *
 * NSTRUCT structures (a header and a LISTLEN-node singly linked list; every node has an id,
 * a payload and a checksum) sit in the slots of a heap "home" object reachable from static
 * data; nothing else refers to them. The main thread waits (briefly, while allocating)
 * until marking is on, then moves a structure out of its home slot (load, GC_STORE the
 * slot to NULL) and starts a thread with gc_pthread_create that receives the pointer
 *  - either as the start argument (mode "arg"; the argument is the only reference),
 *  - or through a static mailbox slot; the start argument is only the slot's index, and
 *    the thread takes the pointer and clears the slot (mode "global").
 * The main thread keeps no copy. The worker allocates garbage (cycles keep running),
 * checks the structure, reverses the list in place with GC_STORE (the unlinked rest of the
 * list is then only in locals), allocates more, checks again, and hands it back by
 * GC_STORE into a NULL slot of a heap "return" object; then it exits. The main thread
 * joins it, checks the structure and puts it back home. Up to NWORK workers are in flight.
 * GOGC is 5 and garbage is allocated all the time, so cycles run back to back. Every
 * check: each node intact (checksum, gc_base(node) == node), the ids in order (ascending
 * or descending by the header's flag), exactly LISTLEN nodes.
 * The same body is run again in a child with GODEBUG=gccheckmark=1,gcverify=1, which must
 * exit 0 with no "gcrt: fatal" on stderr.
 */
#include "check.h"

#include <stdatomic.h>

#define NSTRUCT 64
#define LISTLEN 48
#define NWORK 4
#define MIN_CYCLES 20
#define TARGET_CYCLES 1000
#define MIN_THREADS 400
#define BALLAST 24576 /* 128-byte scanned objects: 3 MiB */

typedef struct lnode {
    struct lnode *next;
    uint64_t id;
    uint64_t pay[4];
    uint64_t sum;
    uint64_t pad;
} lnode_t;

#define HDR_MAGIC 0x57c0ffee5eed0000ull
typedef struct hdr {
    uint64_t magic;
    uint64_t sid;
    uint64_t reversed;
    lnode_t *first;
} hdr_t;

typedef struct slots {
    hdr_t *s[NSTRUCT];
} slots_t;

static slots_t *home;                   /* static data: the only root of the structures */
static void **ballast;                  /* live data, so that marking takes a while */
static slots_t *ret;                    /* workers hand structures back here (by worker slot) */
static hdr_t *volatile mailbox[NWORK];  /* mode "global" */
static atomic_ulong bad_seen, worker_checks;
static double max_seconds;

static uint64_t lsum(const lnode_t *n)
{
    uint64_t h = n->id;
    for (int i = 0; i < 4; i++)
        h = test_mix(h ^ n->pay[i]);
    return h;
}

static int lnode_ok(const lnode_t *n, uint64_t want_id)
{
    if (!n || gc_base(n) != n || n->id != want_id)
        return 0;
    for (int i = 0; i < 4; i++)
        if (n->pay[i] != test_mix(want_id * 8 + (uint64_t)i))
            return 0;
    return n->sum == lsum(n);
}

/* 0 if the structure with id sid is intact; otherwise a code saying what is wrong. */
static TEST_NOINLINE int struct_check(const hdr_t *h, uint64_t sid)
{
    if (!h || gc_base(h) != h || h->magic != HDR_MAGIC || h->sid != sid || h->reversed > 1)
        return 1;
    const lnode_t *n = h->first;
    for (uint64_t k = 0; k < LISTLEN; k++) {
        uint64_t want = sid * LISTLEN + (h->reversed ? LISTLEN - 1 - k : k) + 1;
        if (!lnode_ok(n, want))
            return 2;
        n = n->next;
    }
    return n == NULL ? 0 : 3;
}

static TEST_NOINLINE hdr_t *new_struct(uint64_t sid)
{
    hdr_t *h = gc_alloc(sizeof *h);
    CHECK(h != NULL);
    h->magic = HDR_MAGIC;
    h->sid = sid;
    lnode_t **link = &h->first;
    for (uint64_t k = 0; k < LISTLEN; k++) {
        lnode_t *n = gc_alloc(sizeof *n);
        CHECK(n != NULL);
        n->id = sid * LISTLEN + k + 1;
        for (int i = 0; i < 4; i++)
            n->pay[i] = test_mix(n->id * 8 + (uint64_t)i);
        n->sum = lsum(n);
        *link = n;
        link = &n->next;
    }
    return h;
}

static TEST_NOINLINE void garbage(uint64_t *rng, int n)
{
    for (int i = 0; i < n; i++) {
        *rng = test_mix(*rng + 1);
        size_t sz = (*rng & 31) == 0 ? 1024 : sizeof(lnode_t);
        unsigned char *g = gc_alloc_noscan(sz);
        CHECK(g != NULL);
        memset(g, 0xdb, sz);
    }
}

/* Reverse the list in place; while it runs, the part not yet relinked is reachable only
 * from locals. */
static TEST_NOINLINE void reverse(hdr_t *h, uint64_t *rng)
{
    lnode_t *prev = NULL, *cur = h->first;
    GC_STORE(h->first, NULL);
    int k = 0;
    while (cur) {
        lnode_t *next = cur->next;
        GC_STORE(cur->next, prev);
        prev = cur;
        cur = next;
        if ((k++ & 7) == 0)
            garbage(rng, 1);
    }
    GC_STORE(h->first, prev); /* slot holds NULL */
    h->reversed ^= 1;
}

typedef struct work {
    int mode;     /* 0: arg, 1: global */
    int w;        /* worker slot */
    uint64_t sid; /* expected structure id */
} work_t;

static TEST_NOINLINE void worker_check(const hdr_t *h, uint64_t sid)
{
    int c = struct_check(h, sid);
    atomic_fetch_add(&worker_checks, 1);
    if (c) {
        atomic_fetch_add(&bad_seen, 1);
        fprintf(stderr, "worker: structure %llu damaged (code %d)\n", (unsigned long long)sid, c);
    }
}

/* The whole life of a worker, given the structure. */
static TEST_NOINLINE void worker_body(hdr_t *h, int w, uint64_t sid)
{
    uint64_t rng = test_mix(sid * 31 + (uint64_t)w);
    garbage(&rng, 400);
    worker_check(h, sid);
    reverse(h, &rng);
    garbage(&rng, 400);
    worker_check(h, sid);
    GC_STORE(ret->s[w], h); /* the return slot holds NULL */
}

static void *worker_arg(void *arg)
{
    /* The start argument is the structure itself: the only reference to it. */
    hdr_t *h = arg;
    /* Which worker slot and id: from the header (the only way to find out). */
    uint64_t sid = h->sid;
    worker_body(h, (int)(sid % NWORK), sid);
    return NULL;
}

static void *worker_global(void *arg)
{
    int w = (int)(intptr_t)arg;
    hdr_t *h = mailbox[w];
    mailbox[w] = NULL; /* static data: no barrier needed */
    CHECK(h != NULL, "mailbox %d empty", w);
    worker_body(h, w, h->sid);
    return NULL;
}

/* Wait a little (allocating, so cycles come) for marking to be on; returns whether it is. */
static TEST_NOINLINE int wait_marking(uint64_t *rng)
{
    for (int i = 0; i < 400 && !gc_write_barrier_on; i++)
        garbage(rng, 1);
    return gc_write_barrier_on;
}

/* Move structure sid out of home slot sid and start a worker for it; keeps no copy. */
static TEST_NOINLINE pthread_t launch(uint64_t sid, int mode, int w)
{
    pthread_t th;
    hdr_t *h = home->s[sid];
    CHECK(h != NULL);
    if (mode == 0) {
        GC_STORE(home->s[sid], NULL);
        CHECK(gc_pthread_create(&th, NULL, worker_arg, h) == 0);
    } else {
        mailbox[w] = h;
        GC_STORE(home->s[sid], NULL);
        CHECK(gc_pthread_create(&th, NULL, worker_global, (void *)(intptr_t)w) == 0);
    }
    return th;
}

/* Join the worker in slot w and move its structure back home. */
static TEST_NOINLINE unsigned long land(pthread_t th, int w, uint64_t sid)
{
    CHECK(pthread_join(th, NULL) == 0);
    hdr_t *h = ret->s[w];
    int c = struct_check(h, sid);
    if (c)
        fprintf(stderr, "structure %llu came back damaged (code %d)\n", (unsigned long long)sid, c);
    GC_STORE(ret->s[w], NULL);
    GC_STORE(home->s[sid], h); /* the home slot holds NULL */
    return c != 0;
}

static TEST_NOINLINE unsigned long verify_home(void)
{
    unsigned long bad = 0;
    for (uint64_t sid = 0; sid < NSTRUCT; sid++) {
        int c = struct_check(home->s[sid], sid);
        if (c) {
            fprintf(stderr, "home structure %llu damaged (code %d)\n", (unsigned long long)sid, c);
            bad++;
        }
    }
    return bad;
}

static int body(const char *mode)
{
    CHECK(gc_init() == 0);
    home = gc_alloc(sizeof(slots_t));
    ret = gc_alloc(sizeof(slots_t));
    CHECK(home != NULL && ret != NULL);
    for (uint64_t sid = 0; sid < NSTRUCT; sid++)
        home->s[sid] = new_struct(sid);
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
    CHECK(verify_home() == 0);

    gc_set_percent(5);
    gc_memstats_t ms;
    uint32_t gc0 = read_ms(&ms)->num_gc;
    double t0 = now_sec();
    uint64_t rng = 99;
    pthread_t th[NWORK];
    uint64_t sid_of[NWORK];
    int busy[NWORK] = {0};
    unsigned long launched = 0, launched_marking = 0, by_mode[2] = {0, 0}, bad = 0;
    uint64_t next_sid = 0;
    for (unsigned long round = 0;; round++) {
        /* Workers are slots 0..NWORK-1; structure sid goes to worker slot sid % NWORK (so
         * worker_arg can find its slot from the header). */
        int w = (int)(next_sid % NWORK);
        if (busy[w]) {
            bad += land(th[w], w, sid_of[w]);
            busy[w] = 0;
        }
        if (bad)
            break;
        uint32_t cycles = read_ms(&ms)->num_gc - gc0;
        if ((cycles >= TARGET_CYCLES && launched >= MIN_THREADS) || now_sec() - t0 > max_seconds)
            break;
        int m = (int)((round >> 1) & 1);
        launched_marking += wait_marking(&rng) != 0;
        th[w] = launch(next_sid, m, w);
        sid_of[w] = next_sid;
        busy[w] = 1;
        launched++;
        by_mode[m]++;
        next_sid = (next_sid + 1) % NSTRUCT;
        churn_stack();
    }
    for (int w = 0; w < NWORK; w++)
        if (busy[w])
            bad += land(th[w], w, sid_of[w]);
    double secs = now_sec() - t0;
    uint32_t cycles = read_ms(&ms)->num_gc - gc0;
    churn_stack();
    gc_collect();
    gc_collect();
    unsigned long bad_end = verify_home();
    printf("t_barrier_thread[%s]: %u cycles during %.1fs of mutation, %lu threads started "
           "(%lu while marking; %lu by argument, %lu by global), %lu worker checks, %lu "
           "damaged seen by workers, %lu damaged on return, %lu damaged at the end\n",
           mode, cycles, secs, launched, launched_marking, by_mode[0], by_mode[1],
           atomic_load(&worker_checks), atomic_load(&bad_seen), bad, bad_end);
    fflush(stdout);
    CHECK(atomic_load(&bad_seen) == 0, "a worker saw a damaged structure");
    CHECK(bad == 0, "a structure came back damaged");
    CHECK(bad_end == 0, "structures damaged at the end");
    CHECK(cycles >= test_min_cycles(MIN_CYCLES), "only %u cycles overlapped the mutation", cycles);
    /* memcheck may never schedule it inside a mark phase */
    CHECK_TIMED(launched_marking > 0, "no thread was started while marking");
    return 0;
}

int main(int argc, char **argv) { return run_checked_then_plain(argc, argv, body, &max_seconds); }
