// Mistake: the update is scaled by alpha instead of alpha / r
// A deliberately wrong lora_forward for the tests (tests/exercises/test_exercises.cpp):
// scaling = alpha.
// Its checker must fail it and print the line above.
#include <vector>

namespace exercise {

// x [N, in], W [out, in], b [out], A [r, in], B [out, r]  ->  y [N, out]
void lora_forward(std::vector<float>& y, const std::vector<float>& x, const std::vector<float>& W,
                  const std::vector<float>& b, const std::vector<float>& A,
                  const std::vector<float>& B, float alpha, int N, int in, int out, int r) {
  // Dividing by r keeps the update's size about the same whichever rank is chosen, so alpha
  // need not be tuned again when r changes.
  const float scaling = alpha;  // wrong: not divided by r
  std::vector<float> down(r);  // x A^T for one row: [r], the input squeezed to rank r
  for (int n = 0; n < N; ++n) {
    const float* row = &x[n * in];
    for (int k = 0; k < r; ++k) {
      float sum = 0;
      for (int i = 0; i < in; ++i) sum += row[i] * A[k * in + i];
      down[k] = sum;
    }
    for (int o = 0; o < out; ++o) {
      float base = b[o];  // the frozen layer: x W^T + b
      for (int i = 0; i < in; ++i) base += row[i] * W[o * in + i];
      float update = 0;   // (x A^T) B^T: back up from rank r to out
      for (int k = 0; k < r; ++k) update += down[k] * B[o * r + k];
      y[n * out + o] = base + scaling * update;
    }
  }
}

// W [out, in], A [r, in], B [out, r]  ->  merged [out, in]
void lora_merge(std::vector<float>& merged, const std::vector<float>& W, const std::vector<float>& A,
                const std::vector<float>& B, float alpha, int in, int out, int r) {
  // x A^T B^T = x (B A)^T, so the update is the weight scaling * B A, [out, r] x [r, in] =
  // [out, in], laid out like W: W' = W + scaling * B A.
  const float scaling = alpha;  // wrong: not divided by r
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i) {
      float update = 0;
      for (int k = 0; k < r; ++k) update += B[o * r + k] * A[k * in + i];
      merged[o * in + i] = W[o * in + i] + scaling * update;
    }
}

}  // namespace exercise
