#!/bin/sh
# The concurrent collector's figures (issue: concurrent marking), run after run.sh by
# `make bench`: the pause probe (1 GiB live, a churning thread, a 1 ms sleeper) against
# bdwgc beside a collector-free floor (sleepfloor.c), the write barrier's cost with marking off, and GCBench / binary-trees in the
# default concurrent mode against GODEBUG=gcstoptheworld=1. Medians of PAUSE_RUNS (3) and
# TPUT_RUNS (7, the two modes interleaved) runs. Writes $dir/report-concurrent.txt.
dir=${1:-build/bench}
PAUSE_RUNS=${PAUSE_RUNS:-3}; TPUT_RUNS=${TPUT_RUNS:-7}; LIVE=${PAUSE_LIVE_MIB:-1024}; SECS=${PAUSE_SECONDS:-10}
unset GOGC GOMEMLIMIT GODEBUG GOMAXPROCS GC_MARKERS
out="$dir/report-concurrent.txt"
med() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "NA"}'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
runs() { # runs N cmd... : prints one RESULT line per run
  _runs_n=$1; shift; _runs_i=0
  while [ $_runs_i -lt "$_runs_n" ]; do "$@" | grep '^RESULT'; _runs_i=$((_runs_i + 1)); done
}
{
echo "== pause probe: ${LIVE} MiB live (64-byte nodes), one churning thread, one thread sleeping 1 ms, ${SECS} s =="
echo "   (each probe first churns until 3 collections have finished and the heap has stopped"
echo "   growing, so it has its steady size before the sleeper counts; see test/bench/pause.c)"
# The floor, run alternately with gcrt's probe so that both see the same machine: the same
# sleeper with no collector, both CPUs kept busy touching a resident buffer of the same size
# in huge pages, as gcrt's heap is; then with the second CPU's toucher at SCHED_IDLE, as
# gcrt's idle mark worker, sweeper and grower are.
: > "$dir/pause-gcrt.txt"; : > "$dir/sleepfloor.txt"; : > "$dir/sleepfloor-idle.txt"; : > "$dir/sleepfloor-faults.txt"
i=0; while [ $i -lt "$PAUSE_RUNS" ]; do
  runs 1 "$dir/pause_gcrt" live_mib="$LIVE" seconds="$SECS" >> "$dir/pause-gcrt.txt"
  runs 1 "$dir/sleepfloor_malloc" walkers=2 live_mib="$LIVE" seconds="$SECS" >> "$dir/sleepfloor.txt"
  runs 1 "$dir/sleepfloor_malloc" walkers=2 idle=1 live_mib="$LIVE" seconds="$SECS" >> "$dir/sleepfloor-idle.txt"
  pps=$(tail -1 "$dir/pause-gcrt.txt" | field minflt_per_s); pps=${pps%.*}
  runs 1 "$dir/sleepfloor_malloc" walkers=2 live_mib="$LIVE" seconds="$SECS" fresh_pps="${pps:-0}" >> "$dir/sleepfloor-faults.txt"
  i=$((i + 1))
done
runs 1 "$dir/pause_bdwgc" live_mib="$LIVE" seconds="$SECS" startmarkers > "$dir/pause-bdwgc.txt"
# Longest pause of the measured phase (after build and warm-up, as the sleeper counts):
# for gcrt, a cycle's two stops summed (Go's PauseNs), so at least its longest single stop.
for impl in gcrt bdwgc; do
  f="$dir/pause-$impl.txt"
  stw=$(field maxpause_us < "$f" | med)
  printf '%-6s runs=%s longest STW pause %s us; sleeper lateness p99 %s us, p99.9 %s us, max %s us; cycles %s; damaged %s; fresh pages %s/s\n' \
    $impl "$(wc -l < "$f")" "$stw" "$(field late_p99_us < "$f" | med)" "$(field late_p999_us < "$f" | med)" \
    "$(field late_max_us < "$f" | med)" "$(field gcs < "$f" | med)" "$(field bad < "$f" | sort -n | tail -1)" \
    "$(field minflt_per_s < "$f" | med)"
done
f="$dir/sleepfloor.txt"
printf '%-6s runs=%s no collector, 2 threads touching %s MiB: sleeper lateness p99 %s us, p99.9 %s us, max %s us\n' \
  floor "$(wc -l < "$f")" "$LIVE" "$(field late_p99_us < "$f" | med)" "$(field late_p999_us < "$f" | med)" \
  "$(field late_max_us < "$f" | med)"
f="$dir/sleepfloor-idle.txt"
printf '%-6s runs=%s the same, the second toucher at SCHED_IDLE: p99 %s us, p99.9 %s us, max %s us\n' \
  floor-i "$(wc -l < "$f")" "$(field late_p99_us < "$f" | med)" "$(field late_p999_us < "$f" | med)" \
  "$(field late_max_us < "$f" | med)"
f="$dir/sleepfloor-faults.txt"
printf '%-6s runs=%s the first floor plus %s fresh pages/s (the probe'"'"'s own fault rate): p99 %s us, p99.9 %s us, max %s us\n' \
  floor+pf "$(wc -l < "$f")" "$(field fresh_pps < "$f" | med)" "$(field late_p99_us < "$f" | med)" \
  "$(field late_p999_us < "$f" | med)" "$(field late_max_us < "$f" | med)"
echo "   (the floor is this machine's: the pause probe's sleeper cannot wake more promptly than"
echo "   the same sleeper beside two busy threads and no collector; the last line adds the"
echo "   fresh-page faults of a heap still growing to its peak, which stall a virtual CPU here."
echo "   perf sched on the probe: most wake-ups over 2 ms waited behind a kernel thread that ran"
echo "   3-7 ms without a preemption point (kdamond, DAMON's, every 0.5 s), the rest behind a"
echo "   virtual CPU the host held)"
echo
echo "== write barrier with marking off: GC_STORE vs a plain store into a field of each of N objects =="
for nobj in 1000000 4096; do
  runs 3 "$dir/barrier_gcrt" n=$nobj rounds=31 > "$dir/barrier-$nobj.txt"
  printf 'n=%-8s plain %s ns, GC_STORE %s ns, ratio %s\n' $nobj "$(field plain_ns < "$dir/barrier-$nobj.txt" | med)" \
    "$(field barrier_ns < "$dir/barrier-$nobj.txt" | med)" "$(field ratio < "$dir/barrier-$nobj.txt" | med)"
done
echo
echo "== throughput: concurrent (default) vs GODEBUG=gcstoptheworld=1 =="
# The two modes run alternately, run by run, so that a burst of load on this shared machine
# hits both; the per-run median ratio pairs each concurrent run with the stop-the-world run
# next to it.
for b in "gcbench_gcrt quiet" "binarytrees_gcrt quiet depth=20"; do
  name=${b%% *}
  : > "$dir/tput-$name-conc.txt"; : > "$dir/tput-$name-stw.txt"; : > "$dir/tput-$name-ratio.txt"
  i=0
  while [ $i -lt "$TPUT_RUNS" ]; do
    "$dir/${name}" ${b#* } | grep '^RESULT' > "$dir/tput-one-conc.txt"
    GODEBUG=gcstoptheworld=1 "$dir/${name}" ${b#* } | grep '^RESULT' > "$dir/tput-one-stw.txt"
    cat "$dir/tput-one-conc.txt" >> "$dir/tput-$name-conc.txt"; cat "$dir/tput-one-stw.txt" >> "$dir/tput-$name-stw.txt"
    awk -v a="$(field wall_ms < "$dir/tput-one-conc.txt")" -v b="$(field wall_ms < "$dir/tput-one-stw.txt")" \
      'BEGIN { if (b > 0) printf "%.4f\n", a / b }' >> "$dir/tput-$name-ratio.txt"
    i=$((i + 1))
  done
  rm -f "$dir/tput-one-conc.txt" "$dir/tput-one-stw.txt"
  c=$(field wall_ms < "$dir/tput-$name-conc.txt" | med); s=$(field wall_ms < "$dir/tput-$name-stw.txt" | med)
  cr=$(field rss_kb < "$dir/tput-$name-conc.txt" | med); sr=$(field rss_kb < "$dir/tput-$name-stw.txt" | med)
  printf '%-18s concurrent %s ms (%s KiB RSS), stop-the-world %s ms (%s KiB RSS), time ratio %s (per-run median %s, %s runs each, interleaved)\n' \
    "$name" "$c" "$cr" "$s" "$sr" "$(awk -v a="$c" -v b="$s" 'BEGIN { printf "%.2f", a / b }')" \
    "$(med < "$dir/tput-$name-ratio.txt" | awk '{ printf "%.2f", $1 }')" "$TPUT_RUNS"
done
} | tee "$out"
