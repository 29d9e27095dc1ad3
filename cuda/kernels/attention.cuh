// attention.cuh — scaled dot-product attention in one kernel (tutorial 19).
//
//   out[b, i, :] = sum_j w[j] v[b, j, :],  w = softmax_j(scale * q[b, i, :] . k[b, j, :])
//
// The library computes attention as three launches: matmul (scores = Q Kᵀ), softmax, matmul
// (weights · V), each writing its result to global memory for the next to read back. This kernel
// keeps a query's row of scores in shared memory instead, so the [Tq, Tk] score matrix never
// touches global memory: the idea behind fused ("flash") attention, in its simplest form.
//
// Layout: one block per (query i, batch b),
//
//   grid = (Tq, B)    block = (threads, 1, 1), threads a power of two in [32, 256]
//
//   1. thread t computes the scores of keys t, t + threads, ...  into shared memory, and
//      the block finds their max (block_reduce);
//   2. each thread exponentiates its scores (minus the max) in place; the block sums them;
//   3. thread t computes output dims t, t + threads, ... as a weighted sum over all keys, reading
//      the weights that other threads left in shared memory (the barriers inside block_reduce
//      made them visible).
// Tk is limited by the shared score row (kMaxKeys); q, k, v, out contiguous.
#pragma once

#include "cuda/kernels/common.cuh"

namespace tensor::cuda::ATTN_CUDA_TARGET {

constexpr int kMaxKeys = 1024;

template <typename T>
__global__ void attention_rows_kernel(index_t Tq, index_t Tk, index_t D, index_t Dv, T scale,
                                      const T* q, const T* k, const T* v, T* out) {
  __shared__ T weights[kMaxKeys];  // this query's scores, then exp(score - max)
  const index_t i = blockIdx.x, b = blockIdx.y;
  const T* query = q + (b * Tq + i) * D;
  const T* keys = k + b * Tk * D;     // [Tk, D]
  const T* values = v + b * Tk * Dv;  // [Tk, Dv]
  const unsigned t = threadIdx.x;

  // 1. scores and their max
  T local_max = T(-INFINITY);
  for (index_t j = t; j < Tk; j += blockDim.x) {
    T dot = T(0);
    for (index_t d = 0; d < D; ++d) dot += query[d] * keys[j * D + d];
    weights[j] = dot * scale;
    local_max = MaxOp()(local_max, weights[j]);
  }
  const T row_max = block_reduce(local_max, MaxOp());

  // 2. exponentials (shifted by the max, for stability) and their sum
  double local_sum = 0;
  for (index_t j = t; j < Tk; j += blockDim.x) {
    weights[j] = std::exp(weights[j] - row_max);
    local_sum += weights[j];
  }
  const double total = block_reduce(local_sum, SumOp());

  // 3. the weighted sum of the values, one output dim per thread
  T* dst = out + (b * Tq + i) * Dv;
  for (index_t d = t; d < Dv; d += blockDim.x) {
    double acc = 0;
    for (index_t j = 0; j < Tk; ++j) acc += double(weights[j]) * values[j * Dv + d];
    dst[d] = T(acc / total);
  }
}

}  // namespace tensor::cuda::ATTN_CUDA_TARGET
