#!/bin/sh
# t_fuzz_corpus: the fuzz targets' regression corpus (test/fuzz/corpus/<target>/, crashes
# found by `make fuzz` included) replayed through the targets built as plain programs.
f=${GCRT_BUILD:?}/fuzz
log=$(mktemp); trap 'rm -f "$log"' EXIT
for t in env api; do
  [ -x "$f/fuzz_${t}_replay" ] || { echo "t_fuzz_corpus: $f/fuzz_${t}_replay not built"; exit 1; }
  n=$(ls "$f/corpus/$t" | wc -l)
  [ "$n" -gt 0 ] || { echo "t_fuzz_corpus: empty corpus $t"; exit 1; }
  "$f/fuzz_${t}_replay" "$f/corpus/$t"/* >"$log" 2>&1; rc=$?
  grep -v '^gcrt: GODEBUG' "$log"
  [ $rc -eq 0 ] || { echo "t_fuzz_corpus: $t failed (exit $rc)"; exit 1; }
done
