// rope_math.hpp — the rotary position embedding (RoPE) on one pair of numbers: the angle a pair
// turns by at a position, and the turn itself.
//
// Shared by the cpu kernel (tensor/cpu/rope.cpp) and the CUDA kernel (cuda/kernels/rope.cuh,
// compiled by nvcc and by the cuda-sim simulator), so every device computes the same formula.
// Both work in double and round to the array's dtype once, at the end.
#pragma once

#include <cmath>
#include <cstdint>

#include "tensor/scalar_math.hpp"  // TENSOR_HD

namespace tensor::math {

// The angle by which pair i (dims 2i and 2i+1) of a D-dim head turns at `position`:
//   angle = position * base^(-2i / D)
// Pair 0 turns fastest (1 radian per position); pair D/2 - 1 slowest (about base^-1 per position).
TENSOR_HD inline double rope_angle(std::int64_t position, std::int64_t pair, std::int64_t head_dim,
                                   double base) {
  return static_cast<double>(position) *
         std::pow(base, -2.0 * static_cast<double>(pair) / static_cast<double>(head_dim));
}

// (y0 + i y1) = (x0 + i x1) * (cos_a + i sin_a): the pair as a complex number times e^{i angle}.
// Turning back (the backward, or undoing a rotation) is the same with sin_a negated.
template <typename T>
TENSOR_HD inline void rope_rotate_pair(T x0, T x1, double cos_a, double sin_a, T& y0, T& y1) {
  const double a = static_cast<double>(x0), b = static_cast<double>(x1);
  y0 = static_cast<T>(a * cos_a - b * sin_a);
  y1 = static_cast<T>(a * sin_a + b * cos_a);
}

}  // namespace tensor::math
