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

// Lower (tril) / upper (triu) triangle of the last two dims, the rest set to zero.
Array tril(const Array& x, std::int64_t diagonal = 0);
Array triu(const Array& x, std::int64_t diagonal = 0);

}  // namespace tensor
