// ops_softmax.cpp — softmax and log_softmax along one dim, each forward with its backward.
//
// The kernels (tensor/cpu/softmax.cpp, cuda/kernels/softmax.cuh) subtract the row's max first
// for numerical stability; softmax is shift-invariant, so the result is the same.
#include "autograd/ops.hpp"
#include "autograd/record.hpp"
#include "tensor/ops.hpp"

namespace autograd {

Tensor softmax(const Tensor& x, std::int64_t dim, Site site) {
  Array y = tensor::softmax(x.data(), dim);
  SavedArray saved_y(y, "softmax");
  return record("softmax", site, y, {x}, [saved_y, dim](const Array& g) -> Grads {
    // Jacobian dy_i/dx_j = y_i (delta_ij - y_j), so dx = y * (g - sum(g * y))
    return {tensor::softmax_backward(g, saved_y.get(), dim)};
  });
}

Tensor log_softmax(const Tensor& x, std::int64_t dim, Site site) {
  Array y = tensor::log_softmax(x.data(), dim);
  SavedArray saved_y(y, "log_softmax");
  return record("log_softmax", site, y, {x}, [saved_y, dim](const Array& g) -> Grads {
    // y = x - logsumexp(x)  =>  dx = g - softmax(x) * sum(g)
    return {tensor::log_softmax_backward(g, saved_y.get(), dim)};
  });
}

}  // namespace autograd
