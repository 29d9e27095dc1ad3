#!/bin/sh
# hint.sh [--reset] NAME: the next hint of exercise NAME, one per call (make hint NAME=...).
# The hints are tutorials/exercises/hints/NAME.txt, separated by lines "---", a nudge first and
# nearly the answer last. Which one the learner has seen is remembered in the ignored workspace,
# tutorials/exercises/workspace/NAME.hint (ATTN_EXERCISE_WORKSPACE moves it, for the tests);
# --reset forgets it, so the next call starts again at the first hint.
set -eu
here=$(dirname "$0")
workspace=${ATTN_EXERCISE_WORKSPACE:-$here/workspace}
reset=0
if [ "${1:-}" = "--reset" ]; then reset=1; shift; fi
if [ $# -ne 1 ]; then echo "usage: hint.sh [--reset] NAME" >&2; exit 2; fi
name=$1
hints=$here/hints/$name.txt
if [ ! -f "$hints" ]; then echo "error: no hints for exercise '$name' ($hints is missing)"; exit 2; fi
state=$workspace/$name.hint
if [ $reset = 1 ]; then
  rm -f "$state"
  echo "hints for $name start over: make hint NAME=$name gives the first one"
  exit 0
fi

count=$(awk '/^---$/ { n++ } END { print n + 1 }' "$hints")
seen=0
if [ -f "$state" ]; then seen=$(cat "$state"); fi
case $seen in '' | *[!0-9]*) seen=0 ;; esac
next=$((seen + 1))
if [ $next -gt "$count" ]; then next=$count; fi  # past the last: show the last one again

echo "hint $next of $count for $name:"
awk -v want="$next" 'BEGIN { n = 1 } /^---$/ { n++; next } n == want { print "  " $0 }' "$hints"
mkdir -p "$workspace"
echo "$next" >"$state"
if [ $next -lt "$count" ]; then
  echo "next hint: make hint NAME=$name    (start over: make hint-reset NAME=$name)"
else
  echo "that was the last hint; the reference solution is tutorials/exercises/solutions/$name.cpp"
  echo "start the hints over: make hint-reset NAME=$name"
fi
