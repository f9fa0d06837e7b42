/*
 * prims.c: the built-in procedures.
 *
 * Invariants:
 * - numbers are fixnums (63-bit) or flonums; an exact result that leaves the fixnum range
 *   becomes a flonum (there are no bignums or rationals: (/ 1 3) is 0.3333333333333333).
 * - procedures that build lists append to a fresh tail pair whose cdr holds NIL (an
 *   immediate): a plain store. Mutators of existing objects (set-car!, set-cdr!,
 *   vector-set!, vector-fill!) use STORE.
 * - every argument is type-checked; a bad one is an error naming the procedure.
 */
#include "scheme.h"

#include <math.h>
#include <stdlib.h>

V P_cons, P_append, P_list, P_memv, P_list_to_vector;

V def_prim(const char *name, PrimFn fn, int min, int max, int aux) {
    Prim *p = alloc_raw(sizeof(Prim));
    CHECK_ALLOC(p);
    p->hdr = HDR(T_PRIM, 0);
    p->fn = fn;
    p->name = name;
    p->min = min;
    p->max = max;
    p->aux = aux;
    V c = global_cell(intern(name, strlen(name)));
    STORE(CELLP(c)->value, (V)p);
    return (V)p;
}

const char *type_name(V v) {
    if (IS_FIX(v)) return "integer";
    if (IS_SYM(v)) return "symbol";
    if (IS_PAIR(v)) return "pair";
    if (IS_CHAR(v)) return "character";
    if (v == NIL) return "empty list";
    if (v == TRUE_V || v == FALSE_V) return "boolean";
    if (TAG(v) == 6) return "special value";
    switch (TYPE(v)) {
    case T_FLO: return "real";
    case T_STR: return "string";
    case T_VEC: return "vector";
    case T_CLO: case T_PRIM: case T_CONT: return "procedure";
    }
    return "object";
}

static void type_error(const char *who, const char *want, V got) __attribute__((noreturn, cold));
static void type_error(const char *who, const char *want, V got) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: expected %s, got", who, want);
    scm_error_obj(msg, got);
}
#define NEED(cond, who, want, v) do { if (__builtin_expect(!(cond), 0)) type_error(who, want, v); } while (0)

V list_length_check(V l, const char *who, intptr_t *n) {
    intptr_t k = 0;
    V slow = l;
    for (V x = l; x != NIL; k++) {
        NEED(IS_PAIR(x), who, "a proper list", l);
        x = CDR(x);
        if (k & 1) {
            slow = CDR(slow);
            if (x == slow && x != NIL) type_error(who, "a proper list (not circular)", FALSE_V);
        }
    }
    *n = k;
    return l;
}

/* ---- numbers ---- */

static double num_d(V v, const char *who) {
    if (IS_FIX(v)) return (double)FIXVAL(v);
    NEED(IS_FLO(v), who, "a number", v);
    return FLOVAL(v);
}

static V arith(int op, V a, V b, const char *who) {
    if (IS_FIX(a) && IS_FIX(b)) {
        intptr_t x = FIXVAL(a), y = FIXVAL(b), r;
        switch (op) {
        case '+': return make_num(x + y);
        case '-': return make_num(x - y);
        case '*':
            if (__builtin_mul_overflow(x, y, &r)) return make_flo((double)x * (double)y);
            return make_num(r);
        }
    }
    double x = num_d(a, who), y = num_d(b, who);
    switch (op) {
    case '+': return make_flo(x + y);
    case '-': return make_flo(x - y);
    default: return make_flo(x * y);
    }
}

static V p_add(int argc, V *argv, Prim *self) {
    if (argc == 2 && IS_FIX(argv[0] & argv[1])) return make_num(FIXVAL(argv[0]) + FIXVAL(argv[1]));
    V acc = FIX(0);
    for (int i = 0; i < argc; i++) acc = arith('+', acc, argv[i], "+");
    if (argc == 1) num_d(argv[0], "+");
    return acc;
}
static V p_mul(int argc, V *argv, Prim *self) {
    V acc = FIX(1);
    for (int i = 0; i < argc; i++) acc = arith('*', acc, argv[i], "*");
    if (argc == 1) num_d(argv[0], "*");
    return acc;
}
static V p_sub(int argc, V *argv, Prim *self) {
    if (argc == 2 && IS_FIX(argv[0] & argv[1])) return make_num(FIXVAL(argv[0]) - FIXVAL(argv[1]));
    if (argc == 1) return arith('-', FIX(0), argv[0], "-");
    V acc = argv[0];
    for (int i = 1; i < argc; i++) acc = arith('-', acc, argv[i], "-");
    return acc;
}
static V divide(V a, V b) {
    if (IS_FIX(a) && IS_FIX(b)) {
        intptr_t x = FIXVAL(a), y = FIXVAL(b);
        if (y == 0) scm_error("/: division by zero");
        if (x % y == 0) return make_num(x / y);
        return make_flo((double)x / (double)y);
    }
    return make_flo(num_d(a, "/") / num_d(b, "/"));
}
static V p_div(int argc, V *argv, Prim *self) {
    if (argc == 1) return divide(FIX(1), argv[0]);
    V acc = argv[0];
    for (int i = 1; i < argc; i++) acc = divide(acc, argv[i]);
    return acc;
}

static int is_integer(V v) { return IS_FIX(v) || (IS_FLO(v) && FLOVAL(v) == floor(FLOVAL(v)) && isfinite(FLOVAL(v))); }

/* quotient (aux 0), remainder (1), modulo (2) */
static V p_intdiv(int argc, V *argv, Prim *self) {
    V a = argv[0], b = argv[1];
    NEED(is_integer(a), self->name, "an integer", a);
    NEED(is_integer(b), self->name, "an integer", b);
    if (IS_FIX(a) && IS_FIX(b)) {
        intptr_t x = FIXVAL(a), y = FIXVAL(b);
        if (y == 0) scm_error("%s: division by zero", self->name);
        if (y == -1) return self->aux == 0 ? make_num(-x) : FIX(0);
        intptr_t r = x % y;
        if (self->aux == 0) return FIX(x / y);
        if (self->aux == 2 && r != 0 && ((r < 0) != (y < 0))) r += y;
        return FIX(r);
    }
    double x = num_d(a, self->name), y = num_d(b, self->name);
    if (y == 0) scm_error("%s: division by zero", self->name);
    if (self->aux == 0) return make_flo(trunc(x / y));
    double r = fmod(x, y);
    if (self->aux == 2 && r != 0 && ((r < 0) != (y < 0))) r += y;
    return make_flo(r);
}

static int num_cmp(V a, V b, const char *who) {
    if (IS_FIX(a) && IS_FIX(b)) return (FIXVAL(a) > FIXVAL(b)) - (FIXVAL(a) < FIXVAL(b));
    double x = num_d(a, who), y = num_d(b, who);
    if (x != x || y != y) return 2;   /* NaN: every comparison false */
    return (x > y) - (x < y);
}
/* = < > <= >= : aux selects */
static V p_compare(int argc, V *argv, Prim *self) {
    if (argc == 2 && IS_FIX(argv[0] & argv[1])) {   /* the common case, without the loop */
        intptr_t a = (intptr_t)argv[0], b = (intptr_t)argv[1];   /* same order as the values */
        switch (self->aux) {
        case 0: return BOOL(a == b);
        case 1: return BOOL(a < b);
        case 2: return BOOL(a > b);
        case 3: return BOOL(a <= b);
        default: return BOOL(a >= b);
        }
    }
    int ok = 1;
    for (int i = 0; i + 1 < argc; i++) {
        int c = num_cmp(argv[i], argv[i + 1], self->name);
        int r;
        switch (self->aux) {
        case 0: r = c == 0; break;
        case 1: r = c == -1; break;
        case 2: r = c == 1; break;
        case 3: r = c == -1 || c == 0; break;
        default: r = c == 1 || c == 0; break;
        }
        if (!r) ok = 0;
    }
    if (argc == 1) num_d(argv[0], self->name);
    return BOOL(ok);
}

static V p_minmax(int argc, V *argv, Prim *self) {
    V best = argv[0];
    int inexact = !IS_FIX(best);
    num_d(best, self->name);
    for (int i = 1; i < argc; i++) {
        int c = num_cmp(argv[i], best, self->name);
        if (!IS_FIX(argv[i])) inexact = 1;
        if ((self->aux == 0 && c == -1) || (self->aux == 1 && c == 1) || c == 2) best = argv[i];
    }
    if (inexact && IS_FIX(best)) return make_flo((double)FIXVAL(best));
    return best;
}

static V p_abs(int argc, V *argv, Prim *self) {
    V v = argv[0];
    if (IS_FIX(v)) return make_num(FIXVAL(v) < 0 ? -FIXVAL(v) : FIXVAL(v));
    return make_flo(fabs(num_d(v, "abs")));
}

static V p_expt(int argc, V *argv, Prim *self) {
    V a = argv[0], b = argv[1];
    if (IS_FIX(a) && IS_FIX(b) && FIXVAL(b) >= 0) {
        intptr_t base = FIXVAL(a), e = FIXVAL(b), r = 1;
        int overflow = 0;
        while (e > 0 && !overflow) {
            if (e & 1) overflow |= __builtin_mul_overflow(r, base, &r);
            e >>= 1;
            if (e) overflow |= __builtin_mul_overflow(base, base, &base);
        }
        if (!overflow) return make_num(r);
        return make_flo(pow((double)FIXVAL(a), (double)FIXVAL(b)));
    }
    return make_flo(pow(num_d(a, "expt"), num_d(b, "expt")));
}

static V p_inexact(int argc, V *argv, Prim *self) { return IS_FLO(argv[0]) ? argv[0] : make_flo(num_d(argv[0], self->name)); }
static V p_exact(int argc, V *argv, Prim *self) {
    V v = argv[0];
    if (IS_FIX(v)) return v;
    double d = num_d(v, self->name);
    if (d != floor(d) || !isfinite(d) || d > (double)FIX_MAX || d < (double)FIX_MIN)
        scm_error_obj("exact: no exact integer equals", v);
    return FIX((intptr_t)d);
}
/* floor ceiling round truncate */
static V p_round(int argc, V *argv, Prim *self) {
    V v = argv[0];
    if (IS_FIX(v)) return v;
    double d = num_d(v, self->name);
    switch (self->aux) {
    case 0: return make_flo(floor(d));
    case 1: return make_flo(ceil(d));
    case 2: return make_flo(nearbyint(d));   /* ties to even (default rounding mode) */
    default: return make_flo(trunc(d));
    }
}
static V p_sqrt(int argc, V *argv, Prim *self) {
    V v = argv[0];
    if (IS_FIX(v) && FIXVAL(v) >= 0) {
        intptr_t r = (intptr_t)sqrt((double)FIXVAL(v));
        while (r * r > FIXVAL(v)) r--;
        while ((r + 1) * (r + 1) <= FIXVAL(v)) r++;
        if (r * r == FIXVAL(v)) return FIX(r);
    }
    return make_flo(sqrt(num_d(v, "sqrt")));
}
static V p_numpred(int argc, V *argv, Prim *self) {
    V v = argv[0];
    switch (self->aux) {
    case 0: return BOOL(IS_NUM(v));                        /* number? real? */
    case 1: return BOOL(IS_NUM(v) && is_integer(v));       /* integer? */
    case 2: NEED(IS_NUM(v), "exact?", "a number", v); return BOOL(IS_FIX(v));
    case 3: NEED(IS_NUM(v), "inexact?", "a number", v); return BOOL(IS_FLO(v));
    case 4: return BOOL(num_d(v, "zero?") == 0);
    case 5: return BOOL(num_d(v, "positive?") > 0);
    case 6: return BOOL(num_d(v, "negative?") < 0);
    case 7: case 8: {
        NEED(is_integer(v), self->name, "an integer", v);
        int odd = IS_FIX(v) ? (FIXVAL(v) & 1) : fmod(FLOVAL(v), 2) != 0;
        return BOOL(self->aux == 7 ? odd : !odd);
    }
    case 9: return BOOL(IS_FIX(v));                         /* exact-integer? */
    default: return BOOL(IS_FLO(v) && isnan(FLOVAL(v)));   /* nan? */
    }
}

static V p_number_to_string(int argc, V *argv, Prim *self) {
    V v = argv[0];
    NEED(IS_NUM(v), "number->string", "a number", v);
    intptr_t radix = argc > 1 ? (IS_FIX(argv[1]) ? FIXVAL(argv[1]) : 0) : 10;
    if (radix != 2 && radix != 8 && radix != 10 && radix != 16) type_error("number->string", "radix 2, 8, 10 or 16", argv[1]);
    if (radix != 10 && IS_FIX(v)) {
        char t[80];
        intptr_t x = FIXVAL(v);
        uintptr_t u = x < 0 ? -(uintptr_t)x : (uintptr_t)x;
        int i = sizeof t;
        t[--i] = 0;
        do { t[--i] = "0123456789abcdef"[u % (uintptr_t)radix]; u /= (uintptr_t)radix; } while (u);
        if (x < 0) t[--i] = '-';
        return make_string(t + i, strlen(t + i));
    }
    Buf b = {0};
    print_num(&b, v);
    V s = make_string(b.p, b.n);
    free(b.p);
    return s;
}
static V p_string_to_number(int argc, V *argv, Prim *self) {
    NEED(IS_T(argv[0], T_STR), "string->number", "a string", argv[0]);
    Str *s = STRP(argv[0]);
    if (argc > 1) {
        NEED(IS_FIX(argv[1]), "string->number", "a radix", argv[1]);
        intptr_t radix = FIXVAL(argv[1]);
        if (radix != 10) {
            char t[260];
            if (s->len > 250) return FALSE_V;
            snprintf(t, sizeof t, "#%c%s", radix == 16 ? 'x' : radix == 8 ? 'o' : radix == 2 ? 'b' : '?', s->s);
            return parse_number(t, strlen(t));
        }
    }
    return parse_number(s->s, s->len);
}

/* ---- equivalence ---- */

int eqv_p(V a, V b) {
    if (a == b) return 1;
    if (IS_FLO(a) && IS_FLO(b)) return FLOVAL(a) == FLOVAL(b) && signbit(FLOVAL(a)) == signbit(FLOVAL(b));
    return 0;
}
int equal_p(V a, V b) {
    for (;;) {
        if (eqv_p(a, b)) return 1;
        if (IS_PAIR(a) && IS_PAIR(b)) {
            if (!equal_p(CAR(a), CAR(b))) return 0;
            a = CDR(a);
            b = CDR(b);
            continue;
        }
        if (IS_T(a, T_STR) && IS_T(b, T_STR))
            return STRP(a)->len == STRP(b)->len && memcmp(STRP(a)->s, STRP(b)->s, STRP(a)->len) == 0;
        if (IS_T(a, T_VEC) && IS_T(b, T_VEC)) {
            if (LEN(a) != LEN(b)) return 0;
            for (size_t i = 0; i < LEN(a); i++)
                if (!equal_p(VEC_ELTS(a)[i], VEC_ELTS(b)[i])) return 0;
            return 1;
        }
        return 0;
    }
}
static V p_eq(int argc, V *argv, Prim *self) {
    switch (self->aux) {
    case 0: return BOOL(argv[0] == argv[1]);
    case 1: return BOOL(eqv_p(argv[0], argv[1]));
    default: return BOOL(equal_p(argv[0], argv[1]));
    }
}
static V p_not(int argc, V *argv, Prim *self) { return BOOL(argv[0] == FALSE_V); }

/* ---- type predicates ---- */
static V p_typep(int argc, V *argv, Prim *self) {
    V v = argv[0];
    switch (self->aux) {
    case 0: return BOOL(v == TRUE_V || v == FALSE_V);
    case 1: return BOOL(IS_CHAR(v));
    case 2: return BOOL(IS_T(v, T_STR));
    case 3: return BOOL(IS_SYM(v));
    case 4: return BOOL(IS_T(v, T_CLO) || IS_T(v, T_PRIM) || IS_T(v, T_CONT));
    case 5: return BOOL(IS_PAIR(v));
    case 6: return BOOL(v == NIL);
    case 7: return BOOL(IS_T(v, T_VEC));
    case 8: return BOOL(v == EOF_V);
    default: {   /* list? */
        V slow = v;
        for (intptr_t k = 0; v != NIL; v = CDR(v), k++) {
            if (!IS_PAIR(v)) return FALSE_V;
            if (k & 1) {
                slow = CDR(slow);
                if (slow == CDR(v)) return FALSE_V;
            }
        }
        return TRUE_V;
    }
    }
}

/* ---- pairs and lists ---- */
static V p_cons(int argc, V *argv, Prim *self) { return cons(argv[0], argv[1]); }

/* car, cdr and c[ad]{2,4}r: aux holds the path, innermost operation in the low bits
 * (2 bits each: 1 = car, 2 = cdr). */
static V p_cxr(int argc, V *argv, Prim *self) {
    V v = argv[0];
    for (int ops = self->aux; ops; ops >>= 2) {
        NEED(IS_PAIR(v), self->name, "a pair", argv[0]);
        v = (ops & 3) == 1 ? CAR(v) : CDR(v);
    }
    return v;
}
static V p_setcxr(int argc, V *argv, Prim *self) {
    NEED(IS_PAIR(argv[0]), self->name, "a pair", argv[0]);
    if (self->aux == 0) STORE(CAR(argv[0]), argv[1]);
    else STORE(CDR(argv[0]), argv[1]);
    return UNSPEC;
}
static V p_list(int argc, V *argv, Prim *self) {
    V l = NIL;
    for (int i = argc - 1; i >= 0; i--) l = cons(argv[i], l);
    return l;
}
static V p_length(int argc, V *argv, Prim *self) {
    intptr_t n;
    list_length_check(argv[0], "length", &n);
    return FIX(n);
}
/* A fresh copy of list l whose last cdr is `last`; returns the head. Every plain store
 * overwrites NIL (the fresh tail's cdr), never a heap pointer. */
static V copy_list(V l, V last, const char *who) {
    V head = NIL, tail = 0;
    intptr_t n;
    list_length_check(l, who, &n);
    if (n == 0) return last;
    for (; l != NIL; l = CDR(l)) {
        V p = cons(CAR(l), NIL);
        if (tail) CDR(tail) = p;   /* fresh pair, cdr NIL */
        else head = p;
        tail = p;
    }
    CDR(tail) = last;   /* as above */
    return head;
}
static V p_append(int argc, V *argv, Prim *self) {
    if (argc == 0) return NIL;
    V acc = argv[argc - 1];
    for (int i = argc - 2; i >= 0; i--) acc = copy_list(argv[i], acc, "append");
    return acc;
}
static V p_reverse(int argc, V *argv, Prim *self) {
    intptr_t n;
    list_length_check(argv[0], "reverse", &n);
    V r = NIL;
    for (V l = argv[0]; l != NIL; l = CDR(l)) r = cons(CAR(l), r);
    return r;
}
static V p_list_copy(int argc, V *argv, Prim *self) {
    return IS_PAIR(argv[0]) ? copy_list(argv[0], NIL, "list-copy") : argv[0];
}
static V list_tail(V l, V k, const char *who) {
    NEED(IS_FIX(k) && FIXVAL(k) >= 0, who, "a non-negative index", k);
    for (intptr_t i = FIXVAL(k); i > 0; i--) {
        if (!IS_PAIR(l)) scm_error("%s: index %ld out of range", who, (long)FIXVAL(k));
        l = CDR(l);
    }
    return l;
}
static V p_list_tail(int argc, V *argv, Prim *self) { return list_tail(argv[0], argv[1], "list-tail"); }
static V p_list_ref(int argc, V *argv, Prim *self) {
    V l = list_tail(argv[0], argv[1], "list-ref");
    if (!IS_PAIR(l)) scm_error("list-ref: index %ld out of range", (long)FIXVAL(argv[1]));
    return CAR(l);
}
/* memq memv member (aux 0, 1, 2); member takes an optional predicate. */
static V p_mem(int argc, V *argv, Prim *self) {
    V x = argv[0];
    for (V l = argv[1]; l != NIL; l = CDR(l)) {
        NEED(IS_PAIR(l), self->name, "a list", argv[1]);
        V y = CAR(l);
        int hit;
        if (argc > 2) {
            V a[2] = {x, y};
            hit = apply_proc(argv[2], 2, a) != FALSE_V;
        } else {
            hit = self->aux == 0 ? x == y : self->aux == 1 ? eqv_p(x, y) : equal_p(x, y);
        }
        if (hit) return l;
    }
    return FALSE_V;
}
static V p_ass(int argc, V *argv, Prim *self) {
    V x = argv[0];
    for (V l = argv[1]; l != NIL; l = CDR(l)) {
        NEED(IS_PAIR(l) && IS_PAIR(CAR(l)), self->name, "an association list", argv[1]);
        V y = CAR(CAR(l));
        int hit;
        if (argc > 2) {
            V a[2] = {x, y};
            hit = apply_proc(argv[2], 2, a) != FALSE_V;
        } else {
            hit = self->aux == 0 ? x == y : self->aux == 1 ? eqv_p(x, y) : equal_p(x, y);
        }
        if (hit) return CAR(l);
    }
    return FALSE_V;
}
/* map (aux 0) and for-each (aux 1) over one or more lists, to the shortest. */
static V p_map(int argc, V *argv, Prim *self) {
    int nl = argc - 1;
    V f = argv[0];
    V small[8];
    V *lists = nl <= 4 ? small : alloc_words((size_t)nl * 2);
    V *args = lists + nl;
    CHECK_ALLOC(lists);
    for (int i = 0; i < nl; i++) lists[i] = argv[1 + i];
    V head = NIL, tail = 0;
    for (;;) {
        for (int i = 0; i < nl; i++) {
            if (!IS_PAIR(lists[i])) {
                NEED(lists[i] == NIL, self->name, "a list", argv[1 + i]);
                return self->aux ? UNSPEC : head;
            }
            args[i] = CAR(lists[i]);
            lists[i] = CDR(lists[i]);
        }
        V v = apply_proc(f, nl, args);
        if (self->aux) continue;
        V p = cons(v, NIL);
        if (tail) CDR(tail) = p;   /* fresh pair, cdr NIL */
        else head = p;
        tail = p;
    }
}

/* ---- vectors ---- */
static V p_make_vector(int argc, V *argv, Prim *self) {
    NEED(IS_FIX(argv[0]) && FIXVAL(argv[0]) >= 0, "make-vector", "a non-negative length", argv[0]);
    return make_vector((size_t)FIXVAL(argv[0]), argc > 1 ? argv[1] : FALSE_V);
}
static V p_vector(int argc, V *argv, Prim *self) {
    uintptr_t *w = make_words(T_VEC, (size_t)argc);
    for (int i = 0; i < argc; i++) w[1 + i] = argv[i];   /* fresh: held 0 */
    return (V)w;
}
static size_t vec_index(V v, V k, const char *who) {
    NEED(IS_T(v, T_VEC), who, "a vector", v);
    NEED(IS_FIX(k), who, "an index", k);
    if (FIXVAL(k) < 0 || (size_t)FIXVAL(k) >= LEN(v)) scm_error("%s: index %ld out of range", who, (long)FIXVAL(k));
    return (size_t)FIXVAL(k);
}
static V p_vector_ref(int argc, V *argv, Prim *self) { return VEC_ELTS(argv[0])[vec_index(argv[0], argv[1], "vector-ref")]; }
static V p_vector_set(int argc, V *argv, Prim *self) {
    size_t i = vec_index(argv[0], argv[1], "vector-set!");
    STORE(VEC_ELTS(argv[0])[i], argv[2]);
    return UNSPEC;
}
static V p_vector_length(int argc, V *argv, Prim *self) {
    NEED(IS_T(argv[0], T_VEC), "vector-length", "a vector", argv[0]);
    return FIX(LEN(argv[0]));
}
static V p_vector_fill(int argc, V *argv, Prim *self) {
    NEED(IS_T(argv[0], T_VEC), "vector-fill!", "a vector", argv[0]);
    for (size_t i = 0; i < LEN(argv[0]); i++) STORE(VEC_ELTS(argv[0])[i], argv[1]);
    return UNSPEC;
}
static V p_vector_to_list(int argc, V *argv, Prim *self) {
    NEED(IS_T(argv[0], T_VEC), "vector->list", "a vector", argv[0]);
    V l = NIL;
    for (size_t i = LEN(argv[0]); i > 0; i--) l = cons(VEC_ELTS(argv[0])[i - 1], l);
    return l;
}
static V p_list_to_vector(int argc, V *argv, Prim *self) {
    intptr_t n;
    list_length_check(argv[0], "list->vector", &n);
    V v = make_vector((size_t)n, FALSE_V);
    size_t i = 0;
    for (V l = argv[0]; l != NIL; l = CDR(l)) VEC_ELTS(v)[i++] = CAR(l);   /* fresh: held #f */
    return v;
}

/* ---- characters and strings ---- */
static Str *need_str(V v, const char *who) {
    NEED(IS_T(v, T_STR), who, "a string", v);
    return STRP(v);
}
static V p_string_length(int argc, V *argv, Prim *self) { return FIX(need_str(argv[0], "string-length")->len); }
static V p_string_ref(int argc, V *argv, Prim *self) {
    Str *s = need_str(argv[0], "string-ref");
    NEED(IS_FIX(argv[1]), "string-ref", "an index", argv[1]);
    intptr_t k = FIXVAL(argv[1]);
    if (k < 0 || (size_t)k >= s->len) scm_error("string-ref: index %ld out of range", (long)k);
    return CHAR((unsigned char)s->s[k]);
}
static V p_substring(int argc, V *argv, Prim *self) {
    Str *s = need_str(argv[0], "substring");
    intptr_t a = 0, b = (intptr_t)s->len;
    if (argc > 1) { NEED(IS_FIX(argv[1]), "substring", "an index", argv[1]); a = FIXVAL(argv[1]); }
    if (argc > 2) { NEED(IS_FIX(argv[2]), "substring", "an index", argv[2]); b = FIXVAL(argv[2]); }
    if (a < 0 || b < a || (size_t)b > s->len) scm_error("substring: range %ld..%ld out of range", (long)a, (long)b);
    return make_string(s->s + a, (size_t)(b - a));
}
static V p_string_append(int argc, V *argv, Prim *self) {
    size_t n = 0;
    for (int i = 0; i < argc; i++) n += need_str(argv[i], "string-append")->len;
    V r = make_string(NULL, n);
    size_t k = 0;
    for (int i = 0; i < argc; i++) {
        memcpy(STRP(r)->s + k, STRP(argv[i])->s, STRP(argv[i])->len);
        k += STRP(argv[i])->len;
    }
    return r;
}
static V p_string_to_symbol(int argc, V *argv, Prim *self) {
    Str *s = need_str(argv[0], "string->symbol");
    if (memchr(s->s, 0, s->len)) type_error("string->symbol", "a string without NUL characters", argv[0]);
    return intern(s->s, s->len);
}
static V p_symbol_to_string(int argc, V *argv, Prim *self) {
    NEED(IS_SYM(argv[0]), "symbol->string", "a symbol", argv[0]);
    return make_string(SYMNAME(argv[0]), strlen(SYMNAME(argv[0])));
}
static V p_string(int argc, V *argv, Prim *self) {
    V r = make_string(NULL, (size_t)argc);
    for (int i = 0; i < argc; i++) {
        NEED(IS_CHAR(argv[i]), "string", "a character", argv[i]);
        STRP(r)->s[i] = (char)CHARVAL(argv[i]);
    }
    return r;
}
static V p_make_string(int argc, V *argv, Prim *self) {
    NEED(IS_FIX(argv[0]) && FIXVAL(argv[0]) >= 0, "make-string", "a non-negative length", argv[0]);
    int c = ' ';
    if (argc > 1) { NEED(IS_CHAR(argv[1]), "make-string", "a character", argv[1]); c = CHARVAL(argv[1]); }
    V r = make_string(NULL, (size_t)FIXVAL(argv[0]));
    memset(STRP(r)->s, c, STRP(r)->len);
    return r;
}
static V p_string_copy(int argc, V *argv, Prim *self) { return p_substring(argc, argv, self); }
static V p_string_to_list(int argc, V *argv, Prim *self) {
    Str *s = need_str(argv[0], "string->list");
    V l = NIL;
    for (size_t i = s->len; i > 0; i--) l = cons(CHAR((unsigned char)s->s[i - 1]), l);
    return l;
}
static V p_list_to_string(int argc, V *argv, Prim *self) {
    intptr_t n;
    list_length_check(argv[0], "list->string", &n);
    V r = make_string(NULL, (size_t)n);
    size_t i = 0;
    for (V l = argv[0]; l != NIL; l = CDR(l)) {
        NEED(IS_CHAR(CAR(l)), "list->string", "a list of characters", argv[0]);
        STRP(r)->s[i++] = (char)CHARVAL(CAR(l));
    }
    return r;
}
/* string=? string<? string>? string<=? string>=? */
static V p_string_cmp(int argc, V *argv, Prim *self) {
    int ok = 1;
    for (int i = 0; i < argc; i++) need_str(argv[i], self->name);
    for (int i = 0; i + 1 < argc; i++) {
        Str *a = STRP(argv[i]), *b = STRP(argv[i + 1]);
        size_t m = a->len < b->len ? a->len : b->len;
        int c = memcmp(a->s, b->s, m);
        if (!c) c = (a->len > b->len) - (a->len < b->len);
        int r = self->aux == 0 ? c == 0 : self->aux == 1 ? c < 0 : self->aux == 2 ? c > 0 : self->aux == 3 ? c <= 0 : c >= 0;
        if (!r) ok = 0;
    }
    return BOOL(ok);
}
static V p_char_cmp(int argc, V *argv, Prim *self) {
    int ok = 1;
    for (int i = 0; i < argc; i++) NEED(IS_CHAR(argv[i]), self->name, "a character", argv[i]);
    for (int i = 0; i + 1 < argc; i++) {
        int a = CHARVAL(argv[i]), b = CHARVAL(argv[i + 1]);
        int r = self->aux == 0 ? a == b : self->aux == 1 ? a < b : self->aux == 2 ? a > b : self->aux == 3 ? a <= b : a >= b;
        if (!r) ok = 0;
    }
    return BOOL(ok);
}
static V p_char_to_integer(int argc, V *argv, Prim *self) {
    NEED(IS_CHAR(argv[0]), "char->integer", "a character", argv[0]);
    return FIX(CHARVAL(argv[0]));
}
static V p_integer_to_char(int argc, V *argv, Prim *self) {
    NEED(IS_FIX(argv[0]) && FIXVAL(argv[0]) >= 0 && FIXVAL(argv[0]) < 256, "integer->char", "an integer 0..255", argv[0]);
    return CHAR(FIXVAL(argv[0]));
}
/* char-alphabetic? char-numeric? char-whitespace? char-upcase char-downcase */
static V p_char_class(int argc, V *argv, Prim *self) {
    NEED(IS_CHAR(argv[0]), self->name, "a character", argv[0]);
    int c = CHARVAL(argv[0]);
    switch (self->aux) {
    case 0: return BOOL((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
    case 1: return BOOL(c >= '0' && c <= '9');
    case 2: return BOOL(c == ' ' || (c >= 9 && c <= 13));
    case 3: return CHAR(c >= 'a' && c <= 'z' ? c - 32 : c);
    default: return CHAR(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
}

/* ---- output and control ---- */
static void check_port(int argc, V *argv, int at, const char *who) {
    if (argc > at) scm_error("%s: ports are not supported (output goes to stdout)", who);
}
static V p_display(int argc, V *argv, Prim *self) {
    check_port(argc, argv, 1, self->name);
    scm_print(stdout, argv[0], self->aux);
    return UNSPEC;
}
static V p_newline(int argc, V *argv, Prim *self) {
    check_port(argc, argv, 0, "newline");
    putchar('\n');
    return UNSPEC;
}
static V p_write_char(int argc, V *argv, Prim *self) {
    check_port(argc, argv, 1, "write-char");
    NEED(IS_CHAR(argv[0]), "write-char", "a character", argv[0]);
    putchar(CHARVAL(argv[0]));
    return UNSPEC;
}
static V p_error(int argc, V *argv, Prim *self) {
    V irritants = NIL;
    for (int i = argc - 1; i >= 1; i--) irritants = cons(argv[i], irritants);
    scm_raise(argv[0], irritants);
}
static V p_exit(int argc, V *argv, Prim *self) {
    fflush(stdout);
    int code = 0;
    if (argc > 0) code = argv[0] == FALSE_V ? 1 : IS_FIX(argv[0]) ? (int)FIXVAL(argv[0]) : 0;
    exit(code);
}
static V p_gc(int argc, V *argv, Prim *self) {
#ifdef SCHEME_BDWGC
    GC_gcollect();
#else
    gc_collect();
#endif
    return UNSPEC;
}

static void def_cxrs(void) {
    /* every a/d string of length 1..4 */
    static char names[30][8];
    int k = 0;
    for (int len = 1; len <= 4; len++)
        for (int bits = 0; bits < (1 << len); bits++) {
            char *nm = names[k++];
            int ops = 0;
            nm[0] = 'c';
            for (int i = 0; i < len; i++) {
                int isd = (bits >> (len - 1 - i)) & 1;
                nm[1 + i] = isd ? 'd' : 'a';
                /* the letter nearest 'r' applies first: it goes to the lowest bits */
                ops |= (isd ? 2 : 1) << (2 * (len - 1 - i));
            }
            nm[1 + len] = 'r';
            nm[2 + len] = 0;
            def_prim(nm, p_cxr, 1, 1, ops);
        }
}

/* name, procedure, least and most arguments (-1: any), aux (selects the variant), and
 * where to keep the procedure object when compile.c's expansions need it. */
static const struct {
    const char *name;
    PrimFn fn;
    int min, max, aux;
    V *save;
} prim_table[] = {
    {"+", p_add, 0, -1, 0, NULL},
    {"*", p_mul, 0, -1, 0, NULL},
    {"-", p_sub, 1, -1, 0, NULL},
    {"/", p_div, 1, -1, 0, NULL},
    {"quotient", p_intdiv, 2, 2, 0, NULL},
    {"remainder", p_intdiv, 2, 2, 1, NULL},
    {"modulo", p_intdiv, 2, 2, 2, NULL},
    {"min", p_minmax, 1, -1, 0, NULL},
    {"max", p_minmax, 1, -1, 1, NULL},
    {"abs", p_abs, 1, 1, 0, NULL},
    {"expt", p_expt, 2, 2, 0, NULL},
    {"exact->inexact", p_inexact, 1, 1, 0, NULL},
    {"inexact", p_inexact, 1, 1, 0, NULL},
    {"inexact->exact", p_exact, 1, 1, 0, NULL},
    {"exact", p_exact, 1, 1, 0, NULL},
    {"sqrt", p_sqrt, 1, 1, 0, NULL},
    {"real?", p_numpred, 1, 1, 0, NULL},
    {"number->string", p_number_to_string, 1, 2, 0, NULL},
    {"string->number", p_string_to_number, 1, 2, 0, NULL},
    {"eq?", p_eq, 2, 2, 0, NULL},
    {"eqv?", p_eq, 2, 2, 1, NULL},
    {"equal?", p_eq, 2, 2, 2, NULL},
    {"not", p_not, 1, 1, 0, NULL},
    {"cons", p_cons, 2, 2, 0, &P_cons},
    {"set-car!", p_setcxr, 2, 2, 0, NULL},
    {"set-cdr!", p_setcxr, 2, 2, 1, NULL},
    {"list", p_list, 0, -1, 0, &P_list},
    {"length", p_length, 1, 1, 0, NULL},
    {"append", p_append, 0, -1, 0, &P_append},
    {"reverse", p_reverse, 1, 1, 0, NULL},
    {"list-copy", p_list_copy, 1, 1, 0, NULL},
    {"list-tail", p_list_tail, 2, 2, 0, NULL},
    {"list-ref", p_list_ref, 2, 2, 0, NULL},
    {"memq", p_mem, 2, 2, 0, NULL},
    {"memv", p_mem, 2, 2, 1, &P_memv},
    {"member", p_mem, 2, 3, 2, NULL},
    {"assq", p_ass, 2, 2, 0, NULL},
    {"assv", p_ass, 2, 2, 1, NULL},
    {"assoc", p_ass, 2, 3, 2, NULL},
    {"map", p_map, 2, -1, 0, NULL},
    {"for-each", p_map, 2, -1, 1, NULL},
    {"make-vector", p_make_vector, 1, 2, 0, NULL},
    {"vector", p_vector, 0, -1, 0, NULL},
    {"vector-ref", p_vector_ref, 2, 2, 0, NULL},
    {"vector-set!", p_vector_set, 3, 3, 0, NULL},
    {"vector-length", p_vector_length, 1, 1, 0, NULL},
    {"vector-fill!", p_vector_fill, 2, 2, 0, NULL},
    {"vector->list", p_vector_to_list, 1, 1, 0, NULL},
    {"list->vector", p_list_to_vector, 1, 1, 0, &P_list_to_vector},
    {"string-length", p_string_length, 1, 1, 0, NULL},
    {"string-ref", p_string_ref, 2, 2, 0, NULL},
    {"substring", p_substring, 3, 3, 0, NULL},
    {"string-copy", p_string_copy, 1, 3, 0, NULL},
    {"string-append", p_string_append, 0, -1, 0, NULL},
    {"string->symbol", p_string_to_symbol, 1, 1, 0, NULL},
    {"symbol->string", p_symbol_to_string, 1, 1, 0, NULL},
    {"string", p_string, 0, -1, 0, NULL},
    {"make-string", p_make_string, 1, 2, 0, NULL},
    {"string->list", p_string_to_list, 1, 1, 0, NULL},
    {"list->string", p_list_to_string, 1, 1, 0, NULL},
    {"char->integer", p_char_to_integer, 1, 1, 0, NULL},
    {"integer->char", p_integer_to_char, 1, 1, 0, NULL},
    {"display", p_display, 1, 2, 0, NULL},
    {"write", p_display, 1, 2, 1, NULL},
    {"newline", p_newline, 0, 1, 0, NULL},
    {"write-char", p_write_char, 1, 2, 0, NULL},
    {"error", p_error, 1, -1, 0, NULL},
    {"exit", p_exit, 0, 1, 0, NULL},
    {"gc", p_gc, 0, 0, 0, NULL},
    {"=", p_compare, 1, -1, 0, NULL},
    {"<", p_compare, 1, -1, 1, NULL},
    {">", p_compare, 1, -1, 2, NULL},
    {"<=", p_compare, 1, -1, 3, NULL},
    {">=", p_compare, 1, -1, 4, NULL},
    {"floor", p_round, 1, 1, 0, NULL},
    {"ceiling", p_round, 1, 1, 1, NULL},
    {"round", p_round, 1, 1, 2, NULL},
    {"truncate", p_round, 1, 1, 3, NULL},
    {"number?", p_numpred, 1, 1, 0, NULL},
    {"integer?", p_numpred, 1, 1, 1, NULL},
    {"exact?", p_numpred, 1, 1, 2, NULL},
    {"inexact?", p_numpred, 1, 1, 3, NULL},
    {"zero?", p_numpred, 1, 1, 4, NULL},
    {"positive?", p_numpred, 1, 1, 5, NULL},
    {"negative?", p_numpred, 1, 1, 6, NULL},
    {"odd?", p_numpred, 1, 1, 7, NULL},
    {"even?", p_numpred, 1, 1, 8, NULL},
    {"exact-integer?", p_numpred, 1, 1, 9, NULL},
    {"nan?", p_numpred, 1, 1, 10, NULL},
    {"boolean?", p_typep, 1, 1, 0, NULL},
    {"char?", p_typep, 1, 1, 1, NULL},
    {"string?", p_typep, 1, 1, 2, NULL},
    {"symbol?", p_typep, 1, 1, 3, NULL},
    {"procedure?", p_typep, 1, 1, 4, NULL},
    {"pair?", p_typep, 1, 1, 5, NULL},
    {"null?", p_typep, 1, 1, 6, NULL},
    {"vector?", p_typep, 1, 1, 7, NULL},
    {"eof-object?", p_typep, 1, 1, 8, NULL},
    {"list?", p_typep, 1, 1, 9, NULL},
    {"string=?", p_string_cmp, 1, -1, 0, NULL},
    {"string<?", p_string_cmp, 1, -1, 1, NULL},
    {"string>?", p_string_cmp, 1, -1, 2, NULL},
    {"string<=?", p_string_cmp, 1, -1, 3, NULL},
    {"string>=?", p_string_cmp, 1, -1, 4, NULL},
    {"char=?", p_char_cmp, 1, -1, 0, NULL},
    {"char<?", p_char_cmp, 1, -1, 1, NULL},
    {"char>?", p_char_cmp, 1, -1, 2, NULL},
    {"char<=?", p_char_cmp, 1, -1, 3, NULL},
    {"char>=?", p_char_cmp, 1, -1, 4, NULL},
    {"char-alphabetic?", p_char_class, 1, 1, 0, NULL},
    {"char-numeric?", p_char_class, 1, 1, 1, NULL},
    {"char-whitespace?", p_char_class, 1, 1, 2, NULL},
    {"char-upcase", p_char_class, 1, 1, 3, NULL},
    {"char-downcase", p_char_class, 1, 1, 4, NULL},
};

void prims_init(void) {
    for (size_t i = 0; i < sizeof prim_table / sizeof *prim_table; i++) {
        V p = def_prim(prim_table[i].name, prim_table[i].fn, prim_table[i].min, prim_table[i].max, prim_table[i].aux);
        if (prim_table[i].save) *prim_table[i].save = p;
    }
    def_cxrs();
}
