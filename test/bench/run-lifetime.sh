#!/bin/sh
# Weak handles and finalizers (issue 6), run by `make bench` after run.sh: the cost of a
# forced collection of 1 M live objects carrying weak handles or finalizers against the
# same heap with none, in gcrt and in bdwgc (disappearing links / finalizers). Each
# program times CYCLES collections and reports their median; this script takes the median
# of RUNS (5) programs, the modes interleaved. Target (gcrt): weak/none <= 1.3. Writes $dir/report-lifetime.txt.
dir=${1:-build/bench}
RUNS=${RUNS:-5}; N=${LIFETIME_N:-1000000}; CYCLES=${CYCLES:-9}
unset GOGC GOMEMLIMIT GODEBUG GOMAXPROCS GC_MARKERS
out="$dir/report-lifetime.txt"
med() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "NA"}'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
{
echo "== forced collection, ${N} live 32-byte objects: none vs weak handles vs finalizers (median of $RUNS runs x $CYCLES cycles) =="
for impl in gcrt bdwgc; do
  for mode in none weak fin; do : > "$dir/weakfinal-$impl-$mode.txt"; done
  # the modes interleaved run by run, so that a change of load hits all three alike
  i=0; while [ $i -lt "$RUNS" ]; do
    for mode in none weak fin; do
      "$dir/weakfinal_$impl" mode=$mode n="$N" cycles="$CYCLES" | grep '^RESULT' >> "$dir/weakfinal-$impl-$mode.txt"
    done
    i=$((i + 1))
  done
  none=$(field collect_ms < "$dir/weakfinal-$impl-none.txt" | med)
  weak=$(field collect_ms < "$dir/weakfinal-$impl-weak.txt" | med)
  fin=$(field collect_ms < "$dir/weakfinal-$impl-fin.txt" | med)
  bad=$(cat "$dir"/weakfinal-$impl-*.txt | field ok | grep -c 0)
  printf '%-6s none %s ms, weak %s ms (%sx), finalizers %s ms (%sx); failed runs %s\n' $impl "$none" \
    "$weak" "$(awk -v a="$weak" -v b="$none" 'BEGIN { printf "%.2f", a / b }')" \
    "$fin" "$(awk -v a="$fin" -v b="$none" 'BEGIN { printf "%.2f", a / b }')" "$bad"
done
} | tee "$out"
