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
// Product of sizes; 1 for a 0-d shape. Throws std::length_error when it overflows 64 bits.
std::int64_t shape_numel(const Shape& shape);
Strides contiguous_strides(const Shape& shape);  // row-major strides for a packed tensor

// ---- sizes that must not overflow ---------------------------------------------------------------
// Every size, stride and byte count is an int64. A product that does not fit is undefined
// behaviour in C++, and a shape read from a file can ask for one (a .npy file of shape
// (0, 2^60) holds no bytes, yet its float64 byte strides overflow). So products of sizes are
// checked where they are made, and an array's layout is checked once, when it is created.

// a * b for a, b >= 0, or throws std::length_error "<op>: <what> overflows 64 bits (a * b)".
std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* op, const char* what);

// Bytes a packed array of this shape spans when zero sizes count as 1: the largest byte stride
// times its size. This bounds every stride * itemsize and offset the array or a view of it can
// compute. Throws std::length_error naming `op` and the shape when it exceeds int64.
std::int64_t layout_span_bytes(const Shape& shape, std::size_t itemsize, const char* op);

// Turns a possibly negative dim into 0..ndim-1, or throws
// "transpose: dim 3 out of range for a 3-d tensor (valid dims are -3..2)".
std::int64_t normalize_dim(std::int64_t dim, std::int64_t ndim, const char* op);

// NumPy/PyTorch broadcasting: align shapes on the right; sizes must match or be 1.
// Throws "add: shapes [2, 3] and [4] cannot be broadcast (dim -1: 3 vs 4)".
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Checks that every size is >= 0 (negative sizes are a user error, not a huge allocation).
void check_shape(const Shape& shape, const char* op);

}  // namespace tensor
