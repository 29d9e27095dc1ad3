// Checker of tutorials/exercises/stubs/positional_encoding.cpp: exercise::positional_encoding
// against the formula in float64 (plain loops; nn::sinusoidal_positional_encoding computes the
// same), for a small table, an odd dim and a long table.
#include <cmath>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::vector<float> positional_encoding(int max_len, int dim);  // the learner's
}

using namespace exercise_check;

namespace {

// PE [max_len, dim] with feature j at `exponent(j)` and sin/cos chosen by `is_sin(j)`: the formula
// (exponent 2 * (j / 2) / dim, sin for even j) and the usual wrong variants of it.
template <typename Exponent, typename IsSin>
std::vector<double> variant(int max_len, int dim, Exponent exponent, IsSin is_sin) {
  std::vector<double> table(max_len * dim);
  for (int pos = 0; pos < max_len; ++pos)
    for (int j = 0; j < dim; ++j) {
      double angle = pos * std::pow(10000.0, -exponent(j));
      table[pos * dim + j] = is_sin(j) ? std::sin(angle) : std::cos(angle);
    }
  return table;
}

void check(const Case& test_case, int max_len, int dim, const std::string& hint) {
  auto pair_exponent = [dim](int j) { return 2.0 * (j / 2) / dim; };
  auto even_is_sin = [](int j) { return j % 2 == 0; };
  Output table{.name = "PE",
               .shape = {max_len, dim},
               .expected = variant(max_len, dim, pair_exponent, even_is_sin),
               .hint = hint,
               .atol = 1e-4};
  table.mistakes = {
      {"each feature with its own frequency (2i and 2i + 1 must share one)",
       "features 2i and 2i + 1 share one frequency: the exponent of feature j is 2 * (j / 2) / "
       "dim\n"
       "(integer division), not j / dim.",
       variant(
           max_len, dim, [dim](int j) { return double(j) / dim; }, even_is_sin)},
      {"sin and cos swapped",
       "sin and cos are swapped: even features (2i) are sin, odd ones (2i + 1) cos.",
       variant(max_len, dim, pair_exponent, [](int j) { return j % 2 == 1; })},
      {"sin half and cos half instead of interleaved",
       "sin and cos interleave (feature 2i sin, 2i + 1 cos, same frequency); they are not a first\n"
       "half of sines and a second half of cosines.",
       variant(
           max_len, dim, [dim](int j) { return 2.0 * (j % ((dim + 1) / 2)) / dim; },
           [dim](int j) { return j < (dim + 1) / 2; })},
  };
  expect_close(test_case, table, exercise::positional_encoding(max_len, dim));
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "positional_encoding", [] {
    const std::string formula =
        "PE[pos, 2i] = sin(pos * w_i), PE[pos, 2i + 1] = cos(pos * w_i), w_i = 10000^(-2i / dim).";
    check({1, 3, "max_len 6, dim 8"}, 6, 8, formula);
    check({2, 3, "an odd dim: max_len 5, dim 7"}, 5, 7,
          formula +
              "\nWith dim odd the last feature j = dim - 1 is a sin, of frequency w_{(dim-1)/2}.");
    check({3, 3, "a long table: max_len 64, dim 16"}, 64, 16,
          formula +
              "\nThe angle pos * w_i reaches 63 radians here; compute it in float or double,\n"
              "the checker allows 1e-4.");
  });
}
