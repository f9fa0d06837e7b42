#!/bin/sh
# test/bench/run-peers.sh: gcrt against its peers in one table (issue 20 item 3), run by
# `make bench-peers-table` and by `make bench`. Each workload is one program text built per
# allocator (test/bench/*.c with -DUSE_GCRT / -DUSE_BDWGC / -DUSE_MALLOC) or its Go twin
# (test/bench/go/*), and runs in these configurations, interleaved run by run:
#   gcrt      defaults (GOGC=100, a mark worker per CPU)
#   bdwgc     Debian's libgc 8.2.2 as it comes (single-threaded programs: one marker, since
#             8.2 starts its helpers only with a second client thread)
#   bdwgc-m2  GC_MARKERS=2 and GC_start_mark_threads() right after GC_INIT() (startmarkers)
#   glibc     the explicit-free build on glibc malloc (each tree / object freed when dead)
#   mimalloc  the same binary with LD_PRELOAD=$MIMALLOC (Debian's libmimalloc2.0)
#   go        Go 1.19 (golang-1.19-go), GOGC=100; GOMAXPROCS=2 for the 2-thread workload
# Workloads: GCBench (classic), binary-trees depth BT_DEPTH, 2 threads allocating small
# objects with a bounded live set (alloc.c gc=1 / go/alloc), the 1 GiB pause probe (pause.c /
# go/pause; collectors only). Medians of BENCH_RUNS with (min-max); ratios gcrt / each row.
#
# Knobs: BENCH_RUNS (5), BT_DEPTH (20), PEERS_ALLOC_N (20000000 per thread), PAUSE_LIVE_MIB
# (1024), PAUSE_SECONDS (10), PEERS_PAUSE_RUNS (BENCH_RUNS), BENCH_TIMEOUT (300 s per run),
# BENCH_NICE (see group.sh), MIMALLOC (the .so to preload).
# Raw lines: $1/results-peers.txt; per-run output: $1/logs-peers/; report: $1/report-peers.txt.
set -u
dir=${1:-build/bench}
RUNS=${BENCH_RUNS:-5}
BT_DEPTH=${BT_DEPTH:-20}
AN=${PEERS_ALLOC_N:-20000000}
LIVE=${PAUSE_LIVE_MIB:-1024}
SECS=${PAUSE_SECONDS:-10}
PRUNS=${PEERS_PAUSE_RUNS:-$RUNS}
TO=${BENCH_TIMEOUT:-300}
MIMALLOC=${MIMALLOC:-$(realpath -s "$(cc -print-file-name=libmimalloc.so.2)" 2>/dev/null)}
[ -f "$MIMALLOC" ] || MIMALLOC=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2

unset GOGC GOMEMLIMIT GODEBUG GOMAXPROCS GC_MARKERS GC_NPROCS GC_INITIAL_HEAP_SIZE \
      GC_MAXIMUM_HEAP_SIZE GC_FREE_SPACE_DIVISOR GC_ENABLE_INCREMENTAL GC_PAUSE_TIME_TARGET \
      GC_PRINT_STATS GC_DONT_GC GC_UNMAP_THRESHOLD GC_FORCE_UNMAP_ON_GCOLLECT LD_PRELOAD \
      MIMALLOC_VERBOSE MIMALLOC_SHOW_STATS 2>/dev/null

res=$dir/results-peers.txt
logs=$dir/logs-peers
mkdir -p "$logs"
: > "$res"
t_start=$(date +%s)
. "$(dirname "$0")/group.sh"
[ -f "$MIMALLOC" ] || note "mimalloc not found ($MIMALLOC): its rows will say malloc=glibc"
MI="LD_PRELOAD=$MIMALLOC"
M2="GC_MARKERS=2"

# section NAME RUNS SPEC...: run_group with the other processes' CPU use recorded as LOAD_NAME
section() {
  _s=$1; shift
  cpu_mark; _m0=$MARK
  run_group "$@"
  cpu_mark; eval "LOAD_$_s=\$(load_between \"\$_m0\" \"\$MARK\")"
}

note "peers table: results in $res, logs in $logs"
note "GCBench ($RUNS runs)"
section gcbench "$RUNS" \
  "gcbench-gcrt|gcbench_gcrt||quiet" \
  "gcbench-bdwgc|gcbench_bdwgc||quiet" \
  "gcbench-bdwgc-m2|gcbench_bdwgc|$M2|quiet startmarkers" \
  "gcbench-glibc|gcbench_malloc||quiet" \
  "gcbench-mimalloc|gcbench_malloc|$MI|quiet" \
  "gcbench-go|go/gcbench||quiet"
note "binary-trees depth $BT_DEPTH ($RUNS runs)"
section bt "$RUNS" \
  "bt-gcrt|binarytrees_gcrt||quiet depth=$BT_DEPTH" \
  "bt-bdwgc|binarytrees_bdwgc||quiet depth=$BT_DEPTH" \
  "bt-bdwgc-m2|binarytrees_bdwgc|$M2|quiet depth=$BT_DEPTH startmarkers" \
  "bt-glibc|binarytrees_malloc||quiet depth=$BT_DEPTH" \
  "bt-mimalloc|binarytrees_malloc|$MI|quiet depth=$BT_DEPTH" \
  "bt-go|go/binarytrees||$BT_DEPTH"
note "2-thread allocation, n=$AN per thread ($RUNS runs)"
section alloc "$RUNS" \
  "alloc-gcrt|alloc_gcrt||threads=2 n=$AN gc=1" \
  "alloc-bdwgc|alloc_bdwgc||threads=2 n=$AN gc=1" \
  "alloc-bdwgc-m2|alloc_bdwgc|$M2|threads=2 n=$AN gc=1 startmarkers" \
  "alloc-glibc|alloc_malloc||threads=2 n=$AN" \
  "alloc-mimalloc|alloc_malloc|$MI|threads=2 n=$AN" \
  "alloc-go|go/alloc|GOMAXPROCS=2|threads=2 n=$AN"
note "pause probe, $LIVE MiB live, $SECS s ($PRUNS runs)"
section pause "$PRUNS" \
  "pause-gcrt|pause_gcrt||live_mib=$LIVE seconds=$SECS" \
  "pause-bdwgc|pause_bdwgc||live_mib=$LIVE seconds=$SECS" \
  "pause-bdwgc-m2|pause_bdwgc|$M2|live_mib=$LIVE seconds=$SECS startmarkers" \
  "pause-go|go/pause||live_mib=$LIVE seconds=$SECS"
t_end=$(date +%s)

# ---- reporting ------------------------------------------------------------------------

CONFIGS="gcrt bdwgc bdwgc-m2 glibc mimalloc go"
# spread FMT TAG FIELD [SCALE [UNIT]]: "median (min-max) UNIT", each divided by SCALE; "-"
# without data
spread() {
  _md=$(val "$2" "$3"); [ "$_md" = NA ] && { echo "-"; return; }
  awk -v f="$1" -v s="${4:-1}" -v u="${5:-}" -v a="$_md" -v b="$(val "$2" "$3" min)" -v c="$(val "$2" "$3" max)" \
    'BEGIN { printf f " (" f "-" f ")%s\n", a / s, b / s, c / s, u == "" ? "" : " " u }'
}
# the table's columns for one benchmark: main figure, cpu, RSS, longest pause
cols() { # BENCH CONFIG MAINFIELD MAINFMT MAINSCALE MAINUNIT CPUFIELD
  t=$1-$2
  mainv=$(spread "$4" "$t" "$3" "$5" "$6"); cpu="-"
  [ -n "$7" ] && [ "$(val "$t" "$7")" != NA ] && cpu=$(fmt %.0f "$(val "$t" "$7")")
  rss=$(spread %.0f "$t" rss_kb 1024)
  pause="-"
  case $2 in glibc|mimalloc) ;; *) pause=$(spread %.2f "$t" maxpause_us 1000);; esac
}
# ratio of medians gcrt / CONFIG for FIELD; "-" for gcrt itself or without data
rat() { [ "$2" = gcrt ] && { echo "-"; return; }; _r=$(div %.2f "$(val "$1-gcrt" "$3")" "$(val "$1-$2" "$3")"); [ "$_r" = NA ] && _r="-"; echo "$_r"; }
note_of() { # BENCH CONFIG: markers / malloc library / failed runs / lost pauses
  t=$1-$2; n=""
  case $2 in
    bdwgc*) n="markers=$(fmt %.0f "$(val "$t" markers)")";;
    glibc|mimalloc) m=$(first "$t" malloc); n="malloc=${m:-?}"
      [ -n "$m" ] && [ "$m" != "$2" ] && n="$n <-- NOT $2";;
  esac
  l=$(val "$t" pauses_lost max); [ "$l" != NA ] && n="$n max pause misses up to $l pauses"
  echo "$n$(runs_note "$t")"
}
checks() { # BENCH: do all configurations print the same checksum?
  _c=""; for c in $CONFIGS; do v=$(first "$1-$c" check); [ -n "$v" ] && _c="$_c $v"; done
  _u=$(echo "$_c" | tr ' ' '\n' | grep . | sort -u | wc -l)
  case $_u in 0) echo "checksum n/a";; 1) echo "checksums match ($(echo $_c | cut -d' ' -f1))";; *) echo "CHECKSUMS DIFFER:$_c";; esac
}
row() { printf '%-14s %-9s %25s %7s %15s %22s %7s %7s %7s  %s\n' "$@"; }

report() {
  echo "gcrt peers report  $(date -u '+%Y-%m-%d %H:%M UTC')  ($((t_end - t_start)) s), $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null)"
  echo "machine: $(uname -sr), $(nproc) CPUs; $(cc --version | head -1); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "peers: $(dpkg-query -W -f '${Package} ${Version}' libgc1 2>/dev/null) (dynamic; gcrt static)," \
       "$(dpkg-query -W -f '${Package} ${Version}' libc6 2>/dev/null)," \
       "$(dpkg-query -W -f '${Package} ${Version}' libmimalloc2.0 2>/dev/null) ($MIMALLOC, LD_PRELOAD)," \
       "$("${GO:-/usr/lib/go-1.19/bin/go}" version 2>/dev/null | cut -d' ' -f3)"
  [ "$NICE" != 0 ] && echo "benchmarks ran with scheduler priority (autogroup) nice $NICE (BENCH_NICE) over other sessions"
  echo "medians of $RUNS runs (pause probe: $PRUNS) with (min-max); cpu = process user+sys ms; RSS = peak (ru_maxrss);"
  echo "max pause = the longest stop of the timed part (gcrt and Go: a cycle's stops summed; bdwgc: stop-world interval);"
  echo "g/this = gcrt's median / this row's median (for allocs/s: gcrt's rate / this rate, so > 1 = gcrt faster)"
  echo
  row benchmark config "time or rate" "cpu ms" "RSS MB" "max pause ms" "g/this" "g/this" "g/this" ""
  row "" "" "" "" "" "" "time" "RSS" "pause" "notes"
  for b in gcbench bt alloc pause; do
    case $b in
      gcbench) name="GCBench"; mf=wall_ms; mfmt="%.0f"; ms=1; mu=ms; cf=cpu_ms;;
      bt) name="bintrees d$BT_DEPTH"; mf=wall_ms; mfmt="%.0f"; ms=1; mu=ms; cf=cpu_ms;;
      alloc) name="alloc 2thr"; mf=mallocs_s; mfmt="%.1f"; ms=1; mu=M/s; cf="";;
      pause) name="pause $LIVE MiB"; mf=late_p999_us; mfmt="%.1f"; ms=1000; mu=ms; cf="";;
    esac
    for c in $CONFIGS; do
      [ "$b" = pause ] && { [ "$c" = glibc ] || [ "$c" = mimalloc ]; } && continue
      cols "$b" "$c" "$mf" "$mfmt" "$ms" "$mu" "$cf"
      row "$name" "$c" "$mainv" "$cpu" "$rss" "$pause" "$(rat "$b" "$c" "$mf")" "$(rat "$b" "$c" rss_kb)" \
        "$(rat "$b" "$c" maxpause_us)" "$(note_of "$b" "$c")"
      name=""
    done
    case $b in
      pause) echo "   pause's time column: the 1 ms sleeper's p99.9 lateness; max lateness (medians):" \
        "$(for c in gcrt bdwgc bdwgc-m2 go; do printf '%s %s ms, ' $c "$(div %.2f "$(val "pause-$c" late_max_us)" 1000)"; done)" \
        "graph damaged: $(val pause-gcrt bad max)/$(val pause-bdwgc bad max)/$(val pause-go bad max)";;
      *) echo "   $(checks "$b")";;
    esac
    eval "loadline \"\$LOAD_$b\""
  done
  echo
  echo "== targets (issue 20): measured vs target, medians from this run =="
  printf '%-44s %10s %10s  %s\n' target measured goal status
  tgt() { printf '%-44s %10s %10s  %s\n' "$1" "$2" "$3 $4" "$(verdict "$2" "$3" "$4")"; }
  r() { div %.2f "$(val "$1-gcrt" "$3")" "$(val "$1-$2" "$3")"; }
  tgt "binary-trees wall, gcrt/bdwgc" "$(r bt bdwgc wall_ms)" "<=" 0.40
  tgt "binary-trees wall, gcrt/mimalloc" "$(r bt mimalloc wall_ms)" "<=" 1.6
  tgt "GCBench wall, gcrt/bdwgc" "$(r gcbench bdwgc wall_ms)" "<=" 0.45
  tgt "GCBench wall, gcrt/mimalloc" "$(r gcbench mimalloc wall_ms)" "<=" 1.2
  tgt "2-thread alloc M allocs/s, gcrt/bdwgc" "$(r alloc bdwgc mallocs_s)" ">=" 3
  tgt "1 GiB pause probe, gcrt longest pause ms" "$(div %.2f "$(val pause-gcrt maxpause_us)" 1000)" "<=" 1
  tgt "1 GiB pause probe, RSS gcrt/bdwgc" "$(r pause bdwgc rss_kb)" "<=" 0.8
  echo "(against bdwgc with 2 markers: binary-trees $(r bt bdwgc-m2 wall_ms), GCBench $(r gcbench bdwgc-m2 wall_ms)," \
       "alloc $(r alloc bdwgc-m2 mallocs_s), pause RSS $(r pause bdwgc-m2 rss_kb); against Go: binary-trees" \
       "$(r bt go wall_ms), GCBench $(r gcbench go wall_ms), alloc $(r alloc go mallocs_s), pause $(r pause go maxpause_us))"
  nf=$(grep -c '^FAIL ' "$res"); ns=$(grep -c '^SKIP ' "$res")
  echo "failed runs: $nf; skipped (not built): $ns  (details: $res, $logs/)"
}

report | tee "$dir/report-peers.txt"
! grep -q '^FAIL ' "$res"
