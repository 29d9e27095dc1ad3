// dtype.hpp — the element types a tensor can hold, and how they combine.
//
// float32 is the default (what models train in), float64 is for gradcheck (finite differences
// need the extra digits), int64 holds indices (token ids, class labels), bool holds masks
// (true = masked out, as in PyTorch's attention masks) and comparison results.
#pragma once

#include <cstdint>
#include <string>

// The vocabulary types shared by every layer (DType here, Device, Generator) live in namespace
// `core`, not `tensor`. Reason: C++ looks up a function also in the namespaces of its arguments'
// types (argument-dependent lookup). If DType lived in `tensor`, then with
// `using namespace autograd;` the call `zeros({2}, DType::Float64)` would find both
// autograd::zeros and tensor::zeros and be ambiguous. `tensor` and `autograd` re-export these
// names, so users never write `core::`.
namespace core {

enum class DType { Float32, Float64, Int64, Bool };

std::string dtype_name(DType dtype);      // "float32", "float64", "int64", "bool"
DType dtype_from_name(const std::string& name);  // inverse of dtype_name; throws on unknown names
std::size_t dtype_size(DType dtype);      // bytes per element
bool is_floating(DType dtype);            // float32 or float64

// The dtype of `a op b` for arithmetic: bool < int64 < float32 < float64, the larger wins.
DType promote_types(DType a, DType b);

// Calls fn with a value of the C++ type that stores `dtype`, so one generic lambda serves all
// dtypes: dispatch(dtype, [&](auto zero) { using T = decltype(zero); ... }).
template <typename Fn>
decltype(auto) dispatch(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    case DType::Int64: return fn(std::int64_t{});
    case DType::Bool: return fn(bool{});
  }
  return fn(float{});  // unreachable: every enumerator is handled above
}

// The same, for code that only makes sense on floating-point data (exp, softmax, ...).
template <typename Fn>
decltype(auto) dispatch_floating(DType dtype, const char* op, Fn&& fn);

// The DType that stores the C++ type T.
template <typename T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }

}  // namespace core

#include <stdexcept>

namespace core {
template <typename Fn>
decltype(auto) dispatch_floating(DType dtype, const char* op, Fn&& fn) {
  if (dtype == DType::Float32) return fn(float{});
  if (dtype == DType::Float64) return fn(double{});
  throw std::invalid_argument(std::string(op) + ": expected a float32 or float64 tensor, got " +
                              dtype_name(dtype) + " (convert with .to(DType::Float32))");
}
}  // namespace core

namespace tensor {
using core::dispatch;
using core::dispatch_floating;
using core::DType;
using core::dtype_from_name;
using core::dtype_name;
using core::dtype_of;
using core::dtype_size;
using core::is_floating;
using core::promote_types;
}  // namespace tensor
