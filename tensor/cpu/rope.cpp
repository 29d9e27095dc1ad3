// rope.cpp — the cpu kernel of the rotary position embedding (tensor/rope_math.hpp has the
// formula, tensor/nn_ops.hpp the contract). The backward is the same kernel turning the other
// way (inverse = true), since a rotation's transpose is its inverse.
#include <cmath>
#include <vector>

#include "tensor/cpu/cpu_backend.hpp"
#include "tensor/cpu/loops.hpp"
#include "tensor/rope_math.hpp"

namespace tensor::cpu {

// x and out: contiguous [M, T, D] (M = everything before the positions: batch, heads).
void CpuBackend::rotary_embedding(const Array& x, std::int64_t position_offset, double base,
                                  bool inverse, const Array& out) {
  dispatch_floating(x.dtype(), "rotary_embedding", [&](auto zero) {
    using T = decltype(zero);
    const std::int64_t rows = x.size(0), seq_len = x.size(1), head_dim = x.size(2);
    const std::int64_t pairs = head_dim / 2;
    // cos and sin of every (position, pair) once, in double: [T, D/2] each. All M rows at the
    // same position (every batch element and head) turn by the same angles.
    std::vector<double> cos_table(seq_len * pairs), sin_table(seq_len * pairs);
    const double direction = inverse ? -1.0 : 1.0;
    for (std::int64_t t = 0; t < seq_len; ++t)
      for (std::int64_t i = 0; i < pairs; ++i) {
        const double angle = math::rope_angle(position_offset + t, i, head_dim, base);
        cos_table[t * pairs + i] = std::cos(angle);
        sin_table[t * pairs + i] = direction * std::sin(angle);
      }
    const T* in = x.data<T>();
    T* y = out.data<T>();
    parallel_for(rows * seq_len, grain_for_work(2 * head_dim), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r) {  // r = m * T + t
        const std::int64_t t = r % seq_len;
        const T* src = in + r * head_dim;
        T* dst = y + r * head_dim;
        const double* c = cos_table.data() + t * pairs;
        const double* s = sin_table.data() + t * pairs;
        for (std::int64_t i = 0; i < pairs; ++i)
          math::rope_rotate_pair(src[2 * i], src[2 * i + 1], c[i], s[i], dst[2 * i],
                                 dst[2 * i + 1]);
      }
    });
  });
}

}  // namespace tensor::cpu
