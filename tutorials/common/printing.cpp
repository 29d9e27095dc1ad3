// printing.cpp — see printing.hpp.
#include "tutorials/common/printing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tensor/shape.hpp"

namespace tutorial {

using tensor::Array;
using tensor::DType;

void print_matrix(const std::string& title, const Tensor& t, int precision, std::int64_t max_rows,
                  std::int64_t max_cols) {
  Array m = t.data().to(DType::Float64);
  while (m.dim() > 2) m = m.select(0, 0);
  if (m.dim() < 2) m = m.reshape({1, -1});
  const std::int64_t rows = m.size(0), cols = m.size(1);
  const std::int64_t shown_rows = std::min(rows, max_rows), shown_cols = std::min(cols, max_cols);
  std::printf("  %s   %s%s\n", title.c_str(), tensor::shape_str(t.shape()).c_str(),
              t.dim() > 2 ? " (first matrix)" : "");
  // Scientific notation when fixed point would hide the numbers (tiny weights, huge scores).
  bool scientific = false;
  for (std::int64_t i = 0; i < shown_rows; ++i)
    for (std::int64_t j = 0; j < shown_cols; ++j) {
      double x = std::fabs(m.at({i, j}));
      if (std::isfinite(x) && x != 0 && (x < std::pow(10.0, -precision) || x >= 1e6))
        scientific = true;
    }
  for (std::int64_t i = 0; i < shown_rows; ++i) {
    std::printf("    [");
    for (std::int64_t j = 0; j < shown_cols; ++j) {
      double x = m.at({i, j});
      if (scientific)
        std::printf(" %*.*e", precision + 7, precision - 1, x);
      else
        std::printf(" %*.*f", precision + 6, precision, x);
    }
    std::printf("%s ]\n", shown_cols < cols ? " ..." : "");
  }
  if (shown_rows < rows || shown_cols < cols)
    std::printf("    (showing %lld x %lld of %lld x %lld)\n", (long long)shown_rows,
                (long long)shown_cols, (long long)rows, (long long)cols);
}

}  // namespace tutorial
