#!/bin/sh
# Pools (issue 6): gc_pool get+put pairs per thread with 1 and 2 threads, next to glibc
# malloc/free of 64 bytes, gc_alloc(64) and bdwgc's GC_MALLOC(64) (both with collection),
# all measured in the same run, interleaved (one run of each per round, POOL_RUNS rounds,
# default 5); medians of ns per pair per thread. Target: pool <= 15 ns per pair per thread,
# and with 2 threads no slower per thread than with 1 (scaling). Writes $dir/report-pool.txt.
# Knobs: POOL_RUNS (5), POOL_N (pairs per thread per run, 20000000).
dir=${1:-build/bench}
RUNS=${POOL_RUNS:-5}; N=${POOL_N:-20000000}
unset GOGC GOMEMLIMIT GODEBUG GOMAXPROCS GC_MARKERS
out="$dir/report-pool.txt"
raw="$dir/pool-results.txt"
: > "$raw"
med() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "NA"}'; }
specs="pool_gcrt:pool pool_gcrt:malloc pool_gcrt:alloc pool_bdwgc:alloc"
r=1
while [ $r -le "$RUNS" ]; do
  for th in 1 2; do
    for s in $specs; do
      bin=${s%%:*}; mode=${s#*:}
      [ -x "$dir/$bin" ] || continue
      "$dir/$bin" mode=$mode threads=$th n=$N | grep '^RESULT' >> "$raw"
    done
  done
  r=$((r + 1))
done
get() { # impl mode threads [field] -> median of the field (ns_per_pair)
  grep " impl=$1 mode=$2 threads=$3 " "$raw" | tr ' ' '\n' | sed -n "s/^${4:-ns_per_pair}=//p" | med
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "NA" }'; }
{
echo "== pools: ns per get+put pair per thread (64-byte objects), median of $RUNS, n=$N per thread =="
echo "(wall: each thread's elapsed time; cpu: its own CPU time, not inflated by waiting for a CPU)"
printf '%-34s %10s %10s %8s %10s %10s %8s\n' "" "wall 1t" "wall 2t" "2t/1t" "cpu 1t" "cpu 2t" "2t/1t"
for s in "gcrt pool gc_pool_get+gc_pool_put" "gcrt malloc glibc_malloc+free" "gcrt alloc gc_alloc(64)+drop" \
         "bdwgc alloc GC_MALLOC(64)+drop"; do
  set -- $s
  a=$(get "$1" "$2" 1); b=$(get "$1" "$2" 2); c=$(get "$1" "$2" 1 cpu_ns); d=$(get "$1" "$2" 2 cpu_ns)
  printf '%-34s %10s %10s %8s %10s %10s %8s\n' "$3" "$a" "$b" "$(ratio "$a" "$b")" "$c" "$d" "$(ratio "$c" "$d")"
done
p1=$(get gcrt pool 1); p2=$(get gcrt pool 2); m1=$(get gcrt malloc 1)
c1=$(get gcrt pool 1 cpu_ns); c2=$(get gcrt pool 2 cpu_ns)
echo "pool / malloc+free, 1 thread, wall: $(ratio "$m1" "$p1")"
met() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= 15 && b <= 15) ? "met" : "NOT met" }'; }
echo "target: pool <= 15 ns per pair per thread: wall 1t $p1, 2t $p2 -> $(met "$p1" "$p2");" \
  "cpu 1t $c1, 2t $c2 -> $(met "$c1" "$c2"); scaling (cpu 2t/1t, 1.00 = perfect): $(ratio "$c1" "$c2")"
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(getconf _NPROCESSORS_ONLN) CPUs" \
  "(2-thread figures need 2 idle CPUs to mean anything)"
} | tee "$out"
