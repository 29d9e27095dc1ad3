// nn.cuh — the kernels behind the nn layers: embedding, gather/scatter_add, layer norm, RMS norm,
// cross-entropy, dropout masks and the Adam update. Each forward sits above its backward.
//
// All arrays are contiguous here (the caller, tensor/nn_ops.cpp, makes them so). Two layouts:
//   elementwise: 1-d grid of kBlockThreads-thread blocks, grid-stride loop over the elements
//                (embedding, gather, scatter_add, dropout, Adam, layer/RMS-norm parameter grads);
//   rows:        one block per row, B threads (a power of two in [32, 256]) sharing the row's
//                statistics through block_reduce() (layer norm, RMS norm, cross-entropy).
// The arithmetic is the cpu's (tensor/cpu/nn_kernels.cpp), statistics accumulated in double.
// Letters: N rows (tokens), D or C the row width, V the vocabulary, M rows of gather/scatter.
#pragma once

#include "cuda/kernels/common.cuh"

namespace tensor::cuda::ATTN_CUDA_TARGET {

// ---- embedding ----------------------------------------------------------------------------------

// out[n, d] = weight[indices[n], d]; weight [V, D], indices [N], out [N, D].
template <typename T>
__global__ void embedding_kernel(index_t N, index_t D, const T* weight,
                                 const std::int64_t* indices, T* out) {
  for (index_t i = first_index(); i < N * D; i += grid_stride()) {
    const index_t n = i / D, d = i % D;
    out[i] = weight[indices[n] * D + d];
  }
}

// grad_weight[indices[n], d] += grad_out[n, d]. Two tokens with the same id add into the same
// row at the same time, so the add must be atomic.
template <typename T>
__global__ void embedding_backward_kernel(index_t N, index_t D, const T* grad_out,
                                          const std::int64_t* indices, T* grad_weight) {
  for (index_t i = first_index(); i < N * D; i += grid_stride()) {
    const index_t n = i / D, d = i % D;
    atomic_add(&grad_weight[indices[n] * D + d], grad_out[i]);
  }
}

// ---- gather / scatter_add along the last dim ----------------------------------------------------

// out[m, k] = x[m, index[m, k]]; x [M, S], index and out [M, K].
template <typename T>
__global__ void gather_kernel(index_t M, index_t K, index_t S, const T* x,
                              const std::int64_t* index, T* out) {
  for (index_t i = first_index(); i < M * K; i += grid_stride()) {
    const index_t m = i / K;
    out[i] = x[m * S + index[i]];
  }
}

// out[m, index[m, k]] += src[m, k] (atomic: two k may name the same position).
template <typename T>
__global__ void scatter_add_kernel(index_t M, index_t K, index_t S, T* out,
                                   const std::int64_t* index, const T* src) {
  for (index_t i = first_index(); i < M * K; i += grid_stride()) {
    const index_t m = i / K;
    atomic_add(&out[m * S + index[i]], src[i]);
  }
}

// ---- layer norm ---------------------------------------------------------------------------------

// One block per row of x [N, C]: out = (x - mean) * rstd * weight + bias, rstd = 1/sqrt(var + eps)
// with the biased variance, computed in two passes (sum, then sum of squared deviations) so no
// precision is lost to cancellation. weight and bias may be null (no affine part).
template <typename T>
__global__ void layer_norm_rows_kernel(index_t C, double eps, const T* x, const T* weight,
                                       const T* bias, T* out, T* mean, T* rstd) {
  const index_t r = blockIdx.x;
  const T* row = x + r * C;
  const unsigned t = threadIdx.x;

  double local_sum = 0;
  for (index_t c = t; c < C; c += blockDim.x) local_sum += row[c];
  const double mu = block_reduce(local_sum, SumOp()) / C;

  double local_sq = 0;
  for (index_t c = t; c < C; c += blockDim.x) local_sq += (row[c] - mu) * (row[c] - mu);
  const double r_std = 1.0 / std::sqrt(block_reduce(local_sq, SumOp()) / C + eps);

  if (t == 0) {
    mean[r] = T(mu);
    rstd[r] = T(r_std);
  }
  T* dst = out + r * C;
  for (index_t c = t; c < C; c += blockDim.x) {
    const T normalized = T((row[c] - mu) * r_std);
    dst[c] = normalized * (weight ? weight[c] : T(1)) + (bias ? bias[c] : T(0));
  }
}

// grad_x, one block per row:
//   forward was: y = xhat * w + b, xhat = (x - mean) * rstd
//   dxhat = g * w;  dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
template <typename T>
__global__ void layer_norm_backward_rows_kernel(index_t C, const T* grad_out, const T* x,
                                                const T* weight, const T* mean, const T* rstd,
                                                T* grad_x) {
  const index_t r = blockIdx.x;
  const T* g = grad_out + r * C;
  const T* row = x + r * C;
  const unsigned t = threadIdx.x;

  double local_dxhat = 0, local_dxhat_xhat = 0;
  for (index_t c = t; c < C; c += blockDim.x) {
    const double xhat = (row[c] - mean[r]) * double(rstd[r]);
    const double dxhat = double(g[c]) * (weight ? weight[c] : T(1));
    local_dxhat += dxhat;
    local_dxhat_xhat += dxhat * xhat;
  }
  const double mean_dxhat = block_reduce(local_dxhat, SumOp()) / C;
  const double mean_dxhat_xhat = block_reduce(local_dxhat_xhat, SumOp()) / C;

  T* dx = grad_x + r * C;
  for (index_t c = t; c < C; c += blockDim.x) {
    const double xhat = (row[c] - mean[r]) * double(rstd[r]);
    const double dxhat = double(g[c]) * (weight ? weight[c] : T(1));
    dx[c] = T(rstd[r] * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat));
  }
}

// grad_weight[c] = sum_n g[n, c] * xhat[n, c] and grad_bias[c] = sum_n g[n, c]: one thread per
// column walks down all N rows (neighbouring threads read neighbouring columns). No atomics,
// so the sums come out in the same order on every run. Either output may be null.
template <typename T>
__global__ void layer_norm_param_grads_kernel(index_t N, index_t C, const T* grad_out,
                                              const T* x, const T* mean, const T* rstd,
                                              T* grad_weight, T* grad_bias) {
  for (index_t c = first_index(); c < C; c += grid_stride()) {
    double dweight = 0, dbias = 0;
    for (index_t n = 0; n < N; ++n) {
      const double g = grad_out[n * C + c];
      dweight += g * ((x[n * C + c] - mean[n]) * double(rstd[n]));
      dbias += g;
    }
    if (grad_weight) grad_weight[c] = T(dweight);
    if (grad_bias) grad_bias[c] = T(dbias);
  }
}

// ---- RMS norm -----------------------------------------------------------------------------------

// One block per row of x [N, C]: out = x * rstd * weight, rstd = 1/sqrt(mean(x^2) + eps) (one
// reduction: no mean is subtracted). weight may be null (no affine part).
template <typename T>
__global__ void rms_norm_rows_kernel(index_t C, double eps, const T* x, const T* weight, T* out,
                                     T* rstd) {
  const index_t r = blockIdx.x;
  const T* row = x + r * C;
  const unsigned t = threadIdx.x;

  double local_sq = 0;
  for (index_t c = t; c < C; c += blockDim.x) local_sq += double(row[c]) * row[c];
  const double r_rms = 1.0 / std::sqrt(block_reduce(local_sq, SumOp()) / C + eps);

  const T rstd_t = T(r_rms);
  if (t == 0) rstd[r] = rstd_t;
  T* dst = out + r * C;
  for (index_t c = t; c < C; c += blockDim.x) dst[c] = row[c] * rstd_t * (weight ? weight[c] : T(1));
}

// grad_x, one block per row:
//   forward was: y = xhat * w, xhat = x * rstd
//   dxhat = g * w;  dx = rstd * (dxhat - xhat * mean(dxhat * xhat))
template <typename T>
__global__ void rms_norm_backward_rows_kernel(index_t C, const T* grad_out, const T* x,
                                              const T* weight, const T* rstd, T* grad_x) {
  const index_t r = blockIdx.x;
  const T* g = grad_out + r * C;
  const T* row = x + r * C;
  const unsigned t = threadIdx.x;
  const double rstd_r = rstd[r];

  double local_dxhat_xhat = 0;
  for (index_t c = t; c < C; c += blockDim.x)
    local_dxhat_xhat += double(g[c]) * (weight ? weight[c] : T(1)) * (row[c] * rstd_r);
  const double mean_dxhat_xhat = block_reduce(local_dxhat_xhat, SumOp()) / C;

  T* dx = grad_x + r * C;
  for (index_t c = t; c < C; c += blockDim.x) {
    const double xhat = row[c] * rstd_r;
    const double dxhat = double(g[c]) * (weight ? weight[c] : T(1));
    dx[c] = T(rstd_r * (dxhat - xhat * mean_dxhat_xhat));
  }
}

// grad_weight[c] = sum_n g[n, c] * x[n, c] * rstd[n]: one thread per column walks down the N
// rows, as for layer norm (no atomics: the same sum in the same order on every run).
template <typename T>
__global__ void rms_norm_weight_grad_kernel(index_t N, index_t C, const T* grad_out, const T* x,
                                            const T* rstd, T* grad_weight) {
  for (index_t c = first_index(); c < C; c += grid_stride()) {
    double dweight = 0;
    for (index_t n = 0; n < N; ++n)
      dweight += double(grad_out[n * C + c]) * (x[n * C + c] * double(rstd[n]));
    grad_weight[c] = T(dweight);
  }
}

// ---- cross-entropy ------------------------------------------------------------------------------

// log sum_c exp(row[c]), computed around the row's max; every thread of the block gets it.
template <typename T>
__device__ double row_logsumexp(const T* row, index_t C) {
  double local_max = -INFINITY;
  for (index_t c = threadIdx.x; c < C; c += blockDim.x)
    local_max = MaxOp()(local_max, double(row[c]));
  const double row_max = block_reduce(local_max, MaxOp());
  double local_sum = 0;
  for (index_t c = threadIdx.x; c < C; c += blockDim.x)
    local_sum += std::exp(double(row[c]) - row_max);
  return row_max + std::log(block_reduce(local_sum, SumOp()));
}

// One block per row of logits [N, C]:
//   loss[n] = (1 - s) * (-log p[n, t]) + s * (-(1/C) sum_c log p[n, c]),  p = softmax(logits[n])
// with s = label_smoothing and log p[n, c] = logits[n, c] - logsumexp(logits[n]).
template <typename T>
__global__ void cross_entropy_rows_kernel(index_t C, std::int64_t ignore_index,
                                          double label_smoothing, const T* logits,
                                          const std::int64_t* targets, T* losses) {
  const index_t n = blockIdx.x;
  const std::int64_t target = targets[n];
  if (target == ignore_index) {  // the whole block leaves together: no barrier is left waiting
    if (threadIdx.x == 0) losses[n] = T(0);
    return;
  }
  const T* row = logits + n * C;
  const double lse = row_logsumexp(row, C);
  double smooth = 0;  // -(1/C) sum_c log p[c]; label_smoothing is the same for the whole block,
                      // so either every thread reaches the barriers in block_reduce or none does
  if (label_smoothing > 0) {
    double local_smooth = 0;
    for (index_t c = threadIdx.x; c < C; c += blockDim.x) local_smooth += lse - row[c];
    smooth = block_reduce(local_smooth, SumOp()) / C;
  }
  if (threadIdx.x == 0) {
    const double nll = lse - row[target];
    losses[n] = T((1 - label_smoothing) * nll + label_smoothing * smooth);
  }
}

// grad_logits[n, c] = grad_losses[n] * (p[n, c] - target distribution[c]), the target
// distribution being (1 - s) on the true class plus s/C on every class; 0 for ignored rows.
template <typename T>
__global__ void cross_entropy_backward_rows_kernel(index_t C, std::int64_t ignore_index,
                                                   double label_smoothing, const T* logits,
                                                   const std::int64_t* targets,
                                                   const T* grad_losses, T* grad_logits) {
  const index_t n = blockIdx.x;
  const std::int64_t target = targets[n];
  T* dst = grad_logits + n * C;
  if (target == ignore_index) {
    for (index_t c = threadIdx.x; c < C; c += blockDim.x) dst[c] = T(0);
    return;
  }
  const T* row = logits + n * C;
  const double lse = row_logsumexp(row, C);
  for (index_t c = threadIdx.x; c < C; c += blockDim.x) {
    const double p = std::exp(double(row[c]) - lse);
    const double wanted = (c == target ? 1 - label_smoothing : 0.0) + label_smoothing / C;
    dst[c] = T(grad_losses[n] * (p - wanted));
  }
}

// ---- dropout mask -------------------------------------------------------------------------------

// mask[i] = 1/keep_prob if uniform(word i % 4 of Philox block offset + i/4) < keep_prob, else 0.
// Philox is a pure function of (seed, counter): element i needs no state from any other element,
// so every thread computes its own, and every device computes the cpu's mask bit for bit.
template <typename T>
__global__ void dropout_mask_kernel(index_t n, double keep_prob, std::uint64_t seed,
                                    std::uint64_t offset, T* mask) {
  const T scale = T(1.0 / keep_prob);
  for (index_t i = first_index(); i < n; i += grid_stride()) {
    const PhiloxBlock block = philox4x32(offset + std::uint64_t(i / 4), seed);
    mask[i] = uniform_float(block.v[i % 4]) < keep_prob ? scale : T(0);
  }
}

// ---- Adam / AdamW -------------------------------------------------------------------------------

// One thread per parameter (see Backend::adam_step; the scalars were computed once on the host):
//   g = grad + l2 * param;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   param = param * decay - step_size * m / (sqrt(v) * inv_sqrt_bias2 + eps)
template <typename T>
__global__ void adam_step_kernel(index_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq,
                                 T step_size, T inv_sqrt_bias2, T decay, T l2, T beta1, T beta2,
                                 T eps) {
  for (index_t i = first_index(); i < n; i += grid_stride()) {
    const T g = grad[i] + l2 * param[i];
    exp_avg[i] = beta1 * exp_avg[i] + (T(1) - beta1) * g;
    exp_avg_sq[i] = beta2 * exp_avg_sq[i] + (T(1) - beta2) * g * g;
    param[i] = param[i] * decay -
               step_size * exp_avg[i] / (std::sqrt(exp_avg_sq[i]) * inv_sqrt_bias2 + eps);
  }
}

}  // namespace tensor::cuda::ATTN_CUDA_TARGET
