#!/bin/sh
# run_twins.sh — `make python`: each Python twin (tutorials/python/NN_name.py) checked against its
# C++ program. For each: run build/tutorials/NN_name --quick --save BUILD/python/NN_name (its log
# in BUILD/python/NN_name.log), then the twin on that folder; one PASS/FAIL/SKIPPED line each.
# Then the checks that the comparison can fail: a twin must FAIL on a saved output moved by 1e-3
# and on a changed saved weight, and exit 2 naming the command when the files are missing.
#   usage: run_twins.sh BUILD_DIR PYTHON NAME...
set -u
build=$1 python=$2
shift 2
passed=0 failed=0 skipped=0
mkdir -p "$build/python"

say() {  # say PASS|FAIL|SKIPPED name detail
  printf '%-8s %-28s %s\n' "$1" "$2" "$3"
  case $1 in PASS) passed=$((passed + 1)) ;; FAIL) failed=$((failed + 1)) ;; *) skipped=$((skipped + 1)) ;; esac
}

for name in "$@"; do
  folder=$build/python/$name
  rm -rf "$folder"
  if ! "$build/tutorials/$name" --quick --save "$folder" --out "$build/python/out" \
      >"$folder.log" 2>&1; then
    say FAIL "$name" "the C++ program failed: see $folder.log"
    continue
  fi
  "$python" "tutorials/python/$name.py" "$folder" >"$folder.python.log" 2>&1
  code=$?
  verdict=$(tail -n 1 "$folder.python.log")
  skip_note=$(grep -o 'SKIPPED[^:]*' "$folder.python.log" | head -n 1)
  case $code in
    0) say PASS "$name" "$(grep -c '\[ok\]' "$folder.python.log") comparisons${skip_note:+; $skip_note (no torch)}" ;;
    *) say FAIL "$name" "exit $code: $verdict (see $folder.python.log)"; sed 's/^/    /' "$folder.python.log" ;;
  esac
done

# The comparison must be able to fail. expect CODE WHAT COMMAND...: the twin's exit code must be CODE.
expect() {
  want=$1 what=$2
  shift 2
  "$@" >"$build/python/negative.log" 2>&1
  got=$?
  if [ "$got" -eq "$want" ]; then say PASS "negative check" "$what: exit $got, as it must"
  else say FAIL "negative check" "$what: exit $got, expected $want"; sed 's/^/    /' "$build/python/negative.log"; fi
}
perturb() {  # perturb FOLDER NAME: adds 1e-3 to the first value of NAME.npy in a copy
  rm -rf "$1.perturbed" && cp -r "$1" "$1.perturbed" &&
    "$python" -c "import numpy as np, sys
a = np.load(sys.argv[1]); a.flat[0] += 1e-3; np.save(sys.argv[1], a)" "$1.perturbed/$2.npy"
}
for name in 06_attention_masks 10_encoder_layer; do
  [ -d "$build/python/$name" ] || continue
  case $name in 06*) changed=output ;; *) changed=post.linear1.weight ;; esac
  if perturb "$build/python/$name" "$changed"; then
    expect 1 "$name with $changed.npy moved by 1e-3" \
      "$python" "tutorials/python/$name.py" "$build/python/$name.perturbed"
  fi
  rm -rf "$build/python/$name.perturbed"
done
expect 2 "02_softmax with no saved files" "$python" tutorials/python/02_softmax.py "$build/python/none"

echo "python twins: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
