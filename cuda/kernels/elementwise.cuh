// elementwise.cuh — kernels that map elements one to one: copy (with dtype conversion), fill,
// unary, binary (arithmetic and comparisons) and where.
//
// Layout: a 1-d grid of 1-d blocks (kBlockThreads threads), grid-stride loop over the n elements
// of the output. Each thread turns its element index into one offset per array with
// offsets_of(), so transposed, sliced and broadcast (stride 0) inputs need no copy first.
// The formulas are not here: each op's is written once in tensor/elementwise_ops.hpp and used by
// these kernels and by the cpu loops (tensor/cpu/elementwise.cpp) alike, so every device
// computes the same thing.
#pragma once

#include "cuda/kernels/common.cuh"

namespace tensor::cuda::ATTN_CUDA_TARGET {

// ---- copy and fill ------------------------------------------------------------------------------

// out[i] = Out(src[i]); layout arrays: 0 = out, 1 = src.
template <typename In, typename Out>
__global__ void copy_kernel(StridedN<2> layout, index_t n, const In* src, Out* out) {
  for (index_t i = first_index(); i < n; i += grid_stride()) {
    const Offsets<2> at = offsets_of(layout, i);
    out[at.of[0]] = static_cast<Out>(src[at.of[1]]);
  }
}

// out[i] = value
template <typename T>
__global__ void fill_kernel(StridedN<1> layout, index_t n, T value, T* out) {
  for (index_t i = first_index(); i < n; i += grid_stride())
    out[offsets_of(layout, i).of[0]] = value;
}

// ---- unary --------------------------------------------------------------------------------------

// op(v) for an op whose result has type Out (T, or bool for LogicalNot), by the one formula every
// device shares (unary_formula, tensor/elementwise_ops.hpp). The host never launches an op the
// dtype does not take (it throws first), so the fall-through return is never reached.
template <typename T, typename Out>
__device__ inline Out unary_value(UnaryOp op, T v) {
#define ATTN_UNARY_CASE(Enum, name, takes, gives)                                   \
  case UnaryOp::Enum:                                                               \
    if constexpr (op_takes_type<T>(UnaryOp::Enum) &&                                \
                  std::is_same_v<op_result_t<UnaryOp::Enum, T>, Out>)               \
      return unary_formula<UnaryOp::Enum>(v);                                       \
    break;
  switch (op) { TENSOR_UNARY_OPS(ATTN_UNARY_CASE) }
#undef ATTN_UNARY_CASE
  return Out();
}

// out[i] = op(x[i]); layout arrays: 0 = out, 1 = x.
template <typename T, typename Out>
__global__ void unary_kernel(UnaryOp op, StridedN<2> layout, index_t n, const T* x, Out* out) {
  for (index_t i = first_index(); i < n; i += grid_stride()) {
    const Offsets<2> at = offsets_of(layout, i);
    out[at.of[0]] = unary_value<T, Out>(op, x[at.of[1]]);
  }
}

// ---- binary -------------------------------------------------------------------------------------

// op(x, y) for an op whose result has type Out: T for arithmetic and the fused activation
// backwards (x = grad, y = the forward input or output), bool for comparisons and logical ops.
template <typename T, typename Out>
__device__ inline Out binary_value(BinaryOp op, T x, T y) {
#define ATTN_BINARY_CASE(Enum, name, takes, gives)                                  \
  case BinaryOp::Enum:                                                              \
    if constexpr (op_takes_type<T>(BinaryOp::Enum) &&                               \
                  std::is_same_v<op_result_t<BinaryOp::Enum, T>, Out>)              \
      return binary_formula<BinaryOp::Enum>(x, y);                                  \
    break;
  switch (op) { TENSOR_BINARY_OPS(ATTN_BINARY_CASE) }
#undef ATTN_BINARY_CASE
  return Out();
}

// out[i] = op(a[i], b[i]); layout arrays: 0 = out, 1 = a, 2 = b.
template <typename T, typename Out>
__global__ void binary_kernel(BinaryOp op, StridedN<3> layout, index_t n, const T* a,
                              const T* b, Out* out) {
  for (index_t i = first_index(); i < n; i += grid_stride()) {
    const Offsets<3> at = offsets_of(layout, i);
    out[at.of[0]] = binary_value<T, Out>(op, a[at.of[1]], b[at.of[2]]);
  }
}

// out[i] = cond[i] ? a[i] : b[i]; layout arrays: 0 = out, 1 = cond, 2 = a, 3 = b.
template <typename T>
__global__ void where_kernel(StridedN<4> layout, index_t n, const bool* cond, const T* a,
                             const T* b, T* out) {
  for (index_t i = first_index(); i < n; i += grid_stride()) {
    const Offsets<4> at = offsets_of(layout, i);
    out[at.of[0]] = cond[at.of[1]] ? a[at.of[2]] : b[at.of[3]];
  }
}

}  // namespace tensor::cuda::ATTN_CUDA_TARGET
