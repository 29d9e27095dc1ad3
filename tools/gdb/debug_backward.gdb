# debug_backward.gdb — a scripted gdb session for tutorials/20_debugging_gradients: stop in the
# backward of the op with the planted bug by its name, look at the node and the tensors, step in.
#
# Run from the repository root, on the debug build (-O0 -g3) of that one tutorial:
#   make debug-tutorial NAME=20_debugging_gradients
#   gdb -batch -x tools/gdb/debug_backward.gdb \
#       --args build/debug/tutorials/20_debugging_gradients --quick --out /tmp/out
# tests/gdb/test_gdb_session.cpp runs exactly this and checks the printed lines.

set pagination off
set confirm off
set width 0
set print thread-events off
set print inferior-events off
# No debuginfod downloads, and no complaint where a container forbids turning ASLR off.
set debuginfod enabled off
set disable-randomization off
source tools/gdb/attn_printers.py

echo \n=== break in the backward of the op named scaled_scores (no file, no line number)\n
attn-break-backward scaled_scores
run

echo \n=== step into its backward: the lambda that scaled_scores recorded\n
attn-step-backward
echo \n=== on to the hand-written backward with the planted bug\n
break scaled_scores_backward_buggy
continue
print grad_scores
print q
print k
print scale
echo \n=== one line on: the transpose is a view, printed through its strides\n
next
print grad_scores_t
echo \n=== finish: the returned {dq, dk}, both missing the factor scale\n
finish
echo \n=== the same node and gradient, from inside the backward\n
attn-backward-info
echo \n=== the engine's node, in the engine's frame\n
frame function autograd::detail::run_node_backward
print node
print node.output_shape
print *node.inputs[0]
echo \n=== the model's tensors, in main\n
frame function main
print x
print buggy.scores
echo \n=== summarised: one item at each edge of anything above 4 elements\n
set attn-print-limit 4
set attn-print-edge 1
print params.w_q
echo \n=== done: let the tutorial finish\n
delete
continue
