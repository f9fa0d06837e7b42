# test/bench/group.sh: running benchmark programs in interleaved groups and reading their
# RESULT lines back, for run.sh and run-peers.sh (sourced). The sourcing script sets $dir (the
# build/bench directory), $res (the results file, emptied first), $logs (per-run output) and
# $TO (seconds per run); BENCH_NICE is read here.
note() { printf '%s\n' "$*" >&2; }

# Other processes on the machine skew the figures. cpu_mark records the machine's busy CPU
# time (/proc/stat) and our own children's CPU time (the shell's `times`); load_between
# prints the average number of CPUs used by everything else between two marks.
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

# BENCH_NICE=N (e.g. -10; default 0 = off, needs root for N < 0): run every benchmark in a
# session of its own (setsid, hence its own scheduler autogroup) whose autogroup nice is N,
# so it takes precedence over other sessions' work on a shared machine. Plain `nice` would
# not do: with autogroup scheduling it only orders processes inside one session.
NICE=${BENCH_NICE:-0}
PRIO_CMD=""
if [ "$NICE" != 0 ]; then
  if [ -w /proc/self/autogroup ] && setsid -w sh -c "echo $NICE > /proc/self/autogroup" 2>/dev/null; then
    PRIO_CMD="setsid -w sh -c 'echo $NICE > /proc/self/autogroup; exec \"\$@\"' sh"
  elif nice -n "$NICE" true 2>/dev/null; then
    PRIO_CMD="nice -n $NICE"
  else
    note "BENCH_NICE=$NICE: not permitted, running at normal priority"; NICE=0
  fi
fi
cpu_mark() {
  times > "$dir/.times"
  MARK=$(awk -v hz="$HZ" '/^cpu / { printf "%.3f", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat)
  MARK="$MARK $(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, t, "m"); s += t[1] * 60 + t[2] } printf "%.3f", s }' "$dir/.times")"
  MARK="$MARK $(date +%s.%N)"
}
load_between() {
  echo "$1 $2" | awk '{ w = $6 - $3; o = ($4 - $1) - ($5 - $2); if (o < 0) o = 0
    printf "%.2f\n", (w > 0) ? o / w : 0 }'
}
# run_group RUNS SPEC...   SPEC = "tag|binary|env assignments|args"
# Runs every spec once per round, RUNS rounds (interleaved, so drift hits all alike).
run_group() {
  runs=$1; shift
  r=1
  while [ "$r" -le "$runs" ]; do
    for spec in "$@"; do
      tag=${spec%%|*}; rest=${spec#*|}
      bin=${rest%%|*}; rest=${rest#*|}
      envs=${rest%%|*}; args=${rest#*|}
      if [ ! -x "$dir/$bin" ]; then
        [ "$r" -eq 1 ] && { note "  $tag: $dir/$bin not built, skipped"; echo "SKIP tag=$tag" >> "$res"; }
        continue
      fi
      log=$logs/$tag.$r.log
      t0=$(date +%s.%N)
      # shellcheck disable=SC2086
      eval "env $envs $PRIO_CMD timeout -k 5 $TO \"\$dir/\$bin\" $args" > "$log" 2>&1
      rc=$?
      t1=$(date +%s.%N)
      if [ "$rc" -eq 0 ] && grep -q '^RESULT ' "$log"; then
        grep '^RESULT ' "$log" | sed "s/^RESULT /RESULT tag=$tag run=$r /" >> "$res"
        printf '  %-22s run %d/%d  %6.2fs\n' "$tag" "$r" "$runs" "$(echo "$t1 - $t0" | bc)" >&2
      else
        echo "FAIL tag=$tag run=$r rc=$rc" >> "$res"
        note "  $tag run $r FAILED (exit $rc): env $envs $dir/$bin $args"
        tail -15 "$log" | sed 's/^/    | /' >&2
      fi
    done
    r=$((r + 1))
  done
}

# ---- reading results ------------------------------------------------------------------

# val TAG FIELD [med|min|max|mean|n]: over the RESULT lines of TAG; NA if none.
val() {
  awk -v tag="$1" -v f="$2" -v op="${3:-med}" '
    $1 == "RESULT" {
      t = ""; v = ""
      for (i = 2; i <= NF; i++) {
        p = index($i, "="); k = substr($i, 1, p - 1)
        if (k == "tag") t = substr($i, p + 1)
        else if (k == f) v = substr($i, p + 1)
      }
      if (t == tag && v != "") a[n++] = v + 0
    }
    END {
      if (op == "n") { print n + 0; exit }
      if (n == 0) { print "NA"; exit }
      if (op == "mean") { for (i = 0; i < n; i++) m += a[i]; printf "%.6g\n", m / n; exit }
      for (i = 1; i < n; i++) { x = a[i]; for (j = i - 1; j >= 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
      if (op == "min") r = a[0]; else if (op == "max") r = a[n - 1]
      else r = (n % 2) ? a[int(n / 2)] : (a[n / 2 - 1] + a[n / 2]) / 2
      printf "%.6g\n", r
    }' "$res"
}
# the value of FIELD on TAG's first RESULT line, as text (for checksums)
first() {
  awk -v tag="$1" -v f="$2" '$1 == "RESULT" {
      t = ""; v = ""
      for (i = 2; i <= NF; i++) { p = index($i, "="); k = substr($i, 1, p - 1)
        if (k == "tag") t = substr($i, p + 1); else if (k == f) v = substr($i, p + 1) }
      if (t == tag && v != "") { print v; exit } }' "$res"
}
fails() { grep -c "^FAIL tag=$1 " "$res"; }
# div FMT A B: A/B, NA if either is missing
div() { awk -v a="$2" -v b="$3" -v fmt="$1" 'BEGIN { if (a == "NA" || b == "NA" || b + 0 == 0) print "NA"; else printf fmt "\n", a / b }'; }
fmt() { awk -v a="$2" -v fmt="$1" 'BEGIN { if (a == "NA" || a == "") print "NA"; else printf fmt "\n", a }'; }
kb2mb() { awk -v a="$1" 'BEGIN { if (a == "NA") print "NA"; else printf "%.1f\n", a / 1024 }'; }
# verdict VALUE OP LIMIT -> met / NOT met / n/a
verdict() { awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN { if (v == "NA") { print "n/a"; exit }
  ok = (op == "<=") ? (v + 0 <= l + 0) : (v + 0 >= l + 0); print ok ? "met" : "NOT met" }'; }
runs_note() { f=$(fails "$1"); n=$(grep -c "^RESULT tag=$1 " "$res")
  if [ "$f" -gt 0 ]; then printf ' (%s of %s runs failed)' "$f" "$((f + n))"; fi; }

loadline() { awk -v l="${1:-NA}" 'BEGIN { if (l == "NA") exit
  printf "   other processes used %.2f CPUs on average during this section%s\n", l, (l + 0 > 0.15 ? "  <-- WARNING: machine busy, figures may be skewed" : "") }'; }
