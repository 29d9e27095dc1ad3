// Checker of tutorials/exercises/stubs/dot_product_attention.cpp: exercise::dot_product_attention
// against plain loops in float64 on a case with Tk = D (where K used without its transpose still
// fits, so the checker can name that mistake), the example of tutorial 03 (large scores), a case
// with every size different and a batch of 3.
#include <cmath>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::vector<float> dot_product_attention(const std::vector<float>& q, const std::vector<float>& k,
                                         const std::vector<float>& v, int B, int Tq, int Tk, int D,
                                         int Dv);  // the learner's
}

using namespace exercise_check;

namespace {

// out [B, Tq, Dv] with score[i, j] = sum_d q[i, d] * k[d, j] (k read as [D, Tk]): the answer of a
// learner who forgot the transpose; empty unless Tk = D, where that reading stays in bounds.
std::vector<double> k_not_transposed(const std::vector<float>& q, const std::vector<float>& k,
                                     const std::vector<float>& v, int B, int Tq, int Tk, int D,
                                     int Dv) {
  if (Tk != D) return {};
  std::vector<double> out;
  for (int b = 0; b < B; ++b) {
    std::vector<double> qb(q.begin() + b * Tq * D, q.begin() + (b + 1) * Tq * D);  // [Tq, D]
    std::vector<double> kt(Tk * D);  // K^T of sequence b, so that attention_rows's q k^T is q K
    for (int j = 0; j < Tk; ++j)
      for (int d = 0; d < D; ++d) kt[j * D + d] = k[b * Tk * D + d * D + j];
    std::vector<double> vb(v.begin() + b * Tk * Dv, v.begin() + (b + 1) * Tk * Dv);  // [Tk, Dv]
    std::vector<double> ob = attention_rows(qb, kt, vb, Tq, Tk, D, Dv, 1.0);
    out.insert(out.end(), ob.begin(), ob.end());
  }
  return out;
}

// How the weights come from the scores [Tq, Tk]: the right way, and two wrong ones.
enum class Weights { kSoftmaxOverKeys, kSoftmaxOverQueries, kRawScores };

// out [B, Tq, Dv] = weights(scale * Q K^T) V for each sequence.
std::vector<double> attention(const std::vector<float>& q, const std::vector<float>& k,
                              const std::vector<float>& v, int B, int Tq, int Tk, int D, int Dv,
                              double scale, Weights how) {
  std::vector<double> out(static_cast<std::size_t>(B) * Tq * Dv, 0.0);
  for (int b = 0; b < B; ++b) {
    std::vector<double> scores(Tq * Tk);  // [Tq, Tk]
    for (int i = 0; i < Tq; ++i)
      for (int j = 0; j < Tk; ++j) {
        double dot = 0.0;
        for (int d = 0; d < D; ++d)
          dot += double(q[(b * Tq + i) * D + d]) * k[(b * Tk + j) * D + d];
        scores[i * Tk + j] = scale * dot;
      }
    std::vector<double> weights =
        how == Weights::kSoftmaxOverKeys ? softmax_rows(scores, Tq, Tk)
        : how == Weights::kSoftmaxOverQueries
            ? transposed(softmax_rows(transposed(scores, Tq, Tk), Tk, Tq), Tk, Tq)
            : scores;
    for (int i = 0; i < Tq; ++i)
      for (int j = 0; j < Tk; ++j)
        for (int e = 0; e < Dv; ++e)
          out[(b * Tq + i) * Dv + e] += weights[i * Tk + j] * v[(b * Tk + j) * Dv + e];
  }
  return out;
}

// Calls the learner's attention on q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv] and compares with
// the loops above.
void check(const Case& test_case, const std::vector<float>& q, const std::vector<float>& k,
           const std::vector<float>& v, int B, int Tq, int Tk, int D, int Dv,
           const std::string& hint) {
  auto computed = [&](double scale, Weights how) {
    return attention(q, k, v, B, Tq, Tk, D, Dv, scale, how);
  };
  Output out{.name = "out",
             .shape = {B, Tq, Dv},
             .expected = computed(1.0, Weights::kSoftmaxOverKeys),
             .hint = hint};
  out.mistakes = {
      {"K not transposed (Q K instead of Q K^T)",
       "score[i, j] pairs query i with key j: sum_d q[i, d] * k[j, d] (row j of k), which is\n"
       "Q K^T. Reading k[d, j] multiplies by K itself; it only fits the shapes when Tk = D.",
       k_not_transposed(q, k, v, B, Tq, Tk, D, Dv)},
      {"scaled by 1/sqrt(D) (this exercise is unscaled)",
       "this exercise is unscaled: out = softmax(Q K^T) V, without dividing by sqrt(D)\n"
       "(the scaled version is exercise masked_scaled_attention).",
       computed(1.0 / std::sqrt(double(D)), Weights::kSoftmaxOverKeys)},
      {"softmax over the wrong axis (over the queries)",
       "softmax normalises each query's scores over the keys (the last dim of scores [Tq, Tk]),\n"
       "not over the queries.",
       computed(1.0, Weights::kSoftmaxOverQueries)},
      {"softmax forgotten (raw scores used as weights)",
       "the weights are softmax(scores), not the raw scores: apply softmax to each row first.",
       computed(1.0, Weights::kRawScores)},
  };
  expect_close(test_case, out, exercise::dot_product_attention(q, k, v, B, Tq, Tk, D, Dv));
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "dot_product_attention", [] {
    Generator gen(3);
    const std::string formula =
        "out[b, i, e] = sum_j w[j] * v[b, j, e] with w = softmax_j(sum_d q[b, i, d] * k[b, j, d]).";

    // 1. Tk = D: a forgotten transpose of K stays in bounds and gives a recognisable answer.
    check({1, 4, "q [1, 3, 4], k [1, 4, 4], v [1, 4, 2] (Tk = D = 4)"},
          normal_values({1, 3, 4}, 0, 1, gen), normal_values({1, 4, 4}, 0, 1, gen),
          normal_values({1, 4, 2}, 0, 1, gen), 1, 3, 4, 4, 2,
          "scores [Tq, Tk] = Q K^T pairs query i with key j over the D features. " + formula);

    // 2. The example of tutorial 03 (and of the article it corrects): scores up to 167.
    check({2, 4, "tutorial 03's example, scores 50 to 167: q, k, v [1, 2, 3]"}, {1, 2, 3, 4, 5, 6},
          {7, 8, 9, 10, 11, 12}, {13, 14, 15, 16, 17, 18}, 1, 2, 2, 3, 3,
          formula +
              "\nThe scores here reach 167 and exp(167) is inf in float (inf / inf = nan):\n"
              "subtract each row's max before exp.");

    // 3. Every size different: Tq 3, Tk 5, D 4, Dv 2.
    check({3, 4, "q [1, 3, 4], k [1, 5, 4], v [1, 5, 2] (Tq, Tk, D, Dv all different)"},
          normal_values({1, 3, 4}, 0, 1, gen), normal_values({1, 5, 4}, 0, 1, gen),
          normal_values({1, 5, 2}, 0, 1, gen), 1, 3, 5, 4, 2,
          "scores [Tq, Tk] = Q K^T pairs query i with key j over the D features; out [Tq, Dv]\n"
          "mixes v's rows. " +
              formula);

    // 4. A batch of 3 sequences: each attends only within itself.
    check({4, 4, "a batch: q [3, 4, 5], k [3, 6, 5], v [3, 6, 3]"},
          normal_values({3, 4, 5}, 0, 1, gen), normal_values({3, 6, 5}, 0, 1, gen),
          normal_values({3, 6, 3}, 0, 1, gen), 3, 4, 6, 5, 3,
          "sequence b reads q[(b * Tq + i) * D + d], k[(b * Tk + j) * D + d], v[(b * Tk + j) * Dv "
          "+ e]\n"
          "and writes out[(b * Tq + i) * Dv + e]; it never sees another sequence's keys.");
  });
}
