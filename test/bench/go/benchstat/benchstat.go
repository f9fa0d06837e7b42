// Package benchstat gives the Go benchmark programs the figures test/bench/bench.h gives the
// C ones, in the same RESULT fields: wall time, process CPU time and peak RSS (getrusage, so
// the collector's own threads count, as in C), the number of collections and the longest
// pause. Go keeps only the last 256 pauses (MemStats.PauseNs, one entry per cycle: the sum
// of its stops, as gcrt's pause_ns), so the programs call Poll at their phase boundaries,
// where the C programs call gcstat_poll, and the pauses that fell out of the ring between
// two polls are counted in pauses_lost.
package benchstat

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Stat: one measured phase, from Start to Tail.
type Stat struct {
	ms             runtime.MemStats
	seen, base     uint32
	maxPause, lost uint64
	basePauseTotal uint64
	t0             time.Time
	user0, sys0    time.Duration
}

func cpu() (user, sys time.Duration) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// MaxRSSKiB: the process's peak resident set (ru_maxrss, KiB on Linux).
func MaxRSSKiB() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss
}

// Start begins a measured phase: the pauses of earlier collections are left out.
func Start() *Stat {
	s := &Stat{}
	s.Poll()
	s.maxPause, s.lost = 0, 0
	s.base = s.ms.NumGC
	s.basePauseTotal = s.ms.PauseTotalNs
	s.user0, s.sys0 = cpu()
	s.t0 = time.Now()
	return s
}

// Poll folds the pauses of the collections completed since the last poll into the maximum.
// ReadMemStats stops the world, as gcrt's gc_read_memstats does.
func (s *Stat) Poll() {
	runtime.ReadMemStats(&s.ms)
	n, from := s.ms.NumGC, s.seen
	if n-from > 256 {
		s.lost += uint64(n - from - 256)
		from = n - 256
	}
	for g := from; g < n; g++ { // collection g+1 sits at index g % 256
		if p := s.ms.PauseNs[g%256]; p > s.maxPause {
			s.maxPause = p
		}
	}
	s.seen = n
}

// MemStats: the figures of the last poll.
func (s *Stat) MemStats() *runtime.MemStats { return &s.ms }

// Tail polls and returns the RESULT fields of the phase so far (with a leading space):
// wall_ms cpu_ms user_ms sys_ms rss_kb gcs maxpause_us pausetotal_ms pauses [pauses_lost].
func (s *Stat) Tail() string {
	wall := time.Since(s.t0)
	u, y := cpu()
	s.Poll()
	u -= s.user0
	y -= s.sys0
	ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
	t := fmt.Sprintf(" wall_ms=%.1f cpu_ms=%.1f user_ms=%.1f sys_ms=%.1f rss_kb=%d", ms(wall), ms(u+y), ms(u), ms(y), MaxRSSKiB())
	t += s.GCTail()
	return t
}

// GCTail: only the collector's fields, for programs that time themselves.
func (s *Stat) GCTail() string {
	s.Poll()
	gcs := s.ms.NumGC - s.base
	t := fmt.Sprintf(" gcs=%d maxpause_us=%.1f pausetotal_ms=%.2f pauses=%d", gcs, float64(s.maxPause)/1e3,
		float64(s.ms.PauseTotalNs-s.basePauseTotal)/1e6, gcs)
	if s.lost > 0 {
		t += fmt.Sprintf(" pauses_lost=%d", s.lost)
	}
	return t
}

// Arg reads "key=value" from the command line, as bench.h's arg_long; dflt when absent.
func Arg(key string, dflt int) int {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, key+"=") {
			n, err := strconv.Atoi(a[len(key)+1:])
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: not a number: %s\n", key, a)
				os.Exit(2)
			}
			return n
		}
	}
	return dflt
}
