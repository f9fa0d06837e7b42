/*
 * t_bdw_threads: threads through gc.h.
 * - GC_pthread_create threads (here through the GC_THREADS redirect of pthread_create) build
 *   checksummed lists while the main thread collects; every list is intact at the end;
 * - GC_do_blocking: a thread that blocks the suspend signal and waits inside it does not hold
 *   up collections (without GC_do_blocking this would hang); GC_call_with_gc_active inside it
 *   allocates and collects as an active thread;
 * - GC_register_my_thread / GC_unregister_my_thread on a plain thread; GC_get_stack_base.
 */
#include "bdw_test.h"

typedef struct node {
    struct node *next;
    long v;
} node;

static void *builder(void *arg) {
    long seed = (long)arg, sum = 0;
    node *head = NULL;
    for (long i = 0; i < 200000; i++) {
        node *n = GC_NEW(node);
        n->v = seed * 1000003 + i;
        n->next = i % 5000 ? head : NULL;   /* drop the list now and then */
        head = n;
    }
    for (node *n = head; n; n = n->next) sum += n->v;
    long want = 0;
    for (long i = 195000; i < 200000; i++) want += seed * 1000003 + i;
    return (void *)(uintptr_t)(sum == want);
}

static int pfd[2], qfd[2];
static GC_hidden_pointer lactive;
static void *active_part(void *arg) {
    (void)arg;
    node *n = GC_NEW(node);
    n->v = 42;
    GC_gcollect();
    return n->v == 42 ? n : NULL;
}
static void *blocked_part(void *arg) {
    (void)arg;
    sigset_t s, old;
    sigemptyset(&s);
    sigaddset(&s, GC_get_suspend_signal());
    char c;
    pthread_sigmask(SIG_BLOCK, &s, &old);   /* the real one: nothing could stop this thread now */
    CHECK(write(qfd[1], "b", 1) == 1, "signal main");
    CHECK(read(pfd[0], &c, 1) == 1, "wait for main");
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    void *r = GC_call_with_gc_active(active_part, NULL);
    pthread_sigmask(SIG_BLOCK, &s, &old);
    CHECK(write(qfd[1], "c", 1) == 1, "signal main");
    CHECK(read(pfd[0], &c, 1) == 1, "wait for main");
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}
static void *blocker(void *arg) {
    (void)arg;
    void *r = GC_do_blocking(blocked_part, NULL);
    return (void *)(uintptr_t)(r != NULL);
}

static void *plain(void *arg) {
    struct GC_stack_base sb;
    CHECK(GC_get_stack_base(&sb) == GC_SUCCESS && (char *)sb.mem_base > (char *)&sb, "stack base");
    if (arg) {   /* made by GC_pthread_create: registered for its life */
        CHECK(GC_thread_is_registered() && GC_register_my_thread(&sb) == GC_DUPLICATE, "registered");
        return (void *)1;
    }
    CHECK(!GC_thread_is_registered(), "a plain thread starts unregistered");
    CHECK(GC_register_my_thread(&sb) == GC_SUCCESS, "register");
    CHECK(GC_register_my_thread(&sb) == GC_DUPLICATE, "register twice");
    node *n = GC_NEW(node);
    n->v = 7;
    GC_gcollect();
    int ok = n->v == 7;
    CHECK(GC_unregister_my_thread() == GC_SUCCESS, "unregister");
    return (void *)(uintptr_t)ok;
}

int main(void) {
    GC_INIT();
    GC_allow_register_threads();
    pthread_t t[3];
    for (long i = 0; i < 3; i++) CHECK(pthread_create(&t[i], NULL, builder, (void *)i) == 0, "create");
    for (int i = 0; i < 5; i++) GC_gcollect();
    for (int i = 0; i < 3; i++) {
        void *ok;
        CHECK(pthread_join(t[i], &ok) == 0 && ok, "list %d intact", i);
    }
    CHECK(pipe(pfd) == 0 && pipe(qfd) == 0, "pipes");
    pthread_t b;
    CHECK(pthread_create(&b, NULL, blocker, NULL) == 0, "create blocker");
    char c;
    alarm(60);   /* a collection waiting for the blocked thread would hang here */
    CHECK(read(qfd[0], &c, 1) == 1 && c == 'b', "blocker ready");
    GC_word n0 = GC_get_gc_no();
    GC_gcollect();
    GC_gcollect();
    CHECK(GC_get_gc_no() >= n0 + 2, "collections ran while the thread was blocked");
    CHECK(write(pfd[1], "x", 1) == 1, "release");
    CHECK(read(qfd[0], &c, 1) == 1 && c == 'c', "blocker back in the region");
    GC_gcollect();
    CHECK(write(pfd[1], "x", 1) == 1, "release");
    void *ok;
    CHECK(pthread_join(b, &ok) == 0 && ok, "GC_call_with_gc_active's object intact");
    alarm(0);
    pthread_t p;
    CHECK(GC_pthread_create(&p, NULL, plain, (void *)1) == 0, "create");
    CHECK(GC_pthread_join(p, &ok) == 0 && ok, "GC_pthread_join");
    /* a thread made by the real pthread_create registers itself with GC_register_my_thread */
#undef pthread_create
    CHECK(pthread_create(&p, NULL, plain, NULL) == 0, "plain create");
    CHECK(pthread_join(p, &ok) == 0 && ok, "self-registered thread's object intact");
    (void)lactive;
    printf("ok\n");
    return 0;
}
