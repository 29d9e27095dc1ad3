#!/bin/sh
# run_twins.sh — `make python`: each Python twin (tutorials/python/NN_name.py) checked against its
# C++ program. For each: run build/tutorials/NN_name --quick --save BUILD/python/NN_name (its log
# in BUILD/python/NN_name.log), then the twin on that folder; one PASS/FAIL/SKIPPED line each.
# Then the checks that the comparison can fail: a twin must FAIL on a saved output moved by 1e-3
# and on a changed saved weight or merge, a twin with an article's bug put back must FAIL (04, 06, 26,
# 27; in 28 bf16 by truncation), and a
# twin must exit 2 naming the command when the files are missing. The
# last line is "N passed, N failed" (the line .ci/run adds up).
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
    0) say PASS "$name" "$(grep -c '\[ok\]' "$folder.python.log") comparisons"
       [ -z "$skip_note" ] || say SKIPPED "$name (torch)" "${skip_note#SKIPPED }: torch is not installed (sudo apt-get install python3-torch)" ;;
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
perturb() {  # perturb FOLDER NAME: adds 1e-3 (1 to integers: token ids) to the first value of NAME.npy in a copy
  rm -rf "$1.perturbed" && cp -r "$1" "$1.perturbed" &&
    "$python" -c "import numpy as np, sys
a = np.load(sys.argv[1]); a.flat[0] += 1 if a.dtype.kind in 'iu' else 1e-3; np.save(sys.argv[1], a)" "$1.perturbed/$2.npy"
}
for name in 06_attention_masks 10_encoder_layer 26_bpe 27_lora 28_mixed_precision; do
  [ -d "$build/python/$name" ] || continue
  case $name in 06*) changed=output ;; 26*) changed=merges ;; 27*) changed=weight ;; 28*) changed=fp16_gradients ;;
    *) changed=post.linear1.weight ;; esac
  if perturb "$build/python/$name" "$changed"; then
    expect 1 "$name with $changed.npy moved by 1e-3 (1 if integer)" \
      "$python" "tutorials/python/$name.py" "$build/python/$name.perturbed"
  fi
  rm -rf "$build/python/$name.perturbed"
done
# And when the Python side changes: a twin with one of the articles' bugs put back must FAIL too.
mutate() {  # mutate NAME FROM TO: a copy of the twin with FROM replaced by TO, run on its folder
  mutants=$build/python/mutants
  rm -rf "$mutants" && mkdir -p "$mutants" && cp tutorials/python/twin_check.py "$mutants/" &&
    sed "s|$2|$3|" "tutorials/python/$1.py" >"$mutants/$1.py"
  if cmp -s "tutorials/python/$1.py" "$mutants/$1.py"; then
    say FAIL "negative check" "$1: '$2' not found to change"; return
  fi
  expect 1 "$1 with '$2' changed to '$3'" "$python" "$mutants/$1.py" "$build/python/$1"
}
[ -d "$build/python/04_scaled_attention" ] &&
  mutate 04_scaled_attention " / np.sqrt(d_k)  # \[" "  # ["  # no 1/sqrt(d_k)
[ -d "$build/python/06_attention_masks" ] &&
  mutate 06_attention_masks "np.where(blocked, -np.inf, scores)" "np.where(blocked, -1e9, scores)"
[ -d "$build/python/26_bpe" ] &&  # a merge that keeps the right token of the pair as well
  mutate 26_bpe "            i += 2" "            i += 1"
[ -d "$build/python/26_bpe" ] &&  # ties to the largest pair instead of the smallest
  mutate 26_bpe "(-counts\[pair\], pair)" "(-counts[pair], (-pair[0], -pair[1]))"
[ -d "$build/python/27_lora" ] &&  # the update without its 1 / r
  mutate 27_lora "return weight + (alpha / r) \* B @ A" "return weight + alpha * B @ A"
[ -d "$build/python/28_mixed_precision" ] &&  # bf16 by truncation instead of to nearest even
  mutate 28_mixed_precision "0x7FFF + ((bits >> 16) & 1)" "0"
rm -rf "$build/python/mutants"
expect 2 "02_softmax with no saved files" "$python" tutorials/python/02_softmax.py "$build/python/none"

# The Python exercises (PY_EXERCISES, programs in EXERCISE_DIR/python/): through the same C++
# checker, the untouched stub must FAIL, the solution PASS, and each wrong answer in
# python/mistakes/<name>__<mistake>.py FAIL with its "mistake:" line (its first line says which).
expect_exercise() {  # expect_exercise WANT_CODE WANT_TEXT WHAT NAME FILE
  ATTN_EXERCISE_PY=$5 ATTN_PYTHON=$python "${EXERCISE_DIR:-$build/exercises}/python/$4" \
    >"$build/python/exercise.log" 2>&1
  got=$?
  if [ "$got" -eq "$1" ] && grep -q "$2" "$build/python/exercise.log"; then
    say PASS "exercise $4 LANG=py" "$3: exit $got, '$2'"
  else
    say FAIL "exercise $4 LANG=py" "$3: exit $got (wanted $1 and '$2')"; sed 's/^/    /' "$build/python/exercise.log"
  fi
}
for exercise in ${PY_EXERCISES:-}; do
  dir=tutorials/exercises/python
  expect_exercise 1 "^FAIL $exercise" "the untouched stub fails" "$exercise" "$dir/stubs/$exercise.py"
  expect_exercise 0 "^PASS $exercise" "the solution passes" "$exercise" "$dir/solutions/$exercise.py"
  for wrong in "$dir/mistakes/${exercise}__"*.py; do
    [ -f "$wrong" ] || continue
    named=$(sed -n '1s/^# //p' "$wrong")  # "mistake: softmax over the wrong axis"
    expect_exercise 1 "$named" "$(basename "$wrong") is named" "$exercise" "$wrong"
  done
done

[ "$skipped" -eq 0 ] || echo "python twins: $skipped SKIPPED (torch is not installed: see the SKIPPED lines)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
