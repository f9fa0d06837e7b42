/*
 * t_misuse_lifetime_pool: misuse of finalizers and pools (gc/final.c, runtime/pool.c).
 * Each misuse runs in a forked child:
 *  - gc_set_finalizer on a pointer that is not the start of a GC object (static memory,
 *    malloc'd memory, an interior pointer, a freed object) returns -EINVAL, and the real
 *    object still takes a finalizer; each refusal is named on stderr;
 *  - gc_pool_put(pool, NULL) aborts with a message naming gc_pool_put.
 */
#include "check.h"

static void fin(void *obj, void *arg) { (void)obj; (void)arg; }

static int finalizer_non_object(void *arg)
{
    (void)arg;
    gc_init();
    static char not_gc[64];
    char *m = malloc(64);
    char *obj = gc_alloc(64);
    CHECK(gc_set_finalizer(not_gc, fin, NULL) == -EINVAL, "static memory");
    CHECK(gc_set_finalizer(m, fin, NULL) == -EINVAL, "malloc'd memory");
    CHECK(gc_set_finalizer(obj + 8, fin, NULL) == -EINVAL, "interior pointer");
    CHECK(gc_set_finalizer(NULL, fin, NULL) == -EINVAL, "NULL");
    CHECK(gc_set_finalizer(obj, fin, NULL) == 0, "the object itself");
    gc_keep_alive(obj);
    free(m);
    return 0;
}

static void *new_obj(void *ctx) { (void)ctx; return gc_alloc(32); }

static int pool_put_null(void *arg)
{
    (void)arg;
    gc_init();
    gc_pool_t *p = gc_pool_new(new_obj, NULL);
    CHECK(p != NULL);
    gc_pool_put(p, NULL);
    printf("gc_pool_put(NULL) returned\n");
    return 1;
}

int main(void)
{
    child_result_t *r = malloc(sizeof *r);
    CHECK(r != NULL);
    int st = run_fork(r, finalizer_non_object, NULL);
    CHECK(st == 0, "finalizer_non_object: exit %d\n%s%s", st, r->out, r->err);
    /* each of the four misuses is named on stderr, not only refused */
    CHECK(strstr(r->err, "is not a GC object") && strstr(r->err, "not at its start") &&
              strstr(r->err, "NULL object"),
          "gc_set_finalizer misuse messages missing:\n%s", r->err);
    const char *e = r->err;
    int lines = 0;
    while ((e = strstr(e, "gc_set_finalizer:"))) lines++, e++;
    CHECK(lines == 4, "expected 4 gc_set_finalizer messages, got %d:\n%s", lines, r->err);
    printf("gc_set_finalizer on non-objects: -EINVAL%s%s", r->err_len ? ", stderr: " : "\n", r->err);
    st = run_fork(r, pool_put_null, NULL);
    CHECK(st == 134 && strstr(r->err, "gc_pool_put"), "pool_put_null: exit %d\n%s%s", st, r->out, r->err);
    printf("gc_pool_put(NULL): %s", r->err);
    free(r);
    return 0;
}
