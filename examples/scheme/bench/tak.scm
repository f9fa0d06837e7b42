;; tak: Takeuchi's function (Gabriel benchmark), deep non-tail recursion.
;; Arguments: x y z (default 22 16 8), repeat count (default 1).
(define (arg k default)
  (let ((args (cdr (command-line))))
    (if (> (length args) k) (string->number (list-ref args k)) default)))
(define (tak x y z)
  (if (not (< y x))
      z
      (tak (tak (- x 1) y z)
           (tak (- y 1) z x)
           (tak (- z 1) x y))))
(define x (arg 0 22)) (define y (arg 1 16)) (define z (arg 2 8))
(define reps (arg 3 1))
(define (run i r) (if (= i 0) r (run (- i 1) (tak x y z))))
(display "tak ") (display (list x y z)) (display " = ") (display (run reps 0)) (newline)
