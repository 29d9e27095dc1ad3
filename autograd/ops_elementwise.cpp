// ops_elementwise.cpp — differentiable elementwise ops: each forward with its backward below it.
//
// Notation in the comments: x is the input, y the output, g = dL/dy the incoming gradient,
// and the backward returns dL/dx = g * dy/dx. Broadcast inputs need no special care here: the
// engine sums each gradient back to its input's shape.
#include <cmath>

#include "autograd/ops.hpp"
#include "autograd/record.hpp"
#include "tensor/factory.hpp"
#include "tensor/ops.hpp"

namespace autograd {

using tensor::BinaryOp;

// ---- one input ---------------------------------------------------------------------------------

Tensor neg(const Tensor& x, Site site) {
  Array y = tensor::neg(x.data());
  return record("neg", site, y, {x}, [](const Array& g) -> Grads {
    return {tensor::neg(g)};  // y = -x  =>  dx = -g
  });
}

Tensor abs(const Tensor& x, Site site) {
  Array y = tensor::abs(x.data());
  SavedArray saved_x(x.data(), "abs");
  return record("abs", site, y, {x}, [saved_x](const Array& g) -> Grads {
    return {g * tensor::sign(saved_x.get())};  // y = |x|  =>  dx = g * sign(x)  (0 at x = 0)
  });
}

Tensor square(const Tensor& x, Site site) {
  Array y = tensor::square(x.data());
  SavedArray saved_x(x.data(), "square");
  return record("square", site, y, {x}, [saved_x](const Array& g) -> Grads {
    return {g * saved_x.get() * 2.0};  // y = x^2  =>  dx = 2 x g
  });
}

Tensor exp(const Tensor& x, Site site) {
  Array y = tensor::exp(x.data());
  SavedArray saved_y(y, "exp");
  return record("exp", site, y, {x}, [saved_y](const Array& g) -> Grads {
    return {g * saved_y.get()};  // y = e^x  =>  dx = g * e^x = g * y
  });
}

Tensor log(const Tensor& x, Site site) {
  Array y = tensor::log(x.data());
  SavedArray saved_x(x.data(), "log");
  return record("log", site, y, {x}, [saved_x](const Array& g) -> Grads {
    return {g / saved_x.get()};  // y = ln x  =>  dx = g / x
  });
}

Tensor sqrt(const Tensor& x, Site site) {
  Array y = tensor::sqrt(x.data());
  SavedArray saved_y(y, "sqrt");
  return record("sqrt", site, y, {x}, [saved_y](const Array& g) -> Grads {
    return {g / (saved_y.get() * 2.0)};  // y = x^(1/2)  =>  dx = g / (2 y)
  });
}

Tensor rsqrt(const Tensor& x, Site site) {
  Array y = tensor::rsqrt(x.data());
  SavedArray saved_y(y, "rsqrt");
  return record("rsqrt", site, y, {x}, [saved_y](const Array& g) -> Grads {
    const Array& y = saved_y.get();  // y = x^(-1/2)  =>  dx = -1/2 x^(-3/2) g = -1/2 y^3 g
    return {g * y * y * y * -0.5};
  });
}

Tensor reciprocal(const Tensor& x, Site site) {
  Array y = tensor::reciprocal(x.data());
  SavedArray saved_y(y, "reciprocal");
  return record("reciprocal", site, y, {x}, [saved_y](const Array& g) -> Grads {
    const Array& y = saved_y.get();  // y = 1/x  =>  dx = -g / x^2 = -g y^2
    return {-(g * y * y)};
  });
}

Tensor sin(const Tensor& x, Site site) {
  Array y = tensor::sin(x.data());
  SavedArray saved_x(x.data(), "sin");
  return record("sin", site, y, {x}, [saved_x](const Array& g) -> Grads {
    return {g * tensor::cos(saved_x.get())};
  });
}

Tensor cos(const Tensor& x, Site site) {
  Array y = tensor::cos(x.data());
  SavedArray saved_x(x.data(), "cos");
  return record("cos", site, y, {x}, [saved_x](const Array& g) -> Grads {
    return {-(g * tensor::sin(saved_x.get()))};
  });
}

Tensor tanh(const Tensor& x, Site site) {
  Array y = tensor::tanh(x.data());
  SavedArray saved_y(y, "tanh");
  return record("tanh", site, y, {x}, [saved_y](const Array& g) -> Grads {
    // dx = g * (1 - y^2), fused into one pass
    return {tensor::binary(BinaryOp::TanhBackward, g, saved_y.get())};
  });
}

Tensor sigmoid(const Tensor& x, Site site) {
  Array y = tensor::sigmoid(x.data());
  SavedArray saved_y(y, "sigmoid");
  return record("sigmoid", site, y, {x}, [saved_y](const Array& g) -> Grads {
    // dx = g * y * (1 - y)
    return {tensor::binary(BinaryOp::SigmoidBackward, g, saved_y.get())};
  });
}

Tensor relu(const Tensor& x, Site site) {
  Array y = tensor::relu(x.data());
  SavedArray saved_x(x.data(), "relu");
  return record("relu", site, y, {x}, [saved_x](const Array& g) -> Grads {
    // dx = g where x > 0, else 0 (the subgradient at 0 is taken as 0, like PyTorch)
    return {tensor::binary(BinaryOp::ReluBackward, g, saved_x.get())};
  });
}

Tensor gelu(const Tensor& x, bool tanh_approximation, Site site) {
  Array y = tanh_approximation ? tensor::gelu_tanh(x.data()) : tensor::gelu(x.data());
  SavedArray saved_x(x.data(), "gelu");
  return record("gelu", site, y, {x}, [saved_x, tanh_approximation](const Array& g) -> Grads {
    // exact: dx = g * (Phi(x) + x phi(x)); the tanh form differentiates its own formula
    BinaryOp op = tanh_approximation ? BinaryOp::GeluTanhBackward : BinaryOp::GeluBackward;
    return {tensor::binary(op, g, saved_x.get())};
  });
}

Tensor silu(const Tensor& x, Site site) {
  Array y = tensor::silu(x.data());
  SavedArray saved_x(x.data(), "silu");
  return record("silu", site, y, {x}, [saved_x](const Array& g) -> Grads {
    // y = x s(x)  =>  dx = g * s(x) (1 + x (1 - s(x)))
    return {tensor::binary(BinaryOp::SiluBackward, g, saved_x.get())};
  });
}

Tensor round_to_bf16(const Tensor& x, Site site) {
  Array y = tensor::round_to_bf16(x.data());
  return record("round_to_bf16", site, y, {x}, [](const Array& g) -> Grads {
    // the gradient of a bf16 activation is itself a bf16 tensor: dx = round_to_bf16(g)
    return {tensor::round_to_bf16(g)};
  });
}

Tensor round_to_fp16(const Tensor& x, Site site) {
  Array y = tensor::round_to_fp16(x.data());
  return record("round_to_fp16", site, y, {x}, [](const Array& g) -> Grads {
    // dx = round_to_fp16(g): below 2^-25 a gradient becomes 0 (the reason for loss scaling)
    return {tensor::round_to_fp16(g)};
  });
}

Tensor pow(const Tensor& x, double exponent, Site site) {
  Array y = tensor::pow(x.data(), tensor::scalar_like(x.data(), exponent));
  SavedArray saved_x(x.data(), "pow");
  return record("pow", site, y, {x}, [saved_x, exponent](const Array& g) -> Grads {
    // y = x^p  =>  dx = g * p * x^(p-1)
    const Array& x = saved_x.get();
    if (exponent == 0.0) return {tensor::zeros_like(g)};
    if (exponent == 1.0) return {g};
    if (exponent == 2.0) return {g * x * 2.0};
    return {g * tensor::pow(x, tensor::scalar_like(x, exponent - 1.0)) * exponent};
  });
}

Tensor sign(const Tensor& x, Site site) {
  Array y = tensor::sign(x.data());
  return record("sign", site, y, {x}, [](const Array& g) -> Grads {
    return {tensor::zeros_like(g)};  // piecewise constant: zero gradient almost everywhere
  });
}

// ---- two inputs --------------------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b, Site site) {
  Array y = tensor::add(a.data(), b.data());
  return record("add", site, y, {a, b}, [](const Array& g) -> Grads {
    return {g, g};  // y = a + b  =>  da = g, db = g
  });
}

Tensor sub(const Tensor& a, const Tensor& b, Site site) {
  Array y = tensor::sub(a.data(), b.data());
  return record("sub", site, y, {a, b}, [](const Array& g) -> Grads {
    return {g, tensor::neg(g)};  // y = a - b  =>  da = g, db = -g
  });
}

Tensor mul(const Tensor& a, const Tensor& b, Site site) {
  Array y = tensor::mul(a.data(), b.data());
  // Save each factor only if the other side needs a gradient.
  SavedArray saved_a(b.requires_grad() ? a.data() : Array(), "mul");
  SavedArray saved_b(a.requires_grad() ? b.data() : Array(), "mul");
  return record("mul", site, y, {a, b}, [saved_a, saved_b](const Array& g) -> Grads {
    // y = a * b  =>  da = g * b, db = g * a
    const Array& a = saved_a.get();
    const Array& b = saved_b.get();
    return {b.defined() ? g * b : Array(), a.defined() ? g * a : Array()};
  });
}

Tensor div(const Tensor& a, const Tensor& b, Site site) {
  Array y = tensor::div(a.data(), b.data());
  SavedArray saved_a(a.data(), "div"), saved_b(b.data(), "div");
  bool need_b = b.requires_grad();
  return record("div", site, y, {a, b}, [saved_a, saved_b, need_b](const Array& g) -> Grads {
    // y = a / b  =>  da = g / b, db = -g a / b^2
    const Array& a = saved_a.get();
    const Array& b = saved_b.get();
    Array da = g / b;
    return {da, need_b ? -(da * a / b) : Array()};
  });
}

Tensor pow(const Tensor& a, const Tensor& b, Site site) {
  Array y = tensor::pow(a.data(), b.data());
  SavedArray saved_a(a.data(), "pow"), saved_b(b.data(), "pow"), saved_y(y, "pow");
  bool need_b = b.requires_grad();
  return record("pow", site, y, {a, b}, [saved_a, saved_b, saved_y, need_b](const Array& g) -> Grads {
    const Array& a = saved_a.get();
    const Array& b = saved_b.get();
    // y = a^b  =>  da = g b a^(b-1),  db = g y ln(a)
    Array da = g * b * tensor::pow(a, b - 1.0);
    if (!need_b) return {da, Array()};
    // At a = 0 the term y ln a is 0 * -inf; its limit is 0 for b > 0, which PyTorch also uses.
    Array a_is_zero = tensor::eq(a, tensor::scalar_like(a, 0.0));
    Array db = tensor::where(a_is_zero, tensor::scalar_like(g, 0.0),
                               g * saved_y.get() * tensor::log(a));
    return {da, db};
  });
}

namespace {
// Shared by maximum and minimum: the gradient goes to the winning input; a tie splits it.
Tensor extremum(const Tensor& a, const Tensor& b, bool take_max, const char* op, Site site) {
  Array y = take_max ? tensor::maximum(a.data(), b.data()) : tensor::minimum(a.data(), b.data());
  SavedArray saved_a(a.data(), op), saved_b(b.data(), op);
  return record(op, site, y, {a, b}, [saved_a, saved_b, take_max](const Array& g) -> Grads {
    const Array& a = saved_a.get();
    const Array& b = saved_b.get();
    Array a_wins = take_max ? tensor::gt(a, b) : tensor::lt(a, b);
    Array b_wins = take_max ? tensor::lt(a, b) : tensor::gt(a, b);
    Array tie = tensor::eq(a, b);
    // share = 1 where this input wins, 1/2 on a tie, 0 where it loses
    Array share_a = a_wins.to(g.dtype()) + tie.to(g.dtype()) * 0.5;
    Array share_b = b_wins.to(g.dtype()) + tie.to(g.dtype()) * 0.5;
    return {g * share_a, g * share_b};
  });
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b, Site site) {
  return extremum(a, b, true, "maximum", site);
}

Tensor minimum(const Tensor& a, const Tensor& b, Site site) {
  return extremum(a, b, false, "minimum", site);
}

Tensor scalar_like(const Tensor& like, double value) {
  return Tensor(tensor::scalar_like(like.data(), value));
}

// ---- comparisons (no gradient: the result is bool) ---------------------------------------------

Tensor eq(const Tensor& a, const Tensor& b) { return Tensor(tensor::eq(a.data(), b.data())); }
Tensor ne(const Tensor& a, const Tensor& b) { return Tensor(tensor::ne(a.data(), b.data())); }
Tensor lt(const Tensor& a, const Tensor& b) { return Tensor(tensor::lt(a.data(), b.data())); }
Tensor le(const Tensor& a, const Tensor& b) { return Tensor(tensor::le(a.data(), b.data())); }
Tensor gt(const Tensor& a, const Tensor& b) { return Tensor(tensor::gt(a.data(), b.data())); }
Tensor ge(const Tensor& a, const Tensor& b) { return Tensor(tensor::ge(a.data(), b.data())); }
Tensor logical_not(const Tensor& x) { return Tensor(tensor::logical_not(x.data())); }
Tensor logical_and(const Tensor& a, const Tensor& b) {
  return Tensor(tensor::logical_and(a.data(), b.data()));
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return Tensor(tensor::logical_or(a.data(), b.data()));
}

// ---- operators: the same ops, with the site captured by Operand ---------------------------------

Tensor operator-(Operand x) { return neg(x.tensor, x.site); }
Tensor operator+(Operand a, const Tensor& b) { return add(a.tensor, b, a.site); }
Tensor operator-(Operand a, const Tensor& b) { return sub(a.tensor, b, a.site); }
Tensor operator*(Operand a, const Tensor& b) { return mul(a.tensor, b, a.site); }
Tensor operator/(Operand a, const Tensor& b) { return div(a.tensor, b, a.site); }
Tensor operator+(Operand a, double b) { return add(a.tensor, scalar_like(a.tensor, b), a.site); }
Tensor operator-(Operand a, double b) { return sub(a.tensor, scalar_like(a.tensor, b), a.site); }
Tensor operator*(Operand a, double b) { return mul(a.tensor, scalar_like(a.tensor, b), a.site); }
Tensor operator/(Operand a, double b) { return div(a.tensor, scalar_like(a.tensor, b), a.site); }
Tensor operator+(double a, Operand b) { return add(scalar_like(b.tensor, a), b.tensor, b.site); }
Tensor operator-(double a, Operand b) { return sub(scalar_like(b.tensor, a), b.tensor, b.site); }
Tensor operator*(double a, Operand b) { return mul(scalar_like(b.tensor, a), b.tensor, b.site); }
Tensor operator/(double a, Operand b) { return div(scalar_like(b.tensor, a), b.tensor, b.site); }

}  // namespace autograd
