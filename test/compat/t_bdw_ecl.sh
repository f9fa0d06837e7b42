#!/bin/sh
# t_bdw_ecl: ECL 21.2 (linked against Debian's libgc.so.1; it pushes its Lisp stacks and
# environments, which live outside GC memory, from GC_push_other_roots, and keeps stacks
# with GC_set_mark_bit) run with LD_PRELOAD=build/libgcrt-bdwgc.so prints what stock ecl
# prints for: a consing loop through many collections and a 200000-entry hash table;
# compile-file and load of the result (a shared object, through GC_dlopen); four threads
# consing at once. And it really ran on gcrt (gctrace lines). Skips only when ecl is not
# installed (make test installs it).
. "$(dirname "$0")/bdw_preload.sh"
need_program ecl ecl
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cat > "$d/cons.lisp" <<'LISP'
(defun build (n) (let ((l nil)) (dotimes (i n l) (push (cons i (make-string 10 :initial-element #\a)) l))))
(defvar *keep* nil)
(dotimes (round 60)
  (let ((l (build 100000)))
    (when (zerop (mod round 10)) (push (subseq l 0 1000) *keep*))))
(print (reduce #'+ (mapcar (lambda (l) (reduce #'+ (mapcar #'car l))) *keep*)))
(let ((h (make-hash-table :test 'equal)))
  (dotimes (i 200000) (setf (gethash (format nil "k~D" i) h) (list i (* i i))))
  (print (hash-table-count h))
  (print (gethash "k4242" h)))
(terpri)
LISP
cat > "$d/fact.lisp" <<'LISP'
(defun fact (n) (if (< n 2) 1 (* n (fact (1- n)))))
(defun fib (n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))
(print (length (format nil "~D" (fact 2000))))
(print (fib 25))
LISP
cat > "$d/threads.lisp" <<'LISP'
(defvar *results* (make-array 4))
(let ((ths (loop for k below 4 collect
              (let ((k k)) (mp:process-run-function (format nil "w~D" k)
                 (lambda () (setf (aref *results* k)
                   (let ((s 0)) (dotimes (r 30) (let ((l (loop for i below 20000 collect (list i k)))) (incf s (length l)))) s))))))))
  (mapc #'mp:process-join ths))
(print *results*)
(terpri)
LISP
fail=0
run() {   # run NAME PRELOAD: the three programs, outputs concatenated into $d/NAME.out
  (cd "$d" &&
   LD_PRELOAD="$2" ecl --norc --load cons.lisp --eval '(quit)' &&
   LD_PRELOAD="$2" ecl --norc --eval "(progn (compile-file \"fact.lisp\" :output-file \"$d/fact-$1.fas\") (load \"$d/fact-$1.fas\") (quit))" &&
   LD_PRELOAD="$2" ecl --norc --load threads.lisp --eval '(quit)') 2>"$d/$1.err" |
    sed "s/fact-$1/fact-X/" | grep -v '^;;; \(Compiling\|Finished\|OPTIMIZE\|End of\)' > "$d/$1.out"
}
run stock ""
GODEBUG=gctrace=1 run shim "$preload"
grep -q '600000 600000 600000 600000' "$d/stock.out" || { echo "stock ecl failed"; tail -5 "$d/stock.err"; fail=1; }
if ! cmp -s "$d/stock.out" "$d/shim.out"; then echo "output differs"; diff "$d/stock.out" "$d/shim.out" | head -20; grep -v '^gc ' "$d/shim.err" | tail -5; fail=1; fi
n=$(grep -c '^gc ' "$d/shim.err")
[ "$n" -ge 20 ] || { echo "only $n gcrt collections: did the shim run?"; fail=1; }
[ $fail -eq 0 ] && echo "ok: output identical, $n gcrt collections"
exit $fail
