// Mistake: the target's 1 not subtracted (dlogits = softmax / N)
// A deliberately wrong cross_entropy_backward for the tests (tests/exercises/test_exercises.cpp):
// dlogits = p / N. Its checker must fail it and print the line above. there).
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
    loss += max + std::log(sum) - row[target];
    // d(-log p[t]) / d x_c = p_c - [c == t]; the mean over the batch divides it by N.
    for (int c = 0; c < C; ++c) {
      float p = std::exp(row[c] - max) / sum;
      drow[c] = p / N;  // wrong: the target's -1 is missing
    }
  }
  return static_cast<float>(loss / N);
}

}  // namespace exercise
