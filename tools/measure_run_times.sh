#!/usr/bin/env bash
# measure_run_times.sh — how long each tutorial takes, as the README files state it.
#
#   tools/measure_run_times.sh [BUILD_DIR] [THREADS]     (defaults: build, 0 = every core)
#
# Runs every built tutorial once with its default settings (and once with --quick) into a
# temporary --out folder, and prints one Markdown row per program, wall-clock seconds, with
# the machine and the thread count on top. The README tables copy these figures; rerun it
# after changing a tutorial's defaults. A program that fails is reported as such.
set -u
build=${1:-build}
threads=${2:-0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo "machine: $cpu, $(nproc) cores; --threads $threads; $(date -u +%Y-%m-%d)"
echo
echo "| program | default run (s) | --quick (s) |"
echo "|---|---|---|"
for binary in "$build"/tutorials/[0-9][0-9]_*; do
  [ -x "$binary" ] || continue
  name=$(basename "$binary")
  row="| $name |"
  for mode in "" "--quick"; do
    start=$(date +%s.%N)
    if "$binary" $mode --threads "$threads" --out "$work/$name" > "$work/log" 2>&1; then
      row="$row $(echo "$(date +%s.%N) - $start" | bc | xargs printf '%.1f') |"
    else
      row="$row FAILED (exit $?) |"
    fi
  done
  echo "$row"
done
