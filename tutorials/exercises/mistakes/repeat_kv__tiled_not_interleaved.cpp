// Mistake: kv heads tiled (head h reads kv head h % Hkv), not repeated in groups (h / groups)
// A deliberately wrong repeat_kv for the tests (tests/exercises/test_exercises.cpp): the whole
// block of kv heads is repeated (0, 1, 0, 1, ...) instead of each kv head (0, 0, 1, 1, ...).
// Its checker must fail it and print the line above.
#include <vector>

namespace exercise {

// kv [B, Hkv, T, D]  ->  [B, Hkv * groups, T, D]
std::vector<float> repeat_kv(const std::vector<float>& kv, int B, int Hkv, int T, int D,
                             int groups) {
  const int H = Hkv * groups;
  std::vector<float> out(kv.size() * groups);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const int g = h % Hkv;  // wrong
      for (int t = 0; t < T; ++t)
        for (int d = 0; d < D; ++d)
          out[((b * H + h) * T + t) * D + d] = kv[((b * Hkv + g) * T + t) * D + d];
    }
  return out;
}

}  // namespace exercise
