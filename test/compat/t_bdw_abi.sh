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
fail=0
while read -r name kind size; do
  line=$(grep "^$name " /tmp/t_bdw_abi.ours.$$ || true)
  if [ -z "$line" ]; then echo "missing: $name"; fail=1; continue; fi
  okind=$(echo "$line" | cut -d' ' -f2); osize=$(echo "$line" | cut -d' ' -f3)
  [ "$okind" = "$kind" ] || { echo "kind differs: $name ($kind in libgc, $okind here)"; fail=1; }
  if [ "$kind" = O ] && [ $((0x$osize)) -lt $((0x$size)) ]; then echo "smaller: $name"; fail=1; fi
done < /tmp/t_bdw_abi.gc.$$
readelf -d "$lib" | grep -q 'SONAME.*libgcrt-bdwgc.so' || { echo "soname"; fail=1; }
n=$(wc -l < /tmp/t_bdw_abi.gc.$$)
echo "$n libgc.so.1 symbols checked"
exit $fail
