// ops.cpp — argument checks, shapes, dtypes and result allocation for every Array op; the
// arithmetic itself is done by the device's backend.
#include "tensor/ops.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "tensor/error.hpp"

namespace tensor {

namespace {

// The dtype the computation runs in and the dtype of the result, for `a op b`. Which dtypes an
// op takes and whether it gives bool come from its entry in tensor/elementwise_ops.hpp.
std::pair<DType, DType> binary_dtypes(BinaryOp op, DType a, DType b) {
  DType common = promote_types(a, b);
  if (op == BinaryOp::LogicalAnd || op == BinaryOp::LogicalOr) return {DType::Bool, DType::Bool};
  if (gives_bool(op)) return {common, DType::Bool};  // comparisons
  if (op == BinaryOp::Div || op == BinaryOp::Pow)
    return is_floating(common) ? std::pair{common, common}  // true division, like Python 3 and
                               : std::pair{DType::Float32, DType::Float32};  // PyTorch
  if (op_takes(op) == OpTakes::Floating && !is_floating(common))  // the activation backwards
    throw error(op_name(op), "expects float tensors, got " + dtype_name(a) + " and " +
                                 dtype_name(b));
  if (common == DType::Bool) common = DType::Int64;  // true + true = 2, as integers
  return {common, common};
}

std::vector<std::int64_t> normalize_dims(const std::vector<std::int64_t>& dims, std::int64_t ndim,
                                         const char* op) {
  std::vector<std::int64_t> result;
  if (dims.empty()) {
    for (std::int64_t d = 0; d < ndim; ++d) result.push_back(d);
    return result;
  }
  for (std::int64_t d : dims) {
    std::int64_t n = normalize_dim(d, ndim, op);
    if (std::find(result.begin(), result.end(), n) != result.end())
      throw error(op, "dim " + std::to_string(d) + " appears more than once");
    result.push_back(n);
  }
  std::sort(result.begin(), result.end());
  return result;
}

// Runs a reduction: allocates the keepdim-shaped result, calls the backend, drops the reduced
// dims unless keepdim.
Array reduce(ReduceOp op, const Array& x, const std::vector<std::int64_t>& dims, bool keepdim,
             DType out_dtype) {
  std::string name = op_name(op);
  std::vector<std::int64_t> reduced = normalize_dims(dims, x.dim(), name.c_str());
  Shape kept_shape = x.shape();
  for (std::int64_t d : reduced) kept_shape[d] = 1;
  bool needs_elements = op != ReduceOp::Sum && op != ReduceOp::Prod;
  for (std::int64_t d : reduced)
    if (needs_elements && x.shape()[d] == 0)
      throw error(name, "cannot reduce over dim " + std::to_string(d) + " of size 0 in " +
                            shape_str(x.shape()) + " (the result would be undefined)");
  Array out(kept_shape, out_dtype, x.device());
  if (out.numel() > 0) backend(x.device()).reduce(op, x, out);
  if (keepdim) return out;
  Shape shape;
  for (std::int64_t d = 0; d < x.dim(); ++d)
    if (std::find(reduced.begin(), reduced.end(), d) == reduced.end()) shape.push_back(x.shape()[d]);
  return out.view(shape);
}

}  // namespace

// ---- elementwise -------------------------------------------------------------------------------

Array unary(UnaryOp op, const Array& x) {
  const std::string name = op_name(op);
  check_defined(x, name);
  DType out_dtype = gives_bool(op) ? DType::Bool : x.dtype();
  switch (op_takes(op)) {  // its entry in tensor/elementwise_ops.hpp
    case OpTakes::Every: break;
    case OpTakes::Numeric:
      if (x.dtype() == DType::Bool)
        throw error(name, "not defined for bool tensors (convert with .to(DType::Int64))");
      break;
    case OpTakes::Floating:
      if (!is_floating(x.dtype()))
        throw error(name, "expects a float32 or float64 tensor, got " + dtype_name(x.dtype()) +
                              " (convert with .to(DType::Float32))");
      break;
  }
  Array out(x.shape(), out_dtype, x.device());
  if (out.numel() > 0) backend(x.device()).unary(op, x, out);
  return out;
}

Array binary(BinaryOp op, const Array& a, const Array& b) {
  const std::string name = op_name(op);
  check_defined(a, name);
  check_defined(b, name);
  check_same_device(a, b, name);
  auto [compute_dtype, out_dtype] = binary_dtypes(op, a.dtype(), b.dtype());
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name.c_str());
  Array out(shape, out_dtype, a.device());
  if (out.numel() > 0)
    backend(a.device())
        .binary(op, a.to(compute_dtype).expand(shape), b.to(compute_dtype).expand(shape), out);
  return out;
}

Array neg(const Array& x) { return unary(UnaryOp::Neg, x); }
Array abs(const Array& x) { return unary(UnaryOp::Abs, x); }
Array sign(const Array& x) { return unary(UnaryOp::Sign, x); }
Array square(const Array& x) { return unary(UnaryOp::Square, x); }
Array reciprocal(const Array& x) { return unary(UnaryOp::Reciprocal, x); }
Array exp(const Array& x) { return unary(UnaryOp::Exp, x); }
Array log(const Array& x) { return unary(UnaryOp::Log, x); }
Array sqrt(const Array& x) { return unary(UnaryOp::Sqrt, x); }
Array rsqrt(const Array& x) { return unary(UnaryOp::Rsqrt, x); }
Array sin(const Array& x) { return unary(UnaryOp::Sin, x); }
Array cos(const Array& x) { return unary(UnaryOp::Cos, x); }
Array tanh(const Array& x) { return unary(UnaryOp::Tanh, x); }
Array sigmoid(const Array& x) { return unary(UnaryOp::Sigmoid, x); }
Array erf(const Array& x) { return unary(UnaryOp::Erf, x); }
Array relu(const Array& x) { return unary(UnaryOp::Relu, x); }
Array gelu(const Array& x) { return unary(UnaryOp::Gelu, x); }
Array gelu_tanh(const Array& x) { return unary(UnaryOp::GeluTanh, x); }
Array silu(const Array& x) { return unary(UnaryOp::Silu, x); }
Array round_to_bf16(const Array& x) { return unary(UnaryOp::RoundToBf16, x); }
Array round_to_fp16(const Array& x) { return unary(UnaryOp::RoundToFp16, x); }
Array logical_not(const Array& x) { return unary(UnaryOp::LogicalNot, x); }

Array add(const Array& a, const Array& b) { return binary(BinaryOp::Add, a, b); }
Array sub(const Array& a, const Array& b) { return binary(BinaryOp::Sub, a, b); }
Array mul(const Array& a, const Array& b) { return binary(BinaryOp::Mul, a, b); }
Array div(const Array& a, const Array& b) { return binary(BinaryOp::Div, a, b); }
Array pow(const Array& a, const Array& b) { return binary(BinaryOp::Pow, a, b); }
Array maximum(const Array& a, const Array& b) { return binary(BinaryOp::Maximum, a, b); }
Array minimum(const Array& a, const Array& b) { return binary(BinaryOp::Minimum, a, b); }
Array eq(const Array& a, const Array& b) { return binary(BinaryOp::Eq, a, b); }
Array ne(const Array& a, const Array& b) { return binary(BinaryOp::Ne, a, b); }
Array lt(const Array& a, const Array& b) { return binary(BinaryOp::Lt, a, b); }
Array le(const Array& a, const Array& b) { return binary(BinaryOp::Le, a, b); }
Array gt(const Array& a, const Array& b) { return binary(BinaryOp::Gt, a, b); }
Array ge(const Array& a, const Array& b) { return binary(BinaryOp::Ge, a, b); }
Array logical_and(const Array& a, const Array& b) { return binary(BinaryOp::LogicalAnd, a, b); }
Array logical_or(const Array& a, const Array& b) { return binary(BinaryOp::LogicalOr, a, b); }

Array where(const Array& cond, const Array& a, const Array& b) {
  check_defined(cond, "where");
  check_defined(a, "where");
  check_defined(b, "where");
  if (cond.dtype() != DType::Bool)
    throw error("where", "the condition must be a bool tensor, got " + dtype_name(cond.dtype()));
  check_same_device(cond, a, "where");
  check_same_device(a, b, "where");
  DType dtype = promote_types(a.dtype(), b.dtype());
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(),
                                 "where");
  Array out(shape, dtype, a.device());
  if (out.numel() > 0)
    backend(a.device())
        .where(cond.expand(shape), a.to(dtype).expand(shape), b.to(dtype).expand(shape), out);
  return out;
}

Array scalar_like(const Array& like, double value) {
  DType dtype = like.dtype();
  if (!is_floating(dtype)) dtype = value == std::floor(value) ? DType::Int64 : DType::Float32;
  Array out({}, dtype, like.device());
  out.fill_(value);
  return out;
}

// ---- reductions --------------------------------------------------------------------------------

Array sum(const Array& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  check_defined(x, "sum");
  DType dtype = is_floating(x.dtype()) ? x.dtype() : DType::Int64;
  return reduce(ReduceOp::Sum, x, dims, keepdim, dtype);
}

Array prod(const Array& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  check_defined(x, "prod");
  DType dtype = is_floating(x.dtype()) ? x.dtype() : DType::Int64;
  return reduce(ReduceOp::Prod, x, dims, keepdim, dtype);
}

Array mean(const Array& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  check_defined(x, "mean");
  if (!is_floating(x.dtype()))
    throw error("mean", "expects a float tensor, got " + dtype_name(x.dtype()) +
                            " (convert with .to(DType::Float32))");
  std::int64_t count = 1;
  for (std::int64_t d : normalize_dims(dims, x.dim(), "mean")) count *= x.shape()[d];
  Array total = sum(x, dims, keepdim);
  return div(total, scalar_like(total, static_cast<double>(count)));
}

Array amax(const Array& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  check_defined(x, "max");
  return reduce(ReduceOp::Max, x, dims, keepdim, x.dtype());
}

Array amin(const Array& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  check_defined(x, "min");
  return reduce(ReduceOp::Min, x, dims, keepdim, x.dtype());
}

Array var(const Array& x, const std::vector<std::int64_t>& dims, std::int64_t correction,
          bool keepdim) {
  check_defined(x, "var");
  if (!is_floating(x.dtype())) throw error("var", "expects a float tensor");
  std::int64_t count = 1;
  for (std::int64_t d : normalize_dims(dims, x.dim(), "var")) count *= x.shape()[d];
  Array centered = sub(x, mean(x, dims, /*keepdim=*/true));
  Array total = sum(square(centered), dims, keepdim);
  // With count <= correction the estimate is undefined: 0/0 or x/negative, PyTorch gives nan/inf.
  return div(total, scalar_like(total, static_cast<double>(count - correction)));
}

Array argmax(const Array& x, std::int64_t dim, bool keepdim) {
  check_defined(x, "argmax");
  return reduce(ReduceOp::ArgMax, x, {dim}, keepdim, DType::Int64);
}

Array argmin(const Array& x, std::int64_t dim, bool keepdim) {
  check_defined(x, "argmin");
  return reduce(ReduceOp::ArgMin, x, {dim}, keepdim, DType::Int64);
}

Array argmax(const Array& x) { return argmax(x.reshape({-1}), 0); }

Array sum_to(const Array& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  if (shape.size() > x.shape().size())
    throw error("sum_to", "cannot reduce " + shape_str(x.shape()) + " to " + shape_str(shape));
  std::int64_t lead = x.dim() - static_cast<std::int64_t>(shape.size());
  std::vector<std::int64_t> dims;
  for (std::int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
    } else if (shape[d - lead] == 1 && x.shape()[d] != 1) {
      dims.push_back(d);
    } else if (shape[d - lead] != x.shape()[d]) {
      throw error("sum_to", "cannot reduce " + shape_str(x.shape()) + " to " + shape_str(shape));
    }
  }
  if (dims.empty()) return x.view(shape);
  return sum(x, dims, /*keepdim=*/true).view(shape);
}

// ---- linear algebra ----------------------------------------------------------------------------

Array matmul(const Array& a_in, const Array& b_in) {
  check_defined(a_in, "matmul");
  check_defined(b_in, "matmul");
  check_same_device(a_in, b_in, "matmul");
  if (a_in.dim() == 0 || b_in.dim() == 0)
    throw error("matmul", "both arguments need at least 1 dim, got shapes " +
                              shape_str(a_in.shape()) + " and " + shape_str(b_in.shape()));
  if (a_in.dtype() == DType::Bool || b_in.dtype() == DType::Bool)
    throw error("matmul", "not defined for bool tensors");
  DType dtype = promote_types(a_in.dtype(), b_in.dtype());
  // A 1-d left argument is a row vector, a 1-d right argument a column vector; the extra dim is
  // removed from the result again.
  Array a = a_in.dim() == 1 ? a_in.unsqueeze(0) : a_in;
  Array b = b_in.dim() == 1 ? b_in.unsqueeze(1) : b_in;
  if (a.size(-1) != b.size(-2))
    throw error("matmul", "cannot multiply " + shape_str(a_in.shape()) + " by " +
                              shape_str(b_in.shape()) + " (inner sizes " +
                              std::to_string(a.size(-1)) + " != " + std::to_string(b.size(-2)) +
                              ")");
  Shape batch_a(a.shape().begin(), a.shape().end() - 2);
  Shape batch_b(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");
  Shape a_shape = batch, b_shape = batch, out_shape = batch;
  a_shape.insert(a_shape.end(), {a.size(-2), a.size(-1)});
  b_shape.insert(b_shape.end(), {b.size(-2), b.size(-1)});
  out_shape.insert(out_shape.end(), {a.size(-2), b.size(-1)});
  Array out(out_shape, dtype, a.device());
  if (out.numel() > 0) {
    if (a.size(-1) == 0) {
      out.fill_(0);
    } else {
      backend(a.device()).matmul(a.to(dtype).expand(a_shape), b.to(dtype).expand(b_shape), out);
    }
  }
  if (a_in.dim() == 1) out = out.squeeze(-2);
  if (b_in.dim() == 1) out = out.squeeze(-1);
  return out;
}

// ---- softmax -----------------------------------------------------------------------------------

namespace {
Array softmax_impl(const Array& x, std::int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  check_defined(x, name);
  if (!is_floating(x.dtype()))
    throw error(name, "expects a float tensor, got " + dtype_name(x.dtype()));
  if (x.dim() == 0) return softmax_impl(x.view({1}), dim, log).view({});
  std::int64_t d = normalize_dim(dim, x.dim(), name);
  Array out(x.shape(), x.dtype(), x.device());
  if (out.numel() > 0) backend(x.device()).softmax(x, d, log, out);
  return out;
}

Array softmax_backward_impl(const Array& grad_out, const Array& out, std::int64_t dim, bool log) {
  const char* name = log ? "log_softmax_backward" : "softmax_backward";
  if (grad_out.shape() != out.shape())
    throw error(name, "gradient shape " + shape_str(grad_out.shape()) +
                          " does not match output shape " + shape_str(out.shape()));
  if (out.dim() == 0)
    return softmax_backward_impl(grad_out.view({1}), out.view({1}), dim, log).view({});
  std::int64_t d = normalize_dim(dim, out.dim(), name);
  Array grad_in(out.shape(), out.dtype(), out.device());
  if (grad_in.numel() > 0)
    backend(out.device()).softmax_backward(grad_out.to(out.dtype()), out, d, log, grad_in);
  return grad_in;
}
}  // namespace

Array softmax(const Array& x, std::int64_t dim) { return softmax_impl(x, dim, false); }
Array log_softmax(const Array& x, std::int64_t dim) { return softmax_impl(x, dim, true); }
Array softmax_backward(const Array& grad_out, const Array& out, std::int64_t dim) {
  return softmax_backward_impl(grad_out, out, dim, false);
}
Array log_softmax_backward(const Array& grad_out, const Array& out, std::int64_t dim) {
  return softmax_backward_impl(grad_out, out, dim, true);
}

// ---- cat ---------------------------------------------------------------------------------------

Array cat(const std::vector<Array>& arrays, std::int64_t dim) {
  if (arrays.empty()) throw error("cat", "needs at least one tensor");
  const Array& first = arrays[0];
  check_defined(first, "cat");
  std::int64_t d = normalize_dim(dim, first.dim(), "cat");
  DType dtype = first.dtype();
  Shape shape = first.shape();
  shape[d] = 0;
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    const Array& a = arrays[i];
    check_defined(a, "cat");
    check_same_device(first, a, "cat");
    dtype = promote_types(dtype, a.dtype());
    bool compatible = a.dim() == first.dim();
    for (std::int64_t k = 0; compatible && k < a.dim(); ++k)
      compatible = k == d || a.shape()[k] == first.shape()[k];
    if (!compatible)
      throw error("cat", "tensor " + std::to_string(i) + " has shape " + shape_str(a.shape()) +
                             ", which does not match " + shape_str(first.shape()) +
                             " outside dim " + std::to_string(d));
    shape[d] += a.shape()[d];
  }
  Array out(shape, dtype, first.device());
  std::int64_t offset = 0;
  for (const Array& a : arrays) {
    if (a.shape()[d] > 0) backend(out.device()).copy(a, out.narrow(d, offset, a.shape()[d]));
    offset += a.shape()[d];
  }
  return out;
}

// ---- operators ---------------------------------------------------------------------------------

Array operator-(const Array& x) { return neg(x); }
Array operator+(const Array& a, const Array& b) { return add(a, b); }
Array operator-(const Array& a, const Array& b) { return sub(a, b); }
Array operator*(const Array& a, const Array& b) { return mul(a, b); }
Array operator/(const Array& a, const Array& b) { return div(a, b); }
Array operator+(const Array& a, double b) { return add(a, scalar_like(a, b)); }
Array operator-(const Array& a, double b) { return sub(a, scalar_like(a, b)); }
Array operator*(const Array& a, double b) { return mul(a, scalar_like(a, b)); }
Array operator/(const Array& a, double b) { return div(a, scalar_like(a, b)); }
Array operator+(double a, const Array& b) { return add(scalar_like(b, a), b); }
Array operator-(double a, const Array& b) { return sub(scalar_like(b, a), b); }
Array operator*(double a, const Array& b) { return mul(scalar_like(b, a), b); }
Array operator/(double a, const Array& b) { return div(scalar_like(b, a), b); }

// ---- comparisons for tests ---------------------------------------------------------------------

bool allclose(const Array& a, const Array& b, double rtol, double atol) {
  if (a.shape() != b.shape()) return false;
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] == y[i]) continue;  // also equal infinities
    if (!(std::fabs(x[i] - y[i]) <= atol + rtol * std::fabs(y[i]))) return false;
  }
  return true;
}

double max_abs_diff(const Array& a, const Array& b) {
  if (a.shape() != b.shape())
    throw error("max_abs_diff", "shapes " + shape_str(a.shape()) + " and " +
                                    shape_str(b.shape()) + " differ");
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] == y[i]) continue;  // equal values, including the same infinity, differ by 0
    double d = std::fabs(x[i] - y[i]);
    // A NaN on either side, or infinities of opposite sign: no tolerance can accept it.
    if (std::isnan(d) || std::isinf(d)) return INFINITY;
    worst = std::max(worst, d);
  }
  return worst;
}

}  // namespace tensor
