# test/compat/bdw_preload.sh: sourced by the t_bdw_* scripts that preload the shim into a
# Debian program. Sets lib (the shim, absolute); need_program NAME PACKAGE exits 0 with a
# SKIP line when NAME is not installed (make test installs PACKAGE).
set -u
build=${GCRT_BUILD:-build}
lib=$(cd "$build" && pwd)/libgcrt-bdwgc.so
need_program() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "SKIP: $1 is not installed (apt-get install $2); the $1 preload check did not run"
    exit 0
  fi
}
# preload: what LD_PRELOAD takes. A shim built with ASan (make test-asan) needs ASan's
# runtime first in the library list, and the Debian program's own blocks still allocated at
# exit are not the shim's leaks (the C compat tests check gcrt's), so the leak check is off.
preload=$lib
asan=$(ldd "$lib" | awk '/libasan/ { print $3 }')
if [ -n "$asan" ]; then
  preload="$asan $lib"
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
