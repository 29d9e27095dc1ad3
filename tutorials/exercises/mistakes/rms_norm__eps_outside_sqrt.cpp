// Mistake: eps outside the square root
// A deliberately wrong rms_norm for the tests (tests/exercises/test_exercises.cpp): rstd = 1 / (sqrt(ms) + eps).
// Its checker must fail it and print the line above.
#include <cmath>
#include <vector>

namespace exercise {

// x [N, C], weight [C]  ->  out [N, C], rstd [N]
void rms_norm_forward(std::vector<float>& out, std::vector<float>& rstd,
                      const std::vector<float>& x, const std::vector<float>& weight, int N, int C,
                      float eps) {
  for (int n = 0; n < N; ++n) {
    const float* xn = &x[static_cast<std::size_t>(n) * C];  // [C]
    // The mean of the squares: no mean is subtracted (that is what RMSNorm drops).
    float ms = 0.0f;
    for (int c = 0; c < C; ++c) ms += xn[c] * xn[c];
    ms /= C;
    float s = 1.0f / (std::sqrt(ms) + eps);
    float* outn = &out[static_cast<std::size_t>(n) * C];  // [C]
    for (int c = 0; c < C; ++c) outn[c] = xn[c] * s * weight[c];
    rstd[n] = s;
  }
}

// dout [N, C], x [N, C], weight [C], rstd [N]  ->  dx [N, C], dweight [C]
void rms_norm_backward(std::vector<float>& dx, std::vector<float>& dweight,
                       const std::vector<float>& dout, const std::vector<float>& x,
                       const std::vector<float>& weight, const std::vector<float>& rstd, int N,
                       int C) {
  for (int n = 0; n < N; ++n) {
    const float* doutn = &dout[static_cast<std::size_t>(n) * C];  // [C]
    const float* xn = &x[static_cast<std::size_t>(n) * C];        // [C]
    float* dxn = &dx[static_cast<std::size_t>(n) * C];            // [C]
    // forward was: out[c] = norm[c] * weight[c], norm[c] = x[c] * rstd
    // g = dout * weight is dL/dnorm; the path through rstd needs the row mean of g * norm.
    float mean_g_norm = 0.0f;
    for (int c = 0; c < C; ++c) {
      float norm = xn[c] * rstd[n];
      float g = doutn[c] * weight[c];
      mean_g_norm += g * norm;
      dweight[c] += doutn[c] * norm;  // out = norm * weight[c]
    }
    mean_g_norm /= C;
    // dx = rstd * (g - norm * mean(g * norm)): the direct path, and the path through rstd
    // (d rstd / dx[c] = -rstd^3 x[c] / C). Unlike layer norm there is no "- mean(g)" term:
    // no mean was subtracted in the forward.
    for (int c = 0; c < C; ++c) {
      float norm = xn[c] * rstd[n];
      float g = doutn[c] * weight[c];
      dxn[c] = rstd[n] * (g - norm * mean_g_norm);
    }
  }
}

}  // namespace exercise
