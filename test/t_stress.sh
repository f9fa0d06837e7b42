#!/bin/sh
# t_stress: a short run of the randomized stress program (test/stress/) in every
# configuration, 3 s each, under gccheckmark, gcverify and gcpoison. `make stress` runs
# the long version.
b=${GCRT_BUILD:?}/stress
[ -x "$b/stress" ] && [ -f "$b/run.sh" ] || { echo "t_stress: $b/stress or run.sh not built"; exit 1; }
STRESS_SECONDS=${T_STRESS_SECONDS:-18} sh "$b/run.sh" "$b/stress"
