#!/bin/sh
# test/bench/run.sh: runs gcrt's benchmarks (built by `make bench` into $1, default
# build/bench), prints median results with gcrt/bdwgc ratios and a summary of the targets.
# Progress goes to stderr; the report goes to stdout and to $1/report.txt.
# Raw RESULT lines of every run: $1/results.txt; program output per run: $1/logs/.
#
# Knobs (environment): BENCH_RUNS (alloc, churn, gcbench; default 5), BENCH_SLOW_RUNS
# (gcbench x10, binary-trees, markscale; default 3), ALLOC_N (per thread, default 20000000),
# ROUND_N and ROUNDS (alloc rounds mode, default 40000 x 500), CHURN_N (default 50000000), BT_DEPTH (default 20), GCBENCH_BIG_SCALE (default 10),
# MARK_MIB (default 256), BENCH_TIMEOUT (seconds per run, default 300), BENCH_NICE (default 0, see group.sh).
set -u
dir=${1:-build/bench}
RUNS=${BENCH_RUNS:-5}
SLOW=${BENCH_SLOW_RUNS:-3}
ALLOC_N=${ALLOC_N:-20000000}
ROUND_N=${ROUND_N:-40000}      # alloc rounds mode: objects per thread per round (~3 MB, cache-sized)
ROUNDS=${ROUNDS:-500}
CHURN_N=${CHURN_N:-50000000}
BT_DEPTH=${BT_DEPTH:-20}
BIG=${GCBENCH_BIG_SCALE:-10}
MARK_MIB=${MARK_MIB:-256}
TO=${BENCH_TIMEOUT:-300}

# Collector settings from the caller's environment would skew the comparison.
unset GOGC GOMEMLIMIT GODEBUG GOMAXPROCS GC_MARKERS GC_NPROCS GC_INITIAL_HEAP_SIZE \
      GC_MAXIMUM_HEAP_SIZE GC_FREE_SPACE_DIVISOR GC_ENABLE_INCREMENTAL GC_PAUSE_TIME_TARGET \
      GC_PRINT_STATS GC_DONT_GC GC_UNMAP_THRESHOLD GC_FORCE_UNMAP_ON_GCOLLECT 2>/dev/null

res=$dir/results.txt
logs=$dir/logs
mkdir -p "$logs"
: > "$res"
t_start=$(date +%s)

. "$(dirname "$0")/group.sh"

# ---- running --------------------------------------------------------------------------

note "gcrt benchmarks: results in $res, logs in $logs"
cpu_mark; m0=$MARK
note "alloc (n=$ALLOC_N per thread, $RUNS runs)"
run_group "$RUNS" \
  "alloc-gcrt-1|alloc_gcrt||threads=1 n=$ALLOC_N" \
  "alloc-gcrt-2|alloc_gcrt||threads=2 n=$ALLOC_N" \
  "alloc-gcrt-pf-1|alloc_gcrt||threads=1 n=$ALLOC_N prefault=1" \
  "alloc-gcrt-pf-2|alloc_gcrt||threads=2 n=$ALLOC_N prefault=1" \
  "alloc-malloc-1|alloc_malloc||threads=1 n=$ALLOC_N" \
  "alloc-malloc-2|alloc_malloc||threads=2 n=$ALLOC_N" \
  "alloc-bdwgc-1|alloc_bdwgc||threads=1 n=$ALLOC_N" \
  "alloc-bdwgc-2|alloc_bdwgc||threads=2 n=$ALLOC_N" \
  "alloc-bdwgc-pf-1|alloc_bdwgc||threads=1 n=$ALLOC_N prefault=1" \
  "alloc-bdwgc-pf-2|alloc_bdwgc||threads=2 n=$ALLOC_N prefault=1" \
  "alloc-gcrt-rd-1|alloc_gcrt||threads=1 n=$ROUND_N rounds=$ROUNDS" \
  "alloc-gcrt-rd-2|alloc_gcrt||threads=2 n=$ROUND_N rounds=$ROUNDS" \
  "alloc-gcrt-rd1c-1|alloc_gcrt|taskset -c 0|threads=1 n=$ROUND_N rounds=$ROUNDS" \
  "alloc-gcrt-rd1c-2|alloc_gcrt|taskset -c 0|threads=2 n=$ROUND_N rounds=$ROUNDS" \
  "alloc-bdwgc-rd-1|alloc_bdwgc||threads=1 n=$ROUND_N rounds=$ROUNDS" \
  "alloc-bdwgc-rd-2|alloc_bdwgc||threads=2 n=$ROUND_N rounds=$ROUNDS" \
  "bw-1|alloc_malloc||bw=1 threads=1 n=$ALLOC_N" \
  "bw-2|alloc_malloc||bw=1 threads=2 n=$ALLOC_N" \
  "meta-gcrt|alloc_gcrt||meta mib=256 size=64"
cpu_mark; LOAD_alloc=$(load_between "$m0" "$MARK")

cpu_mark; m0=$MARK
note "churn (n=$CHURN_N, $RUNS runs)"
run_group "$RUNS" \
  "churn-gcrt|churn_gcrt||n=$CHURN_N" \
  "churn-bdwgc|churn_bdwgc||n=$CHURN_N" \
  "churn-bdwgc-m2|churn_bdwgc|GC_MARKERS=2|n=$CHURN_N startmarkers"
cpu_mark; LOAD_churn=$(load_between "$m0" "$MARK")

cpu_mark; m0=$MARK
note "GCBench (scale 1, $RUNS runs)"
run_group "$RUNS" \
  "gcbench-gcrt|gcbench_gcrt||quiet" \
  "gcbench-bdwgc|gcbench_bdwgc||quiet" \
  "gcbench-bdwgc-m2|gcbench_bdwgc|GC_MARKERS=2|quiet startmarkers"
cpu_mark; LOAD_gcbench=$(load_between "$m0" "$MARK")

cpu_mark; m0=$MARK
note "GCBench x$BIG ($SLOW runs)"
run_group "$SLOW" \
  "gcbenchx-gcrt|gcbench_gcrt||quiet scale=$BIG" \
  "gcbenchx-bdwgc|gcbench_bdwgc||quiet scale=$BIG" \
  "gcbenchx-bdwgc-m2|gcbench_bdwgc|GC_MARKERS=2|quiet scale=$BIG startmarkers"
cpu_mark; LOAD_gcbenchx=$(load_between "$m0" "$MARK")

cpu_mark; m0=$MARK
note "binary-trees (depth $BT_DEPTH, $SLOW runs)"
run_group "$SLOW" \
  "bt-gcrt|binarytrees_gcrt||quiet depth=$BT_DEPTH" \
  "bt-bdwgc|binarytrees_bdwgc||quiet depth=$BT_DEPTH" \
  "bt-bdwgc-m2|binarytrees_bdwgc|GC_MARKERS=2|quiet depth=$BT_DEPTH startmarkers"
cpu_mark; LOAD_bt=$(load_between "$m0" "$MARK")

cpu_mark; m0=$MARK
note "markscale ($MARK_MIB MiB live, $SLOW runs)"
run_group "$SLOW" \
  "mark-gcrt-p1|markscale_gcrt|GOMAXPROCS=1 GODEBUG=gcstoptheworld=1|mib=$MARK_MIB" \
  "mark-gcrt-p2|markscale_gcrt|GOMAXPROCS=2 GODEBUG=gcstoptheworld=1|mib=$MARK_MIB" \
  "mark-gcrt-conc|markscale_gcrt|GOMAXPROCS=2|mib=$MARK_MIB" \
  "mark-bdwgc-m1|markscale_bdwgc|GC_MARKERS=1|mib=$MARK_MIB startmarkers" \
  "mark-bdwgc-m2|markscale_bdwgc|GC_MARKERS=2|mib=$MARK_MIB startmarkers"
cpu_mark; LOAD_mark=$(load_between "$m0" "$MARK")

t_end=$(date +%s)

# ---- reporting ------------------------------------------------------------------------

report() {
  echo "gcrt benchmark report  $(date -u '+%Y-%m-%d %H:%M UTC')  ($((t_end - t_start)) s)"
  echo "machine: $(uname -sr), $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)); $(cc --version | head -1)"
  echo "bdwgc: $(dpkg-query -W -f '${Package} ${Version}' libgc1 2>/dev/null || echo unknown), dynamically linked; gcrt statically linked"
  echo "all figures are medians over the runs; ratios are gcrt / bdwgc-default from this run"
  [ "$NICE" != 0 ] && echo "benchmarks ran with scheduler priority (autogroup) nice $NICE (BENCH_NICE) over other sessions"

  echo
  echo "== alloc: small objects (16..128 B cycling), no collection, n=$ALLOC_N per thread =="
  echo "   primary figure: user CPU ns per allocation. Fresh pages fault in as system time for gcrt, whose"
  echo "   heap is in huge pages (the guest kernel's zeroing of a huge page is where this VM's host does its"
  echo "   first-touch work); bdwgc's 4 KiB pages are first touched by the program, and the host's work on"
  echo "   them shows as user time. gcrt's grower thread also faults new heap in ahead of the allocating threads."
  echo "   user ns is the median over the runs; (mean) and (min..max) show how noisy it is, because"
  echo "   user/sys come from tick sampling ($( { zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null; } | awk -F= '/^CONFIG_HZ=/ { hz = $2 " Hz ticks" } END { print hz ? hz : "kernel ticks" }')), not exact accounting"
  loadline "$LOAD_alloc"
  printf '%-24s %3s %8s %7s %13s %8s %8s %7s\n' allocator thr "user ns" "(mean)" "(min..max)" "sys ns" "wall ns" "2t/1t"
  for impl in gcrt malloc bdwgc; do
    case $impl in
      gcrt) label="gcrt gc_alloc, GC off";; malloc) label="glibc malloc+free FIFO";;
      bdwgc) label="bdwgc GC_MALLOC, GC off";; esac
    u1=$(val "alloc-$impl-1" user_ns)
    for t in 1 2; do
      tag=alloc-$impl-$t
      u=$(val "$tag" user_ns)
      sp="$(fmt %.1f "$(val "$tag" user_ns min)")..$(fmt %.1f "$(val "$tag" user_ns max)")"
      r=""; [ "$t" = 2 ] && r=$(div %.2f "$u" "$u1")
      printf '%-24s %3s %8s %7s %13s %8s %8s %7s%s\n' "$label" "$t" "$(fmt %.2f "$u")" "$(fmt %.2f "$(val "$tag" user_ns mean)")" "$sp" \
        "$(fmt %.1f "$(val "$tag" sys_ns)")" "$(fmt %.1f "$(val "$tag" wall_ns)")" "$r" "$(runs_note "$tag")"
    done
  done
  echo "gcrt/bdwgc user ns: 1 thread $(div %.2f "$(val alloc-gcrt-1 user_ns)" "$(val alloc-bdwgc-1 user_ns)")x," \
       "2 threads $(div %.2f "$(val alloc-gcrt-2 user_ns)" "$(val alloc-bdwgc-2 user_ns)")x;" \
       "gcrt/malloc 1 thread $(div %.2f "$(val alloc-gcrt-1 user_ns)" "$(val alloc-malloc-1 user_ns)")x"
  gm=$(div %.4f "$(val alloc-malloc-2 user_ns)" "$(val alloc-malloc-1 user_ns)")
  echo "2-thread slowdown of the machine itself (glibc, which shares nothing between threads):" \
       "$(fmt %.2f "$gm")x; gcrt 2t/1t divided by that: $(div %.2f "$(div %.4f "$(val alloc-gcrt-2 user_ns)" "$(val alloc-gcrt-1 user_ns)")" "$gm")x"
  echo "gcrt on resident pages (prefault=1: the run's memory allocated and collected first, so no" \
       "fresh page faults in): user ns 1 thread $(fmt %.2f "$(val alloc-gcrt-pf-1 user_ns)")," \
       "2 threads $(fmt %.2f "$(val alloc-gcrt-pf-2 user_ns)"), 2t/1t $(div %.2f "$(val alloc-gcrt-pf-2 user_ns)" "$(val alloc-gcrt-pf-1 user_ns)")x$(runs_note alloc-gcrt-pf-2)"
  echo "the same loop three ways (ns per allocation, medians; 2t/1t = 2-thread figure / 1-thread):"
  printf '   %-62s %8s %8s %7s %8s %8s %7s %9s\n' "" "gcrt 1t" "gcrt 2t" "2t/1t" "bdwgc 1t" "bdwgc 2t" "2t/1t" "gcrt/bdwgc"
  three() {  # label tag-stem field
    g1=$(val "alloc-gcrt$2-1" "$3"); g2=$(val "alloc-gcrt$2-2" "$3"); b1=$(val "alloc-bdwgc$2-1" "$3"); b2=$(val "alloc-bdwgc$2-2" "$3")
    printf '   %-62s %8s %8s %7s %8s %8s %7s %9s\n' "$1" "$(fmt %.2f "$g1")" "$(fmt %.2f "$g2")" "$(div %.2f "$g2" "$g1")" \
      "$(fmt %.2f "$b1")" "$(fmt %.2f "$b2")" "$(div %.2f "$b2" "$b1")" "$(div %.2f "$g1" "$b1")"
  }
  three "fresh pages (user ns; bdwgc's 4 KiB faults land in user time here)" "" user_ns
  three "resident pages (prefault=1; user ns)" "-pf" user_ns
  three "cache-sized rounds, collected between (rounds=; thread CPU ns)" "-rd" cpu_ns
  echo "   the same gcrt rounds with the whole process on one CPU (taskset -c 0): 1 thread" \
       "$(fmt %.2f "$(val alloc-gcrt-rd1c-1 cpu_ns)"), 2 threads $(fmt %.2f "$(val alloc-gcrt-rd1c-2 cpu_ns)")," \
       "2t/1t $(div %.2f "$(val alloc-gcrt-rd1c-2 cpu_ns)" "$(val alloc-gcrt-rd1c-1 cpu_ns)")x$(runs_note alloc-gcrt-rd1c-2):"
  echo "   (the two threads never run at once there: what they share is the allocator's state; on"
  echo "   two CPUs, memory and span metadata one CPU last wrote are reused from the other, as the"
  echo "   collecting thread sweeps every span: 1.8-1.9x against 1.02-1.10x on one CPU, measured"
  echo "   directly 2026-12-02; runs of this report have shown 1.2-1.8x on two CPUs)"
  echo "   memory-write floor, no allocator (bw=1: clear + write the same objects end to end in resident"
  echo "   memory): user ns 1 thread $(fmt %.2f "$(val bw-1 user_ns)"), 2 threads $(fmt %.2f "$(val bw-2 user_ns)")," \
       "2t/1t $(div %.2f "$(val bw-2 user_ns)" "$(val bw-1 user_ns)")x: what a heap that only grows costs two threads"
  echo "   sharing this machine's memory bandwidth, before any allocator work$(runs_note bw-2)"
  echo "gcrt metadata for 64-byte objects (256 MiB): metadata_sys/heap_inuse = $(fmt %.2f "$(val meta-gcrt meta_pct)")%" \
       "(growth only: $(fmt %.2f "$(val meta-gcrt meta_growth_pct)")%; metadata_sys $(awk -v a="$(val meta-gcrt metadata_sys)" 'BEGIN { if (a == "NA") print "NA"; else printf "%.2f", a / 1048576 }') MiB," \
       "heap_inuse $(awk -v a="$(val meta-gcrt heap_inuse)" 'BEGIN { if (a == "NA") print "NA"; else printf "%.1f", a / 1048576 }') MiB)$(runs_note meta-gcrt)"

  echo
  echo "== churn: 32-byte objects, 1024 live, collection on, n=$CHURN_N =="
  loadline "$LOAD_churn"
  printf '%-18s %9s %9s %8s %8s %12s %10s %s\n' config "wall ns" "cpu ns" "GCs" "RSS MB" "max pause ms" "check" ""
  for c in gcrt bdwgc bdwgc-m2; do
    tag=churn-$c
    printf '%-18s %9s %9s %8s %8s %12s %10s%s\n' "$c" "$(fmt %.2f "$(val "$tag" wall_ns)")" \
      "$(fmt %.2f "$(val "$tag" cpu_ns)")" "$(fmt %.0f "$(val "$tag" gcs)")" \
      "$(kb2mb "$(val "$tag" rss_kb)")" "$(div %.3f "$(val "$tag" maxpause_us)" 1000)" \
      "$(first "$tag" check)" "$(runs_note "$tag")"
  done
  echo "gcrt/bdwgc: wall $(div %.2f "$(val churn-gcrt wall_ns)" "$(val churn-bdwgc wall_ns)")x," \
       "cpu $(div %.2f "$(val churn-gcrt cpu_ns)" "$(val churn-bdwgc cpu_ns)")x"

  for b in gcbench gcbenchx bt; do
    case $b in
      gcbench) echo; echo "== GCBench (classic: long-lived depth-16 tree + 500000 doubles, depths 4..16) ==";;
      gcbenchx) echo; echo "== GCBench x$BIG (same program, $BIG x the trees per depth) ==";;
      bt) echo; echo "== binary-trees depth $BT_DEPTH (benchmarks-game shape, single-threaded) ==";;
    esac
    eval "loadline \"\$LOAD_$b\""
    printf '%-16s %9s %9s %8s %6s %12s %13s %12s %s\n' config "wall ms" "cpu ms" "RSS MB" GCs "max pause ms" "pause tot ms" check ""
    for c in gcrt bdwgc bdwgc-m2; do
      tag=$b-$c
      printf '%-16s %9s %9s %8s %6s %12s %13s %12s%s\n' "$c" "$(fmt %.1f "$(val "$tag" wall_ms)")" \
        "$(fmt %.1f "$(val "$tag" cpu_ms)")" "$(kb2mb "$(val "$tag" rss_kb)")" \
        "$(fmt %.0f "$(val "$tag" gcs)")" "$(div %.2f "$(val "$tag" maxpause_us)" 1000)" \
        "$(fmt %.1f "$(val "$tag" pausetotal_ms)")" "$(first "$tag" check)" "$(runs_note "$tag")"
    done
    g=$(first "$b-gcrt" check); w=$(first "$b-bdwgc" check)
    same="checksums match"; { [ -z "$g" ] || [ -z "$w" ]; } && same="checksum n/a"
    [ -n "$g" ] && [ -n "$w" ] && [ "$g" != "$w" ] && same="CHECKSUMS DIFFER"
    lost=$(val "$b-gcrt" pauses_lost max)
    [ "$lost" != NA ] && same="$same; gcrt max pause misses $lost pauses (ring overflow)"
    echo "gcrt/bdwgc: wall $(div %.2f "$(val "$b-gcrt" wall_ms)" "$(val "$b-bdwgc" wall_ms)")x," \
         "cpu $(div %.2f "$(val "$b-gcrt" cpu_ms)" "$(val "$b-bdwgc" cpu_ms)")x," \
         "RSS $(div %.2f "$(val "$b-gcrt" rss_kb)" "$(val "$b-bdwgc" rss_kb)")x," \
         "max pause $(div %.2f "$(val "$b-gcrt" maxpause_us)" "$(val "$b-bdwgc" maxpause_us)")x; $same"
  done

  echo
  echo "== markscale: full collection of a $MARK_MIB MiB live heap (64-byte nodes, random layout) =="
  echo "   gcrt STW rows: GODEBUG=gcstoptheworld=1, the whole mark is in the pause; the concurrent"
  echo "   row is gcrt's default mode (one background marker; pause = the two short stops)"
  loadline "$LOAD_mark"
  printf '%-24s %10s %14s %14s %9s %8s %s\n' config "pause ms" "collect wall" "collect cpu" "cpu/wall" "live MB" ""
  for c in gcrt-p1 gcrt-p2 gcrt-conc bdwgc-m1 bdwgc-m2; do
    tag=mark-$c
    case $c in gcrt-p1) l="gcrt STW, GOMAXPROCS=1";; gcrt-p2) l="gcrt STW, GOMAXPROCS=2";;
      gcrt-conc) l="gcrt concurrent, GMP=2";;
      bdwgc-m1) l="bdwgc GC_MARKERS=1";; bdwgc-m2) l="bdwgc GC_MARKERS=2";; esac
    printf '%-24s %10s %14s %14s %9s %8s%s\n' "$l" "$(fmt %.2f "$(val "$tag" pause_ms)")" \
      "$(fmt %.2f "$(val "$tag" collect_wall_ms)")" "$(fmt %.2f "$(val "$tag" collect_cpu_ms)")" \
      "$(fmt %.2f "$(val "$tag" cpu_per_wall)")" "$(fmt %.1f "$(val "$tag" live_mib)")" "$(runs_note "$tag")"
  done
  echo "speedup 1->2 workers (pause): gcrt STW $(div %.2f "$(val mark-gcrt-p1 pause_ms)" "$(val mark-gcrt-p2 pause_ms)")x," \
       "bdwgc $(div %.2f "$(val mark-bdwgc-m1 pause_ms)" "$(val mark-bdwgc-m2 pause_ms)")x;" \
       "gcrt/bdwgc pause at 2 workers $(div %.2f "$(val mark-gcrt-p2 pause_ms)" "$(val mark-bdwgc-m2 pause_ms)")x"

  echo
  echo "== targets =="
  printf '%-46s %10s %10s  %s\n' target value goal status
  tgt() { printf '%-46s %10s %10s  %s\n' "$1" "$2" "$3 $4" "$(verdict "$2" "$3" "$4")"; }
  tgt "small alloc, gcrt user ns/alloc (1 thread)" "$(fmt %.2f "$(val alloc-gcrt-1 user_ns)")" "<=" 10
  tgt "small alloc, gcrt/bdwgc user ns (1 thread)" "$(div %.2f "$(val alloc-gcrt-1 user_ns)" "$(val alloc-bdwgc-1 user_ns)")" "<=" 0.6
  tgt "small alloc, gcrt 2-thread/1-thread user ns" "$(div %.2f "$(val alloc-gcrt-2 user_ns)" "$(val alloc-gcrt-1 user_ns)")" "<=" 1.25
  tgt "  same, resident pages (prefault=1)" "$(fmt %.2f "$(val alloc-gcrt-pf-1 user_ns)")" "<=" 10
  tgt "  same, cache-sized rounds (CPU ns)" "$(fmt %.2f "$(val alloc-gcrt-rd-1 cpu_ns)")" "<=" 10
  tgt "  gcrt/bdwgc, resident pages" "$(div %.2f "$(val alloc-gcrt-pf-1 user_ns)" "$(val alloc-bdwgc-pf-1 user_ns)")" "<=" 0.6
  tgt "  gcrt/bdwgc, cache-sized rounds" "$(div %.2f "$(val alloc-gcrt-rd-1 cpu_ns)" "$(val alloc-bdwgc-rd-1 cpu_ns)")" "<=" 0.6
  tgt "  2t/1t, resident pages" "$(div %.2f "$(val alloc-gcrt-pf-2 user_ns)" "$(val alloc-gcrt-pf-1 user_ns)")" "<=" 1.25
  tgt "  2t/1t, cache-sized rounds" "$(div %.2f "$(val alloc-gcrt-rd-2 cpu_ns)" "$(val alloc-gcrt-rd-1 cpu_ns)")" "<=" 1.25
  tgt "metadata_sys/heap_inuse, 64 B objects (%)" "$(fmt %.2f "$(val meta-gcrt meta_pct)")" "<=" 3
  tgt "GCBench wall, gcrt/bdwgc" "$(div %.2f "$(val gcbench-gcrt wall_ms)" "$(val gcbench-bdwgc wall_ms)")" "<=" 0.8
  tgt "GCBench max RSS, gcrt/bdwgc" "$(div %.2f "$(val gcbench-gcrt rss_kb)" "$(val gcbench-bdwgc rss_kb)")" "<=" 0.9
  tgt "binary-trees wall, gcrt/bdwgc" "$(div %.2f "$(val bt-gcrt wall_ms)" "$(val bt-bdwgc wall_ms)")" "<=" 0.7
  tgt "binary-trees max RSS, gcrt/bdwgc" "$(div %.2f "$(val bt-gcrt rss_kb)" "$(val bt-bdwgc rss_kb)")" "<=" 0.8
  tgt "churn wall ns/alloc, gcrt/bdwgc" "$(div %.2f "$(val churn-gcrt wall_ns)" "$(val churn-bdwgc wall_ns)")" "<=" 0.7
  tgt "markscale STW pause speedup, GOMAXPROCS 1->2" "$(div %.2f "$(val mark-gcrt-p1 pause_ms)" "$(val mark-gcrt-p2 pause_ms)")" ">=" 1.6
  nf=$(grep -c '^FAIL ' "$res"); ns=$(grep -c '^SKIP ' "$res")
  echo "failed runs: $nf; skipped (not built): $ns  (details: $res, $logs/)"
}

report | tee "$dir/report.txt"
# A crashed or timed-out run fails `make bench`; targets that are not met do not.
! grep -q '^FAIL ' "$res"
