// record.hpp — how an op puts itself into the graph (used by the ops' .cpp files).
//
// Pattern of every differentiable op:
//
//   Tensor exp(const Tensor& x, Site site) {
//     Array y = tensor::exp(x.data());                         // forward
//     SavedArray saved_y(y, "exp");
//     return record("exp", site, y, {x}, [saved_y](const Array& grad) -> Grads {
//       return {grad * saved_y.get()};                         // backward: d exp(x)/dx = exp(x)
//     });
//   }
//
// record() returns the result as a plain tensor when grad mode is off or no input requires
// grad; otherwise it creates the node and links it to the inputs' nodes.
#pragma once

#include <vector>

#include "autograd/tensor.hpp"

namespace autograd {

Tensor record(const char* op, const Site& site, const Array& output,
              const std::vector<Tensor>& inputs, BackwardFn backward);

// True when a graph would be recorded for an op on these inputs.
bool will_record(const std::vector<Tensor>& inputs);

// The node that receives gradients for tensor t: its grad_fn, or (for a leaf that requires grad)
// its accumulate_grad node, created on first use. Null when t needs no gradient.
std::shared_ptr<Node> gradient_edge(const Tensor& t);

}  // namespace autograd
