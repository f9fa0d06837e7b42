#!/bin/sh
# t_examples: the small examples in examples/*.c (built by `make` into build/examples/)
# run and say what they should:
#  - hello: three rooted lists (global, local, gc_add_roots'd malloc block) survive
#    collections of 16 MB of garbage; "hello: ok";
#  - threads: 4 gc_pthread_create threads replacing records with GC_STORE; every slot
#    intact; "threads: ok";
#  - typed: precise layouts ignore integers, conservative objects do not, arrays, interior
#    pointers, gc_realloc; "typed: ok";
#  - lifetime: cleanups release malloc'd buffers (a stopped one does not run), a finalizer
#    resurrects its object, weak handles read the object then NULL, gc_unique_bytes, a
#    pool's victim cache; "lifetime: ok";
#  - tuning: with GODEBUG=gctrace=1 one "gc N @" line per cycle on stderr (as many as
#    num_gc, the forced ones marked), cycle counts falling as GOGC rises, GOGC read from
#    the environment; "tuning: ok".
#  - benchmem: go test -benchmem's figures from gc_alloc_counts: 16 allocs/op and 512 B/op
#    for a 16-node list, 7 and 2032 for a doubling buffer, 0 for a pooled one; "benchmem: ok".
# Each example also checks itself and exits non-zero on failure.
B=${GCRT_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
E=$B/examples
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
# run NAME [ENV=VALUE...]: runs the example, stdout to $TMP/NAME.out, stderr to .err
run() {
    name=$1; shift
    if ! env "$@" timeout 60 "$E/$name" >"$TMP/$name.out" 2>"$TMP/$name.err"; then
        bad "$name exited with status $?"
        sed 's/^/    | /' "$TMP/$name.out" "$TMP/$name.err" | tail -20
    fi
}
has() { grep -q -- "$2" "$TMP/$1.out" || bad "$1: no '$2' in its output"; }

run hello
has hello 'lists kept: 500500 500500 500500'
has hello '^hello, collected world$'
has hello '^hello: ok$'

run threads
has threads '4096 of 4096 slots intact'
has threads '^threads: ok$'

run typed
has typed '1000 of 1000 elements intact'
has typed '^typed: ok$'

run lifetime
has lifetime '^cleanups: 99 of 99 buffers released'
has lifetime '^lifetime: ok$'

run benchmem BENCHTIME=0.05
has benchmem '^BenchmarkList16 .* 512 B/op  *16 allocs/op$'
has benchmem '^BenchmarkBuilder1000 .* 2032 B/op  *7 allocs/op$'
has benchmem '^BenchmarkPooled .* 0 allocs/op$'
has benchmem '^benchmem: ok$'

run tuning GODEBUG=gctrace=1 GOGC=50 GOMEMLIMIT=off
has tuning '^GOGC from the environment: 50$'
has tuning '^tuning: ok$'
total=$(sed -n 's/^cycles in all: \([0-9]*\) .*/\1/p' "$TMP/tuning.out")
forced=$(sed -n 's/^cycles in all: [0-9]* (\([0-9]*\) forced)/\1/p' "$TMP/tuning.out")
lines=$(grep -c '^gc [0-9]* @' "$TMP/tuning.err")
flines=$(grep -c '^gc [0-9]* @.* (forced)$' "$TMP/tuning.err")
[ -n "$total" ] && [ "$lines" -eq "$total" ] || bad "tuning: $lines gctrace lines for $total cycles"
[ -n "$forced" ] && [ "$flines" -eq "$forced" ] || bad "tuning: $flines forced gctrace lines for $forced forced cycles"
[ "${forced:-0}" -ge 4 ] || bad "tuning: $forced forced cycles, want >= 4"
run tuning GOGC=off
has tuning '^GOGC from the environment: -1$'
grep -q '^gc ' "$TMP/tuning.err" && bad "tuning: gctrace lines without GODEBUG=gctrace=1"

[ $fail -eq 0 ] && echo "t_examples: all passed" || echo "t_examples: $fail checks failed"
[ $fail -eq 0 ]
