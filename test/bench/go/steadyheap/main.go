// steadyheap: the same workload as test/bench/steadyheap.c: liveMiB MiB of 1 KiB pointer
// objects kept, churnMiB MiB of 16 B .. 2 KiB objects dropped; HeapAlloc sampled every MiB
// of churn after the first quarter; prints the peak over the live heap.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
)

type obj struct{ pad [128]*byte }

var sinkP []*byte
var sinkB []byte

func main() {
	liveMiB, churnMiB := 64, 2048
	if len(os.Args) > 2 {
		liveMiB, _ = strconv.Atoi(os.Args[1])
		churnMiB, _ = strconv.Atoi(os.Args[2])
	}
	n := liveMiB << 10
	live := make([]*obj, n)
	for i := range live {
		live[i] = &obj{}
	}
	var r uint32 = 1
	done, next := 0, (churnMiB<<20)/4
	var peak uint64
	overGoal := 0.0
	var lastGC uint32
	var ms runtime.MemStats
	for done < churnMiB<<20 {
		r = r*1103515245 + 12345
		sz := 16 + int((r>>16)%2032)
		if r&1 == 1 {
			sinkP = make([]*byte, sz/8+1)
		} else {
			sinkB = make([]byte, sz)
		}
		done += sz
		if done >= next {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak {
				peak = ms.HeapAlloc
			}
			if g := float64(ms.HeapAlloc) / float64(ms.NextGC); ms.NumGC == lastGC && g > overGoal {
				overGoal = g
			}
			lastGC = ms.NumGC
			next += 1 << 20
		}
	}
	runtime.ReadMemStats(&ms)
	liveB := float64(n) * (1024 + 8)
	fmt.Printf("RESULT bench=steadyheap impl=go live_kb=%.0f peak_kb=%d ratio=%.3f peak_over_goal=%.3f gcs=%d\n",
		liveB/1024, peak>>10, float64(peak)/liveB, overGoal, ms.NumGC)
	runtime.KeepAlive(live)
}
