// Checker of tutorials/exercises/matmul_backward.cpp: exercise::matmul_backward against the
// gradients autograd computes through autograd::matmul (in float64): a square case first (where a
// forgotten transpose still fits the shapes, so the checker can name it), then M, K, N different.
#include <string>
#include <vector>

#include "autograd/autograd.hpp"
#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
void matmul_backward(std::vector<float>& da, std::vector<float>& db, const std::vector<float>& dout,
                     const std::vector<float>& a, const std::vector<float>& b, int M, int K,
                     int N);  // the learner's
}

using namespace exercise_check;
using autograd::Tensor;

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

void check(const Case& test_case, const std::vector<float>& a, const std::vector<float>& b,
           const std::vector<float>& dout, int M, int K, int N) {
  Tensor left(as_array(a, {M, K}), /*requires_grad=*/true), right(as_array(b, {K, N}), true);
  autograd::matmul(left, right).backward(Tensor(as_array(dout, {M, N})));

  std::vector<float> da(M * K, 0.0f), db(K * N, 0.0f);
  exercise::matmul_backward(da, db, dout, a, b, M, K, N);

  Output da_out{
      .name = "da",
      .shape = {M, K},
      .expected = values_of(left.grad().data()),
      .hint =
          "da = dout b^T: da[i, k] = sum_j dout[i, j] * b[k, j] (b is [K, N], so b[k, j]\n"
          "is b[k * N + j]); [M, N] x [N, K] -> [M, K], the shape of a."};
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
      .expected = values_of(right.grad().data()),
      .hint =
          "db = a^T dout: db[k, j] = sum_i a[i, k] * dout[i, j] (a is [M, K], so a[i, k]\n"
          "is a[i * K + k]); [K, M] x [M, N] -> [K, N], the shape of b."};
  if (M == K && K == N)
    db_out.mistakes = {{"a not transposed in db = a^T dout",
                        "db[k, j] pairs a[i, k] (a's column k) with dout[i, j]: db = a^T dout.",
                        product(a, dout, K, M, N)}};
  expect_close(test_case, db_out, db);
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "matmul_backward", [] {
    tensor::Generator gen(13);
    check({1, 3, "a, b, dout [3, 3] (square: a forgotten transpose still fits)"},
          normal_values({3, 3}, 0, 1, gen), normal_values({3, 3}, 0, 1, gen),
          normal_values({3, 3}, 0, 1, gen), 3, 3, 3);
    check({2, 3, "a [3, 4], b [4, 5], dout [3, 5]"}, normal_values({3, 4}, 0, 1, gen),
          normal_values({4, 5}, 0, 1, gen), normal_values({3, 5}, 0, 1, gen), 3, 4, 5);
    check({3, 3, "a [6, 2], b [2, 3], dout [6, 3] (M > N > K)"}, normal_values({6, 2}, 0, 1, gen),
          normal_values({2, 3}, 0, 1, gen), normal_values({6, 3}, 0, 1, gen), 6, 2, 3);
  });
}
