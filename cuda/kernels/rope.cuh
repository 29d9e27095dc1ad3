// rope.cuh — the rotary position embedding (RoPE) kernel: every pair of dims of every row turned
// by its position's angle. The formula is tensor/rope_math.hpp's, shared with the cpu kernel
// (tensor/cpu/rope.cpp); the contract is Backend::rotary_embedding's (tensor/backend.hpp).
//
// Layout: elementwise over pairs, thread p of the grid-stride loop turns pair p of x [M, T, D]
// (contiguous), i.e. row p / (D/2) (position t = row % T) and pair i = p % (D/2). Each thread
// computes its own angle, cos and sin in double (a table shared through memory would save the
// trig calls, but RoPE is a small part of a layer's time and this keeps the kernel one loop).
#pragma once

#include "cuda/kernels/common.cuh"
#include "tensor/rope_math.hpp"

namespace tensor::cuda::ATTN_CUDA_TARGET {

// out[m, t, 2i : 2i+2] = x[m, t, 2i : 2i+2] turned by direction * (offset + t) * base^(-2i/D).
// direction is +1 (forward) or -1 (backward: the transpose of a rotation is its inverse).
template <typename T>
__global__ void rotary_embedding_kernel(index_t num_pairs, index_t seq_len, index_t head_dim,
                                        index_t position_offset, double base, double direction,
                                        const T* x, T* out) {
  const index_t pairs_per_row = head_dim / 2;
  for (index_t p = first_index(); p < num_pairs; p += grid_stride()) {
    const index_t row = p / pairs_per_row, i = p % pairs_per_row;
    const index_t t = row % seq_len;
    const double angle = math::rope_angle(position_offset + t, i, head_dim, base);
    const double cos_a = std::cos(angle), sin_a = direction * std::sin(angle);
    math::rope_rotate_pair(x[2 * p], x[2 * p + 1], cos_a, sin_a, out[2 * p], out[2 * p + 1]);
  }
}

}  // namespace tensor::cuda::ATTN_CUDA_TARGET
