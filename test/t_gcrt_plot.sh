#!/bin/sh
# t_gcrt_plot: tools/gcrt-plot turns a real gctrace log (the Scheme interpreter on
# binary-trees, GODEBUG=gctrace=1) into a PNG: it draws as many cycles as the log has
# "gc N" lines; the file is a PNG of the size asked for (1000x650), and its pixels hold
# each series' colour outside the legends (goal red, live green, heap blue and orange, pauses purple and
# cyan), so nothing was left out; a log with no gctrace line is refused, saying why.
# Needs Debian's python3-matplotlib for /usr/bin/python3 (in TEST_PKGS).
set -u
B=${GCRT_BUILD:-build}
src=$(cd "$B/.." && pwd)
[ -f "$src/tools/gcrt-plot" ] || src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GODEBUG=gctrace=1 "$B/scheme" "$src/examples/scheme/bench/binary-trees.scm" 14 >/dev/null 2>"$tmp/log" ||
  { cat "$tmp/log"; echo "FAIL: the interpreter failed"; exit 1; }
n=$(grep -c '^gc [0-9]' "$tmp/log")
out=$(/usr/bin/python3 "$src/tools/gcrt-plot" -o "$tmp/p.png" "$tmp/log") || { echo "FAIL: gcrt-plot: $out"; exit 1; }
echo "$out"
echo "$out" | grep -q "gcrt-plot: $n cycles," || { echo "FAIL: the log has $n cycles"; exit 1; }
/usr/bin/python3 - "$tmp/p.png" <<'PY' || exit 1
import sys
import matplotlib.image as mpimg
import numpy as np
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
assert (w, h) == (1000, 650), "size %dx%d" % (w, h)
# the right 40% only: the legends (upper left) hold every colour whatever was drawn
img = (mpimg.imread(sys.argv[1])[:, 600:, :3] * 255).round().astype(int)
colours = {"goal": (214, 39, 40), "live": (44, 160, 44), "heap at start": (31, 119, 180),
           "heap at end of mark": (255, 127, 14), "pause 1": (148, 103, 189), "pause 2": (23, 190, 207)}
for name, c in colours.items():
    k = int((np.abs(img - np.array(c)).sum(axis=2) <= 12).sum())
    print("  %-20s %6d pixels" % (name, k))
    assert k >= 10, "no %s in the right of the picture" % name
PY
printf 'no trace here\n' > "$tmp/empty"
if msg=$(/usr/bin/python3 "$src/tools/gcrt-plot" -o "$tmp/e.png" "$tmp/empty" 2>&1); then
  echo "FAIL: a log without gctrace lines was accepted"; exit 1; fi
echo "$msg" | grep -q "no gctrace lines" || { echo "FAIL: unclear refusal: $msg"; exit 1; }
[ ! -e "$tmp/e.png" ] || { echo "FAIL: a picture of nothing was written"; exit 1; }
echo "t_gcrt_plot: ok"
