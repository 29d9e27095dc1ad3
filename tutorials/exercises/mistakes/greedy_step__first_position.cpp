// Mistake: logits of the first position used instead of the last
// A deliberately wrong greedy_step for the tests (tests/exercises/test_exercises.cpp): it takes the
// argmax at position 0. Its checker must fail it and print the line above.
#include <cstdint>
#include <vector>

namespace exercise {

// tokens [B, T], logits [B, T, V], finished [B] (updated)  ->  tokens [B, T + 1]
std::vector<std::int64_t> greedy_step(const std::vector<std::int64_t>& tokens,
                                      const std::vector<float>& logits, std::vector<bool>& finished,
                                      int B, int T, int V, std::int64_t eos) {
  std::vector<std::int64_t> next_tokens(static_cast<std::size_t>(B) * (T + 1), 0);
  for (int b = 0; b < B; ++b) {
    // The scores at the last position, [V]: they have read the whole prefix.
    const float* last = &logits[static_cast<std::size_t>(b) * T * V];  // wrong: position 0
    std::int64_t next = 0;
    for (int v = 1; v < V; ++v)
      if (last[v] > last[next]) next = v;  // strictly greater: a tie keeps the smaller v
    if (finished[b]) next = eos;           // a finished sequence is padded with eos
    finished[b] = finished[b] || next == eos;
    for (int t = 0; t < T; ++t)
      next_tokens[static_cast<std::size_t>(b) * (T + 1) + t] =
          tokens[static_cast<std::size_t>(b) * T + t];
    next_tokens[static_cast<std::size_t>(b) * (T + 1) + T] = next;
  }
  return next_tokens;
}

}  // namespace exercise
