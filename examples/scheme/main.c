/*
 * main.c: `scheme [--gc-summary] [--memprofile FILE] [FILE [ARG...]]`: runs FILE, or a REPL on stdin without one.
 *
 * The interpreter runs on a thread of its own with a 256 MiB stack (registered with the
 * collector for its whole life), so deep non-tail recursion has room; eval checks the
 * stack pointer against scm_stack_limit and reports "stack overflow" before the guard
 * page. An error in a file prints its message on stderr and exits 1; in the REPL it
 * returns to the prompt.
 */
#include "scheme.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define STACK_BYTES ((size_t)256 << 20)

V S_quote, S_quasiquote, S_unquote, S_unquote_splicing, S_lambda, S_define, S_if, S_set, S_begin, S_let,
    S_letstar, S_letrec, S_letrecstar, S_cond, S_case, S_and, S_or, S_when, S_unless, S_do, S_else, S_arrow,
    S_dot;

static V sym(const char *s) { return intern(s, strlen(s)); }

static void init_symbols(void) {
    S_quote = sym("quote");
    S_quasiquote = sym("quasiquote");
    S_unquote = sym("unquote");
    S_unquote_splicing = sym("unquote-splicing");
    S_lambda = sym("lambda");
    S_define = sym("define");
    S_if = sym("if");
    S_set = sym("set!");
    S_begin = sym("begin");
    S_let = sym("let");
    S_letstar = sym("let*");
    S_letrec = sym("letrec");
    S_letrecstar = sym("letrec*");
    S_cond = sym("cond");
    S_case = sym("case");
    S_and = sym("and");
    S_or = sym("or");
    S_when = sym("when");
    S_unless = sym("unless");
    S_do = sym("do");
    S_else = sym("else");
    S_arrow = sym("=>");
    S_dot = sym(".");
}

static __attribute__((noinline)) char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    size_t k;
    while ((k = fread(b + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) b = realloc(b, cap *= 2);
    }
    fclose(f);
    *len = n;
    return b;
}

/* Runs every datum of a file; returns the exit status. */
static int run_file(const char *path) {
    size_t len;
    char *src = read_file(path, &len);
    if (!src) {
        perror(path);
        return 2;
    }
    jmp_buf jb;
    scm_toplevel = &jb;
    Reader r = {src, 0, len, 1};
    if (setjmp(jb)) {
        fflush(stdout);
        fprintf(stderr, "%s: %s\n", path, scm_errmsg);
        free(src);
        return 1;
    }
    for (;;) {
        V x = scm_read(&r);
        if (x == EOF_V) break;
        eval(compile_toplevel(x), 0);
    }
    free(src);
    fflush(stdout);
    return 0;
}

/* Does buffer s hold complete data (balanced parentheses, no open string or comment)? */
static int complete(const char *s, size_t n) {
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == ';') {
            while (i < n && s[i] != '\n') i++;
        } else if (c == '#' && i + 1 < n && s[i + 1] == '\\') {
            i += 2;
        } else if (c == '(' || c == '[') {
            depth++;
        } else if (c == ')' || c == ']') {
            depth--;
        }
    }
    return !in_str && depth <= 0;
}

static int repl(void) {
    Buf in = {0};
    char *line = NULL;
    size_t cap = 0;
    jmp_buf jb;
    scm_toplevel = &jb;
    int interactive = isatty(0);
    for (;;) {
        if (setjmp(jb)) {
            fflush(stdout);
            fprintf(stderr, "%s\n", scm_errmsg);
            in.n = 0;
        }
        if (in.n == 0) {
            fputs("> ", stdout);
        } else if (interactive) {
            fputs("  ", stdout);
        }
        fflush(stdout);
        ssize_t k = getline(&line, &cap, stdin);
        if (k < 0) break;
        buf_puts(&in, line, (size_t)k);
        if (!complete(in.p, in.n)) continue;
        Reader r = {in.p, 0, in.n, 1};
        for (;;) {
            V x = scm_read(&r);
            if (x == EOF_V) break;
            V v = eval(compile_toplevel(x), 0);
            if (v != UNSPEC) {
                scm_print(stdout, v, 1);
                putchar('\n');
            }
        }
        in.n = 0;
    }
    if (!interactive) putchar('\n');
    fflush(stdout);
    free(line);
    free(in.p);
    return 0;
}

static void gc_summary(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
#ifdef SCHEME_BDWGC
    fprintf(stderr, "gc summary (bdwgc): %lu collections, heap %.1f MiB, peak RSS %.1f MiB\n",
            (unsigned long)GC_get_gc_no(), GC_get_heap_size() / 1048576.0, ru.ru_maxrss / 1024.0);
#else
    gc_memstats_t ms;
    gc_read_memstats(&ms);
    fprintf(stderr,
            "gc summary: %u collections (%u forced), longest pause %.3f ms, total pause %.3f ms, "
            "heap from the OS %.1f MiB, allocated in all %.1f MiB, peak RSS %.1f MiB\n",
            ms.num_gc, ms.num_forced_gc, ms.pause_max_ns / 1e6, ms.pause_total_ns / 1e6, ms.heap_sys / 1048576.0,
            ms.total_alloc / 1048576.0, ru.ru_maxrss / 1024.0);
#endif
}

static const char *file_arg;
static char **prog_args;
static int prog_nargs;
static int summary;
static int status;
static const char *memprofile;   /* --memprofile FILE */

/* (command-line): the file name and the arguments after it, as strings. */
static V p_command_line(int argc, V *argv, Prim *self) {
    V l = NIL;
    for (int i = prog_nargs - 1; i >= 0; i--) l = cons(make_string(prog_args[i], strlen(prog_args[i])), l);
    return cons(make_string(file_arg ? file_arg : "", file_arg ? strlen(file_arg) : 0), l);
}

/* --memprofile FILE: the heap profile for go tool pprof after the program, following a
 * collection (go test -memprofile's order). */
static void write_memprofile(const char *path) {
#ifdef SCHEME_BDWGC
    fprintf(stderr, "scheme: --memprofile %s: heap profiles need gcrt (this is the bdwgc build)\n", path);
#else
    gc_collect();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -errno : gc_write_heap_profile(fd);
    if (fd >= 0 && close(fd) < 0 && !rc) rc = -errno;
    if (rc < 0) {
        fprintf(stderr, "scheme: --memprofile %s: %s\n", path, strerror(-rc));
        if (!status) status = 1;
    }
#endif
}

static void *interp(void *arg) {
    char base;
    scm_stack_limit = (char *)((uintptr_t)&base - (STACK_BYTES - ((size_t)1 << 20)));
    init_symbols();
    prims_init();
    eval_init();
    def_prim("command-line", p_command_line, 0, 0, 0);
    status = file_arg ? run_file(file_arg) : repl();
    if (summary) gc_summary();
    if (memprofile) write_memprofile(memprofile);
    return NULL;
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (!strcmp(argv[i], "--gc-summary")) summary = 1;
        else if (!strcmp(argv[i], "--memprofile") && i + 1 < argc) memprofile = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--gc-summary] [--memprofile FILE] [FILE [ARG...]]\n", argv[0]);
            return 2;
        }
    }
    if (i < argc) file_arg = argv[i++];
    prog_args = argv + i;
    prog_nargs = argc - i;
    heap_init();
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STACK_BYTES);
    pthread_t t;
#ifdef SCHEME_BDWGC
    int rc = GC_pthread_create(&t, &attr, interp, NULL);
#else
    int rc = gc_pthread_create(&t, &attr, interp, NULL);
#endif
    if (rc) {
        fprintf(stderr, "scheme: cannot start the interpreter thread (error %d)\n", rc);
        return 2;
    }
    pthread_join(t, NULL);
    return status;
}
