#!/bin/sh
# t_timeline_viewer: a GODEBUG=gctracefile timeline of a real program (the Scheme interpreter
# on binary-trees) opens in a real viewer: the Performance panel of the DevTools bundled
# with Debian's Chromium, headless, driven by playwright-core (test/timeline-viewer.js
# says how). The viewer's imported entries must be the file's complete events, thread by
# thread, each nested in the viewer's tree; the file also passes tools/gcrt-timeline-check
# (the interpreter may exit in the middle of a cycle: the file records that cycle as
# unfinished).
# Needs chromium and playwright-core in BUILD/npm, which `make test` (and make
# test-timeline-viewer, which runs only this) installs: without them the test fails.
set -u
B=${GCRT_BUILD:-build}
src=$(cd "$B/.." && pwd)
[ -f "$src/test/timeline-viewer.js" ] || src=$(cd "$(dirname "$0")/../.." && pwd)
PW=$B/npm/node_modules/playwright-core
if [ ! -x /usr/bin/chromium ] || [ ! -d "$PW" ] || ! command -v node >/dev/null; then
  echo "FAIL: no /usr/bin/chromium, node or playwright-core ($PW): make test installs them"; exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GODEBUG=gctrace=1,gctracefile=$tmp/bt.json "$B/scheme" "$src/examples/scheme/bench/binary-trees.scm" 14 >/dev/null 2>"$tmp/err" ||
  { cat "$tmp/err"; echo "FAIL: the interpreter failed"; exit 1; }
n=$(grep -c '^gc [0-9]' "$tmp/err")
/usr/bin/python3 "$src/tools/gcrt-timeline-check" "$tmp/bt.json" --num-gc "$n" --unfinished-ok >"$tmp/check"; st=$?
head -1 "$tmp/check"
[ "$st" -eq 0 ] || { cat "$tmp/check"; echo "FAIL: gcrt-timeline-check"; exit 1; }
GCRT_PLAYWRIGHT=$PW timeout 300 node "$src/test/timeline-viewer.js" "$tmp/bt.json" "$B/timeline-viewer.png"
