#!/bin/sh
# t_bdw_w3m: w3m (linked against Debian's libgc.so.1) run with
# LD_PRELOAD=build/libgcrt-bdwgc.so dumps local HTML pages byte for byte as stock w3m does,
# and really ran on gcrt (GODEBUG=gctrace=1 prints gcrt's cycle lines). Skips only when w3m
# is not installed (make test installs it).
set -u
. "$(dirname "$0")/bdw_preload.sh"
need_program w3m w3m
ldd "$(command -v w3m)" | grep -q 'libgc.so.1' || { echo "w3m is not linked against libgc.so.1"; exit 1; }
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
# Pages: nested lists, entities, a form, a table, preformatted text; and a big table that
# takes w3m's heap through many collections.
cat > "$d/small.html" <<'HTML'
<html><head><title>small</title></head><body>
<h1>Heading &amp; more</h1><p>Text with <b>bold</b>, <i>italics</i>, &lt;entities&gt; &eacute; &copy; &#x263A;.</p>
<ul><li>one<ul><li>one.one</li><li>one.two</li></ul></li><li>two</li></ul>
<ol><li>first</li><li>second</li></ol>
<table border=1><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr><tr><td colspan=2>wide</td></tr></table>
<form><input type=text value="field"><select><option>x<option selected>y</select><textarea>area</textarea></form>
<pre>  pre   formatted
	tab</pre><dl><dt>term</dt><dd>definition</dd></dl><a href="http://example.invalid/">link</a>
</body></html>
HTML
awk 'BEGIN { print "<html><body><h1>Big</h1><table border=1>";
  for (i = 0; i < 6000; i++) printf "<tr><td>row %d</td><td>&amp; cell %d</td><td><a href=\"#r%d\">link %d</a></td><td><p>para %d <b>b</b></td></tr>\n", i, i*7, i, i, i;
  print "</table>"; for (i = 0; i < 2000; i++) printf "<p>Paragraph %d with some words to wrap around the terminal width, and more words.</p>\n", i;
  print "</body></html>" }' > "$d/big.html"
fail=0
for page in small big; do
  for cols in 80 132; do
    w3m -dump -cols $cols -T text/html "$d/$page.html" > "$d/stock.out" 2>"$d/stock.err"
    GODEBUG=gctrace=1 LD_PRELOAD="$preload" w3m -dump -cols $cols -T text/html "$d/$page.html" > "$d/shim.out" 2>"$d/shim.err"
    if ! cmp -s "$d/stock.out" "$d/shim.out"; then
      echo "$page.html cols=$cols: output differs"; diff "$d/stock.out" "$d/shim.out" | head -20; fail=1
    fi
    [ -s "$d/stock.out" ] || { echo "$page.html: empty dump"; fail=1; }
    if [ $page = big ] && ! grep -q '^gc [0-9]* @' "$d/shim.err"; then
      echo "big.html: no gcrt gctrace line: the preload did not take"; head -5 "$d/shim.err"; fail=1
    fi
    echo "$page.html cols=$cols: $(wc -c < "$d/shim.out") bytes identical, $(grep -c '^gc [0-9]* @' "$d/shim.err") gcrt cycles"
  done
done
exit $fail
