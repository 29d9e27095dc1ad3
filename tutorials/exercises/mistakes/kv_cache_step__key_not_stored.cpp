// Mistake: the new key not stored in the cache
// A deliberately wrong kv_cache_step for the tests (tests/exercises/test_exercises.cpp): the new
// key is attended but never written to k_cache. Its checker must fail it and print the line above.
#include <algorithm>
#include <cmath>
#include <vector>

namespace exercise {

// k_cache, v_cache [H, max_len, D] with `length` positions filled; q, k, v [H, D] of the new
// token  ->  out [H, D]; k, v stored at position length, length + 1
std::vector<float> kv_cache_step(std::vector<float>& k_cache, std::vector<float>& v_cache,
                                 int& length, const std::vector<float>& q,
                                 const std::vector<float>& k, const std::vector<float>& v, int H,
                                 int max_len, int D) {
  // 1. Append first: the new token attends to itself too.
  for (int h = 0; h < H; ++h)
    for (int d = 0; d < D; ++d) {
      v_cache[(h * max_len + length) * D + d] = v[h * D + d];
    }
  ++length;
  // 2. One query against the `length` cached keys of each head: the last row of causal
  //    attention, at O(length * D) per head instead of recomputing the whole prefix.
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  std::vector<float> out(static_cast<std::size_t>(H) * D, 0.0f);
  std::vector<float> weights(length);  // [length]
  for (int h = 0; h < H; ++h) {
    const float* keys = &k_cache[static_cast<std::size_t>(h) * max_len * D];    // [max_len, D]
    const float* values = &v_cache[static_cast<std::size_t>(h) * max_len * D];  // [max_len, D]
    for (int t = 0; t < length; ++t) {  // only the filled slots
      float score = 0.0f;
      for (int d = 0; d < D; ++d)  // wrong: the new key is read from k, never stored
        score += q[h * D + d] * (t == length - 1 ? k[h * D + d] : keys[t * D + d]);
      weights[t] = score * scale;
    }
    float max = *std::max_element(weights.begin(), weights.end());
    float sum = 0.0f;
    for (int t = 0; t < length; ++t) sum += weights[t] = std::exp(weights[t] - max);
    for (int t = 0; t < length; ++t)
      for (int d = 0; d < D; ++d) out[h * D + d] += weights[t] / sum * values[t * D + d];
  }
  return out;
}

}  // namespace exercise
