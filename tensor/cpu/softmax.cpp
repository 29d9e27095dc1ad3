// softmax.cpp — softmax and log-softmax along one dim, and their backward, on the cpu.
//
// softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m), with m = max_j x_j. Subtracting m changes
// nothing mathematically (softmax is shift-invariant) but keeps exp from overflowing: the
// largest exponent is exp(0) = 1.
#include <cmath>
#include <limits>
#include <type_traits>

#include "tensor/cpu/cpu_backend.hpp"
#include "tensor/cpu/loops.hpp"
#include "tensor/scalar_math.hpp"

namespace tensor::cpu {

namespace {

// The rows of `dim`: for row r, element i lives at offset_of(r) + i * stride.
struct Rows {
  std::int64_t count = 1, length = 1;
  std::vector<std::int64_t> outer_sizes;
  std::vector<std::int64_t> strides_a, strides_b, strides_c;  // outer strides of up to 3 arrays

  std::int64_t offset(std::int64_t row, const std::vector<std::int64_t>& strides) const {
    std::int64_t offset = 0;
    for (std::size_t d = outer_sizes.size(); d-- > 0;) {
      offset += (row % outer_sizes[d]) * strides[d];
      row /= outer_sizes[d];
    }
    return offset;
  }
};

Rows make_rows(std::int64_t dim, const Array& a, const Array& b, const Array& c) {
  Rows rows;
  rows.length = a.shape()[dim];
  for (std::int64_t d = 0; d < a.dim(); ++d) {
    if (d == dim) continue;
    rows.outer_sizes.push_back(a.shape()[d]);
    rows.strides_a.push_back(a.strides()[d]);
    rows.strides_b.push_back(b.strides()[d]);
    rows.strides_c.push_back(c.strides()[d]);
    rows.count *= a.shape()[d];
  }
  return rows;
}

// Strides are a template parameter so that the common case, a packed row, compiles with the
// constant 1 (`Packed`): plain loads and stores the compiler vectorises. Any other layout uses
// the same code with runtime strides.
using Packed = std::integral_constant<std::int64_t, 1>;

// One row: dst = softmax(row) or log_softmax(row).
template <typename T, typename Stride>
void softmax_row(const T* row, Stride xs, T* dst, Stride os, std::int64_t n, bool log) {
  const T minus_inf = -std::numeric_limits<T>::infinity();
  T row_max = minus_inf;
  // `omp simd` on the loops over a row: math::exp is plain arithmetic for float, so a row of
  // attention scores goes 8-16 lanes at a time.
#pragma omp simd reduction(max : row_max)
  for (std::int64_t i = 0; i < n; ++i) row_max = std::max(row_max, row[i * xs]);
  // A row that is all -inf is a query whose every key was masked out. Mathematically its
  // softmax is 0/0; we define it as all zeros (log_softmax: all -inf), so that attention gives a
  // zero output and zero gradients for it instead of spreading NaN (PyTorch gives NaN here).
  if (row_max == minus_inf) {
    for (std::int64_t i = 0; i < n; ++i) dst[i * os] = log ? minus_inf : T(0);
    return;
  }
  double total = 0;
  if (log) {
#pragma omp simd reduction(+ : total)
    for (std::int64_t i = 0; i < n; ++i) total += math::exp(row[i * xs] - row_max);
    const T log_total = T(std::log(total));
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) dst[i * os] = row[i * xs] - row_max - log_total;
  } else {
    // The exponentials go straight into dst, then one pass scales them: exp once per element.
#pragma omp simd reduction(+ : total)
    for (std::int64_t i = 0; i < n; ++i) {
      T e = math::exp(row[i * xs] - row_max);
      dst[i * os] = e;
      total += e;
    }
    const T inv_total = T(1.0 / total);
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) dst[i * os] *= inv_total;
  }
}

template <typename T>
void softmax_typed(const Array& x, std::int64_t dim, bool log, const Array& out) {
  Rows rows = make_rows(dim, x, out, out);
  const std::int64_t xs = x.strides()[dim], os = out.strides()[dim], n = rows.length;
  const T* in = x.data<T>();
  T* result = out.data<T>();
  // Work per row: three passes over it, one with an exp (~4 units) per element.
  parallel_for(rows.count, grain_for_work(6 * n), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      const T* row = in + rows.offset(r, rows.strides_a);
      T* dst = result + rows.offset(r, rows.strides_b);
      if (xs == 1 && os == 1) {
        softmax_row(row, Packed{}, dst, Packed{}, n, log);
      } else {
        softmax_row(row, xs, dst, os, n, log);
      }
    }
  });
}

// One row of the backward: dx from the upstream gradient g and the forward's output y.
template <typename T, typename Stride>
void softmax_backward_row(const T* g_row, Stride gs, const T* y_row, Stride os, T* dx_row,
                          Stride is, std::int64_t n, bool log) {
  double dot = 0;
  if (log) {
    // forward was: y = x - logsumexp(x)  =>  dx = g - softmax(x) * sum(g)
#pragma omp simd reduction(+ : dot)
    for (std::int64_t i = 0; i < n; ++i) dot += g_row[i * gs];
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i)
      dx_row[i * is] = g_row[i * gs] - math::exp(y_row[i * os]) * T(dot);
  } else {
    // forward was: y = softmax(x)  =>  dx = y * (g - sum(g * y))
#pragma omp simd reduction(+ : dot)
    for (std::int64_t i = 0; i < n; ++i) dot += double(g_row[i * gs]) * y_row[i * os];
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) dx_row[i * is] = y_row[i * os] * (g_row[i * gs] - T(dot));
  }
}

template <typename T>
void softmax_backward_typed(const Array& grad_out, const Array& out, std::int64_t dim, bool log,
                            const Array& grad_in) {
  Rows rows = make_rows(dim, grad_out, out, grad_in);
  const std::int64_t gs = grad_out.strides()[dim], os = out.strides()[dim];
  const std::int64_t is = grad_in.strides()[dim], n = rows.length;
  const T* g = grad_out.data<T>();
  const T* y = out.data<T>();
  T* dx = grad_in.data<T>();
  parallel_for(rows.count, grain_for_work(3 * n), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) {
      const T* g_row = g + rows.offset(r, rows.strides_a);
      const T* y_row = y + rows.offset(r, rows.strides_b);
      T* dx_row = dx + rows.offset(r, rows.strides_c);
      if (gs == 1 && os == 1 && is == 1) {
        softmax_backward_row(g_row, Packed{}, y_row, Packed{}, dx_row, Packed{}, n, log);
      } else {
        softmax_backward_row(g_row, gs, y_row, os, dx_row, is, n, log);
      }
    }
  });
}

}  // namespace

void CpuBackend::softmax(const Array& x, std::int64_t dim, bool log, const Array& out) {
  dispatch_floating(x.dtype(), "softmax", [&](auto zero) {
    softmax_typed<decltype(zero)>(x, dim, log, out);
  });
}

void CpuBackend::softmax_backward(const Array& grad_out, const Array& out, std::int64_t dim,
                                  bool log, const Array& grad_in) {
  dispatch_floating(out.dtype(), "softmax_backward", [&](auto zero) {
    softmax_backward_typed<decltype(zero)>(grad_out, out, dim, log, grad_in);
  });
}

}  // namespace tensor::cpu
