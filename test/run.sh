#!/bin/sh
# Runs every test binary in $1 as its own process; prints one line per test and the
# closing "N passed, N failed". A test passes when it exits 0 within its time limit.
# GCRT_TEST_WRAP: a command each test runs under (make test-valgrind).
dir=${1:-build/test}
limit=${GCRT_TEST_TIMEOUT:-300}
pass=0; fail=0; failed=""
for t in "$dir"/*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  start=$(date +%s.%N)
  if timeout -k 5 "$limit" $GCRT_TEST_WRAP "$t" >"$t.log" 2>&1; then
    pass=$((pass + 1)); status=PASS
  else
    rc=$?; fail=$((fail + 1)); status="FAIL (exit $rc)"; failed="$failed $name"
  fi
  end=$(date +%s.%N)
  printf '%-28s %s  %.2fs\n' "$name" "$status" "$(echo "$end - $start" | bc)"
  case $status in FAIL*) sed 's/^/    | /' "$t.log" | tail -20;; esac
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
