// ops.hpp — computations on Arrays (no gradients; autograd/ builds on these).
//
// Every function checks its arguments, works out the result's shape and dtype (broadcasting and
// type promotion as in NumPy/PyTorch), allocates the result on the inputs' device, and hands the
// work to that device's backend (backend.hpp). Errors name the op and the shapes involved.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/array.hpp"
#include "tensor/backend.hpp"

namespace tensor {

// ---- elementwise ------------------------------------------------------------------------------
Array unary(UnaryOp op, const Array& x);
Array binary(BinaryOp op, const Array& a, const Array& b);  // broadcasts; promotes dtypes

Array neg(const Array& x);
Array abs(const Array& x);
Array sign(const Array& x);
Array square(const Array& x);
Array reciprocal(const Array& x);
Array exp(const Array& x);
Array log(const Array& x);
Array sqrt(const Array& x);
Array rsqrt(const Array& x);
Array sin(const Array& x);
Array cos(const Array& x);
Array tanh(const Array& x);
Array sigmoid(const Array& x);
Array erf(const Array& x);
Array relu(const Array& x);
Array gelu(const Array& x);       // x * Phi(x), the exact (erf) form
Array gelu_tanh(const Array& x);  // the tanh approximation used by GPT-2
Array silu(const Array& x);       // x * sigmoid(x)
// The nearest bfloat16 / IEEE half value (ties to even), kept in x's dtype (float32 or float64):
// bf16 has float32's range; fp16 overflows to +-inf above 65504 and has subnormals down to
// 2^-24. NaN and inf pass through. The formula is math::round_to_format (scalar_math.hpp).
Array round_to_bf16(const Array& x);
Array round_to_fp16(const Array& x);
Array logical_not(const Array& x);

Array add(const Array& a, const Array& b);
Array sub(const Array& a, const Array& b);
Array mul(const Array& a, const Array& b);
Array div(const Array& a, const Array& b);
Array pow(const Array& a, const Array& b);
Array maximum(const Array& a, const Array& b);
Array minimum(const Array& a, const Array& b);
Array eq(const Array& a, const Array& b);
Array ne(const Array& a, const Array& b);
Array lt(const Array& a, const Array& b);
Array le(const Array& a, const Array& b);
Array gt(const Array& a, const Array& b);
Array ge(const Array& a, const Array& b);
Array logical_and(const Array& a, const Array& b);
Array logical_or(const Array& a, const Array& b);
Array where(const Array& cond, const Array& a, const Array& b);  // cond must be bool

// A 0-d array holding `value`, with the dtype an op between `like` and a number should have:
// like's dtype, except that a non-integer value next to an int64/bool array gives float32.
Array scalar_like(const Array& like, double value);

// ---- reductions (dims may be negative; empty dims = all dims) ----------------------------------
Array sum(const Array& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Array mean(const Array& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Array prod(const Array& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Array amax(const Array& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Array amin(const Array& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
// Variance with Bessel's correction by default (correction=1, like torch.var).
Array var(const Array& x, const std::vector<std::int64_t>& dims = {}, std::int64_t correction = 1,
          bool keepdim = false);
Array argmax(const Array& x, std::int64_t dim, bool keepdim = false);  // int64 indices
Array argmin(const Array& x, std::int64_t dim, bool keepdim = false);
Array argmax(const Array& x);  // index into the flattened array, as a 0-d int64 array
// Sums a broadcast result back down to `shape` (the gradient of broadcasting).
Array sum_to(const Array& x, const Shape& shape);

// ---- linear algebra ---------------------------------------------------------------------------
// 1-d.1-d -> 0-d; 2-d.2-d -> matrix; 1-d is treated as a row (left) or column (right) vector;
// >2-d is a batch of matrices with broadcast batch dims, as numpy.matmul / torch.matmul.
Array matmul(const Array& a, const Array& b);

// ---- softmax along one dim (numerically stable: the row max is subtracted first) --------------
// A row that is entirely -inf (every position masked out) gives all zeros (log_softmax: all
// -inf) instead of NaN, so a fully masked attention row outputs zeros; PyTorch gives NaN.
Array softmax(const Array& x, std::int64_t dim);
Array log_softmax(const Array& x, std::int64_t dim);
Array softmax_backward(const Array& grad_out, const Array& out, std::int64_t dim);
Array log_softmax_backward(const Array& grad_out, const Array& out, std::int64_t dim);

// ---- copying between shapes -------------------------------------------------------------------
Array cat(const std::vector<Array>& arrays, std::int64_t dim);

// ---- operators (Array op Array broadcasts; Array op number uses scalar_like) --------------------
Array operator-(const Array& x);
Array operator+(const Array& a, const Array& b);
Array operator-(const Array& a, const Array& b);
Array operator*(const Array& a, const Array& b);
Array operator/(const Array& a, const Array& b);
Array operator+(const Array& a, double b);
Array operator-(const Array& a, double b);
Array operator*(const Array& a, double b);
Array operator/(const Array& a, double b);
Array operator+(double a, const Array& b);
Array operator-(double a, const Array& b);
Array operator*(double a, const Array& b);
Array operator/(double a, const Array& b);

// True when a and b have the same shape and every pair of elements satisfies
// |a - b| <= atol + rtol * |b| (NaNs never match). For tests and self-checking tutorials.
bool allclose(const Array& a, const Array& b, double rtol = 1e-5, double atol = 1e-8);
// The largest |a - b| over all elements (shapes must match). The one rule for the values that
// have no difference: equal values, including the same infinity in both, differ by 0; a NaN on
// either side (even in both) or infinities of opposite sign make the result +inf, so that no
// tolerance ever accepts them. Never returns NaN.
double max_abs_diff(const Array& a, const Array& b);

}  // namespace tensor
