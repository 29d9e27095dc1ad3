// common.cuh — what every kernel shares: index arithmetic over strided arrays, grid-stride
// loops, block-wide reductions in shared memory, and atomicAdd for every dtype.
//
// One source, two compilers. The files in cuda/kernels/ are compiled by nvcc for a GPU (included
// by cuda/cuda_backend.cu after cuda/device_runtime.cuh) and by the host compiler for the
// simulator (included by cuda/sim/sim_backend.cpp after cuda/sim/sim_runtime.hpp). The runtime
// header defines ATTN_CUDA_TARGET, the namespace the kernels land in (`device` or `sim`), so the
// two compilations of a kernel never meet in one program. Kernel files therefore use only what
// both compilers accept: no <<<...>>> (launches go through launch(), see launch_config.cuh), no
// intrinsics without a simulator version, no dynamic shared memory, no warp shuffles.
//
// Letters used in the kernels: i an element index, n an element count, t = threadIdx.x,
// B = blockDim.x (the threads of a block).
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "tensor/backend.hpp"
#include "tensor/philox.hpp"
#include "tensor/scalar_math.hpp"

namespace tensor::cuda::ATTN_CUDA_TARGET {

using index_t = std::int64_t;

constexpr int kMaxDims = 8;           // dims after merging; a layout with more is refused
constexpr int kBlockThreads = 256;    // threads per block of the elementwise kernels
constexpr int kMaxReduceThreads = 256;  // the largest block of a reducing kernel (a power of 2)

// ---- strided index arithmetic ---------------------------------------------------------------

// N arrays of one shape, each with its own strides (in elements). Element i of the shape (counted
// row-major) lives at offset sum_d coordinate_d(i) * strides[k][d] in array k. A broadcast input
// has stride 0 along its broadcast dims; a transposed view has swapped strides. Passed to kernels
// by value: a few hundred bytes of kernel arguments.
template <int N>
struct StridedN {
  int ndim;
  index_t sizes[kMaxDims];
  index_t strides[N][kMaxDims];
};

template <int N>
struct Offsets {
  index_t of[N];
};

// The offsets of element i in each of the N arrays.
template <int N>
__host__ __device__ inline Offsets<N> offsets_of(const StridedN<N>& layout, index_t i) {
  Offsets<N> result;
  for (int k = 0; k < N; ++k) result.of[k] = 0;
  for (int d = layout.ndim - 1; d >= 0; --d) {
    const index_t coordinate = i % layout.sizes[d];
    i /= layout.sizes[d];
    for (int k = 0; k < N; ++k) result.of[k] += coordinate * layout.strides[k][d];
  }
  return result;
}

// Grid-stride loop bounds: thread g of the grid handles elements g, g + G, g + 2G, ... where G is
// the number of threads in the grid, so any grid size covers any n.
__device__ inline index_t first_index() {
  return index_t(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline index_t grid_stride() { return index_t(gridDim.x) * blockDim.x; }

// ---- block-wide reductions ------------------------------------------------------------------

struct SumOp {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    return a + b;
  }
};

// std::max's rule ((a < b) ? b : a), which the cpu softmax uses: a NaN in b is skipped.
struct MaxOp {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    return (a < b) ? b : a;
  }
};

// Combines one value per thread of the block with `op` (associative) and returns the result to
// every thread. blockDim.x must be a power of two <= kMaxReduceThreads, and every thread of the
// block must call it (it contains __syncthreads()).
//
// The tree: thread t adds in the value of thread t + B/2, then t + B/4, ... halving the number
// of active threads each step, with a barrier between steps so that each step reads what the
// previous one wrote: log2(B) steps instead of B.
template <typename T, typename Op>
__device__ T block_reduce(T value, Op op) {
  __shared__ T partial[kMaxReduceThreads];
  const unsigned t = threadIdx.x;
  partial[t] = value;
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
    if (t < half) partial[t] = op(partial[t], partial[t + half]);
    __syncthreads();
  }
  const T total = partial[0];
  __syncthreads();  // everyone has read partial[0] before a next call overwrites it
  return total;
}

// ---- atomics ----------------------------------------------------------------------------------

// *address += value as one indivisible step, for the dtypes scatter_add and embedding_backward
// accumulate in. Two threads adding to one element then never lose an update.
__device__ inline void atomic_add(float* address, float value) { atomicAdd(address, value); }
__device__ inline void atomic_add(double* address, double value) { atomicAdd(address, value); }
__device__ inline void atomic_add(std::int64_t* address, std::int64_t value) {
  // CUDA has no signed 64-bit atomicAdd; two's-complement addition is the same on the bits.
  atomicAdd(reinterpret_cast<unsigned long long*>(address),
            static_cast<unsigned long long>(value));
}

}  // namespace tensor::cuda::ATTN_CUDA_TARGET
