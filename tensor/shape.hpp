// shape.hpp — shapes, strides and broadcasting, the bookkeeping behind every view.
//
// A tensor of shape [2, 3] stored row by row has strides [3, 1]: stepping one along dim 0 moves
// 3 elements in memory, one along dim 1 moves 1. A view (transpose, slice, expand...) is a new
// (shape, strides, offset) over the same memory; nothing is copied.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tensor {

using Shape = std::vector<std::int64_t>;    // sizes, outermost dim first
using Strides = std::vector<std::int64_t>;  // elements (not bytes) to step along each dim

std::string shape_str(const Shape& shape);  // "[2, 3]"
std::int64_t shape_numel(const Shape& shape);   // product of sizes; 1 for a 0-d shape
Strides contiguous_strides(const Shape& shape);  // row-major strides for a packed tensor

// Turns a possibly negative dim into 0..ndim-1, or throws
// "transpose: dim 3 out of range for a 3-d tensor (valid dims are -3..2)".
std::int64_t normalize_dim(std::int64_t dim, std::int64_t ndim, const char* op);

// NumPy/PyTorch broadcasting: align shapes on the right; sizes must match or be 1.
// Throws "add: shapes [2, 3] and [4] cannot be broadcast (dim -1: 3 vs 4)".
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Checks that every size is >= 0 (negative sizes are a user error, not a huge allocation).
void check_shape(const Shape& shape, const char* op);

}  // namespace tensor
