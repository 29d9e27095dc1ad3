// elementwise_ops.hpp — every elementwise op in one place: its name, the dtypes it takes, and
// its formula on one number.
//
// The lists below are the only place an op is spelled out. The UnaryOp/BinaryOp enums, op_name()
// (tensor/backend.cpp), the dtype checks (tensor/ops.cpp, cuda/kernels/kernel_backend.cuh) and
// the kernels' switches (tensor/cpu/elementwise.cpp, cuda/kernels/elementwise.cuh) are all
// generated from them, and every device evaluates the same formula: unary_formula<op>(v) and
// binary_formula<op>(x, y) at the bottom of this file. Adding an elementwise op is one line in a
// list and one `if constexpr` branch here, then the user-facing functions (tensor/ops.hpp and,
// if it is differentiable, autograd/ops.hpp with its backward in autograd/ops_elementwise.cpp).
//
// Each list entry is X(Enum, "name", Takes, Gives):
//   Takes: Numeric (int64, float32, float64), Floating (float32, float64) or Every (bool too)
//   Gives: Same (the input dtype) or Bool
// The lists are X-macros (a macro taking a macro) because C++ has no other way to turn one list
// into an enum, a table of names and a switch.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "tensor/scalar_math.hpp"

namespace tensor {

#define TENSOR_UNARY_OPS(X)                                                      \
  X(Neg, "neg", Numeric, Same)                                                   \
  X(Abs, "abs", Numeric, Same)                                                   \
  X(Sign, "sign", Numeric, Same)                                                 \
  X(Square, "square", Numeric, Same)                                             \
  X(Reciprocal, "reciprocal", Floating, Same)                                    \
  X(Exp, "exp", Floating, Same)                                                  \
  X(Log, "log", Floating, Same)                                                  \
  X(Sqrt, "sqrt", Floating, Same)                                                \
  X(Rsqrt, "rsqrt", Floating, Same)                                              \
  X(Sin, "sin", Floating, Same)                                                  \
  X(Cos, "cos", Floating, Same)                                                  \
  X(Tanh, "tanh", Floating, Same)                                                \
  X(Sigmoid, "sigmoid", Floating, Same)                                          \
  X(Erf, "erf", Floating, Same)                                                  \
  X(Relu, "relu", Numeric, Same) /* activations; Gelu is the exact erf form */   \
  X(Gelu, "gelu", Floating, Same)                                                \
  X(GeluTanh, "gelu_tanh", Floating, Same)                                       \
  X(Silu, "silu", Floating, Same)                                                \
  X(RoundToBf16, "round_to_bf16", Floating, Same) /* nearest bf16, fp16 */       \
  X(RoundToFp16, "round_to_fp16", Floating, Same)                                \
  X(LogicalNot, "logical_not", Every, Bool)

// The *Backward ops fuse an activation's backward: out = grad * f'(input), one pass instead of
// three. The second operand is the forward input x (Relu, Gelu, GeluTanh, Silu) or the forward
// output y (Sigmoid: y(1-y), Tanh: 1-y^2). Div on int64 is C division (callers promote to float
// first); Eq/Ne and the logical ops also take bool.
#define TENSOR_BINARY_OPS(X)                                                     \
  X(Add, "add", Numeric, Same)                                                   \
  X(Sub, "sub", Numeric, Same)                                                   \
  X(Mul, "mul", Numeric, Same)                                                   \
  X(Div, "div", Numeric, Same)                                                   \
  X(Pow, "pow", Floating, Same)                                                  \
  X(Maximum, "maximum", Numeric, Same)                                           \
  X(Minimum, "minimum", Numeric, Same)                                           \
  X(Eq, "eq", Every, Bool)                                                       \
  X(Ne, "ne", Every, Bool)                                                       \
  X(Lt, "lt", Numeric, Bool)                                                     \
  X(Le, "le", Numeric, Bool)                                                     \
  X(Gt, "gt", Numeric, Bool)                                                     \
  X(Ge, "ge", Numeric, Bool)                                                     \
  X(LogicalAnd, "logical_and", Every, Bool)                                      \
  X(LogicalOr, "logical_or", Every, Bool)                                        \
  X(ReluBackward, "relu_backward", Numeric, Same)                                \
  X(GeluBackward, "gelu_backward", Floating, Same)                               \
  X(GeluTanhBackward, "gelu_tanh_backward", Floating, Same)                      \
  X(SiluBackward, "silu_backward", Floating, Same)                               \
  X(SigmoidBackward, "sigmoid_backward", Floating, Same)                         \
  X(TanhBackward, "tanh_backward", Floating, Same)

#define TENSOR_OP_ENUM_ENTRY(Enum, name, takes, gives) Enum,
enum class UnaryOp { TENSOR_UNARY_OPS(TENSOR_OP_ENUM_ENTRY) };
enum class BinaryOp { TENSOR_BINARY_OPS(TENSOR_OP_ENUM_ENTRY) };
#undef TENSOR_OP_ENUM_ENTRY

#define TENSOR_OP_COUNT_ENTRY(Enum, name, takes, gives) +1
constexpr int kUnaryOpCount = 0 TENSOR_UNARY_OPS(TENSOR_OP_COUNT_ENTRY);
constexpr int kBinaryOpCount = 0 TENSOR_BINARY_OPS(TENSOR_OP_COUNT_ENTRY);
#undef TENSOR_OP_COUNT_ENTRY

// ---- which dtypes an op takes and gives ---------------------------------------------------------

enum class OpTakes { Numeric, Floating, Every };
enum class OpGives { Same, Bool };

#define TENSOR_OP_TAKES_CASE(Enum, name, takes, gives) \
  case Op::Enum: return OpTakes::takes;
#define TENSOR_OP_GIVES_CASE(Enum, name, takes, gives) \
  case Op::Enum: return OpGives::gives == OpGives::Bool;

TENSOR_HD constexpr OpTakes op_takes(UnaryOp op) {
  using Op = UnaryOp;
  switch (op) { TENSOR_UNARY_OPS(TENSOR_OP_TAKES_CASE) }
  return OpTakes::Every;
}
TENSOR_HD constexpr OpTakes op_takes(BinaryOp op) {
  using Op = BinaryOp;
  switch (op) { TENSOR_BINARY_OPS(TENSOR_OP_TAKES_CASE) }
  return OpTakes::Every;
}
TENSOR_HD constexpr bool gives_bool(UnaryOp op) {
  using Op = UnaryOp;
  switch (op) { TENSOR_UNARY_OPS(TENSOR_OP_GIVES_CASE) }
  return false;
}
TENSOR_HD constexpr bool gives_bool(BinaryOp op) {
  using Op = BinaryOp;
  switch (op) { TENSOR_BINARY_OPS(TENSOR_OP_GIVES_CASE) }
  return false;
}
#undef TENSOR_OP_TAKES_CASE
#undef TENSOR_OP_GIVES_CASE

// Whether op has a formula for inputs of C++ type T (bool, std::int64_t, float or double).
template <typename T, typename Op>
TENSOR_HD constexpr bool op_takes_type(Op op) {
  const OpTakes takes = op_takes(op);
  if constexpr (std::is_same_v<T, bool>) return takes == OpTakes::Every;
  else if constexpr (std::is_floating_point_v<T>) return true;
  else return takes != OpTakes::Floating;
}

// The C++ type of op's result for inputs of type T.
template <auto op, typename T>
using op_result_t = std::conditional_t<gives_bool(op), bool, T>;

// ---- the formulas -------------------------------------------------------------------------------
// Instantiated only for the types op_takes_type allows. The helpers they call (math::gelu,
// math::sigmoid, ...) are in tensor/scalar_math.hpp.

template <UnaryOp op, typename T>
TENSOR_HD TENSOR_ALWAYS_INLINE op_result_t<op, T> unary_formula(T v) {
  static_assert(op_takes_type<T>(op), "unary_formula: op does not take this dtype");
  if constexpr (op == UnaryOp::Neg) return T(-v);
  else if constexpr (op == UnaryOp::Abs) return v < T(0) ? T(-v) : v;
  else if constexpr (op == UnaryOp::Sign) return math::sign(v);
  else if constexpr (op == UnaryOp::Square) return T(v * v);
  else if constexpr (op == UnaryOp::Reciprocal) return T(1) / v;
  else if constexpr (op == UnaryOp::Exp) return std::exp(v);
  else if constexpr (op == UnaryOp::Log) return std::log(v);
  else if constexpr (op == UnaryOp::Sqrt) return std::sqrt(v);
  else if constexpr (op == UnaryOp::Rsqrt) return T(1) / std::sqrt(v);
  else if constexpr (op == UnaryOp::Sin) return std::sin(v);
  else if constexpr (op == UnaryOp::Cos) return std::cos(v);
  else if constexpr (op == UnaryOp::Tanh) return std::tanh(v);
  else if constexpr (op == UnaryOp::Sigmoid) return math::sigmoid(v);
  else if constexpr (op == UnaryOp::Erf) return std::erf(v);
  else if constexpr (op == UnaryOp::Relu) return v > T(0) ? v : T(0);
  else if constexpr (op == UnaryOp::Gelu) return math::gelu(v);
  else if constexpr (op == UnaryOp::GeluTanh) return math::gelu_tanh(v);
  else if constexpr (op == UnaryOp::Silu) return math::silu(v);
  else if constexpr (op == UnaryOp::RoundToBf16) return math::round_to_bf16(v);
  else if constexpr (op == UnaryOp::RoundToFp16) return math::round_to_fp16(v);
  else if constexpr (op == UnaryOp::LogicalNot) return !static_cast<bool>(v);
  else static_assert(op != op, "unary_formula: an op in TENSOR_UNARY_OPS has no formula");
}

// For the *Backward ops, x is the incoming gradient and y the forward input or output.
template <BinaryOp op, typename T>
TENSOR_HD TENSOR_ALWAYS_INLINE op_result_t<op, T> binary_formula(T x, T y) {
  static_assert(op_takes_type<T>(op), "binary_formula: op does not take this dtype");
  if constexpr (op == BinaryOp::Add) return T(x + y);
  else if constexpr (op == BinaryOp::Sub) return T(x - y);
  else if constexpr (op == BinaryOp::Mul) return T(x * y);
  else if constexpr (op == BinaryOp::Div) {
    if constexpr (std::is_integral_v<T>) return y == 0 ? T(0) : T(x / y);  // no trap on 0
    else return x / y;
  }
  else if constexpr (op == BinaryOp::Pow) return std::pow(x, y);
  else if constexpr (op == BinaryOp::Maximum) return math::maximum(x, y);
  else if constexpr (op == BinaryOp::Minimum) return math::minimum(x, y);
  else if constexpr (op == BinaryOp::Eq) return x == y;
  else if constexpr (op == BinaryOp::Ne) return x != y;
  else if constexpr (op == BinaryOp::Lt) return x < y;
  else if constexpr (op == BinaryOp::Le) return x <= y;
  else if constexpr (op == BinaryOp::Gt) return x > y;
  else if constexpr (op == BinaryOp::Ge) return x >= y;
  else if constexpr (op == BinaryOp::LogicalAnd) return static_cast<bool>(x) && static_cast<bool>(y);
  else if constexpr (op == BinaryOp::LogicalOr) return static_cast<bool>(x) || static_cast<bool>(y);
  else if constexpr (op == BinaryOp::ReluBackward) return y > T(0) ? x : T(0);
  else if constexpr (op == BinaryOp::GeluBackward) return x * math::gelu_derivative(y);
  else if constexpr (op == BinaryOp::GeluTanhBackward) return x * math::gelu_tanh_derivative(y);
  else if constexpr (op == BinaryOp::SiluBackward) return x * math::silu_derivative(y);
  else if constexpr (op == BinaryOp::SigmoidBackward) return x * y * (T(1) - y);
  else if constexpr (op == BinaryOp::TanhBackward) return x * (T(1) - y * y);
  else static_assert(op != op, "binary_formula: an op in TENSOR_BINARY_OPS has no formula");
}

}  // namespace tensor
