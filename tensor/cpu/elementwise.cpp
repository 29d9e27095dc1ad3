// elementwise.cpp — cpu kernels that map elements one to one: copy, fill, unary, binary, where.
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "tensor/cpu/cpu_backend.hpp"
#include "tensor/cpu/loops.hpp"
#include "tensor/scalar_math.hpp"

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

template <typename T>
void unary_numeric(UnaryOp op, const Array& x, const Array& out);

template <typename T>
void unary_typed(UnaryOp op, const Array& x, const Array& out) {
  if (op == UnaryOp::LogicalNot)
    return map1<T, bool>(x, out, [](T v) { return !static_cast<bool>(v); });
  if constexpr (std::is_same_v<T, bool>) {
    throw std::invalid_argument(op_name(op) + ": not supported for bool tensors");
  } else {
    unary_numeric<T>(op, x, out);
  }
}

template <typename T>
void unary_numeric(UnaryOp op, const Array& x, const Array& out) {
  switch (op) {
    case UnaryOp::Neg: return map1<T, T>(x, out, [](T v) { return T(-v); });
    case UnaryOp::Abs: return map1<T, T>(x, out, [](T v) { return v < T(0) ? T(-v) : v; });
    case UnaryOp::Sign: return map1<T, T>(x, out, [](T v) { return math::sign(v); });
    case UnaryOp::Square: return map1<T, T>(x, out, [](T v) { return T(v * v); });
    case UnaryOp::Relu: return map1<T, T>(x, out, [](T v) { return v > T(0) ? v : T(0); });
    default: break;
  }
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case UnaryOp::Reciprocal: return map1<T, T>(x, out, [](T v) { return T(1) / v; });
      case UnaryOp::Exp: return map1<T, T>(x, out, [](T v) { return std::exp(v); });
      case UnaryOp::Log: return map1<T, T>(x, out, [](T v) { return std::log(v); });
      case UnaryOp::Sqrt: return map1<T, T>(x, out, [](T v) { return std::sqrt(v); });
      case UnaryOp::Rsqrt: return map1<T, T>(x, out, [](T v) { return T(1) / std::sqrt(v); });
      case UnaryOp::Sin: return map1<T, T>(x, out, [](T v) { return std::sin(v); });
      case UnaryOp::Cos: return map1<T, T>(x, out, [](T v) { return std::cos(v); });
      case UnaryOp::Tanh: return map1<T, T>(x, out, [](T v) { return std::tanh(v); });
      case UnaryOp::Erf: return map1<T, T>(x, out, [](T v) { return std::erf(v); });
      case UnaryOp::Sigmoid: return map1<T, T>(x, out, [](T v) { return math::sigmoid(v); });
      case UnaryOp::Gelu: return map1<T, T>(x, out, [](T v) { return math::gelu(v); });
      case UnaryOp::GeluTanh: return map1<T, T>(x, out, [](T v) { return math::gelu_tanh(v); });
      case UnaryOp::Silu: return map1<T, T>(x, out, [](T v) { return math::silu(v); });
      default: break;
    }
  }
  throw std::invalid_argument(op_name(op) + ": not supported for dtype " +
                              dtype_name(x.dtype()));
}

template <typename T>
void binary_numeric(BinaryOp op, const Array& a, const Array& b, const Array& out);

template <typename T>
void binary_typed(BinaryOp op, const Array& a, const Array& b, const Array& out) {
  if constexpr (std::is_same_v<T, bool>) {
    switch (op) {
      case BinaryOp::Eq: return map2<T, bool>(a, b, out, [](T x, T y) { return x == y; });
      case BinaryOp::Ne: return map2<T, bool>(a, b, out, [](T x, T y) { return x != y; });
      case BinaryOp::LogicalAnd: return map2<T, bool>(a, b, out, [](T x, T y) { return x && y; });
      case BinaryOp::LogicalOr: return map2<T, bool>(a, b, out, [](T x, T y) { return x || y; });
      default:
        throw std::invalid_argument(op_name(op) + ": not supported for bool tensors");
    }
  } else {
    binary_numeric<T>(op, a, b, out);
  }
}

template <typename T>
void binary_numeric(BinaryOp op, const Array& a, const Array& b, const Array& out) {
  switch (op) {
    case BinaryOp::Add: return map2<T, T>(a, b, out, [](T x, T y) { return T(x + y); });
    case BinaryOp::Sub: return map2<T, T>(a, b, out, [](T x, T y) { return T(x - y); });
    case BinaryOp::Mul: return map2<T, T>(a, b, out, [](T x, T y) { return T(x * y); });
    case BinaryOp::Maximum:
      return map2<T, T>(a, b, out, [](T x, T y) { return math::maximum(x, y); });
    case BinaryOp::Minimum:
      return map2<T, T>(a, b, out, [](T x, T y) { return math::minimum(x, y); });
    case BinaryOp::Eq: return map2<T, bool>(a, b, out, [](T x, T y) { return x == y; });
    case BinaryOp::Ne: return map2<T, bool>(a, b, out, [](T x, T y) { return x != y; });
    case BinaryOp::Lt: return map2<T, bool>(a, b, out, [](T x, T y) { return x < y; });
    case BinaryOp::Le: return map2<T, bool>(a, b, out, [](T x, T y) { return x <= y; });
    case BinaryOp::Gt: return map2<T, bool>(a, b, out, [](T x, T y) { return x > y; });
    case BinaryOp::Ge: return map2<T, bool>(a, b, out, [](T x, T y) { return x >= y; });
    case BinaryOp::LogicalAnd:
      return map2<T, bool>(a, b, out, [](T x, T y) { return bool(x) && bool(y); });
    case BinaryOp::LogicalOr:
      return map2<T, bool>(a, b, out, [](T x, T y) { return bool(x) || bool(y); });
    case BinaryOp::ReluBackward:
      return map2<T, T>(a, b, out, [](T g, T x) { return x > T(0) ? g : T(0); });
    default: break;
  }
  if constexpr (std::is_same_v<T, std::int64_t>) {
    if (op == BinaryOp::Div)  // callers promote to float first; this is floor-free C division
      return map2<T, T>(a, b, out, [](T x, T y) { return y == 0 ? T(0) : T(x / y); });
  }
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case BinaryOp::Div: return map2<T, T>(a, b, out, [](T x, T y) { return x / y; });
      case BinaryOp::Pow: return map2<T, T>(a, b, out, [](T x, T y) { return std::pow(x, y); });
      case BinaryOp::GeluBackward:
        return map2<T, T>(a, b, out, [](T g, T x) { return g * math::gelu_derivative(x); });
      case BinaryOp::GeluTanhBackward:
        return map2<T, T>(a, b, out,
                          [](T g, T x) { return g * math::gelu_tanh_derivative(x); });
      case BinaryOp::SiluBackward:
        return map2<T, T>(a, b, out, [](T g, T x) { return g * math::silu_derivative(x); });
      case BinaryOp::SigmoidBackward:
        return map2<T, T>(a, b, out, [](T g, T y) { return g * y * (T(1) - y); });
      case BinaryOp::TanhBackward:
        return map2<T, T>(a, b, out, [](T g, T y) { return g * (T(1) - y * y); });
      default: break;
    }
  }
  throw std::invalid_argument(op_name(op) + ": not supported for dtype " +
                              dtype_name(a.dtype()));
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
