/*
 * scheme.h: the interpreter's values, heap layouts and the allocation layer.
 *
 * Values are one machine word (V):
 *   ...xxx1  fixnum (63-bit, value << 1 | 1)
 *   ...x000  pointer to a heap object whose first word is a header (type | length << 8)
 *   ...x010  symbol: the canonical (interned) NUL-terminated name + 2
 *   ...x100  pair: pointer to a headerless 16-byte {car, cdr} + 4
 *   ...x110  immediate: the constants below and characters
 * Tagged pointers are interior pointers into their object, which both collectors accept.
 * The word 0 is never a value: it marks a variable that is not assigned yet.
 *
 * Heap layouts (gcrt build): pairs are typed {car, cdr}; vectors, frames and compiled
 * code nodes are arrays of words all declared as pointers (headers and small integers in
 * them are never heap addresses, so precise scanning ignores them); closures and global
 * cells are typed structs; strings, flonums, primitives and continuations hold no heap
 * pointers and are noscan. Every overwrite of a pointer field that may hold a heap
 * pointer goes through STORE (GC_STORE); initialising stores into fresh objects do not.
 *
 * SCHEME_BDWGC builds the same interpreter on bdwgc: GC_MALLOC / GC_MALLOC_ATOMIC, STORE
 * a plain store, and symbols interned in a table of the interpreter's own (heap.c).
 */
#ifndef SCHEME_H
#define SCHEME_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef SCHEME_BDWGC
#define GC_THREADS
#include <gc.h>
#define STORE(lv, v) ((lv) = (v))
#else
#include "gcrt.h"
#define STORE(lv, v) GC_STORE(lv, v)
#endif

typedef uintptr_t V;

/* ---- tags ---- */
#define IS_FIX(v) ((v) & 1)
#define FIX(n) ((V)(((uintptr_t)(intptr_t)(n) << 1) | 1))
#define FIXVAL(v) ((intptr_t)(v) >> 1)
#define FIX_MAX ((intptr_t)(INTPTR_MAX >> 1))
#define FIX_MIN ((intptr_t)(INTPTR_MIN >> 1))
#define TAG(v) ((v) & 7)
#define IS_PTR(v) (TAG(v) == 0 && (v) != 0)
#define IS_SYM(v) (TAG(v) == 2)
#define IS_PAIR(v) (TAG(v) == 4)

#define IMM(n) ((V)(((n) << 8) | 0x06))
#define NIL IMM(0)
#define FALSE_V IMM(1)
#define TRUE_V IMM(2)
#define UNSPEC IMM(3)
#define EOF_V IMM(4)
#define DEFAULT_V IMM(5) /* an absent optional argument */
#define BOOL(c) ((c) ? TRUE_V : FALSE_V)
#define IS_CHAR(v) (((v) & 0xff) == 0x0e)
#define CHAR(c) ((V)(((uintptr_t)(c) << 8) | 0x0e))
#define CHARVAL(v) ((int)((v) >> 8))

/* ---- heap objects ---- */
enum {
    T_FLO = 1, T_STR, T_VEC, T_CLO, T_PRIM, T_FRAME, T_CELL, T_CONT, T_NODE
};
#define HDR(type, len) ((uintptr_t)(type) | ((uintptr_t)(len) << 8))
#define OBJ(v) ((uintptr_t *)(v))
#define TYPE(v) (OBJ(v)[0] & 0xff)
#define LEN(v) (OBJ(v)[0] >> 8)
#define IS_T(v, t) (IS_PTR(v) && TYPE(v) == (t))

typedef struct { V car, cdr; } Pair;
#define PAIRP(v) ((Pair *)((v) - 4))
#define CAR(v) (PAIRP(v)->car)
#define CDR(v) (PAIRP(v)->cdr)

typedef struct { uintptr_t hdr; double d; } Flo;
#define FLOVAL(v) (((Flo *)(v))->d)
#define IS_FLO(v) IS_T(v, T_FLO)
#define IS_NUM(v) (IS_FIX(v) || IS_FLO(v))

typedef struct { uintptr_t hdr; size_t len; char s[]; } Str; /* NUL-terminated */
#define STRP(v) ((Str *)(v))

/* Vectors and frames: word arrays. [0] header (length in it), then the elements; a
 * frame's [1] is its parent frame. */
#define VEC_ELTS(v) (OBJ(v) + 1)
#define FRAME_PARENT(f) (OBJ(f)[1])
#define FRAME_SLOTS(f) (OBJ(f) + 2)

typedef struct { uintptr_t hdr; V lambda; V env; } Closure;
#define CLOP(v) ((Closure *)(v))

struct Prim;
typedef V (*PrimFn)(int argc, V *argv, struct Prim *self);
typedef struct Prim { uintptr_t hdr; PrimFn fn; const char *name; int min, max; int aux; } Prim;
#define PRIMP(v) ((Prim *)(v))

typedef struct { uintptr_t hdr; V value; V sym; } Cell; /* a global variable */
#define CELLP(v) ((Cell *)(v))

struct Escape;
typedef struct { uintptr_t hdr; struct Escape *esc; } Cont; /* escape-only continuation */

/* An active call/cc on the C stack; value lives here (conservatively scanned). */
typedef struct Escape {
    jmp_buf jb;
    V value;
    V cont;
    struct Escape *prev;
} Escape;

/* ---- allocation ---- */
#ifdef SCHEME_BDWGC
static inline void *alloc_words(size_t n) { return GC_MALLOC(n * sizeof(V)); }
static inline Pair *alloc_pair(void) { return GC_MALLOC(sizeof(Pair)); }
static inline void *alloc_raw(size_t n) { return GC_MALLOC_ATOMIC(n); }
static inline Closure *alloc_closure(void) { return GC_MALLOC(sizeof(Closure)); }
static inline Cell *alloc_cell(void) { return GC_MALLOC(sizeof(Cell)); }
#else
extern gc_type_t *scm_t_word, *scm_t_pair, *scm_t_closure, *scm_t_cell;
static inline void *alloc_words(size_t n) { return gc_alloc_array(scm_t_word, n); }
static inline Pair *alloc_pair(void) { return gc_alloc_typed(scm_t_pair); }
static inline void *alloc_raw(size_t n) { return gc_alloc_noscan(n); }
static inline Closure *alloc_closure(void) { return gc_alloc_typed(scm_t_closure); }
static inline Cell *alloc_cell(void) { return gc_alloc_typed(scm_t_cell); }
#endif
void scm_oom(void) __attribute__((noreturn));
#define CHECK_ALLOC(p) do { if (__builtin_expect(!(p), 0)) scm_oom(); } while (0)

static inline V cons(V a, V d) {
    Pair *p = alloc_pair();
    CHECK_ALLOC(p);
    p->car = a;
    p->cdr = d;
    return (V)p + 4;
}
static inline V make_flo(double d) {
    Flo *f = alloc_raw(sizeof(Flo));
    CHECK_ALLOC(f);
    f->hdr = HDR(T_FLO, 0);
    f->d = d;
    return (V)f;
}
static inline V make_num(intptr_t n) {
    if (n >= FIX_MIN && n <= FIX_MAX) return FIX(n);
    return make_flo((double)n);
}
/* A word array of n elements after the header, elements zero. */
static inline uintptr_t *make_words(int type, size_t n) {
    uintptr_t *w = alloc_words(n + 1);
    CHECK_ALLOC(w);
    w[0] = HDR(type, n);
    return w;
}

V make_string(const char *s, size_t n);
V make_vector(size_t n, V fill);
V intern(const char *name, size_t n);
#define SYMNAME(v) ((const char *)((v) - 2))
V global_cell(V sym);
void heap_init(void);

/* ---- errors ---- */
void scm_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void scm_error_obj(const char *msg, V obj) __attribute__((noreturn));
void scm_raise(V msg, V irritants) __attribute__((noreturn));
extern jmp_buf *scm_toplevel;
extern char scm_errmsg[1024];
void escapes_reset(void);

/* ---- reader and printer ---- */
typedef struct Reader {
    const char *s;
    size_t pos, len;
    int line;
} Reader;
V scm_read(Reader *r); /* EOF_V at end of input */
typedef struct Buf { char *p; size_t n, cap; } Buf;
void buf_puts(Buf *b, const char *s, size_t n);
void print_obj(Buf *b, V v, int write);
void print_num(Buf *b, V v);
void scm_print(FILE *f, V v, int write);
V parse_number(const char *s, size_t n);

/* ---- compiler and evaluator ---- */
V compile_toplevel(V expr);
V eval(V node, V env);
V apply_proc(V f, int argc, V *argv);
void eval_init(void);
extern char *scm_stack_limit;

/* Syntax symbols and the primitives that expansions refer to directly. */
extern V S_quote, S_quasiquote, S_unquote, S_unquote_splicing, S_lambda, S_define, S_if, S_set,
    S_begin, S_let, S_letstar, S_letrec, S_letrecstar, S_cond, S_case, S_and, S_or, S_when,
    S_unless, S_do, S_else, S_arrow, S_dot;
extern V P_cons, P_append, P_list, P_memv, P_list_to_vector, P_apply;

/* ---- primitives ---- */
void prims_init(void);
V def_prim(const char *name, PrimFn fn, int min, int max, int aux);
int equal_p(V a, V b);
int eqv_p(V a, V b);
const char *type_name(V v);
V list_length_check(V l, const char *who, intptr_t *n);

#endif
