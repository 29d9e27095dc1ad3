// divergence.hpp — stopping a training run whose loss or gradients stop being numbers.
//
// A learning rate far too high makes the loss grow until it overflows to inf, then NaN; from then
// on every optimizer step writes NaN into the weights, and a checkpoint saved after that is
// garbage that overwrote the last good one. The guard checks each step's loss and gradient norm
// after backward() and BEFORE optimizer.step(), so a non-finite gradient never reaches the
// weights, and throws TrainingDiverged naming the step, the last finite loss and what to try.
// save_checkpoint (checkpoint.hpp) refuses non-finite weights too: the last good checkpoint on
// disk survives whatever the loop does.
//
//   nn::DivergenceGuard guard("try a lower --lr");  // what to try, in the caller's words
//   for (std::int64_t step = 1; step <= steps; ++step) {
//     ...
//     loss.backward();
//     guard.check(step, loss.item(), nn::grad_norm(model.parameters()));  // throws on NaN/inf
//     optimizer.step();
//   }
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/optim.hpp"  // grad_norm

namespace nn {

// Thrown by DivergenceGuard::check. what() is the whole message, e.g.
// "training diverged at step 37: the loss is nan (the last finite loss was 2.3104, at step 36);
//  the weights were not updated with it. Try a lower --lr, or ..."
class TrainingDiverged : public std::runtime_error {
 public:
  TrainingDiverged(const std::string& message, std::int64_t step, double loss, double grad_norm)
      : std::runtime_error(message), step_(step), loss_(loss), grad_norm_(grad_norm) {}
  std::int64_t step() const { return step_; }  // the step whose loss or gradient was not finite
  double loss() const { return loss_; }
  double grad_norm() const { return grad_norm_; }

 private:
  std::int64_t step_;
  double loss_, grad_norm_;
};

class DivergenceGuard {
 public:
  // `advice`: what the user can change, in the caller's words ("try a lower --lr (this run: 1e9)").
  // The message always adds anomaly mode, which finds the op that made the first NaN or inf.
  explicit DivergenceGuard(std::string advice = "try a lower learning rate");

  // Throws TrainingDiverged when `loss` or `grad_norm` is NaN or infinite; otherwise remembers
  // the loss as the last finite one. Call once per step, before optimizer.step().
  void check(std::int64_t step, double loss, double grad_norm);

  bool has_finite_loss() const { return last_finite_step_ >= 0; }
  double last_finite_loss() const { return last_finite_loss_; }
  std::int64_t last_finite_step() const { return last_finite_step_; }

 private:
  std::string advice_;
  double last_finite_loss_ = 0;
  std::int64_t last_finite_step_ = -1;
};

}  // namespace nn
