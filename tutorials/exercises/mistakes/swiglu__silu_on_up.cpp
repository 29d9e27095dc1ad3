// Mistake: silu on the up projection (gate and up swapped)
// A deliberately wrong swiglu for the tests (tests/exercises/test_exercises.cpp): silu is applied
// to w3 x and w1 x stays linear.
// Its checker must fail it and print the line above.
#include <cmath>
#include <vector>

namespace exercise {

// x [N, D], w1 [H, D], w3 [H, D], w2 [D, H]  ->  out [N, D]
void swiglu(std::vector<float>& out, const std::vector<float>& x, const std::vector<float>& w1,
            const std::vector<float>& w3, const std::vector<float>& w2, int N, int D, int H) {
  std::vector<float> hidden(H);  // one token's silu(gate) * up
  for (int n = 0; n < N; ++n) {
    const float* xn = &x[static_cast<std::size_t>(n) * D];  // [D]
    for (int h = 0; h < H; ++h) {
      // Row h of w1 and of w3: a Linear stores [out_features, in_features], so x w^T reads rows.
      float gate = 0.0f, up = 0.0f;
      for (int d = 0; d < D; ++d) {
        gate += xn[d] * w1[static_cast<std::size_t>(h) * D + d];
        up += xn[d] * w3[static_cast<std::size_t>(h) * D + d];
      }
      // silu on the gate only; the up projection stays linear and the product gates it.
      float silu_up = up / (1.0f + std::exp(-up));
      hidden[h] = gate * silu_up;
    }
    float* outn = &out[static_cast<std::size_t>(n) * D];  // [D]
    for (int d = 0; d < D; ++d) {
      float sum = 0.0f;
      for (int h = 0; h < H; ++h) sum += hidden[h] * w2[static_cast<std::size_t>(d) * H + h];
      outn[d] = sum;
    }
  }
}

}  // namespace exercise
