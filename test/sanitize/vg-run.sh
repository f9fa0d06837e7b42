#!/bin/sh
# Runs one test under valgrind's memcheck (ELF programs; shell tests run as they are).
# Any memcheck error makes the test fail (exit 99). Children the test re-executes are
# traced too; forked children stay under valgrind anyway.
case $(head -c 4 "$1" | tr -d '\000') in
*ELF*) exec valgrind -q --error-exitcode=99 --trace-children=yes --fair-sched=try \
          --suppressions="$(dirname "$0")/valgrind.supp" "$@" ;;
*) exec "$@" ;;
esac
