// softmax.cuh — softmax and log-softmax along one dim, and their backward.
//
// Layout: one block per row (a row = the elements along `dim`, all other indices fixed),
//
//   grid = (rows, 1, 1)    block = (B, 1, 1), B a power of two in [32, 256] fitting the row
//
// Thread t handles elements t, t + B, ... of the row. A row needs two numbers that depend on all
// of its elements, its max and its sum of exponentials, so the threads pool their partial
// results twice through block_reduce() (shared memory), then each writes its own elements.
//
//   softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m),  m = max_j x_j
//
// Subtracting m changes nothing mathematically (softmax is shift-invariant) but keeps exp from
// overflowing: the largest exponent is exp(0) = 1. The formulas are the cpu's
// (tensor/cpu/softmax.cpp): the sum accumulates in double, a row that is all -inf gives zeros.
//
//   rows: the dims other than `dim`, with the strides of every array along them
#pragma once

#include "cuda/kernels/common.cuh"

namespace tensor::cuda::ATTN_CUDA_TARGET {

template <typename T>
__global__ void softmax_rows_kernel(StridedN<2> rows, index_t length, index_t x_stride,
                                    index_t out_stride, bool log, const T* x, T* out) {
  const Offsets<2> base = offsets_of(rows, blockIdx.x);
  const T* row = x + base.of[0];
  T* dst = out + base.of[1];
  const unsigned t = threadIdx.x;

  // 1. the row's max
  T local_max = T(-INFINITY);
  for (index_t i = t; i < length; i += blockDim.x)
    local_max = MaxOp()(local_max, row[i * x_stride]);
  const T row_max = block_reduce(local_max, MaxOp());
  if (row_max == T(-INFINITY)) {
    // Every element is -inf (a query whose keys are all masked): 0/0 mathematically, defined as
    // all zeros (log_softmax: all -inf) as on the cpu. row_max is the same in every thread, so
    // the whole block leaves here together.
    for (index_t i = t; i < length; i += blockDim.x)
      dst[i * out_stride] = log ? T(-INFINITY) : T(0);
    return;
  }

  // 2. the sum of exponentials
  double local_sum = 0;
  for (index_t i = t; i < length; i += blockDim.x)
    local_sum += std::exp(double(row[i * x_stride] - row_max));
  const double total = block_reduce(local_sum, SumOp());

  // 3. each thread writes its elements
  if (log) {
    const T log_total = T(std::log(total));
    for (index_t i = t; i < length; i += blockDim.x)
      dst[i * out_stride] = row[i * x_stride] - row_max - log_total;
  } else {
    const T inv_total = T(1.0 / total);
    for (index_t i = t; i < length; i += blockDim.x)
      dst[i * out_stride] = T(std::exp(row[i * x_stride] - row_max)) * inv_total;
  }
}

// grad_in from grad_out (g) and the forward output (y), one block per row:
//   softmax:     forward was y = softmax(x)      =>  dx = y * (g - sum(g * y))
//   log_softmax: forward was y = x - logsumexp(x) =>  dx = g - exp(y) * sum(g)
// rows: strides of grad_out (array 0), out (1) and grad_in (2).
template <typename T>
__global__ void softmax_backward_rows_kernel(StridedN<3> rows, index_t length, index_t g_stride,
                                             index_t y_stride, index_t dx_stride, bool log,
                                             const T* grad_out, const T* out, T* grad_in) {
  const Offsets<3> base = offsets_of(rows, blockIdx.x);
  const T* g = grad_out + base.of[0];
  const T* y = out + base.of[1];
  T* dx = grad_in + base.of[2];
  const unsigned t = threadIdx.x;

  double local_dot = 0;
  for (index_t i = t; i < length; i += blockDim.x)
    local_dot += log ? double(g[i * g_stride]) : double(g[i * g_stride]) * y[i * y_stride];
  const T dot = T(block_reduce(local_dot, SumOp()));

  for (index_t i = t; i < length; i += blockDim.x) {
    if (log)
      dx[i * dx_stride] = g[i * g_stride] - std::exp(y[i * y_stride]) * dot;
    else
      dx[i * dx_stride] = y[i * y_stride] * (g[i * g_stride] - dot);
  }
}

}  // namespace tensor::cuda::ATTN_CUDA_TARGET
