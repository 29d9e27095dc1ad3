// print.cpp — turning an Array into text the way PyTorch prints tensors.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "tensor/array.hpp"

namespace tensor {

namespace {

constexpr std::int64_t kSummariseAbove = 1000;  // elements; like torch's default threshold
constexpr std::int64_t kEdgeItems = 3;          // items kept at each edge when summarising

// How to write every number of one array, chosen once so that columns line up.
struct NumberFormat {
  bool floating = true;
  bool scientific = false;
  bool integral_values = false;  // every float is a whole number: print "3." like PyTorch
  int width = 0;

  std::string format(double v) const {
    char buffer[64];
    if (!floating) {
      std::snprintf(buffer, sizeof buffer, "%lld", static_cast<long long>(v));
    } else if (std::isnan(v)) {
      return "nan";
    } else if (std::isinf(v)) {
      return v > 0 ? "inf" : "-inf";
    } else if (scientific) {
      std::snprintf(buffer, sizeof buffer, "%.4e", v);
    } else if (integral_values) {
      std::snprintf(buffer, sizeof buffer, "%.0f.", v);
    } else {
      std::snprintf(buffer, sizeof buffer, "%.4f", v);
    }
    return buffer;
  }
};

NumberFormat choose_format(const std::vector<double>& values, DType dtype) {
  NumberFormat fmt;
  fmt.floating = is_floating(dtype);
  if (fmt.floating) {
    double largest = 0, smallest = INFINITY;
    bool all_integral = true;
    for (double v : values) {
      if (!std::isfinite(v)) continue;
      double magnitude = std::fabs(v);
      largest = std::max(largest, magnitude);
      if (magnitude > 0) smallest = std::min(smallest, magnitude);
      if (v != std::floor(v)) all_integral = false;
    }
    fmt.integral_values = all_integral && largest < 1e8;
    // Fixed point hides small values next to big ones; switch like PyTorch does.
    fmt.scientific = !fmt.integral_values && largest > 0 &&
                     (largest >= 1e8 || smallest < 1e-4 || largest / smallest > 1000);
  }
  for (double v : values) fmt.width = std::max<int>(fmt.width, fmt.format(v).size());
  return fmt;
}

// Indices to show along a dim of `size`: all of them, or the edges with a gap marker (-1).
std::vector<std::int64_t> shown_indices(std::int64_t size, bool summarise) {
  std::vector<std::int64_t> indices;
  if (!summarise || size <= 2 * kEdgeItems) {
    for (std::int64_t i = 0; i < size; ++i) indices.push_back(i);
  } else {
    for (std::int64_t i = 0; i < kEdgeItems; ++i) indices.push_back(i);
    indices.push_back(-1);
    for (std::int64_t i = size - kEdgeItems; i < size; ++i) indices.push_back(i);
  }
  return indices;
}

void collect(const Array& a, bool summarise, std::vector<double>& out) {
  if (a.dim() == 0) {
    out.push_back(a.item());
    return;
  }
  for (std::int64_t i : shown_indices(a.size(0), summarise))
    if (i >= 0) collect(a.select(0, i), summarise, out);
}

void write(std::ostringstream& os, const Array& a, bool summarise, const NumberFormat& fmt,
           std::size_t& next_value, const std::vector<double>& values, DType dtype, int indent) {
  if (a.dim() == 0) {
    double v = values[next_value++];
    std::string text = dtype == DType::Bool ? (v != 0 ? "true" : "false") : fmt.format(v);
    os << std::string(fmt.width > static_cast<int>(text.size()) ? fmt.width - text.size() : 0,
                      ' ')
       << text;
    return;
  }
  os << '[';
  std::vector<std::int64_t> indices = shown_indices(a.size(0), summarise);
  for (std::size_t k = 0; k < indices.size(); ++k) {
    if (k > 0) {
      os << ',';
      if (a.dim() == 1) {
        os << ' ';
      } else {
        os << std::string(a.dim() - 1, '\n') << std::string(indent + 1, ' ');
      }
    }
    if (indices[k] < 0) {
      os << "...";
      continue;
    }
    write(os, a.select(0, indices[k]), summarise, fmt, next_value, values, dtype, indent + 1);
  }
  os << ']';
}

}  // namespace

std::string format_array(const Array& array, const std::string& suffix) {
  std::ostringstream os;
  if (!array.defined()) return "tensor(undefined)";
  Array host = array.to(kCPU);
  bool summarise = host.numel() > kSummariseAbove;
  std::vector<double> values;
  collect(host, summarise, values);
  NumberFormat fmt = choose_format(values, host.dtype());
  if (host.dtype() == DType::Bool) fmt.width = 5;
  std::size_t next_value = 0;
  os << "tensor(";
  write(os, host, summarise, fmt, next_value, values, host.dtype(), 7);
  os << ", shape=" << shape_str(array.shape()) << ", dtype=" << dtype_name(array.dtype());
  if (array.device() != kCPU) os << ", device=" << array.device().str();
  os << suffix << ')';
  return os.str();
}

std::string Array::to_string() const { return format_array(*this); }

}  // namespace tensor
