// ops_nn.cpp — dropout, layer norm, RMS norm and the losses, each with its backward.
#include <cmath>
#include <limits>
#include <stdexcept>

#include "autograd/ops.hpp"
#include "autograd/record.hpp"
#include "tensor/factory.hpp"
#include "tensor/nn_ops.hpp"
#include "tensor/ops.hpp"

namespace autograd {

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen, Site site) {
  if (!(p >= 0 && p <= 1)) throw std::invalid_argument("dropout: p must be in [0, 1]");
  if (!training || p == 0) return x;
  if (p == 1) return x * 0.0;  // everything dropped
  // mask = 1/(1-p) where kept, 0 where dropped: the kept values are scaled up during training
  // so that evaluation (no dropout) sees the same expected activation.
  Array mask = tensor::dropout_mask(x.shape(), p, gen, x.dtype(), x.device());
  Array y = tensor::mul(x.data(), mask);
  return record("dropout", site, y, {x}, [mask](const Array& g) -> Grads {
    return {g * mask};  // y = x * mask  =>  dx = g * mask
  });
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Site site) {
  Array w = weight.defined() ? weight.data() : Array();
  Array b = bias.defined() ? bias.data() : Array();
  tensor::LayerNormResult forward = tensor::layer_norm(x.data(), w, b, eps);
  SavedArray saved_x(x.data(), "layer_norm"), saved_w(w, "layer_norm");
  Array mean = forward.mean, rstd = forward.rstd;
  bool need_w = weight.requires_grad(), need_b = bias.requires_grad();
  return record("layer_norm", site, forward.out, {x, weight, bias},
                [saved_x, saved_w, mean, rstd, need_w, need_b](const Array& g) -> Grads {
                  // One fused pass (see tensor/cpu/nn_kernels.cpp for the formula).
                  tensor::LayerNormGrads grads = tensor::layer_norm_backward(
                      g, saved_x.get(), saved_w.get(), mean, rstd, need_w, need_b);
                  return {grads.x, grads.weight, grads.bias};
                });
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, std::optional<double> eps, Site site) {
  // PyTorch's default eps is the dtype's machine epsilon (torch.finfo(x.dtype).eps).
  const double eps_value = eps ? *eps : tensor::dispatch_floating(x.dtype(), "rms_norm", [](auto zero) {
    return double(std::numeric_limits<decltype(zero)>::epsilon());
  });
  Array w = weight.defined() ? weight.data() : Array();
  tensor::RMSNormResult forward = tensor::rms_norm(x.data(), w, eps_value);
  SavedArray saved_x(x.data(), "rms_norm"), saved_w(w, "rms_norm");
  Array rstd = forward.rstd;
  bool need_w = weight.requires_grad();
  return record("rms_norm", site, forward.out, {x, weight},
                [saved_x, saved_w, rstd, need_w](const Array& g) -> Grads {
                  // y = xhat * w, xhat = x * rstd. One fused pass:
                  //   dx = rstd * (g*w - xhat * mean(g*w * xhat)),  dw = sum over rows g * xhat
                  tensor::RMSNormGrads grads =
                      tensor::rms_norm_backward(g, saved_x.get(), saved_w.get(), rstd, need_w);
                  return {grads.x, grads.weight};
                });
}

namespace {

Tensor reduce_losses(const Tensor& losses, Reduction reduction, Site site) {
  switch (reduction) {
    case Reduction::None: return losses;
    case Reduction::Sum: return sum(losses, {}, false, site);
    case Reduction::Mean: return mean(losses, {}, false, site);
  }
  return losses;
}

// Number of targets that are not ignore_index.
std::int64_t count_counted(const Array& targets, std::int64_t ignore_index) {
  Array host = targets.to(tensor::kCPU).contiguous();
  const std::int64_t* t = host.data<std::int64_t>();
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < host.numel(); ++i) n += t[i] != ignore_index;
  return n;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits_in, const Tensor& targets_in, std::int64_t ignore_index,
                     double label_smoothing, Reduction reduction, Site site) {
  // A single sample [C] with a 0-d target is a batch of one.
  bool single = logits_in.dim() == 1;
  Tensor logits = single ? unsqueeze(logits_in, 0, site) : logits_in;
  Tensor targets = single && targets_in.dim() == 0 ? targets_in.unsqueeze(0) : targets_in;
  Array x = logits.data(), t = targets.data();
  Array losses = tensor::cross_entropy_losses(x, t, ignore_index, label_smoothing);
  Tensor per_row = record("cross_entropy", site, losses, {logits},
                          [x, t, ignore_index, label_smoothing](const Array& g) -> Grads {
                            // d loss_n / d logits[n, c] = p[n, c] - target distribution[n, c]
                            return {tensor::cross_entropy_backward(x, t, g, ignore_index,
                                                                   label_smoothing)};
                          });
  if (reduction == Reduction::Mean) {
    // PyTorch: the mean is over the rows that are not ignored (0/0 = nan if all are ignored).
    double counted = static_cast<double>(count_counted(t, ignore_index));
    Tensor total = sum(per_row, {}, false, site);
    return div(total, scalar_like(total, counted), site);
  }
  Tensor reduced = reduce_losses(per_row, reduction, site);
  return single && reduction == Reduction::None ? reduced.squeeze(0, site) : reduced;
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& targets, std::int64_t ignore_index,
                Reduction reduction, Site site) {
  if (log_probs.dim() != 2)
    throw std::invalid_argument("nll_loss: log_probs must be [N, C], got " +
                                tensor::shape_str(log_probs.shape()));
  if (targets.dtype() != DType::Int64 || targets.dim() != 1 ||
      targets.size(0) != log_probs.size(0))
    throw std::invalid_argument("nll_loss: targets must be int64 [N] = [" +
                                std::to_string(log_probs.size(0)) + "], got " +
                                tensor::dtype_name(targets.dtype()) + " " +
                                tensor::shape_str(targets.shape()));
  // Ignored rows read class 0 and are then masked out of the loss.
  Array t = targets.data();
  Array ignored = tensor::eq(t, tensor::scalar_like(t, double(ignore_index)));
  Tensor safe_targets(tensor::where(ignored, tensor::scalar_like(t, 0.0), t));
  Tensor picked = gather(log_probs, 1, safe_targets.unsqueeze(1), site).squeeze(1, site);
  Tensor losses = masked_fill(neg(picked, site), Tensor(ignored), 0.0, site);
  if (reduction == Reduction::Mean) {
    double counted = static_cast<double>(count_counted(t, ignore_index));
    Tensor total = sum(losses, {}, false, site);
    return div(total, scalar_like(total, counted), site);
  }
  return reduce_losses(losses, reduction, site);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction, Site site) {
  if (input.shape() != target.shape())
    throw std::invalid_argument("mse_loss: input shape " + tensor::shape_str(input.shape()) +
                                " and target shape " + tensor::shape_str(target.shape()) +
                                " differ");
  return reduce_losses(square(sub(input, target, site), site), reduction, site);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets,
                                        Reduction reduction, Site site) {
  if (logits.shape() != targets.shape())
    throw std::invalid_argument("binary_cross_entropy_with_logits: logits shape " +
                                tensor::shape_str(logits.shape()) + " and targets shape " +
                                tensor::shape_str(targets.shape()) + " differ");
  // -[y log s(x) + (1-y) log(1-s(x))] rewritten so that exp never overflows:
  //   max(x, 0) - x*y + log(1 + exp(-|x|))
  Tensor losses = add(sub(clamp_min(logits, 0.0, site), mul(logits, targets, site), site),
                      log(add(exp(neg(abs(logits, site), site), site),
                              scalar_like(logits, 1.0), site), site),
                      site);
  return reduce_losses(losses, reduction, site);
}

}  // namespace autograd
