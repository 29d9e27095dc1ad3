// Checker of tutorials/exercises/softmax_backward.cpp: exercise::softmax_backward against the
// gradient autograd computes through autograd::softmax (in float64), on random rows and on rows
// with a saturated (nearly one-hot) softmax.
#include <string>
#include <vector>

#include "autograd/autograd.hpp"
#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::vector<float> softmax_backward(const std::vector<float>& dout, const std::vector<float>& out,
                                    int rows, int cols);  // the learner's
}

using namespace exercise_check;
using autograd::Tensor;

namespace {

// Runs softmax forward on x [rows, cols] and backward from dout with autograd, then calls the
// learner's backward with the forward's output and compares the gradients.
void check(const Case& test_case, const std::vector<float>& x, const std::vector<float>& dout,
           int rows, int cols, const std::string& hint) {
  Tensor scores(as_array(x, {rows, cols}), /*requires_grad=*/true);
  Tensor probabilities = autograd::softmax(scores, -1);
  probabilities.backward(Tensor(as_array(dout, {rows, cols})));
  std::vector<float> out = probabilities.to_vector<float>();  // what the forward saved

  tensor::Array s = probabilities.data(), g = as_array(dout, {rows, cols});
  Output dx{.name = "dx",
            .shape = {rows, cols},
            .expected = values_of(scores.grad().data()),
            .hint = hint,
            .atol = 1e-5};
  dx.mistakes = {
      {"only the diagonal of the Jacobian",
       "you kept only the diagonal of the Jacobian, out[i] (1 - out[i]) dout[i]: every x[i] moves\n"
       "every out[j] of its row (they share the denominator). dx = out * (dout - sum_j dout[j] "
       "out[j]).",
       values_of(s * (1.0 - s) * g)},
      {"dot product summed over the wrong axis",
       "the dot product sum_j dout[j] out[j] belongs to one row: sum over the columns of row r\n"
       "only, not over the whole array.",
       values_of(s * (g - tensor::sum(g * s)))},
      {"missing the factor out[i]",
       "dx = out * (dout - dot), not dout - dot: multiply by out[i] as well.",
       values_of(g - tensor::sum(g * s, {-1}, /*keepdim=*/true))},
  };
  expect_close(test_case, dx, exercise::softmax_backward(dout, out, rows, cols));
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "softmax_backward", [] {
    tensor::Generator gen(12);
    const std::string formula =
        "dx[i] = out[i] * (dout[i] - sum_j dout[j] * out[j]), the sum over the row.";

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
