/* node.h: kinds of compiled code nodes (compile.c builds them, eval.c runs them). The
 * kind is the header's type byte; it never collides with a value's object type. */
#ifndef SCHEME_NODE_H
#define SCHEME_NODE_H
enum {
    N_CONST = 32, /* [1] value */
    N_LREF0,      /* [1] index in the current frame */
    N_LREF1,      /* [1] index in the parent frame */
    N_LREF,       /* [1] depth [2] index */
    N_GREF,       /* [1] cell */
    N_LSET,       /* [1] depth [2] index [3] value node */
    N_GSET,       /* [1] cell [2] value node */
    N_GDEF,       /* [1] cell [2] value node */
    N_IF,         /* [1] test [2] then [3] else */
    N_LAMBDA,     /* [1] required [2] rest? [3] frame size [4] body [5] name or #f */
    N_SEQ,        /* [1..n] */
    N_CALL,       /* [1] operator [2..n] operands */
    N_AND,        /* [1..n] */
    N_OR,         /* [1..n] */
    N_LET,        /* [1] frame size [2] body [3..n] inits (outer scope) */
    N_LETREC,     /* [1] frame size [2] body [3..n] inits (new frame) */
};
#endif
