#!/bin/sh
# t_timeline_viewer: a GODEBUG=gctracefile timeline of a real program (the Scheme interpreter
# on binary-trees) opens in a real viewer: the Performance panel of the DevTools bundled
# with Debian's Chromium, headless, driven by playwright-core (test/timeline-viewer.js
# says how). The viewer's imported entries must be the file's complete events, thread by
# thread, each nested in the viewer's tree; the file also passes tools/gcrt-timeline-check
# (the interpreter may exit in the middle of a cycle: the file records that cycle as
# unfinished).
# Needs chromium and playwright-core in BUILD/npm: `make test-timeline-viewer` installs both
# and runs this; without them this test is skipped, saying so.
set -u
B=${GCRT_BUILD:-build}
src=$(cd "$B/.." && pwd)
[ -f "$src/test/timeline-viewer.js" ] || src=$(cd "$(dirname "$0")/../.." && pwd)
PW=$B/npm/node_modules/playwright-core
if [ ! -x /usr/bin/chromium ] || [ ! -d "$PW" ] || ! command -v node >/dev/null; then
  echo "SKIP: no chromium or playwright-core ($PW): run make test-timeline-viewer"; exit 0
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
