// pause: the pause probe of test/bench/pause.c, in Go, for run-peers.sh. A live heap of
// 64-byte nodes (six pointers and two words; live_mib, default 1024) in 4096 chains, one
// goroutine churning garbage and now and then replacing the second node of a chain (the
// compiler's write barrier stands for GC_STORE), one goroutine locked to its own thread
// sleeping 1 ms at a time in nanosleep(2), as pause.c's sleeper thread does, recording how
// late it wakes. Before the sleeper counts, the churner runs until warm_gcs collections have
// finished and the heap (HeapSys) grew by no more than 1% from one to the next, at most 60 s.
// MemStats is read every 20 s while measuring and at the end (ReadMemStats stops the world,
// as gcrt's gc_read_memstats; the ring holds the last 256 cycles). maxpause_us is the longest
// PauseNs entry of the measured phase (a cycle's stops summed, as gcrt's pause_ns).
//
// usage: pause [live_mib=N] [seconds=S] [warm_gcs=N]
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gcrtbench/benchstat"
)

type node struct {
	next         [6]*node
	value, check uint64
}

const nchains = 4096

var (
	chains        []*node
	nodesPerChain int
	stop          atomic.Bool
	recording     atomic.Bool
	churned       atomic.Uint64
	late          []time.Duration
)

func mix(x uint64) uint64 {
	x ^= x >> 31
	x *= 0x7fb5d329728ea185
	return x ^ (x >> 27)
}

// newNode is not inlined, so that every node is a heap allocation that cannot be elided.
//
//go:noinline
func newNode(v uint64) *node {
	return &node{value: v, check: mix(v)}
}

func build(liveMiB int) {
	total := liveMiB << 20 / 64
	nodesPerChain = total / nchains
	chains = make([]*node, nchains)
	for c := 0; c < nchains; c++ {
		var head *node
		for i := 0; i < nodesPerChain; i++ {
			n := newNode(uint64(c*nodesPerChain + i))
			n.next[0] = head
			head = n
		}
		chains[c] = head
	}
}

func churn(wg *sync.WaitGroup) {
	defer wg.Done()
	r, n := uint64(88172645463325252), uint64(0)
	for !stop.Load() {
		for i := 0; i < 1024; i++ {
			newNode(r)
			r ^= r << 13
			r ^= r >> 7
			r ^= r << 17
		}
		head := chains[r%nchains]
		if head != nil && head.next[0] != nil {
			fresh := newNode(head.next[0].value)
			fresh.next[0] = head.next[0].next[0]
			head.next[0] = fresh
		}
		n += 1024
		churned.Store(n)
	}
}

func sleeper(wg *sync.WaitGroup) {
	defer wg.Done()
	runtime.LockOSThread()
	ts := syscall.Timespec{Nsec: 1000000}
	for !stop.Load() {
		t0 := time.Now()
		syscall.Nanosleep(&ts, nil)
		d := time.Since(t0) - time.Millisecond
		if d < 0 {
			d = 0
		}
		if recording.Load() && len(late) < cap(late) {
			late = append(late, d)
		}
	}
}

func minflt() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Minflt
}

func main() {
	liveMiB := benchstat.Arg("live_mib", 1024)
	seconds := benchstat.Arg("seconds", 10)
	warmGCs := benchstat.Arg("warm_gcs", 3)
	t0 := time.Now()
	build(liveMiB)
	tb := time.Now()
	late = make([]time.Duration, 0, seconds*2000+1000)
	for i := 0; i < cap(late); i++ { // fault the record in now, not from the sleeper
		late = append(late, 1)
	}
	late = late[:0]
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g0, lastGC, lastHeap := ms.NumGC, ms.NumGC, ms.HeapSys
	var wg sync.WaitGroup
	wg.Add(2)
	go churn(&wg)
	go sleeper(&wg)
	for i := 0; i < 600; i++ {
		time.Sleep(100 * time.Millisecond)
		runtime.ReadMemStats(&ms)
		if ms.NumGC == lastGC {
			continue
		}
		steady := ms.HeapSys <= lastHeap+lastHeap/100
		lastGC, lastHeap = ms.NumGC, ms.HeapSys
		if int(ms.NumGC-g0) >= warmGCs && steady {
			break
		}
	}
	tw := time.Now()
	warmDone := ms.NumGC - g0
	st := benchstat.Start() // count only the pauses of the measured phase
	churn0 := churned.Load()
	f0 := minflt()
	recording.Store(true)
	for s := 0; s < seconds*10; s++ {
		time.Sleep(100 * time.Millisecond)
		if s%200 == 199 {
			st.Poll()
		}
	}
	f1 := minflt()
	stop.Store(true)
	wg.Wait()
	gcTail := st.GCTail()
	var bad, seen uint64
	for c := 0; c < nchains; c++ {
		for n := chains[c]; n != nil; n = n.next[0] {
			seen++
			if n.check != mix(n.value) {
				bad++
			}
		}
	}
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	var p99, p999, mx time.Duration
	if k := len(late); k > 0 {
		p99, p999, mx = late[int(float64(k)*0.99)], late[int(float64(k)*0.999)], late[k-1]
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	fmt.Printf("RESULT bench=pause impl=go live_mib=%d build_s=%.2f warm_s=%.2f warm_gcs=%d seconds=%d churned_m=%.1f wakeups=%d "+
		"minflt_per_s=%.0f late_p99_us=%.1f late_p999_us=%.1f late_max_us=%.1f nodes=%d bad=%d rss_kb=%d%s\n",
		liveMiB, tb.Sub(t0).Seconds(), tw.Sub(tb).Seconds(), warmDone, seconds, float64(churned.Load()-churn0)/1e6, len(late),
		float64(f1-f0)/float64(seconds), us(p99), us(p999), us(mx), seen, bad, benchstat.MaxRSSKiB(), gcTail)
	if bad != 0 {
		os.Exit(1)
	}
}
