// module.hpp — nn::Module, the base of every layer and model.
//
// A Module owns parameters (trainable tensors) and submodules, each registered under a name.
// That gives every parameter a dotted path, as in PyTorch:
//     encoder.layers.0.self_attn.q_proj.weight
// which is how optimizers find the parameters, checkpoints name them, and weights are mapped to
// and from PyTorch. A module is either training (dropout active) or evaluating.
//
// Each layer defines its own forward(...) with the arguments it needs; layers that map one
// tensor to one tensor derive from UnaryModule so they can be chained in a Sequential.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/autograd.hpp"

namespace nn {

using autograd::Tensor;
using tensor::Array;
using tensor::Device;
using tensor::DType;
using tensor::Generator;
using tensor::Shape;

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The type name shown when printing ("Linear") and the details in parentheses
  // ("in_features=4, out_features=2, bias=true").
  virtual std::string type_name() const = 0;
  virtual std::string extra_repr() const { return ""; }

  // Parameters of this module and all submodules, with dotted names, in registration order.
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  std::int64_t num_parameters() const;
  // Non-trainable state that belongs in checkpoints (e.g. a fixed positional-encoding table).
  NamedTensors named_buffers() const;
  // Direct children, in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }

  void train(bool on = true);  // this module and all submodules
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();            // forget the gradients of all parameters
  // Moves every parameter and buffer to `device` (in place: existing handles see the move).
  void to(Device device);
  // Where the parameters live (cpu for a module without parameters).
  Device device() const;
  // Converts every floating parameter and buffer to `dtype` (a buffer a module computes, like
  // the sinusoidal table, is recomputed in that dtype rather than rounded: see buffers_to).
  void to(DType dtype);

  // A tree like PyTorch's print(model), with each parameter's shape and the count per module.
  std::string to_string() const;

  // Forward hooks: called with (module, output) after each forward of this module, e.g. to
  // record activations. Returns an id for remove_forward_hook.
  using ForwardHook = std::function<void(const Module&, const Tensor& output)>;
  int register_forward_hook(ForwardHook hook);
  void remove_forward_hook(int id);

 protected:
  // Registers a trainable tensor (requires_grad is switched on) and names it.
  Tensor register_parameter(const std::string& name, Tensor value);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  // Layers call this with their output at the end of forward.
  void call_forward_hooks(const Tensor& output) const;
  // Called by to(dtype) for this module's own buffers (not its children's). The default
  // converts each floating buffer; a module whose buffer is a formula overrides it to recompute
  // the values in the new dtype, so float64 gets float64 accuracy instead of widened floats.
  virtual void buffers_to(DType dtype);

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void prefix_names(const std::string& prefix);
  void collect(const std::string& prefix, NamedTensors& out, bool buffers) const;
  void all_buffers_to(DType dtype);  // buffers_to on this module and every submodule
  void append_tree(std::string& out, const std::string& name, int indent) const;

  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::vector<std::pair<int, ForwardHook>> forward_hooks_;
  int next_hook_id_ = 0;
  bool training_ = true;
};

// A module that maps one tensor to one tensor: can be chained in Sequential.
// `site` is the caller's file and line (autograd/record.hpp): forward passes it to every op and
// submodule it calls, so each node in the graph names the user's line, not a line in nn/.
// Every override repeats the same default: a default argument is evaluated at the caller's line
// whichever declaration supplies it, so the base's and an override's give the same site.
class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& x, autograd::Site site = autograd::Site::current()) = 0;
  Tensor operator()(const Tensor& x, autograd::Site site = autograd::Site::current()) {
    Tensor y = forward(x, site);
    call_forward_hooks(y);
    return y;
  }
};

std::ostream& operator<<(std::ostream& os, const Module& module);

}  // namespace nn
