/*
 * lifetime.c: tying other resources to GC objects, and caches that do not pin memory.
 *  - a cleanup (gc_add_cleanup) frees a malloc'd buffer when its owner object dies; one
 *    cancelled with gc_cleanup_stop never runs;
 *  - a finalizer (gc_set_finalizer) sees its object intact and resurrects it; the memory
 *    goes only at a later cycle;
 *  - a weak handle (gc_weak_make) reads the object while something else holds it and NULL
 *    once it died; handles of one object are equal;
 *  - gc_unique_bytes: equal bytes, one canonical copy;
 *  - a pool (gc_pool_*) hands back what was put, keeps it across one collection (victim
 *    cache) and drops it at the second.
 * Objects meant to die are made in a short-lived thread of their own, so no stale copy of
 * their address on the main thread's stack (scanned conservatively) keeps them alive.
 * Exit status 0 when everything behaves as stated.
 */
#include "gcrt.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct file {   /* a GC object owning something off-heap */
    char name[32];
    char *buffer;       /* malloc'd: released by a cleanup */
} file;

static atomic_int cleanups_run, finalizers_run, finalizer_bad;
static file *resurrected;   /* a finalizer stores its object here */
static int fails;

#define CHECK(cond, what)                                                                     \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            printf("FAILED: %s\n", what);                                                     \
            fails++;                                                                          \
        }                                                                                     \
    } while (0)

/* The cleanup's arg is the buffer, not the file: an arg that reaches the object would keep
 * it alive for ever. */
static void free_buffer(void *buffer) {
    free(buffer);
    atomic_fetch_add(&cleanups_run, 1);
}

static void finalize_file(void *obj, void *arg) {
    file *f = obj;
    if (strcmp(f->name, (const char *)arg) != 0) atomic_fetch_add(&finalizer_bad, 1);
    resurrected = f;   /* a global: the object lives on (no barrier needed for a root) */
    atomic_fetch_add(&finalizers_run, 1);
}

static void run(void *(*fn)(void *), void *arg) {
    pthread_t t;
    if (gc_pthread_create(&t, NULL, fn, arg) != 0 || pthread_join(t, NULL) != 0) {
        printf("FAILED: gc_pthread_create\n");
        exit(1);
    }
}

/* Collects and runs queued finalizers/cleanups until *counter reaches want (or 3 s). */
static int settle(atomic_int *counter, int want) {
    struct timespec d = {0, 5 * 1000 * 1000};
    for (int i = 0; i < 600 && atomic_load(counter) < want; i++) {
        gc_collect();
        gc_run_finalizers();   /* or let gcrt's finalizer thread run them */
        nanosleep(&d, NULL);
    }
    return atomic_load(counter);
}

/* ---- cleanups ---- */

static gc_cleanup_t cancelled;
static void *make_files(void *unused) {
    for (int i = 0; i < 100; i++) {
        file *f = gc_alloc(sizeof *f);
        f->buffer = malloc(4096);
        snprintf(f->name, sizeof f->name, "file-%d", i);
        gc_cleanup_t c = gc_add_cleanup(f, free_buffer, f->buffer);
        if (!c) atomic_fetch_add(&finalizer_bad, 1);
        if (i == 99) {
            gc_cleanup_stop(c);   /* this file's buffer is released by hand */
            free(f->buffer);
            cancelled = c;
        }
    }
    return NULL;   /* every file is garbage now */
}

/* ---- finalizer and weak handles ---- */

static gc_weak_t weak_fin, weak_a, weak_b;
static file *held;
static void *make_finalized(void *unused) {
    file *f = gc_alloc(sizeof *f);
    strcpy(f->name, "finalized");
    if (gc_set_finalizer(f, finalize_file, "finalized") != 0) atomic_fetch_add(&finalizer_bad, 1);
    if (gc_set_finalizer(f, finalize_file, "finalized") != -EEXIST) atomic_fetch_add(&finalizer_bad, 1);
    weak_fin = gc_weak_make(f);
    held = gc_alloc(sizeof *held);
    strcpy(held->name, "held");
    weak_a = gc_weak_make(held);
    weak_b = gc_weak_make(held);
    return NULL;
}

/* Reads weak_a from a thread of its own, so the strong pointer gc_weak_get returns never
 * reaches the main thread's stack. */
static int probe_result;   /* 1: "held" intact, 0: NULL, -1: damaged */
static void *probe(void *unused) {
    file *f = gc_weak_get(weak_a);
    probe_result = !f ? 0 : !strcmp(f->name, "held") ? 1 : -1;
    return NULL;
}

/* ---- pool ---- */

static atomic_int buffers_made;
static void *new_buffer(void *ctx) {
    atomic_fetch_add(&buffers_made, 1);
    return gc_alloc_noscan(*(size_t *)ctx);
}

int main(void) {
    if (gc_init() != 0) return 1;

    /* Cleanups: 99 buffers released by their owners' deaths, one cancelled. */
    run(make_files, NULL);
    int n = settle(&cleanups_run, 99);
    printf("cleanups: %d of 99 buffers released after their files died\n", n);
    CHECK(n == 99, "every cleanup ran once, the cancelled one did not");
    gc_collect();
    gc_run_finalizers();
    CHECK(atomic_load(&cleanups_run) == 99, "a cancelled or finished cleanup ran (again)");
    CHECK(cancelled != NULL, "gc_add_cleanup");

    /* Finalizer with resurrection; weak handles. */
    run(make_finalized, NULL);
    CHECK(weak_a == weak_b, "two handles of one object differ");
    n = settle(&finalizers_run, 1);
    printf("finalizer: ran %d time(s), object %s, weak handle to it now %s\n", n,
           resurrected && !strcmp(resurrected->name, "finalized") ? "intact" : "DAMAGED",
           gc_weak_get(weak_fin) ? "set" : "NULL");
    CHECK(n == 1 && atomic_load(&finalizer_bad) == 0, "the finalizer ran once and saw its object intact");
    CHECK(gc_weak_get(weak_fin) == NULL, "a weak handle goes NULL when its object is first found unreachable");
    resurrected = NULL;   /* no finalizer any more: the next cycles free it for good */
    gc_collect();
    gc_run_finalizers();
    CHECK(atomic_load(&finalizers_run) == 1, "a finalizer ran twice");
    run(probe, NULL);
    CHECK(probe_result == 1, "a weak handle to a held object reads it");
    held = NULL;
    for (int i = 0; i < 4; i++) {
        gc_collect();
        run(probe, NULL);
        if (probe_result != 1) break;
    }
    printf("weak: handle of a dropped object reads %s\n", probe_result ? "the object" : "NULL");
    CHECK(probe_result == 0, "a weak handle kept its object or never went NULL");

    /* unique */
    char a[] = "interned", b[] = "interned";
    const char *ua = gc_unique_bytes(a, 8), *ub = gc_unique_bytes(b, 8), *uc = gc_unique_bytes("other", 5);
    printf("unique: \"%s\" == \"%s\": %s; != \"%s\": %s\n", ua, ub, ua == ub ? "yes" : "no", uc, ua != uc ? "yes" : "no");
    CHECK(ua == ub && ua != uc && !strcmp(ua, "interned"), "gc_unique_bytes");

    /* Pool: a put object comes back, survives one collection (victim), not two. */
    size_t size = 1024;
    gc_pool_t *pool = gc_pool_new(new_buffer, &size);
    char *x = gc_pool_get(pool);
    strcpy(x, "pooled");
    gc_pool_put(pool, x);
    char *y = gc_pool_get(pool);
    CHECK(y == x && atomic_load(&buffers_made) == 1, "get after put returns the object put");
    gc_pool_put(pool, y);
    gc_collect();
    y = gc_pool_get(pool);
    CHECK(y == x && !strcmp(y, "pooled"), "a pooled object survives one collection (victim cache)");
    gc_pool_put(pool, y);
    x = y = NULL;
    gc_collect();
    gc_collect();
    y = gc_pool_get(pool);
    printf("pool: %d buffers made; after two idle collections get %s\n", atomic_load(&buffers_made),
           atomic_load(&buffers_made) == 2 ? "made a new one" : "reused the old one");
    CHECK(atomic_load(&buffers_made) == 2, "a pooled object was kept through two idle collections");
    gc_pool_destroy(pool);

    printf("lifetime: %s\n", fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}
