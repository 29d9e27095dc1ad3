// Mistake: reshape only (heads not moved in front of time)
// A deliberately wrong split_merge_heads for the tests (tests/exercises/test_exercises.cpp):
// split_heads copies x as it is. Its checker must fail it and print the line above.
#include <vector>

namespace exercise {

// x [B, T, H * D]  ->  [B, H, T, D]
std::vector<float> split_heads(const std::vector<float>& x, int B, int T, int H, int D) {
  std::vector<float> out(x.size());
  const int E = H * D;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < H; ++h)
        for (int d = 0; d < D; ++d)
          out[(b * T + t) * E + h * D + d] = x[(b * T + t) * E + h * D + d];  // wrong
  return out;
}

// x [B, H, T, D]  ->  [B, T, H * D]
std::vector<float> merge_heads(const std::vector<float>& x, int B, int T, int H, int D) {
  std::vector<float> out(x.size());
  const int E = H * D;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < H; ++h)
        for (int d = 0; d < D; ++d)
          out[(b * T + t) * E + h * D + d] = x[((b * H + h) * T + t) * D + d];
  return out;
}

}  // namespace exercise
