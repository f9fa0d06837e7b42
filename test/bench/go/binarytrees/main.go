// binarytrees: the same workload as test/bench/binarytrees.c (single-threaded; nodes of
// two pointers), for run-pacer.sh's GOGC sweep against gcrt and run-peers.sh's table. The
// pauses are polled after the stretch tree and after each depth, where the C program polls.
//
// usage: binarytrees [depth]
//
//	prints: RESULT bench=binarytrees impl=go depth= wall_ms= cpu_ms= ... rss_kb= gcs= maxpause_us= ... check=
package main

import (
	"fmt"
	"os"
	"strconv"

	"gcrtbench/benchstat"
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
	st := benchstat.Start()
	total := bottomUp(maxDepth + 1).check()
	st.Poll()
	longLived := bottomUp(maxDepth)
	for d := minDepth; d <= maxDepth; d += 2 {
		iters := 1 << (maxDepth - d + minDepth)
		c := 0
		for i := 0; i < iters; i++ {
			c += bottomUp(d).check()
		}
		total += c
		st.Poll()
	}
	total += longLived.check()
	fmt.Printf("RESULT bench=binarytrees impl=go depth=%d%s check=%d\n", maxDepth, st.Tail(), total)
}
