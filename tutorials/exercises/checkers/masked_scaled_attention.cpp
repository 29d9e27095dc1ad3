// Checker of tutorials/exercises/stubs/masked_scaled_attention.cpp:
// exercise::masked_scaled_attention against plain loops in float64 (exercise_check::attention_rows
// with the mask), on a causal mask, a padding mask over a batch, and a random mask with a fully
// masked query.
#include <cmath>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::vector<float> masked_scaled_attention(const std::vector<float>& q, const std::vector<float>& k,
                                           const std::vector<float>& v,
                                           const std::vector<bool>& mask, int B, int Tq, int Tk,
                                           int D, int Dv);  // the learner's
}

using namespace exercise_check;

namespace {

// `values` [B, Tq, Dv] with the rows of the fully masked queries replaced by `row(b)` [Dv].
template <typename RowFn>
std::vector<double> with_fully_masked_rows(std::vector<double> values,
                                           const std::vector<bool>& mask, int B, int Tq, int Tk,
                                           int Dv, RowFn row) {
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < Tq; ++i) {
      bool all_blocked = true;
      for (int j = 0; j < Tk; ++j) all_blocked = all_blocked && mask[(b * Tq + i) * Tk + j];
      if (!all_blocked) continue;
      std::vector<double> replacement = row(b);
      for (int e = 0; e < Dv; ++e) values[(b * Tq + i) * Dv + e] = replacement[e];
    }
  return values;
}

// out [B, Tq, Dv] when the mask is applied after the softmax: softmax over every key, then the
// blocked weights set to 0 and the rest left as they are (rows no longer sum to 1).
std::vector<double> mask_after_softmax(const std::vector<float>& q, const std::vector<float>& k,
                                       const std::vector<float>& v, const std::vector<bool>& mask,
                                       int B, int Tq, int Tk, int D, int Dv) {
  std::vector<double> out(static_cast<std::size_t>(B) * Tq * Dv, 0.0);
  for (int b = 0; b < B; ++b) {
    std::vector<double> scores(Tq * Tk);  // [Tq, Tk]
    for (int i = 0; i < Tq; ++i)
      for (int j = 0; j < Tk; ++j) {
        double dot = 0.0;
        for (int d = 0; d < D; ++d)
          dot += double(q[(b * Tq + i) * D + d]) * k[(b * Tk + j) * D + d];
        scores[i * Tk + j] = dot / std::sqrt(double(D));
      }
    std::vector<double> weights = softmax_rows(scores, Tq, Tk);  // [Tq, Tk]
    for (int i = 0; i < Tq; ++i)
      for (int j = 0; j < Tk; ++j) {
        if (mask[(b * Tq + i) * Tk + j]) continue;  // blocked: weight zeroed
        for (int e = 0; e < Dv; ++e)
          out[(b * Tq + i) * Dv + e] += weights[i * Tk + j] * v[(b * Tk + j) * Dv + e];
      }
  }
  return out;
}

// What the mask means: blocked where true (right), ignored, or inverted.
enum class MaskUse { kBlockTrue, kIgnore, kBlockFalse };

// out [B, Tq, Dv]: per sequence, softmax(scale * Q K^T over the keys the mask allows) V; a query
// with every key blocked gets 0.
std::vector<double> attention(const std::vector<float>& q, const std::vector<float>& k,
                              const std::vector<float>& v, const std::vector<bool>& mask, int B,
                              int Tq, int Tk, int D, int Dv, double scale, MaskUse use) {
  std::vector<double> out;
  for (int b = 0; b < B; ++b) {
    auto rows = [&](const std::vector<float>& x, int count, int width) {  // sequence b's rows
      return std::vector<double>(x.begin() + b * count * width,
                                 x.begin() + (b + 1) * count * width);
    };
    auto blocked = [&](int i, int j) {
      const bool flag = mask[(b * Tq + i) * Tk + j];
      return use == MaskUse::kBlockTrue ? flag : use == MaskUse::kBlockFalse ? !flag : false;
    };
    std::vector<double> ob = attention_rows(rows(q, Tq, D), rows(k, Tk, D), rows(v, Tk, Dv), Tq, Tk,
                                            D, Dv, scale, blocked);
    out.insert(out.end(), ob.begin(), ob.end());
  }
  return out;
}

// Calls the learner's attention and compares with the loops above.
void check(const Case& test_case, const std::vector<float>& q, const std::vector<float>& k,
           const std::vector<float>& v, const std::vector<bool>& mask, int B, int Tq, int Tk, int D,
           int Dv, const std::string& hint) {
  const double scale = 1.0 / std::sqrt(double(D));
  auto computed = [&](double with_scale, MaskUse use) {
    return attention(q, k, v, mask, B, Tq, Tk, D, Dv, with_scale, use);
  };
  Output out{.name = "out",
             .shape = {B, Tq, Dv},
             .expected = computed(scale, MaskUse::kBlockTrue),
             .hint = hint};
  // Filling with -1e9 (in float, -1e9 + score rounds to -1e9): a fully masked row is uniform.
  auto mean_of_values = [&](int b) {
    std::vector<double> mean(Dv, 0.0);
    for (int j = 0; j < Tk; ++j)
      for (int e = 0; e < Dv; ++e) mean[e] += v[(b * Tk + j) * Dv + e] / Tk;
    return mean;
  };
  out.mistakes = {
      {"mask applied after softmax (zeroed, not renormalised)",
       "zeroing the blocked weights after the softmax leaves each row summing to less than 1:\n"
       "the blocked keys still took their share of the probability. Block before the softmax\n"
       "(score -inf, so exp gives exactly 0) and the softmax shares it among the allowed keys.",
       mask_after_softmax(q, k, v, mask, B, Tq, Tk, D, Dv)},
      {"missing 1/sqrt(D) scale",
       "did you divide the scores by sqrt(D)? scores = Q K^T / sqrt(D), before the mask and "
       "softmax.",
       computed(1.0, MaskUse::kBlockTrue)},
      {"mask ignored",
       "the mask was ignored: where mask[b, i, j] is true key j is blocked for query i, so its\n"
       "score must be -inf before the softmax (weight exactly 0).",
       computed(scale, MaskUse::kIgnore)},
      {"mask inverted (true taken as allowed)",
       "the mask is inverted: true means BLOCKED (PyTorch's bool convention), false allowed.",
       computed(scale, MaskUse::kBlockFalse)},
      {"a fully masked row gives NaN",
       "a query whose every key is blocked has max score -inf, and exp(-inf - (-inf)) is nan:\n"
       "give that row weights 0, so its output is 0 (this library's convention, nn/attention.hpp).",
       with_fully_masked_rows(out.expected, mask, B, Tq, Tk, Dv,
                              [&](int) { return std::vector<double>(Dv, std::nan("")); })},
      {"a fully masked row averages the values (-1e9 fill)",
       "a fully masked query averaged every value: filling blocked scores with a large negative\n"
       "number (-1e9) instead of -inf makes that row uniform. Use -inf and give a row with every\n"
       "key blocked weights 0 and output 0 (this library's convention, nn/attention.hpp).",
       with_fully_masked_rows(out.expected, mask, B, Tq, Tk, Dv, mean_of_values)},
  };
  expect_close(test_case, out, exercise::masked_scaled_attention(q, k, v, mask, B, Tq, Tk, D, Dv));
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "masked_scaled_attention", [] {
    Generator gen(6);

    // 1. Causal: query i may see keys j <= i.
    std::vector<bool> causal(4 * 4);
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) causal[i * 4 + j] = j > i;
    check({1, 3, "causal mask (true where key j > query i): q, k [1, 4, 8], v [1, 4, 3]"},
          normal_values({1, 4, 8}, 0, 1, gen), normal_values({1, 4, 8}, 0, 1, gen),
          normal_values({1, 4, 3}, 0, 1, gen), causal, 1, 4, 4, 8, 3,
          "out = weights V, each query's weights a softmax of Q K^T / sqrt(D) over its allowed\n"
          "keys; under a causal mask query 0 sees only key 0, so out[0, 0, :] = v[0, 0, :].");

    // 2. Padding: sequence 0 has 3 real keys of 5, sequence 1 has 4.
    const int lengths[2] = {3, 4};
    std::vector<bool> padding(2 * 3 * 5);
    for (int b = 0; b < 2; ++b)
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 5; ++j) padding[(b * 3 + i) * 5 + j] = j >= lengths[b];
    check(
        {2, 3, "padding mask, key lengths 3 and 4 of 5: q [2, 3, 4], k [2, 5, 4], v [2, 5, 2]"},
        normal_values({2, 3, 4}, 0, 1, gen), normal_values({2, 5, 4}, 0, 1, gen),
        normal_values({2, 5, 2}, 0, 1, gen), padding, 2, 3, 5, 4, 2,
        "mask[b, i, j] is mask[(b * Tq + i) * Tk + j]; padded keys (j >= length) get weight 0,\n"
        "and each sequence b uses its own q, k, v at offsets b * Tq * D, b * Tk * D, b * Tk * Dv.");

    // 3. A random mask, and query 2 of sequence 1 with every key blocked.
    std::vector<bool> random_mask(2 * 3 * 4);
    std::vector<float> coin = uniform_values({2, 3, 4}, 0, 1, gen);
    for (std::size_t n = 0; n < random_mask.size(); ++n) random_mask[n] = coin[n] < 0.4f;
    for (int j = 0; j < 4; ++j) random_mask[(1 * 3 + 2) * 4 + j] = true;
    random_mask[(0 * 3 + 0) * 4 + 0] = false;  // every other query keeps at least one key
    random_mask[(0 * 3 + 1) * 4 + 1] = false;
    random_mask[(0 * 3 + 2) * 4 + 2] = false;
    random_mask[(1 * 3 + 0) * 4 + 3] = false;
    random_mask[(1 * 3 + 1) * 4 + 0] = false;
    check({3, 3, "random mask, query [1, 2] fully masked: q [2, 3, 6], k [2, 4, 6], v [2, 4, 5]"},
          normal_values({2, 3, 6}, 0, 1, gen), normal_values({2, 4, 6}, 0, 1, gen),
          normal_values({2, 4, 5}, 0, 1, gen), random_mask, 2, 3, 4, 6, 5,
          "blocked keys get weight exactly 0; a query with every key blocked gets output 0.");
  });
}
