// binarytrees: the same workload as test/bench/binarytrees.c (single-threaded; nodes of
// two pointers), for run-pacer.sh's GOGC sweep against gcrt.
//
// usage: binarytrees [depth]   prints: RESULT bench=binarytrees impl=go depth= wall_ms= gcs= check=
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

type node struct{ left, right *node }

func bottomUp(d int) *node {
	if d <= 0 {
		return &node{}
	}
	l := bottomUp(d - 1)
	r := bottomUp(d - 1)
	return &node{l, r}
}

func (n *node) check() int {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func main() {
	n := 20
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	const minDepth = 4
	maxDepth := n
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}
	t0 := time.Now()
	total := bottomUp(maxDepth + 1).check()
	longLived := bottomUp(maxDepth)
	for d := minDepth; d <= maxDepth; d += 2 {
		iters := 1 << (maxDepth - d + minDepth)
		c := 0
		for i := 0; i < iters; i++ {
			c += bottomUp(d).check()
		}
		total += c
	}
	total += longLived.check()
	wall := time.Since(t0)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("RESULT bench=binarytrees impl=go depth=%d wall_ms=%.1f gcs=%d check=%d\n", maxDepth,
		float64(wall.Microseconds())/1000, ms.NumGC, total)
}
