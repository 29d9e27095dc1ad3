// Checker of tutorials/exercises/matmul_backward.cpp: exercise::matmul_backward against the
// gradients autograd computes through autograd::matmul (in float64), with M, K, N all different.
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
  expect_close(test_case, da_out, da);

  Output db_out{
      .name = "db",
      .shape = {K, N},
      .expected = values_of(right.grad().data()),
      .hint =
          "db = a^T dout: db[k, j] = sum_i a[i, k] * dout[i, j] (a is [M, K], so a[i, k]\n"
          "is a[i * K + k]); [K, M] x [M, N] -> [K, N], the shape of b."};
  expect_close(test_case, db_out, db);
}

}  // namespace

int main() {
  return run("matmul_backward", [] {
    tensor::Generator gen(13);
    check({1, 2, "a [3, 4], b [4, 5], dout [3, 5]"}, normal_values({3, 4}, 0, 1, gen),
          normal_values({4, 5}, 0, 1, gen), normal_values({3, 5}, 0, 1, gen), 3, 4, 5);
    check({2, 2, "a [6, 2], b [2, 3], dout [6, 3] (M > N > K)"}, normal_values({6, 2}, 0, 1, gen),
          normal_values({2, 3}, 0, 1, gen), normal_values({6, 3}, 0, 1, gen), 6, 2, 3);
  });
}
