// Checker of tutorials/exercises/stubs/rms_norm.cpp: exercise::rms_norm_forward against plain
// loops in float64 (random rows with a mean far from 0, a row of zeros, rows of tiny values), then
// exercise::rms_norm_backward against central differences of the forward in float64.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
void rms_norm_forward(std::vector<float>& out, std::vector<float>& rstd,
                      const std::vector<float>& x, const std::vector<float>& weight, int N, int C,
                      float eps);
void rms_norm_backward(std::vector<float>& dx, std::vector<float>& dweight,
                       const std::vector<float>& dout, const std::vector<float>& x,
                       const std::vector<float>& weight, const std::vector<float>& rstd, int N,
                       int C);
}  // namespace exercise

using namespace exercise_check;

namespace {

const float kEps = 1e-5f;

// rstd [N] of rows x [N, C], right or in one of the usual wrong ways, by plain loops:
//   subtract_mean: the variance around the row's mean instead of the mean of squares (layer norm)
//   eps_inside:    1 / sqrt(ms + eps), or else 1 / (sqrt(ms) + eps)
std::vector<double> rstd_variant(const std::vector<double>& x, int N, int C, bool subtract_mean,
                                 bool eps_inside) {
  std::vector<double> rstd(N);
  for (int n = 0; n < N; ++n) {
    double mean = 0, ms = 0;
    if (subtract_mean)
      for (int c = 0; c < C; ++c) mean += x[n * C + c] / C;
    for (int c = 0; c < C; ++c) ms += (x[n * C + c] - mean) * (x[n * C + c] - mean) / C;
    rstd[n] = eps_inside ? 1.0 / std::sqrt(ms + kEps) : 1.0 / (std::sqrt(ms) + kEps);
  }
  return rstd;
}

// The forward in float64 for rows x [N, C]: rstd [N], norm and out [N, C]; `subtract_mean`
// gives layer norm without its bias (the first wrong answer).
struct Forward {
  std::vector<double> rstd, norm, out;
};

Forward forward(const std::vector<double>& x, const std::vector<double>& weight, int N, int C,
                bool subtract_mean = false, bool eps_inside = true) {
  Forward f{rstd_variant(x, N, C, subtract_mean, eps_inside), std::vector<double>(N * C),
            std::vector<double>(N * C)};
  for (int n = 0; n < N; ++n) {
    double mean = 0;
    if (subtract_mean)
      for (int c = 0; c < C; ++c) mean += x[n * C + c] / C;
    for (int c = 0; c < C; ++c) {
      f.norm[n * C + c] = (x[n * C + c] - mean) * f.rstd[n];
      f.out[n * C + c] = f.norm[n * C + c] * weight[c];
    }
  }
  return f;
}

void check_forward(const Case& test_case, const std::vector<float>& x,
                   const std::vector<float>& weight, int N, int C, const std::string& hint) {
  const std::vector<double> x64 = as_doubles(x), w64 = as_doubles(weight);
  Forward expected = forward(x64, w64, N, C);
  std::vector<float> out(N * C, 0.0f), rstd(N, 0.0f);
  exercise::rms_norm_forward(out, rstd, x, weight, N, C, kEps);

  Output rstd_out{
      .name = "rstd",
      .shape = {N},
      .expected = expected.rstd,
      .hint = "rstd[n] = 1 / sqrt(ms[n] + eps), ms[n] = (1/C) sum_c x[n, c]^2.\n" + hint,
      .atol = 1e-4};
  rstd_out.mistakes = {
      {"subtracts the mean (that is layer norm)",
       "RMSNorm divides by the root of the mean of x^2 itself: nothing is subtracted first.\n"
       "Subtracting the row's mean and using the variance is layer norm, which RMSNorm drops.",
       rstd_variant(x64, N, C, true, true)},
      {"eps outside the square root",
       "eps goes inside the square root: rstd = 1 / sqrt(ms + eps), not 1 / (sqrt(ms) + eps).",
       rstd_variant(x64, N, C, false, false)},
  };
  expect_close(test_case, rstd_out, rstd);

  Output out_out{.name = "out",
                 .shape = {N, C},
                 .expected = expected.out,
                 .hint = "out[n, c] = x[n, c] * rstd[n] * weight[c].\n" + hint,
                 .atol = 1e-4};
  out_out.mistakes = {
      {"subtracts the mean (that is layer norm)",
       "RMSNorm scales x itself: out = x * rstd * weight, with nothing subtracted from x.",
       forward(x64, w64, N, C, true).out},
      {"weight not applied", "out is only normalised: scale it by weight[c].", expected.norm},
  };
  expect_close(test_case, out_out, out);
}

// dL/dx [N, C] of L = sum dout * out(x), by central differences in float64: the forward is
// recomputed with one entry moved by +-h.
std::vector<double> numerical_dx(const std::vector<double>& dout, std::vector<double> x,
                                 const std::vector<double>& weight, int N, int C) {
  const double h = 1e-5;
  auto loss = [&](const std::vector<double>& at) {
    Forward f = forward(at, weight, N, C);
    double total = 0.0;
    for (int i = 0; i < N * C; ++i) total += dout[i] * f.out[i];
    return total;
  };
  std::vector<double> dx(N * C);
  for (int i = 0; i < N * C; ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double up = loss(x);
    x[i] = saved - h;
    const double down = loss(x);
    x[i] = saved;
    dx[i] = (up - down) / (2 * h);
  }
  return dx;
}

void check_backward(const Case& test_case, const std::vector<float>& dout,
                    const std::vector<float>& x, const std::vector<float>& weight, int N, int C) {
  std::vector<double> x64 = as_doubles(x), w64 = as_doubles(weight), g64 = as_doubles(dout);
  Forward f = forward(x64, w64, N, C);

  // rstd as a float forward would have saved it (a wrong forward of the learner's cannot spoil
  // the backward's check).
  std::vector<float> rstd(f.rstd.begin(), f.rstd.end());
  std::vector<float> dx(N * C, 0.0f), dweight(C, 0.0f);
  exercise::rms_norm_backward(dx, dweight, dout, x, weight, rstd, N, C);

  // out is linear in weight: a plain sum over the rows.
  auto column_sums = [&](const std::function<double(int n, int c)>& term) {
    std::vector<double> sums(C, 0.0);
    for (int n = 0; n < N; ++n)
      for (int c = 0; c < C; ++c) sums[c] += term(n, c);
    return sums;
  };
  Output dweight_out{
      .name = "dweight",
      .shape = {C},
      .expected = column_sums([&](int n, int c) { return g64[n * C + c] * f.norm[n * C + c]; }),
      .hint = "dweight[c] = sum over the rows n of dout[n, c] * norm[n, c], with\n"
              "norm = x * rstd (out = norm * weight).",
      .atol = 1e-4};
  dweight_out.mistakes = {
      {"dweight from x instead of the normalised x",
       "dweight[c] sums dout[n, c] * norm[n, c]: you used x instead of norm = x * rstd.",
       column_sums([&](int n, int c) { return g64[n * C + c] * x64[n * C + c]; })},
  };
  expect_close(test_case, dweight_out, dweight);

  // dx = rstd * (g - norm * mean_c(g * norm)), g = dout * weight; the wrong answers leave the
  // projection out, or add layer norm's "- mean_c(g)".
  auto dx_with = [&](bool projection, bool minus_mean_g) {
    std::vector<double> result(N * C);
    for (int n = 0; n < N; ++n) {
      double mean_g = 0.0, mean_g_norm = 0.0;
      for (int c = 0; c < C; ++c) {
        mean_g += g64[n * C + c] * w64[c] / C;
        mean_g_norm += g64[n * C + c] * w64[c] * f.norm[n * C + c] / C;
      }
      for (int c = 0; c < C; ++c)
        result[n * C + c] = f.rstd[n] * (g64[n * C + c] * w64[c] - (minus_mean_g ? mean_g : 0.0) -
                                         (projection ? f.norm[n * C + c] * mean_g_norm : 0.0));
    }
    return result;
  };
  Output dx_out{.name = "dx",
                .shape = {N, C},
                .expected = numerical_dx(g64, x64, w64, N, C),
                .hint = "x reaches out[n, c] two ways: directly, and through rstd[n], which\n"
                        "depends on the whole row. With g = dout * weight (= dL/dnorm),\n"
                        "differentiate norm = x * rstd by hand.",
                .atol = 1e-4};
  dx_out.mistakes = {
      {"dx missing the projection (the path through rstd)",
       "rstd depends on every x of the row, so dx has a second term:\n"
       "dx = rstd * (g - norm * mean_c(g * norm)), g = dout * weight, norm = x * rstd.\n"
       "You have only the direct one, g * rstd.",
       dx_with(false, false)},
      {"dx with layer norm's mean term",
       "RMSNorm subtracts no mean in the forward, so dx has no \"- mean_c(g)\" term:\n"
       "dx = rstd * (g - norm * mean_c(g * norm)), g = dout * weight.",
       dx_with(true, true)},
  };
  expect_close(test_case, dx_out, dx);
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "rms_norm", [] {
    Generator gen(22);

    // 1. Forward on random rows whose mean is far from 0 (where subtracting it changes a lot).
    check_forward({1, 5, "forward, random rows: x [4, 6] ~ N(2, 1.5^2), weight [6]"},
                  normal_values({4, 6}, 2, 1.5, gen), normal_values({6}, 1, 0.5, gen), 4, 6, "");

    // 2. A row of zeros: rstd = 1 / sqrt(eps), out = 0.
    std::vector<float> zero_row = normal_values({2, 5}, 0, 1, gen);
    for (int c = 0; c < 5; ++c) zero_row[c] = 0.0f;
    check_forward({2, 5, "forward, row 0 all zeros: x [2, 5]"}, zero_row,
                  normal_values({5}, 1, 0.5, gen), 2, 5,
                  "row 0 is all zeros: ms = 0, so rstd = 1 / sqrt(0 + eps) = 316.2 and out = 0\n"
                  "on that row.");

    // 3. Tiny rows: mean(x^2) ~ 1e-6, comparable with eps, so where eps goes matters.
    check_forward({3, 5, "forward, tiny rows (|x| ~ 1e-3, mean(x^2) comparable with eps): x [3, 8]"},
                  normal_values({3, 8}, 0, 1e-3, gen), normal_values({8}, 1, 0.5, gen), 3, 8,
                  "mean(x^2) here is about 1e-6, close to eps = 1e-5: eps must sit inside the\n"
                  "square root, rstd = 1 / sqrt(ms + eps).");

    // 4. and 5. Backward, with the checker's rstd (a wrong forward cannot spoil it).
    check_backward({4, 5, "backward: dout, x [4, 6], weight [6]"}, normal_values({4, 6}, 0, 1, gen),
                   normal_values({4, 6}, 1, 2, gen), normal_values({6}, 1, 0.5, gen), 4, 6);
    check_backward({5, 5, "backward, more rows than features: dout, x [5, 3], weight [3]"},
                   normal_values({5, 3}, 0, 1, gen), normal_values({5, 3}, -1, 1, gen),
                   normal_values({3}, 1, 0.5, gen), 5, 3);
  });
}
