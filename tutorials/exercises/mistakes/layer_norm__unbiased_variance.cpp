// Mistake: unbiased variance (divided by C - 1)
// A deliberately wrong layer_norm for the tests (tests/exercises/test_exercises.cpp): the variance
// is divided by C - 1. Its checker must fail it and print the line above.
#include <cmath>
#include <vector>

namespace exercise {

// x [N, C], weight [C], bias [C]  ->  out [N, C], mean [N], rstd [N]
void layer_norm_forward(std::vector<float>& out, std::vector<float>& mean, std::vector<float>& rstd,
                        const std::vector<float>& x, const std::vector<float>& weight,
                        const std::vector<float>& bias, int N, int C, float eps) {
  for (int n = 0; n < N; ++n) {
    const float* xn = &x[static_cast<std::size_t>(n) * C];  // [C]
    float m = 0.0f;
    for (int c = 0; c < C; ++c) m += xn[c];
    m /= C;
    // Second pass: the mean of (x - mean)^2 (E[x^2] - mean^2 would cancel catastrophically).
    float var = 0.0f;
    for (int c = 0; c < C; ++c) var += (xn[c] - m) * (xn[c] - m);
    var /= C - 1;  // wrong: the unbiased estimate
    float s = 1.0f / std::sqrt(var + eps);
    float* outn = &out[static_cast<std::size_t>(n) * C];  // [C]
    for (int c = 0; c < C; ++c) outn[c] = (xn[c] - m) * s * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = s;
  }
}

// dout [N, C], x [N, C], weight [C], mean [N], rstd [N]  ->  dx [N, C], dweight [C], dbias [C]
void layer_norm_backward(std::vector<float>& dx, std::vector<float>& dweight,
                         std::vector<float>& dbias, const std::vector<float>& dout,
                         const std::vector<float>& x, const std::vector<float>& weight,
                         const std::vector<float>& mean, const std::vector<float>& rstd, int N,
                         int C) {
  for (int n = 0; n < N; ++n) {
    const float* doutn = &dout[static_cast<std::size_t>(n) * C];  // [C]
    const float* xn = &x[static_cast<std::size_t>(n) * C];        // [C]
    float* dxn = &dx[static_cast<std::size_t>(n) * C];            // [C]
    // forward was: out[c] = norm[c] * weight[c] + bias[c], norm[c] = (x[c] - mean) * rstd
    // Two row means that the paths through mean and rstd need: of g and of g * norm, where
    // g = dout * weight is dL/dnorm.
    float mean_g = 0.0f, mean_g_norm = 0.0f;
    for (int c = 0; c < C; ++c) {
      float norm = (xn[c] - mean[n]) * rstd[n];
      float g = doutn[c] * weight[c];
      mean_g += g;
      mean_g_norm += g * norm;
      dbias[c] += doutn[c];           // out = ... + bias[c]
      dweight[c] += doutn[c] * norm;  // out = norm * weight[c] + ...
    }
    mean_g /= C;
    mean_g_norm /= C;
    // dx = rstd * (g - mean(g) - norm * mean(g * norm)): the direct path, the path through the
    // mean (every x shifts it by 1/C), and the path through rstd
    // (d rstd / dx[c] = -rstd^3 (x[c] - mean) / C).
    for (int c = 0; c < C; ++c) {
      float norm = (xn[c] - mean[n]) * rstd[n];
      float g = doutn[c] * weight[c];
      dxn[c] = rstd[n] * (g - mean_g - norm * mean_g_norm);
    }
  }
}

}  // namespace exercise
