#include "tensor/dtype.hpp"

#include <stdexcept>

namespace core {

std::string dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
  }
  return "unknown";
}

DType dtype_from_name(const std::string& name) {
  for (DType d : {DType::Float32, DType::Float64, DType::Int64, DType::Bool})
    if (dtype_name(d) == name) return d;
  throw std::invalid_argument("dtype: unknown dtype '" + name +
                              "' (expected float32, float64, int64 or bool)");
}

std::size_t dtype_size(DType dtype) {
  return dispatch(dtype, [](auto zero) { return sizeof(zero); });
}

bool is_floating(DType dtype) { return dtype == DType::Float32 || dtype == DType::Float64; }

DType promote_types(DType a, DType b) {
  auto rank = [](DType d) {
    switch (d) {
      case DType::Bool: return 0;
      case DType::Int64: return 1;
      case DType::Float32: return 2;
      case DType::Float64: return 3;
    }
    return 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace core
