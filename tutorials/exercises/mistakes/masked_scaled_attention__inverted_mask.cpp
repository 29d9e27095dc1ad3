// Mistake: mask inverted (true taken as allowed)
// A deliberately wrong masked_scaled_attention for the tests (tests/exercises/test_exercises.cpp):
// true is read as "allowed". Its checker must fail it and print the line above.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace exercise {

// q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv], mask [B, Tq, Tk] (true = blocked)
//   ->  out [B, Tq, Dv] = softmax(q k^T / sqrt(D), blocked scores -inf) v
std::vector<float> masked_scaled_attention(const std::vector<float>& q, const std::vector<float>& k,
                                           const std::vector<float>& v,
                                           const std::vector<bool>& mask, int B, int Tq, int Tk,
                                           int D, int Dv) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  std::vector<float> out(static_cast<std::size_t>(B) * Tq * Dv, 0.0f);
  std::vector<float> weights(Tk);  // one query's row: [Tk]
  for (int b = 0; b < B; ++b) {
    for (int i = 0; i < Tq; ++i) {
      const float* qi = &q[(static_cast<std::size_t>(b) * Tq + i) * D];  // [D]
      // scaled scores, -inf where the key is blocked
      for (int j = 0; j < Tk; ++j) {
        if (!mask[(static_cast<std::size_t>(b) * Tq + i) * Tk + j]) {  // wrong
          weights[j] = neg_inf;
          continue;
        }
        const float* kj = &k[(static_cast<std::size_t>(b) * Tk + j) * D];  // [D]
        float score = 0.0f;
        for (int d = 0; d < D; ++d) score += qi[d] * kj[d];
        weights[j] = score * scale;
      }
      float max = *std::max_element(weights.begin(), weights.end());
      if (max == neg_inf) continue;  // every key blocked: weights 0, so out stays 0
      float sum = 0.0f;
      for (int j = 0; j < Tk; ++j) sum += weights[j] = std::exp(weights[j] - max);  // exp(-inf) = 0
      float* oi = &out[(static_cast<std::size_t>(b) * Tq + i) * Dv];                // [Dv]
      for (int j = 0; j < Tk; ++j) {
        const float* vj = &v[(static_cast<std::size_t>(b) * Tk + j) * Dv];  // [Dv]
        for (int e = 0; e < Dv; ++e) oi[e] += weights[j] / sum * vj[e];
      }
    }
  }
  return out;
}

}  // namespace exercise
