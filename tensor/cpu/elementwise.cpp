// elementwise.cpp — cpu kernels that map elements one to one: copy, fill, unary, binary, where.
// The loops are here; each op's formula is in tensor/elementwise_ops.hpp, shared with CUDA.
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "tensor/cpu/cpu_backend.hpp"
#include "tensor/cpu/loops.hpp"
#include "tensor/elementwise_ops.hpp"

namespace tensor::cpu {

namespace {

template <typename T>
T& element(char* base, std::int64_t byte_stride, std::int64_t i) {
  return *reinterpret_cast<T*>(base + i * byte_stride);
}

// out[i] = f(x[i]). The contiguous case is a plain indexed loop, so the compiler vectorises it:
// `omp simd` asks for that even where -O2's cost model would not bother with the leftover
// iterations (the loop over GELU, say, is worth 8-16 lanes at a time).
template <typename In, typename Out, typename F>
void map1(const Array& x, const Array& out, F f) {
  // flatten: inline f (and what it calls) into this body, so the loops below see the whole
  // formula and can vectorise it rather than call f once per element.
  for_each_run<2>({&out, &x}, [&](auto p, auto s, std::int64_t n) __attribute__((flatten)) {
    if (s[0] == sizeof(Out) && s[1] == sizeof(In)) {
      Out* o = reinterpret_cast<Out*>(p[0]);
      const In* a = reinterpret_cast<const In*>(p[1]);
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
    } else {
      for (std::int64_t i = 0; i < n; ++i)
        element<Out>(p[0], s[0], i) = f(element<In>(p[1], s[1], i));
    }
  });
}

// out[i] = f(a[i], b[i]), with fast paths for the common layouts: both packed, or one side a
// broadcast scalar (stride 0), as in `x * 0.5` or adding a bias along the last dim.
template <typename In, typename Out, typename F>
void map2(const Array& a, const Array& b, const Array& out, F f) {
  for_each_run<3>({&out, &a, &b}, [&](auto p, auto s, std::int64_t n) __attribute__((flatten)) {
    Out* o = reinterpret_cast<Out*>(p[0]);
    const In* x = reinterpret_cast<const In*>(p[1]);
    const In* y = reinterpret_cast<const In*>(p[2]);
    bool packed_out = s[0] == sizeof(Out);
    if (packed_out && s[1] == sizeof(In) && s[2] == sizeof(In)) {
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (packed_out && s[1] == sizeof(In) && s[2] == 0) {
      const In y0 = y[0];
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], y0);
    } else if (packed_out && s[1] == 0 && s[2] == sizeof(In)) {
      const In x0 = x[0];
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x0, y[i]);
    } else {
      for (std::int64_t i = 0; i < n; ++i)
        element<Out>(p[0], s[0], i) = f(element<In>(p[1], s[1], i), element<In>(p[2], s[2], i));
    }
  });
}

// One op at compile time: the loop is instantiated with that op's formula inlined
// (tensor/elementwise_ops.hpp), for the types the op takes; any other type is refused.
template <UnaryOp op, typename T>
void unary_loop(const Array& x, const Array& out) {
  if constexpr (op_takes_type<T>(op)) {
    map1<T, op_result_t<op, T>>(x, out, [](T v) { return unary_formula<op>(v); });
  } else {
    throw std::invalid_argument(op_name(op) + ": not supported for dtype " +
                                dtype_name(x.dtype()));
  }
}

template <BinaryOp op, typename T>
void binary_loop(const Array& a, const Array& b, const Array& out) {
  if constexpr (op_takes_type<T>(op)) {
    map2<T, op_result_t<op, T>>(a, b, out, [](T x, T y) { return binary_formula<op>(x, y); });
  } else {
    throw std::invalid_argument(op_name(op) + ": not supported for dtype " +
                                dtype_name(a.dtype()));
  }
}

// The op known at run time picks the loop compiled for it: one case per op of the lists.
template <typename T>
void unary_typed(UnaryOp op, const Array& x, const Array& out) {
#define TENSOR_UNARY_CASE(Enum, name, takes, gives) \
  case UnaryOp::Enum: return unary_loop<UnaryOp::Enum, T>(x, out);
  switch (op) { TENSOR_UNARY_OPS(TENSOR_UNARY_CASE) }
#undef TENSOR_UNARY_CASE
  throw std::invalid_argument("unary: unknown op " + std::to_string(static_cast<int>(op)));
}

template <typename T>
void binary_typed(BinaryOp op, const Array& a, const Array& b, const Array& out) {
#define TENSOR_BINARY_CASE(Enum, name, takes, gives) \
  case BinaryOp::Enum: return binary_loop<BinaryOp::Enum, T>(a, b, out);
  switch (op) { TENSOR_BINARY_OPS(TENSOR_BINARY_CASE) }
#undef TENSOR_BINARY_CASE
  throw std::invalid_argument("binary: unknown op " + std::to_string(static_cast<int>(op)));
}

}  // namespace

void CpuBackend::copy(const Array& src, const Array& out) {
  dispatch(src.dtype(), [&](auto src_zero) {
    using In = decltype(src_zero);
    dispatch(out.dtype(), [&](auto out_zero) {
      using Out = decltype(out_zero);
      map1<In, Out>(src, out, [](In v) { return static_cast<Out>(v); });
    });
  });
}

void CpuBackend::fill(const Array& out, double value) {
  dispatch(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T v = static_cast<T>(value);
    for_each_run<1>({&out}, [&](auto p, auto s, std::int64_t n) {
      for (std::int64_t i = 0; i < n; ++i) element<T>(p[0], s[0], i) = v;
    });
  });
}

void CpuBackend::unary(UnaryOp op, const Array& x, const Array& out) {
  dispatch(x.dtype(), [&](auto zero) { unary_typed<decltype(zero)>(op, x, out); });
}

void CpuBackend::binary(BinaryOp op, const Array& a, const Array& b, const Array& out) {
  dispatch(a.dtype(), [&](auto zero) { binary_typed<decltype(zero)>(op, a, b, out); });
}

void CpuBackend::where(const Array& cond, const Array& a, const Array& b, const Array& out) {
  dispatch(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    for_each_run<4>({&out, &cond, &a, &b}, [&](auto p, auto s, std::int64_t n) {
      for (std::int64_t i = 0; i < n; ++i)
        element<T>(p[0], s[0], i) = element<bool>(p[1], s[1], i) ? element<T>(p[2], s[2], i)
                                                                 : element<T>(p[3], s[3], i);
    });
  });
}

}  // namespace tensor::cpu
