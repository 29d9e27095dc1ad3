// scalar_math.hpp — the formula of every elementwise op on one number.
//
// Shared by the cpu kernels and the CUDA kernels (compiled by nvcc and by the cuda-sim
// simulator), so every device computes exactly the same formula. TENSOR_HD marks a function as
// callable from both host and device code.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__CUDACC__)
#define TENSOR_HD __host__ __device__
#define TENSOR_ALWAYS_INLINE __forceinline__
#else
#define TENSOR_HD
// Functions called from the elementwise loops must be inlined into them, or the loop cannot be
// vectorised (GCC may otherwise keep a long body like normal_cdf_float out of line).
#define TENSOR_ALWAYS_INLINE inline __attribute__((always_inline))
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

// ---- exp and the normal CDF for float, without libm -----------------------------------------
//
// GELU needs erf and exp for every hidden unit of every feed-forward layer, forward and backward.
// libm's erff/expf are calls the compiler cannot vectorise, and they were 13% of a training
// step. These two are plain arithmetic (no calls, no branches the compiler cannot turn into
// selects), so a loop over them runs 8 or 16 lanes at a time. float only: float64 keeps libm.

// e^x = 2^n * e^r with n = round(x / ln 2) and |r| <= ln(2) / 2; e^r from its Taylor series to
// r^7 (truncation below 3e-9 relative), 2^n built straight from exponent bits, in two halves so
// that each half is a normal float even where 2^n itself is not (n = 128 just below overflow,
// n < -126 where the result is denormal). Relative error under 1e-7 for normal results; 0
// below -104 (where expf is 0 too), inf above 88.72, NaN stays NaN.
TENSOR_HD TENSOR_ALWAYS_INLINE float exp_float(float x) {
  const float log2e = 1.44269504088896341f;
  const float ln2_hi = 0.693145751953125f;  // ln 2 split in two so that n * ln2_hi is exact
  const float ln2_lo = 1.42860682030941723e-6f;
  float clamped = x < -104.0f ? -104.0f : (x > 89.0f ? 89.0f : x);
  if (!(clamped == clamped)) clamped = 0.0f;  // NaN: any n will do, the result is x below
  // Round to the nearest integer by adding and subtracting 1.5 * 2^23: the sum has no bits
  // below 1, so the addition itself rounds. (std::nearbyint would do, but is a call that stops
  // the loop from vectorising.)
  const float round_shift = 12582912.0f;
  float n = (clamped * log2e + round_shift) - round_shift;
  float r = (clamped - n * ln2_hi) - n * ln2_lo;
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 +
                       r * (1.0f / 720 + r * (1.0f / 5040)))))));
  std::int32_t n_total = static_cast<std::int32_t>(n);  // in [-150, 129]
  std::int32_t n_half = n_total / 2;
  std::int32_t bits1 = (n_half + 127) << 23, bits2 = (n_total - n_half + 127) << 23;
  float scale1, scale2;
  std::memcpy(&scale1, &bits1, sizeof scale1);
  std::memcpy(&scale2, &bits2, sizeof scale2);
  float result = p * scale1 * scale2;
  if (x < -104.0f) result = 0.0f;
  if (x > 88.72284f) result = HUGE_VALF;  // above FLT_MAX: inf
  return x == x ? result : x;
}

// e^x: exp_float for float (vectorisable), libm for double.
template <typename T>
TENSOR_HD TENSOR_ALWAYS_INLINE T exp(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return exp_float(x);
  } else {
    return std::exp(x);
  }
}

// Phi(x) = P(N(0,1) <= x) = erfc(-x / sqrt 2) / 2, with erfc(z) for z >= 0 from the Chebyshev
// fit in Numerical Recipes (section 6.2, "erfcc"): t = 1 / (1 + z/2),
// erfc(z) = t * exp(-z^2 + P(t)), fractional error below 1.2e-7 for every z >= 0. Being a
// relative bound, it stays accurate far into the tail, where 1 - erf(z) would lose all digits.
TENSOR_HD TENSOR_ALWAYS_INLINE float normal_cdf_float(float x) {
  float z = (x < 0.0f ? -x : x) * float(1 / kSqrt2);
  float t = 1.0f / (1.0f + 0.5f * z);
  float poly = -1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f +
               t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f +
               t * (-0.82215223f + t * 0.17087277f))))))));
  float half_erfc = 0.5f * t * exp_float(-z * z + poly);  // Phi(-|x|)
  return x < 0.0f ? half_erfc : 1.0f - half_erfc;
}

template <typename T>
TENSOR_HD TENSOR_ALWAYS_INLINE T normal_cdf(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return normal_cdf_float(x);
  } else {
    return T(0.5) * std::erfc(-x / T(kSqrt2));
  }
}

template <typename T>
TENSOR_HD TENSOR_ALWAYS_INLINE T normal_pdf(T x) {
  if constexpr (std::is_same_v<T, float>) {
    return float(kInvSqrt2Pi) * exp_float(-0.5f * x * x);
  } else {
    return T(kInvSqrt2Pi) * std::exp(T(-0.5) * x * x);
  }
}

template <typename T>
TENSOR_HD TENSOR_ALWAYS_INLINE T gelu(T x) {  // x * Phi(x), Phi the standard normal CDF
  return x * normal_cdf(x);
}

template <typename T>
TENSOR_HD TENSOR_ALWAYS_INLINE T gelu_derivative(T x) {  // Phi(x) + x * phi(x)
  return normal_cdf(x) + x * normal_pdf(x);
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


// ---- rounding to bf16 and fp16 (values stay float32/float64) -----------------------------------
//
// A 16-bit float keeps a sign, an exponent and a short significand:
//   bf16: 8 exponent bits (float32's range, 2^-126 .. ~3.4e38), 7 stored significand bits;
//   fp16: 5 exponent bits (normal 2^-14 .. 65504, subnormal down to 2^-24), 10 stored bits.
// round_to_format returns the representable value nearest to `value`, ties to the one whose last
// kept bit is 0 (round half to even, as IEEE 754 and every GPU do), as a float or double again.
// Done on the bits, so it is the same on every device and needs no compiler support for
// _Float16: the significand (with its leading 1) is shifted right by the number of bits the
// target cannot hold, rounded, and shifted back. Below the target's smallest normal exponent
// more bits are dropped (subnormals); a carry out of the significand bumps the exponent, which
// is also how a value just under the largest finite one rounds up to infinity.
// NaN stays NaN, +-inf stays +-inf, the sign of zero is kept.
template <typename T>
TENSOR_HD inline T round_to_format(T value, int kept_bits, int min_exponent, int max_exponent) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  using Bits = std::conditional_t<std::is_same_v<T, float>, std::uint32_t, std::uint64_t>;
  constexpr int kMantissaBits = std::is_same_v<T, float> ? 23 : 52;  // stored bits of T
  constexpr int kBias = std::is_same_v<T, float> ? 127 : 1023;
  constexpr int kExponentAllOnes = 2 * kBias + 1;  // inf and NaN
  Bits bits;
  std::memcpy(&bits, &value, sizeof bits);
  const Bits sign = bits & (Bits(1) << (8 * sizeof(T) - 1));
  const Bits magnitude = bits ^ sign;
  const int exponent_field = static_cast<int>(magnitude >> kMantissaBits);
  if (exponent_field == kExponentAllOnes) return value;  // inf or NaN: unchanged
  const Bits leading_one = Bits(1) << kMantissaBits;
  // value = significand * 2^(exponent - kMantissaBits); a subnormal T has no leading 1
  const Bits significand =
      (magnitude & (leading_one - 1)) | (exponent_field != 0 ? leading_one : Bits(0));
  const int exponent = (exponent_field != 0 ? exponent_field : 1) - kBias;
  // how many low bits of the significand the target cannot hold (more below its normal range)
  const int dropped =
      kMantissaBits - kept_bits + (exponent < min_exponent ? min_exponent - exponent : 0);
  Bits result = 0;  // magnitude bits of the result; stays 0 when even the leading 1 is < half
  if (dropped < kMantissaBits + 2) {
    const Bits half = Bits(1) << (dropped - 1);
    const Bits rest = significand & ((Bits(1) << dropped) - 1);
    Bits kept = significand >> dropped;
    if (rest > half || (rest == half && (kept & 1))) ++kept;  // nearest, ties to even
    // Put the significand back under the old exponent: (exponent_field - 1) << mantissa plus a
    // significand that includes its leading 1 is exactly the old bits; a rounded-up significand
    // of 2^(mantissa+1) carries into the exponent field.
    const Bits exponent_base =
        exponent_field != 0 ? Bits(exponent_field - 1) << kMantissaBits : Bits(0);
    // (kept == 0 happens only when dropped = mantissa + 1 and x is at most half the smallest
    // subnormal: the result is 0, and the old exponent must go too)
    result = kept == 0 ? Bits(0) : exponent_base + (kept << dropped);
    if (static_cast<int>(result >> kMantissaBits) - kBias > max_exponent)
      result = Bits(kExponentAllOnes) << kMantissaBits;  // overflow: infinity
  }
  result |= sign;
  T out;
  std::memcpy(&out, &result, sizeof out);
  return out;
}

// bfloat16: 7 stored significand bits, float32's exponent range.
template <typename T>
TENSOR_HD inline T round_to_bf16(T value) {
  return round_to_format(value, 7, -126, 127);
}

// IEEE half (fp16): 10 stored significand bits, normal exponents -14..15 (max 65504),
// subnormals down to 2^-24; anything that rounds above 65504 becomes +-inf.
template <typename T>
TENSOR_HD inline T round_to_fp16(T value) {
  return round_to_format(value, 10, -14, 15);
}

}  // namespace tensor::math
