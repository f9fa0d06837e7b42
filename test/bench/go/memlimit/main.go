// memlimit: the same workload as test/bench/memlimit.c: a live set of liveMiB MiB of 1 KiB
// objects holding pointers, then churnMiB MiB of short-lived objects of 16 B .. 2 KiB (every
// 64th 32 KiB), half pointer-bearing and half pointer-free. Run with GOGC=off
// GOMEMLIMIT=256MiB. Samples Sys - HeapReleased every 16 MiB of churn.
//
// usage: memlimit [liveMiB] [churnMiB]
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
	liveMiB, churnMiB := 100, 4096
	if len(os.Args) > 2 {
		liveMiB, _ = strconv.Atoi(os.Args[1])
		churnMiB, _ = strconv.Atoi(os.Args[2])
	}
	n := liveMiB << 10
	live := make([]*obj, n)
	for i := range live {
		live[i] = &obj{id: i}
	}
	t0 := time.Now()
	var r uint32 = 1
	done, next := 0, 0
	var peak uint64
	var ms runtime.MemStats
	for done < churnMiB<<20 {
		r = r*1103515245 + 12345
		sz := 16 + int((r>>16)%2032)
		if (r>>10)%64 == 0 {
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
			if m := ms.Sys - ms.HeapReleased; m > peak {
				peak = m
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
	fmt.Printf("RESULT bench=memlimit impl=go wall_ms=%.1f peak_mapped_kb=%d gcs=%d live_ok=%d\n",
		float64(wall.Microseconds())/1000, peak>>10, ms.NumGC, ok)
}
