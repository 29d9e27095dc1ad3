#include "autograd/node.hpp"

#include <atomic>
#include <stdexcept>

namespace autograd {

SavedArray::SavedArray(const Array& array, const char* op)
    : array_(array), version_(array.defined() ? array.storage()->version() : 0), op_(op) {}

const Array& SavedArray::get() const {
  if (array_.defined() && array_.storage()->version() != version_)
    throw std::runtime_error(
        std::string("backward of ") + op_ +
        ": a tensor saved by the forward pass was modified in place afterwards (version " +
        std::to_string(version_) + ", now " + std::to_string(array_.storage()->version()) +
        "). The gradient would be computed from the wrong values; modify a clone() instead, or "
        "only after backward()");
  return array_;
}

std::string Node::site_str() const {
  if (site.line() == 0) return "unknown site";
  return std::string(site.file_name()) + ":" + std::to_string(site.line());
}

Node::~Node() {
  // Destroying `inputs` normally would destroy the input nodes (if this was their last owner),
  // which destroy their inputs, and so on: one stack frame per node of a chain. Instead, take
  // the edges of every node that is about to die and release them from a local worklist.
  std::vector<std::shared_ptr<Node>> worklist = std::move(inputs);
  while (!worklist.empty()) {
    std::shared_ptr<Node> node = std::move(worklist.back());
    worklist.pop_back();
    if (node && node.use_count() == 1) {
      for (auto& input : node->inputs) worklist.push_back(std::move(input));
      node->inputs.clear();
    }
    // `node` is destroyed here, with its inputs already moved out: no recursion.
  }
}

std::uint64_t next_sequence_number() {
  static std::atomic<std::uint64_t> counter{0};
  return ++counter;
}

}  // namespace autograd
