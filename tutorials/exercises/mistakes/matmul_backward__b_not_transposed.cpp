// Mistake: b not transposed in da = dout b^T
// A deliberately wrong matmul_backward for the tests (tests/exercises/test_exercises.cpp): da =
// dout b. Its checker must fail it and print the line above.
#include <vector>

namespace exercise {

// dout [M, N], a [M, K], b [K, N]  ->  da [M, K], db [K, N]   (forward: out = a b)
void matmul_backward(std::vector<float>& da, std::vector<float>& db, const std::vector<float>& dout,
                     const std::vector<float>& a, const std::vector<float>& b, int M, int K,
                     int N) {
  // forward was: out[i, j] += a[i, k] * b[k, j], for every i, j, k. Each term sends dout[i, j]
  // back to both of its factors, times the other factor:
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j)
      for (int k = 0; k < K; ++k) {
        da[i * K + k] += dout[i * N + j] * b[j * N + k];  // wrong: dout b
        db[k * N + j] += a[i * K + k] * dout[i * N + j];  // db = a^T dout   [K, N]
      }
}

}  // namespace exercise
