// Mistake: the wrong triangle masked (the past blocked instead of the future)
// A deliberately wrong causal_attention for the tests (tests/exercises/test_exercises.cpp):
// position i attends to j >= i. Its checker must fail it and print the line above.
#include <algorithm>
#include <cmath>
#include <vector>

namespace exercise {

// q, k, v [B, T, D]  ->  out [B, T, D], position i attending to positions j <= i
std::vector<float> causal_attention(const std::vector<float>& q, const std::vector<float>& k,
                                    const std::vector<float>& v, int B, int T, int D) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  std::vector<float> out(static_cast<std::size_t>(B) * T * D, 0.0f);
  std::vector<float> weights(T);  // one query's row: [T], only j <= i used
  for (int b = 0; b < B; ++b) {
    const float* qb = &q[static_cast<std::size_t>(b) * T * D];  // [T, D]
    const float* kb = &k[static_cast<std::size_t>(b) * T * D];  // [T, D]
    const float* vb = &v[static_cast<std::size_t>(b) * T * D];  // [T, D]
    float* ob = &out[static_cast<std::size_t>(b) * T * D];      // [T, D]
    for (int i = 0; i < T; ++i) {
      // The mask is the loop bound: keys j > i never enter the softmax, so the weights of the
      // keys j <= i sum to 1 by themselves (the same as a -inf score before the softmax).
      for (int j = i; j < T; ++j) {  // wrong: the future instead of the past
        float score = 0.0f;
        for (int d = 0; d < D; ++d) score += qb[i * D + d] * kb[j * D + d];
        weights[j] = score * scale;
      }
      float max = *std::max_element(weights.begin() + i, weights.end());
      float sum = 0.0f;
      for (int j = i; j < T; ++j) sum += weights[j] = std::exp(weights[j] - max);
      for (int j = i; j < T; ++j)
        for (int d = 0; d < D; ++d) ob[i * D + d] += weights[j] / sum * vb[j * D + d];
    }
  }
  return out;
}

}  // namespace exercise
