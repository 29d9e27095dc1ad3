#include "nn/layers.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "nn/init.hpp"
#include "tensor/factory.hpp"

namespace nn {

namespace {
std::string bool_str(bool b) { return b ? "true" : "false"; }
}  // namespace

// ---- Linear ----------------------------------------------------------------------------------------

Linear::Linear(std::int64_t in, std::int64_t out, bool with_bias, Generator& gen)
    : in_features(in), out_features(out) {
  if (in <= 0 || out <= 0)
    throw std::invalid_argument("Linear: in_features and out_features must be positive, got " +
                                std::to_string(in) + " and " + std::to_string(out));
  weight = register_parameter("weight", autograd::zeros({out, in}));
  // PyTorch's default: kaiming_uniform_(a = sqrt(5)) for W, which is U(-1/sqrt(in), 1/sqrt(in)),
  // and the same bound for b.
  init::kaiming_uniform_(weight, gen, std::sqrt(5.0));
  if (with_bias) {
    bias = register_parameter("bias", autograd::zeros({out}));
    double bound = 1.0 / std::sqrt(double(in));
    init::uniform_(bias, -bound, bound, gen);
  }
}

Tensor Linear::forward(const Tensor& x, autograd::Site site) {
  if (x.dim() == 0 || x.size(-1) != in_features)
    throw std::invalid_argument("Linear: expected input [..., " + std::to_string(in_features) +
                                "], got " + tensor::shape_str(x.shape()));
  // y = x W^T + b, W stored [out, in] as in PyTorch: one fused node on the cpu (the bias
  // added in the GEMM's stores, its gradient summed in dW's GEMM), matmul then add elsewhere.
  Tensor y = autograd::fused_linear(x, weight, bias, site);
  if (adapter) {
    Tensor delta = adapter->delta(x, site);
    if (delta.defined()) y = autograd::add(y, delta, site);
  }
  return y;
}

void Linear::attach_adapter(const std::string& name, std::shared_ptr<LinearAdapter> new_adapter) {
  if (!new_adapter) throw std::invalid_argument("Linear::attach_adapter: the adapter is null");
  if (adapter)
    throw std::invalid_argument("Linear::attach_adapter: this layer already has an adapter (" +
                                adapter->type_name() + "); one adapter per layer");
  register_module(name, new_adapter);
  adapter = std::move(new_adapter);
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" +
         std::to_string(out_features) + ", bias=" + bool_str(bias.defined());
}

// ---- Embedding -------------------------------------------------------------------------------------

Embedding::Embedding(std::int64_t num, std::int64_t dim, Generator& gen)
    : num_embeddings(num), embedding_dim(dim) {
  if (num <= 0 || dim <= 0)
    throw std::invalid_argument("Embedding: sizes must be positive");
  weight = register_parameter("weight", autograd::zeros({num, dim}));
  init::normal_(weight, 0.0, 1.0, gen);
}

Tensor Embedding::forward(const Tensor& indices, autograd::Site site) {
  return autograd::embedding(weight, indices, site);
}

std::string Embedding::extra_repr() const {
  return std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim);
}

// ---- LayerNorm -------------------------------------------------------------------------------------

LayerNorm::LayerNorm(std::int64_t size, double eps, bool affine) : normalized_size(size), eps(eps) {
  if (affine) {
    weight = register_parameter("weight", autograd::ones({size}));
    bias = register_parameter("bias", autograd::zeros({size}));
  }
}

Tensor LayerNorm::forward(const Tensor& x, autograd::Site site) {
  if (x.dim() == 0 || x.size(-1) != normalized_size)
    throw std::invalid_argument("LayerNorm: expected input [..., " +
                                std::to_string(normalized_size) + "], got " +
                                tensor::shape_str(x.shape()));
  return autograd::layer_norm(x, weight, bias, eps, site);
}

std::string LayerNorm::extra_repr() const {
  std::ostringstream s;
  s << "(" << normalized_size << ",), eps=" << eps << ", elementwise_affine=" << bool_str(weight.defined());
  return s.str();
}

// ---- RMSNorm ---------------------------------------------------------------------------------------

RMSNorm::RMSNorm(std::int64_t size, std::optional<double> eps, bool affine)
    : normalized_size(size), eps(eps) {
  if (size <= 0)
    throw std::invalid_argument("RMSNorm: normalized_size must be positive, got " +
                                std::to_string(size));
  if (eps && !(*eps >= 0))
    throw std::invalid_argument("RMSNorm: eps must be >= 0, got " + std::to_string(*eps));
  if (affine) weight = register_parameter("weight", autograd::ones({size}));
}

Tensor RMSNorm::forward(const Tensor& x, autograd::Site site) {
  if (x.dim() == 0 || x.size(-1) != normalized_size)
    throw std::invalid_argument("RMSNorm: expected input [..., " +
                                std::to_string(normalized_size) + "], got " +
                                tensor::shape_str(x.shape()));
  return autograd::rms_norm(x, weight, eps, site);
}

std::string RMSNorm::extra_repr() const {
  std::ostringstream s;
  s << "(" << normalized_size << ",), eps=";
  if (eps) s << *eps;
  else s << "None";
  s << ", elementwise_affine=" << bool_str(weight.defined());
  return s.str();
}

// ---- Dropout, activations ----------------------------------------------------------------------------

Dropout::Dropout(double p, Generator& gen) : p(p), gen_(gen) {
  if (!(p >= 0 && p < 1)) throw std::invalid_argument("Dropout: p must be in [0, 1)");
}

Tensor Dropout::forward(const Tensor& x, autograd::Site site) {
  return autograd::dropout(x, p, is_training(), gen_, site);
}

std::string Dropout::extra_repr() const {
  std::ostringstream s;
  s << "p=" << p;
  return s.str();
}

Tensor ReLU::forward(const Tensor& x, autograd::Site site) { return autograd::relu(x, site); }

Tensor GELU::forward(const Tensor& x, autograd::Site site) {
  return autograd::gelu(x, tanh_approximation, site);
}

std::string GELU::extra_repr() const {
  return tanh_approximation ? "approximate='tanh'" : "approximate='none'";
}

Tensor SiLU::forward(const Tensor& x, autograd::Site site) { return autograd::silu(x, site); }

std::shared_ptr<UnaryModule> make_activation(const std::string& name) {
  if (name == "relu") return std::make_shared<ReLU>();
  if (name == "silu") return std::make_shared<SiLU>();
  if (name == "gelu") return std::make_shared<GELU>(false);
  if (name == "gelu_tanh") return std::make_shared<GELU>(true);
  throw std::invalid_argument("activation: unknown activation '" + name +
                              "' (expected relu, gelu, gelu_tanh or silu)");
}

// ---- Sequential --------------------------------------------------------------------------------------

Sequential::Sequential(std::vector<std::shared_ptr<UnaryModule>> modules) {
  for (auto& m : modules) append(std::move(m));
}

void Sequential::append(std::shared_ptr<UnaryModule> module) {
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

Tensor Sequential::forward(const Tensor& x, autograd::Site site) {
  Tensor y = x;
  for (auto& m : modules_) y = (*m)(y, site);
  return y;
}

// ---- FeedForward -------------------------------------------------------------------------------------

FeedForward::FeedForward(std::int64_t d_model, std::int64_t d_ff, const std::string& act,
                         double p, Generator& gen) {
  linear1 = register_module("linear1", std::make_shared<Linear>(d_model, d_ff, true, gen));
  activation = register_module("activation", make_activation(act));
  dropout = register_module("dropout", std::make_shared<Dropout>(p, gen));
  linear2 = register_module("linear2", std::make_shared<Linear>(d_ff, d_model, true, gen));
}

Tensor FeedForward::forward(const Tensor& x, autograd::Site site) {
  return (*linear2)((*dropout)((*activation)((*linear1)(x, site), site), site), site);
}

// ---- SwiGLU ----------------------------------------------------------------------------------------

SwiGLU::SwiGLU(std::int64_t d_model, std::int64_t hidden_dim, bool bias, Generator& gen) {
  if (d_model <= 0 || hidden_dim <= 0)
    throw std::invalid_argument("SwiGLU: d_model and hidden_dim must be positive, got " +
                                std::to_string(d_model) + " and " + std::to_string(hidden_dim));
  w1 = register_module("w1", std::make_shared<Linear>(d_model, hidden_dim, bias, gen));
  w2 = register_module("w2", std::make_shared<Linear>(hidden_dim, d_model, bias, gen));
  w3 = register_module("w3", std::make_shared<Linear>(d_model, hidden_dim, bias, gen));
}

Tensor SwiGLU::forward(const Tensor& x, autograd::Site site) {
  Tensor gate = autograd::silu((*w1)(x, site), site);  // [*, hidden]: silu(x W1^T)
  Tensor up = (*w3)(x, site);                          // [*, hidden]: x W3^T, no activation
  return (*w2)(autograd::mul(gate, up, site), site);   // [*, d_model]
}

std::int64_t swiglu_hidden_dim(std::int64_t d_model, std::int64_t multiple_of) {
  if (d_model <= 0 || multiple_of <= 0)
    throw std::invalid_argument("swiglu_hidden_dim: d_model and multiple_of must be positive, got " +
                                std::to_string(d_model) + " and " + std::to_string(multiple_of));
  const std::int64_t hidden = std::max<std::int64_t>(1, 2 * (4 * d_model) / 3);  // floor(8d/3)
  return (hidden + multiple_of - 1) / multiple_of * multiple_of;
}

}  // namespace nn
