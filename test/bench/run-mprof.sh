#!/bin/sh
# The heap profiler's overheads (issue 18), run by `make bench`: medians of RUNS (5)
# interleaved runs.
#  - the allocation fast path (alloc rounds, thread CPU ns per allocation, n=40000 x 500
#    rounds): gcrt as it was before the profiler (built from git into $dir/mprof-base),
#    this gcrt with GCRT_MEMPROFILERATE=0 and with the default rate (512 KiB).
#    Target: rate 0 within 1% of before.
#  - GCBench (scale 1) and binary-trees (depth BT_DEPTH, 18) at rate 0 and the default
#    rate: wall and CPU ms. Target: default within 3% of rate 0.
#  - one stack capture by libunwind and by frame pointers (depths 5, 10, 30), and a whole
#    sample (rate 1: every allocation sampled).
# Writes $dir/report-mprof.txt.
set -u
dir=${1:-build/bench}
RUNS=${RUNS:-5}; BT_DEPTH=${BT_DEPTH:-18}; ROUND_N=${ROUND_N:-40000}; ROUNDS=${ROUNDS:-500}
unset GOGC GOMEMLIMIT GODEBUG GOMAXPROCS GCRT_MEMPROFILE GCRT_MEMPROFILERATE
here=$(cd "$(dirname "$0")/../.." && pwd)
out="$dir/report-mprof.txt"
. "$here/test/bench/lib.sh"
# gcrt before the profiler: the parent of the commit that added runtime/mprof.c
base=$(build_before runtime/mprof.c "$dir/mprof-base" alloc_gcrt)

for f in alloc-base alloc-off alloc-on gcb-off gcb-on bt-off bt-on; do : > "$dir/mprof-$f.txt"; done
i=0; while [ $i -lt "$RUNS" ]; do
  a="threads=1 n=$ROUND_N rounds=$ROUNDS"
  [ -n "$base" ] && "$base/build/bench/alloc_gcrt" $a | grep '^RESULT' >> "$dir/mprof-alloc-base.txt"
  GCRT_MEMPROFILERATE=0 "$dir/alloc_gcrt" $a | grep '^RESULT' >> "$dir/mprof-alloc-off.txt"
  "$dir/alloc_gcrt" $a | grep '^RESULT' >> "$dir/mprof-alloc-on.txt"
  GCRT_MEMPROFILERATE=0 "$dir/gcbench_gcrt" quiet | grep '^RESULT' >> "$dir/mprof-gcb-off.txt"
  "$dir/gcbench_gcrt" quiet | grep '^RESULT' >> "$dir/mprof-gcb-on.txt"
  GCRT_MEMPROFILERATE=0 "$dir/binarytrees_gcrt" quiet depth="$BT_DEPTH" | grep '^RESULT' >> "$dir/mprof-bt-off.txt"
  "$dir/binarytrees_gcrt" quiet depth="$BT_DEPTH" | grep '^RESULT' >> "$dir/mprof-bt-on.txt"
  i=$((i + 1))
done
{
echo "== heap profiler overheads (medians of $RUNS interleaved runs; load $(cut -d' ' -f1-3 /proc/loadavg)) =="
ab=$(field cpu_ns < "$dir/mprof-alloc-base.txt" | med)
a0=$(field cpu_ns < "$dir/mprof-alloc-off.txt" | med)
a1=$(field cpu_ns < "$dir/mprof-alloc-on.txt" | med)
echo "alloc rounds (ns/alloc, thread CPU): before the profiler $ab, rate 0 $a0 ($(ratio "$a0" "$ab")x, target <= 1.01), default rate $a1 ($(ratio "$a1" "$ab")x)"
for b in gcb bt; do
  name=GCBench; [ $b = bt ] && name="binary-trees depth $BT_DEPTH"
  w0=$(field wall_ms < "$dir/mprof-$b-off.txt" | med); w1=$(field wall_ms < "$dir/mprof-$b-on.txt" | med)
  c0=$(field cpu_ms < "$dir/mprof-$b-off.txt" | med); c1=$(field cpu_ms < "$dir/mprof-$b-on.txt" | med)
  echo "$name: rate 0 wall $w0 ms cpu $c0 ms; default rate wall $w1 ms ($(ratio "$w1" "$w0")x) cpu $c1 ms ($(ratio "$c1" "$c0")x); target <= 1.03"
done
for d in 5 10 30; do "$dir/mprof_gcrt" depth=$d n=100000 | grep '^RESULT'; done
"$dir/mprof_gcrt" sample n=200000 | grep '^RESULT'
} | tee "$out"
