// scalar_math.hpp — the formula of every elementwise op on one number.
//
// Shared by the cpu kernels and the CUDA kernels (compiled by nvcc and by the cuda-sim
// simulator), so every device computes exactly the same formula. TENSOR_HD marks a function as
// callable from both host and device code.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define TENSOR_HD __host__ __device__
#else
#define TENSOR_HD
#endif

namespace tensor::math {

constexpr double kSqrt2 = 1.41421356237309504880;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluTanhCubic = 0.044715;

template <typename T>
TENSOR_HD inline T sigmoid(T x) {
  // Two branches so that exp never overflows: for x << 0, exp(-x) would be inf.
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

template <typename T>
TENSOR_HD inline T gelu(T x) {  // x * Phi(x), Phi the standard normal CDF
  return T(0.5) * x * (T(1) + std::erf(x / T(kSqrt2)));
}

template <typename T>
TENSOR_HD inline T gelu_derivative(T x) {  // Phi(x) + x * phi(x)
  T cdf = T(0.5) * (T(1) + std::erf(x / T(kSqrt2)));
  T pdf = T(kInvSqrt2Pi) * std::exp(T(-0.5) * x * x);
  return cdf + x * pdf;
}

template <typename T>
TENSOR_HD inline T gelu_tanh(T x) {
  T inner = T(kSqrt2OverPi) * (x + T(kGeluTanhCubic) * x * x * x);
  return T(0.5) * x * (T(1) + std::tanh(inner));
}

template <typename T>
TENSOR_HD inline T gelu_tanh_derivative(T x) {
  T inner = T(kSqrt2OverPi) * (x + T(kGeluTanhCubic) * x * x * x);
  T t = std::tanh(inner);
  T dinner = T(kSqrt2OverPi) * (T(1) + T(3 * kGeluTanhCubic) * x * x);
  return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * dinner;
}

template <typename T>
TENSOR_HD inline T silu(T x) {
  return x * sigmoid(x);
}

template <typename T>
TENSOR_HD inline T silu_derivative(T x) {
  T s = sigmoid(x);
  return s * (T(1) + x * (T(1) - s));
}

template <typename T>
TENSOR_HD inline T sign(T x) {
  return T((x > T(0)) - (x < T(0)));
}

// max/min that propagate NaN, like torch.maximum (std::max would return either operand).
template <typename T>
TENSOR_HD inline T maximum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b;
}

template <typename T>
TENSOR_HD inline T minimum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a < b ? a : b;
}

}  // namespace tensor::math
