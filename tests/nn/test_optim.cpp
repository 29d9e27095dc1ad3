// Optimizers and schedules against updates computed by hand on a two-parameter example.
#include <cmath>

#include "nn/nn.hpp"
#include "tests/helpers.hpp"

using namespace nn;
using testing::error_message;
using testing::values;

namespace {
// Two scalar parameters p = [p0, p1] in one float64 tensor, with a chosen gradient.
Tensor param(double p0, double p1) {
  return Tensor(tensor::from_vector(std::vector<double>{p0, p1}), true);
}
void set_grad(Tensor& p, double g0, double g1) {
  p.set_grad(tensor::from_vector(std::vector<double>{g0, g1}));
}
}  // namespace

TEST_CASE("SGD: plain, weight decay, momentum and nesterov, step by step") {
  Tensor p = param(1.0, -2.0);
  SGD plain({p}, 0.1);
  set_grad(p, 0.5, -1.0);
  plain.step();
  CHECK(values(p) == std::vector<double>{1.0 - 0.05, -2.0 + 0.1});

  Tensor q = param(1.0, -2.0);
  SGD momentum({q}, 0.1, /*momentum=*/0.9, 0, /*weight_decay=*/0.01);
  set_grad(q, 0.5, -1.0);
  momentum.step();
  // g = grad + 0.01 p = [0.51, -1.02]; buf = g; p -= 0.1 buf
  double q0 = 1.0 - 0.1 * 0.51, q1 = -2.0 - 0.1 * -1.02;
  CHECK(values(q)[0] == doctest::Approx(q0).epsilon(1e-14));
  CHECK(values(q)[1] == doctest::Approx(q1).epsilon(1e-14));
  set_grad(q, 0.2, 0.3);
  momentum.step();
  // g = [0.2 + 0.01 q0, 0.3 + 0.01 q1]; buf = 0.9 [0.51, -1.02] + g
  double g0 = 0.2 + 0.01 * q0, g1 = 0.3 + 0.01 * q1;
  double b0 = 0.9 * 0.51 + g0, b1 = 0.9 * -1.02 + g1;
  CHECK(values(q)[0] == doctest::Approx(q0 - 0.1 * b0).epsilon(1e-14));
  CHECK(values(q)[1] == doctest::Approx(q1 - 0.1 * b1).epsilon(1e-14));

  Tensor r = param(1.0, 1.0);
  SGD nesterov({r}, 0.1, 0.9, 0, 0, /*nesterov=*/true);
  set_grad(r, 1.0, 2.0);
  nesterov.step();  // buf = g; g' = g + 0.9 buf = 1.9 g
  CHECK(values(r)[0] == doctest::Approx(1.0 - 0.19));
  CHECK(values(r)[1] == doctest::Approx(1.0 - 0.38));
  CHECK(error_message([&] { SGD({r}, 0.1, 0, 0, 0, true); }).find("nesterov needs momentum") != std::string::npos);
}

TEST_CASE("Adam: two steps with bias correction, by hand") {
  Tensor p = param(1.0, -1.0);
  Adam adam({p}, 0.1, 0.9, 0.999, 1e-8);
  auto expected_after = [](double p, std::vector<double> grads) {
    double m = 0, v = 0;
    for (std::size_t t = 1; t <= grads.size(); ++t) {
      double g = grads[t - 1];
      m = 0.9 * m + 0.1 * g;
      v = 0.999 * v + 0.001 * g * g;
      double m_hat = m / (1 - std::pow(0.9, t)), v_hat = v / (1 - std::pow(0.999, t));
      p -= 0.1 * m_hat / (std::sqrt(v_hat) + 1e-8);
    }
    return p;
  };
  set_grad(p, 0.5, 2.0);
  adam.step();
  // First step: m_hat = g, v_hat = g^2, so each parameter moves by lr * sign(g).
  CHECK(values(p)[0] == doctest::Approx(0.9).epsilon(1e-7));
  CHECK(values(p)[1] == doctest::Approx(-1.1).epsilon(1e-7));
  set_grad(p, -0.25, 1.0);
  adam.step();
  CHECK(values(p)[0] == doctest::Approx(expected_after(1.0, {0.5, -0.25})).epsilon(1e-12));
  CHECK(values(p)[1] == doctest::Approx(expected_after(-1.0, {2.0, 1.0})).epsilon(1e-12));
  CHECK(adam.steps_taken() == 2);
}

TEST_CASE("Adam's L2 weight decay vs AdamW's decoupled decay") {
  Tensor a = param(2.0, 2.0), w = param(2.0, 2.0);
  Adam adam({a}, 0.1, 0.9, 0.999, 1e-8, /*weight_decay=*/0.5);
  AdamW adamw({w}, 0.1, 0.9, 0.999, 1e-8, /*weight_decay=*/0.5);
  set_grad(a, 0.0, 1.0);
  set_grad(w, 0.0, 1.0);
  adam.step();
  adamw.step();
  // Adam: g = [0 + 0.5*2, 1 + 0.5*2] = [1, 2]; first step moves each by lr * sign(g) = 0.1.
  CHECK(values(a)[0] == doctest::Approx(1.9).epsilon(1e-7));
  CHECK(values(a)[1] == doctest::Approx(1.9).epsilon(1e-7));
  // AdamW: p *= 1 - 0.1*0.5 = 0.95 -> 1.9; then the Adam step on the raw gradient [0, 1]:
  // for g = 0 the update is 0 (m = 0), for g = 1 it is 0.1.
  CHECK(values(w)[0] == doctest::Approx(1.9).epsilon(1e-12));
  CHECK(values(w)[1] == doctest::Approx(1.8).epsilon(1e-7));
}

TEST_CASE("optimizers skip parameters without a gradient, and their state round-trips") {
  Tensor p = param(1, 1), q = param(5, 5);
  Adam adam({p, q}, 0.1);
  set_grad(p, 1, 1);
  adam.step();
  CHECK(values(q) == std::vector<double>{5, 5});
  NamedArrays state = adam.state();
  CHECK(state.size() == 3);  // exp_avg and exp_avg_sq of p, and the step count
  Tensor p2 = param(1, 1), q2 = param(5, 5);
  Adam restored({p2, q2}, 0.1);
  restored.load_state(state);
  CHECK(restored.steps_taken() == 1);
  p2.data().copy_(p.data());
  set_grad(p, 0.3, -0.2);
  set_grad(p2, 0.3, -0.2);
  adam.step();
  restored.step();
  CHECK(values(p) == values(p2));
  CHECK(error_message([&] { restored.load_state({{"7.exp_avg", tensor::zeros({2})}}); }).find("does not belong") != std::string::npos);
}

TEST_CASE("clip_grad_norm_ scales all gradients together") {
  Tensor a = param(0, 0), b = Tensor(tensor::zeros({1}, DType::Float64), true);
  set_grad(a, 3, 0);
  b.set_grad(tensor::from_vector(std::vector<double>{4}));
  double norm = clip_grad_norm_({a, b}, 1.0);
  CHECK(norm == doctest::Approx(5));
  CHECK(values(a.grad())[0] == doctest::Approx(0.6).epsilon(1e-5));
  CHECK(values(b.grad())[0] == doctest::Approx(0.8).epsilon(1e-5));
  CHECK(clip_grad_norm_({a, b}, 10.0) == doctest::Approx(1.0).epsilon(1e-5));  // below: untouched
  CHECK(values(a.grad())[0] == doctest::Approx(0.6).epsilon(1e-5));
}

TEST_CASE("learning-rate schedules follow their formulas") {
  Tensor p = param(0, 0);
  SGD opt({p}, 1.0);
  LRScheduler steps = step_lr(opt, 2, 0.5);
  std::vector<double> lrs;
  for (int i = 0; i < 5; ++i) {
    lrs.push_back(opt.lr());
    steps.step();
  }
  CHECK(lrs == std::vector<double>{1, 1, 0.5, 0.5, 0.25});
  SGD opt2({p}, 2.0);
  LRScheduler cosine = cosine_lr(opt2, 4, 0.0);
  cosine.step();
  CHECK(opt2.lr() == doctest::Approx(2.0 * (1 + std::cos(3.14159265358979 / 4)) / 2));
  cosine.step();
  cosine.step();
  cosine.step();
  CHECK(opt2.lr() == doctest::Approx(0.0));
  SGD opt3({p}, 1.0);
  LRScheduler warm = linear_warmup_lr(opt3, 4);
  CHECK(opt3.lr() == doctest::Approx(0.25));
  for (int i = 0; i < 10; ++i) warm.step();
  CHECK(opt3.lr() == doctest::Approx(1.0));
  SGD opt4({p}, 1.0);
  LRScheduler noam = noam_lr(opt4, 64, 10);
  CHECK(opt4.lr() == doctest::Approx(std::pow(64.0, -0.5) * 1 * std::pow(10.0, -1.5)));
  noam.set_steps(99);  // step 100, past warmup: d^-0.5 * 100^-0.5
  CHECK(opt4.lr() == doctest::Approx(std::pow(64.0, -0.5) * 0.1));
}
