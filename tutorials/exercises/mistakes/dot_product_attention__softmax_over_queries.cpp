// Mistake: softmax over the wrong axis (over the queries)
// A deliberately wrong dot_product_attention for the tests (tests/exercises/test_exercises.cpp):
// each key's column of scores is normalised over the queries. Its checker must fail it and print
// the line above.
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
    const float* qb = &q[static_cast<std::size_t>(b) * Tq * D];    // [Tq, D]
    const float* kb = &k[static_cast<std::size_t>(b) * Tk * D];    // [Tk, D]
    const float* vb = &v[static_cast<std::size_t>(b) * Tk * Dv];   // [Tk, Dv]
    float* ob = &out[static_cast<std::size_t>(b) * Tq * Dv];       // [Tq, Dv]
    std::vector<float> scores(static_cast<std::size_t>(Tq) * Tk);  // [Tq, Tk]
    for (int i = 0; i < Tq; ++i)
      for (int j = 0; j < Tk; ++j) {
        float score = 0.0f;
        for (int d = 0; d < D; ++d) score += qb[i * D + d] * kb[j * D + d];
        scores[i * Tk + j] = score;
      }
    for (int j = 0; j < Tk; ++j) {  // wrong: column j normalised over the queries
      float max = scores[j];
      for (int i = 1; i < Tq; ++i) max = std::max(max, scores[i * Tk + j]);
      float sum = 0.0f;
      for (int i = 0; i < Tq; ++i) sum += scores[i * Tk + j] = std::exp(scores[i * Tk + j] - max);
      for (int i = 0; i < Tq; ++i) scores[i * Tk + j] /= sum;
    }
    for (int i = 0; i < Tq; ++i)
      for (int j = 0; j < Tk; ++j)
        for (int e = 0; e < Dv; ++e) ob[i * Dv + e] += scores[i * Tk + j] * vb[j * Dv + e];
    (void)weights;
  }
  return out;
}

}  // namespace exercise
