// finite.cpp — counting NaN and infinity (finite.hpp).
#include "tensor/finite.hpp"

#include <cmath>

namespace tensor {

namespace {

template <typename T>
NonFinite scan(const Array& host, bool skip_neg_inf) {
  NonFinite found;
  const T* values = host.data<T>();
  const std::int64_t n = host.numel();
  std::int64_t first = -1;
  for (std::int64_t i = 0; i < n; ++i) {
    T x = values[i];
    if (std::isfinite(x) || (skip_neg_inf && x < 0 && std::isinf(x))) continue;
    if (std::isnan(x))
      ++found.nan;
    else if (x > 0)
      ++found.pos_inf;
    else
      ++found.neg_inf;
    if (first < 0) {
      first = i;
      found.first_kind = std::isnan(x) ? "NaN" : x > 0 ? "+inf" : "-inf";
    }
  }
  if (first >= 0) {  // the flat position back to an index, innermost dim first
    const Shape& shape = host.shape();
    found.first_index.assign(shape.size(), 0);
    for (std::size_t d = shape.size(); d-- > 0;) {
      found.first_index[d] = first % shape[d];
      first /= shape[d];
    }
  }
  return found;
}

std::string counted(std::int64_t count, const std::string& what) {
  return std::to_string(count) + " " + what + (count == 1 ? " value" : " values");
}

}  // namespace

NonFinite find_non_finite(const Array& array, bool skip_neg_inf) {
  if (!array.defined() || (array.dtype() != DType::Float32 && array.dtype() != DType::Float64))
    return {};
  Array host = array.to(kCPU).contiguous();
  return host.dtype() == DType::Float32 ? scan<float>(host, skip_neg_inf)
                                         : scan<double>(host, skip_neg_inf);
}

std::string describe_non_finite(const NonFinite& found) {
  if (!found.any()) return "";
  std::vector<std::string> parts;
  if (found.nan > 0) parts.push_back(counted(found.nan, "NaN"));
  if (found.pos_inf > 0) parts.push_back(counted(found.pos_inf, "+inf"));
  if (found.neg_inf > 0) parts.push_back(counted(found.neg_inf, "-inf"));
  std::string text;
  for (std::size_t i = 0; i < parts.size(); ++i)
    text += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
  if (found.count() == 1) return text + ", at " + shape_str(found.first_index);
  // With several kinds, say which one comes first.
  return text + ", first at " + shape_str(found.first_index) +
         (parts.size() > 1 ? " (" + found.first_kind + ")" : "");
}

}  // namespace tensor
