#!/bin/sh
# examples/scheme/demo.sh BUILD: what `make demo` runs. The Scheme interpreter on gcrt runs
# binary-trees (depth ${DEMO_DEPTH:-16}) with GODEBUG=gctrace=1, so every collection prints
# its gctrace line; then a summary: collections, the longest pause, the peak heap (largest
# heap size at a cycle's end in the trace) and the process's peak RSS.
set -u
B=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
depth=${DEMO_DEPTH:-16}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== build/scheme $here/bench/binary-trees.scm $depth, GODEBUG=gctrace=1 =="
start=$(date +%s.%N)
GODEBUG=gctrace=1 "$B/scheme" --gc-summary "$here/bench/binary-trees.scm" "$depth" 2> "$log" || {
  cat "$log"; echo "demo: the interpreter failed"; exit 1; }
end=$(date +%s.%N)
n=$(grep -c '^gc [0-9]' "$log")
# gctrace lines in full when few, else the first and last five
if [ "$n" -le 20 ]; then grep '^gc [0-9]' "$log"
else grep '^gc [0-9]' "$log" | head -5; echo "... ($((n - 10)) more cycles)"; grep '^gc [0-9]' "$log" | tail -5; fi
echo
echo "== summary =="
awk -v wall="$(echo "$end - $start" | bc)" '
  /^gc [0-9]+ / { n++; for (i = 1; i <= NF; i++) if ($i ~ /->.*->/) { split($i, h, "->"); if (h[2] + 0 > peak) peak = h[2] + 0 } }
  /^gc summary:/ { for (i = 1; i <= NF; i++) { if ($i == "longest") lp = $(i + 2); if ($i == "total" && $(i + 1) == "pause") tp = $(i + 2); if ($i == "RSS") rss = $(i + 1) } }
  END {
    printf "  collections:    %d\n", n
    printf "  longest pause:  %s ms (total paused %s ms)\n", lp, tp
    printf "  peak heap:      %d MB (largest heap at the end of a mark, from gctrace)\n", peak
    printf "  peak RSS:       %s MiB\n", rss
    printf "  wall time:      %.2f s\n", wall
  }' "$log"
