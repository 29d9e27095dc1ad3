#include "nn/optim.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "tensor/factory.hpp"
#include "tensor/nn_ops.hpp"
#include "tensor/ops.hpp"

namespace nn {

Optimizer::Optimizer(std::vector<Tensor> params, double lr)
    : params_(std::move(params)), lr_(lr), slots_(params_.size()) {
  if (!(lr >= 0)) throw std::invalid_argument("optimizer: learning rate must be >= 0");
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (!params_[i].requires_grad())
      throw std::invalid_argument("optimizer: parameter " + std::to_string(i) + " ('" +
                                  params_[i].name() + "') does not require grad");
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

Array Optimizer::slot(std::size_t param, const std::string& name) {
  for (auto& [slot_name, array] : slots_[param])
    if (slot_name == name) return array;
  slots_[param].emplace_back(name, tensor::zeros_like(params_[param].data()));
  return slots_[param].back().second;
}

NamedArrays Optimizer::state() const {
  NamedArrays out;
  for (std::size_t i = 0; i < slots_.size(); ++i)
    for (const auto& [name, array] : slots_[i]) out.emplace_back(std::to_string(i) + "." + name, array);
  out.emplace_back("steps", tensor::scalar(double(steps_), DType::Int64));
  return out;
}

// A float NaN or 1e300 would be undefined behaviour to convert to int64: check first.
std::string Optimizer::step_count_problem(const Array& array) {
  if (array.numel() != 1)
    return "has shape " + tensor::shape_str(array.shape()) + ", expected one number";
  if (array.dtype() == DType::Int64) {
    std::int64_t steps = array.to_vector<std::int64_t>()[0];
    return steps < 0 ? "is " + std::to_string(steps) + ", expected a step count >= 0" : "";
  }
  if (array.dtype() == DType::Bool) return "is a bool, expected a step count (int64)";
  double steps = array.to_vector<double>()[0];
  // 2^63 is the first double beyond int64; compare before converting.
  if (!std::isfinite(steps) || steps < 0 || steps != std::floor(steps) || steps >= 0x1p63) {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", steps);
    return std::string("is ") + text + ", expected a step count: an integer in 0..2^63-1";
  }
  return "";
}

void Optimizer::load_state(const NamedArrays& state) {
  for (const auto& [name, array] : state)
    if (name == "steps")
      if (std::string problem = step_count_problem(array); !problem.empty())
        throw std::invalid_argument("optimizer: state entry 'steps' " + problem);
  for (auto& s : slots_) s.clear();
  for (const auto& [name, array] : state) {
    if (name == "steps") {
      steps_ = array.dtype() == DType::Int64 ? array.to_vector<std::int64_t>()[0]
                                             : static_cast<std::int64_t>(array.item());
      continue;
    }
    std::size_t dot = name.find('.');
    std::size_t index = dot == std::string::npos ? params_.size() : std::stoul(name.substr(0, dot));
    if (index >= params_.size())
      throw std::invalid_argument("optimizer: state entry '" + name +
                                  "' does not belong to any of the " +
                                  std::to_string(params_.size()) + " parameters");
    if (array.shape() != params_[index].shape())
      throw std::invalid_argument("optimizer: state entry '" + name + "' has shape " +
                                  tensor::shape_str(array.shape()) + " but parameter " +
                                  std::to_string(index) + " has shape " +
                                  tensor::shape_str(params_[index].shape()));
    slots_[index].emplace_back(name.substr(dot + 1),
                               array.to(params_[index].device()).to(params_[index].dtype()).clone());
  }
}

// ---- SGD -------------------------------------------------------------------------------------------

SGD::SGD(std::vector<Tensor> params, double lr, double momentum, double dampening,
         double weight_decay, bool nesterov)
    : Optimizer(std::move(params), lr),
      momentum_(momentum),
      dampening_(dampening),
      weight_decay_(weight_decay),
      nesterov_(nesterov) {
  if (nesterov && (momentum <= 0 || dampening != 0))
    throw std::invalid_argument("SGD: nesterov needs momentum > 0 and dampening 0");
}

void SGD::step() {
  autograd::NoGradGuard no_grad;
  ++steps_;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    Array g = p.grad().data();
    if (weight_decay_ != 0) g = g + p.data() * weight_decay_;
    if (momentum_ != 0) {
      bool first = slots_[i].empty();
      Array buf = slot(i, "momentum_buffer");
      if (first) {
        buf.copy_(g);
      } else {
        buf.mul_(momentum_);
        buf.add_(g, 1 - dampening_);
      }
      g = nesterov_ ? g + buf * momentum_ : buf;
    }
    p.data().add_(g, -lr_);
  }
}

// ---- Adam / AdamW ------------------------------------------------------------------------------

Adam::Adam(std::vector<Tensor> params, double lr, double beta1, double beta2, double eps,
           double weight_decay, bool decoupled_weight_decay)
    : Optimizer(std::move(params), lr),
      beta1_(beta1),
      beta2_(beta2),
      eps_(eps),
      weight_decay_(weight_decay),
      decoupled_(decoupled_weight_decay) {
  if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1))
    throw std::invalid_argument("Adam: betas must be in [0, 1)");
}

void Adam::step() {
  autograd::NoGradGuard no_grad;
  ++steps_;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    Array m = slot(i, "exp_avg");
    Array v = slot(i, "exp_avg_sq");
    // One fused pass over the parameter (tensor/cpu/nn_kernels.cpp: adam_step).
    tensor::adam_step(p.data(), p.grad().data().contiguous(), m, v, lr_, beta1_, beta2_, eps_,
                      weight_decay_, decoupled_, steps_);
  }
}

// ---- gradient clipping -------------------------------------------------------------------------

double grad_norm(const std::vector<Tensor>& params) {
  double total_sq = 0;
  for (const Tensor& p : params)
    if (p.grad().defined()) total_sq += tensor::sum(tensor::square(p.grad().data().to(DType::Float64))).item();
  return std::sqrt(total_sq);
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm) {
  double norm = grad_norm(params);
  double factor = max_norm / (norm + 1e-6);  // the small constant is PyTorch's
  if (factor < 1) {
    autograd::NoGradGuard no_grad;
    for (const Tensor& p : params)
      if (p.grad().defined()) p.grad().data().mul_(factor);
  }
  return norm;
}

// ---- schedules ---------------------------------------------------------------------------------

LRScheduler::LRScheduler(Optimizer& optimizer, std::function<double(std::int64_t)> factor)
    : optimizer_(optimizer), base_lr_(optimizer.lr()), factor_(std::move(factor)) {
  optimizer_.set_lr(base_lr_ * factor_(0));
}

void LRScheduler::step() {
  ++steps_;
  optimizer_.set_lr(base_lr_ * factor_(steps_));
}

void LRScheduler::set_steps(std::int64_t steps) {
  steps_ = steps;
  optimizer_.set_lr(base_lr_ * factor_(steps_));
}

LRScheduler step_lr(Optimizer& optimizer, std::int64_t step_size, double gamma) {
  if (step_size <= 0) throw std::invalid_argument("step_lr: step_size must be positive");
  return LRScheduler(optimizer, [=](std::int64_t s) { return std::pow(gamma, double(s / step_size)); });
}

LRScheduler cosine_lr(Optimizer& optimizer, std::int64_t t_max, double eta_min) {
  if (t_max <= 0) throw std::invalid_argument("cosine_lr: t_max must be positive");
  double base = optimizer.lr();
  return LRScheduler(optimizer, [=](std::int64_t s) {
    if (s >= t_max) return eta_min / base;
    const double pi = 3.14159265358979323846;
    return (eta_min + (base - eta_min) * (1 + std::cos(pi * double(s) / double(t_max))) / 2) / base;
  });
}

LRScheduler linear_warmup_lr(Optimizer& optimizer, std::int64_t warmup_steps) {
  if (warmup_steps <= 0) throw std::invalid_argument("linear_warmup_lr: warmup_steps must be positive");
  return LRScheduler(optimizer, [=](std::int64_t s) {
    return std::min(1.0, double(s + 1) / double(warmup_steps));
  });
}

LRScheduler noam_lr(Optimizer& optimizer, std::int64_t d_model, std::int64_t warmup_steps) {
  if (warmup_steps <= 0 || d_model <= 0)
    throw std::invalid_argument("noam_lr: d_model and warmup_steps must be positive");
  return LRScheduler(optimizer, [=](std::int64_t s) {
    double step = double(s + 1);
    return std::pow(double(d_model), -0.5) *
           std::min(std::pow(step, -0.5), step * std::pow(double(warmup_steps), -1.5));
  });
}

}  // namespace nn
