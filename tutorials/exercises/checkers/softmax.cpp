// Checker of tutorials/exercises/stubs/softmax.cpp: exercise::softmax against plain loops in
// float64 (exercise_check::softmax_rows) on small scores, scores around +-1000 (the naive formula
// gives nan) and rows with -inf entries.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::vector<float> softmax(const std::vector<float>& x, int rows, int cols);  // the learner's
}

using namespace exercise_check;

namespace {

// exp(x) / sum exp(x) in float, as written: nan where exp overflows or every term underflows.
std::vector<double> naive_softmax(const std::vector<float>& x, int rows, int cols) {
  std::vector<double> out(x.size());
  for (int r = 0; r < rows; ++r) {
    float sum = 0.0f;
    for (int c = 0; c < cols; ++c) sum += std::exp(x[r * cols + c]);
    for (int c = 0; c < cols; ++c) out[r * cols + c] = std::exp(x[r * cols + c]) / sum;
  }
  return out;
}

// exp(x - row max) without the division by the row's sum.
std::vector<double> unnormalised(std::vector<double> x, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    double max = -std::numeric_limits<double>::infinity();
    for (int c = 0; c < cols; ++c) max = std::max(max, x[r * cols + c]);
    for (int c = 0; c < cols; ++c) x[r * cols + c] = std::exp(x[r * cols + c] - max);
  }
  return x;
}

// Calls the learner's softmax on x [rows, cols] and compares with the loops above.
void check(const Case& test_case, const std::vector<float>& x, int rows, int cols,
           const std::string& hint) {
  std::vector<double> scores = as_doubles(x);  // [rows, cols]
  Output out{.name = "out",
             .shape = {rows, cols},
             .expected = softmax_rows(scores, rows, cols),
             .hint = hint};
  out.mistakes = {
      {"softmax over the wrong axis (columns instead of rows)",
       "each row must sum to 1, but you normalised each column: the sum runs over the scores\n"
       "of one row, sum_j exp(x[r, j] - max_r).",
       transposed(softmax_rows(transposed(scores, rows, cols), cols, rows), cols, rows)},
      {"no max subtracted: exp overflows (inf / inf = nan) or underflows (0 / 0 = nan)",
       "in float exp(1000) is inf and exp(-1000) is 0. softmax(x) = softmax(x - m) for any m\n"
       "(the factor exp(-m) cancels): pick m so that no exponent is positive.",
       naive_softmax(x, rows, cols)},
      {"not normalised (exp without dividing by the sum)",
       "exp(x - max) is only the numerator: divide every entry of a row by the row's sum.",
       unnormalised(scores, rows, cols)},
  };
  expect_close(test_case, out, exercise::softmax(x, rows, cols));
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "softmax", [] {
    Generator gen(2);
    const float inf = std::numeric_limits<float>::infinity();

    // 1. Small scores: the formula itself.
    check({1, 3, "small scores: x [2, 5] uniform in [-3, 3)"}, uniform_values({2, 5}, -3, 3, gen),
          2, 5, "out[r, c] = exp(x[r, c]) / sum_j exp(x[r, j]): every row of out sums to 1.");

    // 2. Large scores: exp(1000) = inf (inf / inf = nan), exp(-1000) = 0 (0 / 0 = nan).
    std::vector<float> large = uniform_values({3, 4}, -5, 5, gen);  // x [3, 4]
    for (int c = 0; c < 4; ++c) {
      large[0 * 4 + c] += 1000.0f;
      large[1 * 4 + c] -= 1000.0f;
    }
    check(
        {2, 3, "scores around +1000 (row 0) and -1000 (row 1), row 2 small: x [3, 4]"}, large, 3, 4,
        "did you subtract the row max? In float exp(1000) overflows to inf (inf / inf = nan)\n"
        "and exp(-1000) underflows to 0 (0 / 0 = nan); softmax(x) = softmax(x - max) avoids both.");

    // 3. Masked scores: a -inf score gets probability exactly 0.
    std::vector<float> masked = uniform_values({3, 6}, -2, 2, gen);  // x [3, 6]
    masked[0 * 6 + 1] = masked[0 * 6 + 4] = -inf;
    for (int c = 1; c < 6; ++c) masked[1 * 6 + c] = -inf;  // row 1: only score 0 is allowed
    check({3, 3, "rows with -inf scores (masked positions): x [3, 6]"}, masked, 3, 6,
          "a -inf score must get probability exactly 0 (exp(-inf) = 0), and a row with a single\n"
          "finite score puts all its probability there (1).");
  });
}
