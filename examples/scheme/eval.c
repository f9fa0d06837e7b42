/*
 * eval.c: runs compiled code nodes; procedure application, escape-only continuations and
 * errors.
 *
 * Invariants:
 * - proper tail calls: eval is a loop, and every tail position (if branches, the last
 *   expression of a sequence, let bodies, the body of an applied closure, the operands of
 *   apply) continues the loop instead of recursing; only operands and tests recurse.
 * - a frame is a word array [header, parent, slots...]; a fresh frame's slots are
 *   filled with plain stores (they hold 0), every later store into a slot (set!, internal
 *   define, letrec) goes through STORE.
 * - values in flight live in C locals and argument arrays on the C stack, which gcrt
 *   scans conservatively; argument arrays too large for the stack are heap word arrays
 *   referenced from a local.
 * - call/cc is escape-only: a continuation is valid while the call/cc that made it is on
 *   the C stack (Escape records, linked from esc_top); invoking it longjmps there and
 *   invalidates every continuation made inside. Invoking one whose extent has ended is an
 *   error, never a jump into a dead frame.
 * - an error longjmps to scm_toplevel after invalidating every live continuation.
 */
#include "scheme.h"
#include "node.h"

#include <stdarg.h>
#include <stdlib.h>

char *scm_stack_limit;
jmp_buf *scm_toplevel;
char scm_errmsg[1024];
static Escape *esc_top;

V P_apply;

void escapes_reset(void) {
    for (Escape *e = esc_top; e; e = e->prev) ((Cont *)e->cont)->esc = NULL;
    esc_top = NULL;
}

static void throw_error(void) __attribute__((noreturn));
static void throw_error(void) {
    escapes_reset();
    if (!scm_toplevel) {
        fprintf(stderr, "%s\n", scm_errmsg);
        exit(1);
    }
    longjmp(*scm_toplevel, 1);
}

void scm_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(scm_errmsg, sizeof scm_errmsg, "error: ");
    vsnprintf(scm_errmsg + n, sizeof scm_errmsg - n, fmt, ap);
    va_end(ap);
    throw_error();
}

static void append_obj(Buf *b, V obj) {
    buf_puts(b, " ", 1);
    print_obj(b, obj, 1);
}

static void finish_error(Buf *b) __attribute__((noreturn));
static void finish_error(Buf *b) {
    size_t n = b->n < sizeof scm_errmsg - 1 ? b->n : sizeof scm_errmsg - 1;
    memcpy(scm_errmsg, b->p, n);
    scm_errmsg[n] = 0;
    free(b->p);
    throw_error();
}

void scm_error_obj(const char *msg, V obj) {
    Buf b = {0};
    buf_puts(&b, "error: ", 7);
    buf_puts(&b, msg, strlen(msg));
    append_obj(&b, obj);
    finish_error(&b);
}

/* (error msg irritant ...) */
void scm_raise(V msg, V irritants) {
    Buf b = {0};
    buf_puts(&b, "error: ", 7);
    print_obj(&b, msg, 0);
    for (; IS_PAIR(irritants); irritants = CDR(irritants)) append_obj(&b, CAR(irritants));
    finish_error(&b);
}

static void unassigned(V node, intptr_t depth, intptr_t idx) __attribute__((noreturn, cold));
static void unassigned(V node, intptr_t depth, intptr_t idx) {
    scm_error("variable used before its definition (frame depth %ld, slot %ld)", (long)depth, (long)idx);
}

static void unbound(V cell) __attribute__((noreturn, cold));
static void unbound(V cell) { scm_error("unbound variable: %s", SYMNAME(CELLP(cell)->sym)); }

static void not_proc(V f) __attribute__((noreturn, cold));
static void not_proc(V f) { scm_error_obj("not a procedure:", f); }

static void arity_error(V f, int argc) __attribute__((noreturn, cold));
static void arity_error(V f, int argc) {
    Buf b = {0};
    char t[160];
    if (IS_T(f, T_PRIM)) snprintf(t, sizeof t, "error: %s: wrong number of arguments (%d)", PRIMP(f)->name, argc);
    else snprintf(t, sizeof t, "error: wrong number of arguments (%d) to", argc);
    buf_puts(&b, t, strlen(t));
    if (!IS_T(f, T_PRIM)) append_obj(&b, f);
    finish_error(&b);
}

static void stack_overflow(void) __attribute__((noreturn, cold));
static void stack_overflow(void) { scm_error("stack overflow (recursion too deep)"); }

/* A frame for closure f applied to argv. */
static V make_frame(V f, int argc, const V *argv) {
    uintptr_t *L = OBJ(CLOP(f)->lambda);
    intptr_t nreq = (intptr_t)L[1];
    int rest = (int)L[2];
    if (argc < nreq || (!rest && argc != nreq)) arity_error(f, argc);
    uintptr_t *fr = make_words(T_FRAME, L[3] + 1);
    fr[1] = CLOP(f)->env;
    for (intptr_t i = 0; i < nreq; i++) fr[2 + i] = argv[i];
    if (rest) {
        V l = NIL;
        for (int i = argc - 1; i >= nreq; i--) l = cons(argv[i], l);
        fr[2 + nreq] = l;   /* fresh frame */
    }
    return (V)fr;
}

static V prim_call(V f, int argc, V *argv) {
    Prim *p = PRIMP(f);
    if (argc < p->min || (p->max >= 0 && argc > p->max)) arity_error(f, argc);
    return p->fn(argc, argv, p);
}

static void escape(V k, int argc, V *argv) __attribute__((noreturn));
static void escape(V k, int argc, V *argv) {
    Escape *target = ((Cont *)k)->esc;
    if (!target)
        scm_error("continuation invoked after its call/cc returned (call/cc is escape-only here)");
    for (Escape *e = esc_top; e != target; e = e->prev) ((Cont *)e->cont)->esc = NULL;
    target->value = argc == 1 ? argv[0] : argc == 0 ? UNSPEC : argv[0];
    longjmp(target->jb, 1);
}

/* (apply f a ... list): spread into a heap word array (referenced from *out). */
static int spread_apply(int argc, V *argv, V **out) {
    if (argc < 2) arity_error(P_apply, argc);
    V last = argv[argc - 1];
    intptr_t n;
    list_length_check(last, "apply", &n);
    int total = argc - 2 + (int)n;
    V *a = alloc_words(total > 0 ? (size_t)total : 1);
    CHECK_ALLOC(a);
    for (int i = 1; i < argc - 1; i++) a[i - 1] = argv[i];
    for (int i = argc - 2; last != NIL; last = CDR(last), i++) a[i] = CAR(last);
    *out = a;
    return total;
}

/* Constants and variable references without a call: most operands are one. */
static inline __attribute__((always_inline)) V eval_fast(V node, V env) {
    uintptr_t *n = OBJ(node);
    V v;
    switch (n[0] & 0xff) {
    case N_CONST: return n[1];
    case N_LREF0: v = FRAME_SLOTS(env)[n[1]]; break;
    case N_LREF1: v = FRAME_SLOTS(FRAME_PARENT(env))[n[1]]; break;
    case N_GREF: v = CELLP(n[1])->value; break;
    default: return eval(node, env);
    }
    return v ? v : eval(node, env);   /* unassigned or unbound: eval reports it */
}

V eval(V node, V env) {
    char probe;
    if (__builtin_expect(&probe < scm_stack_limit, 0)) stack_overflow();
    for (;;) {
        uintptr_t *n = OBJ(node);
        switch (n[0] & 0xff) {
        case N_CONST:
            return n[1];
        case N_LREF0: {
            V v = FRAME_SLOTS(env)[n[1]];
            if (__builtin_expect(!v, 0)) unassigned(node, 0, (intptr_t)n[1]);
            return v;
        }
        case N_LREF1: {
            V v = FRAME_SLOTS(FRAME_PARENT(env))[n[1]];
            if (__builtin_expect(!v, 0)) unassigned(node, 1, (intptr_t)n[1]);
            return v;
        }
        case N_LREF: {
            V f = env;
            for (uintptr_t d = n[1]; d; d--) f = FRAME_PARENT(f);
            V v = FRAME_SLOTS(f)[n[2]];
            if (__builtin_expect(!v, 0)) unassigned(node, (intptr_t)n[1], (intptr_t)n[2]);
            return v;
        }
        case N_GREF: {
            V v = CELLP(n[1])->value;
            if (__builtin_expect(!v, 0)) unbound(n[1]);
            return v;
        }
        case N_LSET: {
            V v = eval(n[3], env);
            V f = env;
            for (uintptr_t d = n[1]; d; d--) f = FRAME_PARENT(f);
            STORE(FRAME_SLOTS(f)[n[2]], v);
            return UNSPEC;
        }
        case N_GSET: {
            V v = eval(n[2], env);
            if (!CELLP(n[1])->value) unbound(n[1]);
            STORE(CELLP(n[1])->value, v);
            return UNSPEC;
        }
        case N_GDEF: {
            V v = eval(n[2], env);
            STORE(CELLP(n[1])->value, v);
            return UNSPEC;
        }
        case N_IF:
            node = eval_fast(n[1], env) != FALSE_V ? n[2] : n[3];
            continue;
        case N_LAMBDA: {
            Closure *c = alloc_closure();
            CHECK_ALLOC(c);
            c->hdr = HDR(T_CLO, 0);
            c->lambda = node;
            c->env = env;
            return (V)c;
        }
        case N_SEQ: {
            size_t len = n[0] >> 8;
            for (size_t i = 1; i < len; i++) eval(n[i], env);
            node = n[len];
            continue;
        }
        case N_AND: {
            size_t len = n[0] >> 8;
            for (size_t i = 1; i < len; i++)
                if (eval(n[i], env) == FALSE_V) return FALSE_V;
            node = n[len];
            continue;
        }
        case N_OR: {
            size_t len = n[0] >> 8;
            for (size_t i = 1; i < len; i++) {
                V v = eval(n[i], env);
                if (v != FALSE_V) return v;
            }
            node = n[len];
            continue;
        }
        case N_LET: {
            size_t len = n[0] >> 8;
            uintptr_t *fr = make_words(T_FRAME, n[1] + 1);
            fr[1] = env;
            for (size_t i = 3; i <= len; i++) fr[i - 1] = eval_fast(n[i], env);   /* fresh frame */
            env = (V)fr;
            node = n[2];
            continue;
        }
        case N_LETREC: {
            size_t len = n[0] >> 8;
            uintptr_t *fr = make_words(T_FRAME, n[1] + 1);
            fr[1] = env;
            env = (V)fr;
            for (size_t i = 3; i <= len; i++) {
                V v = eval(n[i], env);
                STORE(fr[i - 1], v);
            }
            node = n[2];
            continue;
        }
        case N_CALL: {
            V f = eval_fast(n[1], env);
            int argc = (int)(n[0] >> 8) - 1;
            if (IS_T(f, T_CLO)) {
                uintptr_t *L = OBJ(CLOP(f)->lambda);
                if (!L[2] && (uintptr_t)argc == L[1]) {
                    uintptr_t *fr = make_words(T_FRAME, L[3] + 1);
                    fr[1] = CLOP(f)->env;
                    for (int i = 0; i < argc; i++) fr[2 + i] = eval_fast(n[2 + i], env);   /* fresh */
                    env = (V)fr;
                    node = L[4];
                    continue;
                }
            }
            V small[6];
            V *argv = small;
            if (argc > 6) {
                argv = alloc_words((size_t)argc);
                CHECK_ALLOC(argv);
            }
            for (int i = 0; i < argc; i++) argv[i] = eval_fast(n[2 + i], env);
            for (;;) {
                if (IS_T(f, T_CLO)) {
                    env = make_frame(f, argc, argv);
                    node = OBJ(CLOP(f)->lambda)[4];
                    break;
                }
                if (IS_T(f, T_PRIM)) {
                    if (f != P_apply) return prim_call(f, argc, argv);
                    V *spread;
                    int total = spread_apply(argc, argv, &spread);
                    f = argv[0];
                    argv = spread;
                    argc = total;
                    continue;
                }
                if (IS_T(f, T_CONT)) escape(f, argc, argv);
                not_proc(f);
            }
            continue;
        }
        default:
            scm_error("internal error: bad code node %lu", (unsigned long)(n[0] & 0xff));
        }
    }
}

V apply_proc(V f, int argc, V *argv) {
    if (IS_T(f, T_CLO)) return eval(OBJ(CLOP(f)->lambda)[4], make_frame(f, argc, argv));
    if (IS_T(f, T_PRIM)) {
        if (f == P_apply) {
            V *spread;
            int total = spread_apply(argc, argv, &spread);
            return apply_proc(argv[0], total, spread);
        }
        return prim_call(f, argc, argv);
    }
    if (IS_T(f, T_CONT)) escape(f, argc, argv);
    not_proc(f);
}

static V p_apply(int argc, V *argv, Prim *self) { return apply_proc(P_apply, argc, argv); }

static V p_callcc(int argc, V *argv, Prim *self) {
    Escape e;
    Cont *k = alloc_raw(sizeof(Cont));
    CHECK_ALLOC(k);
    k->hdr = HDR(T_CONT, 0);
    k->esc = &e;
    e.cont = (V)k;
    e.value = 0;
    e.prev = esc_top;
    esc_top = &e;
    if (setjmp(e.jb)) {
        esc_top = e.prev;
        ((Cont *)e.cont)->esc = NULL;
        return e.value;
    }
    V kv = (V)k;
    V v = apply_proc(argv[0], 1, &kv);
    esc_top = e.prev;
    k->esc = NULL;
    return v;
}

void eval_init(void) {
    P_apply = def_prim("apply", p_apply, 2, -1, 0);
    def_prim("call-with-current-continuation", p_callcc, 1, 1, 0);
    def_prim("call/cc", p_callcc, 1, 1, 0);
}
