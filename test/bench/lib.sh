# test/bench/lib.sh: helpers the run-*.sh scripts that compare with an earlier gcrt share
# (sourced; needs $here, the source tree).
med() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "NA"}'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "NA" }'; }

# build_before FILE DIR PROG...: gcrt as it was before FILE was added (the parent of the
# commit that added it, from git) built into DIR, with build/bench/PROG for each PROG;
# prints DIR if the first PROG is there, else nothing.
build_before() {
  f=$1 d=$2; shift 2
  rev=$(cd "$here" && git log --format=%H --diff-filter=A -1 -- "$f" 2>/dev/null)
  if [ -n "$rev" ] && [ ! -x "$d/build/bench/$1" ]; then
    echo "building gcrt at $rev^ into $d" >&2
    rm -rf "$d"; mkdir -p "$d"
    targets=""; for p in "$@"; do targets="$targets build/bench/$p"; done
    (cd "$here" && git archive "$rev^") | tar -x -C "$d" &&
      make -s -C "$d" build/libgcrt.a $targets >"$d.log" 2>&1 || echo "baseline build failed: $d.log" >&2
  fi
  [ -x "$d/build/bench/$1" ] && echo "$d"
}
