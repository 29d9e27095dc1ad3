// debug.hpp — looking inside autograd: print the graph, export it for Graphviz, watch the engine
// run backward node by node, and stop at the first op that makes a NaN or an infinity.
//
//   print_graph(loss);                 // text tree: op, name, shape, dtype, grad?, file:line
//   to_dot(loss, "out/graph.dot");     // then: dot -Tpng out/graph.dot -o out/graph.png
//   {
//     BackwardTrace trace;             // while it lives, backward() prints every node it runs:
//     loss.backward();                 // the gradient arriving and what it sends to each input
//   }
//   {
//     DetectAnomaly anomaly;           // while it lives, an op that produces NaN/inf (forward)
//     loss = model(x);                 // or a backward that produces one throws, naming the op,
//     loss.backward();                 // the tensors and the file:line where the op was called
//   }
//
// The guards are per thread and nest; when none is alive the engine pays one branch per node.
// For a gradient that is wrong but finite, use gradcheck (gradcheck.hpp) op by op, then the
// trace to see which node's output is off; tutorials/20_debugging_gradients.cpp does exactly
// that. For gdb, see tools/gdb/ and the "Debugging" section of README.md.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "autograd/tensor.hpp"

namespace autograd {

// ---- the graph as text ------------------------------------------------------------------------
// One line per node, from `root` back to the leaves, children indented under their consumer:
//
//   sum 'loss' [] float64, no grad  (tutorials/20_debugging_gradients.cpp:88)
//   └─ mul 'out' [4, 2] float64, no grad  (tutorials/20_debugging_gradients.cpp:87)
//      ├─ accumulate_grad 'w' [4, 2] float64, grad stored
//      └─ no-grad input [4, 2] float64
//
// "grad stored" means tensor.grad() holds a gradient (leaves after backward, or a non-leaf
// after retain_grad()). A node reached a second time (its output used twice) is printed once
// and then referred to as "(shown above)". Inputs that need no gradient are listed as
// "no-grad input". Nesting deeper than max_depth is cut with a "..." line.
std::string graph_string(const Tensor& root, int max_depth = 64);
void print_graph(const Tensor& root, std::ostream& out);
void print_graph(const Tensor& root);  // to std::cout

// ---- the graph for Graphviz -------------------------------------------------------------------
// DOT source with one box per graph node (op, name, shape, dtype, file:line; leaves blue, the
// root orange) and one edge per input edge, drawn in the direction data flows (input -> op).
std::string to_dot(const Tensor& root);
// Writes to_dot(root) to `path` (throws if the file cannot be written). Render it with
//   dot -Tpng path -o graph.png        (Graphviz: apt-get install graphviz)
void to_dot(const Tensor& root, const std::string& path);

// ---- backward trace ---------------------------------------------------------------------------
// While a BackwardTrace lives, backward() on this thread prints, for each node in the order the
// engine runs them, the gradient arriving at the node and the gradient it sends to each input
// (after broadcasting is summed back). Tensors with more than max_values elements are
// summarised by shape, min, max, mean and their first values.
//
//   backward from sum 'loss' [] float64: 5 nodes, newest first
//   [1] sum 'loss' [] float64  (test.cpp:12)
//         grad in   1
//         -> mul [2] float64: [1, 1]
//   ...
//   [5] accumulate_grad 'x' [2] float64
//         grad in   [3, 4]  -> added into x.grad()
class BackwardTrace {
 public:
  explicit BackwardTrace(std::ostream& out, std::int64_t max_values = 12);
  BackwardTrace();  // prints to std::cout
  ~BackwardTrace();
  BackwardTrace(const BackwardTrace&) = delete;
  BackwardTrace& operator=(const BackwardTrace&) = delete;

 private:
  std::ostream* previous_out_;
  std::int64_t previous_max_values_;
};

// ---- anomaly detection ------------------------------------------------------------------------
// While a DetectAnomaly lives (or after set_detect_anomaly(true)), on this thread:
//  - forward: an op whose result holds a NaN that none of its inputs held, or an infinity that
//    none of its inputs held, throws std::runtime_error naming the op, where it was called and
//    its inputs' names and values. So log(0), sqrt(-1), 0/0 or exp overflow stop at once, while
//    a -inf written on purpose into an attention mask flows through without complaint.
//  - backward: a gradient that is NaN or infinite throws, naming the op whose backward made it,
//    the tensor the gradient was for, and the op's file:line.
// It costs a pass over every result, so it is for hunting bugs, not for training runs.
class DetectAnomaly {
 public:
  DetectAnomaly();
  ~DetectAnomaly();
  DetectAnomaly(const DetectAnomaly&) = delete;
  DetectAnomaly& operator=(const DetectAnomaly&) = delete;

 private:
  bool previous_;
};
void set_detect_anomaly(bool enabled);
bool is_anomaly_enabled();

// ---- small helpers the tools above use, also handy in your own prints --------------------------
// "softmax 'weights'" or "softmax" when the node has no name.
std::string node_label(const Node& node);
// Values on one line: "[[1, 2.5], [3, 4]]" up to max_values elements, otherwise a summary
// "[64, 64] min -0.31 max 0.42 mean 0.0012, first 0.1, 0.2, 0.3, ...".
std::string summarize(const Array& values, std::int64_t max_values = 12);

// ---- what the engine calls (engine.cpp); not for users ----------------------------------------
namespace detail {
// True while any trace or anomaly mode is on for this thread: the engine checks only this.
extern constinit thread_local bool debug_hooks_on;
// Anomaly check of a forward result (called by record() for every op).
void check_forward(const char* op, const Site& site, const Array& output,
                   const std::vector<Tensor>& inputs);
// Start of a backward pass over `node_count` nodes from `root`.
void backward_started(const Node& root, const Array& root_grad, std::size_t node_count);
// `node` received `grad` and its backward sent `grads` (one per input, already reduced to the
// inputs' shapes; undefined where nothing was sent).
void node_done(const Node& node, const Array& grad, const Grads& grads);
// A leaf's accumulate_grad node received `grad`.
void leaf_reached(const Node& node, const Array& grad);
}  // namespace detail

}  // namespace autograd
