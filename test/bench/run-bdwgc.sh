#!/bin/sh
# test/bench/run-bdwgc.sh BUILD: bdwgc programs on real bdwgc (Debian's libgc.so.1) and on
# gcrt's compatibility library (build/libgcrt-bdwgc.so), side by side in one run, rounds
# interleaved: GCBench and binary-trees from the same gc.h source (test/bench/*.c built with
# -DUSE_BDWGC: *_bdwgc against /usr/include/gc.h, *_shim against compat/include/gc.h), and
# w3m -dump of a large page in a loop, stock and with LD_PRELOAD. Reports medians of wall
# time, peak RSS and the longest pause. The shim's default marks with the world stopped;
# the "concurrent" rows (GODEBUG=gcstoptheworld=0) show what that costs against gcrt's
# concurrent mark, which is unsound for these programs (no GC_STORE): measured, never used.
# Knobs: BDW_RUNS (default 5), BDW_BT_DEPTH (18), W3M_LOOPS (5 dumps per run).
set -u
build=${1:-build}
dir=$build/bench
RUNS=${BDW_RUNS:-5}
DEPTH=${BDW_BT_DEPTH:-18}
LOOPS=${W3M_LOOPS:-5}
lib=$(cd "$build" && pwd)/libgcrt-bdwgc.so
out=$dir/bdwgc-report.txt
raw=$dir/bdwgc-results.txt
unset GOGC GOMEMLIMIT GODEBUG GC_MARKERS GC_INITIAL_HEAP_SIZE GC_FREE_SPACE_DIVISOR GC_PRINT_STATS 2>/dev/null
: > "$raw"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The page: a 20000-row table and 5000 paragraphs (about 3 MB of text after rendering).
awk 'BEGIN { print "<html><body><h1>Big</h1><table border=1>";
  for (i = 0; i < 20000; i++) printf "<tr><td>row %d</td><td>&amp; cell %d</td><td><a href=\"#r%d\">link %d</a></td></tr>\n", i, i*7, i, i;
  print "</table>"; for (i = 0; i < 5000; i++) printf "<p>Paragraph %d with some words to wrap around the terminal width, and more words.</p>\n", i;
  print "</body></html>" }' > "$tmp/big.html"

# run TAG CMD...: one run under /usr/bin/time; appends "TAG wall_ms rss_kb maxpause_us".
run() {
  tag=$1; shift
  /usr/bin/time -f '%e %M' -o "$tmp/time" "$@" > "$tmp/out" 2> "$tmp/err" || { echo "FAIL $tag" >> "$raw"; echo "  $tag FAILED" >&2; return; }
  set -- $(cat "$tmp/time")
  wall=$(echo "$1 * 1000" | bc); rss=$2
  # the longest pause: the program's RESULT line, gcrt's gctrace, or bdwgc's GC_PRINT_STATS
  mp=$(grep -o 'maxpause_us=[0-9.]*' "$tmp/out" | cut -d= -f2)
  [ -n "$mp" ] || mp=$(grep -o '^gc [0-9]* @[^:]*: [0-9.]*+' "$tmp/err" | sed 's/.*: //; s/+//' | sort -n | tail -1 | awk '{ printf "%.0f", $1 * 1000 }')
  [ -n "$mp" ] || mp=$(grep 'World-stopped marking took' "$tmp/err" | awk '{ printf "%.0f\n", $4 * 1000 + $6 / 1000 }' | sort -n | tail -1)
  echo "$tag ${wall:-0} ${rss:-0} ${mp:-0}" >> "$raw"
}

have_w3m=0; command -v w3m > /dev/null && have_w3m=1
r=1
while [ $r -le "$RUNS" ]; do
  echo "bdwgc vs shim: round $r/$RUNS" >&2
  run gcbench-bdwgc "$dir/gcbench_bdwgc" quiet
  run gcbench-shim "$dir/gcbench_shim" quiet
  run gcbench-shim-concurrent env GODEBUG=gcstoptheworld=0 "$dir/gcbench_shim" quiet
  run binarytrees-bdwgc "$dir/binarytrees_bdwgc" depth=$DEPTH
  run binarytrees-shim "$dir/binarytrees_shim" depth=$DEPTH
  run binarytrees-shim-concurrent env GODEBUG=gcstoptheworld=0 "$dir/binarytrees_shim" depth=$DEPTH
  if [ $have_w3m = 1 ]; then
    run w3m-bdwgc env GC_PRINT_STATS=1 sh -c "i=0; while [ \$i -lt $LOOPS ]; do w3m -dump -T text/html $tmp/big.html >/dev/null || exit 1; i=\$((i+1)); done"
    run w3m-shim env GODEBUG=gctrace=1 LD_PRELOAD="$lib" sh -c "i=0; while [ \$i -lt $LOOPS ]; do w3m -dump -T text/html $tmp/big.html >/dev/null || exit 1; i=\$((i+1)); done"
  fi
  r=$((r + 1))
done

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
{
  echo "bdwgc programs: Debian's libgc.so.1 (bdwgc 8.2.2) against build/libgcrt-bdwgc.so, medians of $RUNS runs"
  echo "(GCBench scale 1; binary-trees depth $DEPTH; w3m: $LOOPS x w3m -dump of a 20000-row page, RSS and pause of the largest dump)"
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%-30s %10s %10s %14s\n' tag wall_ms rss_kb maxpause_us
  for tag in $(awk '{ print $1 }' "$raw" | grep -v FAIL | awk '!seen[$0]++'); do
    w=$(awk -v t="$tag" '$1 == t { print $2 }' "$raw" | median)
    m=$(awk -v t="$tag" '$1 == t { print $3 }' "$raw" | median)
    p=$(awk -v t="$tag" '$1 == t { print $4 }' "$raw" | median)
    printf '%-30s %10s %10s %14s\n' "$tag" "$w" "$m" "$p"
  done
  grep FAIL "$raw" || true
  [ $have_w3m = 1 ] || echo "w3m not installed: its rows were not run"
} | tee "$out"
