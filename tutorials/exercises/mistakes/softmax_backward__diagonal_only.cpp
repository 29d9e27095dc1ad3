// Mistake: only the diagonal of the Jacobian
// A deliberately wrong softmax_backward for the tests (tests/exercises/test_exercises.cpp): dx[i] =
// out[i] (1 - out[i]) dout[i]. Its checker must fail it and print the line above.
#include <vector>

namespace exercise {

// dout [rows, cols], out = softmax(x) [rows, cols]  ->  dx [rows, cols]
std::vector<float> softmax_backward(const std::vector<float>& dout, const std::vector<float>& out,
                                    int rows, int cols) {
  std::vector<float> dx(static_cast<std::size_t>(rows) * cols, 0.0f);
  for (int r = 0; r < rows; ++r) {
    const float* s = &out[static_cast<std::size_t>(r) * cols];   // [cols]
    const float* g = &dout[static_cast<std::size_t>(r) * cols];  // [cols]
    // dx[i] = sum_j g[j] s[j] (delta_ij - s[i]) = s[i] g[i] - s[i] sum_j g[j] s[j]
    //       = s[i] * (g[i] - dot), with dot = sum_j g[j] s[j] shared by the whole row.
    float dot = 0.0f;
    for (int j = 0; j < cols; ++j) dot += g[j] * s[j];
    for (int i = 0; i < cols; ++i)  // wrong: the j = i term alone
      dx[static_cast<std::size_t>(r) * cols + i] = s[i] * (1 - s[i]) * g[i];
    (void)dot;
  }
  return dx;
}

}  // namespace exercise
