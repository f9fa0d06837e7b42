// memlimit: the same workload as test/bench/memlimit.c: a live set of liveMiB MiB of 1 KiB
// objects holding pointers, then churnMiB MiB of short-lived objects of 16 B .. 2 KiB (every
// 64th 32 KiB when big is 1), half pointer-bearing and half pointer-free. Samples
// Sys - HeapReleased and HeapAlloc every 16 MiB of churn.
//
// usage: memlimit [liveMiB churnMiB [big]]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

type obj struct {
	id  int
	pad [127]*byte
}

var sinkP []*byte
var sinkB []byte

func main() {
	liveMiB, churnMiB, big := 100, 4096, 1
	if len(os.Args) > 2 {
		liveMiB, _ = strconv.Atoi(os.Args[1])
		churnMiB, _ = strconv.Atoi(os.Args[2])
	}
	if len(os.Args) > 3 {
		big, _ = strconv.Atoi(os.Args[3])
	}
	n := liveMiB << 10
	live := make([]*obj, n)
	for i := range live {
		live[i] = &obj{id: i}
	}
	t0 := time.Now()
	var r uint32 = 1
	done, next := 0, 0
	var peakMapped, peak uint64
	var ms runtime.MemStats
	for done < churnMiB<<20 {
		r = r*1103515245 + 12345
		sz := 16 + int((r>>16)%2032)
		if big == 1 && (r>>10)%64 == 0 {
			sz = 32 << 10
		}
		if r&1 == 1 {
			sinkP = make([]*byte, sz/8+1)
		} else {
			sinkB = make([]byte, sz)
		}
		done += sz
		if done >= next {
			runtime.ReadMemStats(&ms)
			if m := ms.Sys - ms.HeapReleased; m > peakMapped {
				peakMapped = m
			}
			if done > (churnMiB<<20)/4 && ms.HeapAlloc > peak {
				peak = ms.HeapAlloc
			}
			next += 16 << 20
		}
	}
	wall := time.Since(t0)
	ok := 1
	for i := range live {
		if live[i].id != i {
			ok = 0
		}
	}
	runtime.ReadMemStats(&ms)
	liveB := float64(n) * (1024 + 8)
	fmt.Printf("RESULT bench=memlimit impl=go wall_ms=%.1f peak_mapped_kb=%d peak_kb=%d ratio=%.3f gcs=%d live_ok=%d\n",
		float64(wall.Microseconds())/1000, peakMapped>>10, peak>>10, float64(peak)/liveB, ms.NumGC, ok)
}
