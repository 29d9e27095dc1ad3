// elementwise.cuh — kernels that map elements one to one: copy (with dtype conversion), fill,
// unary, binary (arithmetic and comparisons) and where.
//
// Layout: a 1-d grid of 1-d blocks (kBlockThreads threads), grid-stride loop over the n elements
// of the output. Each thread turns its element index into one offset per array with
// offsets_of(), so transposed, sliced and broadcast (stride 0) inputs need no copy first.
// The formulas are the cpu kernels' (tensor/cpu/elementwise.cpp), the shared ones literally so
// (tensor/scalar_math.hpp): every device computes the same thing.
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

// op(v) for every UnaryOp but LogicalNot. The host never launches an op the dtype does not
// support (it throws first), so the fall-through return is never reached.
template <typename T>
__device__ inline T unary_value(UnaryOp op, T v) {
  if constexpr (!std::is_same_v<T, bool>) {
    switch (op) {
      case UnaryOp::Neg: return T(-v);
      case UnaryOp::Abs: return v < T(0) ? T(-v) : v;
      case UnaryOp::Sign: return math::sign(v);
      case UnaryOp::Square: return T(v * v);
      case UnaryOp::Relu: return v > T(0) ? v : T(0);
      default: break;
    }
  }
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case UnaryOp::Reciprocal: return T(1) / v;
      case UnaryOp::Exp: return std::exp(v);
      case UnaryOp::Log: return std::log(v);
      case UnaryOp::Sqrt: return std::sqrt(v);
      case UnaryOp::Rsqrt: return T(1) / std::sqrt(v);
      case UnaryOp::Sin: return std::sin(v);
      case UnaryOp::Cos: return std::cos(v);
      case UnaryOp::Tanh: return std::tanh(v);
      case UnaryOp::Erf: return std::erf(v);
      case UnaryOp::Sigmoid: return math::sigmoid(v);
      case UnaryOp::Gelu: return math::gelu(v);
      case UnaryOp::GeluTanh: return math::gelu_tanh(v);
      case UnaryOp::Silu: return math::silu(v);
      default: break;
    }
  }
  return v;
}

// out[i] = op(x[i]); layout arrays: 0 = out, 1 = x.
template <typename T>
__global__ void unary_kernel(UnaryOp op, StridedN<2> layout, index_t n, const T* x, T* out) {
  for (index_t i = first_index(); i < n; i += grid_stride()) {
    const Offsets<2> at = offsets_of(layout, i);
    out[at.of[0]] = unary_value(op, x[at.of[1]]);
  }
}

// out[i] = !x[i] (any dtype in, bool out)
template <typename T>
__global__ void logical_not_kernel(StridedN<2> layout, index_t n, const T* x, bool* out) {
  for (index_t i = first_index(); i < n; i += grid_stride()) {
    const Offsets<2> at = offsets_of(layout, i);
    out[at.of[0]] = !static_cast<bool>(x[at.of[1]]);
  }
}

// ---- binary -------------------------------------------------------------------------------------

// Ops whose result has the inputs' dtype (arithmetic and the fused activation backwards).
template <typename T>
__device__ inline T binary_value(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::Add: return T(x + y);
    case BinaryOp::Sub: return T(x - y);
    case BinaryOp::Mul: return T(x * y);
    case BinaryOp::Maximum: return math::maximum(x, y);
    case BinaryOp::Minimum: return math::minimum(x, y);
    case BinaryOp::ReluBackward: return y > T(0) ? x : T(0);  // x = grad, y = forward input
    default: break;
  }
  if constexpr (std::is_same_v<T, std::int64_t>) {
    if (op == BinaryOp::Div) return y == 0 ? T(0) : T(x / y);  // C division, no trap on 0
  }
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {  // for the backwards, x = grad and y = the forward input or output
      case BinaryOp::Div: return x / y;
      case BinaryOp::Pow: return std::pow(x, y);
      case BinaryOp::GeluBackward: return x * math::gelu_derivative(y);
      case BinaryOp::GeluTanhBackward: return x * math::gelu_tanh_derivative(y);
      case BinaryOp::SiluBackward: return x * math::silu_derivative(y);
      case BinaryOp::SigmoidBackward: return x * y * (T(1) - y);
      case BinaryOp::TanhBackward: return x * (T(1) - y * y);
      default: break;
    }
  }
  return x;
}

// Ops with a bool result: comparisons and logical and/or.
template <typename T>
__device__ inline bool compare_value(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::Eq: return x == y;
    case BinaryOp::Ne: return x != y;
    case BinaryOp::Lt: return x < y;
    case BinaryOp::Le: return x <= y;
    case BinaryOp::Gt: return x > y;
    case BinaryOp::Ge: return x >= y;
    case BinaryOp::LogicalAnd: return static_cast<bool>(x) && static_cast<bool>(y);
    case BinaryOp::LogicalOr: return static_cast<bool>(x) || static_cast<bool>(y);
    default: return false;
  }
}

// out[i] = op(a[i], b[i]); layout arrays: 0 = out, 1 = a, 2 = b.
template <typename T>
__global__ void binary_kernel(BinaryOp op, StridedN<3> layout, index_t n, const T* a,
                              const T* b, T* out) {
  for (index_t i = first_index(); i < n; i += grid_stride()) {
    const Offsets<3> at = offsets_of(layout, i);
    out[at.of[0]] = binary_value(op, a[at.of[1]], b[at.of[2]]);
  }
}

template <typename T>
__global__ void compare_kernel(BinaryOp op, StridedN<3> layout, index_t n, const T* a,
                               const T* b, bool* out) {
  for (index_t i = first_index(); i < n; i += grid_stride()) {
    const Offsets<3> at = offsets_of(layout, i);
    out[at.of[0]] = compare_value(op, a[at.of[1]], b[at.of[2]]);
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
