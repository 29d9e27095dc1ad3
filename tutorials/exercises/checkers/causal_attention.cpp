// Checker of tutorials/exercises/stubs/causal_attention.cpp: exercise::causal_attention against
// plain loops in float64 (exercise_check::attention_rows with the causal mask), on one sequence,
// a batch of 2 and scores large enough to overflow exp in float.
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::vector<float> causal_attention(const std::vector<float>& q, const std::vector<float>& k,
                                    const std::vector<float>& v, int B, int T,
                                    int D);  // the learner's
}

using namespace exercise_check;

namespace {

// out [B, T, D] = attention of each sequence with `scale` and keys `blocked(i, j)` removed before
// the softmax, or, with `mask_after_softmax`, softmax over every key and the blocked weights then
// set to 0 (rows no longer summing to 1).
std::vector<double> attention(const std::vector<float>& q, const std::vector<float>& k,
                              const std::vector<float>& v, int B, int T, int D, double scale,
                              const std::function<bool(int, int)>& blocked,
                              bool mask_after_softmax = false) {
  std::vector<double> out;
  for (int b = 0; b < B; ++b) {
    auto slice = [&](const std::vector<float>& x) {  // sequence b: [T, D]
      return std::vector<double>(x.begin() + b * T * D, x.begin() + (b + 1) * T * D);
    };
    std::vector<double> qb = slice(q), kb = slice(k), vb = slice(v), ob;
    if (!mask_after_softmax) {
      ob = attention_rows(qb, kb, vb, T, T, D, D, scale, blocked);
    } else {
      // Query i alone, softmax over every key, against v with the blocked rows zeroed: the
      // blocked keys keep their share of the probability but contribute nothing.
      ob.assign(T * D, 0.0);
      for (int i = 0; i < T; ++i) {
        std::vector<double> qi(qb.begin() + i * D, qb.begin() + (i + 1) * D);  // [1, D]
        std::vector<double> v_seen = vb;                                       // [T, D]
        for (int j = 0; j < T; ++j)
          if (blocked(i, j)) std::fill(v_seen.begin() + j * D, v_seen.begin() + (j + 1) * D, 0.0);
        std::vector<double> row = attention_rows(qi, kb, v_seen, 1, T, D, D, scale);  // [1, D]
        std::copy(row.begin(), row.end(), ob.begin() + i * D);
      }
    }
    out.insert(out.end(), ob.begin(), ob.end());
  }
  return out;
}

// Calls the learner's attention on q, k, v [B, T, D] and compares with the loops above.
void check(const Case& test_case, const std::vector<float>& q, const std::vector<float>& k,
           const std::vector<float>& v, int B, int T, int D, const std::string& hint) {
  const double scale = 1.0 / std::sqrt(double(D));
  auto future = [](int i, int j) { return j > i; };
  Output out{.name = "out",
             .shape = {B, T, D},
             .expected = attention(q, k, v, B, T, D, scale, future),
             .hint = hint};
  out.mistakes = {
      {"mask applied after softmax (zeroed, not renormalised)",
       "you zeroed the future's weights after the softmax, so row i sums to less than 1: the\n"
       "future keys still took their share of the probability. Keep them out of the softmax\n"
       "itself (score -inf before it, or a loop over j <= i only).",
       attention(q, k, v, B, T, D, scale, future, /*mask_after_softmax=*/true)},
      {"missing 1/sqrt(D) scale", "scores = Q K^T / sqrt(D), before the softmax.",
       attention(q, k, v, B, T, D, 1.0, future)},
      {"causal mask ignored (every position sees the future)",
       "position i may attend only to j <= i: a decoder must not read the tokens it predicts.",
       attention(q, k, v, B, T, D, scale, {})},
      {"the wrong triangle masked (the past blocked instead of the future)",
       "block the keys j > i (the future), keep j <= i: row 0 sees only position 0.",
       attention(q, k, v, B, T, D, scale, [](int i, int j) { return j < i; })},
  };
  expect_close(test_case, out, exercise::causal_attention(q, k, v, B, T, D));
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "causal_attention", [] {
    Generator gen(21);

    // 1. One sequence.
    check({1, 3, "one sequence: q, k, v [1, 4, 3]"}, normal_values({1, 4, 3}, 0, 1, gen),
          normal_values({1, 4, 3}, 0, 1, gen), normal_values({1, 4, 3}, 0, 1, gen), 1, 4, 3,
          "row i: weights = softmax over j <= i of q_i . k_j / sqrt(D); so out[0] = v[0].");

    // 2. A batch: each sequence attends within itself.
    check({2, 3, "a batch of 2: q, k, v [2, 5, 4]"}, normal_values({2, 5, 4}, 0, 1, gen),
          normal_values({2, 5, 4}, 0, 1, gen), normal_values({2, 5, 4}, 0, 1, gen), 2, 5, 4,
          "sequence b starts at offset b * T * D in q, k, v and out.");

    // 3. Scores near 100: exp overflows float unless the row max is subtracted.
    check({3, 3, "large scores (q, k with std 6): q, k, v [1, 6, 8]"},
          normal_values({1, 6, 8}, 0, 6, gen), normal_values({1, 6, 8}, 0, 6, gen),
          normal_values({1, 6, 8}, 0, 1, gen), 1, 6, 8,
          "scores here reach about 100 and exp(100) is inf in float: subtract each row's max\n"
          "(over the allowed keys) before exp.");
  });
}
