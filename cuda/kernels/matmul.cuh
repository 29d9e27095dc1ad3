// matmul.cuh — out[b, m, n] = sum_k a[b, m, k] * b[b, k, n], with shared-memory tiles.
//
// Layout: the output is cut into kTile x kTile tiles; one block of kTile x kTile threads per
// tile, thread (x, y) computing out[row = tile_row + y, col = tile_col + x]:
//
//   grid  = (ceil(N / kTile), ceil(M / kTile), batches)    block = (kTile, kTile)
//
// Why tiles: computed naively, every thread reads a whole row of A and a whole column of B from
// global memory, so each element of A is read N times and each element of B M times. Here the
// block walks along K one tile at a time: its threads first copy a kTile x kTile tile of A and one
// of B into shared memory (one element each), wait at a barrier, then each thread does kTile
// multiply-adds from the fast shared copies. Every element loaded from global memory is reused
// kTile times. A second barrier keeps a fast thread from overwriting a tile that a slow one is
// still reading.
//
// Any strides: a transposed or sliced operand is read in place (its two last strides are
// arguments) and broadcast batch dims have stride 0 (the batch layout). The k-sum runs in the
// same order as the cpu's loop, in the element type.
#pragma once

#include "cuda/kernels/common.cuh"

namespace tensor::cuda::ATTN_CUDA_TARGET {

constexpr int kTile = 16;

struct MatmulLayout {
  index_t M, N, K;
  index_t a_row_stride, a_col_stride;  // a[m, k] = a[m * a_row_stride + k * a_col_stride]
  index_t b_row_stride, b_col_stride;
  index_t c_row_stride, c_col_stride;
  StridedN<3> batch;    // batch dims: strides of a (0), b (1) and out (2)
  index_t batch_start;  // blockIdx.z counts from here (grids hold at most 65535 batches)
};

template <typename T>
__global__ void matmul_tiled_kernel(MatmulLayout layout, const T* a, const T* b, T* out) {
  __shared__ T a_tile[kTile][kTile];  // a_tile[y][k] = a[row of thread y, k0 + k]
  __shared__ T b_tile[kTile][kTile];  // b_tile[k][x] = b[k0 + k, column of thread x]
  const int x = threadIdx.x, y = threadIdx.y;
  const index_t row = index_t(blockIdx.y) * kTile + y;
  const index_t col = index_t(blockIdx.x) * kTile + x;
  const Offsets<3> base = offsets_of(layout.batch, layout.batch_start + blockIdx.z);
  const T* A = a + base.of[0];
  const T* B = b + base.of[1];

  T sum = T(0);
  for (index_t k0 = 0; k0 < layout.K; k0 += kTile) {
    // Each thread loads one element of each tile; outside the matrices it loads 0, which adds
    // nothing to the sums (this is how sizes that are not multiples of kTile work).
    const index_t a_k = k0 + x, b_k = k0 + y;
    a_tile[y][x] = row < layout.M && a_k < layout.K
                       ? A[row * layout.a_row_stride + a_k * layout.a_col_stride]
                       : T(0);
    b_tile[y][x] = b_k < layout.K && col < layout.N
                       ? B[b_k * layout.b_row_stride + col * layout.b_col_stride]
                       : T(0);
    __syncthreads();  // both tiles are complete
    for (int k = 0; k < kTile; ++k) sum += a_tile[y][k] * b_tile[k][x];
    __syncthreads();  // everyone is done with the tiles before the next loads overwrite them
  }
  if (row < layout.M && col < layout.N)
    out[base.of[2] + row * layout.c_row_stride + col * layout.c_col_stride] = sum;
}

}  // namespace tensor::cuda::ATTN_CUDA_TARGET
