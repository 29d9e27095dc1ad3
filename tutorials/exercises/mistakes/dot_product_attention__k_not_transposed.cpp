// Mistake: K not transposed (Q K instead of Q K^T)
// A deliberately wrong dot_product_attention for the tests (tests/exercises/test_exercises.cpp):
// score[i, j] reads k[d, j] (K) instead of k[j, d] (K^T). Its checker must fail it and print the
// line above.
#include <algorithm>
#include <cmath>
#include <vector>

namespace exercise {

// q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv]  ->  out [B, Tq, Dv] = softmax(q k^T) v
std::vector<float> dot_product_attention(const std::vector<float>& q, const std::vector<float>& k,
                                         const std::vector<float>& v, int B, int Tq, int Tk, int D,
                                         int Dv) {
  std::vector<float> out(static_cast<std::size_t>(B) * Tq * Dv, 0.0f);
  std::vector<float> weights(Tk);  // one query's row: [Tk]
  for (int b = 0; b < B; ++b) {
    const float* qb = &q[static_cast<std::size_t>(b) * Tq * D];   // [Tq, D]
    const float* kb = &k[static_cast<std::size_t>(b) * Tk * D];   // [Tk, D]
    const float* vb = &v[static_cast<std::size_t>(b) * Tk * Dv];  // [Tk, Dv]
    float* ob = &out[static_cast<std::size_t>(b) * Tq * Dv];      // [Tq, Dv]
    for (int i = 0; i < Tq; ++i) {
      // scores[j] = q_i . k_j
      for (int j = 0; j < Tk; ++j) {
        float score = 0.0f;
        for (int d = 0; d < D; ++d) score += qb[i * D + d] * kb[d * D + j];  // wrong: K, not K^T
        weights[j] = score;
      }
      // softmax over the keys, max subtracted (the scores can be large)
      float max = *std::max_element(weights.begin(), weights.end());
      float sum = 0.0f;
      for (int j = 0; j < Tk; ++j) sum += weights[j] = std::exp(weights[j] - max);
      for (int j = 0; j < Tk; ++j) weights[j] /= sum;
      // out_i = sum_j weights[j] v_j
      for (int j = 0; j < Tk; ++j)
        for (int e = 0; e < Dv; ++e) ob[i * Dv + e] += weights[j] * vb[j * Dv + e];
    }
  }
  return out;
}

}  // namespace exercise
