// divergence.cpp — the training-loop guard against NaN and inf (divergence.hpp).
#include "nn/divergence.hpp"

#include <cmath>
#include <cstdio>


namespace nn {

namespace {

// A number as a person reads it in a log: "2.3104", "nan", "inf", "1.2e+38".
std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

}  // namespace

DivergenceGuard::DivergenceGuard(std::string advice) : advice_(std::move(advice)) {}

void DivergenceGuard::check(std::int64_t step, double loss, double grad_norm) {
  if (std::isfinite(loss) && std::isfinite(grad_norm)) {
    last_finite_loss_ = loss;
    last_finite_step_ = step;
    return;
  }
  std::string what = std::isfinite(loss)
                         ? "the gradient norm is " + number_text(grad_norm) + " (the loss, " +
                               number_text(loss) + ", is finite)"
                         : "the loss is " + number_text(loss);
  std::string before = has_finite_loss()
                           ? "the last finite loss was " + number_text(last_finite_loss_) +
                                 ", at step " + std::to_string(last_finite_step_)
                           : "no finite loss was seen before it in this run";
  std::string message =
      "training diverged at step " + std::to_string(step) + ": " + what + " (" + before +
      "); the weights were not updated with it and no checkpoint is written from it. " +
      (advice_.empty() ? "" : advice_ + "; ") +
      "anomaly mode (autograd::DetectAnomaly) finds the op that made the first NaN or inf";
  throw TrainingDiverged(message, step, loss, grad_norm);
}

}  // namespace nn
