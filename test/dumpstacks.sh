#!/bin/sh
# dumpstacks.sh [--kill] PID [OUT]: the stacks of every thread of PID and of all its descendants
# (a test and the servers it started), for a test that hung or whose watchdog fired.
# For each process: its command line, each thread's name, state and kernel wait channel
# (from /proc, which needs no ptrace), then gdb's `thread apply all bt`. Appends to OUT
# (default: stdout). Never stops the processes for longer than gdb's attach. With --kill
# (test/run.sh's time limit), the whole tree is then killed with SIGKILL.
kill=; [ "$1" = --kill ] && { kill=1; shift; }
root=$1; out=${2:-/dev/stdout}
[ -n "$root" ] || { echo "usage: dumpstacks.sh PID [OUT]" >&2; exit 2; }
tree() {   # PID and its descendants, parents first; not this script and its gdb
    # The script is its own process's first or second word: a process that only has it as
    # an argument (soak.py --dumpstacks PATH) is one to dump, with its children.
    case $(tr '\0' '\n' </proc/$1/cmdline 2>/dev/null | head -2 | tr '\n' ' ') in *dumpstacks.sh*) return;; esac
    echo "$1"
    for c in $(ps -e -o pid=,ppid= | awk -v p="$1" '$2 == p { print $1 }'); do tree "$c"; done
}
{
for pid in $(tree "$root"); do
    [ -d /proc/$pid ] || continue
    echo "=== process $pid: $(tr '\0' ' ' </proc/$pid/cmdline 2>/dev/null)"
    echo "--- $(date -u +%FT%TZ), load: $(cat /proc/loadavg)"
    for t in /proc/$pid/task/*; do
        tid=${t##*/}
        printf '  tid %-7s %-16s state %s wchan %s\n' "$tid" "$(cat $t/comm 2>/dev/null)" \
            "$(awk '{print $3}' $t/stat 2>/dev/null)" "$(cat $t/wchan 2>/dev/null)"
    done
    if command -v gdb >/dev/null; then
        timeout 60 gdb -p "$pid" -batch -nx -q -ex 'set pagination off' -ex 'info threads' \
            -ex 'thread apply all bt' 2>&1 | grep -v '^\[New LWP\|^warning: .*[Tt]hread debugging'
    else
        echo "  (gdb missing: no user stacks)"
    fi
done
} >>"$out" 2>&1
if [ -n "$kill" ]; then
    pids=$(tree "$root")
    kill -KILL $pids 2>/dev/null
fi
