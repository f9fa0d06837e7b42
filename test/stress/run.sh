#!/bin/sh
# Runs the stress program in every configuration for STRESS_SECONDS in total, under
# GODEBUG=gccheckmark=1,gcverify=1,gcpoison=1 (STRESS_GODEBUG overrides). Prints each
# run's seed and the command that replays it; exits non-zero at the first failure.
bin=${1:-build/stress/stress}
total=${STRESS_SECONDS:-600}
godebug=${STRESS_GODEBUG:-gccheckmark=1,gcverify=1,gcpoison=1}
# GOGC x memory limit x threads
configs="5:off:2 100:off:3 5:64MiB:4 100:256MiB:2 100:off:4 5:off:1"
n=0; for c in $configs; do n=$((n + 1)); done
per=$((total / n)); [ "$per" -lt 2 ] && per=2
base=${STRESS_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
i=0; fail=0
for c in $configs; do
  i=$((i + 1))
  gogc=${c%%:*}; rest=${c#*:}; lim=${rest%%:*}; thr=${rest#*:}
  case $lim in off) limb=-1;; *MiB) limb=$(( ${lim%MiB} * 1048576 ));; esac
  seed=$((base + i))
  echo "== stress $i/$n: GOGC=$gogc GOMEMLIMIT=$lim threads=$thr ${per}s seed=$seed"
  if ! STRESS_SEED=$seed STRESS_SECONDS=$per STRESS_THREADS=$thr STRESS_GOGC=$gogc STRESS_MEMLIMIT=$limb \
       GODEBUG=$godebug timeout -k 10 $((per * 3 + 120)) "$bin"; then
    echo "FAILED; replay: STRESS_SEED=$seed STRESS_SECONDS=$per STRESS_THREADS=$thr STRESS_GOGC=$gogc STRESS_MEMLIMIT=$limb GODEBUG=$godebug $bin"
    fail=1; break
  fi
done
[ $fail -eq 0 ] && echo "stress: all $n configurations passed (${total}s)"
exit $fail
