/*
 * io.c: the reader (R7RS datum syntax less labels and bytevectors) and the printer
 * (write/display in R7RS's formats).
 *
 * The reader builds lists front to back: the tail pair is fresh and its cdr holds NIL (an
 * immediate, never a heap pointer), so appending to it needs no barrier. Everything being
 * built is referenced from C locals, which gcrt scans conservatively.
 */
#include "scheme.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* ---- reader ---- */

static int rd_peek(Reader *r) { return r->pos < r->len ? (unsigned char)r->s[r->pos] : EOF; }
static int rd_next(Reader *r) {
    if (r->pos >= r->len) return EOF;
    int c = (unsigned char)r->s[r->pos++];
    if (c == '\n') r->line++;
    return c;
}

static void skip_block_comment(Reader *r) {
    int depth = 1, prev = 0, c;
    while (depth && (c = rd_next(r)) != EOF) {
        if (prev == '|' && c == '#') { depth--; c = 0; }
        else if (prev == '#' && c == '|') { depth++; c = 0; }
        prev = c;
    }
}

static void skip_ws(Reader *r) {
    for (;;) {
        int c = rd_peek(r);
        if (c == EOF) return;
        if (isspace(c)) {
            rd_next(r);
        } else if (c == ';') {
            while ((c = rd_next(r)) != EOF && c != '\n') {}
        } else if (c == '#' && r->pos + 1 < r->len && r->s[r->pos + 1] == ';') {
            r->pos += 2;
            scm_read(r);
        } else if (c == '#' && r->pos + 1 < r->len && r->s[r->pos + 1] == '|') {
            r->pos += 2;
            skip_block_comment(r);
        } else {
            return;
        }
    }
}

static int delimiter(int c) { return c == EOF || isspace(c) || strchr("()\";'`,", c); }

static void read_error(Reader *r, const char *what) __attribute__((noreturn));
static void read_error(Reader *r, const char *what) {
    scm_error("read: %s (line %d)", what, r->line);
}

/* A token up to the next delimiter, into a growable buffer. */
static size_t read_token(Reader *r, char **buf, size_t *cap, int first) {
    size_t n = 0;
    if (first) (*buf)[n++] = (char)first;
    while (!delimiter(rd_peek(r))) {
        if (n + 2 > *cap) *buf = realloc(*buf, *cap *= 2);
        (*buf)[n++] = (char)rd_next(r);
    }
    (*buf)[n] = 0;
    return n;
}

static const struct { const char *name; int c; } char_names[] = {
    {"space", ' '}, {"newline", '\n'}, {"tab", '\t'}, {"nul", 0}, {"null", 0}, {"return", '\r'},
    {"linefeed", '\n'}, {"alarm", 7}, {"backspace", 8}, {"delete", 127}, {"escape", 27},
};

static V read_list(Reader *r, int close) {
    V head = NIL, tail = NIL;
    for (;;) {
        skip_ws(r);
        int c = rd_peek(r);
        if (c == EOF) read_error(r, "unexpected end of input in list");
        if (c == ')' || c == ']') {
            rd_next(r);
            if (c != close) read_error(r, "mismatched bracket");
            return head;
        }
        V x = scm_read(r);
        if (x == S_dot) {
            if (head == NIL) read_error(r, "'.' at the start of a list");
            V last = scm_read(r);
            if (last == EOF_V) read_error(r, "unexpected end of input in list");
            CDR(tail) = last;   /* tail is fresh and its cdr is NIL */
            skip_ws(r);
            c = rd_next(r);
            if (c != close) read_error(r, "expected ')' after dotted tail");
            return head;
        }
        V p = cons(x, NIL);
        if (head == NIL) head = p;
        else CDR(tail) = p;     /* as above */
        tail = p;
    }
}

V scm_read(Reader *r) {
    skip_ws(r);
    int c = rd_next(r);
    if (c == EOF) return EOF_V;
    switch (c) {
    case '(': return read_list(r, ')');
    case '[': return read_list(r, ']');
    case ')': case ']': read_error(r, "unexpected ')'");
    case '\'': case '`': case ',': {
        V sym = c == '\'' ? S_quote : c == '`' ? S_quasiquote : S_unquote;
        if (c == ',' && rd_peek(r) == '@') { rd_next(r); sym = S_unquote_splicing; }
        V x = scm_read(r);
        if (x == EOF_V) read_error(r, "unexpected end of input after quote");
        return cons(sym, cons(x, NIL));
    }
    case '"': {
        size_t cap = 64, n = 0;
        char *b = malloc(cap);
        for (;;) {
            c = rd_next(r);
            if (c == EOF) { free(b); read_error(r, "unterminated string"); }
            if (c == '"') break;
            if (c == '\\') {
                c = rd_next(r);
                switch (c) {
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                case 'r': c = '\r'; break;
                case 'a': c = 7; break;
                case '0': c = 0; break;
                case '\\': case '"': break;
                case '\n':   /* line continuation: skip leading blanks of the next line */
                    while (rd_peek(r) == ' ' || rd_peek(r) == '\t') rd_next(r);
                    continue;
                case 'x': {
                    int v = 0, d;
                    while ((d = rd_next(r)) != ';' && d != EOF) {
                        if (!isxdigit(d)) { free(b); read_error(r, "bad \\x escape in string"); }
                        v = v * 16 + (isdigit(d) ? d - '0' : tolower(d) - 'a' + 10);
                    }
                    c = v & 0xff;
                    break;
                }
                default: free(b); read_error(r, "unknown string escape");
                }
            }
            if (n + 1 >= cap) b = realloc(b, cap *= 2);
            b[n++] = (char)c;
        }
        V s = make_string(b, n);
        free(b);
        return s;
    }
    case '#': {
        int d = rd_peek(r);
        if (d == '(') {
            rd_next(r);
            V l = read_list(r, ')');
            return apply_proc(P_list_to_vector, 1, &l);
        }
        if (d == '\\') {
            rd_next(r);
            size_t cap = 32;
            char *b = malloc(cap);
            int first = rd_next(r);
            if (first == EOF) { free(b); read_error(r, "end of input in character"); }
            size_t n = read_token(r, &b, &cap, first);
            V ch = 0;
            if (n == 1) ch = CHAR((unsigned char)b[0]);
            else if (b[0] == 'x' && n > 1) {
                char *end;
                long v = strtol(b + 1, &end, 16);
                if (!*end && v >= 0 && v < 256) ch = CHAR(v);
            } else {
                for (size_t i = 0; i < sizeof char_names / sizeof *char_names; i++)
                    if (strcmp(b, char_names[i].name) == 0) ch = CHAR(char_names[i].c);
            }
            free(b);
            if (!ch) read_error(r, "unknown character name");
            return ch;
        }
        size_t cap = 32;
        char *b = malloc(cap);
        read_token(r, &b, &cap, 0);
        V v = 0;
        if (!strcmp(b, "t") || !strcmp(b, "true")) v = TRUE_V;
        else if (!strcmp(b, "f") || !strcmp(b, "false")) v = FALSE_V;
        else if (b[0] == 'e' || b[0] == 'i' || b[0] == 'x' || b[0] == 'b' || b[0] == 'o' || b[0] == 'd') {
            char *t = malloc(strlen(b) + 2);
            t[0] = '#';
            strcpy(t + 1, b);
            v = parse_number(t, strlen(t));
            free(t);
            if (v == FALSE_V) v = 0;
        }
        free(b);
        if (!v) read_error(r, "unknown # syntax");
        return v;
    }
    default: {
        size_t cap = 64;
        char *b = malloc(cap);
        size_t n = read_token(r, &b, &cap, c);
        V v = parse_number(b, n);
        if (v == FALSE_V) {
            if (n == 1 && b[0] == '.') v = S_dot;
            else if (b[0] == '|' && n >= 2 && b[n - 1] == '|') v = intern(b + 1, n - 2);
            else v = intern(b, n);
        }
        free(b);
        return v;
    }
    }
}

/* Numbers: decimal fixnums (flonums past the fixnum range), decimal flonums, +inf.0,
 * -inf.0, +nan.0, and #x/#b/#o/#d/#e/#i prefixes. FALSE_V if s is not a number. */
V parse_number(const char *s, size_t n) {
    int radix = 10, exact = -1;
    while (n >= 2 && s[0] == '#') {
        switch (tolower((unsigned char)s[1])) {
        case 'x': radix = 16; break;
        case 'b': radix = 2; break;
        case 'o': radix = 8; break;
        case 'd': radix = 10; break;
        case 'e': exact = 1; break;
        case 'i': exact = 0; break;
        default: return FALSE_V;
        }
        s += 2;
        n -= 2;
    }
    if (n == 0 || n > 200) return FALSE_V;
    char b[256];
    memcpy(b, s, n);
    b[n] = 0;
    if (!strcmp(b, "+inf.0")) return make_flo(INFINITY);
    if (!strcmp(b, "-inf.0")) return make_flo(-INFINITY);
    if (!strcmp(b, "+nan.0") || !strcmp(b, "-nan.0")) return make_flo(NAN);
    const char *p = b;
    if (*p == '+' || *p == '-') p++;
    if (!*p) return FALSE_V;
    char *end;
    int isint = 1;
    for (const char *q = p; *q; q++) {
        int c = tolower((unsigned char)*q);
        int ok = radix == 16 ? isxdigit(c) : (c >= '0' && c < '0' + radix);
        if (!ok) { isint = 0; break; }
    }
    if (isint) {
        errno = 0;
        long long v = strtoll(b, &end, radix);
        if (*end) return FALSE_V;
        if (errno == ERANGE || v > FIX_MAX || v < FIX_MIN) return make_flo(strtod(b, NULL));
        return exact == 0 ? make_flo((double)v) : FIX(v);
    }
    if (radix != 10) return FALSE_V;
    if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1]))) return FALSE_V;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q) && !strchr(".eE+-", *q)) return FALSE_V;
    double d = strtod(b, &end);
    if (*end) return FALSE_V;
    if (exact == 1) {
        if (d != floor(d) || fabs(d) > (double)FIX_MAX) return make_flo(d);
        return FIX((intptr_t)d);
    }
    return make_flo(d);
}

/* ---- printer ---- */

void buf_puts(Buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 64;
        while (ncap < b->n + n + 1) ncap *= 2;
        b->p = realloc(b->p, ncap);
        if (!b->p) scm_oom();
        b->cap = ncap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void buf_str(Buf *b, const char *s) { buf_puts(b, s, strlen(s)); }

/* Flonums: the shortest text that reads back exactly; positional between 1e-3 and 1e21
 * (with ".0" when integral), otherwise mantissa and exponent ("1.0e21", "1.5e-7"). */
static void print_flo(Buf *b, double d) {
    char t[400];
    if (isnan(d)) { buf_str(b, "+nan.0"); return; }
    if (isinf(d)) { buf_str(b, d > 0 ? "+inf.0" : "-inf.0"); return; }
    double a = fabs(d);
    if (a == 0 || (a >= 1e-3 && a < 1e21)) {
        for (int k = 1; k <= 330; k++) {
            snprintf(t, sizeof t, "%.*f", k, d);
            if (strtod(t, NULL) == d) break;
        }
        /* %.*f with k >= 1 always has a point; drop trailing zeros but keep one digit */
        size_t n = strlen(t);
        while (t[n - 1] == '0' && t[n - 2] != '.') t[--n] = 0;
        buf_str(b, t);
        return;
    }
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*e", prec - 1, d);
        if (strtod(t, NULL) == d) break;
    }
    char *e = strchr(t, 'e');
    char mant[64];
    snprintf(mant, sizeof mant, "%.*s", (int)(e - t), t);
    if (!strchr(mant, '.')) strcat(mant, ".0");
    char out[100];
    snprintf(out, sizeof out, "%se%d", mant, atoi(e + 1));
    buf_str(b, out);
}

void print_num(Buf *b, V v) {
    char t[32];
    if (IS_FIX(v)) {
        snprintf(t, sizeof t, "%ld", (long)FIXVAL(v));
        buf_str(b, t);
    } else {
        print_flo(b, FLOVAL(v));
    }
}

static void print_char(Buf *b, int c, int write) {
    if (!write) {
        char ch = (char)c;
        buf_puts(b, &ch, 1);
        return;
    }
    buf_str(b, "#\\");
    for (size_t i = 0; i < sizeof char_names / sizeof *char_names; i++)
        if (char_names[i].c == c) { buf_str(b, char_names[i].name); return; }
    if (c < 32 || c >= 127) {
        char t[16];
        snprintf(t, sizeof t, "x%x", c);
        buf_str(b, t);
        return;
    }
    char ch = (char)c;
    buf_puts(b, &ch, 1);
}

static void print_string(Buf *b, Str *s, int write) {
    if (!write) { buf_puts(b, s->s, s->len); return; }
    buf_str(b, "\"");
    for (size_t i = 0; i < s->len; i++) {
        char c = s->s[i];
        switch (c) {
        case '"': buf_str(b, "\\\""); break;
        case '\\': buf_str(b, "\\\\"); break;
        case '\n': buf_str(b, "\\n"); break;
        case '\t': buf_str(b, "\\t"); break;
        case '\r': buf_str(b, "\\r"); break;
        default:
            if ((unsigned char)c < 32) {
                char t[16];
                snprintf(t, sizeof t, "\\x%x;", (unsigned char)c);
                buf_str(b, t);
            } else {
                buf_puts(b, &c, 1);
            }
        }
    }
    buf_str(b, "\"");
}

void print_obj(Buf *b, V v, int write) {
    if (IS_FIX(v)) { print_num(b, v); return; }
    switch (TAG(v)) {
    case 2: buf_str(b, SYMNAME(v)); return;
    case 4: {
        /* 'x and friends print as written */
        if (IS_SYM(CAR(v)) && IS_PAIR(CDR(v)) && CDR(CDR(v)) == NIL) {
            const char *pre = CAR(v) == S_quote ? "'" : CAR(v) == S_quasiquote ? "`"
                            : CAR(v) == S_unquote ? "," : CAR(v) == S_unquote_splicing ? ",@" : NULL;
            if (pre) {
                buf_str(b, pre);
                print_obj(b, CAR(CDR(v)), write);
                return;
            }
        }
        buf_str(b, "(");
        for (;;) {
            print_obj(b, CAR(v), write);
            v = CDR(v);
            if (!IS_PAIR(v)) break;
            buf_str(b, " ");
        }
        if (v != NIL) {
            buf_str(b, " . ");
            print_obj(b, v, write);
        }
        buf_str(b, ")");
        return;
    }
    case 6:
        if (IS_CHAR(v)) { print_char(b, CHARVAL(v), write); return; }
        buf_str(b, v == NIL ? "()" : v == TRUE_V ? "#t" : v == FALSE_V ? "#f" : v == EOF_V ? "#<eof>"
                   : v == UNSPEC ? "#<unspecified>" : "#<default>");
        return;
    }
    if (!v) { buf_str(b, "#<unassigned>"); return; }
    char t[128];
    switch (TYPE(v)) {
    case T_FLO: print_flo(b, FLOVAL(v)); return;
    case T_STR: print_string(b, STRP(v), write); return;
    case T_VEC: {
        buf_str(b, "#(");
        for (size_t i = 0; i < LEN(v); i++) {
            if (i) buf_str(b, " ");
            print_obj(b, VEC_ELTS(v)[i], write);
        }
        buf_str(b, ")");
        return;
    }
    case T_CLO: {
        V name = OBJ(CLOP(v)->lambda)[5];
        if (IS_SYM(name)) snprintf(t, sizeof t, "#<procedure %s>", SYMNAME(name));
        else snprintf(t, sizeof t, "#<procedure>");
        buf_str(b, t);
        return;
    }
    case T_PRIM: snprintf(t, sizeof t, "#<procedure %s>", PRIMP(v)->name); buf_str(b, t); return;
    case T_CONT: buf_str(b, "#<continuation>"); return;
    default: snprintf(t, sizeof t, "#<object %lu>", (unsigned long)TYPE(v)); buf_str(b, t); return;
    }
}

void scm_print(FILE *f, V v, int write) {
    Buf b = {0};
    print_obj(&b, v, write);
    if (b.n) fwrite(b.p, 1, b.n, f);
    free(b.p);
}
