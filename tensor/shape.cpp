#include "tensor/shape.hpp"

#include <stdexcept>

namespace tensor {

std::string shape_str(const Shape& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* op, const char* what) {
  std::int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product))
    throw std::length_error(std::string(op) + ": " + what + " overflows 64 bits (" +
                            std::to_string(a) + " * " + std::to_string(b) + ")");
  return product;
}

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t size : shape) {
    if (size == 0) return 0;  // later sizes cannot make it overflow, whatever they are
    if (__builtin_mul_overflow(n, size, &n))
      throw std::length_error("numel: the element count of shape " + shape_str(shape) +
                              " overflows 64 bits");
  }
  return n;
}

Strides contiguous_strides(const Shape& shape) {
  Strides strides(shape.size());
  std::int64_t step = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = step;
    // The product after the outermost dim is never used: do not compute it (it may not fit).
    if (i > 0 && __builtin_mul_overflow(step, shape[i] > 0 ? shape[i] : 1, &step))
      throw std::length_error("contiguous_strides: the strides of shape " + shape_str(shape) +
                              " overflow 64 bits");
  }
  return strides;
}

std::int64_t layout_span_bytes(const Shape& shape, std::size_t itemsize, const char* op) {
  std::int64_t span = static_cast<std::int64_t>(itemsize);
  for (std::int64_t size : shape) {
    std::int64_t product = 0;
    if (__builtin_mul_overflow(span, size > 0 ? size : 1, &product))
      throw std::length_error(std::string(op) + ": shape " + shape_str(shape) +
                              " is too large: with " + std::to_string(itemsize) +
                              "-byte elements its byte strides overflow 64 bits");
    span = product;
  }
  return span;
}

std::int64_t normalize_dim(std::int64_t dim, std::int64_t ndim, const char* op) {
  std::int64_t lowest = ndim > 0 ? -ndim : -1, highest = ndim > 0 ? ndim - 1 : 0;
  if (dim < lowest || dim > highest)
    throw std::out_of_range(std::string(op) + ": dim " + std::to_string(dim) +
                            " out of range for a " + std::to_string(ndim) +
                            "-d tensor (valid dims are " + std::to_string(lowest) + ".." +
                            std::to_string(highest) + ")");
  return dim < 0 ? dim + (ndim > 0 ? ndim : 1) : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  std::size_t ndim = std::max(a.size(), b.size());
  Shape out(ndim);
  for (std::size_t i = 0; i < ndim; ++i) {
    // i counts from the right: the last dims are aligned.
    std::int64_t size_a = i < a.size() ? a[a.size() - 1 - i] : 1;
    std::int64_t size_b = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (size_a != size_b && size_a != 1 && size_b != 1)
      throw std::invalid_argument(std::string(op) + ": shapes " + shape_str(a) + " and " +
                                  shape_str(b) + " cannot be broadcast (dim -" +
                                  std::to_string(i + 1) + ": " + std::to_string(size_a) +
                                  " vs " + std::to_string(size_b) + ")");
    out[ndim - 1 - i] = size_a == 1 ? size_b : size_a;
  }
  return out;
}

void check_shape(const Shape& shape, const char* op) {
  for (std::int64_t size : shape)
    if (size < 0)
      throw std::invalid_argument(std::string(op) + ": negative size in shape " +
                                  shape_str(shape));
}

}  // namespace tensor
