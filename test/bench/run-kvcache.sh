#!/bin/sh
# kvcache (examples/kvcache) against Debian's redis-server on this machine, run by
# `make bench`:
#  1. throughput: redis-benchmark -c 50 -n 100000 -t get,set -q against each server,
#     KV_RUNS (3) runs interleaved, medians, and kvcache's ratio to redis-server (target
#     >= 0.6). Both servers are warmed up first (a 20000-request pass touches their memory).
#  2. eviction: each server with a 64 MiB limit (kvcache: GOMEMLIMIT; redis-server:
#     --maxmemory with allkeys-lru) takes EVICT_N (300000) pipelined SETs of 1000-byte
#     values under random keys, about 4.5x the limit. Reported for kvcache: the peak heap
#     (used_memory_peak: heap_alloc sampled every 10 ms by the server), the peak of the
#     spans in use and the peak RSS (VmHWM), each against the limit (target: within 5%).
# Usage: run-kvcache.sh [build-dir]. Writes <build-dir>/bench/report-kvcache.txt.
B=${1:-build}
KV=$B/kvcache
RUNS=${KV_RUNS:-3}
N=${KV_N:-100000}
EVICT_N=${EVICT_N:-300000}
LIMIT_MIB=${KV_LIMIT_MIB:-64}
mkdir -p "$B/bench"
out="$B/bench/report-kvcache.txt"
. "$(dirname "$0")/../../examples/kvcache/harness.sh"
unset GOGC GOMEMLIMIT GODEBUG GOMAXPROCS
[ -x "$KV" ] || { echo "run-kvcache.sh: $KV not built"; exit 1; }
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
    { echo "run-kvcache.sh: needs redis-server and redis-benchmark (Debian redis-server, redis-tools)"; exit 1; }

med() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "NA"}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "NA" }'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ping() {
    i=0
    until redis-cli -p "$1" ping >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -gt 100 ] && { echo "server on port $1 did not start"; exit 1; }; sleep 0.05
    done
}
start_redis() {
    PORT=$(free_port)
    redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no "$@" >"$TMP/redis.log" 2>&1 &
    SPID=$!; kv_track $SPID
    wait_ping "$PORT"
}
# bench PORT FILE: one redis-benchmark run; appends "SET rps" and "GET rps" lines
bench() {
    redis-benchmark -p "$1" -c 50 -n "$N" -t set,get -q 2>/dev/null | tr '\r' '\n' |
        sed -n 's/^\(SET\|GET\): \([0-9.]*\) requests per second.*/\1 \2/p' >>"$2"
}
field() { redis-cli -p "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }

{
echo "== throughput: redis-benchmark -c 50 -n $N -t set,get -q, median of $RUNS runs (interleaved) =="
kv_start tput; KPORT=$PORT; KPID=$SPID
start_redis; RPORT=$PORT; RPID=$SPID
redis-benchmark -p "$KPORT" -c 50 -n 20000 -t set,get -q >/dev/null 2>&1
redis-benchmark -p "$RPORT" -c 50 -n 20000 -t set,get -q >/dev/null 2>&1
r=0
while [ $r -lt "$RUNS" ]; do
    bench "$KPORT" "$TMP/kv.txt"
    bench "$RPORT" "$TMP/redis.txt"
    r=$((r + 1))
done
for op in SET GET; do
    k=$(sed -n "s/^$op //p" "$TMP/kv.txt" | med); rd=$(sed -n "s/^$op //p" "$TMP/redis.txt" | med)
    printf '%s  kvcache %s req/s (runs: %s)  redis-server %s req/s (runs: %s)  ratio %s (target >= 0.6)\n' "$op" "$k" \
        "$(sed -n "s/^$op //p" "$TMP/kv.txt" | tr '\n' ' ' | sed 's/ $//')" "$rd" \
        "$(sed -n "s/^$op //p" "$TMP/redis.txt" | tr '\n' ' ' | sed 's/ $//')" "$(ratio "$k" "$rd")"
done
echo "kvcache: $(field "$KPORT" memory gc_num_gc) collections, longest pause $(field "$KPORT" memory gc_pause_max_ns) ns, threads $(field "$KPORT" server io_threads_active)"
kv_stop "$KPID"; kv_stop "$RPID"

echo
echo "== eviction: $EVICT_N SETs of 1000-byte values under random keys (-P 16), limit ${LIMIT_MIB} MiB =="
LIMIT=$((LIMIT_MIB * 1048576))
kv_start evict GOMEMLIMIT="${LIMIT_MIB}MiB"; KPORT=$PORT; KPID=$SPID
kr=$(redis-benchmark -p "$KPORT" -c 50 -P 16 -n "$EVICT_N" -r 100000000 -d 1000 -t set -q 2>/dev/null | tr '\r' '\n' |
    sed -n 's/^SET: \([0-9.]*\) requests per second.*/\1/p')
peak=$(field "$KPORT" memory used_memory_peak); inuse=$(field "$KPORT" memory gc_heap_inuse_peak)
hwm=$(awk '/^VmHWM/ {print $2 * 1024}' "/proc/$KPID/status")
keys=$(redis-cli -p "$KPORT" dbsize); ev=$(field "$KPORT" stats evicted_keys)
alive=$(redis-cli -p "$KPORT" ping)
printf 'kvcache       %s req/s; %s keys kept, %s evicted; server %s\n' "$kr" "$keys" "$ev" "${alive:-DEAD}"
printf '  peak heap (used_memory_peak) %s = %s of the limit (target <= 1.05)\n' "$peak" "$(ratio "$peak" "$LIMIT")"
printf '  peak spans in use            %s = %s of the limit\n' "$inuse" "$(ratio "$inuse" "$LIMIT")"
printf '  peak RSS (VmHWM)             %s = %s of the limit\n' "$hwm" "$(ratio "$hwm" "$LIMIT")"
printf '  collections %s, GOGC set to %s, longest pause %s ns\n' "$(field "$KPORT" memory gc_num_gc)" \
    "$(field "$KPORT" memory gc_percent)" "$(field "$KPORT" memory gc_pause_max_ns)"
kv_stop "$KPID"
start_redis --maxmemory "${LIMIT_MIB}mb" --maxmemory-policy allkeys-lru; RPORT=$PORT; RPID=$SPID
rr=$(redis-benchmark -p "$RPORT" -c 50 -P 16 -n "$EVICT_N" -r 100000000 -d 1000 -t set -q 2>/dev/null | tr '\r' '\n' |
    sed -n 's/^SET: \([0-9.]*\) requests per second.*/\1/p')
rpeak=$(field "$RPORT" memory used_memory_peak); rhwm=$(awk '/^VmHWM/ {print $2 * 1024}' "/proc/$RPID/status")
printf 'redis-server  %s req/s; %s keys kept; used_memory_peak %s = %s, peak RSS %s = %s of the limit\n' "$rr" \
    "$(redis-cli -p "$RPORT" dbsize)" "$rpeak" "$(ratio "$rpeak" "$LIMIT")" "$rhwm" "$(ratio "$rhwm" "$LIMIT")"
printf 'kvcache / redis-server under eviction: %s\n' "$(ratio "$kr" "$rr")"
kv_stop "$RPID"
} | tee "$out"
