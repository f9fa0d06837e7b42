#!/bin/sh
# The GC timeline's overheads (GODEBUG=gctracefile, issue 18), run by `make bench`: medians
# of RUNS (5) interleaved runs of GCBench (scale 1) and binary-trees (depth BT_DEPTH, 18),
# wall and CPU ms (medians, and the least CPU of the runs) and the total pause, in three
# builds/modes:
#  - before: gcrt as it was before the timeline (built from git into $dir/timeline-base);
#  - off: this gcrt, no gctracefile (each recording site is one branch). Target: within
#    noise of before (the allocation fast path has no site at all);
#  - on: GODEBUG=gctracefile=$dir/timeline.json (events, and the file's size, reported);
#  - per event (timeline_gcrt, test/bench/timeline.c): a site's cost off, and on with one
#    and two threads recording at once, and the writer's cost per event.
# Writes $dir/report-timeline.txt.
set -u
dir=${1:-build/bench}
RUNS=${RUNS:-5}; BT_DEPTH=${BT_DEPTH:-18}
unset GOGC GOMEMLIMIT GODEBUG GOMAXPROCS GCRT_MEMPROFILE GCRT_MEMPROFILERATE
here=$(cd "$(dirname "$0")/../.." && pwd)
out="$dir/report-timeline.txt"
. "$here/test/bench/lib.sh"
base=$(build_before runtime/timeline.c "$dir/timeline-base" binarytrees_gcrt gcbench_gcrt)

tl=$dir/timeline.json
for f in gcb-base gcb-off gcb-on bt-base bt-off bt-on events; do : > "$dir/timeline-$f.txt"; done
i=0; while [ $i -lt "$RUNS" ]; do
  for b in gcb bt; do
    prog=gcbench_gcrt; a=quiet
    [ $b = bt ] && prog=binarytrees_gcrt a="quiet depth=$BT_DEPTH"
    [ -n "$base" ] && "$base/build/bench/$prog" $a | grep '^RESULT' >> "$dir/timeline-$b-base.txt"
    "$dir/$prog" $a | grep '^RESULT' >> "$dir/timeline-$b-off.txt"
    GODEBUG=gctracefile=$tl "$dir/$prog" $a | grep '^RESULT' >> "$dir/timeline-$b-on.txt"
    [ $i -eq 0 ] && echo "$b $(grep -c '"ph":"X"' "$tl") $(grep -c '"ph":"C"' "$tl") $(wc -c < "$tl")" >> "$dir/timeline-events.txt"
  done
  i=$((i + 1))
done
{
echo "== GC timeline overheads (medians of $RUNS interleaved runs; load $(cut -d' ' -f1-3 /proc/loadavg)) =="
for b in gcb bt; do
  name=GCBench; [ $b = bt ] && name="binary-trees depth $BT_DEPTH"
  for m in base off on; do
    eval "w_$m=\$(field wall_ms < \"$dir/timeline-$b-$m.txt\" | med)"
    eval "c_$m=\$(field cpu_ms < \"$dir/timeline-$b-$m.txt\" | med)"
    eval "n_$m=\$(field cpu_ms < \"$dir/timeline-$b-$m.txt\" | sort -n | head -1)"
    eval "p_$m=\$(field pausetotal_ms < \"$dir/timeline-$b-$m.txt\" | med)"
  done
  echo "$name: before wall $w_base ms cpu $c_base ms; off wall $w_off ms ($(ratio "$w_off" "$w_base")x) cpu $c_off ms ($(ratio "$c_off" "$c_base")x); on wall $w_on ms ($(ratio "$w_on" "$w_off")x of off) cpu $c_on ms ($(ratio "$c_on" "$c_off")x of off); total pause ms before/off/on $p_base/$p_off/$p_on"
  echo "  least cpu of the runs (what other load adds least to): before $n_base ms, off $n_off ms ($(ratio "$n_off" "$n_base")x), on $n_on ms ($(ratio "$n_on" "$n_off")x of off)"
  read -r _ x c sz <<EOT
$(grep "^$b " "$dir/timeline-events.txt")
EOT
  echo "  on: $x complete events, $c counter samples, $sz bytes of JSON"
done
for a in "" "threads=1" "threads=2"; do   # per event: a site's record, and its share of the write
  on=1; [ -z "$a" ] && on=0
  r=""; w=""; k=0
  while [ $k -lt 3 ]; do
    if [ $on = 1 ]; then l=$(GODEBUG=gctracefile=$dir/timeline-micro.json "$dir/timeline_gcrt" $a); else l=$("$dir/timeline_gcrt"); fi
    r="$r $(echo "$l" | field record_ns)"; w="$w $(echo "$l" | field write_ns)"; k=$((k + 1))
  done
  echo "per event (timeline_gcrt ${a:-off}, median of 3): record $(echo $r | tr ' ' '\n' | med) ns, write $(echo $w | tr ' ' '\n' | med) ns"
done
} | tee "$out"
