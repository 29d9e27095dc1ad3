// Mistake: tokens visited in index order, not from the most likely down
// A deliberately wrong top_p for the tests (tests/exercises/test_exercises.cpp): walks the tokens
// 0, 1, 2, ... instead of by probability. Its checker must fail it and print the line above.
#include <algorithm>
#include <numeric>
#include <vector>

namespace exercise {

// probs [rows, V] (each row a distribution), p in (0, 1]  ->  the nucleus distribution [rows, V]
std::vector<float> top_p(const std::vector<float>& probs, int rows, int V, float p) {
  std::vector<float> out(static_cast<std::size_t>(rows) * V, 0.0f);
  for (int r = 0; r < rows; ++r) {
    const float* row = &probs[static_cast<std::size_t>(r) * V];
    float* out_row = &out[static_cast<std::size_t>(r) * V];
    // Token indices from the most likely down; stable_sort keeps a tie in index order.
    std::vector<int> order(V);
    std::iota(order.begin(), order.end(), 0);
    // wrong: no sort, the tokens are visited in index order
    // Walk down the order, keeping each token, until the kept mass reaches p. The token that
    // crosses p is kept: without it the mass would still be short of p.
    float kept = 0.0f;
    for (int i : order) {
      out_row[i] = row[i];
      kept += row[i];
      if (kept >= p) break;
    }
    // Rescale the nucleus so that the row is a distribution again.
    for (int v = 0; v < V; ++v) out_row[v] /= kept;
  }
  return out;
}

}  // namespace exercise
