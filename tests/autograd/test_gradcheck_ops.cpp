// Every differentiable op, gradchecked in float64 against central differences — on plain
// inputs, on broadcast inputs, and on non-contiguous (transposed) inputs.
#include <functional>

#include "tests/helpers.hpp"

using namespace autograd;
using testing::check_gradients;
using testing::random_leaf;

namespace {

using UnaryFn = std::function<Tensor(const Tensor&)>;

// Values in [-1.2, -0.2] u [0.2, 1.2]: far from the kinks of abs/relu/sign and from 0 for
// reciprocal, so finite differences with eps = 1e-6 never straddle a kink.
Tensor away_from_zero(const Shape& shape, Generator& gen) {
  Array u = tensor::uniform(shape, -1, 1, gen, DType::Float64);
  Array shifted = u + tensor::sign(u) * 0.2;
  return Tensor(shifted, true);
}

Tensor positive(const Shape& shape, Generator& gen) {
  return Tensor(tensor::uniform(shape, 0.3, 2.0, gen, DType::Float64), true);
}

struct UnaryGradCase {
  const char* name;
  UnaryFn f;
  bool positive_only;
};

const UnaryGradCase kUnary[] = {
    {"neg", [](const Tensor& x) { return neg(x); }, false},
    {"abs", [](const Tensor& x) { return abs(x); }, false},
    {"square", [](const Tensor& x) { return square(x); }, false},
    {"exp", [](const Tensor& x) { return exp(x); }, false},
    {"log", [](const Tensor& x) { return log(x); }, true},
    {"sqrt", [](const Tensor& x) { return sqrt(x); }, true},
    {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, true},
    {"reciprocal", [](const Tensor& x) { return reciprocal(x); }, false},
    {"sin", [](const Tensor& x) { return sin(x); }, false},
    {"cos", [](const Tensor& x) { return cos(x); }, false},
    {"tanh", [](const Tensor& x) { return tanh(x); }, false},
    {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, false},
    {"relu", [](const Tensor& x) { return relu(x); }, false},
    {"gelu", [](const Tensor& x) { return gelu(x); }, false},
    {"gelu_tanh", [](const Tensor& x) { return gelu(x, true); }, false},
    {"silu", [](const Tensor& x) { return silu(x); }, false},
    {"pow 3", [](const Tensor& x) { return pow(x, 3.0); }, false},
    {"pow 2", [](const Tensor& x) { return pow(x, 2.0); }, false},
    {"pow -1.5", [](const Tensor& x) { return pow(x, -1.5); }, true},
    {"sign", [](const Tensor& x) { return sign(x); }, false},
    {"softmax dim 1", [](const Tensor& x) { return softmax(x, 1); }, false},
    {"softmax dim 0", [](const Tensor& x) { return softmax(x, 0); }, false},
    {"log_softmax dim -1", [](const Tensor& x) { return log_softmax(x, -1); }, false},
    {"sum all", [](const Tensor& x) { return sum(x); }, false},
    {"sum dim 0", [](const Tensor& x) { return sum(x, {0}); }, false},
    {"sum dim 1 keepdim", [](const Tensor& x) { return sum(x, {1}, true); }, false},
    {"mean dim -1", [](const Tensor& x) { return mean(x, {-1}); }, false},
    {"mean all", [](const Tensor& x) { return mean(x); }, false},
    {"amax dim 1", [](const Tensor& x) { return amax(x, {1}); }, false},
    {"amin all", [](const Tensor& x) { return amin(x); }, false},
    {"var dim 1", [](const Tensor& x) { return var(x, {1}); }, false},
    {"var all, correction 0", [](const Tensor& x) { return var(x, {}, 0); }, false},
    {"view", [](const Tensor& x) { return x.contiguous().view({-1}) * 2.0; }, false},
    {"reshape", [](const Tensor& x) { return x.reshape({2, -1}) * 2.0; }, false},
    {"permute", [](const Tensor& x) { return x.permute({1, 0}) * from_rows({{1, 2, 3}}, DType::Float64); }, false},
    {"transpose", [](const Tensor& x) { return exp(x.transpose(0, 1)); }, false},
    {"slice step 2", [](const Tensor& x) { return x.slice(1, 0, 4, 2) * 3.0; }, false},
    {"select", [](const Tensor& x) { return x.select(0, -1) * 3.0; }, false},
    {"narrow", [](const Tensor& x) { return x.narrow(1, 1, 2) * 3.0; }, false},
    {"unsqueeze+expand", [](const Tensor& x) { return x.unsqueeze(0).expand({3, -1, -1}) * 2.0; }, false},
    {"squeeze", [](const Tensor& x) { return x.unsqueeze(1).squeeze(1) * 2.0; }, false},
    {"clone", [](const Tensor& x) { return x.clone() * 2.0; }, false},
    {"matmul with itself^T", [](const Tensor& x) { return matmul(x, x.transpose(0, 1)); }, false},
};

}  // namespace

TEST_CASE("gradcheck: every unary op, on a packed [3, 4] input") {
  Generator gen(1);
  for (const UnaryGradCase& c : kUnary) {
    CAPTURE(std::string(c.name));
    Tensor x = c.positive_only ? positive({3, 4}, gen) : away_from_zero({3, 4}, gen);
    check_gradients([&](const std::vector<Tensor>& in) { return c.f(in[0]); }, {x});
  }
}

TEST_CASE("gradcheck: every unary op, on a transposed (non-contiguous) input") {
  Generator gen(2);
  for (const UnaryGradCase& c : kUnary) {
    CAPTURE(std::string(c.name));
    Tensor x = c.positive_only ? positive({4, 3}, gen) : away_from_zero({4, 3}, gen);
    check_gradients([&](const std::vector<Tensor>& in) {
      Tensor xt = in[0].transpose(0, 1);  // [3, 4], strides [1, 3]
      return c.f(xt);
    }, {x});
  }
}

namespace {
using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;
struct BinaryGradCase {
  const char* name;
  BinaryFn f;
  bool positive_only;
};
const BinaryGradCase kBinary[] = {
    {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, false},
    {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, false},
    {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, false},
    {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, false},
    {"pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); }, true},
    {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }, false},
    {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }, false},
    {"operators", [](const Tensor& a, const Tensor& b) { return (a * b - a / b + 2.0) * 0.5 - (1.0 - b); }, false},
};
}  // namespace

TEST_CASE("gradcheck: binary ops with equal shapes and with broadcasting") {
  Generator gen(3);
  struct Shapes {
    Shape a, b;
  };
  const Shapes shapes[] = {{{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 1}, {1, 4}}, {{2, 3, 4}, {3, 1}},
                           {{}, {2, 3}}};
  for (const BinaryGradCase& c : kBinary) {
    for (const Shapes& s : shapes) {
      CAPTURE(std::string(c.name));
      CAPTURE(tensor::shape_str(s.a));
      CAPTURE(tensor::shape_str(s.b));
      Tensor a = c.positive_only ? positive(s.a, gen) : away_from_zero(s.a, gen);
      Tensor b = c.positive_only ? positive(s.b, gen) : away_from_zero(s.b, gen);
      check_gradients([&](const std::vector<Tensor>& in) { return c.f(in[0], in[1]); }, {a, b});
    }
  }
}

TEST_CASE("gradcheck: binary ops on non-contiguous inputs") {
  Generator gen(4);
  for (const BinaryGradCase& c : kBinary) {
    CAPTURE(std::string(c.name));
    Tensor a = c.positive_only ? positive({4, 3}, gen) : away_from_zero({4, 3}, gen);
    Tensor b = c.positive_only ? positive({3, 8}, gen) : away_from_zero({3, 8}, gen);
    check_gradients([&](const std::vector<Tensor>& in) {
      return c.f(in[0].transpose(0, 1), in[1].slice(1, 0, 8, 2));  // both [3, 4], strided
    }, {a, b});
  }
}

TEST_CASE("gradcheck: matmul — matrices, batches with broadcasting, vectors") {
  Generator gen(5);
  auto mm = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
  check_gradients(mm, {random_leaf({3, 4}, gen), random_leaf({4, 2}, gen)});
  check_gradients(mm, {random_leaf({2, 3, 4}, gen), random_leaf({4, 5}, gen)});
  check_gradients(mm, {random_leaf({2, 1, 3, 4}, gen), random_leaf({3, 4, 2}, gen)});
  check_gradients(mm, {random_leaf({4}, gen), random_leaf({4}, gen)});
  check_gradients(mm, {random_leaf({4}, gen), random_leaf({2, 4, 3}, gen)});
  check_gradients(mm, {random_leaf({3, 4}, gen), random_leaf({4}, gen)});
  // Attention's shape: Q K^T with K transposed as a view.
  check_gradients([](const std::vector<Tensor>& in) {
    return matmul(in[0], in[1].transpose(-2, -1));
  }, {random_leaf({2, 3, 4}, gen), random_leaf({2, 5, 4}, gen)});
}

TEST_CASE("gradcheck: a tiny attention computation end to end") {
  Generator gen(6);
  check_gradients([](const std::vector<Tensor>& in) {
    const Tensor &q = in[0], &k = in[1], &v = in[2];
    Tensor scores = matmul(q, k.transpose(-2, -1)) / std::sqrt(4.0);  // [2, 3, 5]
    Tensor weights = softmax(scores, -1);
    return matmul(weights, v);  // [2, 3, 4]
  }, {random_leaf({2, 3, 4}, gen), random_leaf({2, 5, 4}, gen), random_leaf({2, 5, 4}, gen)});
}

TEST_CASE("gradcheck: ties in amax and maximum share the gradient evenly") {
  // With tied inputs the function is not differentiable; what we check is PyTorch's convention,
  // worked out by hand: amax of [2, 5, 5] gives each 5 half of the gradient.
  Tensor x(tensor::from_vector(std::vector<double>{2, 5, 5}), true);
  amax(x).backward();
  CHECK(testing::values(x.grad()) == std::vector<double>{0, 0.5, 0.5});
  Tensor a(tensor::from_vector(std::vector<double>{1, 3}), true);
  Tensor b(tensor::from_vector(std::vector<double>{1, 2}), true);
  sum(maximum(a, b)).backward();
  CHECK(testing::values(a.grad()) == std::vector<double>{0.5, 1});
  CHECK(testing::values(b.grad()) == std::vector<double>{0.5, 0});
}
