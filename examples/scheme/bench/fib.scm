;; fib: doubly recursive Fibonacci (calls and fixnum arithmetic, no allocation).
;; Argument: n (default 30).
(define (arg k default)
  (let ((args (cdr (command-line))))
    (if (> (length args) k) (string->number (list-ref args k)) default)))
(define n (arg 0 30))
(define (fib n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))
(display "fib(") (display n) (display ") = ") (display (fib n)) (newline)
