// Checker of tutorials/exercises/stubs/top_p.cpp: exercise::top_p against plain loops in float64
// (sort by probability, ties by index; keep until the running sum reaches p; renormalise), on
// hand-made rows (a token that crosses p, a sum that reaches p exactly, a tie), p near 0 (one
// token) and p = 1 (every token), and random distributions over 50 tokens.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::vector<float> top_p(const std::vector<float>& probs, int rows, int V, float p);  // the learner's
}

using namespace exercise_check;

namespace {

// What a nucleus rule keeps: the tokens of each row, visited in `order`, kept while `keep_next`
// says so given the sum kept so far and the next token's probability.
enum class Visit { by_probability, by_index };
enum class Stop { reaches_p, exceeds_p, before_crossing };

std::vector<double> nucleus(const std::vector<double>& probs, int rows, int V, double p,
                            Visit visit, Stop stop, bool renormalise) {
  std::vector<double> out(probs.size(), 0.0);
  for (int r = 0; r < rows; ++r) {
    const double* row = &probs[std::size_t(r) * V];
    double* out_row = &out[std::size_t(r) * V];
    std::vector<int> order(V);
    std::iota(order.begin(), order.end(), 0);
    if (visit == Visit::by_probability)  // most likely first, a tie in index order
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return row[a] > row[b]; });
    double kept = 0;
    for (int i : order) {
      if (stop == Stop::before_crossing && kept + row[i] > p) break;
      out_row[i] = row[i];
      kept += row[i];
      if (stop == Stop::reaches_p && kept >= p) break;
      if (stop == Stop::exceeds_p && kept > p) break;
    }
    if (renormalise)
      for (int v = 0; v < V; ++v) out_row[v] /= kept;  // 0 / 0 = nan when nothing was kept
  }
  return out;
}

// Random distributions [rows, V] (softmax of normal scores), as floats. Throws when a running
// sum lands within 1e-4 of p, where float and double could disagree about "reaches p".
std::vector<float> random_distributions(int rows, int V, double spread, double p, Generator& gen) {
  std::vector<double> scores = as_doubles(normal_values({rows, V}, 0.0, spread, gen));
  std::vector<double> probs = softmax_rows(scores, rows, V);
  std::vector<float> values(probs.begin(), probs.end());
  for (int r = 0; r < rows && p < 1; ++r) {  // p = 1 keeps every token: no boundary to miss
    std::vector<double> row(values.begin() + r * V, values.begin() + (r + 1) * V);
    std::sort(row.rbegin(), row.rend());
    double running = 0;
    for (double x : row)
      if (std::fabs((running += x) - p) < 1e-4)
        throw std::logic_error("top_p checker: a random case sits on the boundary; change its seed");
  }
  return values;
}

void check(const Case& test_case, const std::vector<float>& probs, int rows, int V, float p,
           const std::string& hint) {
  std::vector<double> x = as_doubles(probs);
  const double target = p;
  Output out{.name = "out",
             .shape = {rows, V},
             .expected = nucleus(x, rows, V, target, Visit::by_probability, Stop::reaches_p, true),
             .hint = hint};
  out.mistakes = {
      {"the token that crosses p left out (kept only tokens whose sum stays <= p)",
       "the nucleus is the smallest set whose probability reaches p. Stopping before the token\n"
       "that would take the sum past p leaves the set short of p (and empty when the most likely\n"
       "token alone is above p): keep that token, then stop.",
       nucleus(x, rows, V, target, Visit::by_probability, Stop::before_crossing, true)},
      {"kept probabilities not renormalised (the row sums to less than 1)",
       "after cutting, the kept probabilities add up to some mass between p and 1: divide each\n"
       "by that mass so the row is a distribution again.",
       nucleus(x, rows, V, target, Visit::by_probability, Stop::reaches_p, false)},
      {"tokens visited in index order, not from the most likely down",
       "the nucleus holds the MOST LIKELY tokens: sort the indices by probability (largest\n"
       "first) and walk that order, not 0, 1, 2, ...",
       nucleus(x, rows, V, target, Visit::by_index, Stop::reaches_p, true)},
      {"stopped only once the sum exceeds p (> instead of >=)",
       "a sum equal to p already reaches p: the smallest such set is complete. Stop when the\n"
       "running sum is >= p.",
       nucleus(x, rows, V, target, Visit::by_probability, Stop::exceeds_p, true)},
  };
  expect_close(test_case, out, exercise::top_p(probs, rows, V, p));
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "top_p", [] {
    Generator gen(25);

    // 1. Hand-made rows, p = 0.7. Row 0 sorted: 0.35, 0.25 (0.60, short of 0.7), 0.15 (0.75:
    //    crosses 0.7, kept) -> tokens 1, 3, 4. Row 1: 0.5, 0.3 (0.8) -> tokens 2, 4.
    check({1, 5, "hand-made rows [2, 6], p = 0.7: the third most likely token crosses p in row 0"},
          {0.10f, 0.35f, 0.05f, 0.25f, 0.15f, 0.10f,  //
           0.02f, 0.03f, 0.50f, 0.05f, 0.30f, 0.10f},
          2, 6, 0.7f,
          "sort the tokens by probability, keep them from the top until their sum is >= p, set\n"
          "the others to 0 and divide the kept ones by their sum. Row 0 keeps tokens 1, 3 and 4.");

    // 2. Sums that reach p exactly (exact in binary), and a tie: row 1 is 9/16, then 3/16 at
    //    tokens 0 and 2: 9/16 + 3/16 = 0.75 = p, so only token 0 of the tie joins (lower index).
    check({2, 5, "a sum equal to p and a tie, p = 0.75: rows [2, 4] of sixteenths"},
          {0.125f, 0.5f, 0.125f, 0.25f,  //
           0.1875f, 0.0625f, 0.1875f, 0.5625f},
          2, 4, 0.75f,
          "when the running sum equals p exactly the nucleus is complete (>= p). Of two equally\n"
          "likely tokens, the one with the smaller index comes first: row 1 keeps tokens 3 and 0.");

    // 3. p near 0: the most likely token alone reaches it: top-p becomes greedy (one-hot).
    check({3, 5, "p = 0.01 on random distributions [3, 5]: only the most likely token is kept"},
          random_distributions(3, 5, 1.0, 0.01, gen), 3, 5, 0.01f,
          "the most likely token alone already reaches a small p: the row becomes 1 at its argmax\n"
          "and 0 elsewhere. The nucleus is never empty.");

    // 4. p = 1: every token is kept, the distribution comes back unchanged.
    check({4, 5, "p = 1 on random distributions [2, 7]: nothing is cut"},
          random_distributions(2, 7, 1.0, 1.0, gen), 2, 7, 1.0f,
          "with p = 1 every token is needed to reach p (and float sums may stop just short of\n"
          "1): the rows come back as they were.");

    // 5. Many tokens: a peaked distribution over 50, p = 0.9.
    check({5, 5, "p = 0.9 on random distributions [3, 50]"},
          random_distributions(3, 50, 2.0, 0.9, gen), 3, 50, 0.9f,
          "sort each row's 50 probabilities (largest first), keep them until the sum reaches 0.9,\n"
          "renormalise.");
  });
}
