/*
 * demo.c: what `make demo` runs. Builds a long-lived tree, churns short-lived trees
 * through gcrt, and reports what the collector did.
 */
#include "gcrt.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct node {
    struct node *left, *right;
    long value;
} node;

static node *make_tree(int depth) {
    node *n = gc_alloc(sizeof *n);
    n->value = depth;
    if (depth > 0) {
        n->left = make_tree(depth - 1);
        n->right = make_tree(depth - 1);
    }
    return n;
}

static long count(const node *n) { return n->left ? 1 + count(n->left) + count(n->right) : 1; }

int main(void) {
    if (gc_init() != 0) return 1;
    node *longlived = make_tree(18);
    long made = 0;
    for (int i = 0; i < 400; i++) {
        node *t = make_tree(12);
        made += count(t);
    }
    char *s = gc_alloc_noscan(1 << 20);   /* a large pointer-free object */
    s[0] = 'x';
    gc_collect();
    gc_memstats_t ms;
    gc_read_memstats(&ms);
    uint64_t maxpause = 0;
    for (int i = 0; i < 256; i++)
        if (ms.pause_ns[i] > maxpause) maxpause = ms.pause_ns[i];
    printf("gcrt demo\n");
    printf("  long-lived tree: %ld nodes, still intact after %u collections\n", count(longlived), ms.num_gc);
    printf("  short-lived nodes allocated: %ld (%.1f MiB in all)\n", made, ms.total_alloc / 1048576.0);
    printf("  heap now: %.1f MiB live in %.1f MiB of spans, %.1f MiB from the OS\n", ms.heap_alloc / 1048576.0,
           ms.heap_inuse / 1048576.0, ms.sys / 1048576.0);
    printf("  objects: %llu allocated, %llu freed, %llu live\n", (unsigned long long)ms.mallocs,
           (unsigned long long)ms.frees, (unsigned long long)ms.heap_objects);
    printf("  pauses: longest %.3f ms, total %.3f ms; GC CPU %.1f%%\n", maxpause / 1e6, ms.pause_total_ns / 1e6,
           ms.gc_cpu_fraction * 100);
    gc_keep_alive(s);
    return 0;
}
