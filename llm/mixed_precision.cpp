// mixed_precision.cpp — see mixed_precision.hpp.
#include "llm/mixed_precision.hpp"

#include <stdexcept>

#include "tensor/finite.hpp"

namespace llm {

std::string precision_name(Precision precision) {
  switch (precision) {
    case Precision::Float32: return "fp32";
    case Precision::Bfloat16: return "bf16";
    case Precision::Float16: return "fp16";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::Float32;
  if (name == "bf16") return Precision::Bfloat16;
  if (name == "fp16") return Precision::Float16;
  throw std::invalid_argument("unknown precision '" + name + "' (expected fp32, bf16 or fp16)");
}

tensor::Array round_to(Precision precision, const tensor::Array& x) {
  switch (precision) {
    case Precision::Bfloat16: return tensor::round_to_bf16(x);
    case Precision::Float16: return tensor::round_to_fp16(x);
    case Precision::Float32: break;
  }
  return x.clone();
}

Tensor round_to(Precision precision, const Tensor& x, autograd::Site site) {
  switch (precision) {
    case Precision::Bfloat16: return autograd::round_to_bf16(x, site);
    case Precision::Float16: return autograd::round_to_fp16(x, site);
    case Precision::Float32: break;
  }
  return x;
}

Tensor RoundTo::forward(const Tensor& x, autograd::Site site) {
  return round_to(precision, x, site);
}

std::shared_ptr<nn::Sequential> rounded_sequential(
    const std::vector<std::shared_ptr<nn::UnaryModule>>& layers, Precision precision) {
  auto model = std::make_shared<nn::Sequential>();
  model->append(std::make_shared<RoundTo>(precision));  // the input, as it would be loaded
  for (const auto& layer : layers) {
    model->append(layer);
    model->append(std::make_shared<RoundTo>(precision));
  }
  return model;
}

int set_precision(nn::Module& model, Precision precision) {
  int count = 0;
  if (auto* cast = dynamic_cast<RoundTo*>(&model)) {
    cast->precision = precision;
    ++count;
  }
  for (const auto& [name, child] : model.children()) count += set_precision(*child, precision);
  return count;
}

// ---- dynamic loss scaling ----------------------------------------------------------------------

GradScaler::GradScaler(GradScalerOptions options) : options_(options), scale_(options.init_scale) {
  if (!(options.init_scale > 0) || !(options.growth_factor > 1) ||
      !(options.backoff_factor > 0 && options.backoff_factor < 1) || options.growth_interval < 1)
    throw std::invalid_argument(
        "GradScaler: need init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1 and "
        "growth_interval >= 1");
}

Tensor GradScaler::scale(const Tensor& loss) const {
  if (!enabled()) return loss;
  return loss * scale_;
}

bool GradScaler::step(nn::Optimizer& optimizer) {
  if (!enabled()) {
    optimizer.step();
    return true;
  }
  autograd::NoGradGuard no_grad;
  found_inf_ = false;
  const double inverse = 1.0 / scale_;  // exact: the scale is a power of two with the defaults
  for (const Tensor& p : optimizer.params()) {
    if (!p.grad().defined()) continue;
    p.grad().data().mul_(inverse);  // unscale, in float32
    if (tensor::find_non_finite(p.grad().data()).any()) found_inf_ = true;
  }
  if (found_inf_) {
    ++skipped_steps_;
    return false;  // the weights are left as they were
  }
  optimizer.step();
  return true;
}

void GradScaler::update() {
  if (!enabled()) return;
  if (found_inf_) {
    scale_ *= options_.backoff_factor;
    growth_tracker_ = 0;
  } else if (++growth_tracker_ == options_.growth_interval) {
    scale_ *= options_.growth_factor;
    growth_tracker_ = 0;
  }
  found_inf_ = false;
}

// ---- master weights ----------------------------------------------------------------------------

MixedPrecision::MixedPrecision(nn::Module& model, Precision precision) : precision_(precision) {
  for (const Tensor& p : model.parameters()) {
    if (!tensor::is_floating(p.dtype())) continue;
    working_.push_back(p);
    masters_.push_back(Tensor(p.data().to(tensor::DType::Float32).clone(), true));
  }
  set_precision(model, precision);
}

void MixedPrecision::begin_step() {
  autograd::NoGradGuard no_grad;
  for (std::size_t i = 0; i < working_.size(); ++i) {
    working_[i].set_data(round_to(precision_, masters_[i].data()).to(working_[i].dtype()));
    working_[i].zero_grad();
  }
}

bool MixedPrecision::step(nn::Optimizer& optimizer, GradScaler& scaler) {
  {
    autograd::NoGradGuard no_grad;
    for (std::size_t i = 0; i < working_.size(); ++i) {
      const Tensor grad = working_[i].grad();
      if (!grad.defined()) {
        masters_[i].zero_grad();
        continue;
      }
      masters_[i].set_grad(round_to(precision_, grad.data()).to(tensor::DType::Float32));
    }
  }
  const bool stepped = scaler.step(optimizer);
  scaler.update();
  return stepped;
}

void MixedPrecision::copy_masters_to_model() {
  autograd::NoGradGuard no_grad;
  for (std::size_t i = 0; i < working_.size(); ++i)
    working_[i].set_data(masters_[i].data().to(working_[i].dtype()).clone());
}

}  // namespace llm
