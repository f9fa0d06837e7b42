#!/bin/sh
# t_kvcache: drives build/kvcache (examples/kvcache) with Debian's redis-cli and
# redis-benchmark on 127.0.0.1 and checks the answers:
#  - every command's reply, in redis-cli's typed (--no-raw) form: PING, ECHO, GET, SET with
#    EX/PX/NX/XX/KEEPTTL and their errors, DEL, EXISTS, INCR/DECR/INCRBY (non-integer and
#    overflow errors), MGET with missing keys, MSET, EXPIRE/PEXPIRE, TTL/PTTL, PERSIST,
#    DBSIZE, FLUSHALL, CONFIG GET, unknown commands, arity errors, inline commands;
#  - expiry: lazily on access and by the active sweep (keys nobody touches disappear);
#  - INFO memory: the fields are there and numeric, maxmemory is the GOMEMLIMIT;
#  - redis-benchmark -n 20000 -c 50 -t get,set works, and 20000 INCRs from 50 clients
#    leave the counter at exactly 20000 (no lost update);
#  - eviction: with GOMEMLIMIT=64MiB, about 150 MB of values go in; the server stays up,
#    DBSIZE ends far below the keys inserted, keys written during the flood read back
#    intact, and the heap (used_memory and its sampled peak) stays within 5% of the limit.
# The servers are always killed (trap); about 10 s on a quiet machine.
B=${GCRT_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
KV=$B/kvcache
SRC=${GCRT_SRC:-$B/..}
[ -f "$SRC/examples/kvcache/harness.sh" ] || SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$SRC/examples/kvcache/harness.sh"
fail=0
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# A watchdog bounds the whole test (KV_TEST_TIMEOUT seconds, default 60; the test takes
# about 10 s on a quiet machine): a hung server or client fails the test instead of
# stalling `make test`; it first dumps the stacks of the script, its clients and servers
# (test/dumpstacks.sh); the EXIT trap still kills the servers.
( trap 'kill $wd_sleep 2>/dev/null; exit 0' TERM
  sleep "${KV_TEST_TIMEOUT:-60}" & wd_sleep=$!
  wait $wd_sleep && { echo "FAIL: t_kvcache timed out: stacks in ${GCRT_TEST_EVIDENCE:-stderr}"
      "${GCRT_DUMPSTACKS:-$SRC/test/dumpstacks.sh}" $$ "${GCRT_TEST_EVIDENCE:+$GCRT_TEST_EVIDENCE/stacks.txt}"
      kill -TERM $$; } ) &
kv_track $!

command -v redis-cli >/dev/null || { echo "redis-cli missing (Debian package redis-tools)"; exit 1; }
[ -x "$KV" ] || { echo "$KV not built"; exit 1; }

cli() { timeout 10 redis-cli --no-raw -p "$PORT" "$@" 2>&1; }
# expect EXPECTED redis-cli-args...: the (typed) reply must be exactly EXPECTED
expect() {
    want=$1; shift
    got=$(cli "$@")
    [ "$got" = "$want" ] || bad "$* -> '$got', want '$want'"
}
# expect_match REGEX args...
expect_match() {
    re=$1; shift
    got=$(cli "$@")
    echo "$got" | grep -Eq "$re" || bad "$* -> '$got', want /$re/"
}
info_field() { cli info memory | tr -d '\r' | sed -n "s/^$1://p"; }

kv_start main GOMEMLIMIT=off; LASTPID=$SPID
cli config get save >/dev/null || bad "server not answering"

# Commands are checked in batches (one redis-cli per batch, replies diffed against the
# expected ones): t COMMAND-LINE EXPECTED-REPLY adds one; batch NAME runs them.
t() { printf '%s\n' "$1" >>"$TMP/cmds"; printf '%s\n' "$2" >>"$TMP/want"; }
batch() {
    timeout 10 redis-cli --no-raw -p "$PORT" <"$TMP/cmds" >"$TMP/got" 2>&1
    diff "$TMP/want" "$TMP/got" >"$TMP/diff" || { bad "batch $1 (< expected, > got):"; cat "$TMP/diff"; }
    : >"$TMP/cmds"; : >"$TMP/want"
}
: >"$TMP/cmds"; : >"$TMP/want"

# ---- strings ----
t 'ping' 'PONG'
t 'ping "hi there"' '"hi there"'
t 'echo echo' '"echo"'
t 'set k1 hello' 'OK'
t 'get k1' '"hello"'
t 'get missing' '(nil)'
t 'set k1 world' 'OK'
t 'get k1' '"world"'
t 'set empty ""' 'OK'
t 'get empty' '""'
t 'set bin "a b\nc\x00d"' 'OK'
t 'get bin' '"a b\nc\x00d"'
t 'set k1 other NX' '(nil)'
t 'get k1' '"world"'
t 'set k1 newer XX' 'OK'
t 'get k1' '"newer"'
t 'set nokey v XX' '(nil)'
t 'exists nokey' '(integer) 0'
t 'set nxkey v NX' 'OK'
t 'set k1 v NX XX' '(error) ERR syntax error'
t 'set k1 v EX 10 PX 100' '(error) ERR syntax error'
t 'set k1 v bogus' '(error) ERR syntax error'
t 'set k1 v EX' '(error) ERR syntax error'
t 'set k1 v EX 0' "(error) ERR invalid expire time in 'set' command"
t 'set k1 v PX -5' "(error) ERR invalid expire time in 'set' command"
t 'set k1 v EX ten' '(error) ERR value is not an integer or out of range'
t 'get' "(error) ERR wrong number of arguments for 'get' command"
t 'set onlykey' "(error) ERR wrong number of arguments for 'set' command"
t 'nosuchcmd a b' "(error) ERR unknown command 'nosuchcmd', with args beginning with: 'a' "
t 'get k1' '"newer"'

# ---- DEL / EXISTS / MGET / MSET / DBSIZE ----
t 'mset a 1 b 2 c 3' 'OK'
t 'mset a 1 b' "(error) ERR wrong number of arguments for 'mset' command"
t 'mget a nope c nope2' '1) "1"
2) (nil)
3) "3"
4) (nil)'
t 'exists a b c nope' '(integer) 3'
t 'exists a a' '(integer) 2'
t 'del a b nope' '(integer) 2'
t 'exists a b' '(integer) 0'
t 'del a' '(integer) 0'
t 'dbsize' '(integer) 5'

# ---- INCR family ----
t 'incr counter' '(integer) 1'
t 'incr counter' '(integer) 2'
t 'incrby counter 10' '(integer) 12'
t 'decr counter' '(integer) 11'
t 'decrby counter 5' '(integer) 6'
t 'incrby newcounter -1' '(integer) -1'
t 'get counter' '"6"'
t 'incr k1' '(error) ERR value is not an integer or out of range'
t 'incrby counter abc' '(error) ERR value is not an integer or out of range'
t 'set spaced " 7"' 'OK'
t 'incr spaced' '(error) ERR value is not an integer or out of range'
t 'set big 9223372036854775807' 'OK'
t 'incr big' '(error) ERR increment or decrement would overflow'
t 'get big' '"9223372036854775807"'
t 'set neg -9223372036854775808' 'OK'
t 'incr neg' '(integer) -9223372036854775807'

# ---- expiry and TTL ----
t 'set ex1 v EX 100' 'OK'
t 'ttl ex1' '(integer) 100'
t 'ttl k1' '(integer) -1'
t 'ttl nokey' '(integer) -2'
t 'pttl nokey' '(integer) -2'
t 'expire k1 50' '(integer) 1'
t 'ttl k1' '(integer) 50'
t 'expire nokey 50' '(integer) 0'
t 'persist k1' '(integer) 1'
t 'ttl k1' '(integer) -1'
t 'persist k1' '(integer) 0'
t 'set kt v EX 100' 'OK'
t 'set kt v2 KEEPTTL' 'OK'
t 'ttl kt' '(integer) 100'
t 'set kt v3' 'OK'
t 'ttl kt' '(integer) -1'
t 'set px1 v PX 300' 'OK'
t 'set ex2 v EX 1' 'OK'
t 'pexpire k1 200' '(integer) 1'
t 'set gone v' 'OK'
t 'expire gone -1' '(integer) 1'
t 'exists gone' '(integer) 0'
batch strings-incr-ttl
expect_match '^\(integer\) (9[0-9]{4}|100000)$' pttl ex1
expect_match '^\(integer\) ([1-9][0-9]?|[1-2][0-9]{2}|300|-2)$' pttl px1
sleep 1.5
t 'get px1' '(nil)'
t 'get ex2' '(nil)'
t 'get k1' '(nil)'
t 'ttl px1' '(integer) -2'
t 'exists ex1 kt' '(integer) 2'
batch expired
# active expiry: 200 keys nobody touches again must go too. Nothing reads them, so only
# the periodic sweep (or a lookup of another key walking the same chain) removes them:
# expired_keys grows by exactly 200 and DBSIZE falls back.
kstat() { cli info stats | tr -d '\r' | sed -n "s/^$1://p"; }
exp0=$(kstat expired_keys); base=$(cli dbsize | sed 's/[^0-9]//g')
n=0
while [ $n -lt 200 ]; do echo "SET active:$n v PX 200"; n=$((n + 1)); done | timeout 10 redis-cli -p "$PORT" >/dev/null
i=0
while [ $i -lt 50 ] && [ $(($(kstat expired_keys) - exp0)) -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
exp1=$(kstat expired_keys); after=$(cli dbsize | sed 's/[^0-9]//g')
[ $((exp1 - exp0)) -eq 200 ] || bad "active expiry: expired_keys grew by $((exp1 - exp0)) in 5 s, want 200"
[ "$after" -eq "$base" ] || bad "active expiry: dbsize $after, want $base again"

# ---- other commands clients send ----
t 'config get save' '1) "save"
2) ""'
t 'config get appendonly' '1) "appendonly"
2) "no"'
t 'config get maxmemory' '1) "maxmemory"
2) "0"'
t 'select 0' 'OK'
t 'command count' '(integer) 0'
batch client-startup
# inline requests as telnet sends them, and a request split across two packets
if command -v python3 >/dev/null; then
    got=$(python3 -c "
import socket, time
s = socket.create_connection(('127.0.0.1', $PORT))
s.sendall(b'SET inl inline\r\nGET inl\r\n*1\r\n\$4\r\nPI'); time.sleep(0.1)
s.sendall(b'NG\r\n'); time.sleep(0.2); print(repr(s.recv(1000)))")
    [ "$got" = "b'+OK\\r\\n\$6\\r\\ninline\\r\\n+PONG\\r\\n'" ] || bad "inline/split request replies: $got"
fi

# ---- INFO memory ----
mem=$(cli info memory | tr -d '\r')
for f in used_memory used_memory_rss used_memory_peak used_memory_dataset maxmemory gc_sys gc_heap_sys \
         gc_heap_inuse gc_heap_idle gc_heap_released gc_heap_objects gc_next_gc gc_total_alloc gc_mallocs \
         gc_frees gc_num_gc gc_num_forced_gc gc_pause_total_ns gc_pause_max_ns gc_percent; do
    echo "$mem" | grep -Eq "^$f:[0-9]+$" || bad "INFO memory: no numeric $f"
done
echo "$mem" | grep -q '^maxmemory:0$' || bad "INFO memory: maxmemory should be 0 with GOMEMLIMIT=off"
echo "$mem" | grep -q '^# Memory$' || bad "INFO memory: no '# Memory' header"
echo "$mem" | grep -q '^# Stats$' && bad "INFO memory: other sections included"
um=$(echo "$mem" | sed -n 's/^used_memory://p'); hs=$(echo "$mem" | sed -n 's/^gc_heap_sys://p')
[ "$um" -gt 0 ] && [ "$um" -le "$hs" ] || bad "INFO memory: used_memory $um not within heap_sys $hs"
expect_match '^db0:keys=[0-9]+,expires=' info keyspace

# ---- FLUSHALL ----
expect OK flushall
expect '(integer) 0' dbsize
expect '(nil)' get counter

# ---- concurrency: redis-benchmark, and no lost update under 50 clients ----
out=$(timeout 30 redis-benchmark -p "$PORT" -n 20000 -c 50 -t get,set -q 2>&1)
echo "$out" | tr '\r' '\n' | grep -Eq '^SET: [0-9.]+ requests per second' || bad "redis-benchmark SET: $out"
echo "$out" | tr '\r' '\n' | grep -Eq '^GET: [0-9.]+ requests per second' || bad "redis-benchmark GET: $out"
expect_match '^"..."$' get key:__rand_int__
timeout 30 redis-benchmark -p "$PORT" -n 20000 -c 50 -t incr -q >/dev/null 2>&1
expect '"20000"' get counter:__rand_int__
kill -0 "$LASTPID" 2>/dev/null || bad "server died"

# ---- eviction under GOMEMLIMIT=64MiB ----
LIMIT=67108864
kv_start evict GOMEMLIMIT=64MiB; LASTPID=$SPID
expect "1) \"maxmemory\"
2) \"$LIMIT\"" config get maxmemory
# about 150 MB of 1000-byte values under random keys, pipelined
timeout 40 redis-benchmark -p "$PORT" -n 150000 -c 50 -P 16 -r 100000000 -d 1000 -t set -q >"$TMP/flood.out" 2>&1 &
FLOOD=$!
# meanwhile: values written now must read back exactly
awk 'BEGIN { for (i = 0; i < 300; i++) { v = sprintf("value-%d-%0200d", i, i); print "SET chk:" i " " v; print "GET chk:" i } }' \
    | timeout 20 redis-cli -p "$PORT" >"$TMP/chk.out" 2>&1
wait $FLOOD || bad "eviction flood: redis-benchmark failed: $(tail -c 300 "$TMP/flood.out")"
awk 'BEGIN { for (i = 0; i < 300; i++) { print "OK"; printf "value-%d-%0200d\n", i, i } }' >"$TMP/chk.want"
cmp -s "$TMP/chk.want" "$TMP/chk.out" || bad "values written during the flood did not read back: $(diff "$TMP/chk.want" "$TMP/chk.out" | head -5)"
kill -0 "$LASTPID" 2>/dev/null || bad "server died while evicting: $(tail -5 "$TMP/evict.err")"
expect PONG ping
keys=$(cli dbsize | sed 's/[^0-9]//g')
[ -n "$keys" ] && [ "$keys" -gt 1000 ] && [ "$keys" -lt 100000 ] || bad "dbsize after the flood: $keys (inserted about 150000)"
mem=$(cli info memory | tr -d '\r'); stats=$(cli info stats | tr -d '\r')
um=$(echo "$mem" | sed -n 's/^used_memory://p'); peak=$(echo "$mem" | sed -n 's/^used_memory_peak://p')
mm=$(echo "$mem" | sed -n 's/^maxmemory://p'); ev=$(echo "$stats" | sed -n 's/^evicted_keys://p')
[ "$mm" = "$LIMIT" ] || bad "maxmemory=$mm, want $LIMIT"
[ "${ev:-0}" -gt 0 ] || bad "evicted_keys=$ev"
[ "$um" -le $((LIMIT + LIMIT / 20)) ] || bad "used_memory $um above the limit + 5%"
[ "$peak" -le $((LIMIT + LIMIT / 20)) ] || bad "used_memory_peak $peak above the limit + 5%"
[ "$peak" -ge $((LIMIT / 2)) ] || bad "used_memory_peak $peak: the flood never filled the heap"
echo "eviction: $keys keys left, $ev evicted, used_memory $um, peak $peak, limit $LIMIT"
expect OK set after-flood ok
expect '"ok"' get after-flood
grep -v 'listening on' "$TMP/evict.err" "$TMP/main.err" | grep . && bad "server wrote to stderr"

[ $fail -eq 0 ] && echo "t_kvcache: all checks passed" || echo "t_kvcache: $fail checks failed"
[ $fail -eq 0 ]
