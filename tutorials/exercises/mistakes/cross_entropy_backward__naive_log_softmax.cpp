// Mistake: log of softmax computed naively (exp overflows or underflows)
// A deliberately wrong cross_entropy_backward for the tests (tests/exercises/test_exercises.cpp):
// loss = -log(exp(x_t) / sum exp(x)) in float. Its checker must fail it and print the line above.
// there).
#include <cmath>
#include <cstdint>
#include <vector>

namespace exercise {

// logits [N, C], targets [N]  ->  returns the mean loss; writes dlogits [N, C]
float cross_entropy_backward(std::vector<float>& dlogits, const std::vector<float>& logits,
                             const std::vector<std::int64_t>& targets, int N, int C) {
  double loss = 0.0;
  for (int n = 0; n < N; ++n) {
    const float* row = &logits[static_cast<std::size_t>(n) * C];  // [C]
    float* drow = &dlogits[static_cast<std::size_t>(n) * C];      // [C]
    // -log p[t] = log sum_c exp(x_c) - x_t, with the max taken out of the log-sum-exp so that no
    // exp overflows: log sum_c exp(x_c) = max + log sum_c exp(x_c - max).
    float max = row[0];
    for (int c = 1; c < C; ++c) max = std::max(max, row[c]);
    float sum = 0.0f;
    for (int c = 0; c < C; ++c) sum += std::exp(row[c] - max);
    const int target = static_cast<int>(targets[n]);
    float naive_sum = 0.0f;  // wrong: exp(x) without the max, overflows for large logits
    for (int c = 0; c < C; ++c) naive_sum += std::exp(row[c]);
    loss += -std::log(std::exp(row[target]) / naive_sum);
    // d(-log p[t]) / d x_c = p_c - [c == t]; the mean over the batch divides it by N.
    for (int c = 0; c < C; ++c) {
      float p = std::exp(row[c] - max) / sum;
      drow[c] = (p - (c == target ? 1.0f : 0.0f)) / N;
    }
  }
  return static_cast<float>(loss / N);
}

}  // namespace exercise
