/*
 * typed.c: the three scan kinds and what they mean for a program.
 *  - gc_alloc: conservative; every aligned word that looks like a pointer into the heap
 *    keeps its target alive (safe for any layout, may retain by accident).
 *  - gc_alloc_typed / gc_alloc_array with a gc_type_new layout: precise; only the listed
 *    words are pointers, so an integer that happens to equal an address keeps nothing alive.
 *  - gc_alloc_noscan: never scanned (strings, numbers, pixels).
 * Also: gc_type_new's checks, arrays and their overflow check, interior pointers with
 * gc_base/gc_size, gc_realloc keeping the layout. Exit status 0 when all behave as stated.
 */
#include "gcrt.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tnode {
    char name[16];
    struct tnode *left;   /* pointer */
    double weight;
    struct tnode *right;  /* pointer */
    uintptr_t tag;        /* an integer: never traced in a typed object */
} tnode;

#define BIG (8u << 20)

static int fails;
#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            printf("FAILED: " __VA_ARGS__);                                                   \
            printf("\n");                                                                     \
            fails++;                                                                          \
        }                                                                                     \
    } while (0)

/* Stores the address of a fresh 8 MiB object, as an integer, in *field. It runs in a
 * thread of its own that exits at once, so no stale copy of the address can linger in the
 * main thread's registers or stack (which are scanned conservatively). */
static void *hide_thread(void *field) {
    *(uintptr_t *)field = (uintptr_t)gc_alloc_noscan(BIG);
    return NULL;
}

static void hide_big_in(uintptr_t *field) {
    pthread_t t;
    if (gc_pthread_create(&t, NULL, hide_thread, field) != 0 || pthread_join(t, NULL) != 0) {
        printf("FAILED: gc_pthread_create\n");
        exit(1);
    }
}

static __attribute__((noinline)) void scrub(void) {
    volatile char pad[32768];
    memset((char *)pad, 0, sizeof pad);
}

/* Collects until the heap is below `below`, at most four cycles; returns the heap. A few
 * cycles, because conservative scanning may find a stale copy of a just-dropped address
 * (in a register, a stack slot or a saved context) and keep the object a cycle longer. */
static uint64_t heap_after_collect(uint64_t below) {
    gc_memstats_t ms;
    for (int i = 0; i < 4; i++) {
        scrub();
        gc_collect();
        gc_read_memstats(&ms);
        if (ms.heap_alloc < below) break;
    }
    return ms.heap_alloc;
}

int main(void) {
    if (gc_init() != 0) return 1;

    /* Layouts: byte offsets of the pointer fields. */
    size_t offs[2] = {offsetof(tnode, left), offsetof(tnode, right)};
    gc_type_t *T = gc_type_new(sizeof(tnode), offs, 2);
    CHECK(T != NULL, "gc_type_new(tnode)");
    size_t bad_align = 3, bad_past = sizeof(tnode);
    errno = 0;
    CHECK(gc_type_new(sizeof(tnode), &bad_align, 1) == NULL && errno == EINVAL, "unaligned offset accepted");
    errno = 0;
    CHECK(gc_type_new(sizeof(tnode), &bad_past, 1) == NULL && errno == EINVAL, "offset past the end accepted");

    /* A precise tree: children through the pointer fields. */
    tnode *root = gc_alloc_typed(T);
    root->left = gc_alloc_typed(T);
    root->right = gc_alloc_typed(T);
    strcpy(root->left->name, "left");
    strcpy(root->right->name, "right");

    /* Precise: the integer field does not keep its "target" alive. */
    uint64_t base = heap_after_collect(0);
    hide_big_in(&root->tag);
    uint64_t with_big = heap_after_collect(base + BIG / 2);
    printf("typed object, address kept as an integer: heap %.1f MiB -> %.1f MiB after a collection\n",
           base / 1048576.0, with_big / 1048576.0);
    CHECK(with_big < base + BIG / 2, "a typed object's integer field kept an object alive");

    /* Conservative: the same word in a gc_alloc object keeps it alive. */
    tnode *cons = gc_alloc(sizeof(tnode));
    hide_big_in(&cons->tag);
    uint64_t cons_big = heap_after_collect(base + BIG / 2);
    printf("conservative object, same integer:          heap %.1f MiB after a collection\n", cons_big / 1048576.0);
    CHECK(cons_big >= base + BIG, "a conservative object's word did not keep its target alive");
    cons->tag = 0;
    gc_keep_alive(cons);

    /* Arrays of a type; interior pointers find their object. */
    tnode *arr = gc_alloc_array(T, 1000);
    CHECK(arr != NULL && gc_size(arr) >= 1000 * sizeof(tnode), "gc_alloc_array");
    for (int i = 0; i < 1000; i++) {
        arr[i].weight = i;
        arr[i].left = i ? &arr[i - 1] : NULL;   /* interior pointers into the same array */
        arr[i].right = gc_alloc_typed(T);       /* fresh fields hold NULL: no barrier needed */
        snprintf(arr[i].right->name, sizeof arr[i].right->name, "leaf%d", i);
    }
    CHECK(gc_base(&arr[500].weight) == arr, "gc_base of an interior pointer");
    errno = 0;
    CHECK(gc_alloc_array(T, SIZE_MAX / 8) == NULL && errno == ENOMEM, "array size overflow not caught");
    tnode *last = &arr[999];
    arr = NULL;   /* only an interior pointer is left: it keeps the whole array */
    heap_after_collect(0);
    long ok_links = 0;
    for (tnode *n = last; n; n = n->left) {
        char want[16];
        snprintf(want, sizeof want, "leaf%d", (int)n->weight);
        ok_links += strcmp(n->right->name, want) == 0;
    }
    printf("array reached through an interior pointer: %ld of 1000 elements intact\n", ok_links);
    CHECK(ok_links == 1000, "array through an interior pointer");

    /* gc_realloc keeps the scan kind and the layout of the kept prefix. */
    tnode *grown = gc_realloc(root, 4 * sizeof(tnode));
    heap_after_collect(0);
    CHECK(grown && !strcmp(grown->left->name, "left") && !strcmp(grown->right->name, "right"),
          "gc_realloc lost the layout");

    /* Noscan: bytes only. */
    char *s = gc_alloc_noscan(32);
    strcpy(s, "noscan bytes");
    CHECK(gc_size(s) >= 32 && gc_base(s + 5) == s, "noscan object");

    printf("typed: %s\n", fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}
