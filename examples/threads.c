/*
 * threads.c: several threads sharing a GC structure. Threads are started with
 * gc_pthread_create (registered for their whole life, so their stacks are roots and they
 * may allocate); every overwrite of a pointer inside a GC object goes through GC_STORE, so
 * the collector can mark concurrently while the threads keep changing the structure.
 *
 * The shared structure: a typed array of slots, each holding a record whose payload is a
 * noscan buffer filled with a pattern derived from the record's id. Workers replace
 * records (GC_STORE) and allocate garbage; at the end every slot must hold an intact
 * record. Exit status 0 if so.
 */
#include "gcrt.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NTHREADS 4
#define NSLOTS 4096
#define ROUNDS 200000
#define PAYLOAD 48

typedef struct record {
    uint64_t id;
    unsigned char *payload;   /* noscan, PAYLOAD bytes */
} record;

static gc_type_t *record_type, *slot_type;
static record **slots;              /* GC array of NSLOTS pointers; the global is a root */
static pthread_mutex_t slot_locks[64];
static uint64_t next_id[NTHREADS];

static record *new_record(uint64_t id) {
    record *r = gc_alloc_typed(record_type);
    unsigned char *p = gc_alloc_noscan(PAYLOAD);
    if (!r || !p) return NULL;
    for (int i = 0; i < PAYLOAD; i++) p[i] = (unsigned char)(id * 31 + (uint64_t)i);
    r->id = id;
    r->payload = p;   /* fresh object: plain store */
    return r;
}

static int intact(const record *r) {
    if (!r || !r->payload) return 0;
    for (int i = 0; i < PAYLOAD; i++)
        if (r->payload[i] != (unsigned char)(r->id * 31 + (uint64_t)i)) return 0;
    return 1;
}

static void *worker(void *arg) {
    long t = (long)arg;
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(t + 1);
    for (long i = 0; i < ROUNDS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t s = x % NSLOTS;
        record *r = new_record(((uint64_t)t << 48) | ++next_id[t]);
        if (!r) return (void *)1;
        pthread_mutex_lock(&slot_locks[s % 64]);
        if (!intact(slots[s])) {
            pthread_mutex_unlock(&slot_locks[s % 64]);
            return (void *)1;
        }
        GC_STORE(slots[s], r);   /* overwrites a live pointer: the barrier is required */
        pthread_mutex_unlock(&slot_locks[s % 64]);
        if (i % 8 == 0) {   /* garbage, to keep the collector busy */
            void *volatile garbage = gc_alloc(256);
            (void)garbage;
        }
    }
    return NULL;
}

int main(void) {
    if (gc_init() != 0) return 1;
    size_t offs[1] = {offsetof(record, payload)}, zero = 0;
    record_type = gc_type_new(sizeof(record), offs, 1);
    slot_type = gc_type_new(sizeof(void *), &zero, 1);
    slots = gc_alloc_array(slot_type, NSLOTS);
    if (!record_type || !slot_type || !slots) return 1;
    for (int i = 0; i < 64; i++) pthread_mutex_init(&slot_locks[i], NULL);
    for (size_t s = 0; s < NSLOTS; s++) {
        record *r = new_record(s);
        if (!r) return 1;
        slots[s] = r;   /* the slot still holds NULL: no barrier needed */
    }

    pthread_t th[NTHREADS];
    for (long t = 0; t < NTHREADS; t++)
        if (gc_pthread_create(&th[t], NULL, worker, (void *)t) != 0) return 1;
    int failed = 0;
    for (int t = 0; t < NTHREADS; t++) {
        void *rv;
        pthread_join(th[t], &rv);
        failed |= rv != NULL;
    }
    gc_collect();

    size_t good = 0;
    for (size_t s = 0; s < NSLOTS; s++) good += (size_t)intact(slots[s]);
    gc_memstats_t ms;
    gc_read_memstats(&ms);
    printf("%d threads made %ld replacements; %zu of %d slots intact; %u collections, longest pause %.3f ms\n",
           NTHREADS, (long)NTHREADS * ROUNDS, good, NSLOTS, ms.num_gc, ms.pause_max_ns / 1e6);
    int ok = !failed && good == NSLOTS && ms.num_gc > 1;
    printf("threads: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
