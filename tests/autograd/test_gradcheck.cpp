// gradcheck itself must catch a wrong backward and explain where.
#include <cmath>

#include "autograd/record.hpp"
#include "tests/helpers.hpp"

using namespace autograd;
using testing::error_message;

namespace {
// softmax whose hand-written backward forgets the "- sum(g * y)" term: a classic bug.
Tensor broken_softmax(const Tensor& x, Site site = Site::current()) {
  Array y = tensor::softmax(x.data(), -1);
  SavedArray saved_y(y, "broken_softmax");
  return record("broken_softmax", site, y, {x}, [saved_y](const Array& g) -> Grads {
    return {g * saved_y.get()};  // wrong: should be y * (g - sum(g * y))
  });
}
}  // namespace

TEST_CASE("gradcheck fails on a wrong backward and reports the worst element and the op") {
  Generator gen(1);
  Tensor x = testing::random_leaf({2, 3}, gen);
  int line = __LINE__ + 1;
  GradcheckResult result = gradcheck([](const std::vector<Tensor>& in) { return broken_softmax(in[0]); }, {x});
  CHECK_FALSE(result.passed);
  CHECK(result.abs_error > 1e-2);
  CHECK(result.message.find("gradcheck FAILED") == 0);
  CHECK(result.message.find("'broken_softmax' created at") != std::string::npos);
  CHECK(result.message.find("test_gradcheck.cpp:" + std::to_string(line)) != std::string::npos);
  // The correct op passes on the same input.
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return softmax(in[0], -1); }, {x}).passed);
}

TEST_CASE("gradcheck finds a gradient that is off by a constant factor") {
  Generator gen(2);
  Tensor x = testing::random_leaf({4}, gen);
  auto doubled = [](const std::vector<Tensor>& in) {
    Array y = tensor::square(in[0].data());
    SavedArray saved(in[0].data(), "half_square_grad");
    return record("half_square_grad", Site::current(), y, {in[0]},
                  [saved](const Array& g) -> Grads { return {g * saved.get()}; });  // missing 2
  };
  GradcheckResult result = gradcheck(doubled, {x});
  CHECK_FALSE(result.passed);
  CHECK(result.numerical == doctest::Approx(2 * result.analytical).epsilon(1e-6));
}

TEST_CASE("gradcheck leaves the caller's tensors alone and insists on float64") {
  Generator gen(3);
  Tensor x = testing::random_leaf({3}, gen);
  std::vector<double> before = testing::values(x);
  CHECK(gradcheck([](const std::vector<Tensor>& in) { return exp(in[0]); }, {x}).passed);
  CHECK(testing::values(x) == before);
  CHECK_FALSE(x.grad().defined());
  Tensor f(tensor::ones({2}), true);
  CHECK(error_message([&] { gradcheck([](const std::vector<Tensor>& in) { return in[0] * 2.0; }, {f}); })
            .find("gradcheck: input 0 is float32; use float64") == 0);
}
