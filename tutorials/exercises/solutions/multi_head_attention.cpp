// Reference solution of tutorials/exercises/stubs/multi_head_attention.cpp (the task is stated
// there).
#include <algorithm>
#include <cmath>
#include <vector>

namespace exercise {

namespace {

// y [rows, C] = x [rows, C] W [C, C]
std::vector<float> project(const std::vector<float>& x, const std::vector<float>& w, int rows,
                           int C) {
  std::vector<float> y(static_cast<std::size_t>(rows) * C, 0.0f);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < C; ++c)
      for (int o = 0; o < C; ++o) y[r * C + o] += x[r * C + c] * w[c * C + o];
  return y;
}

}  // namespace

// x [B, T, C], w_q, w_k, w_v, w_o [C, C] (y = x W), H heads of D = C / H  ->  out [B, T, C]
std::vector<float> multi_head_attention(const std::vector<float>& x, const std::vector<float>& w_q,
                                        const std::vector<float>& w_k,
                                        const std::vector<float>& w_v,
                                        const std::vector<float>& w_o, int B, int T, int C, int H) {
  const int D = C / H;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));  // the HEAD's width, not C
  std::vector<float> q = project(x, w_q, B * T, C), k = project(x, w_k, B * T, C),
                     v = project(x, w_v, B * T, C);  // [B, T, C] each
  // heads [B, T, C]: head h writes its D features at h * D, so the concatenation is in place.
  std::vector<float> heads(static_cast<std::size_t>(B) * T * C, 0.0f);
  std::vector<float> weights(T);  // one query's row of one head: [T]
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < T; ++i) {
        const float* qi = &q[(b * T + i) * C + h * D];  // [D]
        for (int j = 0; j < T; ++j) {
          const float* kj = &k[(b * T + j) * C + h * D];  // [D]
          float score = 0.0f;
          for (int d = 0; d < D; ++d) score += qi[d] * kj[d];
          weights[j] = score * scale;
        }
        float max = *std::max_element(weights.begin(), weights.end());
        float sum = 0.0f;
        for (int j = 0; j < T; ++j) sum += weights[j] = std::exp(weights[j] - max);
        float* head_i = &heads[(b * T + i) * C + h * D];  // [D]
        for (int j = 0; j < T; ++j)
          for (int d = 0; d < D; ++d)
            head_i[d] += weights[j] / sum * v[(b * T + j) * C + h * D + d];
      }
  return project(heads, w_o, B * T, C);  // the output projection mixes the heads
}

}  // namespace exercise
