// Checker of tutorials/exercises/stubs/softmax_backward.cpp: exercise::softmax_backward against
// the gradient through the full Jacobian in float64 (plain loops, the formula the task states),
// on random rows and on rows with a saturated (nearly one-hot) softmax.
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::vector<float> softmax_backward(const std::vector<float>& dout, const std::vector<float>& out,
                                    int rows, int cols);  // the learner's
}

using namespace exercise_check;

namespace {

// dx [rows, cols] from dout and s = softmax(x): the full Jacobian when `full` (right), or its
// diagonal alone; `dot_per_row` false sums dout * s over the whole array instead of one row, and
// `times_s` false leaves out the factor s[i] of dx = s * (dout - dot).
std::vector<double> gradient(const std::vector<double>& dout, const std::vector<double>& s,
                             int rows, int cols, bool full = true, bool dot_per_row = true,
                             bool times_s = true) {
  std::vector<double> dx(dout.size(), 0.0);
  double dot_all = 0.0;
  for (std::size_t n = 0; n < dout.size(); ++n) dot_all += dout[n] * s[n];
  for (int r = 0; r < rows; ++r) {
    const double* g = &dout[r * cols];  // [cols]
    const double* p = &s[r * cols];     // [cols]
    double dot = 0.0;
    for (int j = 0; j < cols; ++j) dot += g[j] * p[j];
    for (int i = 0; i < cols; ++i) {
      double& out = dx[r * cols + i];
      if (!full) {
        out = p[i] * (1 - p[i]) * g[i];
      } else if (dot_per_row && times_s) {
        // dx[i] = sum_j dout[j] * d s[j] / d x[i] = sum_j dout[j] * s[j] * (delta_ij - s[i])
        for (int j = 0; j < cols; ++j) out += g[j] * p[j] * ((i == j ? 1.0 : 0.0) - p[i]);
      } else if (!dot_per_row) {
        out = p[i] * (g[i] - dot_all);
      } else {
        out = g[i] - dot;
      }
    }
  }
  return dx;
}

// Calls the learner's backward with dout and out = softmax(x) (in float, as a forward would have
// saved it) and compares dx with the Jacobian's.
void check(const Case& test_case, const std::vector<float>& x, const std::vector<float>& dout,
           int rows, int cols, const std::string& hint) {
  std::vector<double> probabilities = softmax_rows(as_doubles(x), rows, cols);  // [rows, cols]
  std::vector<float> out(probabilities.begin(), probabilities.end());  // what the forward saved
  std::vector<double> s = as_doubles(out), g = as_doubles(dout);
  Output dx{.name = "dx",
            .shape = {rows, cols},
            .expected = gradient(g, s, rows, cols),
            .hint = hint,
            .atol = 1e-5};
  dx.mistakes = {
      {"only the diagonal of the Jacobian",
       "you kept only the diagonal of the Jacobian, out[i] (1 - out[i]) dout[i]: every x[i] moves\n"
       "every out[j] of its row (they share the denominator), so the terms j != i count too.",
       gradient(g, s, rows, cols, /*full=*/false)},
      {"dot product summed over the wrong axis",
       "the sum over j of dout[j] out[j] belongs to one row: sum over the columns of row r\n"
       "only, not over the whole array.",
       gradient(g, s, rows, cols, true, /*dot_per_row=*/false)},
      {"missing the factor out[i]",
       "dx = out * (dout - dot), not dout - dot: multiply by out[i] as well.",
       gradient(g, s, rows, cols, true, true, /*times_s=*/false)},
  };
  expect_close(test_case, dx, exercise::softmax_backward(dout, out, rows, cols));
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "softmax_backward", [] {
    Generator gen(12);
    const std::string formula =
        "dx[i] = sum_j dout[j] * out[j] * (delta_ij - out[i]), within one row: work out one row\n"
        "by hand from this formula and compare it with yours.";

    // 1. Random rows.
    check({1, 2, "random rows: x, dout [3, 5]"}, normal_values({3, 5}, 0, 1, gen),
          normal_values({3, 5}, 0, 1, gen), 3, 5, formula);

    // 2. Row 1 saturated: one score far above the others, so out is nearly one-hot and dx ~ 0.
    std::vector<float> x = normal_values({4, 7}, 0, 1, gen);
    x[1 * 7 + 3] += 12.0f;
    check({2, 2, "row 1 nearly one-hot (saturated softmax): x, dout [4, 7]"}, x,
          normal_values({4, 7}, 0, 1, gen), 4, 7,
          formula + "\nA saturated row (out nearly one-hot) gets a gradient close to 0.");
  });
}
