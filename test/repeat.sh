#!/bin/sh
# repeat.sh N [BUILD]: `make test-repeat N=20`. Runs the whole suite (test/run.sh) N times
# quiet, then N times with a CPU hog on every core (stress-ng --cpu NCPU, at normal
# priority: the machine is fully busy), and writes BUILD/test-repeat/summary.txt: each
# test's failures in each half, and the runs that were green. Every run's output is
# BUILD/test-repeat/{quiet,loaded}-K.txt and a failing run's evidence (logs, thread
# stacks, core backtraces: see run.sh) is moved to BUILD/test-repeat/{quiet,loaded}-K/.
# REPEAT_ORDER=interleave alternates quiet and loaded runs (same counts: a run cut short
# still has both halves measured).
n=${1:-20}
b=$(cd "${2:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
out=$b/test-repeat
ncpu=$(nproc)
command -v stress-ng >/dev/null || { echo "stress-ng missing (Debian package stress-ng)"; exit 1; }
rm -rf "$out"; mkdir -p "$out"
quiet=""; loaded=""; runs=""
i=1; while [ $i -le "$n" ]; do
    quiet="$quiet quiet-$i"; loaded="$loaded loaded-$i"; runs="$runs quiet-$i loaded-$i"
    i=$((i + 1))
done
[ "${REPEAT_ORDER:-series}" = interleave ] || runs="$quiet $loaded"
hog=
stop_hog() { [ -n "$hog" ] && { kill "$hog" 2>/dev/null; wait "$hog" 2>/dev/null; hog=; }; }
start=$(date +%s)
{ trap 'stop_hog; exit 130' INT TERM
for r in $runs; do
    case $r in loaded-*) stress-ng --cpu "$ncpu" --timeout 0 -q & hog=$!;; esac
    t0=$(date +%s)
    GCRT_BUILD=$b sh "$here/run.sh" "$b/test" >"$out/$r.txt" 2>&1; rc=$?
    stop_hog
    [ -d "$b/test/failures" ] && [ -n "$(ls "$b/test/failures")" ] && mv "$b/test/failures" "$out/$r"
    echo "$r: $(tail -1 "$out/$r.txt") in $(( $(date +%s) - t0 )) s, load $(cut -d' ' -f1-3 /proc/loadavg)$( [ $rc -ne 0 ] && echo ", evidence $out/$r/")"
done; } | tee "$out/runs.txt"
{
    echo "make test-repeat N=$n on $(uname -n), $ncpu CPUs, $(date -u +%FT%TZ), $(( $(date +%s) - start )) s"
    echo "commit $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null)$(git -C "$here/.." diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
    for h in quiet loaded; do
        total=$(ls "$out"/$h-*.txt 2>/dev/null | wc -l)
        green=$(grep -l ' 0 failed$' "$out"/$h-*.txt 2>/dev/null | wc -l)
        echo "$h: $green of $total runs green"
    done
    echo "failures per test (quiet / loaded), with the slowest time:"
    cat "$out"/quiet-*.txt "$out"/loaded-*.txt | awk '$2 == "PASS" || $2 == "FAIL" { print $1 }' | sort -u |
    while read -r t; do
        q=$(grep -h "^$t  *FAIL" "$out"/quiet-*.txt 2>/dev/null | wc -l)
        l=$(grep -h "^$t  *FAIL" "$out"/loaded-*.txt 2>/dev/null | wc -l)
        worst=$(grep -h "^$t " "$out"/*-*.txt | awk '{ print $NF }' | sort -n | tail -1)
        printf '  %-28s %3d / %-3d  %s\n' "$t" "$q" "$l" "$worst"
    done
    echo "failed runs:"; grep -l 'failed:' "$out"/*-*.txt 2>/dev/null | while read -r f; do
        echo "  $(basename "$f" .txt): $(grep '^failed:' "$f")"; done
} >"$out/summary.txt"
cat "$out/summary.txt"
! grep -q 'failed:' "$out"/*-*.txt
