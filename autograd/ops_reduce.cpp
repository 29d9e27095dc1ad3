// ops_reduce.cpp — differentiable reductions: sum, mean, amax/amin, var.
#include <algorithm>

#include "autograd/ops.hpp"
#include "autograd/record.hpp"
#include "tensor/ops.hpp"

namespace autograd {

namespace {

// The reduced dims as non-negative, sorted numbers (all dims when `dims` is empty).
std::vector<std::int64_t> reduced_dims(const std::vector<std::int64_t>& dims, std::int64_t ndim,
                                       const char* op) {
  std::vector<std::int64_t> result;
  if (dims.empty())
    for (std::int64_t d = 0; d < ndim; ++d) result.push_back(d);
  for (std::int64_t d : dims) result.push_back(tensor::normalize_dim(d, ndim, op));
  std::sort(result.begin(), result.end());
  return result;
}

// The gradient of a reduction's output, given back the size-1 dims it lost (when keepdim was
// false), so that it broadcasts against the input: [B, T] -> [B, 1] for a sum over dim 1.
Array with_kept_dims(const Array& g, const std::vector<std::int64_t>& dims, bool keepdim) {
  if (keepdim) return g;
  Array kept = g;
  for (std::int64_t d : dims) kept = kept.unsqueeze(d);  // ascending order keeps indices right
  return kept;
}

std::int64_t count_of(const Shape& shape, const std::vector<std::int64_t>& dims) {
  std::int64_t n = 1;
  for (std::int64_t d : dims) n *= shape[d];
  return n;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim, Site site) {
  Array y = tensor::sum(x.data(), dims, keepdim);
  std::vector<std::int64_t> reduced = reduced_dims(dims, x.dim(), "sum");
  Shape input_shape = x.shape();
  return record("sum", site, y, {x}, [reduced, keepdim, input_shape](const Array& g) -> Grads {
    // y = sum_i x_i  =>  every x_i gets the same g: broadcast g back over the summed dims
    return {with_kept_dims(g, reduced, keepdim).expand(input_shape)};
  });
}

Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim, Site site) {
  Array y = tensor::mean(x.data(), dims, keepdim);
  std::vector<std::int64_t> reduced = reduced_dims(dims, x.dim(), "mean");
  Shape input_shape = x.shape();
  double count = static_cast<double>(count_of(input_shape, reduced));
  return record("mean", site, y, {x}, [reduced, keepdim, input_shape, count](const Array& g) -> Grads {
    // y = (1/n) sum_i x_i  =>  dx_i = g / n
    return {(with_kept_dims(g, reduced, keepdim) / count).expand(input_shape)};
  });
}

namespace {
Tensor extreme_value(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim,
                     bool take_max, Site site) {
  const char* op = take_max ? "amax" : "amin";
  Array y = take_max ? tensor::amax(x.data(), dims, keepdim) : tensor::amin(x.data(), dims, keepdim);
  std::vector<std::int64_t> reduced = reduced_dims(dims, x.dim(), op);
  SavedArray saved_x(x.data(), op), saved_y(y, op);
  return record(op, site, y, {x}, [saved_x, saved_y, reduced, keepdim](const Array& g) -> Grads {
    // Only the elements equal to the extreme value influence it; when several tie, each
    // gets an equal share of g (so the shares add up to g).
    Array y_kept = with_kept_dims(saved_y.get(), reduced, keepdim);
    Array is_extreme = tensor::eq(saved_x.get(), y_kept).to(g.dtype());
    Array ties = tensor::sum(is_extreme, reduced, /*keepdim=*/true);
    return {is_extreme * (with_kept_dims(g, reduced, keepdim) / ties)};
  });
}
}  // namespace

Tensor amax(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim, Site site) {
  return extreme_value(x, dims, keepdim, true, site);
}

Tensor amin(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim, Site site) {
  return extreme_value(x, dims, keepdim, false, site);
}

Tensor var(const Tensor& x, const std::vector<std::int64_t>& dims, std::int64_t correction,
           bool keepdim, Site site) {
  Array y = tensor::var(x.data(), dims, correction, keepdim);
  std::vector<std::int64_t> reduced = reduced_dims(dims, x.dim(), "var");
  double denominator = static_cast<double>(count_of(x.shape(), reduced) - correction);
  SavedArray saved_x(x.data(), "var");
  return record("var", site, y, {x}, [saved_x, reduced, keepdim, denominator](const Array& g) -> Grads {
    // y = sum_i (x_i - m)^2 / (n - c)  =>  dx_i = g * 2 (x_i - m) / (n - c)
    // (the terms through the mean m cancel, because sum_i (x_i - m) = 0)
    const Array& x = saved_x.get();
    Array centered = x - tensor::mean(x, reduced, /*keepdim=*/true);
    return {with_kept_dims(g, reduced, keepdim) * centered * (2.0 / denominator)};
  });
}

Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim) {
  return Tensor(tensor::argmax(x.data(), dim, keepdim));
}

Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim) {
  return Tensor(tensor::argmin(x.data(), dim, keepdim));
}

}  // namespace autograd
