#include "tensor/factory.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "tensor/ops.hpp"

namespace tensor {

Array full(const Shape& shape, double value, DType dtype, Device device) {
  Array out(shape, dtype, device);
  if (out.numel() > 0) out.fill_(value);
  return out;
}

Array zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0, dtype, device); }
Array ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1, dtype, device); }
Array zeros_like(const Array& like) { return zeros(like.shape(), like.dtype(), like.device()); }
Array ones_like(const Array& like) { return ones(like.shape(), like.dtype(), like.device()); }
Array full_like(const Array& like, double value) {
  return full(like.shape(), value, like.dtype(), like.device());
}
Array empty_like(const Array& like) { return Array(like.shape(), like.dtype(), like.device()); }
Array scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Array arange(double start, double end, double step, DType dtype, Device device) {
  if (step == 0) throw std::invalid_argument("arange: step must not be 0");
  double count = std::ceil((end - start) / step);
  std::int64_t n = count > 0 ? static_cast<std::int64_t>(count) : 0;
  std::vector<double> values(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) values[i] = start + static_cast<double>(i) * step;
  return from_vector(values, {n}).to(dtype).to(device);
}

Array arange(std::int64_t end, DType dtype, Device device) {
  return arange(0.0, static_cast<double>(end), 1.0, dtype, device);
}

Array eye(std::int64_t n, DType dtype, Device device) {
  Array out = zeros({n, n}, dtype);
  for (std::int64_t i = 0; i < n; ++i) out.set({i, i}, 1);
  return out.to(device);
}

Array tril_mask(std::int64_t rows, std::int64_t cols, std::int64_t diagonal, Device device) {
  Array out({rows, cols}, DType::Bool);
  bool* p = out.data<bool>();
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) p[i * cols + j] = j <= i + diagonal;
  return out.to(device);
}

namespace {
template <typename T>
Array from_values(const T* values, std::size_t count, Shape shape) {
  if (shape.empty()) shape = {static_cast<std::int64_t>(count)};  // 0-d arrays: use scalar()
  check_shape(shape, "from_vector");
  if (shape_numel(shape) != static_cast<std::int64_t>(count))
    throw std::invalid_argument("from_vector: " + std::to_string(count) +
                                " values do not fill shape " + shape_str(shape));
  Array out(shape, dtype_of<T>());
  if (count > 0) std::memcpy(out.raw_data(), values, count * sizeof(T));
  return out;
}
}  // namespace

Array from_vector(const std::vector<float>& values, const Shape& shape) {
  return from_values(values.data(), values.size(), shape);
}
Array from_vector(const std::vector<double>& values, const Shape& shape) {
  return from_values(values.data(), values.size(), shape);
}
Array from_vector(const std::vector<std::int64_t>& values, const Shape& shape) {
  return from_values(values.data(), values.size(), shape);
}
Array from_vector(const std::vector<bool>& values, const Shape& shape) {
  std::unique_ptr<bool[]> packed(new bool[values.size()]);
  for (std::size_t i = 0; i < values.size(); ++i) packed[i] = values[i];
  return from_values(packed.get(), values.size(), shape);
}

Array from_rows(std::initializer_list<std::initializer_list<double>> rows, DType dtype) {
  std::vector<double> values;
  std::size_t cols = rows.size() > 0 ? rows.begin()->size() : 0;
  for (const auto& row : rows) {
    if (row.size() != cols)
      throw std::invalid_argument("from_rows: rows have different lengths (" +
                                  std::to_string(cols) + " and " + std::to_string(row.size()) +
                                  ")");
    values.insert(values.end(), row.begin(), row.end());
  }
  Shape shape{static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(cols)};
  return from_vector(values, shape).to(dtype);
}

}  // namespace tensor
