#include "tensor/nn_ops.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "tensor/backend.hpp"
#include "tensor/error.hpp"
#include "tensor/factory.hpp"
#include "tensor/ops.hpp"

namespace tensor {

namespace {

void check_indices(const Array& indices, std::int64_t limit, const char* op, const char* what) {
  if (indices.dtype() != DType::Int64)
    throw error(op, std::string(what) + " must be int64, got " + dtype_name(indices.dtype()));
  if (indices.numel() == 0) return;
  Array host = indices.to(kCPU).contiguous();
  const std::int64_t* p = host.data<std::int64_t>();
  for (std::int64_t i = 0; i < host.numel(); ++i)
    if (p[i] < 0 || p[i] >= limit)
      throw std::out_of_range(std::string(op) + ": " + what + " " + std::to_string(p[i]) +
                              " at position " + std::to_string(i) + " is out of range [0, " +
                              std::to_string(limit) + ")");
}

// Moves `dim` to the end and flattens the rest: [.., S at dim, ..] -> [M, S], contiguous.
Array dim_last_2d(const Array& x, std::int64_t dim) {
  return x.transpose(dim, -1).contiguous().reshape({-1, x.size(dim)});
}

// Inverse of dim_last_2d for an array whose transposed shape is `transposed_shape`.
Array from_dim_last_2d(const Array& flat, const Shape& transposed_shape, std::int64_t dim) {
  return flat.view(transposed_shape).transpose(dim, -1).contiguous();
}

}  // namespace

Array embedding(const Array& weight, const Array& indices) {
  if (weight.dim() != 2)
    throw error("embedding", "weight must be 2-d [num_embeddings, dim], got " +
                                 shape_str(weight.shape()));
  check_same_device(weight, indices, "embedding");
  check_indices(indices, weight.size(0), "embedding", "index");
  Shape shape = indices.shape();
  shape.push_back(weight.size(1));
  Array out(shape, weight.dtype(), weight.device());
  if (out.numel() > 0)
    backend(weight.device())
        .embedding(weight.contiguous(), indices.contiguous().reshape({-1}),
                   out.view({-1, weight.size(1)}));
  return out;
}

Array embedding_backward(const Array& grad_out, const Array& indices, std::int64_t num_rows) {
  std::int64_t width = grad_out.size(-1);
  Array grad_weight = zeros({num_rows, width}, grad_out.dtype(), grad_out.device());
  if (indices.numel() > 0)
    backend(grad_out.device())
        .embedding_backward(grad_out.contiguous().reshape({-1, width}),
                            indices.contiguous().reshape({-1}), grad_weight);
  return grad_weight;
}

Array index_select(const Array& x, std::int64_t dim, const Array& index) {
  std::int64_t d = normalize_dim(dim, x.dim(), "index_select");
  if (index.dim() != 1)
    throw error("index_select", "index must be 1-d, got shape " + shape_str(index.shape()));
  // Move `dim` to the front, view the rest as columns: then it is an embedding lookup.
  Array front = x.transpose(0, d).contiguous();
  Shape front_shape = front.shape();
  Array rows = embedding(front.reshape({front.size(0), -1}), index);
  front_shape[0] = index.size(0);
  return rows.view(front_shape).transpose(0, d).contiguous();
}

Array gather(const Array& x, std::int64_t dim, const Array& index) {
  std::int64_t d = normalize_dim(dim, x.dim(), "gather");
  if (index.dim() != x.dim())
    throw error("gather", "index must have as many dims as the input (" +
                              std::to_string(x.dim()) + "), got shape " +
                              shape_str(index.shape()));
  for (std::int64_t k = 0; k < x.dim(); ++k)
    if (k != d && index.size(k) != x.size(k))
      throw error("gather", "index shape " + shape_str(index.shape()) +
                                " must match input shape " + shape_str(x.shape()) +
                                " outside dim " + std::to_string(d));
  check_same_device(x, index, "gather");
  check_indices(index, x.size(d), "gather", "index");
  Shape transposed = index.transpose(d, -1).shape();
  Array out({shape_numel(index.shape()) / std::max<std::int64_t>(index.size(d), 1), index.size(d)},
            x.dtype(), x.device());
  if (out.numel() > 0)
    backend(x.device()).gather(dim_last_2d(x, d), dim_last_2d(index, d), out);
  return from_dim_last_2d(out, transposed, d);
}

Array scatter_add(const Array& x, std::int64_t dim, const Array& index, const Array& src) {
  std::int64_t d = normalize_dim(dim, x.dim(), "scatter_add");
  if (index.shape() != src.shape())
    throw error("scatter_add", "index shape " + shape_str(index.shape()) +
                                   " must equal src shape " + shape_str(src.shape()));
  if (index.dim() != x.dim())
    throw error("scatter_add", "index must have as many dims as the input");
  for (std::int64_t k = 0; k < x.dim(); ++k)
    if (k != d && index.size(k) != x.size(k))
      throw error("scatter_add", "index shape " + shape_str(index.shape()) +
                                     " must match input shape " + shape_str(x.shape()) +
                                     " outside dim " + std::to_string(d));
  check_same_device(x, index, "scatter_add");
  check_indices(index, x.size(d), "scatter_add", "index");
  Shape transposed = x.transpose(d, -1).shape();
  Array out = dim_last_2d(x, d).clone();
  if (index.numel() > 0)
    backend(x.device()).scatter_add(out, dim_last_2d(index, d), dim_last_2d(src.to(x.dtype()), d));
  return from_dim_last_2d(out, transposed, d);
}

LayerNormResult layer_norm(const Array& x, const Array& weight, const Array& bias, double eps) {
  if (x.dim() == 0) throw error("layer_norm", "needs at least 1 dim");
  std::int64_t C = x.size(-1);
  for (const Array* p : {&weight, &bias})
    if (p->defined() && (p->dim() != 1 || p->size(0) != C))
      throw error("layer_norm", "weight and bias must have shape [" + std::to_string(C) +
                                    "] to match the last dim of " + shape_str(x.shape()) +
                                    ", got " + shape_str(p->shape()));
  Shape row_shape(x.shape().begin(), x.shape().end() - 1);
  LayerNormResult r{Array(x.shape(), x.dtype(), x.device()),
                    Array(row_shape, x.dtype(), x.device()),
                    Array(row_shape, x.dtype(), x.device())};
  if (x.numel() > 0)
    backend(x.device())
        .layer_norm(x.contiguous().reshape({-1, C}),
                    weight.defined() ? weight.contiguous().to(x.dtype()) : Array(),
                    bias.defined() ? bias.contiguous().to(x.dtype()) : Array(), eps,
                    r.out.view({-1, C}), r.mean.view({-1}), r.rstd.view({-1}));
  return r;
}

LayerNormGrads layer_norm_backward(const Array& grad_out, const Array& x, const Array& weight,
                                   const Array& mean, const Array& rstd, bool need_weight,
                                   bool need_bias) {
  std::int64_t C = x.size(-1);
  LayerNormGrads g;
  g.x = Array(x.shape(), x.dtype(), x.device());
  if (need_weight) g.weight = Array({C}, x.dtype(), x.device());
  if (need_bias) g.bias = Array({C}, x.dtype(), x.device());
  if (x.numel() == 0) {
    if (need_weight) g.weight.fill_(0);
    if (need_bias) g.bias.fill_(0);
    return g;
  }
  backend(x.device())
      .layer_norm_backward(grad_out.contiguous().reshape({-1, C}), x.contiguous().reshape({-1, C}),
                           weight.defined() ? weight.contiguous() : Array(),
                           mean.contiguous().reshape({-1}), rstd.contiguous().reshape({-1}),
                           g.x.view({-1, C}), g.weight, g.bias);
  return g;
}

RMSNormResult rms_norm(const Array& x, const Array& weight, double eps) {
  if (x.dim() == 0) throw error("rms_norm", "needs at least 1 dim");
  if (!(eps >= 0)) throw error("rms_norm", "eps must be >= 0, got " + std::to_string(eps));
  std::int64_t C = x.size(-1);
  if (weight.defined() && (weight.dim() != 1 || weight.size(0) != C))
    throw error("rms_norm", "weight must have shape [" + std::to_string(C) +
                                "] to match the last dim of " + shape_str(x.shape()) + ", got " +
                                shape_str(weight.shape()));
  if (weight.defined()) check_same_device(x, weight, "rms_norm");
  Shape row_shape(x.shape().begin(), x.shape().end() - 1);
  RMSNormResult r{Array(x.shape(), x.dtype(), x.device()), Array(row_shape, x.dtype(), x.device())};
  if (x.numel() > 0)
    backend(x.device())
        .rms_norm(x.contiguous().reshape({-1, C}),
                  weight.defined() ? weight.contiguous().to(x.dtype()) : Array(), eps,
                  r.out.view({-1, C}), r.rstd.view({-1}));
  return r;
}

RMSNormGrads rms_norm_backward(const Array& grad_out, const Array& x, const Array& weight,
                               const Array& rstd, bool need_weight) {
  std::int64_t C = x.size(-1);
  RMSNormGrads g;
  g.x = Array(x.shape(), x.dtype(), x.device());
  if (need_weight) g.weight = Array({C}, x.dtype(), x.device());
  if (x.numel() == 0) {
    if (need_weight) g.weight.fill_(0);
    return g;
  }
  backend(x.device())
      .rms_norm_backward(grad_out.contiguous().reshape({-1, C}), x.contiguous().reshape({-1, C}),
                         weight.defined() ? weight.contiguous().to(x.dtype()) : Array(),
                         rstd.contiguous().reshape({-1}), g.x.view({-1, C}), g.weight);
  return g;
}

Array cross_entropy_losses(const Array& logits, const Array& targets, std::int64_t ignore_index,
                           double label_smoothing) {
  if (logits.dim() != 2)
    throw error("cross_entropy", "logits must be [N, C], got " + shape_str(logits.shape()) +
                                     " (for sequences, reshape [B, T, C] to [B*T, C])");
  if (targets.dim() != 1 || targets.size(0) != logits.size(0))
    throw error("cross_entropy", "targets must be [N] = [" + std::to_string(logits.size(0)) +
                                     "] class indices, got " + shape_str(targets.shape()));
  if (targets.dtype() != DType::Int64)
    throw error("cross_entropy", "targets must be int64 class indices, got " +
                                     dtype_name(targets.dtype()));
  if (!(label_smoothing >= 0 && label_smoothing <= 1))
    throw error("cross_entropy", "label_smoothing must be in [0, 1]");
  check_same_device(logits, targets, "cross_entropy");
  // Every target must be a class or the ignore_index.
  Array host = targets.to(kCPU).contiguous();
  const std::int64_t* t = host.data<std::int64_t>();
  for (std::int64_t i = 0; i < host.numel(); ++i)
    if (t[i] != ignore_index && (t[i] < 0 || t[i] >= logits.size(1)))
      throw std::out_of_range("cross_entropy: target " + std::to_string(t[i]) + " at position " +
                              std::to_string(i) + " is not a class in [0, " +
                              std::to_string(logits.size(1)) + ") nor the ignore_index " +
                              std::to_string(ignore_index));
  Array losses({logits.size(0)}, logits.dtype(), logits.device());
  if (losses.numel() > 0)
    backend(logits.device())
        .cross_entropy(logits.contiguous(), targets.contiguous(), ignore_index, label_smoothing,
                       losses);
  return losses;
}

Array cross_entropy_backward(const Array& logits, const Array& targets, const Array& grad_losses,
                             std::int64_t ignore_index, double label_smoothing) {
  Array grad(logits.shape(), logits.dtype(), logits.device());
  if (grad.numel() > 0)
    backend(logits.device())
        .cross_entropy_backward(logits.contiguous(), targets.contiguous(),
                                grad_losses.contiguous().to(logits.dtype()), ignore_index,
                                label_smoothing, grad);
  return grad;
}

Array dropout_mask(const Shape& shape, double p, Generator& gen, DType dtype, Device device) {
  if (!(p >= 0 && p < 1)) throw error("dropout", "p must be in [0, 1), got " + std::to_string(p));
  Array mask(shape, dtype, device);
  std::int64_t n = mask.numel();
  std::uint64_t offset = gen.reserve(static_cast<std::uint64_t>((n + 3) / 4));
  if (n > 0) backend(device).dropout_mask(mask, 1.0 - p, gen.seed(), offset);
  return mask;
}

void adam_step(const Array& param, const Array& grad, const Array& exp_avg,
               const Array& exp_avg_sq, double lr, double beta1, double beta2, double eps,
               double weight_decay, bool decoupled, std::int64_t step) {
  for (const Array* a : {&param, &grad, &exp_avg, &exp_avg_sq}) {
    if (!a->is_contiguous() || a->shape() != param.shape() || a->dtype() != param.dtype() ||
        a->device() != param.device())
      throw error("adam_step", "param, grad and state must be contiguous arrays of one shape, "
                               "dtype and device");
  }
  if (param.numel() == 0) return;
  backend(param.device())
      .adam_step(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
                 decoupled, step);
  for (const Array* a : {&param, &exp_avg, &exp_avg_sq}) a->storage()->bump_version();
}

Array rotary_embedding(const Array& x, std::int64_t position_offset, double base, bool inverse) {
  const char* op = "rotary_embedding";
  check_defined(x, op);
  if (x.dim() < 2 || x.size(-1) % 2 != 0)
    throw error(op, "x must be [..., T, D] with positions along dim -2 and an even head dim D "
                    "(the dims are rotated in pairs), got " + shape_str(x.shape()));
  if (!is_floating(x.dtype()))
    throw error(op, std::string("x must be float32 or float64, got ") + dtype_name(x.dtype()));
  if (position_offset < 0)
    throw error(op, "position_offset must be >= 0 (the position of the first row), got " +
                        std::to_string(position_offset));
  if (!(base > 0.0) || !std::isfinite(base))
    throw error(op, "base must be a finite number > 0 (10000 in RoFormer and LLaMA), got " +
                        std::to_string(base));
  const std::int64_t T = x.size(-2), D = x.size(-1);
  Array out(x.shape(), x.dtype(), x.device());
  if (x.numel() > 0)
    backend(x.device())
        .rotary_embedding(x.contiguous().reshape({-1, T, D}), position_offset, base, inverse,
                          out.view({-1, T, D}));
  return out;
}

namespace {

// a itself when its last dim is packed (stride 1), else a packed copy: the attention kernels
// run their inner loops along that dim.
Array last_dim_packed(const Array& a) {
  return a.size(-1) <= 1 || a.strides().back() == 1 ? a : a.contiguous();
}

// [B, H, T, D] laid out as [B, T, H, D] in memory: a permuted view of a packed array.
Array heads_view_of_packed(std::int64_t B, std::int64_t H, std::int64_t T, std::int64_t D,
                           DType dtype, Device device) {
  return Array({B, T, H, D}, dtype, device).permute({0, 2, 1, 3});
}

void check_attention_args(const Array& q, const Array& k, const Array& v,
                          const Array& key_padding, double scale, const char* op) {
  check_defined(q, op);
  check_defined(k, op);
  check_defined(v, op);
  auto shapes = [&] {
    return " (q " + shape_str(q.shape()) + ", k " + shape_str(k.shape()) + ", v " +
           shape_str(v.shape()) + ")";
  };
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4)
    throw error(op, "expected q [B, H, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv]" + shapes());
  if (k.size(0) != q.size(0) || v.size(0) != q.size(0) || v.size(1) != k.size(1) ||
      v.size(2) != k.size(2) || k.size(3) != q.size(3))
    throw error(op, "q, k and v must share B, k and v Hkv and Tk, q and k D" + shapes());
  if (k.size(1) == 0 || q.size(1) % k.size(1) != 0)
    throw error(op, "the query heads H must be a multiple of the key/value heads Hkv" + shapes());
  if (!is_floating(q.dtype()) || k.dtype() != q.dtype() || v.dtype() != q.dtype())
    throw error(op, std::string("q, k and v must all be float32 or all float64, got ") +
                        dtype_name(q.dtype()) + ", " + dtype_name(k.dtype()) + ", " +
                        dtype_name(v.dtype()));
  if (k.device() != q.device() || v.device() != q.device())
    throw error(op, "q, k and v must be on one device");
  if (key_padding.defined() &&
      (key_padding.dtype() != DType::Bool || key_padding.shape() != Shape{q.size(0), k.size(2)} ||
       key_padding.device() != q.device()))
    throw error(op, "key_padding must be bool [B, Tk] = " + shape_str({q.size(0), k.size(2)}) +
                        " on q's device, got " + dtype_name(key_padding.dtype()) + " " +
                        shape_str(key_padding.shape()));
  if (!std::isfinite(scale))
    throw error(op, "scale must be finite, got " + std::to_string(scale));
}

}  // namespace

FusedAttentionResult fused_attention(const Array& q, const Array& k, const Array& v,
                                     const Array& key_padding, bool causal,
                                     std::int64_t causal_offset, double scale) {
  const char* op = "fused_attention";
  check_attention_args(q, k, v, key_padding, scale, op);
  const std::int64_t B = q.size(0), H = q.size(1), Tq = q.size(2), Dv = v.size(3);
  FusedAttentionResult result;
  result.out = heads_view_of_packed(B, H, Tq, Dv, q.dtype(), q.device());  // [B, H, Tq, Dv]
  result.logsumexp = Array({B, H, Tq}, q.dtype(), q.device());
  if (result.out.numel() == 0) return result;
  if (k.size(2) == 0) {  // no keys at all: every row is fully masked
    result.out.fill_(0.0);
    result.logsumexp.fill_(-std::numeric_limits<double>::infinity());
    return result;
  }
  backend(q.device())
      .fused_attention(last_dim_packed(q), last_dim_packed(k), last_dim_packed(v),
                       key_padding.defined() ? key_padding.contiguous() : Array(), causal,
                       causal_offset, scale, result.out, result.logsumexp);
  return result;
}

FusedAttentionGrads fused_attention_backward(const Array& grad_out, const Array& q,
                                             const Array& k, const Array& v, const Array& out,
                                             const Array& logsumexp, const Array& key_padding,
                                             bool causal, std::int64_t causal_offset,
                                             double scale) {
  const char* op = "fused_attention_backward";
  check_attention_args(q, k, v, key_padding, scale, op);
  const std::int64_t B = q.size(0), H = q.size(1), Hkv = k.size(1), Tq = q.size(2);
  const std::int64_t Tk = k.size(2), D = q.size(3), Dv = v.size(3);
  const Shape out_shape{B, H, Tq, Dv};
  if (grad_out.shape() != out_shape || out.shape() != out_shape ||
      logsumexp.shape() != Shape{B, H, Tq} || !logsumexp.is_contiguous())
    throw error(op, "expected grad_out and out " + shape_str(out_shape) +
                        " and a contiguous logsumexp " + shape_str({B, H, Tq}) + ", got " +
                        shape_str(grad_out.shape()) + ", " + shape_str(out.shape()) + ", " +
                        shape_str(logsumexp.shape()));
  FusedAttentionGrads grads;
  grads.q = heads_view_of_packed(B, H, Tq, D, q.dtype(), q.device());
  grads.k = heads_view_of_packed(B, Hkv, Tk, D, q.dtype(), q.device());
  grads.v = heads_view_of_packed(B, Hkv, Tk, Dv, q.dtype(), q.device());
  if (q.numel() == 0 || k.numel() == 0 || v.numel() == 0 || out.numel() == 0) {
    grads.q.fill_(0.0), grads.k.fill_(0.0), grads.v.fill_(0.0);
    return grads;
  }
  backend(q.device())
      .fused_attention_backward(last_dim_packed(grad_out.to(q.dtype())), last_dim_packed(q),
                                last_dim_packed(k), last_dim_packed(v), last_dim_packed(out),
                                logsumexp,
                                key_padding.defined() ? key_padding.contiguous() : Array(),
                                causal, causal_offset, scale, grads.q, grads.k, grads.v);
  return grads;
}

bool has_fused_attention(Device device) { return backend(device).has_fused_attention(); }

namespace {
// x [M, K], weight [N, K], bias [N] or undefined: one floating dtype, one device.
void check_linear_args(const Array& x, const Array& weight, const Array& bias, const char* op) {
  check_defined(x, op);
  check_defined(weight, op);
  auto shapes = [&] {
    return " (x " + shape_str(x.shape()) + ", weight " + shape_str(weight.shape()) +
           (bias.defined() ? ", bias " + shape_str(bias.shape()) : std::string()) + ")";
  };
  if (x.dim() != 2 || weight.dim() != 2 || x.size(1) != weight.size(1))
    throw error(op, "expected x [M, K] and weight [N, K] with the same K" + shapes());
  if (bias.defined() && bias.shape() != Shape{weight.size(0)})
    throw error(op, "expected bias [N] = " + shape_str({weight.size(0)}) + shapes());
  if (!is_floating(x.dtype()) || weight.dtype() != x.dtype() ||
      (bias.defined() && bias.dtype() != x.dtype()))
    throw error(op, "x, weight and bias must all be float32 or all float64, got " +
                        dtype_name(x.dtype()) + ", " + dtype_name(weight.dtype()) +
                        (bias.defined() ? ", " + dtype_name(bias.dtype()) : std::string()));
  if (weight.device() != x.device() || (bias.defined() && bias.device() != x.device()))
    throw error(op, "x, weight and bias must be on one device");
}
}  // namespace

Array fused_linear(const Array& x, const Array& weight, const Array& bias) {
  check_linear_args(x, weight, bias, "fused_linear");
  Array out({x.size(0), weight.size(0)}, x.dtype(), x.device());  // [M, N]
  if (out.numel() == 0) return out;
  backend(x.device()).fused_linear(x, weight, bias, out);
  return out;
}

FusedLinearGrads fused_linear_backward(const Array& grad_out, const Array& x, const Array& weight,
                                       bool need_x, bool need_weight, bool need_bias) {
  const char* op = "fused_linear_backward";
  // dx needs only the weight and dW only x: the caller may leave the other one undefined.
  check_defined(grad_out, op);
  if (need_x) check_defined(weight, op);
  if (need_weight) check_defined(x, op);
  if (x.defined() && weight.defined()) check_linear_args(x, weight, Array(), op);
  if (grad_out.dim() != 2 || (x.defined() && grad_out.size(0) != x.size(0)) ||
      (weight.defined() && grad_out.size(1) != weight.size(0)))
    throw error(op,
                "expected grad_out [M, N] for x [M, K] and weight [N, K], got grad_out " +
                    shape_str(grad_out.shape()) +
                    (x.defined() ? ", x " + shape_str(x.shape()) : std::string()) +
                    (weight.defined() ? ", weight " + shape_str(weight.shape()) : std::string()));
  const std::int64_t N = grad_out.size(1);
  // The gradients take the dtype of the forward's inputs.
  const Array& input = need_weight ? x : need_x ? weight : grad_out;
  const Array g = grad_out.to(input.dtype());  // [M, N]
  FusedLinearGrads grads;
  // forward was: out = x W^T + b
  if (need_x) grads.x = matmul(g, weight);  // dx = g W  [M, K]
  if (need_weight) {
    // dW = g^T x [N, K], and db = the sums over the rows of g [N] in the same GEMM
    grads.weight = Array({N, x.size(1)}, x.dtype(), x.device());
    if (need_bias) grads.bias = Array({N}, x.dtype(), x.device());
    backend(x.device()).fused_linear_backward_weight(g, x, grads.weight, grads.bias);
  } else if (need_bias) {
    grads.bias = sum(g, {0});  // db alone: a plain sum over the rows of g
  }
  return grads;
}

bool has_fused_linear(Device device) {
  return backend(device).has_fused_linear();
}

namespace {
Array triangle(const Array& x, std::int64_t diagonal, bool lower, const char* op) {
  if (x.dim() < 2) throw error(op, "needs at least 2 dims, got " + shape_str(x.shape()));
  std::int64_t rows = x.size(-2), cols = x.size(-1);
  Array keep = tril_mask(rows, cols, lower ? diagonal : diagonal - 1, x.device());
  if (!lower) keep = logical_not(keep);
  return where(keep, x, scalar_like(x, 0.0));
}
}  // namespace

Array tril(const Array& x, std::int64_t diagonal) { return triangle(x, diagonal, true, "tril"); }
Array triu(const Array& x, std::int64_t diagonal) { return triangle(x, diagonal, false, "triu"); }

}  // namespace tensor
