// ops.hpp — the differentiable ops on Tensors.
//
// Each op computes its result with tensor:: kernels and, when grad mode is on and an input
// requires grad, records a graph node whose backward function sits right beside the forward
// code in the op's .cpp file (ops_elementwise.cpp, ops_reduce.cpp, ops_view.cpp, ...).
// Broadcasting is handled once, by the engine: a gradient is summed back to its input's shape.
//
// The `site` argument is filled in by the compiler with the caller's file and line; leave it out.
#pragma once

#include <cstdint>
#include <vector>

#include "autograd/tensor.hpp"

namespace autograd {

// ---- elementwise, one input ------------------------------------------------------------------
Tensor neg(const Tensor& x, Site site = Site::current());
Tensor abs(const Tensor& x, Site site = Site::current());
Tensor square(const Tensor& x, Site site = Site::current());
Tensor exp(const Tensor& x, Site site = Site::current());
Tensor log(const Tensor& x, Site site = Site::current());
Tensor sqrt(const Tensor& x, Site site = Site::current());
Tensor rsqrt(const Tensor& x, Site site = Site::current());
Tensor reciprocal(const Tensor& x, Site site = Site::current());
Tensor sin(const Tensor& x, Site site = Site::current());
Tensor cos(const Tensor& x, Site site = Site::current());
Tensor tanh(const Tensor& x, Site site = Site::current());
Tensor sigmoid(const Tensor& x, Site site = Site::current());
Tensor relu(const Tensor& x, Site site = Site::current());
// GELU: x * Phi(x) with the exact erf form, or the tanh approximation (GPT-2) when asked.
Tensor gelu(const Tensor& x, bool tanh_approximation = false, Site site = Site::current());
Tensor silu(const Tensor& x, Site site = Site::current());
Tensor pow(const Tensor& x, double exponent, Site site = Site::current());
Tensor sign(const Tensor& x, Site site = Site::current());  // gradient zero (piecewise constant)

// ---- elementwise, two inputs (NumPy broadcasting) --------------------------------------------
Tensor add(const Tensor& a, const Tensor& b, Site site = Site::current());
Tensor sub(const Tensor& a, const Tensor& b, Site site = Site::current());
Tensor mul(const Tensor& a, const Tensor& b, Site site = Site::current());
Tensor div(const Tensor& a, const Tensor& b, Site site = Site::current());
Tensor pow(const Tensor& a, const Tensor& b, Site site = Site::current());
// Gradient goes to the larger (smaller) input; on ties it is split evenly, as in PyTorch.
Tensor maximum(const Tensor& a, const Tensor& b, Site site = Site::current());
Tensor minimum(const Tensor& a, const Tensor& b, Site site = Site::current());
// A number as a 0-d tensor with the dtype that `like op value` should have.
Tensor scalar_like(const Tensor& like, double value);

// ---- comparisons: bool results, not differentiable -------------------------------------------
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& x);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);

// ---- reductions (empty dims = all; negative dims count from the end) --------------------------
Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false,
           Site site = Site::current());
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false,
            Site site = Site::current());
// Largest/smallest values over dims; the gradient is shared evenly among tied maxima.
Tensor amax(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false,
            Site site = Site::current());
Tensor amin(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false,
            Site site = Site::current());
Tensor var(const Tensor& x, const std::vector<std::int64_t>& dims = {},
           std::int64_t correction = 1, bool keepdim = false, Site site = Site::current());
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);  // int64, no gradient
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim = false);

// ---- linear algebra and softmax ----------------------------------------------------------------
Tensor matmul(const Tensor& a, const Tensor& b, Site site = Site::current());
Tensor softmax(const Tensor& x, std::int64_t dim, Site site = Site::current());
Tensor log_softmax(const Tensor& x, std::int64_t dim, Site site = Site::current());

// ---- views and copies (gradients flow back through them) ---------------------------------------
Tensor view(const Tensor& x, const Shape& shape, Site site = Site::current());
Tensor reshape(const Tensor& x, const Shape& shape, Site site = Site::current());
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& dims,
               Site site = Site::current());
Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1,
                 Site site = Site::current());
Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end,
             std::int64_t step = 1, Site site = Site::current());
Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index, Site site = Site::current());
Tensor expand(const Tensor& x, const Shape& shape, Site site = Site::current());
Tensor squeeze(const Tensor& x, std::int64_t dim, Site site = Site::current());
Tensor squeeze(const Tensor& x, Site site = Site::current());
Tensor unsqueeze(const Tensor& x, std::int64_t dim, Site site = Site::current());
Tensor contiguous(const Tensor& x, Site site = Site::current());
Tensor clone(const Tensor& x, Site site = Site::current());
Tensor to(const Tensor& x, DType dtype, Site site = Site::current());
Tensor to(const Tensor& x, Device device, Site site = Site::current());

// ---- operators ---------------------------------------------------------------------------------
// C++ operators take no default arguments, so the caller's site is captured by this wrapper's
// converting constructor instead: `a * b` records the line where the user wrote it.
struct Operand {
  const Tensor& tensor;
  Site site;
  Operand(const Tensor& t, Site s = Site::current()) : tensor(t), site(s) {}
};

Tensor operator-(Operand x);
Tensor operator+(Operand a, const Tensor& b);
Tensor operator-(Operand a, const Tensor& b);
Tensor operator*(Operand a, const Tensor& b);
Tensor operator/(Operand a, const Tensor& b);
Tensor operator+(Operand a, double b);
Tensor operator-(Operand a, double b);
Tensor operator*(Operand a, double b);
Tensor operator/(Operand a, double b);
Tensor operator+(double a, Operand b);
Tensor operator-(double a, Operand b);
Tensor operator*(double a, Operand b);
Tensor operator/(double a, Operand b);

}  // namespace autograd
