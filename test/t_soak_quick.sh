#!/bin/sh
# t_soak_quick: the kvcache soak (test/soak/soak.py, docs/soak.md) for 18 s with a fifth of
# its load, hostile clients and GCRT_FAULT_MMAP=2:SEED (about one in two of gcrt's heap
# mappings refused), so that make test covers its machinery: the checker's record against
# DEBUG EVICTLOG, the PING prober, the sampler, the malformed-RESP clients, -OOM answers.
# Fails as the soak does (a lost or wrong write, a missed PING, a dead server, a hostile
# client not answered as it should be, no mapping refused), and also when the run did not
# exercise what it is here for: no verified read, no eviction told by the log. The soak's
# output stays in the test's evidence directory when it fails.
B=${GCRT_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
SRC=${GCRT_SRC:-$B/..}
[ -f "$SRC/test/soak/soak.py" ] || SRC=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$B/kvcache" ] || { echo "$B/kvcache not built"; exit 1; }
command -v redis-benchmark >/dev/null || { echo "redis-benchmark missing (Debian package redis-tools)"; exit 1; }
out=${GCRT_TEST_EVIDENCE:-$(mktemp -d)}/soak
seed=${T_SOAK_SEED:-$(date +%s)}
echo "t_soak_quick: seed $seed"
python3 "$SRC/test/soak/soak.py" run --server "$B/kvcache" --seconds "${T_SOAK_SECONDS:-18}" --scale 0.2 \
    --seed "$seed" --faults "2:$seed" --dumpstacks "$SRC/test/dumpstacks.sh" --out "$out"
rc=$?
python3 - "$out/summary.json" <<'PY' || rc=1
import json, sys
s = json.load(open(sys.argv[1]))
c = s["checker"]
bad = []
if not c.get("verified", 0) + c.get("verified_final", 0):
    bad.append("no read was verified")
if not c.get("evicted"):
    bad.append("no eviction of a checker key was told by DEBUG EVICTLOG")
if not s.get("requests_served"):
    bad.append("no request served")
for b in bad:
    print("FAIL: t_soak_quick: " + b)
sys.exit(1 if bad else 0)
PY
[ $rc -eq 0 ] && echo "t_soak_quick: PASS"
exit $rc
