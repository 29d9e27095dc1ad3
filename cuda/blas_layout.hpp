// blas_layout.hpp — how a row-major, batched, strided matmul out = a · b maps onto one
// column-major BLAS call (cuBLAS's gemmStridedBatched), or why it cannot.
//
// Plain C++ (no CUDA), so that the mapping, the fiddly part of using cuBLAS, is tested on the CPU
// against a reference column-major gemm (tests/cuda/test_cuda_sim.cpp) even without a GPU.
//
// The idea: BLAS is column-major. Our row-major out [M, N] (packed) is, read column-major, the
// matrix outᵀ [N, M] with leading dimension N, and outᵀ = bᵀ aᵀ. So the BLAS call computes
// C = op(A) op(B) with A = our b (acting as bᵀ), B = our a (acting as aᵀ), m = N, n = M, k = K.
#pragma once

#include "tensor/array.hpp"

namespace tensor::cuda {

struct BlasOperand {
  bool transpose;            // op(X) = Xᵀ (CUBLAS_OP_T) or X (CUBLAS_OP_N)
  long long ld;              // leading dimension of X as stored (column-major)
  long long batch_stride;    // elements from one batch's matrix to the next (0: broadcast)
};

// C (m x n, leading dimension ldc) = op(A) (m x k) · op(B) (k x n), for `batches` matrices
// stride_c apart. A is our b, B is our a (see above).
struct BlasGemm {
  long long m, n, k;
  BlasOperand a, b;
  long long ldc, stride_c, batches;
};

// Fills `plan` and returns true when out = a · b (shapes as for Backend::matmul, out packed) is
// one such call: each of a and b has a unit stride in one of its two matrix dims and a single
// stride across all its batch dims. False otherwise (the caller uses its own kernel).
bool plan_blas_gemm(const Array& a, const Array& b, const Array& out, BlasGemm& plan);

}  // namespace tensor::cuda
