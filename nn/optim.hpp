// optim.hpp — optimizers, gradient clipping and learning-rate schedules, with PyTorch's update
// rules so that a training run here and one in PyTorch take the same steps.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.hpp"

namespace nn {

using NamedArrays = std::vector<std::pair<std::string, Array>>;

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;
  // One update of every parameter that has a gradient (parameters without one are skipped).
  virtual void step() = 0;
  void zero_grad();  // forget all parameters' gradients
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  std::int64_t steps_taken() const { return steps_; }
  const std::vector<Tensor>& params() const { return params_; }
  // The optimizer's state, for checkpoints: one entry per state array, named
  // "<param index>.<what>" (e.g. "3.exp_avg"), plus "steps" as a 0-d int64 array.
  virtual NamedArrays state() const;
  virtual void load_state(const NamedArrays& state);
  // What is wrong with `array` as a saved "steps" entry ("" when nothing): it must be one number
  // holding an integer in 0..2^63-1. load_state and load_checkpoint check with it.
  static std::string step_count_problem(const Array& array);

 protected:
  std::vector<Tensor> params_;
  double lr_;
  std::int64_t steps_ = 0;
  // Per parameter, named state arrays (momentum buffers, moments); created lazily.
  std::vector<std::vector<std::pair<std::string, Array>>> slots_;
  // The state array `name` of parameter `param` (a handle sharing its memory), zeros on first use.
  Array slot(std::size_t param, const std::string& name);
};

// Stochastic gradient descent, as torch.optim.SGD:
//   g = grad + weight_decay * p
//   buf = g on the first step, else momentum * buf + (1 - dampening) * g
//   g = g + momentum * buf if nesterov, else buf        (when momentum > 0)
//   p -= lr * g
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, double lr, double momentum = 0, double dampening = 0,
      double weight_decay = 0, bool nesterov = false);
  void step() override;

 private:
  double momentum_, dampening_, weight_decay_;
  bool nesterov_;
};

// Adam (weight decay as an L2 term added to the gradient) and AdamW (decoupled weight decay:
// p *= 1 - lr * weight_decay), as torch.optim.Adam / AdamW, with bias correction.
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
       double eps = 1e-8, double weight_decay = 0, bool decoupled_weight_decay = false);
  void step() override;

 private:
  double beta1_, beta2_, eps_, weight_decay_;
  bool decoupled_;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weight_decay = 1e-2)
      : Adam(std::move(params), lr, beta1, beta2, eps, weight_decay, true) {}
};

// The global L2 norm of the parameters' gradients (a parameter without one counts as zero),
// summed in float64. Changes nothing; DivergenceGuard (divergence.hpp) checks it every step.
double grad_norm(const std::vector<Tensor>& params);

// Scales all gradients down together so that their global L2 norm is at most max_norm.
// Returns the norm before clipping, grad_norm(params) (as torch.nn.utils.clip_grad_norm_).
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm);

// Learning-rate schedules: call step() once per optimizer step; the optimizer's lr becomes
// base_lr * factor(steps so far). factor(0) applies from construction.
class LRScheduler {
 public:
  LRScheduler(Optimizer& optimizer, std::function<double(std::int64_t)> factor);
  virtual ~LRScheduler() = default;
  void step();
  std::int64_t steps() const { return steps_; }
  void set_steps(std::int64_t steps);  // for resuming from a checkpoint
  double current_lr() const { return optimizer_.lr(); }

 private:
  Optimizer& optimizer_;
  double base_lr_;
  std::function<double(std::int64_t)> factor_;
  std::int64_t steps_ = 0;
};

// lr * gamma^(floor(step / step_size))
LRScheduler step_lr(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);
// eta_min + (lr - eta_min) * (1 + cos(pi * step / t_max)) / 2, constant at eta_min after t_max
LRScheduler cosine_lr(Optimizer& optimizer, std::int64_t t_max, double eta_min = 0);
// lr * min(1, (step + 1) / warmup_steps): ramps up linearly, then constant
LRScheduler linear_warmup_lr(Optimizer& optimizer, std::int64_t warmup_steps);
// "Attention Is All You Need": lr * d_model^-0.5 * min(s^-0.5, s * warmup^-1.5), s = step + 1
LRScheduler noam_lr(Optimizer& optimizer, std::int64_t d_model, std::int64_t warmup_steps);

}  // namespace nn
