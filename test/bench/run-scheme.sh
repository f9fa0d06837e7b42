#!/bin/sh
# The Scheme interpreter on gcrt (build/scheme) against the same interpreter built on bdwgc
# (build/scheme-bdwgc, -DSCHEME_BDWGC): GCBench and binary-trees in Scheme
# (examples/scheme/bench), full sizes. Each configuration runs SCHEME_RUNS (9) times,
# interleaved; the report gives the median wall time (measured around the whole process,
# start-up included: a few ms), the median peak RSS, and the gcrt/bdwgc time ratio (target
# for GCBench: <= 0.80); then the median CPU time of all threads, the number of
# collections (--gc-summary), and how many CPUs other processes kept busy during the runs
# (/proc/stat), since gcrt's wall time depends on a second CPU being free for its
# concurrent marking. Each run's output is checked against the expected result. Writes
# $dir/report-scheme.txt. Usage: run-scheme.sh [bench-dir] (default build/bench; the
# interpreters are looked up in its parent directory). BENCH_NICE=N (root, e.g. -10) runs each
# process in a session of its own with autogroup nice N, as run.sh does, so that other
# sessions' work on a shared machine disturbs the timings less.
set -u
dir=${1:-build/bench}
bin=$(cd "$dir/.." && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)/examples/scheme/bench
RUNS=${SCHEME_RUNS:-9}   # this VM's run-to-run spread is +-20%: nine interleaved pairs
GCB_DEPTH=${SCHEME_GCBENCH_DEPTH:-16}
BT_DEPTH=${SCHEME_BT_DEPTH:-16}
unset GOGC GOMEMLIMIT GODEBUG GOMAXPROCS GC_MARKERS GC_NPROCS GC_INITIAL_HEAP_SIZE GC_MAXIMUM_HEAP_SIZE \
      GC_FREE_SPACE_DIVISOR GC_ENABLE_INCREMENTAL GC_PRINT_STATS GC_DONT_GC 2>/dev/null
NICE=${BENCH_NICE:-0}
if [ "$NICE" != 0 ] && ! { [ -w /proc/self/autogroup ] && setsid -w sh -c "echo $NICE > /proc/self/autogroup" 2>/dev/null; }; then
  echo "run-scheme.sh: BENCH_NICE=$NICE not permitted, running at normal priority" >&2; NICE=0
fi
prio() { if [ "$NICE" != 0 ]; then setsid -w sh -c "echo $NICE > /proc/self/autogroup; exec \"\$@\"" sh "$@"; else "$@"; fi; }
mkdir -p "$dir/logs"
out="$dir/report-scheme.txt"
res="$dir/results-scheme.txt"
: > "$res"
med() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "NA"}'; }
# Busy CPU time of the whole machine (user, nice, system, irq, softirq), in clock ticks.
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat; }

for impl in scheme scheme-bdwgc; do
  [ -x "$bin/$impl" ] || { echo "run-scheme.sh: $bin/$impl not built (make $bin/$impl)" >&2; exit 1; }
done

# Expected output of the full-size runs: the benchmark's own checks plus fixed counts.
check() {   # prog logfile
  case $1 in
    gcbench) grep -q '^GCBench: ok$' "$2" ;;
    binary-trees) grep -q "^long lived tree of depth $BT_DEPTH	 check: $(( (1 << (BT_DEPTH + 1)) - 1 ))\$" "$2" ;;
  esac
}

r=1
while [ "$r" -le "$RUNS" ]; do
  for prog in gcbench binary-trees; do
    depth=$GCB_DEPTH; [ $prog = binary-trees ] && depth=$BT_DEPTH
    for impl in scheme scheme-bdwgc; do
      log="$dir/logs/$impl-$prog.$r.log"
      b0=$(busy)
      prio /usr/bin/time -f 'TIME %e %M %U %S' -o "$log.time" "$bin/$impl" --gc-summary "$src/$prog.scm" "$depth" > "$log" 2>&1
      rc=$?
      b1=$(busy)
      ok=1
      [ $rc -eq 0 ] && check $prog "$log" || ok=0
      set -- $(cat "$log.time" | grep '^TIME')
      # CPU time of all the process's threads; what else ran meanwhile, in CPUs on average
      cpu=$(awk -v u="$4" -v s="$5" 'BEGIN { printf "%.2f", u + s }')
      other=$(awk -v b0="$b0" -v b1="$b1" -v c="$cpu" -v w="$2" -v hz="$HZ" \
              'BEGIN { o = (b1 - b0) / hz - c; if (o < 0) o = 0; printf "%.2f", (w > 0 ? o / w : 0) }')
      ngc=$(sed -n 's/^gc summary[^:]*: \([0-9]*\) collections.*/\1/p' "$log")
      echo "prog=$prog impl=$impl run=$r wall_s=$2 rss_kb=$3 cpu_s=$cpu other_cpus=$other gcs=${ngc:-NA} ok=$ok" >> "$res"
      [ $ok -eq 1 ] || echo "run-scheme.sh: $impl $prog run $r failed (exit $rc), see $log" >&2
    done
  done
  r=$((r + 1))
done

field() { sed -n "s/.*prog=$1 impl=$2 .*$3=\([^ ]*\).*/\1/p" "$res"; }
{
  echo "== Scheme interpreter: gcrt (build/scheme) vs bdwgc (build/scheme-bdwgc), median of $RUNS$([ "$NICE" != 0 ] && echo ", autogroup nice $NICE") =="
  for prog in gcbench binary-trees; do
    depth=$GCB_DEPTH; [ $prog = binary-trees ] && depth=$BT_DEPTH
    g=$(field $prog scheme wall_s | med); b=$(field $prog scheme-bdwgc wall_s | med)
    gr=$(field $prog scheme rss_kb | med); br=$(field $prog scheme-bdwgc rss_kb | med)
    bad=$(grep -c "prog=$prog .*ok=0" "$res")
    ratio=$(awk -v a="$g" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "NA" }')
    # the median of the per-run ratios (each gcrt run against the bdwgc run beside it)
    field $prog scheme wall_s > "$res.g"; field $prog scheme-bdwgc wall_s > "$res.b"
    pr=$(paste -d' ' "$res.g" "$res.b" | awk '$2 > 0 { print $1 / $2 }' | med); rm -f "$res.g" "$res.b"
    printf '%-13s depth %-2s gcrt %6s s %7s KiB RSS | bdwgc %6s s %7s KiB RSS | time ratio %s (per-run median %.2f)%s%s\n' \
      $prog "$depth" "$g" "$gr" "$b" "$br" "$ratio" "${pr:-0}" \
      "$([ $prog = gcbench ] && awk -v r="$ratio" 'BEGIN { printf (r <= 0.80 ? " (target <= 0.80: met)" : " (target <= 0.80: NOT met)") }')" \
      "$([ "$bad" -gt 0 ] && echo " FAILED RUNS: $bad")"
    # CPU time (all threads: gcrt marks concurrently, so its CPU exceeds its wall time when
    # a CPU is free), collections, and the load other processes put on the machine during
    # the runs: wall ratios from a machine whose other CPU was busy say little about gcrt.
    gc_=$(field $prog scheme cpu_s | med); bc_=$(field $prog scheme-bdwgc cpu_s | med)
    gn=$(field $prog scheme gcs | med); bn=$(field $prog scheme-bdwgc gcs | med)
    ol=$(field $prog '[^ ]*' other_cpus | med); om=$(field $prog '[^ ]*' other_cpus | sort -n | tail -1)
    printf '%-13s          gcrt cpu %5s s, %4s GCs | bdwgc cpu %5s s, %4s GCs | cpu ratio %s | other load: median %s CPUs, max %s%s\n' \
      "" "$gc_" "$gn" "$bc_" "$bn" "$(awk -v a="$gc_" -v b="$bc_" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "NA" }')" \
      "$ol" "$om" "$(awk -v o="$ol" 'BEGIN { if (o > 0.25) printf " (busy machine: wall ratios unreliable)" }')"
  done
} | tee "$out"
