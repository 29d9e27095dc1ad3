// Mistake: repeated along time (each position `groups` times), not along the heads
// A deliberately wrong repeat_kv for the tests (tests/exercises/test_exercises.cpp): every row
// kv[b, g, t, :] is written `groups` times in a row, as kv[:, :, :, None].expand(...) would,
// and the result read as [B, H, T, D]. Its checker must fail it and print the line above.
#include <vector>

namespace exercise {

// kv [B, Hkv, T, D]  ->  [B, Hkv * groups, T, D]
std::vector<float> repeat_kv(const std::vector<float>& kv, int B, int Hkv, int T, int D,
                             int groups) {
  std::vector<float> out;
  out.reserve(kv.size() * groups);
  for (int b = 0; b < B; ++b)
    for (int g = 0; g < Hkv; ++g)
      for (int t = 0; t < T; ++t)
        for (int r = 0; r < groups; ++r)  // wrong: the copies go next to the position
          for (int d = 0; d < D; ++d) out.push_back(kv[((b * Hkv + g) * T + t) * D + d]);
  return out;
}

}  // namespace exercise
