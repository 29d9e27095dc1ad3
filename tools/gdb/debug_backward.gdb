# debug_backward.gdb — a scripted gdb session for tutorials/20_debugging_gradients: stop inside the
# hand-written backward with the planted bug and look at the tensors, as you would by hand.
#
# Run from the repository root, on the debug build (-O0 -g3):
#   make debug
#   gdb -batch -x tools/gdb/debug_backward.gdb \
#       --args build/debug/tutorials/20_debugging_gradients --quick --out /tmp/out
# tests/autograd/test_debug.cpp runs exactly this and checks the printed lines.

set pagination off
set confirm off
set print thread-events off
set print inferior-events off
# No debuginfod downloads, and no complaint where a container forbids turning ASLR off.
set debuginfod enabled off
set disable-randomization off
source tools/gdb/attn_printers.py
# Show every value of these small tensors (the default is 8, then "...").
set attn-max-elements 16

break scaled_scores_backward_buggy
run

echo \n=== stopped in the planted backward: the gradient arriving and the saved inputs\n
print grad_scores
print q
print k
print scale
echo \n=== one line on: the transpose is a view, printed through its strides\n
next
print grad_scores_t
echo \n=== finish: the returned {dq, dk}, both missing the factor scale\n
finish
echo \n=== the engine's node for this op (autograd::run_backward is a few std::function frames up)\n
frame function autograd::run_backward
print *node
print node->output_shape
print *node->inputs[0]
print node->pending_grad
echo \n=== the model's tensors, in main\n
frame function main
print x
print buggy.scores
set attn-max-elements 3
print params.w_q
echo \n=== done: let the tutorial finish\n
delete
continue
