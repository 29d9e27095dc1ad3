// Checker of tutorials/exercises/stubs/layer_norm.cpp: exercise::layer_norm_forward against plain
// loops in float64 (random rows, a constant row, rows around 300), then
// exercise::layer_norm_backward against central differences of the forward in float64.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
void layer_norm_forward(std::vector<float>& out, std::vector<float>& mean, std::vector<float>& rstd,
                        const std::vector<float>& x, const std::vector<float>& weight,
                        const std::vector<float>& bias, int N, int C, float eps);
void layer_norm_backward(std::vector<float>& dx, std::vector<float>& dweight,
                         std::vector<float>& dbias, const std::vector<float>& dout,
                         const std::vector<float>& x, const std::vector<float>& weight,
                         const std::vector<float>& mean, const std::vector<float>& rstd, int N,
                         int C);
}  // namespace exercise

using namespace exercise_check;

namespace {

const float kEps = 1e-5f;

// rstd [N] with the variance divided by `divisor` and eps added `eps_inside` or outside the sqrt:
// the usual wrong variants, computed with plain loops.
std::vector<double> rstd_variant(const std::vector<float>& x, int N, int C, double divisor,
                                 bool eps_inside) {
  std::vector<double> rstd(N);
  for (int n = 0; n < N; ++n) {
    double mean = 0, sq = 0;
    for (int c = 0; c < C; ++c) mean += x[n * C + c] / double(C);
    for (int c = 0; c < C; ++c) sq += (x[n * C + c] - mean) * (x[n * C + c] - mean);
    rstd[n] =
        eps_inside ? 1.0 / std::sqrt(sq / divisor + kEps) : 1.0 / (std::sqrt(sq / divisor) + kEps);
  }
  return rstd;
}

// The forward in float64 for rows x [N, C]: mean [N], rstd [N], norm and out [N, C].
struct Forward {
  std::vector<double> mean, rstd, norm, out;
};

Forward forward(const std::vector<double>& x, const std::vector<double>& weight,
                const std::vector<double>& bias, int N, int C) {
  Forward f{std::vector<double>(N), std::vector<double>(N), std::vector<double>(N * C),
            std::vector<double>(N * C)};
  for (int n = 0; n < N; ++n) {
    double mean = 0.0, sq = 0.0;
    for (int c = 0; c < C; ++c) mean += x[n * C + c] / C;
    for (int c = 0; c < C; ++c) sq += (x[n * C + c] - mean) * (x[n * C + c] - mean);
    f.mean[n] = mean;
    f.rstd[n] = 1.0 / std::sqrt(sq / C + kEps);
    for (int c = 0; c < C; ++c) {
      f.norm[n * C + c] = (x[n * C + c] - mean) * f.rstd[n];
      f.out[n * C + c] = f.norm[n * C + c] * weight[c] + bias[c];
    }
  }
  return f;
}

void check_forward(const Case& test_case, const std::vector<float>& x,
                   const std::vector<float>& weight, const std::vector<float>& bias, int N, int C,
                   const std::string& hint) {
  Forward expected = forward(as_doubles(x), as_doubles(weight), as_doubles(bias), N, C);
  std::vector<float> out(N * C, 0.0f), mean(N, 0.0f), rstd(N, 0.0f);
  exercise::layer_norm_forward(out, mean, rstd, x, weight, bias, N, C, kEps);

  Output mean_out{
      .name = "mean",
      .shape = {N},
      .expected = expected.mean,
      .hint =
          "mean[n] = (1/C) sum_c x[n * C + c]: the mean of row n over its C features.\n" + hint};
  expect_close(test_case, mean_out, mean);

  Output rstd_out{
      .name = "rstd",
      .shape = {N},
      .expected = expected.rstd,
      .hint =
          "rstd[n] = 1 / sqrt(var[n] + eps), var[n] = (1/C) sum_c (x[n, c] - mean[n])^2.\n" + hint,
      .atol = 1e-4};
  rstd_out.mistakes = {
      {"unbiased variance (divided by C - 1)",
       "the variance here is biased: divide the sum of squares by C, not C - 1.",
       rstd_variant(x, N, C, C - 1, true)},
      {"eps outside the square root",
       "eps goes inside the square root: rstd = 1 / sqrt(var + eps), not 1 / (sqrt(var) + eps).",
       rstd_variant(x, N, C, C, false)},
  };
  expect_close(test_case, rstd_out, rstd);

  Output out_out{
      .name = "out",
      .shape = {N, C},
      .expected = expected.out,
      .hint = "out[n, c] = (x[n, c] - mean[n]) * rstd[n] * weight[c] + bias[c].\n" + hint,
      .atol = 1e-4};
  out_out.mistakes = {
      {"weight and bias not applied",
       "out is only normalised: scale it by weight[c] and shift it by bias[c].", expected.norm},
  };
  expect_close(test_case, out_out, out);
}

// dL/dx [N, C] of L = sum dout * out(x), by central differences in float64: each row's forward
// is recomputed with one entry moved by +-h.
std::vector<double> numerical_dx(const std::vector<double>& dout, std::vector<double> x,
                                 const std::vector<double>& weight, int N, int C) {
  const double h = 1e-5;
  const std::vector<double> no_bias(C, 0.0);
  auto loss = [&](const std::vector<double>& at) {
    Forward f = forward(at, weight, no_bias, N, C);
    double total = 0.0;
    for (int n = 0; n < N * C; ++n) total += dout[n] * f.out[n];
    return total;
  };
  std::vector<double> dx(N * C);
  for (int n = 0; n < N * C; ++n) {
    const double saved = x[n];
    x[n] = saved + h;
    const double up = loss(x);
    x[n] = saved - h;
    const double down = loss(x);
    x[n] = saved;
    dx[n] = (up - down) / (2 * h);
  }
  return dx;
}

void check_backward(const Case& test_case, const std::vector<float>& dout,
                    const std::vector<float>& x, const std::vector<float>& weight, int N, int C) {
  std::vector<double> x64 = as_doubles(x), w64 = as_doubles(weight), g64 = as_doubles(dout);
  Forward f = forward(x64, w64, std::vector<double>(C, 0.0), N, C);

  // The forward's mean and rstd as a float forward would have saved them (so that a wrong
  // forward of the learner's cannot spoil the backward's check).
  std::vector<float> mean(f.mean.begin(), f.mean.end()), rstd(f.rstd.begin(), f.rstd.end());
  std::vector<float> dx(N * C, 0.0f), dweight(C, 0.0f), dbias(C, 0.0f);
  exercise::layer_norm_backward(dx, dweight, dbias, dout, x, weight, mean, rstd, N, C);

  // Plain sums over the rows: out is linear in weight and bias.
  auto column_sums = [&](const std::function<double(int n, int c)>& term) {
    std::vector<double> sums(C, 0.0);
    for (int n = 0; n < N; ++n)
      for (int c = 0; c < C; ++c) sums[c] += term(n, c);
    return sums;
  };
  Output dbias_out{
      .name = "dbias",
      .shape = {C},
      .expected = column_sums([&](int n, int c) { return g64[n * C + c]; }),
      .hint = "dbias[c] = sum over the rows n of dout[n, c] (bias[c] is added to every row)."};
  expect_close(test_case, dbias_out, dbias);

  Output dweight_out{
      .name = "dweight",
      .shape = {C},
      .expected = column_sums([&](int n, int c) { return g64[n * C + c] * f.norm[n * C + c]; }),
      .hint =
          "dweight[c] = sum over the rows n of dout[n, c] * norm[n, c], with\n"
          "norm = (x - mean) * rstd (out = norm * weight + bias).",
      .atol = 1e-4};
  dweight_out.mistakes = {
      {"dweight from x instead of the normalised x",
       "dweight[c] sums dout[n, c] * norm[n, c]: you used x instead of norm = (x - mean) * rstd.",
       column_sums([&](int n, int c) { return g64[n * C + c] * x64[n * C + c]; })},
  };
  expect_close(test_case, dweight_out, dweight);

  // The three paths of x into out, each as a term of dx = rstd * (g - mean_c(g) - norm *
  // mean_c(g * norm)), g = dout * weight: the wrong answers leave some out.
  auto dx_with = [&](bool through_mean, bool through_rstd) {
    std::vector<double> result(N * C);
    for (int n = 0; n < N; ++n) {
      double mean_g = 0.0, mean_g_norm = 0.0;
      for (int c = 0; c < C; ++c) {
        mean_g += g64[n * C + c] * w64[c] / C;
        mean_g_norm += g64[n * C + c] * w64[c] * f.norm[n * C + c] / C;
      }
      for (int c = 0; c < C; ++c)
        result[n * C + c] = f.rstd[n] * (g64[n * C + c] * w64[c] - (through_mean ? mean_g : 0.0) -
                                         (through_rstd ? f.norm[n * C + c] * mean_g_norm : 0.0));
    }
    return result;
  };
  Output dx_out{.name = "dx",
                .shape = {N, C},
                .expected = numerical_dx(g64, x64, w64, N, C),
                .hint =
                    "x reaches out[n, c] three ways: directly, through mean[n] and through\n"
                    "rstd[n]. With g = dout * weight (= dL/dnorm), differentiate\n"
                    "norm = (x - mean) * rstd by hand.",
                .atol = 1e-4};
  dx_out.mistakes = {
      {"dx missing the paths through the mean and rstd",
       "dx has three terms: x reaches the output directly, through the mean and through rstd.\n"
       "You have only the direct one, g * rstd (g = dout * weight).",
       dx_with(false, false)},
      {"dx missing the path through rstd",
       "the path through rstd is missing: dx = rstd * (g - mean_c(g) - norm * mean_c(g * norm)),\n"
       "with g = dout * weight and norm = (x - mean) * rstd.",
       dx_with(true, false)},
      {"dx missing the path through the mean",
       "the path through the mean is missing: dx = rstd * (g - mean_c(g) - norm * mean_c(g * "
       "norm)),\n"
       "with g = dout * weight and norm = (x - mean) * rstd.",
       dx_with(false, true)},
  };
  expect_close(test_case, dx_out, dx);
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "layer_norm", [] {
    Generator gen(10);

    // 1. Forward on random rows.
    check_forward({1, 5, "forward, random rows: x [4, 6] ~ N(3, 2^2), weight, bias [6]"},
                  normal_values({4, 6}, 3, 2, gen), normal_values({6}, 1, 0.5, gen),
                  normal_values({6}, 0, 0.5, gen), 4, 6, "");

    // 2. A constant row: variance 0, so rstd = 1 / sqrt(eps) and out = bias.
    std::vector<float> constant_row = normal_values({2, 5}, 0, 1, gen);
    for (int c = 0; c < 5; ++c) constant_row[c] = 0.75f;
    check_forward({2, 5, "forward, row 0 constant (variance 0): x [2, 5]"}, constant_row,
                  normal_values({5}, 1, 0.5, gen), normal_values({5}, 0, 0.5, gen), 2, 5,
                  "row 0 is constant: its variance is 0, so rstd = 1 / sqrt(0 + eps) = 316.2 and\n"
                  "out = bias on that row.");

    // 3. Rows around 300 with spread 1: E[x^2] - mean^2 cancels catastrophically in float.
    std::vector<float> offset_rows = normal_values({3, 8}, 300, 1, gen);
    check_forward(
        {3, 5, "forward, rows around 300 with spread 1: x [3, 8]"}, offset_rows,
        normal_values({8}, 1, 0.5, gen), normal_values({8}, 0, 0.5, gen), 3, 8,
        "these rows sit around 300 with spread 1: compute the mean first, then the mean of\n"
        "(x - mean)^2. E[x^2] - mean^2 subtracts two numbers near 90000 and loses the\n"
        "variance to float rounding.");

    // 4. and 5. Backward, with the checker's mean and rstd (a wrong forward cannot spoil it).
    check_backward({4, 5, "backward: dout, x [4, 6], weight [6]"}, normal_values({4, 6}, 0, 1, gen),
                   normal_values({4, 6}, 1, 2, gen), normal_values({6}, 1, 0.5, gen), 4, 6);
    check_backward({5, 5, "backward, more rows than features: dout, x [5, 3], weight [3]"},
                   normal_values({5, 3}, 0, 1, gen), normal_values({5, 3}, -1, 1, gen),
                   normal_values({3}, 1, 0.5, gen), 5, 3);
  });
}
