/*
 * hello.c: the smallest complete gcrt program. Allocate, keep what you need where the
 * collector looks (stack, globals, GC objects, ranges registered with gc_add_roots), drop
 * the rest, collect, read the statistics.
 *
 *   cc -O2 -pthread -I. examples/hello.c $(PKG_CONFIG_PATH=build pkg-config --cflags --libs --static gcrt)
 *
 * Exit status 0 when every kept object is intact and garbage was reclaimed.
 */
#include "gcrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
    struct node *next;
    long value;
} node;

static node *global_list;   /* static data is scanned: no registration needed */

static node *make_list(long n) {
    node *head = NULL;
    for (long i = n; i > 0; i--) {
        node *x = gc_alloc(sizeof *x);   /* zeroed; scanned conservatively */
        if (!x) return NULL;
        x->value = i;
        x->next = head;                  /* a fresh object: its field is NULL, no barrier */
        head = x;
    }
    return head;
}

static long sum(const node *n) {
    long s = 0;
    for (; n; n = n->next) s += n->value;
    return s;
}

int main(void) {
    if (gc_init() != 0) return 1;

    /* 1. Roots: a global, a local, and a malloc'd block made visible with gc_add_roots.
     * malloc'd memory is not scanned unless registered. */
    global_list = make_list(1000);
    node *local_list = make_list(1000);
    node **boxed = malloc(sizeof *boxed);
    if (!boxed || gc_add_roots(boxed, sizeof *boxed) != 0) return 1;
    *boxed = make_list(1000);

    /* 2. Garbage: 100 MB of lists nobody keeps. */
    for (int i = 0; i < 1000; i++) {
        node *tmp = make_list(1000);
        if (!tmp || sum(tmp) != 500500) return 1;
    }
    char *text = gc_alloc_noscan(64);   /* pointer-free data is never scanned */
    strcpy(text, "hello, collected world");

    /* 3. A full collection, then the statistics (Go's runtime.MemStats). */
    gc_collect();
    gc_memstats_t ms;
    gc_read_memstats(&ms);

    long a = sum(global_list), b = sum(local_list), c = sum(*boxed);
    printf("%s\n", text);
    printf("lists kept: %ld %ld %ld (each should be 500500)\n", a, b, c);
    printf("collections: %u (forced %u), heap %.1f MiB live of %.1f MiB allocated in all, pauses %.3f ms\n",
           ms.num_gc, ms.num_forced_gc, ms.heap_alloc / 1048576.0, ms.total_alloc / 1048576.0,
           ms.pause_total_ns / 1e6);

    int ok = a == 500500 && b == 500500 && c == 500500 && ms.num_gc >= 1 && ms.num_forced_gc >= 1 &&
             ms.frees > 0 && ms.heap_alloc < ms.total_alloc / 4;
    gc_remove_roots(boxed, sizeof *boxed);
    free(boxed);
    gc_keep_alive(local_list);   /* local_list stays reachable up to here */
    printf("hello: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
