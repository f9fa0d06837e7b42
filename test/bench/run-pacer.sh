#!/bin/sh
# The pacer's figures (issue 5: GOGC, GOMEMLIMIT, scavenger), run by `make bench` after
# run-concurrent.sh, next to Go 1.19 running the same workloads with the same settings:
#   1. memory limit: 100 MiB live, GOGC=off, GOMEMLIMIT=256MiB, 4 GiB of churn
#      (memlimit.c / go/memlimit): peak RSS (target <= 1.05 x 256 MiB), time;
#   2. GOGC sweep 25/50/100/200/400 on binary-trees (binarytrees.c / go/binarytrees):
#      peak RSS and wall time, gcrt/Go ratios (target: within 10% of Go, or better);
#   3. steady live heap at GOGC=100 (memlimit.c / go/memlimit, 64 MiB live): from both runtimes'
#      gctrace lines, the heap at the end of each mark over its goal and over what the previous
#      cycle marked (Go's shape: about 2 at GOGC=100).
# Medians of PACER_RUNS (3) runs; peak RSS from /usr/bin/time (%M), the same for both.
# Go programs are built here with Go 1.19 offline (GOPROXY=off, GOFLAGS=-mod=mod; cache
# under $dir/go). Knobs: PACER_RUNS, PACER_BT_DEPTH (18), PACER_CHURN_MIB (4096).
# Writes $dir/report-pacer.txt.
dir=${1:-build/bench}
RUNS=${PACER_RUNS:-3}; DEPTH=${PACER_BT_DEPTH:-18}; CHURN=${PACER_CHURN_MIB:-4096}
GO=${GO:-/usr/lib/go-1.19/bin/go}
unset GOGC GOMEMLIMIT GODEBUG GOMAXPROCS GC_MARKERS
out="$dir/report-pacer.txt"
abs=$(cd "$dir" && pwd)
gobin="$abs/go"
mkdir -p "$gobin"
src=$(cd "$(dirname "$0")/go" && pwd)
for p in binarytrees memlimit; do
  (cd "$src" && GOFLAGS=-mod=mod GOPROXY=off GOCACHE="$gobin/cache" GOPATH="$gobin/path" \
     "$GO" build -o "$gobin/$p" "./$p") || { echo "run-pacer.sh: cannot build go/$p with $GO" >&2; exit 1; }
done

med() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "NA"}'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
# timed FILE cmd...: run with /usr/bin/time; appends "RESULT ... rss_peak_kb= elapsed_s=" to FILE
timed() {
  _f=$1; shift
  /usr/bin/time -f "TIME %M %e" -o "$abs/.time" "$@" > "$abs/.out" 2>"$abs/.err" || { echo "failed: $*" >&2; cat "$abs/.err" >&2; }
  set -- $(cat "$abs/.time" | grep '^TIME')
  echo "$(grep '^RESULT' "$abs/.out") rss_peak_kb=$2 elapsed_s=$3" >> "$_f"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "NA" }'; }
repeat() { _n=$1; shift; _i=0; while [ $_i -lt "$_n" ]; do "$@"; _i=$((_i + 1)); done; }

{
echo "== memory limit: 100 MiB live, GOGC=off GOMEMLIMIT=256MiB, ${CHURN} MiB churn (${RUNS} runs, medians) =="
for impl in gcrt go; do
  f="$abs/pacer-memlimit-$impl.txt"; : > "$f"
  if [ $impl = gcrt ]; then cmd="$abs/memlimit_gcrt live_mib=100 churn_mib=$CHURN"; else cmd="$gobin/memlimit 100 $CHURN"; fi
  GOGC=off GOMEMLIMIT=256MiB repeat "$RUNS" timed "$f" $cmd
  rss=$(field rss_peak_kb < "$f" | med)
  printf '%-5s peak RSS %s KiB (%s x 256 MiB), peak sys-released %s KiB, time %s ms, cycles %s, live intact %s\n' $impl \
    "$rss" "$(ratio "$rss" 262144)" "$(field peak_mapped_kb < "$f" | med)" "$(field wall_ms < "$f" | med)" \
    "$(field gcs < "$f" | med)" "$(field live_ok < "$f" | sort -n | head -1)"
done
echo
echo "== GOGC sweep: binary-trees depth ${DEPTH} (${RUNS} runs, medians; ratio = gcrt / Go) =="
for g in 25 50 100 200 400; do
  for impl in gcrt go; do
    f="$abs/pacer-bt-$g-$impl.txt"; : > "$f"
    if [ $impl = gcrt ]; then cmd="$abs/binarytrees_gcrt quiet depth=$DEPTH"; else cmd="$gobin/binarytrees $DEPTH"; fi
    GOGC=$g repeat "$RUNS" timed "$f" $cmd
  done
  cr=$(field rss_peak_kb < "$abs/pacer-bt-$g-gcrt.txt" | med); gr=$(field rss_peak_kb < "$abs/pacer-bt-$g-go.txt" | med)
  ct=$(field wall_ms < "$abs/pacer-bt-$g-gcrt.txt" | med); gt=$(field wall_ms < "$abs/pacer-bt-$g-go.txt" | med)
  printf 'GOGC=%-4s gcrt %8s ms %8s KiB | go %8s ms %8s KiB | time ratio %s, RSS ratio %s; checks %s / %s\n' $g \
    "$ct" "$cr" "$gt" "$gr" "$(ratio "$ct" "$gt")" "$(ratio "$cr" "$gr")" \
    "$(field check < "$abs/pacer-bt-$g-gcrt.txt" | sort -u | tr '\n' ' ')" "$(field check < "$abs/pacer-bt-$g-go.txt" | sort -u | tr '\n' ' ')"
done
echo
echo "== steady live heap, GOGC=100: 64 MiB live, 2 GiB churn; from gctrace, per cycle after the 5th: =="
echo "   peak = heap at the end of marking; marked = what the previous cycle marked (target peak/marked 1.9-2.1)"
for impl in gcrt go; do
  f="$abs/pacer-steady-$impl.txt"; : > "$f"; : > "$abs/pacer-steady-$impl.trace"
  if [ $impl = gcrt ]; then cmd="$abs/memlimit_gcrt live_mib=64 churn_mib=2048 big=0"; else cmd="$gobin/memlimit 64 2048 0"; fi
  i=0; while [ $i -lt "$RUNS" ]; do
    GODEBUG=gctrace=1 timed "$f" $cmd; grep '^gc ' "$abs/.err" >> "$abs/pacer-steady-$impl.trace"; i=$((i + 1))
  done
  # "gc N @... A->B->C MB, D MB goal": per cycle B/D and B/(previous cycle's C).
  ratios=$(awk '/ MB goal/ { for (k = 1; k <= NF; k++) if ($k ~ /->/) { split($k, h, "->"); goal = $(k + 2) }
            n = $2 + 0; if (n == 1) prev = 0
            if (n > 5 && prev > 0 && goal > 0) print h[2] / goal, h[2] / prev
            prev = h[3] }' "$abs/pacer-steady-$impl.trace")
  printf '%-5s cycles measured %s; median peak/goal %s, median peak/marked %s, worst peak/goal %s; peak heap_alloc/live data %s\n' $impl \
    "$(echo "$ratios" | grep -c .)" "$(echo "$ratios" | awk '{print $1}' | med)" "$(echo "$ratios" | awk '{print $2}' | med)" \
    "$(echo "$ratios" | awk '{print $1}' | sort -n | tail -1)" "$(field ratio < "$f" | med)"
done
} | tee "$out"
