# examples/kvcache/harness.sh: sourced by test/t_kvcache.sh and test/bench/run-kvcache.sh.
# Needs KV (the kvcache binary). Sets TMP (removed at exit) and kills every server it
# started at exit, by pid. kv_start NAME [ENV=VALUE...] starts kvcache on a free port of
# 127.0.0.1 and sets PORT and SPID; kv_track PID adds another process to the kill list.
TMP=$(mktemp -d)
PIDS=""
kv_cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap kv_cleanup EXIT
trap 'exit 1' INT TERM
kv_track() { PIDS="$PIDS $1"; }
# kv_stop PID: kill and reap a server now, and forget it (so the exit trap cannot hit a
# recycled pid)
kv_stop() {
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    PIDS=$(for p in $PIDS; do [ "$p" = "$1" ] || printf '%s ' "$p"; done)
}
kv_start() {
    kv_name=$1; shift
    env "$@" "$KV" -p 0 >"$TMP/$kv_name.out" 2>"$TMP/$kv_name.err" &
    SPID=$!
    kv_track $SPID
    kv_i=0
    until grep -q 'listening on' "$TMP/$kv_name.out" 2>/dev/null; do
        kv_i=$((kv_i + 1))
        [ $kv_i -gt 100 ] && { echo "FAIL: kvcache ($kv_name) did not start"; cat "$TMP/$kv_name.err"; exit 1; }
        sleep 0.05
    done
    PORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/$kv_name.out")
}
