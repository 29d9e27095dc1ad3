// layers.hpp — the basic layers, with PyTorch's names, shapes and default initialisations.
//
// Shapes: `*` means any number of leading dims (batch, time, ...).
//   Linear        x [*, in]  -> [*, out]     y = x W^T + b,  W [out, in], b [out]
//   Embedding     ids [*]    -> [*, dim]     rows of W [num, dim]
//   LayerNorm     x [*, C]   -> [*, C]       normalise the last dim, then * weight + bias
//   RMSNorm       x [*, C]   -> [*, C]       divide the last dim by its RMS, then * weight
//   Dropout, ReLU, GELU, SiLU: any shape, elementwise
//   FeedForward   x [*, d_model] -> [*, d_model]   Linear -> activation -> dropout -> Linear
//   SwiGLU        x [*, d_model] -> [*, d_model]   w2(silu(w1 x) * w3 x)
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/module.hpp"

namespace nn {

// Something that changes what a Linear computes without rebuilding the model that holds it:
// LoRA (llm/lora.hpp) adds a trained low-rank term to a frozen layer. Models keep their layers
// as shared_ptr<Linear> members that code outside the model cannot swap for another type (as
// PyTorch's setattr(parent, "q_proj", new_layer) would), so the layer itself carries the hook.
class LinearAdapter : public Module {
 public:
  // The term added to the layer's output x W^T + b, for its input x [*, in] -> [*, out]; or an
  // undefined Tensor when the adapter adds nothing now (LoRA after merge(): its update is
  // already folded into W).
  virtual Tensor delta(const Tensor& x, autograd::Site site) = 0;
};

// Weights are initialised as PyTorch does: W and b ~ U(-1/sqrt(in), 1/sqrt(in)).
class Linear : public UnaryModule {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias,
         Generator& gen = tensor::default_generator());
  // y = x W^T + b, plus adapter->delta(x) when an adapter is attached.
  Tensor forward(const Tensor& x, autograd::Site site = autograd::Site::current()) override;
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  // Attaches `adapter` as this layer's submodule `name`, so its parameters are named
  // <layer>.<name>.<param> by named_parameters() (e.g. q_proj.lora.A). One adapter per layer:
  // attaching a second throws.
  void attach_adapter(const std::string& name, std::shared_ptr<LinearAdapter> adapter);
  Tensor weight, bias;  // bias is undefined when built without one
  std::int64_t in_features, out_features;
  std::shared_ptr<LinearAdapter> adapter;  // null unless attach_adapter was called
};

// Weights ~ N(0, 1) as in PyTorch.
class Embedding : public UnaryModule {
 public:
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim,
            Generator& gen = tensor::default_generator());
  // indices: int64 ids of any shape
  Tensor forward(const Tensor& indices,
                 autograd::Site site = autograd::Site::current()) override;
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;
  Tensor weight;
  std::int64_t num_embeddings, embedding_dim;
};

// weight = 1, bias = 0 at start.
class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(std::int64_t normalized_size, double eps = 1e-5,
                     bool elementwise_affine = true);
  Tensor forward(const Tensor& x, autograd::Site site = autograd::Site::current()) override;
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;
  Tensor weight, bias;
  std::int64_t normalized_size;
  double eps;
};

// torch.nn.RMSNorm over the last dim: y = x / sqrt(mean(x^2) + eps) * weight. LayerNorm without
// the mean subtraction and without the bias. eps = nullopt means the machine epsilon of the
// input's dtype (PyTorch's default). weight = 1 at start.
class RMSNorm : public UnaryModule {
 public:
  explicit RMSNorm(std::int64_t normalized_size, std::optional<double> eps = std::nullopt,
                   bool elementwise_affine = true);
  Tensor forward(const Tensor& x, autograd::Site site = autograd::Site::current()) override;
  std::string type_name() const override { return "RMSNorm"; }
  std::string extra_repr() const override;
  Tensor weight;  // undefined without elementwise_affine
  std::int64_t normalized_size;
  std::optional<double> eps;
};

// Zeroes elements with probability p while training (scaling the rest by 1/(1-p));
// the identity in eval mode. The mask is drawn from `gen` (kept by reference).
class Dropout : public UnaryModule {
 public:
  explicit Dropout(double p, Generator& gen = tensor::default_generator());
  Tensor forward(const Tensor& x, autograd::Site site = autograd::Site::current()) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  double p;

 private:
  Generator gen_;  // a handle on the caller's stream, not a copy of it (tensor/random.hpp)
};

class ReLU : public UnaryModule {
 public:
  Tensor forward(const Tensor& x, autograd::Site site = autograd::Site::current()) override;
  std::string type_name() const override { return "ReLU"; }
};

class GELU : public UnaryModule {
 public:
  explicit GELU(bool tanh_approximation = false) : tanh_approximation(tanh_approximation) {}
  Tensor forward(const Tensor& x, autograd::Site site = autograd::Site::current()) override;
  std::string type_name() const override { return "GELU"; }
  std::string extra_repr() const override;
  bool tanh_approximation;
};

// SiLU (swish): x * sigmoid(x), the gate's activation in SwiGLU.
class SiLU : public UnaryModule {
 public:
  Tensor forward(const Tensor& x, autograd::Site site = autograd::Site::current()) override;
  std::string type_name() const override { return "SiLU"; }
};

// Runs its modules one after the other; children are named "0", "1", ...
class Sequential : public UnaryModule {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<UnaryModule>> modules);
  void append(std::shared_ptr<UnaryModule> module);
  Tensor forward(const Tensor& x, autograd::Site site = autograd::Site::current()) override;
  std::string type_name() const override { return "Sequential"; }
  std::size_t size() const { return modules_.size(); }
  UnaryModule& operator[](std::size_t i) { return *modules_.at(i); }

 private:
  std::vector<std::shared_ptr<UnaryModule>> modules_;
};

// The Transformer's position-wise feed-forward block: linear1 -> activation -> dropout ->
// linear2 (children named linear1, activation, dropout, linear2).
class FeedForward : public UnaryModule {
 public:
  FeedForward(std::int64_t d_model, std::int64_t d_ff, const std::string& activation = "relu",
              double dropout = 0.0, Generator& gen = tensor::default_generator());
  Tensor forward(const Tensor& x, autograd::Site site = autograd::Site::current()) override;
  std::string type_name() const override { return "FeedForward"; }
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<UnaryModule> activation;
  std::shared_ptr<Dropout> dropout;
};

// The gated feed-forward of LLaMA and PaLM, with LLaMA's names (children w1, w2, w3):
//   gate = w1 x, up = w3 x: [*, hidden_dim];  out = w2(silu(gate) * up): [*, d_model]
// Three matrices instead of the two of a GELU FeedForward: see swiglu_hidden_dim for the hidden
// size that keeps the parameter count. No biases by default, as in LLaMA.
class SwiGLU : public UnaryModule {
 public:
  SwiGLU(std::int64_t d_model, std::int64_t hidden_dim, bool bias = false,
         Generator& gen = tensor::default_generator());
  Tensor forward(const Tensor& x, autograd::Site site = autograd::Site::current()) override;
  std::string type_name() const override { return "SwiGLU"; }
  std::shared_ptr<Linear> w1, w2, w3;  // gate [hidden, d], down [d, hidden], up [hidden, d]
};

// The SwiGLU hidden size that matches a FeedForward of width 4 * d_model in parameters
// (without biases): the MLP has 2 * d * 4d = 8 d^2 weights, SwiGLU has 3 * d * h, so
// h = 8d/3. As in LLaMA: floor(2 * 4d / 3), then rounded up to a multiple of multiple_of
// (hardware likes multiples of 64 or 256). For d divisible by 3 and multiple_of = 1 the counts
// are equal; otherwise 3 d h differs from 8 d^2 by less than 3 d (times multiple_of).
std::int64_t swiglu_hidden_dim(std::int64_t d_model, std::int64_t multiple_of = 1);

// "relu", "gelu", "gelu_tanh" or "silu" as a module; throws for anything else.
std::shared_ptr<UnaryModule> make_activation(const std::string& name);

}  // namespace nn
