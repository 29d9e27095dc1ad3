// Checker of tutorials/exercises/stubs/matmul_backward.cpp: exercise::matmul_backward against
// central differences in float64 of L = sum_ij dout[i, j] * (a b)[i, j] (exact up to rounding:
// L is linear in each entry): a square case first (where a forgotten transpose still fits the
// shapes, so the checker can name it), then M, K, N different.
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
void matmul_backward(std::vector<float>& da, std::vector<float>& db, const std::vector<float>& dout,
                     const std::vector<float>& a, const std::vector<float>& b, int M, int K,
                     int N);  // the learner's
}

using namespace exercise_check;

namespace {

// c [rows, cols] = x y, with x read as [rows, inner] and y as [inner, cols] (row-major), whatever
// they hold: the product a learner gets when a transpose is forgotten.
std::vector<double> product(const std::vector<float>& x, const std::vector<float>& y, int rows,
                            int inner, int cols) {
  std::vector<double> c(static_cast<std::size_t>(rows) * cols, 0.0);
  for (int i = 0; i < rows; ++i)
    for (int p = 0; p < inner; ++p)
      for (int j = 0; j < cols; ++j) c[i * cols + j] += double(x[i * inner + p]) * y[p * cols + j];
  return c;
}

// L(a, b) = sum_ij dout[i, j] * sum_k a[i, k] * b[k, j]: the loss whose gradient dout is.
double loss(const std::vector<double>& a, const std::vector<double>& b,
            const std::vector<double>& dout, int M, int K, int N) {
  double total = 0.0;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double out = 0.0;
      for (int k = 0; k < K; ++k) out += a[i * K + k] * b[k * N + j];
      total += dout[i * N + j] * out;
    }
  return total;
}

// dL/dx for every entry of x (a or b, chosen by `of_a`), by central differences with step 1:
// L is linear in each single entry, so the difference quotient is exact but for rounding.
std::vector<double> numerical_gradient(const std::vector<float>& a, const std::vector<float>& b,
                                       const std::vector<float>& dout, int M, int K, int N,
                                       bool of_a) {
  std::vector<double> a64 = as_doubles(a), b64 = as_doubles(b), g64 = as_doubles(dout);
  std::vector<double>& x = of_a ? a64 : b64;
  std::vector<double> grad(x.size());
  for (std::size_t n = 0; n < x.size(); ++n) {
    const double saved = x[n];
    x[n] = saved + 1.0;
    const double up = loss(a64, b64, g64, M, K, N);
    x[n] = saved - 1.0;
    const double down = loss(a64, b64, g64, M, K, N);
    x[n] = saved;
    grad[n] = (up - down) / 2.0;
  }
  return grad;
}

void check(const Case& test_case, const std::vector<float>& a, const std::vector<float>& b,
           const std::vector<float>& dout, int M, int K, int N) {
  std::vector<float> da(M * K, 0.0f), db(K * N, 0.0f);
  exercise::matmul_backward(da, db, dout, a, b, M, K, N);

  Output da_out{
      .name = "da",
      .shape = {M, K},
      .expected = numerical_gradient(a, b, dout, M, K, N, /*of_a=*/true),
      .hint =
          "da[i, k] = sum over the entries out[i, j] that a[i, k] enters of dout[i, j] times\n"
          "d out[i, j] / d a[i, k]; da has the shape of a, [M, K]."};
  if (M == K && K == N)
    da_out.mistakes = {
        {"b not transposed in da = dout b^T",
         "da[i, k] pairs dout[i, j] with b[k, j] (b's row k), not b[j, k]: da = dout "
         "b^T.",
         product(dout, b, M, N, K)}};
  expect_close(test_case, da_out, da);

  Output db_out{
      .name = "db",
      .shape = {K, N},
      .expected = numerical_gradient(a, b, dout, M, K, N, /*of_a=*/false),
      .hint =
          "db[k, j] = sum over the entries out[i, j] that b[k, j] enters of dout[i, j] times\n"
          "d out[i, j] / d b[k, j]; db has the shape of b, [K, N]."};
  if (M == K && K == N)
    db_out.mistakes = {{"a not transposed in db = a^T dout",
                        "db[k, j] pairs a[i, k] (a's column k) with dout[i, j]: db = a^T dout.",
                        product(a, dout, K, M, N)}};
  expect_close(test_case, db_out, db);
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "matmul_backward", [] {
    Generator gen(13);
    check({1, 3, "a, b, dout [3, 3] (square: a forgotten transpose still fits)"},
          normal_values({3, 3}, 0, 1, gen), normal_values({3, 3}, 0, 1, gen),
          normal_values({3, 3}, 0, 1, gen), 3, 3, 3);
    check({2, 3, "a [3, 4], b [4, 5], dout [3, 5]"}, normal_values({3, 4}, 0, 1, gen),
          normal_values({4, 5}, 0, 1, gen), normal_values({3, 5}, 0, 1, gen), 3, 4, 5);
    check({3, 3, "a [6, 2], b [2, 3], dout [6, 3] (M > N > K)"}, normal_values({6, 2}, 0, 1, gen),
          normal_values({2, 3}, 0, 1, gen), normal_values({6, 3}, 0, 1, gen), 6, 2, 3);
  });
}
