/*
 * t_weak_cells: the lifetime of weak handle cells and the collector's shortcuts for them
 * (gc/final.c, gc/weak.c).
 *  - pins: while objects with handles live, the specials root job has pinned cells to mark
 *    and no records to walk; once the objects died, a cell span whose cells the program
 *    still holds gives its pin bitmap back within 16 sweeps (the lock-free pass over an
 *    all-marked span reads the bitmap one sweep in 16), the held handles keep reading NULL,
 *    and once they are dropped too the set of spans with specials is empty;
 *  - race: gc_weak_get on handles of live objects, from another thread, while the main
 *    thread collects and the sweepers pass over all-marked spans without the stripe lock
 *    and swap in clear mark bits: never NULL, never another object;
 *  - own objects: a cell is an 8-byte object of its own, and under GODEBUG=tinyalloc=1
 *    (checked in a child) never shares a tiny block with another cell, whose death would
 *    unpin it: pairs of objects whose handles the program drops, one of each pair dies,
 *    8-byte pointer-free objects fill every freed slot, and each survivor's handle is still
 *    the same one and reads its object.
 */
#include "lifetime.h"

extern void gcrt_specials_counts(size_t *spans, size_t *walk, size_t *pins);

typedef struct obj {
    uint64_t magic;
    struct obj *next;
} obj_t;

static TEST_NOINLINE obj_t *mk(uint64_t m)
{
    obj_t *o = gc_alloc(sizeof *o);
    CHECK(o != NULL);
    o->magic = m;
    return o;
}

/* ---- pins ---- */
#define HELD 5000
static gc_weak_t *held;   /* GC array: handles whose objects die */
static obj_t **alive;     /* GC array: objects that live while their handles are dropped */

static void make_held(void *unused)
{
    (void)unused;
    for (int i = 0; i < HELD; i++) {
        held[i] = gc_weak_make(mk((uint64_t)i));
        CHECK(held[i] != NULL);
    }
}

static void make_alive(void *unused)
{
    (void)unused;
    for (int i = 0; i < HELD; i++) {
        alive[i] = mk((uint64_t)i);
        CHECK(gc_weak_make(alive[i]) != NULL);   /* dropped: only the record keeps it */
    }
}

static void test_pins(void)
{
    size_t sp, walk, pins;
    gcrt_specials_counts(&sp, &walk, &pins);
    CHECK(sp == 0 && walk == 0 && pins == 0, "specials before any handle: %zu spans", sp);
    held = gc_alloc(HELD * sizeof *held);
    alive = gc_alloc(HELD * sizeof *alive);
    CHECK(held && alive);
    lt_in_thread(make_held, NULL);
    lt_in_thread(make_alive, NULL);
    lt_collect();
    gcrt_specials_counts(&sp, &walk, &pins);
    CHECK(pins > 0 && walk == 0, "handles only: %zu spans with records to walk, %zu with pins", walk, pins);
    for (int i = 0; i < HELD; i++)
        CHECK(gc_weak_get(gc_weak_make(alive[i])) == alive[i]);
    memset(alive, 0, HELD * sizeof *alive);
    int cleared = 0;
    for (int c = 0; c < 4 && !cleared; c++) {
        lt_collect();
        cleared = 1;
        for (int i = 0; i < HELD; i++)
            cleared &= gc_weak_get(held[i]) == NULL;
    }
    CHECK(cleared, "handles of dead objects not cleared");
    /* Every object is dead and every cell unpinned; the cells are held, so their spans
     * are all marked and take the lock-free pass, which looks at the bitmap 1 sweep in 16. */
    int c = 0;
    for (; c < 20; c++) {
        gcrt_specials_counts(&sp, &walk, &pins);
        if (pins == 0)
            break;
        lt_collect();
    }
    CHECK(pins == 0, "%zu cell spans still have a pin bitmap after %d cycles", pins, c);
    for (int i = 0; i < HELD; i++)
        CHECK(gc_weak_get(held[i]) == NULL, "a held handle of a dead object reads non-NULL");
    uintptr_t *hidden = malloc(HELD * sizeof *hidden);
    CHECK(hidden != NULL);
    for (int i = 0; i < HELD; i++)
        hidden[i] = HIDE(held[i]);
    memset(held, 0, HELD * sizeof *held);
    lt_collect();
    lt_collect();
    CHECK(count_freed(hidden, HELD) > HELD * 9 / 10, "dropped cells not freed: %zu of %d",
          count_freed(hidden, HELD), HELD);
    gcrt_specials_counts(&sp, &walk, &pins);
    CHECK(sp == 0 && pins == 0, "%zu spans left in the specials set (%zu with pins)", sp, pins);
    free(hidden);
}

/* ---- race ---- */
#define RACE 20000
static obj_t **race_obj;     /* GC arrays */
static gc_weak_t *race_w;
static volatile int race_stop;
static volatile long race_reads;

static void *reader(void *unused)
{
    (void)unused;
    long n = 0;
    while (!race_stop) {
        for (int i = 0; i < RACE; i++) {
            void *p = gc_weak_get(race_w[i]);
            CHECK(p == race_obj[i], "handle %d of a live object read %p, want %p", i, p, (void *)race_obj[i]);
        }
        n++;
    }
    race_reads = n;
    return NULL;
}

static void test_race(void)
{
    race_obj = gc_alloc(RACE * sizeof *race_obj);
    race_w = gc_alloc(RACE * sizeof *race_w);
    CHECK(race_obj && race_w);
    for (int i = 0; i < RACE; i++) {
        race_obj[i] = mk((uint64_t)i);
        race_w[i] = gc_weak_make(race_obj[i]);
        CHECK(race_w[i] != NULL);
    }
    pthread_t th;
    CHECK(gc_pthread_create(&th, NULL, reader, NULL) == 0);
    double t0 = now_sec();
    int cycles = 0;
    while (now_sec() - t0 < (under_valgrind() ? 3.0 : 1.5) || cycles < 20) {
        for (int k = 0; k < 2000; k++)
            CHECK(gc_alloc(48) != NULL);   /* garbage: sweeping has spans to free too */
        gc_collect();
        cycles++;
    }
    race_stop = 1;
    pthread_join(th, NULL);
    CHECK(race_reads > 0);
    printf("race: %d cycles, %ld passes over %d handles\n", cycles, race_reads, RACE);
}

/* ---- own objects ---- */
#define PAIRS 4000
static obj_t **pair_live;   /* GC array */
static uintptr_t *pair_w;   /* malloc: hidden handles of the survivors */

static void make_pairs(void *unused)
{
    (void)unused;
    for (int i = 0; i < PAIRS; i++) {
        obj_t *a = mk(1), *b = mk(2);
        CHECK(gc_weak_make(a) != NULL);   /* a dies; its cell was made just before b's */
        gc_weak_t wb = gc_weak_make(b);
        CHECK(wb != NULL);
        pair_live[i] = b;
        pair_w[i] = HIDE(wb);
    }
}

static void test_own_objects(int tiny)
{
    pair_live = gc_alloc(PAIRS * sizeof *pair_live);
    pair_w = malloc(PAIRS * sizeof *pair_w);
    CHECK(pair_live && pair_w);
    lt_in_thread(make_pairs, NULL);
    for (int c = 0; c < 3; c++)
        lt_collect();
    /* Fill every free 8- and 16-byte slot with non-zero bytes: a freed cell that a record
     * still names would now hold garbage. */
    enum { FILL = 200000 };
    void **fill = gc_alloc(FILL * sizeof *fill);
    CHECK(fill != NULL);
    for (int i = 0; i < FILL; i++) {
        fill[i] = gc_alloc_noscan(8);
        CHECK(fill[i] != NULL);
        memset(fill[i], 0xa5, 8);
    }
    for (int i = 0; i < PAIRS; i++) {
        gc_weak_t w = gc_weak_make(pair_live[i]);
        CHECK(HIDE(w) == pair_w[i], "pair %d: the live object's handle changed", i);
        CHECK(gc_weak_get(w) == pair_live[i], "pair %d: the live object's handle reads %p", i, gc_weak_get(w));
        CHECK(gc_size(w) == (tiny ? 16u : 8u), "a cell of %zu bytes", gc_size(w));
    }
    lt_collect();
    for (int i = 0; i < PAIRS; i++)
        CHECK(gc_weak_get(gc_weak_make(pair_live[i])) == pair_live[i]);
    gc_keep_alive(fill);
    free(pair_w);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "tiny") == 0) {
        gc_init();
        gc_set_percent(-1);
        gc_set_mem_profile_rate(0);
        test_own_objects(1);
        return 0;
    }
    gc_init();
    gc_set_percent(-1);
    gc_set_mem_profile_rate(0);   /* heap-profile samples are specials too: the set's count is about weak cells */
    test_pins();
    test_race();
    test_own_objects(0);
    child_result_t *r = malloc(sizeof *r);
    CHECK(r != NULL);
    const char *args[] = {"tiny", NULL};
    const char *env[] = {"GODEBUG=tinyalloc=1", NULL};
    int st = run_self(r, args, env);
    CHECK(st == 0 && !strstr(r->err, "gcrt: fatal"), "tinyalloc child exited with %d:\n%s", st, r->err);
    free(r);
    printf("ok\n");
    return 0;
}
