/*
 * t_pool_threads: gc_pool_* across threads.
 *  - stealing: thread A puts N objects and waits; thread B gets: it receives A's objects
 *    from A's shared list (N-1 of them: A's private slot is A's alone, as in Go), then
 *    new_fn; A then gets its private object back;
 *  - stealing from the victim cache: A puts N, a collection runs, B gets them;
 *  - thread exit: a thread puts 3 objects and exits; the main thread gets all 3 (the exit
 *    hands the private slot on), and a victim object of an exited thread is still found;
 *  - 1000 short-lived threads, one after another, each getting and putting 2 objects: the pool's
 *    metadata does not grow with them (exited threads' locals are adopted), measured by
 *    metadata_sys;
 *  - destroy while another (live) thread has a local for the pool: that thread then uses
 *    a new pool which reuses the id, and finds it empty (no stale per-thread entry).
 */
#include "check.h"

#include <pthread.h>

#define N 64
#define MAGIC 0x7ea1c0de5ull

typedef struct obj {
    uint64_t magic, id;
} obj_t;

static long news;   /* atomic */

static void *new_obj(void *ctx)
{
    (void)ctx;
    __atomic_add_fetch(&news, 1, __ATOMIC_RELAXED);
    obj_t *o = gc_alloc(sizeof *o);
    CHECK(o != NULL);
    o->magic = MAGIC;
    o->id = 999999;
    return o;
}

static obj_t *objs[N];   /* static data: keeps them alive for identity checks */
static gc_pool_t *pool;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stage;

static void wait_stage(int s)
{
    pthread_mutex_lock(&mu);
    while (stage < s)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void set_stage(int s)
{
    pthread_mutex_lock(&mu);
    stage = s;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int index_of(const void *o)
{
    for (int i = 0; i < N; i++)
        if (objs[i] == o)
            return i;
    return -1;
}

/* Thread A: put N objects (objs[0] lands in the private slot), wait, get its private one. */
static void *putter(void *arg)
{
    int collect = arg != NULL;
    for (int i = 0; i < N; i++)
        gc_pool_put(pool, objs[i]);
    if (collect)
        gc_collect();   /* everything moves to the victim cache */
    set_stage(1);
    wait_stage(2);
    long n0 = __atomic_load_n(&news, __ATOMIC_RELAXED);
    obj_t *o = gc_pool_get(pool);
    CHECK_EQ_P(o, objs[0]);
    CHECK_EQ_U(__atomic_load_n(&news, __ATOMIC_RELAXED), n0);
    return NULL;
}

static TEST_NOINLINE void test_steal(int victim)
{
    static char seen[N];
    memset(seen, 0, sizeof seen);
    stage = 0;
    pool = gc_pool_new(new_obj, NULL);
    pthread_t a;
    CHECK(gc_pthread_create(&a, NULL, putter, victim ? (void *)1 : NULL) == 0);
    wait_stage(1);
    long n0 = news;
    for (int i = 1; i < N; i++) {
        obj_t *o = gc_pool_get(pool);
        int k = index_of(o);
        CHECK(k > 0, "steal %d returned %p (index %d), not one of A's shared objects", i, (void *)o, k);
        CHECK(!seen[k], "object %d stolen twice", k);
        CHECK(o->magic == MAGIC && o->id == (uint64_t)k);
        seen[k] = 1;
    }
    CHECK_EQ_U(news, n0);
    obj_t *o = gc_pool_get(pool);   /* A's private slot is not stealable */
    CHECK_EQ_U(news, n0 + 1);
    CHECK(index_of(o) < 0);
    set_stage(2);
    pthread_join(a, NULL);
    gc_pool_destroy(pool);
}

static void *put3_and_exit(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        gc_pool_put(pool, objs[i]);
    return NULL;
}

static void *victim_and_exit(void *arg)
{
    (void)arg;
    gc_pool_put(pool, objs[5]);
    gc_collect();   /* objs[5] becomes this thread's victim private */
    return NULL;
}

static void *get2_put2(void *arg)
{
    (void)arg;
    void *a = gc_pool_get(pool), *b = gc_pool_get(pool);
    gc_pool_put(pool, a);
    gc_pool_put(pool, b);
    return NULL;
}

static TEST_NOINLINE void test_exit(void)
{
    pool = gc_pool_new(new_obj, NULL);
    pthread_t t;
    CHECK(gc_pthread_create(&t, NULL, put3_and_exit, NULL) == 0);
    pthread_join(t, NULL);
    long n0 = news;
    int got = 0;
    for (int i = 0; i < 3; i++) {
        int k = index_of(gc_pool_get(pool));
        CHECK(k >= 0 && k < 3, "get %d after the putter exited returned index %d", i, k);
        got |= 1 << k;
    }
    CHECK_EQ_U(got, 7);
    CHECK_EQ_U(news, n0);
    CHECK(gc_pthread_create(&t, NULL, victim_and_exit, NULL) == 0);
    pthread_join(t, NULL);
    CHECK_EQ_P(gc_pool_get(pool), objs[5]);
    CHECK_EQ_U(news, n0);

    /* exited threads' locals are reused */
    gc_memstats_t ms;
    uint64_t meta0 = 0;
    for (int i = 0; i < 1000; i++) {
        if (i == 100)
            meta0 = read_ms(&ms)->metadata_sys;
        CHECK(gc_pthread_create(&t, NULL, get2_put2, NULL) == 0);
        pthread_join(t, NULL);
    }
    uint64_t meta1 = read_ms(&ms)->metadata_sys;
    CHECK(meta1 <= meta0 + (256 << 10), "metadata grew from %llu to %llu over 900 threads", (unsigned long long)meta0,
          (unsigned long long)meta1);
    gc_pool_destroy(pool);
}

/* destroy while another thread has a local; that thread then sees the id's new pool empty */
static gc_pool_t *pool2;
static void *holder(void *arg)
{
    (void)arg;
    gc_pool_put(pool, objs[20]);
    gc_pool_put(pool, objs[21]);
    set_stage(1);
    wait_stage(2);
    long n0 = __atomic_load_n(&news, __ATOMIC_RELAXED);
    obj_t *o = gc_pool_get(pool2);
    CHECK(index_of(o) < 0, "a new pool handed out object %d of a destroyed one", index_of(o));
    CHECK_EQ_U(__atomic_load_n(&news, __ATOMIC_RELAXED), n0 + 1);
    gc_pool_put(pool2, objs[22]);
    CHECK_EQ_P(gc_pool_get(pool2), objs[22]);
    return NULL;
}

static TEST_NOINLINE void test_destroy_shared(void)
{
    stage = 0;
    pool = gc_pool_new(new_obj, NULL);
    gc_pool_put(pool, objs[30]);
    pthread_t t;
    CHECK(gc_pthread_create(&t, NULL, holder, NULL) == 0);
    wait_stage(1);
    gc_pool_destroy(pool);
    pool2 = gc_pool_new(new_obj, NULL);
    long n0 = news;
    CHECK(index_of(gc_pool_get(pool2)) < 0);
    CHECK_EQ_U(news, n0 + 1);
    set_stage(2);
    pthread_join(t, NULL);
    gc_pool_destroy(pool2);
}

int main(void)
{
    gc_init();
    for (int i = 0; i < N; i++) {
        objs[i] = gc_alloc(sizeof(obj_t));
        CHECK(objs[i] != NULL);
        objs[i]->magic = MAGIC;
        objs[i]->id = (uint64_t)i;
    }
    test_steal(0);
    test_steal(1);
    test_exit();
    test_destroy_shared();
    printf("ok\n");
    return 0;
}
