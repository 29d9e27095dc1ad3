// rms_norm and silu: the forward against plain loops, the backward against the closed form
// written out below, and gradcheck in float64 on packed, transposed and broadcast (expanded)
// inputs, with and without a weight.
#include <cfloat>
#include <cmath>

#include "tests/helpers.hpp"

using namespace autograd;
using testing::check_close;
using testing::check_gradients;
using testing::error_message;
using testing::random_leaf;
using testing::values;

namespace {

// y[r, c] = x[r, c] / sqrt(mean_c x[r, c]^2 + eps) * w[c], by loops over a [rows, C] buffer.
std::vector<double> rms_norm_by_loops(const std::vector<double>& x, const std::vector<double>& w,
                                      std::int64_t C, double eps) {
  std::vector<double> y(x.size());
  for (std::size_t r = 0; r < x.size() / C; ++r) {
    double sum_sq = 0;
    for (std::int64_t c = 0; c < C; ++c) sum_sq += x[r * C + c] * x[r * C + c];
    const double rms = std::sqrt(sum_sq / C + eps);
    for (std::int64_t c = 0; c < C; ++c) y[r * C + c] = x[r * C + c] / rms * (w.empty() ? 1.0 : w[c]);
  }
  return y;
}

}  // namespace

TEST_CASE("rms_norm: forward equals the definition, by loops, with and without weight") {
  Generator gen(71);
  Tensor x = random_leaf({4, 6}, gen, -2, 2), w = random_leaf({6}, gen, 0.5, 1.5);
  check_close(values(rms_norm(x, w, 1e-5)), rms_norm_by_loops(values(x), values(w), 6, 1e-5),
              1e-13, 1e-14);
  check_close(values(rms_norm(x, Tensor(), 1e-5)), rms_norm_by_loops(values(x), {}, 6, 1e-5),
              1e-13, 1e-14);
  // A 3-d input normalises over its last dim only.
  Tensor x3 = random_leaf({2, 3, 5}, gen, -2, 2);
  check_close(values(rms_norm(x3, Tensor(), 0.1)), rms_norm_by_loops(values(x3), {}, 5, 0.1),
              1e-13, 1e-14);
  // Every row of the output has RMS 1 (up to eps) when there is no weight: nothing else is
  // normalised, in particular the mean is not 0.
  std::vector<double> y = values(rms_norm(x, Tensor(), 0.0));
  for (int r = 0; r < 4; ++r) {
    double sum_sq = 0;
    for (int c = 0; c < 6; ++c) sum_sq += y[r * 6 + c] * y[r * 6 + c];
    CHECK(sum_sq / 6 == doctest::Approx(1.0).epsilon(1e-12));
  }
}

TEST_CASE("rms_norm: eps defaults to the dtype's machine epsilon, as in PyTorch") {
  // Inputs of size 1e-4: mean(x^2) = 1e-8 is well below float32's epsilon (1.19e-7), so eps
  // decides most of the result and a different default would show.
  const std::vector<double> small{1e-4, -1e-4, 2e-4, 0.5e-4};
  Tensor x32(tensor::from_vector(small).to(DType::Float32));
  std::vector<double> x_as_float = values(x32);
  check_close(values(rms_norm(x32, Tensor())), rms_norm_by_loops(x_as_float, {}, 4, FLT_EPSILON),
              1e-5, 1e-9);
  Tensor x64(tensor::from_vector(small).to(DType::Float64));
  Tensor tiny = x64 * 1e-6;  // mean(x^2) ~ 1e-20, eps = 2.2e-16 dominates
  check_close(values(rms_norm(tiny, Tensor())), rms_norm_by_loops(values(tiny), {}, 4, DBL_EPSILON),
              1e-12, 1e-18);
  // An explicit eps is used as given.
  check_close(values(rms_norm(x32, Tensor(), 1e-3)), rms_norm_by_loops(x_as_float, {}, 4, 1e-3),
              1e-5, 1e-9);
}

TEST_CASE("rms_norm: the fused backward equals the closed form written out") {
  // forward: rstd = (mean_c x_c^2 + eps)^(-1/2), xhat_c = x_c * rstd, y_c = xhat_c * w_c
  // With upstream gradient g:
  //   dL/dw_c = sum over rows of g_c * xhat_c
  //   dL/dx_i = rstd * (g_i w_i - xhat_i * (1/C) sum_c g_c w_c xhat_c)
  // because d rstd / d x_i = -rstd^3 x_i / C.
  Generator gen(72);
  const std::int64_t rows = 3, C = 7;
  const double eps = 1e-3;
  Tensor x = random_leaf({rows, C}, gen, -2, 2), w = random_leaf({C}, gen, 0.5, 1.5);
  Tensor g(tensor::uniform({rows, C}, -1, 1, gen, DType::Float64));
  sum(rms_norm(x, w, eps) * g).backward();

  std::vector<double> xv = values(x), wv = values(w), gv = values(g);
  std::vector<double> dx(rows * C), dw(C, 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    double sum_sq = 0;
    for (std::int64_t c = 0; c < C; ++c) sum_sq += xv[r * C + c] * xv[r * C + c];
    const double rstd = 1 / std::sqrt(sum_sq / C + eps);
    double projection = 0;  // (1/C) sum_c g_c w_c xhat_c
    for (std::int64_t c = 0; c < C; ++c) projection += gv[r * C + c] * wv[c] * xv[r * C + c] * rstd / C;
    for (std::int64_t c = 0; c < C; ++c) {
      const double xhat = xv[r * C + c] * rstd;
      dx[r * C + c] = rstd * (gv[r * C + c] * wv[c] - xhat * projection);
      dw[c] += gv[r * C + c] * xhat;
    }
  }
  check_close(values(x.grad()), dx, 1e-12, 1e-13);
  check_close(values(w.grad()), dw, 1e-12, 1e-13);
  // The gradient of sum(rms_norm(x)) without weight and eps = 0 is orthogonal to x in each row:
  // rms_norm is scale-invariant, so moving along x changes nothing.
  Tensor x2 = random_leaf({2, 5}, gen, -2, 2);
  sum(rms_norm(x2, Tensor(), 0.0) * Tensor(tensor::uniform({2, 5}, -1, 1, gen, DType::Float64)))
      .backward();
  std::vector<double> gx = values(x2.grad()), x2v = values(x2);
  for (int r = 0; r < 2; ++r) {
    double dot = 0;
    for (int c = 0; c < 5; ++c) dot += gx[r * 5 + c] * x2v[r * 5 + c];
    CHECK(std::fabs(dot) < 1e-12);
  }
}

TEST_CASE("rms_norm: gradcheck on packed, transposed and broadcast inputs, with and without weight") {
  Generator gen(73);
  for (bool with_weight : {true, false}) {
    CAPTURE(with_weight);
    Tensor w = random_leaf({4}, gen, 0.5, 1.5);
    auto norm = [with_weight](const Tensor& x, const Tensor& weight) {
      return rms_norm(x, with_weight ? weight : Tensor(), 1e-3);
    };
    // packed [3, 4]
    check_gradients([&](const std::vector<Tensor>& in) { return norm(in[0], in[1]); },
                    {random_leaf({3, 4}, gen, -2, 2), w});
    // transposed: [4, 3] viewed as [3, 4] (strides [1, 3]); and a 3-d input with dims 0, 1 swapped
    check_gradients([&](const std::vector<Tensor>& in) { return norm(in[0].transpose(0, 1), in[1]); },
                    {random_leaf({4, 3}, gen, -2, 2), w});
    check_gradients(
        [&](const std::vector<Tensor>& in) { return norm(in[0].transpose(0, 1), in[1]); },
        {random_leaf({2, 3, 4}, gen, -2, 2), w});
    // broadcast: one row expanded to 5 rows (stride 0); the engine sums the 5 gradients back
    check_gradients(
        [&](const std::vector<Tensor>& in) { return norm(in[0].expand({5, 4}), in[1]); },
        {random_leaf({1, 4}, gen, -2, 2), w});
    // the default eps (float64 machine epsilon) on inputs away from 0
    check_gradients(
        [&](const std::vector<Tensor>& in) {
          return rms_norm(in[0], with_weight ? in[1] : Tensor());
        },
        {random_leaf({2, 4}, gen, 0.5, 2), w});
  }
  // The weight broadcast from a [1, 4] row.
  check_gradients(
      [](const std::vector<Tensor>& in) { return rms_norm(in[0], in[1].expand({1, 4}).squeeze(0), 1e-3); },
      {random_leaf({3, 4}, gen, -2, 2), random_leaf({1, 4}, gen, 0.5, 1.5)});
}

TEST_CASE("rms_norm: errors name the op and the shapes") {
  Generator gen(74);
  Tensor x = random_leaf({3, 5}, gen);
  CHECK(error_message([&] { rms_norm(x, random_leaf({4}, gen)); })
            .find("rms_norm: weight must have shape [5] to match the last dim of [3, 5], got [4]") == 0);
  CHECK(error_message([&] { rms_norm(Tensor(tensor::from_vector(std::vector<double>{1.0}).view({})), Tensor()); })
            .find("rms_norm: needs at least 1 dim") == 0);
  CHECK(error_message([&] { rms_norm(x, Tensor(), -1.0); }).find("rms_norm: eps must be >= 0") == 0);
}

TEST_CASE("silu: forward by its definition, gradcheck on packed, transposed and broadcast inputs") {
  // silu(x) = x * sigmoid(x) = x / (1 + e^-x); large |x| must neither overflow nor give nan.
  const std::vector<double> xs{-60, -8, -1.5, -0.25, 0, 0.3, 2, 9, 60};
  Tensor x(tensor::from_vector(xs).to(DType::Float64));
  std::vector<double> expected;
  for (double v : xs) expected.push_back(v / (1 + std::exp(-v)));
  check_close(values(silu(x)), expected, 1e-15, 1e-300);
  // Its derivative by the closed form sigmoid(x) * (1 + x * (1 - sigmoid(x))).
  Tensor leaf(tensor::from_vector(xs).to(DType::Float64), true);
  sum(silu(leaf)).backward();
  std::vector<double> slope;
  for (double v : xs) {
    const double s = 1 / (1 + std::exp(-v));
    slope.push_back(s * (1 + v * (1 - s)));
  }
  check_close(values(leaf.grad()), slope, 1e-14, 1e-300);

  Generator gen(75);
  check_gradients([](const std::vector<Tensor>& in) { return silu(in[0]); },
                  {random_leaf({3, 4}, gen, -3, 3)});
  check_gradients([](const std::vector<Tensor>& in) { return silu(in[0].transpose(0, 1)); },
                  {random_leaf({4, 3}, gen, -3, 3)});
  check_gradients([](const std::vector<Tensor>& in) { return silu(in[0].expand({3, 4})) * 2.0; },
                  {random_leaf({1, 4}, gen, -3, 3)});
}
