// Mistake: no max subtracted: exp overflows (inf / inf = nan) or underflows (0 / 0 = nan)
// A deliberately wrong softmax for the tests (tests/exercises/test_exercises.cpp): exp(x) / sum
// exp(x) as written, no shift. Its checker must fail it and print the line above.
#include <algorithm>
#include <cmath>
#include <vector>

namespace exercise {

// x: [rows, cols]  ->  softmax of each row: [rows, cols]
std::vector<float> softmax(const std::vector<float>& x, int rows, int cols) {
  std::vector<float> out(static_cast<std::size_t>(rows) * cols, 0.0f);
  for (int r = 0; r < rows; ++r) {
    const float* row = &x[static_cast<std::size_t>(r) * cols];
    float* out_row = &out[static_cast<std::size_t>(r) * cols];
    // Subtract the max only for numerical stability: softmax is shift-invariant.
    const float max = 0.0f;  // wrong: no shift
    float sum = 0.0f;
    for (int c = 0; c < cols; ++c) {
      out_row[c] = std::exp(row[c] - max);  // <= 1; exp(-inf) = 0 for a masked score
      sum += out_row[c];
    }
    for (int c = 0; c < cols; ++c) out_row[c] /= sum;  // sum >= 1: the max's own term is 1
  }
  return out;
}

}  // namespace exercise
