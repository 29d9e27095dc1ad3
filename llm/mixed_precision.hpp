// mixed_precision.hpp — training in bf16 or fp16 with float32 master weights and dynamic loss
// scaling, simulated on float32 tensors.
//
// What real mixed-precision training does (torch.autocast + torch.cuda.amp.GradScaler):
//   - the optimizer owns float32 "master" weights; every step the forward and backward run on a
//     16-bit copy of them, and activations and their gradients are 16-bit tensors;
//   - the 16-bit weight gradients are converted to float32, divided by the loss scale and
//     applied to the master weights (a small update, below a 16-bit weight's last digit, still
//     changes the float32 master: the reason the master copy exists);
//   - fp16's smallest value is 2^-24 ≈ 6e-8, so small gradients underflow to 0; the loss is
//     multiplied by a scale S (2^16 at start) before backward, which moves every gradient up by
//     S, and the gradients are divided by S again in float32. When S is too large something
//     overflows to inf: that step is skipped and S halved; after N steps without inf, S doubles.
//
// Here the values stay float32, but each one that would be stored in 16 bits is rounded to the
// nearest bf16/fp16 value (tensor::round_to_bf16/fp16, round to nearest even, fp16 overflow to
// inf and subnormals exact), so every rounding error, underflow and overflow of the real thing
// happens. Matmuls accumulate in float32, as tensor cores do.
//
// The design choice: where activations are rounded is made explicit in the model, by RoundTo
// layers (parameter-free, like ReLU) placed at every layer boundary — rounded_sequential() puts
// one after the input and after every layer. The forward rounds the output, the backward rounds
// the incoming gradient to the same format (autograd::round_to_fp16). One model can then be
// trained in every precision: MixedPrecision sets the format of all its RoundTo layers (float32
// makes them the identity). This keeps nn/ unchanged (no flag on every module, no hidden global
// mode), and a reader sees in print(model) exactly where the casts are.
//
// A training step:
//     mixed.begin_step();                          // master -> rounded working weights
//     Tensor loss = cross_entropy(model(x), y);    // forward in 16 bits (loss itself in float32)
//     scaler.scale(loss).backward();               // backward in 16 bits, on the scaled loss
//     bool stepped = mixed.step(optimizer, scaler);  // grads -> master, unscale, inf check, step
// with `optimizer` built on mixed.master_parameters().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/autograd.hpp"
#include "nn/layers.hpp"
#include "nn/optim.hpp"

namespace llm {

using autograd::Tensor;

enum class Precision { Float32, Bfloat16, Float16 };

std::string precision_name(Precision precision);  // "fp32", "bf16", "fp16"
// "fp32", "bf16" or "fp16"; throws std::invalid_argument naming the value otherwise.
Precision parse_precision(const std::string& name);

// x rounded to `precision` (a copy of x for Float32).
tensor::Array round_to(Precision precision, const tensor::Array& x);
// Differentiable: rounds in the forward and rounds the gradient in the backward (x itself,
// unrecorded, for Float32).
Tensor round_to(Precision precision, const Tensor& x,
                autograd::Site site = autograd::Site::current());

// A cast at a layer boundary: y = round_to(precision, x); dx = round_to(precision, dy).
class RoundTo : public nn::UnaryModule {
 public:
  explicit RoundTo(Precision precision = Precision::Float32) : precision(precision) {}
  Tensor forward(const Tensor& x, autograd::Site site = autograd::Site::current()) override;
  std::string type_name() const override { return "RoundTo"; }
  std::string extra_repr() const override { return precision_name(precision); }
  Precision precision;
};

// A Sequential of `layers` with a RoundTo before the first and after each one:
// RoundTo, layers[0], RoundTo, layers[1], RoundTo, ... (all in `precision`).
std::shared_ptr<nn::Sequential> rounded_sequential(
    const std::vector<std::shared_ptr<nn::UnaryModule>>& layers,
    Precision precision = Precision::Float32);

// Sets the precision of every RoundTo in `model` (itself and all submodules); returns how many.
int set_precision(nn::Module& model, Precision precision);

// Dynamic loss scaling, as torch.cuda.amp.GradScaler (same defaults, same rules):
//   scale(loss) = loss * S;
//   step(optimizer): divide every gradient by S (float32); if any is inf or NaN, skip the step;
//   update(): after a skipped step S *= backoff_factor and the count of good steps restarts;
//             after growth_interval good steps in a row S *= growth_factor.
// Disabled (enabled = false), scale() returns the loss, step() just steps, update() does nothing.
struct GradScalerOptions {
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  std::int64_t growth_interval = 2000;
  bool enabled = true;
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions options = {});
  Tensor scale(const Tensor& loss) const;
  // Unscales the gradients of optimizer.params(), then steps unless one is inf/NaN; returns
  // whether it stepped.
  bool step(nn::Optimizer& optimizer);
  void update();  // adjusts the scale after step(), as described above
  double get_scale() const { return enabled() ? scale_ : 1.0; }
  bool enabled() const { return options_.enabled; }
  const GradScalerOptions& options() const { return options_; }
  std::int64_t skipped_steps() const { return skipped_steps_; }  // in total
  std::int64_t good_steps_in_a_row() const { return growth_tracker_; }

 private:
  GradScalerOptions options_;
  double scale_;
  std::int64_t growth_tracker_ = 0;
  std::int64_t skipped_steps_ = 0;
  bool found_inf_ = false;  // in the last step()
};

// Float32 master weights for `model`, which it trains in `precision`.
class MixedPrecision {
 public:
  // Copies the model's floating parameters as float32 masters and sets the precision of the
  // model's RoundTo layers. The model's own parameters become the 16-bit working copies.
  MixedPrecision(nn::Module& model, Precision precision);
  // Give these to the optimizer: it updates them, in float32.
  const std::vector<Tensor>& master_parameters() const { return masters_; }
  Precision precision() const { return precision_; }
  // Working weights = master rounded to the precision; clears the model's gradients.
  void begin_step();
  // Copies the working gradients (rounded to the precision, as a 16-bit gradient would be
  // stored: a gradient rounding to inf shows up here) to the masters as float32, then
  // scaler.step(optimizer) and scaler.update(). Returns whether the optimizer stepped.
  bool step(nn::Optimizer& optimizer, GradScaler& scaler);
  // After training: the model's parameters = the float32 masters (for evaluation in float32).
  void copy_masters_to_model();

 private:
  std::vector<Tensor> working_;  // the model's parameters
  std::vector<Tensor> masters_;  // float32 copies, requires_grad
  Precision precision_;
};

}  // namespace llm
