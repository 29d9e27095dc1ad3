// Mistake: softmax over the wrong axis (columns instead of rows)
// A deliberately wrong softmax for the tests (tests/exercises/test_exercises.cpp): each column is
// normalised instead of each row. Its checker must fail it and print the line above.
#include <algorithm>
#include <cmath>
#include <vector>

namespace exercise {

// x: [rows, cols]  ->  softmax of each row: [rows, cols]
std::vector<float> softmax(const std::vector<float>& x, int rows, int cols) {
  std::vector<float> out(static_cast<std::size_t>(rows) * cols, 0.0f);
  for (int c = 0; c < cols; ++c) {  // wrong: column c, over the rows
    float max = x[c];
    for (int r = 1; r < rows; ++r) max = std::max(max, x[r * cols + c]);
    float sum = 0.0f;
    for (int r = 0; r < rows; ++r) sum += out[r * cols + c] = std::exp(x[r * cols + c] - max);
    for (int r = 0; r < rows; ++r) out[r * cols + c] /= sum;
  }
  return out;
}

}  // namespace exercise
