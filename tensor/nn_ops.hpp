// nn_ops.hpp — Array-level computations behind the nn layers (no gradients): indexing,
// layer norm, RMS norm, cross-entropy, dropout masks, the Adam update. Each checks its arguments and
// hands the work to the device's backend (backend.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/array.hpp"
#include "tensor/random.hpp"

namespace tensor {

// Rows of `weight` [V, D] picked by int64 `indices` of any shape: result [*indices.shape, D].
// Throws (naming the bad index) when an index is outside [0, V).
Array embedding(const Array& weight, const Array& indices);
// The gradient of embedding: a [V, D] array with grad_out's rows added at their indices.
Array embedding_backward(const Array& grad_out, const Array& indices, std::int64_t num_rows);

// x.index_select(dim, index): the slices of x at the given positions along dim (index: 1-d int64).
Array index_select(const Array& x, std::int64_t dim, const Array& index);
// torch.gather: out[i][j][k] = x[i][index[i][j][k]][k] for dim = 1 (and likewise for any dim);
// index has x's rank and sizes <= x's outside dim.
Array gather(const Array& x, std::int64_t dim, const Array& index);
// A copy of x with src added at the gathered positions: out[..index[i][j]..] += src[i][j].
Array scatter_add(const Array& x, std::int64_t dim, const Array& index, const Array& src);

struct LayerNormResult {
  Array out, mean, rstd;  // out has x's shape; mean and rstd have x's shape without the last dim
};
// Normalises over the last dim (its size must equal weight's/bias's when they are defined).
LayerNormResult layer_norm(const Array& x, const Array& weight, const Array& bias, double eps);
struct LayerNormGrads {
  Array x, weight, bias;
};
LayerNormGrads layer_norm_backward(const Array& grad_out, const Array& x, const Array& weight,
                                   const Array& mean, const Array& rstd, bool need_weight,
                                   bool need_bias);

struct RMSNormResult {
  Array out, rstd;  // out has x's shape; rstd = 1 / rms per row, x's shape without the last dim
};
// RMS norm over the last dim: out = x * rstd * weight, rstd = 1 / sqrt(mean(x^2) + eps). No
// mean is subtracted and there is no bias. weight [C] may be undefined (a row of ones).
RMSNormResult rms_norm(const Array& x, const Array& weight, double eps);
struct RMSNormGrads {
  Array x, weight;  // weight is undefined unless need_weight
};
RMSNormGrads rms_norm_backward(const Array& grad_out, const Array& x, const Array& weight,
                               const Array& rstd, bool need_weight);

// Per-row cross-entropy of logits [N, C] against int64 targets [N] (see Backend::cross_entropy).
Array cross_entropy_losses(const Array& logits, const Array& targets, std::int64_t ignore_index,
                           double label_smoothing);
Array cross_entropy_backward(const Array& logits, const Array& targets, const Array& grad_losses,
                             std::int64_t ignore_index, double label_smoothing);

// An inverted-dropout mask of `shape` (values 0 or 1/(1-p)) drawn from `gen`.
Array dropout_mask(const Shape& shape, double p, Generator& gen, DType dtype, Device device);

// One Adam/AdamW update in place (see Backend::adam_step).
void adam_step(const Array& param, const Array& grad, const Array& exp_avg,
               const Array& exp_avg_sq, double lr, double beta1, double beta2, double eps,
               double weight_decay, bool decoupled, std::int64_t step);

// Rotary position embedding (RoPE) of x [..., T, D], positions along dim -2, D even: row t is at
// position position_offset + t, and each pair (x[..., t, 2i], x[..., t, 2i+1]), read as the
// complex number x[2i] + i x[2i+1], is multiplied by e^{i angle}, angle = position *
// base^(-2i/D) (tensor/rope_math.hpp). inverse = true turns by -angle: the backward, since a
// rotation's transpose is its inverse. Any layout in, a contiguous array of x's shape out;
// float32 or float64. Throws naming the shape when D is odd or x has fewer than 2 dims, and
// naming the value when position_offset < 0 or base is not a finite number > 0.
Array rotary_embedding(const Array& x, std::int64_t position_offset = 0, double base = 10000.0,
                       bool inverse = false);

// Fused scaled-dot-product attention (Backend::fused_attention; tensor/cpu/attention.cpp):
//   out = softmax(scale q k^T, blocked keys excluded) v, without a [Tq, Tk] matrix.
// q [B, H, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv] with H a multiple of Hkv (query head
// h reads kv head h / (H / Hkv): grouped-query attention without repeat_kv); float32 or
// float64, any strides (only an array whose last dim is not packed is copied). key_padding:
// bool [B, Tk], true = padding, or undefined. causal: key j is blocked for query i when
// j > i + causal_offset (0: aligned at the top left as torch's is_causal; Tk - Tq: the queries
// are the last Tq positions, as when decoding with a KV cache).
// out is [B, H, Tq, Dv] laid out as [B, Tq, H, Dv] in memory, so that merging the heads back
// into [B, Tq, H * Dv] is a view; logsumexp [B, H, Tq] (-inf for a row with every key
// blocked, whose out is 0). Only on backends where has_fused_attention(device) is true.
struct FusedAttentionResult {
  Array out;
  Array logsumexp;
};
FusedAttentionResult fused_attention(const Array& q, const Array& k, const Array& v,
                                     const Array& key_padding, bool causal,
                                     std::int64_t causal_offset, double scale);
// Its gradients given grad_out = dL/dout and the forward's out and logsumexp (the weights are
// recomputed). Each has the shape of its input.
struct FusedAttentionGrads {
  Array q, k, v;
};
FusedAttentionGrads fused_attention_backward(const Array& grad_out, const Array& q,
                                             const Array& k, const Array& v, const Array& out,
                                             const Array& logsumexp, const Array& key_padding,
                                             bool causal, std::int64_t causal_offset,
                                             double scale);
// Whether the backend of `device` has the fused attention kernel (cpu: yes; cuda: not yet).
bool has_fused_attention(Device device);

// Fused Linear layer (Backend::fused_linear; tensor/cpu/matmul.cpp):
//   out [M, N] = x [M, K] @ weight [N, K]^T + bias [N]
// in one GEMM whose stores add the bias: bit for bit matmul(x, weight.transpose(0, 1)) then
// add(., bias). bias may be undefined (none). float32 or float64, one dtype for all, any
// strides, one device; throws naming the shapes otherwise. Only where has_fused_linear(device).
Array fused_linear(const Array& x, const Array& weight, const Array& bias);
// Its gradients given grad_out [M, N], each only when asked for (else undefined):
//   x = grad_out @ weight [M, K];  weight = grad_out^T @ x [N, K];  bias = sums of grad_out's
//   rows [N], summed by the weight's GEMM as it packs grad_out^T when the weight is asked for
//   too (in double, then rounded once), else by a sum over dim 0.
struct FusedLinearGrads {
  Array x, weight, bias;
};
FusedLinearGrads fused_linear_backward(const Array& grad_out, const Array& x, const Array& weight,
                                       bool need_x, bool need_weight, bool need_bias);
// Whether the backend of `device` has the fused linear kernels (cpu: yes; cuda: not yet).
bool has_fused_linear(Device device);

// Lower (tril) / upper (triu) triangle of the last two dims, the rest set to zero.
Array tril(const Array& x, std::int64_t diagonal = 0);
Array triu(const Array& x, std::int64_t diagonal = 0);

}  // namespace tensor
