// node.hpp — one recorded op in the autograd graph.
//
// When an op runs on tensors that require grad, it records a Node: the op's name, where the user
// called it, an edge to the node of each input, and a backward function that turns the gradient
// of the output into gradients of the inputs. Leaf tensors (parameters, inputs created by the
// user) get an "accumulate_grad" node that adds arriving gradients into tensor.grad().
//
//   x (leaf) ──> [accumulate_grad]          loss.backward() walks the graph from loss's node
//   w (leaf) ──> [accumulate_grad]          towards the leaves, newest node first, calling each
//   y = matmul(x, w) ──> [matmul] ─edges─┘  backward function once all of its output's gradient
//   loss = sum(y)    ──> [sum] ──edge──> [matmul]          has arrived.
//
// Backward functions take and return Arrays, not Tensors: they run outside the graph, so
// backward records nothing and there are no higher-order gradients (no grad of a grad, no
// create_graph=True as in PyTorch, no Hessian-vector products). Supporting them would take
// backward functions written with the autograd ops on Tensors (so that, under an option like
// create_graph, the backward pass itself records nodes), a gradient that is a Tensor with a
// graph of its own, and a gradcheck of the gradients (gradgradcheck). First order is all that
// training and these tutorials need, and plain Array code is easier to step through in gdb.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <vector>

#include "tensor/array.hpp"

namespace autograd {

using tensor::Array;
using tensor::DType;
using tensor::Shape;
using Site = std::source_location;

struct TensorImpl;

// Gradients of each input, in input order; an undefined Array means "no gradient for it".
using Grads = std::vector<Array>;
using BackwardFn = std::function<Grads(const Array& grad_output)>;
// A hook sees the gradient arriving for a tensor and may replace it.
using GradHook = std::function<void(Array& grad)>;

// An Array saved by the forward pass for use in backward, with the storage version it had then.
// get() refuses to hand it out if the memory was overwritten in place since: the gradient would
// silently be computed from the wrong numbers.
class SavedArray {
 public:
  SavedArray() = default;
  SavedArray(const Array& array, const char* op);
  const Array& get() const;

 private:
  Array array_;
  std::uint64_t version_ = 0;
  const char* op_ = "";
};

struct Node {
  std::string op;             // the op that made the output ("matmul", "softmax", ...)
  Site site;                  // where the op was called from (file:line of user code)
  std::string name;           // name of the output tensor, when the user gave one
  std::uint64_t sequence = 0; // creation order: every node is newer than its inputs' nodes
  std::vector<std::shared_ptr<Node>> inputs;  // one per input; null when it needs no gradient
  std::vector<Shape> input_shapes;            // gradients are summed back to these shapes
  std::vector<DType> input_dtypes;            // ... and converted to these dtypes
  Shape output_shape;
  DType output_dtype = DType::Float32;
  BackwardFn backward;        // empty once released (after a backward without retain_graph)
  bool released = false;
  std::vector<GradHook> hooks;       // run on the output's gradient before backward
  std::weak_ptr<TensorImpl> leaf;    // set for accumulate_grad nodes only
  std::weak_ptr<TensorImpl> output;  // the tensor this op made (debug tools show its grad)
  Array pending_grad;                // the output's gradient, summed while backward runs

  bool is_leaf_accumulator() const { return op == "accumulate_grad"; }
  std::string site_str() const;      // "tutorials/04_scaled_attention.cpp:37"

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Frees long chains without recursing once per node (a 100,000-op chain would otherwise
  // overflow the stack while being destroyed).
  ~Node();
};

std::uint64_t next_sequence_number();

}  // namespace autograd
