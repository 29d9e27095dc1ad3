// Error: softmax: your code threw in case 1
// A deliberately wrong softmax for the tests (tests/exercises/test_exercises.cpp): it reads one
// past the end of x with .at(), which throws std::out_of_range. Its checker must fail it and print
// the line above.
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
    float max = row[0];
    for (int c = 1; c < cols; ++c) max = std::max(max, row[c]);
    float sum = 0.0f;
    for (int c = 0; c < cols; ++c) {
      out_row[c] = std::exp(row[c] - max);  // <= 1; exp(-inf) = 0 for a masked score
      sum += out_row[c];
    }
    for (int c = 0; c < cols; ++c) out_row[c] /= sum;  // sum >= 1: the max's own term is 1
    out[0] += x.at(x.size());                          // wrong: out of range, throws
  }
  return out;
}

}  // namespace exercise
