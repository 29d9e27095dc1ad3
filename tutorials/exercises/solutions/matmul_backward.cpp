// Reference solution of tutorials/exercises/matmul_backward.cpp (the task is stated there).
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
        da[i * K + k] += dout[i * N + j] * b[k * N + j];  // da = dout b^T   [M, K]
        db[k * N + j] += a[i * K + k] * dout[i * N + j];  // db = a^T dout   [K, N]
      }
}

}  // namespace exercise
