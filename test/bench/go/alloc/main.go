// alloc: the same loop as test/bench/alloc.c with gc=1, in Go, for run-peers.sh: each of
// `threads` goroutines allocates n objects whose size cycles over 16, 24, ..., 128 bytes
// (pointer-bearing, as gc_alloc and GC_MALLOC objects are: slices of pointers), writes the
// first word of each and keeps the last 256 in a ring in a global, so each goroutine's live
// set is its ring and everything older is garbage. An untimed warm-up of n/8 allocations
// first; then all goroutines start together. Run with GOMAXPROCS=threads.
//
// usage: alloc [threads=N] [n=COUNT]
//
//	prints: RESULT bench=alloc impl=go threads= n= gc=1 wall_ns= mallocs_s= rss_kb= gcs= maxpause_us= ...
package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	"gcrtbench/benchstat"
)

const (
	ring     = 256
	minSize  = 16
	maxSize  = 128
	sizeStep = 8
)

type worker struct {
	ring [ring]**uint64
	pos  int
	word uint64 // what the first word of each object points at
	wall time.Duration
	_    [64]byte // keep the workers' hot fields on separate cache lines
}

var workers [16]worker // a global: the rings are roots

func allocLoop(w *worker, n int) {
	size, r := minSize, w.pos
	for i := 0; i < n; i++ {
		o := make([]*uint64, size/8)
		o[0] = &w.word
		w.ring[r] = &o[0]
		r = (r + 1) & (ring - 1)
		size += sizeStep
		if size > maxSize {
			size = minSize
		}
	}
	w.pos = r
}

func main() {
	threads := benchstat.Arg("threads", 1)
	n := benchstat.Arg("n", 10000000)
	if threads < 1 || threads > len(workers) || n < 1 {
		fmt.Fprintf(os.Stderr, "usage: alloc [threads=1..%d] [n=COUNT]\n", len(workers))
		os.Exit(2)
	}
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(threads)
	done.Add(threads)
	for i := 0; i < threads; i++ {
		go func(w *worker) {
			allocLoop(w, n/8)
			ready.Done()
			<-start
			t0 := time.Now()
			allocLoop(w, n)
			w.wall = time.Since(t0)
			done.Done()
		}(&workers[i])
	}
	ready.Wait()
	st := benchstat.Start()
	close(start)
	// Go keeps the last 256 pauses and a run collects hundreds of times: fold them into
	// the maximum ten times a second while the workers run, as alloc.c's main thread does.
	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	for polling := true; polling; {
		select {
		case <-finished:
			polling = false
		case <-time.After(100 * time.Millisecond):
			st.Poll()
		}
	}
	var wall time.Duration
	for i := 0; i < threads; i++ {
		if workers[i].wall > wall {
			wall = workers[i].wall
		}
	}
	total := float64(n) * float64(threads)
	fmt.Printf("RESULT bench=alloc impl=go threads=%d n=%d gc=1 wall_ns=%.2f mallocs_s=%.2f rss_kb=%d%s\n", threads, n,
		float64(wall.Nanoseconds())/float64(n), total/float64(wall.Nanoseconds())*1e3, benchstat.MaxRSSKiB(), st.GCTail())
}
