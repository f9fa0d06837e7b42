/*
 * t_lookup_race: the calls that find an object's start from a pointer (gc_weak_make,
 * gc_set_finalizer, gc_add_cleanup, gc_base) never fail for a live object while the
 * collector sweeps its span on another thread. Sweeping swaps the span's allocation bits
 * for its mark bits and resets freeindex; a lookup that reads the two halves of that
 * change apart sees a live object as free. (The CI run of 0e387dc failed t_stress this
 * way: gc_set_finalizer on a node just allocated said "not a GC object".)
 *
 * One thread collects in a loop, so that every cycle sweeps the few spans holding the
 * objects; the others look the objects up again and again.
 */
#include "check.h"

#include <pthread.h>

#define NOBJ 8
#define NREADERS 1
#define MIN_CYCLES 100

static void *objs[NOBJ];   /* reachable from here: half large (own span), half small */
static gc_weak_t handles[NOBJ];
static volatile int stop;
static uint64_t cycles, lookups, failures;

static void *collector(void *unused)
{
    (void)unused;
    while (!stop) {
        gc_collect();
        __atomic_add_fetch(&cycles, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void dummy_fin(void *obj, void *arg) { (void)obj, (void)arg; }
static void dummy_cleanup(void *arg) { (void)arg; }

static void *reader(void *arg)
{
    uint64_t x = test_mix((uintptr_t)arg + 1), n = 0, bad = 0;
    while (!stop) {
        x = test_mix(x);
        int i = (int)(x % NOBJ);
        void *o = objs[i];
        switch ((x >> 32) % 4) {
        case 0:
            if (gc_weak_make(o) != handles[i]) bad++, fprintf(stderr, "gc_weak_make(objs[%d]) failed (errno %d)\n", i, errno);
            break;
        case 1:   /* set, then remove: both look the object up */
        {
            int rc = gc_set_finalizer(o, dummy_fin, NULL);
            if (rc != 0) bad++, fprintf(stderr, "gc_set_finalizer(objs[%d]): %d\n", i, rc);
            else if ((rc = gc_set_finalizer(o, NULL, NULL)) != 0) bad++, fprintf(stderr, "removing objs[%d]'s finalizer: %d\n", i, rc);
            break;
        }
        case 2: {
            gc_cleanup_t c = gc_add_cleanup(o, dummy_cleanup, NULL);
            if (!c) bad++, fprintf(stderr, "gc_add_cleanup(objs[%d]) failed (errno %d)\n", i, errno);
            else gc_cleanup_stop(c);
            break;
        }
        default:
            if (gc_base((char *)o + 8) != o) bad++, fprintf(stderr, "gc_base(objs[%d] + 8) failed\n", i);
        }
        n++;
        if (bad > 20) break;
    }
    __atomic_add_fetch(&lookups, n, __ATOMIC_RELAXED);
    __atomic_add_fetch(&failures, bad, __ATOMIC_RELAXED);
    return NULL;
}

int main(void)
{
    gc_init();
    for (int i = 0; i < NOBJ; i++) {
        objs[i] = gc_alloc(i % 2 ? 48 : 64 * 1024);
        CHECK(objs[i] != NULL);
        handles[i] = gc_weak_make(objs[i]);
        CHECK(handles[i] != NULL);
    }
    pthread_t c, r[NREADERS];
    CHECK(gc_pthread_create(&c, NULL, collector, NULL) == 0);
    for (int i = 0; i < NREADERS; i++) CHECK(gc_pthread_create(&r[i], NULL, reader, (void *)(intptr_t)i) == 0);
    /* At least 3 s and at least MIN_CYCLES sweeps of the objects' spans: the count is what
     * the test needs, the time is not (a loaded make test-repeat run got 92 cycles in 3 s
     * beside a CPU hog per core). Only a collector that cannot finish MIN_CYCLES in 60 s
     * fails the count. */
    double t0 = now_sec(), limit = test_seconds(3), cap = test_seconds(60);
    while (!__atomic_load_n(&failures, __ATOMIC_RELAXED) && now_sec() - t0 < cap &&
           (now_sec() - t0 < limit || __atomic_load_n(&cycles, __ATOMIC_RELAXED) < MIN_CYCLES))
        usleep(10000);
    stop = 1;
    for (int i = 0; i < NREADERS; i++) pthread_join(r[i], NULL);
    pthread_join(c, NULL);
    printf("t_lookup_race: %llu cycles, %llu lookups, %llu failed\n", (unsigned long long)cycles,
           (unsigned long long)lookups, (unsigned long long)failures);
    CHECK(cycles >= MIN_CYCLES, "only %llu cycles ran in %.0f s", (unsigned long long)cycles, now_sec() - t0);
    CHECK(failures == 0, "%llu lookups of live objects failed while their spans were swept",
          (unsigned long long)failures);
    for (int i = 0; i < NOBJ; i++) CHECK(gc_weak_get(handles[i]) == objs[i]);
    return 0;
}
