// Checker of tutorials/exercises/stubs/embedding_backward.cpp: exercise::embedding_backward against
// plain loops in float64, on ids with repeats within and across sequences and a position table
// longer than the sequences.
#include <cstdint>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
void embedding_backward(std::vector<float>& dtok, std::vector<float>& dpos,
                        const std::vector<float>& dx, const std::vector<std::int64_t>& ids, int B,
                        int T, int C, int V, int max_len);  // the learner's
}

using namespace exercise_check;

namespace {

// How the gradient of a table row read several times is formed: summed (right), assigned (the
// last read wins), or averaged.
enum class Combine { kSum, kLastWins, kMean };

// dtable [rows, C] where read n = (b, t) took row row_of(b, t).
template <typename RowOf>
std::vector<double> table_gradient(const std::vector<float>& dx, int B, int T, int C, int rows,
                                   RowOf row_of, Combine combine) {
  std::vector<double> grad(static_cast<std::size_t>(rows) * C, 0.0);
  std::vector<int> reads(rows, 0);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const int row = static_cast<int>(row_of(b, t));
      ++reads[row];
      for (int c = 0; c < C; ++c) {
        const double g = dx[(b * T + t) * C + c];
        grad[row * C + c] = combine == Combine::kLastWins ? g : grad[row * C + c] + g;
      }
    }
  if (combine == Combine::kMean)
    for (int row = 0; row < rows; ++row)
      for (int c = 0; c < C; ++c)
        if (reads[row] > 0) grad[row * C + c] /= reads[row];
  return grad;
}

void check(const Case& test_case, const std::vector<float>& dx,
           const std::vector<std::int64_t>& ids, int B, int T, int C, int V, int max_len) {
  std::vector<float> dtok(static_cast<std::size_t>(V) * C, 0.0f),
      dpos(static_cast<std::size_t>(max_len) * C, 0.0f);
  exercise::embedding_backward(dtok, dpos, dx, ids, B, T, C, V, max_len);

  auto token_of = [&](int b, int t) { return ids[b * T + t]; };
  auto position_of = [](int, int t) { return t; };
  Output dtok_out{.name = "dtok",
                  .shape = {V, C},
                  .expected = table_gradient(dx, B, T, C, V, token_of, Combine::kSum),
                  .hint =
                      "dtok[v, :] = the sum of dx[b, t, :] over every (b, t) with ids[b, t] = v;\n"
                      "a token that never occurs gets 0."};
  dtok_out.mistakes = {
      {"a repeated token's gradient overwritten instead of accumulated",
       "token ids repeat: each occurrence adds its dx to the same row of dtok (+=), as a tensor\n"
       "used twice gets both gradients; assigning keeps only the last occurrence.",
       table_gradient(dx, B, T, C, V, token_of, Combine::kLastWins)},
      {"dtok indexed by position instead of by token id",
       "the forward read row ids[b, t] of tok_emb, so the gradient goes back to that row.",
       T <= V ? table_gradient(dx, B, T, C, V, position_of, Combine::kSum) : std::vector<double>{}},
  };
  expect_close(test_case, dtok_out, dtok);

  Output dpos_out{.name = "dpos",
                  .shape = {max_len, C},
                  .expected = table_gradient(dx, B, T, C, max_len, position_of, Combine::kSum),
                  .hint = "dpos[t, :] = sum over the batch of dx[b, t, :]; rows t >= T stay 0."};
  dpos_out.mistakes = {
      {"the position gradient overwritten per sequence instead of summed over the batch",
       "every sequence of the batch reads pos_emb[t]: dpos[t] collects all B contributions (+=).",
       table_gradient(dx, B, T, C, max_len, position_of, Combine::kLastWins)},
      {"the position gradient averaged over the batch instead of summed",
       "the loss adds up the sequences' contributions; nothing divides by B here.",
       table_gradient(dx, B, T, C, max_len, position_of, Combine::kMean)},
  };
  expect_close(test_case, dpos_out, dpos);
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "embedding_backward", [] {
    Generator gen(61);

    // 1. Token 1 three times in sequence 0 and once in sequence 1; token 2 never.
    check({1, 3, "ids [[1, 3, 1, 1], [4, 1, 0, 3]]: dx [2, 4, 3], V 5, max_len 6"},
          normal_values({2, 4, 3}, 0, 1, gen), {1, 3, 1, 1, 4, 1, 0, 3}, 2, 4, 3, 5, 6);

    // 2. Random ids over a small vocabulary: repeats everywhere.
    std::vector<float> coin = uniform_values({3, 5}, 0, 7, gen);
    std::vector<std::int64_t> ids(coin.begin(), coin.end());  // truncation: ids in 0..6
    check({2, 3, "random ids in [0, 7): ids [3, 5], dx [3, 5, 2], V 7, max_len 5"},
          normal_values({3, 5, 2}, 0, 1, gen), ids, 3, 5, 2, 7, 5);

    // 3. One sequence, every token the same.
    check({3, 3, "one sequence of one token repeated: ids [[2, 2, 2]], dx [1, 3, 4], V 3"},
          normal_values({1, 3, 4}, 0, 1, gen), {2, 2, 2}, 1, 3, 4, 3, 8);
  });
}
