// engine.cpp — recording the graph and running it backwards.
#include <algorithm>
#include <stdexcept>
#include <unordered_set>

#include "autograd/debug.hpp"
#include "autograd/grad_mode.hpp"
#include "autograd/record.hpp"
#include "autograd/tensor.hpp"
#include "tensor/factory.hpp"
#include "tensor/ops.hpp"

namespace autograd {

// ---- recording ---------------------------------------------------------------------------------

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  const std::shared_ptr<TensorImpl>& impl = t.impl();
  if (impl->grad_fn) return impl->grad_fn;
  std::shared_ptr<Node> accumulator = impl->accumulator.lock();
  if (!accumulator) {
    accumulator = std::make_shared<Node>();
    accumulator->op = "accumulate_grad";
    accumulator->name = impl->name;
    accumulator->sequence = next_sequence_number();
    accumulator->leaf = impl;
    accumulator->output_shape = impl->data.shape();
    accumulator->output_dtype = impl->data.dtype();
    impl->accumulator = accumulator;
  }
  return accumulator;
}

bool will_record(const std::vector<Tensor>& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(const char* op, const Site& site, const Array& output,
              const std::vector<Tensor>& inputs, BackwardFn backward) {
  // Anomaly mode (debug.hpp) checks every forward result for a new NaN or infinity.
  if (detail::debug_hooks_on) detail::check_forward(op, site, output, inputs);
  if (!will_record(inputs)) return Tensor(output);
  auto node = std::make_shared<Node>();
  node->op = op;
  node->site = site;
  for (const Tensor& input : inputs) {
    node->inputs.push_back(gradient_edge(input));
    node->input_shapes.push_back(input.defined() ? input.shape() : Shape{});
    node->input_dtypes.push_back(input.defined() ? input.dtype() : DType::Float32);
  }
  // Numbered after its inputs' nodes (created above or earlier), so newest-first is a valid
  // order for backward.
  node->sequence = next_sequence_number();
  node->output_shape = output.shape();
  node->output_dtype = output.dtype();
  node->backward = std::move(backward);
  Tensor result(output);
  node->output = result.impl();
  result.impl()->requires_grad = true;
  result.impl()->grad_fn = std::move(node);
  return result;
}

// ---- backward ----------------------------------------------------------------------------------

namespace {

std::runtime_error freed_graph_error(const Node& node) {
  return std::runtime_error(
      "backward: trying to go through the graph a second time, but the saved values of '" +
      node.op + "' (created at " + node.site_str() +
      ") were already freed by the first backward(). Pass retain_graph=true to the first "
      "backward() if you need to call it twice.");
}

// Adds a finished gradient into a leaf's .grad. The first gradient is adopted without a copy
// when nobody else holds its memory; later ones are added in place.
void accumulate_into_leaf(Node& accumulator, Array grad) {
  std::shared_ptr<TensorImpl> leaf = accumulator.leaf.lock();
  if (!leaf || !leaf->requires_grad) return;
  for (GradHook& hook : leaf->leaf_hooks) hook(grad);
  if (grad.dtype() != leaf->data.dtype()) grad = grad.to(leaf->data.dtype());
  if (leaf->grad.defined()) {
    leaf->grad.add_(grad);
  } else if (grad.storage().use_count() == 1 && grad.is_contiguous() &&
             grad.shape() == leaf->data.shape()) {
    leaf->grad = grad;
  } else {
    leaf->grad = grad.expand(leaf->data.shape()).clone();
  }
}

// pending + g for an input that receives several gradients (a residual stream, a weight
// shared by two layers). When nobody else holds `pending`'s memory and it is a plain dense
// block, g is added into it in place: no new buffer, one pass over memory instead of two.
// Otherwise (a view another node also holds, a stride-0 expanded gradient) a new sum is made.
Array sum_gradients(Array pending, const Array& g) {
  if (pending.storage().use_count() == 1 && pending.is_contiguous() &&
      pending.shape() == g.shape() && pending.dtype() == g.dtype() &&
      pending.device() == g.device()) {
    pending.add_(g);
    return pending;
  }
  return tensor::add(pending, g);
}

}  // namespace

namespace {
// Every node reachable from `start`, newest first. Found without recursion (graphs can be
// 100,000 nodes deep). A node is always created after the nodes of its inputs, so newest-first
// visits each node after every node that consumes its output: all of its gradient has arrived.
std::vector<Node*> reverse_topological_order(Node* start, bool refuse_released) {
  std::vector<Node*> order;
  std::unordered_set<Node*> seen;
  std::vector<Node*> stack{start};
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    if (!seen.insert(node).second) continue;
    if (refuse_released && node->released) throw freed_graph_error(*node);
    order.push_back(node);
    for (const auto& input : node->inputs)
      if (input && !seen.count(input.get())) stack.push_back(input.get());
  }
  std::sort(order.begin(), order.end(),
            [](const Node* a, const Node* b) { return a->sequence > b->sequence; });
  return order;
}
}  // namespace

std::vector<std::shared_ptr<Node>> backward_order(const Tensor& root) {
  std::shared_ptr<Node> start = gradient_edge(root);
  if (!start) return {};
  std::vector<Node*> order = reverse_topological_order(start.get(), false);
  // Hand out shared pointers: find each node's owner among its consumers' edges.
  std::vector<std::shared_ptr<Node>> result{start};
  for (Node* node : order)
    for (const auto& input : node->inputs)
      if (input) result.push_back(input);
  std::sort(result.begin(), result.end(),
            [](const auto& a, const auto& b) { return a->sequence > b->sequence; });
  result.erase(std::unique(result.begin(), result.end()), result.end());
  return result;
}

namespace detail {
// Every node's backward runs through this one call, so a debugger can stop on a name instead of
// a line number: gdb's `attn-break-backward softmax` (tools/gdb/attn_printers.py) breaks here
// when node.op is "softmax", with the node and its incoming gradient in view. Never inlined, so
// the function exists in every build.
[[gnu::noinline]] Grads run_node_backward(Node& node, const Array& grad) {
  return node.backward(grad);
}
}  // namespace detail

void run_backward(const Tensor& root, const Array& root_grad, bool retain_graph) {
  std::shared_ptr<Node> start = gradient_edge(root);
  std::vector<Node*> order = reverse_topological_order(start.get(), true);

  // If anything throws, do not leave half-summed gradients behind in the nodes.
  struct ClearPending {
    std::vector<Node*>& nodes;
    ~ClearPending() {
      for (Node* n : nodes) n->pending_grad = Array();
    }
  } clear_pending{order};

  start->pending_grad = root_grad;
  // The backward trace and anomaly mode (debug.hpp) watch from here when they are on.
  if (detail::debug_hooks_on) detail::backward_started(*start, root_grad, order.size());
  for (Node* node : order) {
    Array grad = std::move(node->pending_grad);
    node->pending_grad = Array();
    if (!grad.defined()) continue;  // no gradient reached this node (e.g. an unused branch)
    for (GradHook& hook : node->hooks) hook(grad);

    if (node->is_leaf_accumulator()) {
      if (detail::debug_hooks_on) detail::leaf_reached(*node, grad);
      accumulate_into_leaf(*node, std::move(grad));
      continue;
    }
    if (!node->backward) throw freed_graph_error(*node);
    Grads grads = detail::run_node_backward(*node, grad);
    if (grads.size() != node->inputs.size())
      throw std::logic_error("backward of " + node->op + " returned " +
                             std::to_string(grads.size()) + " gradients for " +
                             std::to_string(node->inputs.size()) + " inputs");
    for (std::size_t i = 0; i < grads.size(); ++i) {
      Array& g = grads[i];
      if (node->inputs[i] == nullptr || !g.defined()) continue;
      // Broadcasting in the forward pass repeated the input; its gradient is the sum over
      // the repeats, reduced here once for every op.
      if (g.shape() != node->input_shapes[i]) g = tensor::sum_to(g, node->input_shapes[i]);
      if (g.dtype() != node->input_dtypes[i]) g = g.to(node->input_dtypes[i]);
    }
    if (detail::debug_hooks_on) detail::node_done(*node, grad, grads);
    // Hand each gradient to its input's node; an input used twice gets the sum.
    for (std::size_t i = 0; i < grads.size(); ++i) {
      Node* next = node->inputs[i].get();
      if (next == nullptr || !grads[i].defined()) continue;
      Array& g = grads[i];
      next->pending_grad = next->pending_grad.defined()
                               ? sum_gradients(std::move(next->pending_grad), g)
                               : std::move(g);
    }
    if (!retain_graph) {
      node->backward = nullptr;  // frees the arrays saved for backward
      node->released = true;
    }
  }
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  if (!defined()) throw std::invalid_argument("backward: called on an undefined tensor");
  if (!requires_grad())
    throw std::invalid_argument(
        "backward: this tensor does not require grad and has no grad_fn, so there is nothing "
        "to differentiate. Did you forget requires_grad_() on the parameters, or compute it "
        "under a NoGradGuard?");
  Array root_grad;
  if (gradient.defined()) {
    if (gradient.shape() != shape())
      throw std::invalid_argument("backward: gradient has shape " +
                                  tensor::shape_str(gradient.shape()) +
                                  " but the tensor has shape " + tensor::shape_str(shape()));
    root_grad = gradient.data().to(device()).to(dtype());
  } else {
    if (numel() != 1)
      throw std::invalid_argument(
          "backward: a gradient can only be implied for a tensor with one element; this one "
          "has shape " + tensor::shape_str(shape()) +
          ". Reduce it to a scalar first (e.g. .sum()) or pass a gradient of the same shape");
    root_grad = tensor::ones(shape(), dtype(), device());
  }
  run_backward(*this, root_grad, retain_graph);
}

}  // namespace autograd
