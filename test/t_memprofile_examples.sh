#!/bin/sh
# t_memprofile_examples: the examples' heap profiles through the real reader (go tool pprof
# from Debian's golang-1.19-go; skipped, saying so, only where Go is missing):
#  - build/scheme --memprofile FILE on examples/scheme/bench/gcbench.scm: alloc_space's top
#    is the interpreter's word allocator (alloc_words, inlined into make_words) with nearly
#    all of the bytes, at least the program's 1 GB-scale total;
#  - kvcache (GCRT_MEMPROFILERATE=4096: ~5000 samples): after 20000 SETs of 1000-byte
#    values, DEBUG HEAPPROFILE writes a profile whose inuse_space names kv_str_new (the
#    value strings) with 20000 x 1 KiB +-10% (keys may add their few bytes each); a bad
#    DEBUG subcommand is an error.
B=${GCRT_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
KV=$B/kvcache
SRC=${GCRT_SRC:-$B/..}
[ -f "$SRC/examples/kvcache/harness.sh" ] || SRC=$(cd "$(dirname "$0")/../.." && pwd)
GO=""
for g in /usr/lib/go-1.19/bin/go /usr/lib/go/bin/go /usr/bin/go; do [ -x "$g" ] && { GO=$g; break; }; done
[ -n "$GO" ] || { echo "SKIP: no Go toolchain (Debian's golang-1.19-go): go tool pprof cannot be run"; exit 0; }
. "$SRC/examples/kvcache/harness.sh"
fail=0
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
pprof() { env -i PATH=/usr/bin:/bin HOME="$TMP" GOCACHE="$TMP/gocache" "$GO" tool pprof -top -unit=B -nodefraction=0 "$@" 2>&1; }
# flat NAME < top: the flat bytes of NAME's row
flat() { awk -v n="$1" '$6 == n { sub(/B$/, "", $1); print $1; exit }'; }

# Scheme
"$B/scheme" --memprofile "$TMP/scheme.pb.gz" "$SRC/examples/scheme/bench/gcbench.scm" >/dev/null 2>"$TMP/scheme.err" ||
    bad "scheme --memprofile exited $?: $(cat "$TMP/scheme.err")"
pprof -sample_index=alloc_space "$B/scheme" "$TMP/scheme.pb.gz" >"$TMP/scheme.top"
sed -n '1,12p' "$TMP/scheme.top"
total=$(sed -n 's/.* of \([0-9]*\)B total.*/\1/p' "$TMP/scheme.top")
top=$(awk '/flat%/ { getline; print $6; exit }' "$TMP/scheme.top")
words=$(flat alloc_words < "$TMP/scheme.top")
[ "$top" = alloc_words ] || bad "scheme: top of alloc_space is '$top', want alloc_words"
[ -n "$total" ] && [ "$total" -gt 500000000 ] || bad "scheme: alloc_space total ${total:-none} B, want > 500 MB"
[ -n "$words" ] && [ $((words * 10)) -ge $((total * 9)) ] || bad "scheme: alloc_words ${words:-none} of $total B"

# kvcache
[ -x "$KV" ] || { echo "$KV not built"; exit 1; }
kv_start prof GOMEMLIMIT=off GCRT_MEMPROFILERATE=4096
v=$(head -c 1000 /dev/zero | tr '\0' x)
i=0; while [ $i -lt 20000 ]; do echo "SET key:$i $v"; i=$((i + 1)); done > "$TMP/sets"
timeout 30 redis-cli -p "$PORT" < "$TMP/sets" > /dev/null || bad "SETs failed"
got=$(timeout 30 redis-cli -p "$PORT" DEBUG HEAPPROFILE "$TMP/kv.pb.gz" 2>&1)
[ "$got" = OK ] || bad "DEBUG HEAPPROFILE -> '$got'"
got=$(timeout 10 redis-cli -p "$PORT" DEBUG SLEEP 1 2>&1)
echo "$got" | grep -q "not supported" || bad "DEBUG SLEEP -> '$got', want an error"
pprof -sample_index=inuse_space "$KV" "$TMP/kv.pb.gz" >"$TMP/kv.top"
sed -n '1,12p' "$TMP/kv.top"
vals=$(flat kv_str_new < "$TMP/kv.top")
# 20000 values of 1000 bytes plus the header: 1024-byte slots; keys are small
want=$((20000 * 1024))
[ -n "$vals" ] && [ $((vals * 10)) -ge $((want * 9)) ] && [ $((vals * 10)) -le $((want * 11 + 10 * 20000 * 48)) ] ||
    bad "kvcache: kv_str_new inuse ${vals:-none} B, want about $want"
[ $fail -eq 0 ] && echo "t_memprofile_examples: ok"
exit $fail
