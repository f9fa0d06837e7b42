/*
 * roots.c: static data of the program and its shared libraries, and registered ranges.
 *
 * Static data is found afresh each cycle with dl_iterate_phdr (writable PT_LOAD segments),
 * so libraries loaded or unloaded between cycles are handled. gcrt's own metadata lives in
 * mmap'd memory outside any segment, so it is never a root; gcrt's static variables hold
 * no pointers to GC objects that should keep them alive.
 *
 * roots_lock guards the registered ranges; the collector reads them with the world stopped.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <link.h>
#include <stdlib.h>

typedef struct { uintptr_t lo, hi; } range;
static pthread_mutex_t roots_lock = PTHREAD_MUTEX_INITIALIZER;
static range *user_roots;
static size_t n_user, cap_user;

GCRT_API int gc_add_roots(void *start, size_t size) {
    uintptr_t lo = (uintptr_t)start;
    if (!start || size == 0 || lo + size < lo) return -EINVAL;
    gcrt_lock(&roots_lock);
    if (n_user == cap_user) {
        size_t nc = cap_user ? cap_user * 2 : 16;
        range *r = realloc(user_roots, nc * sizeof *r);
        if (!r) {
            pthread_mutex_unlock(&roots_lock);
            return -ENOMEM;
        }
        user_roots = r;
        cap_user = nc;
    }
    user_roots[n_user++] = (range){lo, lo + size};
    pthread_mutex_unlock(&roots_lock);
    return 0;
}

GCRT_API int gc_remove_roots(void *start, size_t size) {
    uintptr_t lo = (uintptr_t)start;
    int r = -EINVAL;
    gcrt_lock(&roots_lock);
    for (size_t i = 0; i < n_user; i++) {
        if (user_roots[i].lo == lo && user_roots[i].hi == lo + size) {
            user_roots[i] = user_roots[--n_user];
            r = 0;
            break;
        }
    }
    pthread_mutex_unlock(&roots_lock);
    if (r) gcrt_warn("gc_remove_roots(%p, %zu): no root range with that start and size was added; -EINVAL", start, size);
    return r;
}

/* The cycle's root ranges, gathered before the world stops: dl_iterate_phdr takes the
 * loader's lock, which a stopped thread might hold. roots_lock stays held from prepare to
 * done, so a range added during a cycle waits for it to finish (gc_add_roots is not a
 * critical section, so its caller can still be stopped while it waits). */
static range *snap;
static size_t n_snap, cap_snap, snap_static_bytes;

static void snap_add(uintptr_t lo, uintptr_t hi) {
    if (!gcrt_meta_grow((void **)&snap, &cap_snap, n_snap, sizeof *snap, 64))
        gcrt_fatal("out of memory for the root set");
    snap[n_snap++] = (range){lo, hi};
}

extern char __start_gcrt_state[] GCRT_HIDDEN, __stop_gcrt_state[] GCRT_HIDDEN;

/* Add [lo, hi) less gcrt's own state section. */
static void add_static(uintptr_t lo, uintptr_t hi) {
    uintptr_t xlo = (uintptr_t)__start_gcrt_state, xhi = (uintptr_t)__stop_gcrt_state;
    if (xhi <= lo || xlo >= hi) {
        snap_add(lo, hi);
        snap_static_bytes += hi - lo;
        return;
    }
    if (xlo > lo) add_static(lo, xlo & ~(uintptr_t)7);
    if (xhi < hi) add_static(round_up(xhi, 8), hi);
}

static int phdr_cb(struct dl_phdr_info *info, size_t sz, void *p) {
    (void)sz;
    (void)p;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W)) continue;
        uintptr_t lo = round_up(info->dlpi_addr + ph->p_vaddr, sizeof(void *));
        uintptr_t hi = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(uintptr_t)7;
        if (hi > lo) add_static(lo, hi);
    }
    return 0;
}

void gcrt_roots_prepare(void) {
    gcrt_lock(&roots_lock);
    n_snap = 0;
    snap_static_bytes = 0;
    dl_iterate_phdr(phdr_cb, NULL);
    for (size_t i = 0; i < n_user; i++) snap_add(user_roots[i].lo, user_roots[i].hi);
}

void gcrt_roots_done(void) { pthread_mutex_unlock(&roots_lock); }

void gcrt_roots_lock(void) { gcrt_lock(&roots_lock); }

/* Read one word of each page of [lo, hi), so that a scan soon after finds the pages in the
 * TLB and this VM's host has their translations at hand. */
GCRT_NO_ASAN void gcrt_touch_range(uintptr_t lo, uintptr_t hi) {
    gcrt_scan_roots_begin(lo, hi);
    for (uintptr_t p = lo & ~(uintptr_t)7; p < hi; p = (p | 4095) + 1) (void)*(volatile const uintptr_t *)p;
    gcrt_scan_roots_end(lo, hi);
}

size_t gcrt_roots_each(void (*fn)(uintptr_t, uintptr_t, void *), void *arg) {
    size_t bytes = 0;
    for (size_t i = 0; i < n_snap; i++) {
        fn(snap[i].lo, snap[i].hi, arg);
        bytes += snap[i].hi - snap[i].lo;
    }
    return bytes;
}

/* GODEBUG=gcstorecheck (debug.c): is p in a registered range or in static data? Outside
 * pauses only (the loader's lock). */
static int contains_cb(struct dl_phdr_info *info, size_t sz, void *arg) {
    (void)sz;
    uintptr_t p = *(uintptr_t *)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W) && p >= lo && p < lo + ph->p_memsz) return 1;
    }
    return 0;
}

bool gcrt_roots_contain(uintptr_t p) {
    bool in = false;
    gcrt_lock(&roots_lock);
    for (size_t i = 0; i < n_user && !in; i++) in = p >= user_roots[i].lo && p < user_roots[i].hi;
    pthread_mutex_unlock(&roots_lock);
    return in || dl_iterate_phdr(contains_cb, &p) != 0;
}

/* Fork: taken before the world stops, as a cycle does (gc_add_roots waits stoppably). */
void gcrt_roots_fork(int phase) { gcrt_fork_mutex(&roots_lock, phase); }
