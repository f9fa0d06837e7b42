/*
 * t_pool: gc_pool_* semantics on one thread (Go's sync.Pool), plus misuse.
 *  - get from an empty pool calls new_fn(ctx) (and returns its object), or returns NULL
 *    without new_fn;
 *  - put then get on the same thread returns the same object; several puts come back
 *    (private slot, then the shared list), then new_fn again;
 *  - victim cache: put, one gc_collect: the object is intact and get returns it without
 *    calling new_fn; put, two gc_collect without a get: every get calls new_fn, and the
 *    objects were freed (gc_base of their hidden addresses is NULL; >= 90% of 2000, the
 *    collector is conservative); an object put between the two collections survives the
 *    second, the older one does not;
 *  - objects reachable only from pooled objects survive with them;
 *  - ctx is kept alive by the pool;
 *  - gc_pool_destroy with objects in it: they are freed by the next collection; a pool
 *    created after the destroy (reusing its id) starts empty;
 *  - gc_pool_put(p, NULL) aborts with "gc_pool_put: NULL object"; get on a destroyed pool
 *    aborts naming it (child processes).
 * The semantic checks run again in a child with GODEBUG=gcstoptheworld=1 (the whole mark
 * inside pause 1, right after the rotation).
 */
#include "check.h"

#define NOBJ 2000
#define MAGIC 0x600d0b1ec7ull

typedef struct obj {
    uint64_t magic;
    uint64_t id;
    struct obj *child;   /* reachable only through the pooled object */
    uint64_t sum;
} obj_t;

static long news;

static void *new_obj(void *ctx)
{
    (void)ctx;
    news++;
    obj_t *o = gc_alloc(sizeof *o);
    CHECK(o != NULL);
    o->magic = MAGIC;
    o->id = 1000000 + (uint64_t)news;
    o->sum = test_mix(o->id);
    return o;
}

static int obj_ok(const obj_t *o)
{
    return o && gc_base(o) == o && o->magic == MAGIC && o->sum == test_mix(o->id);
}

static TEST_NOINLINE obj_t *make_obj(uint64_t id)
{
    obj_t *o = gc_alloc(sizeof *o);
    CHECK(o != NULL);
    o->magic = MAGIC;
    o->id = id;
    o->sum = test_mix(id);
    obj_t *c = gc_alloc(sizeof *c);
    CHECK(c != NULL);
    c->magic = MAGIC;
    c->id = id + 1;
    c->sum = test_mix(id + 1);
    o->child = c;
    return o;
}

/* Put NOBJ fresh objects; their addresses (and their children's) only in hidden form. */
static TEST_NOINLINE void put_many(gc_pool_t *p, uintptr_t *hidden, uintptr_t *hchild, uint64_t base)
{
    for (size_t i = 0; i < NOBJ; i++) {
        obj_t *o = make_obj(base + 2 * i);
        hidden[i] = HIDE(o);
        hchild[i] = HIDE(o->child);
        gc_pool_put(p, o);
    }
}

/* Get NOBJ objects back: all must be ours (intact, children intact), none from new_fn. */
static TEST_NOINLINE void get_all_back(gc_pool_t *p, const uintptr_t *hidden)
{
    long n0 = news;
    static char seen[NOBJ];
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < NOBJ; i++) {
        obj_t *o = gc_pool_get(p);
        CHECK(obj_ok(o), "object %zu from the pool is damaged", i);
        CHECK(obj_ok(o->child), "child of object %zu is damaged", i);
        CHECK(o->child->id == o->id + 1);
        size_t k = 0;
        while (k < NOBJ && UNHIDE(hidden[k]) != (void *)o)
            k++;
        CHECK(k < NOBJ, "get %zu returned %p, not one of the objects put", i, (void *)o);
        CHECK(!seen[k], "object %zu returned twice", k);
        seen[k] = 1;
    }
    CHECK_EQ_U(news, n0);
    obj_t *o = gc_pool_get(p);   /* now empty */
    CHECK_EQ_U(news, n0 + 1);
    CHECK(obj_ok(o) && o->id >= 1000000);
}

static int child_put_null(void *arg)
{
    (void)arg;
    gc_init();
    gc_pool_t *p = gc_pool_new(NULL, NULL);
    gc_pool_put(p, NULL);
    return 0;
}

static int child_use_destroyed(void *arg)
{
    (void)arg;
    gc_init();
    gc_pool_t *p = gc_pool_new(NULL, NULL);
    gc_pool_destroy(p);
    gc_pool_get(p);
    return 0;
}

static uintptr_t hidden[NOBJ], hchild[NOBJ];

static TEST_NOINLINE void test_basic(void)
{
    gc_pool_t *p = gc_pool_new(new_obj, NULL);
    CHECK(p != NULL);
    long n0 = news;
    obj_t *o = gc_pool_get(p);
    CHECK_EQ_U(news, n0 + 1);
    CHECK(obj_ok(o));
    gc_pool_put(p, o);
    CHECK_EQ_P(gc_pool_get(p), o);
    CHECK_EQ_U(news, n0 + 1);
    /* three puts: private slot plus shared list; all come back, then new_fn */
    obj_t *a = make_obj(10), *b = make_obj(20), *c = make_obj(30);
    gc_pool_put(p, a);
    gc_pool_put(p, b);
    gc_pool_put(p, c);
    void *g[3] = {gc_pool_get(p), gc_pool_get(p), gc_pool_get(p)};
    CHECK_EQ_U(news, n0 + 1);
    for (int i = 0; i < 3; i++)
        CHECK(g[i] == a || g[i] == b || g[i] == c);
    CHECK(g[0] != g[1] && g[1] != g[2] && g[0] != g[2]);
    CHECK_EQ_P(g[0], a); /* Go's order: private first, then the shared list LIFO */
    CHECK_EQ_P(g[1], c);
    CHECK(obj_ok(gc_pool_get(p)));
    CHECK_EQ_U(news, n0 + 2);
    gc_pool_destroy(p);

    gc_pool_t *q = gc_pool_new(NULL, NULL);
    CHECK(q != NULL);
    CHECK(gc_pool_get(q) == NULL);
    gc_pool_put(q, a);
    CHECK_EQ_P(gc_pool_get(q), a);
    CHECK(gc_pool_get(q) == NULL);
    gc_pool_destroy(q);
    gc_pool_destroy(NULL);
}

static TEST_NOINLINE void test_victim(void)
{
    WITHOUT_AUTO_GC({
        gc_pool_t *p = gc_pool_new(new_obj, NULL);
        /* one collection: all survive as victims, intact, and come back */
        put_many(p, hidden, hchild, 0);
        churn_stack();
        gc_collect();
        CHECK_EQ_U(count_freed(hidden, NOBJ), 0);
        CHECK_EQ_U(count_freed(hchild, NOBJ), 0);
        get_all_back(p, hidden);

        /* two collections without a get: gone */
        put_many(p, hidden, hchild, 100000);
        churn_stack();
        gc_collect();
        CHECK_EQ_U(count_freed(hidden, NOBJ), 0);
        gc_collect();
        size_t f = count_freed(hidden, NOBJ), fc = count_freed(hchild, NOBJ);
        CHECK(f >= NOBJ * 9 / 10, "only %zu of %d pooled objects freed after two collections", f, NOBJ);
        CHECK(fc >= NOBJ * 9 / 10, "only %zu of %d children freed after two collections", fc, NOBJ);
        long n0 = news;
        for (int i = 0; i < 100; i++) {
            obj_t *o = gc_pool_get(p);
            CHECK(obj_ok(o) && o->id >= 1000000, "get after two collections returned an old object");
        }
        CHECK_EQ_U(news, n0 + 100);

        /* an object put between the collections outlives the older one */
        obj_t *old = make_obj(7), *young = make_obj(9);
        uintptr_t hyoung = HIDE(young);
        gc_pool_put(p, old);
        old = NULL;
        churn_stack();
        gc_collect();
        gc_pool_put(p, young);   /* private is empty (rotated): young is private */
        young = NULL;
        churn_stack();
        gc_collect();
        n0 = news;
        obj_t *o = gc_pool_get(p);   /* young, from the victim cache */
        CHECK_EQ_P(o, UNHIDE(hyoung));
        CHECK(obj_ok(o));
        o = gc_pool_get(p);   /* old was dropped: new_fn (which may reuse old's slot) */
        CHECK_EQ_U(news, n0 + 1);
        CHECK(obj_ok(o) && o->id >= 1000000, "the object put before two collections came back");
        gc_pool_destroy(p);
    });
}

#define NPOOLS 100

static TEST_NOINLINE void ctx_pools(gc_pool_t **pp, uintptr_t *hctx)
{
    for (int i = 0; i < NPOOLS; i++) {
        obj_t *ctx = make_obj(555 + (uint64_t)i);
        hctx[i] = HIDE(ctx);
        pp[i] = gc_pool_new(new_obj, ctx);
        CHECK(pp[i] != NULL);
    }
}

static TEST_NOINLINE void test_ctx_and_destroy(void)
{
    WITHOUT_AUTO_GC({
        static gc_pool_t *pools[NPOOLS];
        static uintptr_t hctx[NPOOLS];
        ctx_pools(pools, hctx);
        churn_stack();
        gc_collect();
        gc_collect();
        for (int i = 0; i < NPOOLS; i++)
            CHECK(obj_ok(UNHIDE(hctx[i])), "ctx %d freed while its pool lives", i);

        gc_pool_t *p = pools[0];
        put_many(p, hidden, hchild, 200000);
        churn_stack();
        gc_collect();
        CHECK_EQ_U(count_freed(hidden, NOBJ), 0);
        for (int i = 0; i < NPOOLS; i++)
            gc_pool_destroy(pools[i]);
        churn_stack();
        gc_collect();
        size_t f = count_freed(hidden, NOBJ), fc = count_freed(hctx, NPOOLS);
        CHECK(f >= NOBJ * 9 / 10, "only %zu of %d objects freed after destroy", f, NOBJ);
        CHECK(fc >= NPOOLS * 9 / 10, "only %zu of %d ctx objects freed after destroy", fc, NPOOLS);

        /* a new pool (reusing an id) starts empty */
        gc_pool_t *q = gc_pool_new(NULL, NULL);
        CHECK(gc_pool_get(q) == NULL);
        gc_pool_destroy(q);
    });
}

static int semantics(void)
{
    gc_init();
    test_basic();
    test_victim();
    test_ctx_and_destroy();
    printf("ok: %ld new_fn calls\n", news);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0)
        return semantics();
    child_result_t *r = malloc(sizeof *r);
    CHECK(r != NULL);
    /* misuse first, before this process has any helper thread */
    int st = run_fork(r, child_put_null, NULL);
    CHECK(st == 128 + SIGABRT, "put(NULL) child exited with %d", st);
    CHECK(strstr(r->err, "gc_pool_put: NULL object") != NULL, "stderr: %s", r->err);
    st = run_fork(r, child_use_destroyed, NULL);
    CHECK(st == 128 + SIGABRT, "get on a destroyed pool: child exited with %d", st);
    CHECK(strstr(r->err, "gc_pool_get:") != NULL && strstr(r->err, "not a live pool") != NULL, "stderr: %s",
          r->err);
    const char *args[] = {"child", NULL};
    const char *env[] = {"GODEBUG=gcstoptheworld=1", "GOGC", NULL};
    st = run_self(r, args, env);
    CHECK(st == 0, "GODEBUG=gcstoptheworld=1 child exited with %d; stderr:\n%s", st, r->err);
    free(r);
    return semantics();
}
