// ops_rope.cpp — the rotary position embedding (RoPE) with its backward.
#include "autograd/ops.hpp"
#include "autograd/record.hpp"
#include "tensor/nn_ops.hpp"

namespace autograd {

Tensor rotary_embedding(const Tensor& x, std::int64_t position_offset, double base, Site site) {
  // forward: y[..., t, 2i : 2i+2] = R(angle_{t,i}) x[..., t, 2i : 2i+2], a 2x2 rotation per pair
  Array y = tensor::rotary_embedding(x.data(), position_offset, base);
  return record("rotary_embedding", site, y, {x},
                [position_offset, base](const Array& grad) -> Grads {
                  // backward: dx = R^T grad = R(-angle) grad, the same kernel turning back.
                  // Nothing is saved: the angles depend only on positions, never on x.
                  return {tensor::rotary_embedding(grad, position_offset, base, /*inverse=*/true)};
                });
}

}  // namespace autograd
