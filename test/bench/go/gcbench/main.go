// gcbench: the same workload as test/bench/gcbench.c (GCBench, Ellis/Kovac/Boehm), in Go, for
// run-peers.sh: stretch tree of depth 18 (dropped), a long-lived depth-16 tree built top-down
// and a long-lived array of 500000 float64 (pointer-free), then for depths 4, 6, ..., 16
// NumIters(d) = 2*TreeSize(18)/TreeSize(d) temporary trees top-down and as many bottom-up,
// each dropped right after it is built. Nodes are {left, right, i, j int32}: 24 bytes, as in C.
// Timing starts before the stretch tree; the checksum is the C program's (1004848 at scale 1).
//
// usage: gcbench [scale=K] [quiet]
//
//	prints: RESULT bench=gcbench impl=go scale= wall_ms= cpu_ms= ... rss_kb= gcs= maxpause_us= ... check= ok=
package main

import (
	"fmt"
	"os"

	"gcrtbench/benchstat"
)

type node struct {
	left, right *node
	i, j        int32
}

const (
	stretchDepth   = 18
	longLivedDepth = 16
	arraySize      = 500000
	minDepth       = 4
	maxDepth       = 16
)

var quiet bool

func say(format string, a ...interface{}) {
	if !quiet {
		fmt.Printf(format, a...)
	}
}

func treeSize(depth int) int { return (1 << (depth + 1)) - 1 }

func numIters(depth int) int { return 2 * treeSize(stretchDepth) / treeSize(depth) }

// populate (top-down): give n two fresh children and recurse into them.
func populate(depth int, n *node) {
	if depth <= 0 {
		return
	}
	depth--
	n.left = &node{}
	n.right = &node{}
	populate(depth, n.left)
	populate(depth, n.right)
}

// makeTree (bottom-up): both subtrees first, then the parent that links them.
func makeTree(depth int) *node {
	if depth <= 0 {
		return &node{}
	}
	l := makeTree(depth - 1)
	r := makeTree(depth - 1)
	return &node{left: l, right: r}
}

func countNodes(n *node) int {
	c := 0
	for n != nil { // recurse left, iterate right
		c += 1 + countNodes(n.left)
		n = n.right
	}
	return c
}

func timeConstruction(depth, scale int, st *benchstat.Stat) int {
	iters := numIters(depth) * scale
	check := 0
	say("Creating %d trees of depth %d\n", iters, depth)
	for i := 0; i < iters; i++ {
		t := &node{}
		populate(depth, t)
		if i == iters-1 {
			check += countNodes(t)
		}
	}
	for i := 0; i < iters; i++ {
		t := makeTree(depth)
		if i == iters-1 {
			check += countNodes(t)
		}
	}
	st.Poll()
	return check
}

func main() {
	scale := benchstat.Arg("scale", 1)
	for _, a := range os.Args[1:] {
		quiet = quiet || a == "quiet"
	}
	if scale < 1 {
		fmt.Fprintln(os.Stderr, "scale must be >= 1")
		os.Exit(2)
	}
	say("Garbage Collector Test\n Stretching memory with a binary tree of depth %d\n", stretchDepth)
	st := benchstat.Start()
	check := countNodes(makeTree(stretchDepth))

	say(" Creating a long-lived binary tree of depth %d\n", longLivedDepth)
	longLived := &node{}
	populate(longLivedDepth, longLived)

	say(" Creating a long-lived array of %d doubles\n", arraySize)
	array := make([]float64, arraySize)
	for i := 0; i < arraySize/2; i++ {
		array[i] = 1.0 / float64(i)
	}
	st.Poll()

	for d := minDepth; d <= maxDepth; d += 2 {
		check += timeConstruction(d, scale, st)
	}

	ok := longLived != nil && array[1000] == 1.0/1000
	check += countNodes(longLived)
	if !ok {
		fmt.Fprintln(os.Stderr, "Failed")
	}
	okv := 0
	if ok {
		okv = 1
	}
	fmt.Printf("RESULT bench=gcbench impl=go scale=%d%s check=%d ok=%d\n", scale, st.Tail(), check, okv)
	if !ok {
		os.Exit(1)
	}
}
