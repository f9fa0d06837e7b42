/*
 * test/compat/bdw_test.h: helpers for the bdwgc compatibility tests, which use gc.h's API
 * only (check.h for CHECK and HIDE).
 *   in_thread(fn, arg)  run fn in a GC_pthread_create thread and join it: what it allocates
 *                       and drops leaves no stale copy on the main thread's stack
 *   collect(n)          n GC_gcollect calls
 */
#ifndef BDW_TEST_H
#define BDW_TEST_H
#define GC_THREADS 1
#include <gc.h>
#include <gc_typed.h>
#include "../check.h"

static TEST_UNUSED void in_thread(void *(*fn)(void *), void *arg) {
    pthread_t t;
    CHECK(GC_pthread_create(&t, NULL, fn, arg) == 0, "GC_pthread_create");
    CHECK(GC_pthread_join(t, NULL) == 0, "GC_pthread_join");
}

static TEST_UNUSED void collect(int n) {
    for (int i = 0; i < n; i++) GC_gcollect();
}
#endif
