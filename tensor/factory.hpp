// factory.hpp — making arrays: filled with a constant, ranges, identity, from C++ values.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "tensor/array.hpp"

namespace tensor {

Array zeros(const Shape& shape, DType dtype = DType::Float32, Device device = kCPU);
Array ones(const Shape& shape, DType dtype = DType::Float32, Device device = kCPU);
Array full(const Shape& shape, double value, DType dtype = DType::Float32, Device device = kCPU);
Array zeros_like(const Array& like);
Array ones_like(const Array& like);
Array full_like(const Array& like, double value);
Array empty_like(const Array& like);  // same shape/dtype/device, contents unspecified

// start, start+step, ... up to but excluding end (like torch.arange). int64 unless a dtype is
// given.
Array arange(double start, double end, double step = 1.0, DType dtype = DType::Int64,
             Device device = kCPU);
Array arange(std::int64_t end, DType dtype = DType::Int64, Device device = kCPU);
Array eye(std::int64_t n, DType dtype = DType::Float32, Device device = kCPU);
// Lower-triangular ones (i >= j + diagonal) as bool: the allowed pattern of a causal mask.
Array tril_mask(std::int64_t rows, std::int64_t cols, std::int64_t diagonal = 0,
                Device device = kCPU);

// From values in row-major order. The shape defaults to 1-d ({count}); a 0-d array comes from
// scalar(). The element count must match the shape.
Array from_vector(const std::vector<float>& values, const Shape& shape = {});
Array from_vector(const std::vector<double>& values, const Shape& shape = {});
Array from_vector(const std::vector<std::int64_t>& values, const Shape& shape = {});
Array from_vector(const std::vector<bool>& values, const Shape& shape = {});
// A matrix written as rows: from_rows({{1, 2, 3}, {4, 5, 6}}) is [2, 3] float32.
Array from_rows(std::initializer_list<std::initializer_list<double>> rows,
                DType dtype = DType::Float32);
// A 0-d array.
Array scalar(double value, DType dtype = DType::Float32, Device device = kCPU);

}  // namespace tensor
