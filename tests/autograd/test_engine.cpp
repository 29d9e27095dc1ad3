// The backward engine: known gradients worked out by hand, graph shapes that break naive
// engines, graph lifetime, accumulation, grad mode, hooks, and the errors users hit.
#include <chrono>

#include "autograd/record.hpp"
#include "tests/helpers.hpp"

using namespace autograd;
using testing::error_message;
using testing::values;

namespace {
Tensor leaf(std::vector<double> v) { return Tensor(tensor::from_vector(v), true); }
}  // namespace

TEST_CASE("gradients of a small expression, worked out by hand") {
  // f = sum(x * y + x) with x = [1, 2], y = [3, 4]:  df/dx = y + 1 = [4, 5], df/dy = x = [1, 2]
  Tensor x = leaf({1, 2}), y = leaf({3, 4});
  Tensor f = sum(x * y + x);
  CHECK(f.item() == 1 * 3 + 2 * 4 + 1 + 2);
  f.backward();
  CHECK(values(x.grad()) == std::vector<double>{4, 5});
  CHECK(values(y.grad()) == std::vector<double>{1, 2});
}

TEST_CASE("diamond: one input reaching the output by two paths gets both contributions") {
  // d = (2a) * (3a) = 6 a^2  =>  dd/da = 12 a
  Tensor a = leaf({1.5, -2});
  Tensor b = a * 2.0, c = a * 3.0;
  Tensor d = sum(b * c);
  d.backward();
  CHECK(values(a.grad()) == std::vector<double>{18, -24});
}

TEST_CASE("x * x: the same tensor as both inputs of one op") {
  Tensor x = leaf({3, -1});
  sum(x * x).backward();
  CHECK(values(x.grad()) == std::vector<double>{6, -2});
  Tensor z = leaf({2});
  sum(add(z, z) * z).backward();  // 2 z^2  =>  4 z
  CHECK(values(z.grad()) == std::vector<double>{8});
}

TEST_CASE("a chain of 100,000 nodes: no stack overflow in backward or when freed") {
  Tensor x = leaf({1.0});
  {
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = y * 1.0 + 0.0;  // 200,000 nodes
    y = sum(y);
    y.backward();
    CHECK(values(x.grad()) == std::vector<double>{1.0});
  }  // the whole chain is destroyed here
  // Destroying a never-run chain must not recurse either.
  {
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = exp(y * 0.0);
  }
  CHECK(x.grad().defined());
}

TEST_CASE("backward twice: an error without retain_graph, accumulation with it") {
  Tensor x = leaf({2});
  Tensor y = sum(exp(x));
  y.backward();
  std::string message = error_message([&] { y.backward(); });
  CHECK(message.find("backward: trying to go through the graph a second time") == 0);
  CHECK(message.find("retain_graph=true") != std::string::npos);

  Tensor w = leaf({2});
  Tensor z = sum(exp(w));
  z.backward(Tensor(), /*retain_graph=*/true);
  z.backward();
  CHECK(values(w.grad())[0] == doctest::Approx(2 * std::exp(2.0)));
}

TEST_CASE("gradients accumulate across backward() calls until zeroed") {
  Tensor x = leaf({1, 2});
  sum(x * 3.0).backward();
  sum(x * 3.0).backward();
  CHECK(values(x.grad()) == std::vector<double>{6, 6});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  sum(x * 3.0).backward();
  CHECK(values(x.grad()) == std::vector<double>{3, 3});
}

TEST_CASE("broadcast gradients are summed back to each input's shape") {
  Tensor a(tensor::ones({3, 1}, DType::Float64), true);
  Tensor b(tensor::ones({4}, DType::Float64), true);
  sum(a * b).backward();
  CHECK(a.grad().shape() == Shape{3, 1});
  CHECK(values(a.grad()) == std::vector<double>{4, 4, 4});
  CHECK(b.grad().shape() == Shape{4});
  CHECK(values(b.grad()) == std::vector<double>{3, 3, 3, 3});
}

TEST_CASE("views pass gradients back to the right places") {
  Tensor x(tensor::arange(0.0, 6.0, 1.0, DType::Float64).view({2, 3}), true);
  Tensor y = sum(x.transpose(0, 1).slice(0, 1, 3) * 10.0);  // uses columns 1 and 2
  y.backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 10, 10, 0, 10, 10});
  Tensor z(tensor::ones({2, 3}, DType::Float64), true);
  sum(z.select(1, 2) * 5.0).backward();
  CHECK(values(z.grad()) == std::vector<double>{0, 0, 5, 0, 0, 5});
}

TEST_CASE("backward on a non-scalar needs an explicit gradient") {
  Tensor x = leaf({1, 2});
  Tensor y = x * 2.0;
  CHECK(error_message([&] { y.backward(); }).find("backward: a gradient can only be implied for a tensor with one element; this one has shape [2]") == 0);
  y.backward(Tensor(tensor::from_vector(std::vector<double>{1, 10})));
  CHECK(values(x.grad()) == std::vector<double>{2, 20});
  CHECK(error_message([&] { (x * 2.0).backward(Tensor(tensor::ones({3}, DType::Float64))); })
            .find("backward: gradient has shape [3] but the tensor has shape [2]") == 0);
}

TEST_CASE("backward on a tensor that does not require grad is a clear error") {
  Tensor x(tensor::ones({2}));
  std::string message = error_message([&] { sum(x).backward(); });
  CHECK(message.find("backward: this tensor does not require grad") == 0);
  CHECK(message.find("requires_grad_()") != std::string::npos);
}

TEST_CASE("no-grad guard records nothing and restores the previous mode") {
  Tensor x = leaf({1});
  {
    NoGradGuard guard;
    CHECK_FALSE(is_grad_enabled());
    Tensor y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    {
      NoGradGuard nested;
    }
    CHECK_FALSE(is_grad_enabled());
  }
  CHECK(is_grad_enabled());
  CHECK((x * 2.0).requires_grad());
}

TEST_CASE("detach cuts the graph but shares the data") {
  Tensor x = leaf({1, 2});
  Tensor y = x * 2.0;
  Tensor d = y.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  CHECK(d.data().storage() == y.data().storage());
  Tensor z = sum(d * x);  // gradient reaches x only through the second factor
  z.backward();
  CHECK(values(x.grad()) == std::vector<double>{2, 4});
}

TEST_CASE("leaves, requires_grad_ rules, unused inputs") {
  Tensor x = leaf({1});
  Tensor y = x * 2.0;
  CHECK(x.is_leaf());
  CHECK_FALSE(y.is_leaf());
  CHECK(error_message([&] { y.requires_grad_(false); }).find("only leaves can change requires_grad") != std::string::npos);
  Tensor i(tensor::arange(3));
  CHECK(error_message([&] { i.requires_grad_(); }).find("only float tensors can require gradients") != std::string::npos);
  Tensor unused = leaf({5});
  Tensor z = sum(x * 3.0) + sum(unused * 0.0);
  Tensor lonely = leaf({7});
  z.backward();
  CHECK(values(x.grad()) == std::vector<double>{3});
  CHECK_FALSE(lonely.grad().defined());
}

TEST_CASE("modifying a saved tensor in place makes backward refuse, naming the op") {
  Tensor x = leaf({0.5, 1.0});
  Tensor y = exp(x);     // saves its output for backward
  Tensor loss = sum(y * 1.0);
  Array y_values = y.data();
  y_values.fill_(0.0);   // overwrite the saved output behind autograd's back
  std::string message = error_message([&] { loss.backward(); });
  CHECK(message.find("backward of exp: a tensor saved by the forward pass was modified in place") == 0);
}

TEST_CASE("hooks see and may change gradients; retain_grad keeps a non-leaf's gradient") {
  Tensor x = leaf({1, 2});
  Tensor h = x * 3.0;
  std::vector<double> seen;
  h.register_hook([&](Array& grad) {
    seen = values(grad);
    grad = grad * 10.0;  // replace the gradient flowing on
  });
  h.retain_grad();
  sum(h * 2.0).backward();
  CHECK(seen == std::vector<double>{2, 2});
  CHECK(values(h.grad()) == std::vector<double>{20, 20});   // after the hook
  CHECK(values(x.grad()) == std::vector<double>{60, 60});   // 2 * 10 * 3
  Tensor w = leaf({1});
  double leaf_seen = 0;
  w.register_hook([&](Array& grad) { leaf_seen = grad.item(); });
  sum(w * 4.0).backward();
  CHECK(leaf_seen == 4);
}

TEST_CASE("nodes record the op name and the caller's file and line") {
  Tensor x = leaf({1});
  int line = __LINE__ + 1;
  Tensor y = exp(x);
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(y.grad_fn()->op == "exp");
  CHECK(y.grad_fn()->site.line() == static_cast<unsigned>(line));
  CHECK(std::string(y.grad_fn()->site.file_name()).find("test_engine.cpp") != std::string::npos);
  int op_line = __LINE__ + 1;
  Tensor z = y * x;  // an operator: the site is captured through Operand
  CHECK(z.grad_fn()->op == "mul");
  CHECK(z.grad_fn()->site.line() == static_cast<unsigned>(op_line));
  int method_line = __LINE__ + 1;
  Tensor t = z.sum();
  CHECK(t.grad_fn()->site.line() == static_cast<unsigned>(method_line));
  y.set_name("activations");
  CHECK(y.grad_fn()->name == "activations");
  CHECK(y.to_string().find("grad_fn=<exp>, name=\"activations\"") != std::string::npos);
  CHECK(x.to_string().find("requires_grad=true") != std::string::npos);
}

TEST_CASE("gradients arrive in the leaf's dtype") {
  Tensor x(tensor::ones({2}, DType::Float32), true);
  Tensor w(tensor::full({2}, 3.0, DType::Float64));
  sum(x * w).backward();  // computed in float64
  CHECK(x.grad().dtype() == DType::Float32);
  CHECK(values(x.grad()) == std::vector<double>{3, 3});
}

TEST_CASE("to(dtype) passes the gradient back converted") {
  Tensor x(tensor::ones({2}, DType::Float32), true);
  Tensor y = x.to(DType::Float64) * 2.0;
  CHECK(y.dtype() == DType::Float64);
  sum(y).backward();
  CHECK(x.grad().dtype() == DType::Float32);
  CHECK(values(x.grad()) == std::vector<double>{2, 2});
  CHECK(error_message([&] { x.to(DType::Int64); }).find("would cut the gradient") != std::string::npos);
}

TEST_CASE("the first gradient is adopted, later ones accumulate in place") {
  Tensor x = leaf({1, 2, 3});
  sum(x * 2.0).backward();
  Array first = x.grad().data();
  sum(x * 2.0).backward();
  CHECK(x.grad().data().storage() == first.storage());  // same buffer, updated in place
  CHECK(values(x.grad()) == std::vector<double>{4, 4, 4});
}

TEST_CASE("a gradient shared by two leaves is not aliased between them") {
  Tensor a = leaf({1}), b = leaf({1});
  sum(a + b).backward();  // add's backward hands the same array to both inputs
  sum(a * 5.0).backward();
  CHECK(values(a.grad()) == std::vector<double>{6});
  CHECK(values(b.grad()) == std::vector<double>{1});
}

TEST_CASE("gradients meeting at an inner node are summed, in place only where that is safe") {
  // loss = sum(a + b) + sum(3a) + sum(a * a) with a = 2x, b = 5x: add's backward hands one
  // array to both a and b, sum's backward an expanded (stride-0) one. An in-place sum into
  // either would corrupt the other input's gradient or write one cell many times.
  // d loss / dx = 2 (1 + 3 + 2a) + 5 = 13 + 8x.
  Tensor x = leaf({1, -2, 0.5});
  Tensor a = x * 2.0, b = x * 5.0;
  Tensor loss = sum(a + b) + sum(a * 3.0) + sum(a * a);
  loss.backward();
  CHECK(values(x.grad()) == std::vector<double>{13 + 8 * 1.0, 13 + 8 * -2.0, 13 + 8 * 0.5});

  // An inner node reached by three dense gradients, summed into one buffer: still exact.
  Tensor y = leaf({0.25, 4});
  Tensor h = y * 1.0;
  sum(h * 2.0 + h * 3.0 + h * h).backward();  // d/dy = 5 + 2y
  CHECK(values(y.grad()) == std::vector<double>{5.5, 13});
}
