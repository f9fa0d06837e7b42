#!/bin/sh
# t_bdw_abi: build/libgcrt-bdwgc.so exports every symbol Debian's libgc.so.1 exports, with
# the same kind (function or data, data at least as big), so that LD_PRELOAD interposes all
# of a binary's libgc imports (libgc.so.1's symbols carry no versions: objdump -T shows
# "Base"). compat/gen-unsupported.sh writes the aborting definitions for the rest.
set -eu
lib=${GCRT_BUILD:-build}/libgcrt-bdwgc.so
gc=/usr/lib/x86_64-linux-gnu/libgc.so.1
[ -f "$gc" ] || { echo "libgc.so.1 missing (libgc-dev is a build dependency)"; exit 1; }
syms() { objdump -T "$1" | awk '$NF ~ /^GC_/ && $0 !~ /\*UND\*/ { k = ($0 ~ / DF /) ? "F" : "O"; print $NF, k, $(NF-2) }' | sort; }
syms "$gc" > /tmp/t_bdw_abi.gc.$$
syms "$lib" > /tmp/t_bdw_abi.ours.$$
trap 'rm -f /tmp/t_bdw_abi.*.$$' EXIT
# one awk pass (a grep per symbol took 17 s on the loaded machine)
fail=0
awk 'function hex(s,  i, v) { v = 0; for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
     NR == FNR { kind[$1] = $2; size[$1] = $3; next }
     !($1 in kind) { print "missing: " $1; bad = 1; next }
     kind[$1] != $2 { print "kind differs: " $1; bad = 1 }
     $2 == "O" && hex(size[$1]) < hex($3) { print "smaller: " $1; bad = 1 }
     END { exit bad }' /tmp/t_bdw_abi.ours.$$ /tmp/t_bdw_abi.gc.$$ || fail=1
readelf -d "$lib" | grep -q 'SONAME.*libgcrt-bdwgc.so' || { echo "soname"; fail=1; }
n=$(wc -l < /tmp/t_bdw_abi.gc.$$)
echo "$n libgc.so.1 symbols checked"
exit $fail
