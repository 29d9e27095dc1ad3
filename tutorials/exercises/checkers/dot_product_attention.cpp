// Checker of tutorials/exercises/dot_product_attention.cpp: exercise::dot_product_attention against
// nn::dot_product_attention on the example of tutorial 03 (large scores), a non-square case and
// a batch of 3.
#include <string>
#include <vector>

#include "nn/attention.hpp"
#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::vector<float> dot_product_attention(const std::vector<float>& q, const std::vector<float>& k,
                                         const std::vector<float>& v, int B, int Tq, int Tk, int D,
                                         int Dv);  // the learner's
}

using namespace exercise_check;
using autograd::Tensor;

namespace {

// Calls the learner's attention on q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv] and compares with
// the library's.
void check(const Case& test_case, const std::vector<float>& q, const std::vector<float>& k,
           const std::vector<float>& v, int B, int Tq, int Tk, int D, int Dv,
           const std::string& hint) {
  Tensor query(as_array(q, {B, Tq, D})), key(as_array(k, {B, Tk, D})),
      value(as_array(v, {B, Tk, Dv}));
  Output out{.name = "out",
             .shape = {B, Tq, Dv},
             .expected = values_of(nn::dot_product_attention(query, key, value).output.data()),
             .hint = hint};
  tensor::Array scores = tensor::matmul(query.data(), key.data().transpose(1, 2));  // [B, Tq, Tk]
  out.mistakes = {
      {"this exercise is unscaled: out = softmax(Q K^T) V, without dividing by sqrt(D)\n"
       "(the scaled version is exercise masked_scaled_attention).",
       values_of(nn::scaled_dot_product_attention(query, key, value).output.data())},
      {"softmax normalises each query's scores over the keys (the last dim of scores [Tq, Tk]),\n"
       "not over the queries.",
       values_of(tensor::matmul(tensor::softmax(scores, 1), value.data()))},
      {"the weights are softmax(scores), not the raw scores: apply softmax to each row first.",
       values_of(tensor::matmul(scores, value.data()))},
  };
  expect_close(test_case, out, exercise::dot_product_attention(q, k, v, B, Tq, Tk, D, Dv));
}

}  // namespace

int main() {
  return run("dot_product_attention", [] {
    tensor::Generator gen(3);
    const std::string formula =
        "out[b, i, e] = sum_j w[j] * v[b, j, e] with w = softmax_j(sum_d q[b, i, d] * k[b, j, d]).";

    // 1. The example of tutorial 03 (and of the article it corrects): scores up to 167.
    check({1, 3, "tutorial 03's example, scores 50 to 167: q, k, v [1, 2, 3]"}, {1, 2, 3, 4, 5, 6},
          {7, 8, 9, 10, 11, 12}, {13, 14, 15, 16, 17, 18}, 1, 2, 2, 3, 3,
          formula +
              "\nThe scores here reach 167 and exp(167) is inf in float (inf / inf = nan):\n"
              "subtract each row's max before exp.");

    // 2. Every size different: Tq 3, Tk 5, D 4, Dv 2.
    check({2, 3, "q [1, 3, 4], k [1, 5, 4], v [1, 5, 2] (Tq, Tk, D, Dv all different)"},
          normal_values({1, 3, 4}, 0, 1, gen), normal_values({1, 5, 4}, 0, 1, gen),
          normal_values({1, 5, 2}, 0, 1, gen), 1, 3, 5, 4, 2,
          "scores [Tq, Tk] = Q K^T pairs query i with key j over the D features; out [Tq, Dv]\n"
          "mixes v's rows. " +
              formula);

    // 3. A batch of 3 sequences: each attends only within itself.
    check({3, 3, "a batch: q [3, 4, 5], k [3, 6, 5], v [3, 6, 3]"},
          normal_values({3, 4, 5}, 0, 1, gen), normal_values({3, 6, 5}, 0, 1, gen),
          normal_values({3, 6, 3}, 0, 1, gen), 3, 4, 6, 5, 3,
          "sequence b reads q[(b * Tq + i) * D + d], k[(b * Tk + j) * D + d], v[(b * Tk + j) * Dv "
          "+ e]\n"
          "and writes out[(b * Tq + i) * Dv + e]; it never sees another sequence's keys.");
  });
}
