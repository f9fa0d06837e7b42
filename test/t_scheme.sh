#!/bin/sh
# t_scheme: the Scheme interpreter on gcrt (examples/scheme, build/scheme).
#  - tests/lang.scm (every supported form and procedure, output formats, 1e6-iteration tail
#    calls, call/cc escapes) prints exactly tests/lang.out, with gcrt and with the bdwgc build;
#  - each benchmark in bench/ at a small size prints exactly bench/<name>.out;
#  - the mutation-heavy programs pass with GODEBUG=gccheckmark=1 (concurrent marking, with
#    the interpreter's GC_STORE barriers, missed no reachable object) and gcstoptheworld=1;
#  - errors: an unsupported form is named, (error ...) prints its message and irritants,
#    a file program exits 1 on error, an escape-only continuation used after its extent
#    is an error, runaway recursion is a "stack overflow" error, not a crash;
#  - the REPL prints values, reports an error and carries on at the prompt.
set -u
B=${GCRT_BUILD:-build}
here=$(cd "$(dirname "$0")/../.." 2>/dev/null && pwd)
# The test runs from build/test; find the sources next to the build directory.
src=$(cd "$B/.." && pwd)/examples/scheme
[ -d "$src" ] || src=$here/examples/scheme
S=$B/scheme
SB=$B/scheme-bdwgc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

[ -x "$S" ] || { echo "FAIL: $S not built"; exit 1; }

same() {   # name expected-file actual-file
  if cmp -s "$2" "$3"; then ok "$1"; else fail "$1"; diff "$2" "$3" | head -20; fi
}

# 1. language test file
"$S" "$src/tests/lang.scm" > "$tmp/lang.out" 2>"$tmp/lang.err" || fail "lang.scm exit status $? ($(head -3 "$tmp/lang.err"))"
same "lang.scm (gcrt)" "$src/tests/lang.out" "$tmp/lang.out"
if [ -x "$SB" ]; then
  "$SB" "$src/tests/lang.scm" > "$tmp/lang-bdw.out" 2>&1 || fail "lang.scm on bdwgc exit status $?"
  same "lang.scm (bdwgc build)" "$src/tests/lang.out" "$tmp/lang-bdw.out"
fi

# 2. benchmarks at test sizes
while read -r name args; do
  # shellcheck disable=SC2086
  "$S" "$src/bench/$name.scm" $args > "$tmp/$name.out" 2>"$tmp/$name.err" || fail "$name exit status $? ($(head -3 "$tmp/$name.err"))"
  same "bench $name $args" "$src/bench/$name.out" "$tmp/$name.out"
done <<'LIST'
fib 20
tak 18 12 6
nqueens 8
deriv 2000
destruc 100 300
binary-trees 10
gcbench 10
LIST

# 3. the collector's own checks under the interpreter's mutations
for mode in gccheckmark=1 gcstoptheworld=1 gcverify=1; do
  GODEBUG=$mode "$S" "$src/bench/destruc.scm" 100 300 > "$tmp/d.out" 2>"$tmp/d.err" || fail "destruc with $mode: exit $? ($(grep -v 'not an error by itself' "$tmp/d.err" | head -3))"
  same "destruc with GODEBUG=$mode" "$src/bench/destruc.out" "$tmp/d.out"
  GODEBUG=$mode "$S" "$src/bench/gcbench.scm" 10 > "$tmp/g.out" 2>"$tmp/g.err" || fail "gcbench with $mode: exit $?"
  same "gcbench with GODEBUG=$mode" "$src/bench/gcbench.out" "$tmp/g.out"
done
GODEBUG=gccheckmark=1 "$S" "$src/tests/lang.scm" > "$tmp/lc.out" 2>/dev/null || fail "lang.scm with gccheckmark: exit $?"
same "lang.scm with GODEBUG=gccheckmark=1" "$src/tests/lang.out" "$tmp/lc.out"

# 4. errors in file programs: message on stderr, exit status 1
expect_error() {   # name program stderr-pattern [stdout]
  printf '%s\n' "$2" > "$tmp/e.scm"
  "$S" "$tmp/e.scm" > "$tmp/e.out" 2> "$tmp/e.err"
  rc=$?
  if [ "$rc" -ne 1 ]; then fail "$1: exit status $rc, want 1"; return; fi
  if ! grep -q -- "$3" "$tmp/e.err"; then fail "$1: stderr '$(cat "$tmp/e.err")' lacks '$3'"; return; fi
  if [ $# -ge 4 ] && [ "$(cat "$tmp/e.out")" != "$4" ]; then fail "$1: stdout '$(cat "$tmp/e.out")' want '$4'"; return; fi
  ok "$1"
}
expect_error "unsupported define-syntax" "(define-syntax swap! (syntax-rules () ((_ a b) 1)))" "unsupported form: define-syntax"
expect_error "unsupported delay" "(display 1) (newline) (delay (+ 1 2))" "unsupported form: delay" "1"
expect_error "unsupported define-record-type" "(define-record-type point (make-point x y) point? (x point-x))" "unsupported form: define-record-type"
expect_error "error procedure" '(display "before") (newline) (error "Something bad:" 42 (quote foo) "s")' 'error: Something bad: 42 foo "s"' "before"
expect_error "unbound variable" "(display (+ 1 undefined-thing))" "unbound variable: undefined-thing"
expect_error "car of non-pair" "(car 5)" "car: expected a pair, got 5"
expect_error "wrong arity" "(define (f a b) a) (f 1)" "wrong number of arguments (1)"
expect_error "not a procedure" "(5 1)" "not a procedure: 5"
expect_error "escape-only continuation" "(define k2 #f) (display (call/cc (lambda (k) (set! k2 k) 1))) (k2 5)" "escape-only"
expect_error "stack overflow" "(define (f n) (+ 1 (f n))) (f 0)" "stack overflow"
expect_error "division by zero" "(quotient 1 0)" "division by zero"
expect_error "vector index" "(vector-ref (vector 1 2) 2)" "index 2 out of range"
expect_error "read error" "(display (+ 1 2)" "unexpected end of input"

# deep non-tail recursion within the interpreter's stack is fine
printf '(define (f n) (if (= n 0) 0 (+ 1 (f (- n 1))))) (display (f 200000))\n' > "$tmp/deep.scm"
out=$("$S" "$tmp/deep.scm" 2>&1)
[ "$out" = 200000 ] && ok "200000-deep recursion" || fail "deep recursion: $out"

# 5. the REPL: values printed, an error reported, the session goes on
printf '(define x 5)\n(* x x)\n(car (quote ()))\n"s" #\\a\n(define (sq n)\n  (* n n))\n(sq 12)\n' | "$S" > "$tmp/repl.out" 2> "$tmp/repl.err"
rc=$?
[ "$rc" -eq 0 ] || fail "repl exit status $rc"
grep -q "car: expected a pair" "$tmp/repl.err" || fail "repl error not reported: $(cat "$tmp/repl.err")"
tr -d '\n' < "$tmp/repl.out" > "$tmp/repl.flat"
[ "$(cat "$tmp/repl.flat")" = '> > 25> > "s"#\a> > 144> ' ] && ok "repl" || fail "repl output: $(cat "$tmp/repl.flat")"

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
