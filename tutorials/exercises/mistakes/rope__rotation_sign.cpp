// Mistake: rotation sign: turned by -angle (multiplied by e^{-i angle})
// A deliberately wrong rope for the tests (tests/exercises/test_exercises.cpp):
// each pair is turned by -angle. Its checker must fail it and print the line above.
#include <cmath>
#include <vector>

namespace exercise {

// x [rows, T, D] -> out [rows, T, D]
std::vector<float> rope(const std::vector<float>& x, int rows, int T, int D, int position_offset) {
  std::vector<float> out(x.size());
  for (int r = 0; r < rows; ++r)
    for (int t = 0; t < T; ++t) {
      const double position = position_offset + t;  // the token's place in the whole sequence
      const std::size_t row = (static_cast<std::size_t>(r) * T + t) * D;
      for (int i = 0; i < D / 2; ++i) {
        const double theta = std::pow(10000.0, -2.0 * i / D);
        const double c = std::cos(position * theta), s = -std::sin(position * theta);  // wrong
        const double a = x[row + 2 * i], b = x[row + 2 * i + 1];
        // (a + i b) (c + i s) = (a c - b s) + i (a s + b c)
        out[row + 2 * i] = static_cast<float>(a * c - b * s);
        out[row + 2 * i + 1] = static_cast<float>(a * s + b * c);
      }
    }
  return out;
}

}  // namespace exercise
