// gemm.hpp — the fast cpu matrix multiply: a cache-blocked, packed GEMM in the style of
// Goto's algorithm and BLIS, with a register-tiled micro-kernel written in SIMD intrinsics.
// gemm.cpp explains the blocking; matmul_reference.hpp holds the plain loop it is tested against.
#pragma once

#include <cstdint>
#include <string>

#include "tensor/array.hpp"

namespace tensor::cpu {

// What gemm() can do besides the product while the data passes through anyway, saving a
// separate pass over out or over a (a Linear layer's bias, and its gradient: fused_linear).
struct GemmEpilogue {
  // [N], out's dtype, any stride: added to every row of out, as (product) + bias[n] once the
  // product is complete (in the store of the last K slice), so the result is bit for bit that
  // of gemm() followed by a separate add. Undefined: no bias.
  Array bias;
  // [M], out's dtype, any stride, for a 2-d product only: written with sum_k a[m, k], summed
  // in double, in k order whatever the thread count, as a is packed. For dW = g^T x these are
  // the bias gradient's sums over the rows of g. Undefined: not wanted.
  Array a_row_sums;
};

// out[..., M, N] = a[..., M, K] @ b[..., K, N], with the Backend::matmul contract (batch dims
// already broadcast, any strides on all three arrays, out allocated), for float32 and float64.
// Always runs the packed kernel, whatever the sizes (the tests rely on that); threads over
// batches, over column or row stripes of each matrix, or, for one tall-skinny product (a
// weight gradient), over slices of K (gemm.cpp, section 6).
void gemm(const Array& a, const Array& b, const Array& out, const GemmEpilogue& epilogue = {});

// Whether gemm() beats matmul_reference for one [M, K] x [K, N] product: packing costs about
// M*K + K*N copies and pads edge tiles, which only pays when every side is a few tiles long.
bool gemm_pays_off(std::int64_t M, std::int64_t N, std::int64_t K);

// A matrix in memory, as raw numbers: element (i, j) is data[i * row_stride + j * col_stride].
template <typename T>
struct MatrixView {
  T* data;
  std::int64_t rows, cols, row_stride, col_stride;
  MatrixView transposed() const { return {data, cols, rows, col_stride, row_stride}; }
};

// c = a @ b (a: M x K, b: K x N, c: M x N, any strides) on the calling thread, with no Array in
// sight: for kernels that already run inside a parallel loop and multiply many small tiles
// (fused attention), where making Array views for each tile (their shapes, and the shared
// count of the storage that every thread bumps) cost more than the products. Small products
// (gemm_pays_off false) run as a plain loop, the others on the packed kernel.
template <typename T>
void gemm_on_this_thread(const MatrixView<const T>& a, const MatrixView<const T>& b,
                         const MatrixView<T>& c);

// What this build runs, e.g. "avx512 float32 12x32 tile, kc=256 mc=192 nc=4096".
std::string gemm_kernel_name();

}  // namespace tensor::cpu
