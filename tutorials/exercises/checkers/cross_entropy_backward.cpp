// Checker of tutorials/exercises/stubs/cross_entropy_backward.cpp: exercise::cross_entropy_backward
// against plain loops in float64 (log-sum-exp for the loss, p - onehot(target) over N for the
// gradient), on small logits, logits around +-200 and a confident prediction.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
float cross_entropy_backward(std::vector<float>& dlogits, const std::vector<float>& logits,
                             const std::vector<std::int64_t>& targets, int N,
                             int C);  // the learner's
}

using namespace exercise_check;

namespace {

// The loss and gradient in float64; `naive_loss` is -log(exp(x_t) / sum exp(x)) in float as
// written, nan or inf where exp overflows or underflows.
struct Reference {
  double loss = 0.0, naive_loss = 0.0;
  std::vector<double> probabilities, onehot;  // [N, C]
};

Reference reference(const std::vector<float>& logits, const std::vector<std::int64_t>& targets,
                    int N, int C) {
  Reference r;
  r.probabilities = softmax_rows(as_doubles(logits), N, C);
  r.onehot.assign(static_cast<std::size_t>(N) * C, 0.0);
  float naive_sum = 0.0f;
  for (int n = 0; n < N; ++n) {
    const int t = static_cast<int>(targets[n]);
    r.onehot[n * C + t] = 1.0;
    double max = *std::max_element(logits.begin() + n * C, logits.begin() + (n + 1) * C);
    double sum = 0.0;
    float naive_denominator = 0.0f;
    for (int c = 0; c < C; ++c) {
      sum += std::exp(logits[n * C + c] - max);
      naive_denominator += std::exp(logits[n * C + c]);
    }
    r.loss += (max + std::log(sum) - logits[n * C + t]) / N;
    naive_sum += -std::log(std::exp(logits[n * C + t]) / naive_denominator);
  }
  r.naive_loss = naive_sum / N;
  return r;
}

void check(const Case& test_case, const std::vector<float>& logits,
           const std::vector<std::int64_t>& targets, int N, int C, const std::string& hint) {
  Reference r = reference(logits, targets, N, C);
  std::vector<float> dlogits(static_cast<std::size_t>(N) * C, 0.0f);
  const float loss = exercise::cross_entropy_backward(dlogits, logits, targets, N, C);

  Output loss_out{
      .name = "loss",
      .shape = {1},
      .expected = {r.loss},
      .hint = "loss = (1/N) sum_n (log sum_c exp(logits[n, c]) - logits[n, t_n]).\n" + hint};
  loss_out.mistakes = {
      {"loss summed over the batch, not averaged",
       "the loss is the mean over the N examples: divide the sum by N.",
       {r.loss * N}},
      {"log of softmax computed naively (exp overflows or underflows)",
       "in float exp(200) is inf and exp(-200) is 0. Write -log p[t] = log sum_c exp(x_c) - x_t "
       "and\n"
       "compute the log-sum-exp with the row's max taken out: max + log sum_c exp(x_c - max).",
       {r.naive_loss}},
  };
  expect_close(test_case, loss_out, std::vector<float>{loss});

  auto combine = [&](double p_weight, double onehot_weight, double scale) {
    std::vector<double> values(r.probabilities.size());
    for (std::size_t i = 0; i < values.size(); ++i)
      values[i] = (p_weight * r.probabilities[i] + onehot_weight * r.onehot[i]) * scale;
    return values;
  };
  Output dlogits_out{.name = "dlogits",
                     .shape = {N, C},
                     .expected = combine(1, -1, 1.0 / N),
                     .hint =
                         "dlogits[n, c] = (p[n, c] - [c == targets[n]]) / N, p = softmax of "
                         "row n.\n" +
                         hint};
  dlogits_out.mistakes = {
      {"gradient not divided by N (the loss is a mean)",
       "the loss averages over the N examples, so every gradient carries a factor 1/N.",
       combine(1, -1, 1.0)},
      {"the target's 1 not subtracted (dlogits = softmax / N)",
       "d(-log p[t]) / d logits[c] = p[c] - 1 for c = t and p[c] otherwise: subtract 1 at the\n"
       "target class.",
       combine(1, 0, 1.0 / N)},
      {"sign flipped (target minus softmax)",
       "the gradient of the loss points to where the loss grows: p - [c == t], not its negative\n"
       "(gradient descent subtracts it later).",
       combine(-1, 1, 1.0 / N)},
  };
  expect_close(test_case, dlogits_out, dlogits);
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "cross_entropy_backward", [] {
    Generator gen(31);

    // 1. Small logits.
    check({1, 3, "small logits: logits [3, 4], targets [2, 0, 3]"},
          normal_values({3, 4}, 0, 1, gen), {2, 0, 3}, 3, 4,
          "with small logits any formula is stable; start from -log softmax.");

    // 2. Logits around +-200: exp overflows (or underflows) in float.
    std::vector<float> large = uniform_values({4, 5}, -200, 200, gen);  // [4, 5]
    check({2, 3, "logits uniform in [-200, 200): logits [4, 5], targets [1, 4, 0, 2]"}, large,
          {1, 4, 0, 2}, 4, 5, "take each row's max out of the log-sum-exp (and out of softmax).");

    // 3. A confident, correct prediction: loss nearly 0, gradient nearly 0.
    std::vector<float> confident = normal_values({2, 3}, 0, 1, gen);  // [2, 3]
    confident[0 * 3 + 1] += 30.0f;
    confident[1 * 3 + 2] += 30.0f;
    check({3, 3, "confident and right (target logit +30): logits [2, 3], targets [1, 2]"},
          confident, {1, 2}, 2, 3,
          "p[t] is nearly 1 here: the loss and the gradient are nearly 0, not exactly.");
  });
}
