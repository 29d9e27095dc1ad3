#include "nn/module.hpp"

#include <algorithm>
#include <ostream>
#include <stdexcept>

namespace nn {

namespace {
void check_name(const std::string& name, const char* what) {
  if (name.empty() || name.find('.') != std::string::npos)
    throw std::invalid_argument(std::string("Module: ") + what + " name '" + name +
                                "' must be non-empty and contain no '.'");
}
}  // namespace

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  check_name(name, "parameter");
  for (const auto& [existing, tensor] : parameters_)
    if (existing == name) throw std::invalid_argument("Module: parameter '" + name + "' registered twice");
  if (!value.requires_grad()) value.requires_grad_(true);
  value.set_name(name);
  parameters_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_name(name, "buffer");
  value.set_name(name);
  buffers_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_name(name, "submodule");
  if (!module) throw std::invalid_argument("Module: submodule '" + name + "' is null");
  for (const auto& [existing, child] : children_)
    if (existing == name) throw std::invalid_argument("Module: submodule '" + name + "' registered twice");
  module->prefix_names(name);
  module->train(training_);
  children_.emplace_back(name, std::move(module));
}

// Registration happens bottom-up (a child is built before its parent registers it), so each
// registration prepends one level to the names of everything below: weight -> q_proj.weight ->
// self_attn.q_proj.weight. Graph tools then show parameters by their full dotted name.
void Module::prefix_names(const std::string& prefix) {
  for (auto& [name, tensor] : parameters_) tensor.set_name(prefix + "." + tensor.name());
  for (auto& [name, tensor] : buffers_) tensor.set_name(prefix + "." + tensor.name());
  for (auto& [name, child] : children_) child->prefix_names(prefix);
}

void Module::collect(const std::string& prefix, NamedTensors& out, bool buffers) const {
  for (const auto& [name, tensor] : buffers ? buffers_ : parameters_)
    out.emplace_back(prefix + name, tensor);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out, buffers);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", out, false);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", out, true);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, tensor] : named_parameters()) out.push_back(tensor);
  return out;
}

std::int64_t Module::num_parameters() const {
  std::int64_t n = 0;
  for (auto& [name, tensor] : named_parameters()) n += tensor.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& [name, tensor] : named_parameters()) tensor.zero_grad();
}

void Module::to(Device device) {
  for (auto& [name, tensor] : named_parameters()) tensor.set_data(tensor.data().to(device));
  for (auto& [name, tensor] : named_buffers()) tensor.set_data(tensor.data().to(device));
}

Device Module::device() const {
  NamedTensors params = named_parameters();
  return params.empty() ? tensor::kCPU : params.front().second.device();
}

void Module::to(DType dtype) {
  for (auto& [name, tensor] : named_parameters()) tensor.set_data(tensor.data().to(dtype));
  all_buffers_to(dtype);
}

void Module::all_buffers_to(DType dtype) {
  buffers_to(dtype);
  for (auto& [name, child] : children_) child->all_buffers_to(dtype);
}

void Module::buffers_to(DType dtype) {
  for (auto& [name, tensor] : buffers_)
    if (tensor::is_floating(tensor.dtype())) tensor.set_data(tensor.data().to(dtype));
}

int Module::register_forward_hook(ForwardHook hook) {
  forward_hooks_.emplace_back(next_hook_id_, std::move(hook));
  return next_hook_id_++;
}

void Module::remove_forward_hook(int id) {
  std::erase_if(forward_hooks_, [id](const auto& entry) { return entry.first == id; });
}

void Module::call_forward_hooks(const Tensor& output) const {
  for (const auto& [id, hook] : forward_hooks_) hook(*this, output);
}

namespace {
std::string with_commas(std::int64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}
}  // namespace

void Module::append_tree(std::string& out, const std::string& name, int indent) const {
  std::string pad(indent, ' ');
  out += pad + (name.empty() ? "" : "(" + name + "): ") + type_name() + "(" + extra_repr() + ")";
  std::int64_t count = num_parameters();
  if (count > 0) out += "  # " + with_commas(count) + " parameters";
  out += "\n";
  for (const auto& [pname, tensor] : parameters_)
    out += pad + "  " + pname + ": " + tensor::shape_str(tensor.shape()) + "\n";
  for (const auto& [child_name, child] : children_) child->append_tree(out, child_name, indent + 2);
}

std::string Module::to_string() const {
  std::string out;
  append_tree(out, "", 0);
  return out;
}

std::ostream& operator<<(std::ostream& os, const Module& module) { return os << module.to_string(); }

}  // namespace nn
