// Mistake: sin and cos swapped
// A deliberately wrong positional_encoding for the tests (tests/exercises/test_exercises.cpp): even
// features take cos, odd ones sin. Its checker must fail it and print the line above.
#include <cmath>
#include <vector>

namespace exercise {

// -> PE [max_len, dim]
std::vector<float> positional_encoding(int max_len, int dim) {
  std::vector<float> table(static_cast<std::size_t>(max_len) * dim, 0.0f);
  for (int pos = 0; pos < max_len; ++pos)
    for (int j = 0; j < dim; ++j) {
      int i = j / 2;  // features 2i and 2i + 1 share the frequency w_i
      double frequency = std::pow(10000.0, -2.0 * i / dim);
      double angle = pos * frequency;
      table[static_cast<std::size_t>(pos) * dim + j] =
          static_cast<float>(j % 2 == 0 ? std::cos(angle) : std::sin(angle));
    }
  return table;
}

}  // namespace exercise
