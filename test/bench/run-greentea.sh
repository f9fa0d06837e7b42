#!/bin/sh
# Span-local marking (GODEBUG=gcgreentea=1) against object-at-a-time marking (=0) and the
# adaptive mode (gcgreentea=2: span-local unless spans average under 2 objects per visit),
# same binaries, the modes (GT_MODES, default "0 1 auto") interleaved: binary-trees, GCBench, the random graph
# (randgraph.c) and the pause probe's 1 GiB heap. Per run, from GODEBUG=gctrace=1: cycles,
# mark CPU (the assist + background + idle fields of the "ms cpu" group, summed over the
# run's cycles) per cycle and per MB marked; wall and process CPU from /usr/bin/time.
# Prints medians with min..max of GT_RUNS (5) runs per mode (rotating which goes first); every run's line goes to
# $dir/greentea-runs.txt. GT_BENCHES picks a subset (default "bt gcbench randgraph pause").
# usage: sh test/bench/run-greentea.sh [build/bench]
dir=${1:-build/bench}
RUNS=${GT_RUNS:-5}; BENCHES=${GT_BENCHES:-"bt gcbench randgraph pause"}; MODES=${GT_MODES:-"0 1 auto"}
unset GOGC GOMEMLIMIT GODEBUG GOMAXPROCS GC_MARKERS
raw="$dir/greentea-runs.txt"
: > "$raw"
cmd_of() {
  case $1 in
    bt) echo "$dir/binarytrees_gcrt depth=${BT_DEPTH:-20} quiet" ;;
    gcbench) echo "$dir/gcbench_gcrt quiet" ;;
    randgraph) echo "$dir/randgraph_gcrt ${RG_ARGS:-}" ;;
    pause) echo "$dir/pause_gcrt live_mib=${PAUSE_LIVE_MIB:-1024} seconds=${PAUSE_SECONDS:-5}" ;;
  esac
}
# one B M: run bench B in mode M once; appends "bench=B gt=M cycles= markcpu_ms= ..." to $raw
one() {
  err=$(mktemp)
  gd=gctrace=1,gcgreentea=$([ "$2" = auto ] && echo 2 || echo $2)
  /usr/bin/time -f "TIME %e %U %S" env GODEBUG=$gd $(cmd_of "$1") >/dev/null 2>"$err"
  awk -v b="$1" -v m="$2" '
    /^gc [0-9]+ @/ {
      for (i = 1; i <= NF; i++) if ($i == "clock,") { split($(i + 1), p, "+"); split(p[2], q, "/") }
      for (i = 1; i <= NF; i++) if ($i == "cpu,") { split($(i + 1), h, "->") }
      n++; cpu += q[1] + q[2] + q[3]; mb += h[3]
    }
    /^TIME / { wall = $2; pcpu = $3 + $4 }
    END { printf "bench=%s gt=%s cycles=%d markcpu_ms=%.1f percycle_ms=%.3f us_per_mb=%.1f wall_s=%.2f cpu_s=%.2f\n",
                 b, m, n, cpu, n ? cpu / n : 0, mb ? cpu * 1000 / mb : 0, wall, pcpu }' "$err" >> "$raw"
  grep -q "fatal\|Command exited" "$err" && { echo "run failed: $1 gt=$2" >&2; cat "$err" >&2; }
  rm -f "$err"
}
med() { sort -n | awk '{a[NR]=$1} END {if (NR) printf "%s (%s..%s)", a[int((NR+1)/2)], a[1], a[NR]; else print "NA"}'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
for b in $BENCHES; do
  i=0
  while [ "$i" -lt "$RUNS" ]; do
    set -- $MODES; r=$((i % $#)); while [ "$r" -gt 0 ]; do m=$1; shift; set -- "$@" "$m"; r=$((r - 1)); done
    for m in "$@"; do one "$b" "$m"; done
    i=$((i + 1))
  done
done
echo "== span-local marking: gcgreentea=$MODES (auto: 2), medians (min..max) of $RUNS runs each, interleaved =="
printf '%-10s %-3s %-18s %-24s %-24s %-20s %-20s\n' bench gt cycles "mark cpu/cycle ms" "mark cpu us/MB marked" "wall s" "cpu s"
for b in $BENCHES; do
  for m in $MODES; do
    rows=$(grep "^bench=$b gt=$m " "$raw")
    printf '%-10s %-3s %-18s %-24s %-24s %-20s %-20s\n' "$b" "$m" \
      "$(echo "$rows" | field cycles | med)" "$(echo "$rows" | field percycle_ms | med)" \
      "$(echo "$rows" | field us_per_mb | med)" "$(echo "$rows" | field wall_s | med)" "$(echo "$rows" | field cpu_s | med)"
  done
done
