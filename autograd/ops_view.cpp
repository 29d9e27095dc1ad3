// ops_view.cpp — differentiable views and copies. A view's backward puts the gradient back
// into the input's layout: reshape it back, permute it back, or scatter it into zeros at the
// positions the view selected.
#include <stdexcept>

#include "autograd/ops.hpp"
#include "autograd/record.hpp"
#include "tensor/factory.hpp"
#include "tensor/ops.hpp"

namespace autograd {

Tensor view(const Tensor& x, const Shape& shape, Site site) {
  Array y = x.data().view(shape);
  Shape input_shape = x.shape();
  return record("view", site, y, {x}, [input_shape](const Array& g) -> Grads {
    return {g.reshape(input_shape)};  // same elements, previous shape
  });
}

Tensor reshape(const Tensor& x, const Shape& shape, Site site) {
  Array y = x.data().reshape(shape);
  Shape input_shape = x.shape();
  return record("reshape", site, y, {x}, [input_shape](const Array& g) -> Grads {
    return {g.reshape(input_shape)};
  });
}

Tensor permute(const Tensor& x, const std::vector<std::int64_t>& dims, Site site) {
  Array y = x.data().permute(dims);
  // The inverse permutation: output dim i came from input dim dims[i].
  std::vector<std::int64_t> inverse(dims.size());
  for (std::size_t i = 0; i < dims.size(); ++i)
    inverse[tensor::normalize_dim(dims[i], x.dim(), "permute")] = static_cast<std::int64_t>(i);
  return record("permute", site, y, {x}, [inverse](const Array& g) -> Grads {
    return {g.permute(inverse)};
  });
}

Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1, Site site) {
  Array y = x.data().transpose(dim0, dim1);
  return record("transpose", site, y, {x}, [dim0, dim1](const Array& g) -> Grads {
    return {g.transpose(dim0, dim1)};  // a transpose is its own inverse
  });
}

Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end,
             std::int64_t step, Site site) {
  Array y = x.data().slice(dim, start, end, step);
  Shape input_shape = x.shape();
  return record("slice", site, y, {x}, [=](const Array& g) -> Grads {
    // Elements outside the slice did not affect the output: their gradient is zero.
    Array dx = tensor::zeros(input_shape, g.dtype(), g.device());
    dx.slice(dim, start, end, step).copy_(g);
    return {dx};
  });
}

Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index, Site site) {
  Array y = x.data().select(dim, index);
  Shape input_shape = x.shape();
  return record("select", site, y, {x}, [=](const Array& g) -> Grads {
    Array dx = tensor::zeros(input_shape, g.dtype(), g.device());
    dx.select(dim, index).copy_(g);
    return {dx};
  });
}

Tensor expand(const Tensor& x, const Shape& shape, Site site) {
  Array y = x.data().expand(shape);
  Shape input_shape = x.shape();
  return record("expand", site, y, {x}, [input_shape](const Array& g) -> Grads {
    // Each input element was repeated along the expanded dims: sum its copies' gradients.
    return {tensor::sum_to(g, input_shape)};
  });
}

Tensor squeeze(const Tensor& x, std::int64_t dim, Site site) {
  Array y = x.data().squeeze(dim);
  Shape input_shape = x.shape();
  return record("squeeze", site, y, {x}, [input_shape](const Array& g) -> Grads {
    return {g.reshape(input_shape)};
  });
}

Tensor squeeze(const Tensor& x, Site site) {
  Array y = x.data().squeeze();
  Shape input_shape = x.shape();
  return record("squeeze", site, y, {x}, [input_shape](const Array& g) -> Grads {
    return {g.reshape(input_shape)};
  });
}

Tensor unsqueeze(const Tensor& x, std::int64_t dim, Site site) {
  Array y = x.data().unsqueeze(dim);
  Shape input_shape = x.shape();
  return record("unsqueeze", site, y, {x}, [input_shape](const Array& g) -> Grads {
    return {g.reshape(input_shape)};
  });
}

Tensor contiguous(const Tensor& x, Site site) {
  if (x.is_contiguous()) return x;
  Array y = x.data().contiguous();
  return record("contiguous", site, y, {x}, [](const Array& g) -> Grads { return {g}; });
}

Tensor clone(const Tensor& x, Site site) {
  Array y = x.data().clone();
  return record("clone", site, y, {x}, [](const Array& g) -> Grads { return {g}; });
}

Tensor to(const Tensor& x, DType dtype, Site site) {
  if (dtype == x.dtype()) return x;
  if (x.requires_grad() && !tensor::is_floating(dtype))
    throw std::invalid_argument("to: converting a tensor that requires grad to " +
                                tensor::dtype_name(dtype) +
                                " would cut the gradient; detach() it first");
  Array y = x.data().to(dtype);
  DType input_dtype = x.dtype();
  return record("to", site, y, {x}, [input_dtype](const Array& g) -> Grads {
    return {g.to(input_dtype)};
  });
}

Tensor to(const Tensor& x, Device device, Site site) {
  if (device == x.device()) return x;
  Array y = x.data().to(device);
  Device input_device = x.device();
  return record("to", site, y, {x}, [input_device](const Array& g) -> Grads {
    return {g.to(input_device)};  // the gradient goes back to where the input lives
  });
}

}  // namespace autograd
