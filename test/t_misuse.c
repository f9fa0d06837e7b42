/*
 * t_misuse: misuse of the API gets a clear message (an abort naming the misuse, or a
 * negative errno with a warning), never silent corruption. Each misuse runs in a forked
 * child (the parent never initialises gcrt) and its stderr is checked:
 *  - gc_alloc from a thread that never registered: abort;
 *  - gc_remove_roots of a range never added: -EINVAL and a warning;
 *  - gc_unregister_thread twice: -EINVAL and a warning, the thread can register again;
 *  - gc_realloc of memory that is not a GC object: abort;
 *  - a registered thread that exits without unregistering is unregistered for it (no
 *    complaint), and collections go on.
 * GC_STORE into memory that is not GC memory or roots is checked by t_debug_modes
 * (GODEBUG=gcstorecheck=1).
 */
#include "check.h"

#include <pthread.h>
#include <stdbool.h>

static void *alloc_unregistered(void *arg)
{
    (void)arg;
    void *p = gc_alloc(32);
    printf("allocation from an unregistered thread returned %p\n", p);
    return NULL;
}

static int unregistered_alloc(void *arg)
{
    (void)arg;
    gc_init();
    pthread_t th;
    pthread_create(&th, NULL, alloc_unregistered, NULL);
    pthread_join(th, NULL);
    return 1;
}

static int remove_unknown_roots(void *arg)
{
    (void)arg;
    gc_init();
    static void *area[4];
    CHECK(gc_add_roots(area, sizeof area) == 0);
    CHECK(gc_remove_roots(area, sizeof area / 2) == -EINVAL, "a different size is a different range");
    CHECK(gc_remove_roots(area, sizeof area) == 0);
    CHECK(gc_remove_roots(area, sizeof area) == -EINVAL, "removed twice");
    gc_collect();
    return 0;
}

static int double_unregister(void *arg)
{
    (void)arg;
    gc_init();
    CHECK(gc_unregister_thread() == 0);
    CHECK(gc_unregister_thread() == -EINVAL);
    CHECK(gc_register_thread() == 0, "the thread can register again");
    void *p = gc_alloc(64);
    CHECK(p != NULL);
    gc_collect();
    CHECK(gc_base(p) == p);
    return 0;
}

static int realloc_foreign(void *arg)
{
    (void)arg;
    gc_init();
    static char not_gc[64];
    (void)!gc_realloc(not_gc, 128);
    printf("gc_realloc of static memory returned\n");
    return 1;
}

static void *exit_registered(void *arg)
{
    (void)arg;
    CHECK(gc_register_thread() == 0);
    (void)!gc_alloc(100);
    return NULL;   /* no gc_unregister_thread */
}

static int exit_without_unregister(void *arg)
{
    (void)arg;
    gc_init();
    for (int i = 0; i < 20; i++) {
        pthread_t th;
        CHECK(pthread_create(&th, NULL, exit_registered, NULL) == 0);
        CHECK(pthread_join(th, NULL) == 0);
        gc_collect();
    }
    return 0;
}

struct mcase {
    const char *name;
    int (*fn)(void *);
    int want_status;    /* 0: must exit 0; 134: must abort (SIGABRT) */
    const char *want;   /* substring of stderr, or NULL for "no warning at all" */
};
static const struct mcase cases[] = {
    {"unregistered_alloc", unregistered_alloc, 134, "gcrt: fatal: allocation from a thread that is not registered"},
    {"remove_unknown_roots", remove_unknown_roots, 0, "no root range with that start and size was added; -EINVAL"},
    {"double_unregister", double_unregister, 0, "gc_unregister_thread: the calling thread is not registered"},
    {"realloc_foreign", realloc_foreign, 134, "gcrt: fatal: gc_realloc("},
    {"exit_without_unregister", exit_without_unregister, 0, NULL},
};

int main(void)
{
    child_result_t *r = malloc(sizeof *r);
    CHECK(r != NULL);
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++) {
        const struct mcase *c = &cases[i];
        int st = run_fork(r, c->fn, NULL);
        const char *msg = c->want ? strstr(r->err, c->want) : NULL;
        bool ok = st == c->want_status && (c->want ? msg != NULL : r->err_len == 0);
        if (!ok) {
            fprintf(stderr, "case %s: exit %d (want %d), stdout:\n%s\nstderr:\n%s\n", c->name, st, c->want_status,
                    r->out, r->err);
            FAIL("case %s", c->name);
        }
        const char *eol = msg ? strchr(msg, '\n') : NULL;
        printf("%-24s exit %3d: %.*s\n", c->name, st, msg ? (int)(eol ? eol - msg : 200) : 8, msg ? msg : "(silent)");
    }
    free(r);
    printf("t_misuse: %zu misuses reported\n", n);
    return 0;
}
