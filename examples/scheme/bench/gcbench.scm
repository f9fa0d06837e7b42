;; GCBench (Hans Boehm's, after John Ellis and Pete Kovac) in Scheme: builds trees top-down
;; and bottom-up while a long-lived tree and a long-lived array of flonums stay reachable.
;; Nodes are 3-element vectors #(left right value). Arguments: long-lived/stretch scale:
;; max tree depth (default 16; the stretch tree is one deeper, the long-lived tree as deep).
(define (arg k default)
  (let ((args (cdr (command-line))))
    (if (> (length args) k) (string->number (list-ref args k)) default)))
(define k-max-tree-depth (arg 0 16))
(define k-stretch-tree-depth (+ k-max-tree-depth 2))
(define k-long-lived-tree-depth k-max-tree-depth)
(define k-array-size (* 8 (expt 2 k-max-tree-depth)))
(define k-min-tree-depth 4)

(define (make-node l r) (vector l r 0))
(define (node-left n) (vector-ref n 0))
(define (node-right n) (vector-ref n 1))
(define (set-left! n v) (vector-set! n 0 v))
(define (set-right! n v) (vector-set! n 1 v))

(define (tree-size i) (- (expt 2 (+ i 1)) 1))
(define (num-iters i) (quotient (* 2 (tree-size k-stretch-tree-depth)) (tree-size i)))

;; Build a tree top-down by mutating fields.
(define (populate depth node)
  (when (> depth 0)
    (set-left! node (make-node #f #f))
    (set-right! node (make-node #f #f))
    (populate (- depth 1) (node-left node))
    (populate (- depth 1) (node-right node))))

;; Build a tree bottom-up.
(define (make-tree depth)
  (if (<= depth 0)
      (make-node #f #f)
      (make-node (make-tree (- depth 1)) (make-tree (- depth 1)))))

(define (count node)
  (if (not node) 0 (+ 1 (count (node-left node)) (count (node-right node)))))

(define checks-ok #t)
(define (expect what got want)
  (unless (= got want)
    (set! checks-ok #f)
    (display "WRONG ") (display what) (display ": ") (display got) (display " /= ") (display want) (newline)))

(define (time-construction depth)
  (let ((iters (num-iters depth)))
    (display "Creating ") (display iters) (display " trees of depth ") (display depth) (newline)
    (do ((i 0 (+ i 1))) ((= i iters))
      (let ((temp (make-node #f #f)))
        (populate depth temp)
        (when (= i 0) (expect "top-down tree" (count temp) (tree-size depth)))))
    (do ((i 0 (+ i 1))) ((= i iters))
      (let ((temp (make-tree depth)))
        (when (= i 0) (expect "bottom-up tree" (count temp) (tree-size depth)))))))

(display "Garbage Collector Test") (newline)
(display " Stretching memory with a binary tree of depth ") (display k-stretch-tree-depth) (newline)
(expect "stretch tree" (count (make-tree k-stretch-tree-depth)) (tree-size k-stretch-tree-depth))

(display " Creating a long-lived binary tree of depth ") (display k-long-lived-tree-depth) (newline)
(define long-lived-tree (make-node #f #f))
(populate k-long-lived-tree-depth long-lived-tree)

(display " Creating a long-lived array of ") (display k-array-size) (display " doubles") (newline)
(define array (make-vector k-array-size 0.0))
(do ((i 0 (+ i 1))) ((= i (quotient k-array-size 2)))
  (vector-set! array i (/ 1.0 (+ i 1))))

(do ((d k-min-tree-depth (+ d 2))) ((> d k-max-tree-depth))
  (time-construction d))

(expect "long-lived tree" (count long-lived-tree) (tree-size k-long-lived-tree-depth))
(expect "array" (vector-ref array 1000) (/ 1.0 1001))
(display (if checks-ok "GCBench: ok" "GCBench: FAILED")) (newline)
