/*
 * compile.c: expands derived forms and compiles expressions into code nodes with lexical
 * addresses, which eval.c runs.
 *
 * Invariants:
 * - core forms: quote, if, define, set!, lambda, begin, let, letrec/letrec*, and, or and
 *   application. let*, named let, cond, case, when, unless, do and quasiquote are rewritten
 *   into them first; the rewrites bind helper variables whose names contain a space (the
 *   reader cannot produce such a symbol) and call primitives by embedding the procedure
 *   object itself, so user bindings cannot capture them.
 * - a body's internal defines are found before it is compiled and become slots of the
 *   frame that the body runs in (lambda, let or letrec frame): frames never grow at run
 *   time and every variable reference is a (depth, index) pair or a global cell.
 * - a special-form keyword is recognised only where it is not lexically bound.
 * - code nodes are word arrays: [0] = kind | length << 8, then fields; the compiler
 *   fills fresh nodes only, so it never needs the barrier.
 */
#include "scheme.h"
#include "node.h"

#include <stdlib.h>

typedef struct Scope {
    V names;   /* list, newest first */
    intptr_t n;
    struct Scope *parent;
} Scope;

static V compile(V x, Scope *sc);
static V compile_body(V body, Scope *sc, const char *who);

static V node(int kind, size_t n) { return (V)make_words(kind, n); }
#define NF(nd, i) (OBJ(nd)[i])

static V list2(V a, V b) { return cons(a, cons(b, NIL)); }
static V list3(V a, V b, V c) { return cons(a, cons(b, cons(c, NIL))); }

static intptr_t list_len(V l) {
    intptr_t n = 0;
    for (; IS_PAIR(l); l = CDR(l)) n++;
    return l == NIL ? n : -1;
}

static void syntax_error(const char *form, V x) __attribute__((noreturn));
static void syntax_error(const char *form, V x) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s: bad syntax", form);
    scm_error_obj(msg, x);
}

static int lookup(Scope *sc, V sym, intptr_t *depth, intptr_t *idx) {
    for (intptr_t d = 0; sc; sc = sc->parent, d++) {
        intptr_t pos = 0;
        for (V l = sc->names; l != NIL; l = CDR(l), pos++)
            if (CAR(l) == sym) {
                *depth = d;
                *idx = sc->n - 1 - pos;
                return 1;
            }
    }
    return 0;
}

static void scope_add(Scope *sc, V sym) {
    for (V l = sc->names; l != NIL; l = CDR(l))
        if (CAR(l) == sym) return;
    sc->names = cons(sym, sc->names);
    sc->n++;
}

static V const_node(V v) {
    V nd = node(N_CONST, 1);
    NF(nd, 1) = v;
    return nd;
}

static V compile_ref(V sym, Scope *sc) {
    intptr_t d, i;
    if (lookup(sc, sym, &d, &i)) {
        if (d <= 1) {
            V nd = node(d == 0 ? N_LREF0 : N_LREF1, 1);
            NF(nd, 1) = (V)i;
            return nd;
        }
        V nd = node(N_LREF, 2);
        NF(nd, 1) = (V)d;
        NF(nd, 2) = (V)i;
        return nd;
    }
    V nd = node(N_GREF, 1);
    NF(nd, 1) = global_cell(sym);
    return nd;
}

/* (define name expr) after rewriting (define (name . args) body...). */
static void define_parts(V x, V *name, V *value) {
    if (list_len(x) < 2) syntax_error("define", x);
    V target = CAR(CDR(x));
    V rest = CDR(CDR(x));
    while (IS_PAIR(target)) {   /* (define ((f a) b) ...) curries */
        rest = cons(cons(S_lambda, cons(CDR(target), rest)), NIL);
        target = CAR(target);
    }
    if (!IS_SYM(target)) syntax_error("define", x);
    *name = target;
    if (rest == NIL) *value = 0;
    else if (CDR(rest) != NIL) syntax_error("define", x);
    else *value = CAR(rest);
}

static int is_form(V x, V kw, Scope *sc) {
    intptr_t d, i;
    return IS_PAIR(x) && CAR(x) == kw && !lookup(sc, kw, &d, &i);
}

/* Adds the names a body defines (also inside begin) to its frame. */
static void scan_defines(V body, Scope *sc) {
    for (; IS_PAIR(body); body = CDR(body)) {
        V x = CAR(body);
        if (is_form(x, S_define, sc)) {
            V name, value;
            define_parts(x, &name, &value);
            scope_add(sc, name);
        } else if (is_form(x, S_begin, sc)) {
            scan_defines(CDR(x), sc);
        }
    }
}

static V compile_lambda(V params, V body, Scope *sc, V name) {
    Scope inner = {NIL, 0, sc};
    intptr_t nreq = 0;
    int rest = 0;
    V p = params;
    for (; IS_PAIR(p); p = CDR(p)) {
        if (!IS_SYM(CAR(p))) syntax_error("lambda", params);
        inner.names = cons(CAR(p), inner.names);
        inner.n++;
        nreq++;
    }
    if (p != NIL) {
        if (!IS_SYM(p)) syntax_error("lambda", params);
        inner.names = cons(p, inner.names);
        inner.n++;
        rest = 1;
    }
    V b = compile_body(body, &inner, "lambda");
    V nd = node(N_LAMBDA, 5);
    NF(nd, 1) = (V)nreq;
    NF(nd, 2) = (V)rest;
    NF(nd, 3) = (V)inner.n;
    NF(nd, 4) = b;
    NF(nd, 5) = name ? name : FALSE_V;
    return nd;
}

static V compile_seq(V body, Scope *sc) {
    intptr_t n = list_len(body);
    if (n < 0) syntax_error("begin", body);
    if (n == 0) return const_node(UNSPEC);
    if (n == 1) return compile(CAR(body), sc);
    V nd = node(N_SEQ, (size_t)n);
    for (intptr_t i = 1; IS_PAIR(body); body = CDR(body), i++) {
        V c = compile(CAR(body), sc);
        NF(nd, i) = c;   /* fresh node */
    }
    return nd;
}

static V compile_body(V body, Scope *sc, const char *who) {
    if (!IS_PAIR(body)) syntax_error(who, body);
    scan_defines(body, sc);
    return compile_seq(body, sc);
}

/* (let ((v init) ...) body...) and letrec: inits in the outer scope for let, in the new
 * frame for letrec. */
static V compile_let(V x, Scope *sc, int rec, const char *who) {
    if (list_len(x) < 3) syntax_error(who, x);
    V bindings = CAR(CDR(x));
    intptr_t n = list_len(bindings);
    if (n < 0) syntax_error(who, x);
    Scope inner = {NIL, 0, sc};
    for (V b = bindings; b != NIL; b = CDR(b)) {
        V bd = CAR(b);
        if (!IS_PAIR(bd) || !IS_SYM(CAR(bd)) || (CDR(bd) != NIL && (!IS_PAIR(CDR(bd)) || CDR(CDR(bd)) != NIL)))
            syntax_error(who, bd);
        for (V l = inner.names; l != NIL; l = CDR(l))
            if (CAR(l) == CAR(bd)) syntax_error(who, bd);   /* duplicate */
        inner.names = cons(CAR(bd), inner.names);
        inner.n++;
    }
    V nd = node(rec ? N_LETREC : N_LET, 2 + (size_t)n);
    intptr_t i = 3;
    for (V b = bindings; b != NIL; b = CDR(b), i++) {
        V bd = CAR(b);
        V init;
        if (CDR(bd) == NIL) init = const_node(UNSPEC);
        else if (rec && is_form(CAR(CDR(bd)), S_lambda, &inner) && list_len(CAR(CDR(bd))) >= 3)
            init = compile_lambda(CAR(CDR(CAR(CDR(bd)))), CDR(CDR(CAR(CDR(bd)))), &inner, CAR(bd));
        else init = compile(CAR(CDR(bd)), rec ? &inner : sc);
        NF(nd, i) = init;
    }
    V body = compile_body(CDR(CDR(x)), &inner, who);
    NF(nd, 1) = (V)inner.n;
    NF(nd, 2) = body;
    return nd;
}

/* ---- derived forms ---- */

static V sym_tmp, sym_key, sym_loop;

static V expand_cond(V clauses, Scope *sc) {
    if (clauses == NIL) return UNSPEC;
    if (!IS_PAIR(clauses) || !IS_PAIR(CAR(clauses))) syntax_error("cond", clauses);
    V cl = CAR(clauses), rest = CDR(clauses);
    if (CAR(cl) == S_else) {
        if (rest != NIL) syntax_error("cond", cl);
        return cons(S_begin, CDR(cl));
    }
    if (CDR(cl) == NIL) return list3(S_or, CAR(cl), expand_cond(rest, sc));
    if (CAR(CDR(cl)) == S_arrow) {
        if (list_len(cl) != 3) syntax_error("cond", cl);
        return list3(S_let, cons(list2(sym_tmp, CAR(cl)), NIL),
                     cons(S_if, list3(sym_tmp, list2(CAR(CDR(CDR(cl))), sym_tmp), expand_cond(rest, sc))));
    }
    return cons(S_if, list3(CAR(cl), cons(S_begin, CDR(cl)), expand_cond(rest, sc)));
}

static V expand_case(V x) {
    if (list_len(x) < 2) syntax_error("case", x);
    V clauses = NIL, tail = NIL;
    for (V l = CDR(CDR(x)); l != NIL; l = CDR(l)) {
        if (!IS_PAIR(l) || !IS_PAIR(CAR(l))) syntax_error("case", x);
        V cl = CAR(l), test;
        if (CAR(cl) == S_else) test = S_else;
        else if (list_len(CAR(cl)) < 0) syntax_error("case", cl);
        else test = list3(P_memv, sym_key, list2(S_quote, CAR(cl)));
        V body = CDR(cl);
        if (IS_PAIR(body) && CAR(body) == S_arrow) {
            if (list_len(body) != 2) syntax_error("case", cl);
            body = cons(list2(CAR(CDR(body)), sym_key), NIL);
        }
        V p = cons(cons(test, body), NIL);
        if (clauses == NIL) clauses = p;
        else CDR(tail) = p;   /* fresh pair, cdr NIL */
        tail = p;
    }
    return list3(S_let, cons(list2(sym_key, CAR(CDR(x))), NIL), cons(S_cond, clauses));
}

/* (do ((var init step)...) (test res...) body...) */
static V expand_do(V x) {
    if (list_len(x) < 3 || list_len(CAR(CDR(x))) < 0 || !IS_PAIR(CAR(CDR(CDR(x))))) syntax_error("do", x);
    V specs = CAR(CDR(x)), end = CAR(CDR(CDR(x))), body = CDR(CDR(CDR(x)));
    V binds = NIL, steps = NIL;
    for (V l = specs; l != NIL; l = CDR(l)) {
        V s = CAR(l);
        intptr_t n = list_len(s);
        if (n < 2 || n > 3 || !IS_SYM(CAR(s))) syntax_error("do", s);
        binds = cons(list2(CAR(s), CAR(CDR(s))), binds);
        steps = cons(n == 3 ? CAR(CDR(CDR(s))) : CAR(s), steps);
    }
    /* both lists were built reversed; reverse them back */
    V b2 = NIL, s2 = NIL;
    for (; binds != NIL; binds = CDR(binds)) b2 = cons(CAR(binds), b2);
    for (; steps != NIL; steps = CDR(steps)) s2 = cons(CAR(steps), s2);
    V result = CDR(end) == NIL ? list2(S_quote, UNSPEC) : cons(S_begin, CDR(end));
    V loop_call = cons(sym_loop, s2);
    V again = cons(S_begin, NIL);
    /* (begin body... (loop steps...)) */
    V tail = again;
    for (V l = body; l != NIL; l = CDR(l)) {
        V p = cons(CAR(l), NIL);
        CDR(tail) = p;   /* fresh pair, cdr NIL */
        tail = p;
    }
    CDR(tail) = cons(loop_call, NIL);
    return cons(S_let, cons(sym_loop, cons(b2, cons(cons(S_if, list3(CAR(end), result, again)), NIL))));
}

static V qq(V x, int depth) {
    if (IS_PAIR(x)) {
        if (CAR(x) == S_unquote && IS_PAIR(CDR(x)) && CDR(CDR(x)) == NIL) {
            if (depth == 1) return CAR(CDR(x));
            return list3(P_list, list2(S_quote, S_unquote), qq(CAR(CDR(x)), depth - 1));
        }
        if (CAR(x) == S_quasiquote && IS_PAIR(CDR(x)) && CDR(CDR(x)) == NIL)
            return list3(P_list, list2(S_quote, S_quasiquote), qq(CAR(CDR(x)), depth + 1));
        V a = CAR(x);
        if (IS_PAIR(a) && CAR(a) == S_unquote_splicing && IS_PAIR(CDR(a)) && CDR(CDR(a)) == NIL) {
            V rest = qq(CDR(x), depth);
            if (depth == 1) return list3(P_append, CAR(CDR(a)), rest);
            return list3(P_cons, list3(P_list, list2(S_quote, S_unquote_splicing), qq(CAR(CDR(a)), depth - 1)), rest);
        }
        return list3(P_cons, qq(a, depth), qq(CDR(x), depth));
    }
    if (IS_T(x, T_VEC)) {
        V l = NIL;
        for (size_t i = LEN(x); i > 0; i--) l = cons(VEC_ELTS(x)[i - 1], l);
        return list2(P_list_to_vector, qq(l, depth));
    }
    if (IS_SYM(x) || x == NIL) return list2(S_quote, x);
    return x;
}

static const char *const unsupported[] = {
    "define-syntax", "let-syntax", "letrec-syntax", "syntax-rules", "define-record-type", "delay",
    "delay-force", "make-promise", "parameterize", "guard", "case-lambda", "let-values", "let*-values",
    "define-values", "include", "include-ci", "cond-expand", "import", "define-library", "syntax-error",
};

/* ---- the compiler ---- */

static V compile_call(V x, Scope *sc) {
    intptr_t n = list_len(x);
    if (n < 0) syntax_error("application", x);
    V nd = node(N_CALL, (size_t)n);
    intptr_t i = 1;
    for (V l = x; l != NIL; l = CDR(l), i++) {
        V c = compile(CAR(l), sc);
        NF(nd, i) = c;
    }
    return nd;
}

static V compile(V x, Scope *sc) {
    if (IS_SYM(x)) return compile_ref(x, sc);
    if (!IS_PAIR(x)) {
        if (x == NIL) scm_error("eval: empty combination ()");
        return const_node(x);
    }
    V head = CAR(x);
    intptr_t d, i;
    if (!IS_SYM(head) || lookup(sc, head, &d, &i)) return compile_call(x, sc);
    intptr_t n = list_len(x);
    if (head == S_quote) {
        if (n != 2) syntax_error("quote", x);
        return const_node(CAR(CDR(x)));
    }
    if (head == S_if) {
        if (n != 3 && n != 4) syntax_error("if", x);
        V nd = node(N_IF, 3);
        V c = compile(CAR(CDR(x)), sc);
        NF(nd, 1) = c;
        c = compile(CAR(CDR(CDR(x))), sc);
        NF(nd, 2) = c;
        c = n == 4 ? compile(CAR(CDR(CDR(CDR(x)))), sc) : const_node(UNSPEC);
        NF(nd, 3) = c;
        return nd;
    }
    if (head == S_define) {
        V name, value;
        define_parts(x, &name, &value);
        V val;
        if (!value) val = const_node(UNSPEC);
        else if (is_form(value, S_lambda, sc) && list_len(value) >= 3)
            val = compile_lambda(CAR(CDR(value)), CDR(CDR(value)), sc, name);
        else val = compile(value, sc);
        if (!sc) {
            V nd = node(N_GDEF, 2);
            NF(nd, 1) = global_cell(name);
            NF(nd, 2) = val;
            return nd;
        }
        if (!lookup(sc, name, &d, &i) || d != 0)
            scm_error_obj("define: not allowed in an expression context", x);
        V nd = node(N_LSET, 3);
        NF(nd, 1) = 0;
        NF(nd, 2) = (V)i;
        NF(nd, 3) = val;
        return nd;
    }
    if (head == S_set) {
        if (n != 3 || !IS_SYM(CAR(CDR(x)))) syntax_error("set!", x);
        V val = compile(CAR(CDR(CDR(x))), sc);
        V name = CAR(CDR(x));
        if (lookup(sc, name, &d, &i)) {
            V nd = node(N_LSET, 3);
            NF(nd, 1) = (V)d;
            NF(nd, 2) = (V)i;
            NF(nd, 3) = val;
            return nd;
        }
        V nd = node(N_GSET, 2);
        NF(nd, 1) = global_cell(name);
        NF(nd, 2) = val;
        return nd;
    }
    if (head == S_lambda) {
        if (n < 3) syntax_error("lambda", x);
        return compile_lambda(CAR(CDR(x)), CDR(CDR(x)), sc, 0);
    }
    if (head == S_begin) {
        if (n < 0) syntax_error("begin", x);
        return compile_seq(CDR(x), sc);
    }
    if (head == S_let) {
        if (n >= 3 && IS_SYM(CAR(CDR(x)))) {
            /* named let: ((letrec ((name (lambda (vars) body...))) name) inits...) */
            if (n < 4) syntax_error("let", x);
            V name = CAR(CDR(x)), bindings = CAR(CDR(CDR(x))), vars = NIL, inits = NIL;
            if (list_len(bindings) < 0) syntax_error("let", x);
            for (V b = bindings; b != NIL; b = CDR(b)) {
                V bd = CAR(b);
                if (list_len(bd) != 2 || !IS_SYM(CAR(bd))) syntax_error("let", bd);
                vars = cons(CAR(bd), vars);
                inits = cons(CAR(CDR(bd)), inits);
            }
            V v2 = NIL, i2 = NIL;
            for (; vars != NIL; vars = CDR(vars)) v2 = cons(CAR(vars), v2);
            for (; inits != NIL; inits = CDR(inits)) i2 = cons(CAR(inits), i2);
            V lam = cons(S_lambda, cons(v2, CDR(CDR(CDR(x)))));
            V rec = list3(S_letrec, cons(list2(name, lam), NIL), name);
            return compile(cons(rec, i2), sc);
        }
        return compile_let(x, sc, 0, "let");
    }
    if (head == S_letrec || head == S_letrecstar) return compile_let(x, sc, 1, SYMNAME(head));
    if (head == S_letstar) {
        if (n < 3 || list_len(CAR(CDR(x))) < 0) syntax_error("let*", x);
        V bindings = CAR(CDR(x));
        if (bindings == NIL || CDR(bindings) == NIL) return compile_let(cons(S_let, CDR(x)), sc, 0, "let*");
        V inner = cons(S_letstar, cons(CDR(bindings), CDR(CDR(x))));
        return compile(list3(S_let, cons(CAR(bindings), NIL), inner), sc);
    }
    if (head == S_and || head == S_or) {
        if (n < 0) syntax_error(SYMNAME(head), x);
        if (n == 1) return const_node(head == S_and ? TRUE_V : FALSE_V);
        if (n == 2) return compile(CAR(CDR(x)), sc);
        V nd = node(head == S_and ? N_AND : N_OR, (size_t)n - 1);
        intptr_t k = 1;
        for (V l = CDR(x); l != NIL; l = CDR(l), k++) {
            V c = compile(CAR(l), sc);
            NF(nd, k) = c;
        }
        return nd;
    }
    if (head == S_cond) {
        if (n < 0) syntax_error("cond", x);
        V e = expand_cond(CDR(x), sc);
        return e == UNSPEC ? const_node(UNSPEC) : compile(e, sc);
    }
    if (head == S_case) return compile(expand_case(x), sc);
    if (head == S_when || head == S_unless) {
        if (n < 3) syntax_error(SYMNAME(head), x);
        V body = cons(S_begin, CDR(CDR(x)));
        V e = head == S_when ? list3(S_if, CAR(CDR(x)), body)
                             : cons(S_if, list3(CAR(CDR(x)), list2(S_quote, UNSPEC), body));
        return compile(e, sc);
    }
    if (head == S_do) return compile(expand_do(x), sc);
    if (head == S_quasiquote) {
        if (n != 2) syntax_error("quasiquote", x);
        return compile(qq(CAR(CDR(x)), 1), sc);
    }
    if (head == S_unquote || head == S_unquote_splicing)
        scm_error("%s: not inside quasiquote", SYMNAME(head));
    if (head == S_else || head == S_arrow) scm_error("%s: not allowed here", SYMNAME(head));
    if (!CELLP(global_cell(head))->value)
        for (size_t k = 0; k < sizeof unsupported / sizeof *unsupported; k++)
            if (!strcmp(SYMNAME(head), unsupported[k])) scm_error("unsupported form: %s", unsupported[k]);
    return compile_call(x, sc);
}

V compile_toplevel(V expr) {
    if (!sym_tmp) {
        sym_tmp = intern(" cond-value", 11);
        sym_key = intern(" case-key", 9);
        sym_loop = intern(" do-loop", 8);
    }
    return compile(expr, NULL);
}
