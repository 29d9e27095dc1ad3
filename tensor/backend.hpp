// backend.hpp — the seam between "what to compute" and "where it runs".
//
// tensor/ops.cpp checks arguments, works out shapes and dtypes, allocates the result, and then
// asks the backend of the arrays' device to run the kernel. A backend implements this interface
// once per device: cpu (tensor/cpu/), cuda and cuda-sim (cuda/). No kernel code anywhere else
// needs to know which devices exist.
//
// Contract for every kernel below: all arrays live on this backend's device; shapes have already
// been checked and broadcast (a broadcast input arrives as a view with stride 0 along the
// broadcast dims); `out` is already allocated with its final shape and dtype and may be strided.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/device.hpp"
#include "tensor/elementwise_ops.hpp"  // UnaryOp, BinaryOp: the list, the dtypes, the formulas

namespace tensor {

class Array;

enum class ReduceOp { Sum, Prod, Max, Min, ArgMax, ArgMin };  // ArgMin last: op_name counts on it

std::string op_name(UnaryOp op);   // "exp"
std::string op_name(BinaryOp op);  // "add"
std::string op_name(ReduceOp op);  // "sum"

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // Memory.
  virtual void* allocate(std::size_t nbytes) = 0;
  virtual void deallocate(void* ptr, std::size_t nbytes) = 0;
  virtual void copy_from_host(void* device_dst, const void* host_src, std::size_t nbytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* device_src, std::size_t nbytes) = 0;

  // out[i] = src[i] converted to out's dtype (same shape, any strides on both sides).
  virtual void copy(const Array& src, const Array& out) = 0;
  // out[i] = value
  virtual void fill(const Array& out, double value) = 0;
  // out[i] = op(x[i]); out has x's dtype (bool for the ops that give bool, elementwise_ops.hpp).
  virtual void unary(UnaryOp op, const Array& x, const Array& out) = 0;
  // out[i] = op(a[i], b[i]); a and b have the same dtype (the caller converts); out has it too,
  // or bool for comparisons and logical ops.
  virtual void binary(BinaryOp op, const Array& a, const Array& b, const Array& out) = 0;
  // out[i] = cond[i] ? a[i] : b[i]; cond is bool.
  virtual void where(const Array& cond, const Array& a, const Array& b, const Array& out) = 0;
  // out has x's rank with size 1 along each reduced dim (reduced: x.size(d) > 1, out.size(d) ==
  // 1; a size-1 dim in both may be treated either way). Arg-reductions write int64 indices
  // counted along the single reduced dim.
  virtual void reduce(ReduceOp op, const Array& x, const Array& out) = 0;
  // out[..., m, n] = sum_k a[..., m, k] * b[..., k, n]; batch dims already broadcast to out's.
  virtual void matmul(const Array& a, const Array& b, const Array& out) = 0;
  // out = softmax(x) or log_softmax(x) along dim.
  virtual void softmax(const Array& x, std::int64_t dim, bool log, const Array& out) = 0;
  // grad_in = dL/dx given grad_out = dL/dout and the forward output `out`:
  //   softmax:     grad_in = out * (grad_out - sum(grad_out * out, dim))
  //   log_softmax: grad_in = grad_out - exp(out) * sum(grad_out, dim)
  virtual void softmax_backward(const Array& grad_out, const Array& out, std::int64_t dim,
                                bool log, const Array& grad_in) = 0;

  // ---- kernels behind the nn ops (all arrays contiguous unless stated) --------------------
  // Embedding lookup: out[i, :] = weight[indices[i], :]; weight [V, D], indices [N] int64
  // (already checked to lie in [0, V)), out [N, D].
  virtual void embedding(const Array& weight, const Array& indices, const Array& out) = 0;
  // Its gradient: grad_weight[indices[i], :] += grad_out[i, :]; repeated indices add up.
  // grad_weight [V, D] is already zeroed or holds values to add to.
  virtual void embedding_backward(const Array& grad_out, const Array& indices,
                                  const Array& grad_weight) = 0;
  // Along the last dim of [M, S] / [M, K] arrays (the caller moves `dim` last):
  //   gather:      out[m, k] = x[m, index[m, k]]
  //   scatter_add: out[m, index[m, k]] += src[m, k]
  virtual void gather(const Array& x, const Array& index, const Array& out) = 0;
  virtual void scatter_add(const Array& out, const Array& index, const Array& src) = 0;
  // Layer norm over the last dim of x [M, C]: out = (x - mean) * rstd * weight + bias, with
  // rstd = 1 / sqrt(var + eps) (biased variance). Saves mean [M] and rstd [M] for backward.
  // weight and bias [C] may be undefined (no affine part).
  virtual void layer_norm(const Array& x, const Array& weight, const Array& bias, double eps,
                          const Array& out, const Array& mean, const Array& rstd) = 0;
  // grad_x [M, C] is written; grad_weight and grad_bias [C] (when defined) are written too.
  virtual void layer_norm_backward(const Array& grad_out, const Array& x, const Array& weight,
                                   const Array& mean, const Array& rstd, const Array& grad_x,
                                   const Array& grad_weight, const Array& grad_bias) = 0;
  // RMS norm over the last dim of x [M, C]: out = x * rstd * weight, rstd = 1 / sqrt(mean(x^2) +
  // eps) per row (no mean subtracted, no bias). Saves rstd [M] for backward; weight [C] may be
  // undefined (no affine part).
  virtual void rms_norm(const Array& x, const Array& weight, double eps, const Array& out,
                        const Array& rstd) = 0;
  // grad_x [M, C] is written; grad_weight [C] too when it is defined. With xhat = x * rstd:
  //   grad_x = rstd * (g*w - xhat * mean(g*w * xhat)),  grad_weight = sum over rows of g * xhat
  virtual void rms_norm_backward(const Array& grad_out, const Array& x, const Array& weight,
                                 const Array& rstd, const Array& grad_x,
                                 const Array& grad_weight) = 0;
  // Cross-entropy of logits [N, C] against class indices [N] (int64), one loss per row:
  //   loss[n] = -(1 - s) * log p[n, t] - (s / C) * sum_c log p[n, c],  p = softmax(logits[n])
  // with s = label_smoothing; rows whose target == ignore_index get loss 0. Targets outside
  // [0, C) other than ignore_index were rejected by the caller.
  virtual void cross_entropy(const Array& logits, const Array& targets,
                             std::int64_t ignore_index, double label_smoothing,
                             const Array& losses) = 0;
  // grad_logits[n, c] = grad_losses[n] * (p[n, c] - (1 - s) [c == t] - s / C); 0 for ignored.
  virtual void cross_entropy_backward(const Array& logits, const Array& targets,
                                      const Array& grad_losses, std::int64_t ignore_index,
                                      double label_smoothing, const Array& grad_logits) = 0;
  // Inverted-dropout mask: out[i] = 1/keep_prob with probability keep_prob, else 0. Element i
  // uses word i % 4 of Philox block (offset + i / 4) under key `seed` (tensor/philox.hpp):
  // kept when uniform_float(word) < keep_prob. Same seed and offset: same mask on every device.
  virtual void dropout_mask(const Array& out, double keep_prob, std::uint64_t seed,
                            std::uint64_t offset) = 0;
  // One Adam/AdamW step on contiguous float arrays of one shape, in place:
  //   g = grad (+ weight_decay * param, when not decoupled: Adam's L2 penalty)
  //   param *= 1 - lr * weight_decay                    (when decoupled: AdamW)
  //   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
  //   param -= lr * (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps)
  virtual void adam_step(const Array& param, const Array& grad, const Array& exp_avg,
                         const Array& exp_avg_sq, double lr, double beta1, double beta2,
                         double eps, double weight_decay, bool decoupled, std::int64_t step) = 0;
  // Rotary position embedding of x [M, T, D] (D even; out [M, T, D], both contiguous): the pair
  // (x[m, t, 2i], x[m, t, 2i+1]) as a complex number times e^{i angle}, with
  // angle = (position_offset + t) * base^(-2i/D) (tensor/rope_math.hpp); inverse turns by -angle
  // (the backward).
  virtual void rotary_embedding(const Array& x, std::int64_t position_offset, double base,
                                bool inverse, const Array& out) = 0;

  // ---- optional kernels: a backend without them keeps the default, and callers ask first ----
  // Fused scaled-dot-product attention (the flash-attention idea): scores, mask, softmax and
  // weights . V in one pass over the keys, never storing a [Tq, Tk] matrix.
  //   q [B, H, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv], H a multiple of Hkv: query head h
  //   reads key/value head h / (H / Hkv). Any strides, but stride 1 along the last dim.
  //   key_padding [B, Tk] bool, contiguous, true = a padding key; or undefined (no padding).
  //   causal: key j is blocked for query i when j > i + causal_offset.
  //   out [B, H, Tq, Dv] (any strides, stride 1 along the last dim) = softmax(scale q k^T) v,
  //   logsumexp [B, H, Tq] contiguous = log sum_j exp(scale q_i . k_j) over the allowed keys.
  // A query whose every key is blocked gets out = 0 and logsumexp = -inf.
  virtual bool has_fused_attention() const { return false; }
  virtual void fused_attention(const Array& q, const Array& k, const Array& v,
                               const Array& key_padding, bool causal, std::int64_t causal_offset,
                               double scale, const Array& out, const Array& logsumexp);
  // Its backward, recomputing the weights P from q, k and logsumexp. grad_q, grad_k, grad_v are
  // allocated in the shapes of q, k, v (stride 1 along the last dim) and are written whole.
  virtual void fused_attention_backward(const Array& grad_out, const Array& q, const Array& k,
                                        const Array& v, const Array& out, const Array& logsumexp,
                                        const Array& key_padding, bool causal,
                                        std::int64_t causal_offset, double scale,
                                        const Array& grad_q, const Array& grad_k,
                                        const Array& grad_v);
  // Fused Linear layer, y = x W^T + b: one GEMM each way, instead of a matmul then an add
  // forward and a matmul then a sum over rows backward.
  //   linear:          out [M, N] = x [M, K] @ weight [N, K]^T + bias [N]; bias may be
  //                    undefined. Bit for bit matmul(x, weight^T) then add(., bias).
  //   fused_linear_backward_weight: grad_weight [N, K] = g^T x and grad_bias [N] = sum_m g[m, :]
  //                    for g = grad_out [M, N]; grad_bias may be undefined (not wanted).
  // float32 or float64, one dtype for all; any strides; out and the gradients allocated.
  virtual bool has_fused_linear() const { return false; }
  virtual void fused_linear(const Array& x, const Array& weight, const Array& bias,
                            const Array& out);
  virtual void fused_linear_backward_weight(const Array& grad_out, const Array& x,
                                            const Array& grad_weight, const Array& grad_bias);
};

// The backend for a device. Throws a clear error when this build has no backend for it
// (e.g. cuda in a build made without CUDA=1).
Backend& backend(Device device);

// Called once by each backend at start-up; the cpu backend is always registered.
void register_backend(DeviceType type, Backend* backend);

}  // namespace tensor
