// Reference solution of tutorials/exercises/repeat_kv.cpp (the task is stated there).
#include <vector>

namespace exercise {

// kv [B, Hkv, T, D]  ->  [B, Hkv * groups, T, D]
std::vector<float> repeat_kv(const std::vector<float>& kv, int B, int Hkv, int T, int D,
                             int groups) {
  const int H = Hkv * groups;
  std::vector<float> out(kv.size() * groups);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const int g = h / groups;  // consecutive query heads share a kv head
      for (int t = 0; t < T; ++t)
        for (int d = 0; d < D; ++d)
          out[((b * H + h) * T + t) * D + d] = kv[((b * Hkv + g) * T + t) * D + d];
    }
  return out;
}

}  // namespace exercise
