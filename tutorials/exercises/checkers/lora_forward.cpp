// Checker of tutorials/exercises/stubs/lora_forward.cpp: exercise::lora_forward and
// exercise::lora_merge against the LoRA layer worked out here with plain loops in float64,
//     y = x W^T + b + (alpha / r) (x A^T) B^T,      W' = W + (alpha / r) B A,
// and the merged weight also against the forward itself (x W'^T + b must equal y). The first
// case is square (in == out), where a transposed update still fits the shapes, so the checker
// can name it; alpha / r differs from 1 and from alpha in every case, so a missing or wrong
// scaling shows.
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
void lora_forward(std::vector<float>& y, const std::vector<float>& x, const std::vector<float>& W,
                  const std::vector<float>& b, const std::vector<float>& A,
                  const std::vector<float>& B, float alpha, int N, int in, int out,
                  int r);  // the learner's
void lora_merge(std::vector<float>& merged, const std::vector<float>& W, const std::vector<float>& A,
                const std::vector<float>& B, float alpha, int in, int out, int r);  // the learner's
}  // namespace exercise

using namespace exercise_check;

namespace {

// The update as a weight, (B A) [out, in], or its transpose (A^T B^T) [in, out] laid out flat.
std::vector<double> update_weight(const std::vector<float>& A, const std::vector<float>& B, int in,
                                  int out, int r, bool transposed) {
  std::vector<double> delta(static_cast<std::size_t>(out) * in, 0.0);
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i) {
      double sum = 0;
      for (int k = 0; k < r; ++k) sum += double(B[o * r + k]) * A[k * in + i];
      delta[transposed ? i * out + o : o * in + i] = sum;
    }
  return delta;
}

// W + scaling * (B A), or + scaling * (B A)^T when `transposed`.
std::vector<double> merged_weight(const std::vector<float>& W, const std::vector<float>& A,
                                  const std::vector<float>& B, int in, int out, int r,
                                  double scaling, bool transposed) {
  std::vector<double> merged = update_weight(A, B, in, out, r, transposed);
  for (std::size_t n = 0; n < merged.size(); ++n) merged[n] = W[n] + scaling * merged[n];
  return merged;
}

// y [N, out] = x W^T + b + scaling * (x A^T) B^T, written as two loops the way the formula reads.
std::vector<double> forward(const std::vector<float>& x, const std::vector<float>& W,
                            const std::vector<float>& b, const std::vector<float>& A,
                            const std::vector<float>& B, double scaling, int N, int in, int out,
                            int r) {
  std::vector<double> y(static_cast<std::size_t>(N) * out);
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < out; ++o) {
      double base = b[o], update = 0;
      for (int i = 0; i < in; ++i) base += double(x[n * in + i]) * W[o * in + i];
      for (int k = 0; k < r; ++k) {
        double down = 0;
        for (int i = 0; i < in; ++i) down += double(x[n * in + i]) * A[k * in + i];
        update += down * B[o * r + k];
      }
      y[n * out + o] = base + scaling * update;
    }
  return y;
}

// x W'^T + b for a merged weight W' [out, in]: what a plain Linear with W' computes.
std::vector<double> plain_linear(const std::vector<float>& x, const std::vector<float>& merged,
                                 const std::vector<float>& b, int N, int in, int out) {
  std::vector<double> y(static_cast<std::size_t>(N) * out);
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < out; ++o) {
      double sum = b[o];
      for (int i = 0; i < in; ++i) sum += double(x[n * in + i]) * merged[o * in + i];
      y[n * out + o] = sum;
    }
  return y;
}

void check(const Case& test_case, int N, int in, int out, int r, float alpha, Generator& gen) {
  const std::vector<float> x = normal_values({N, in}, 0, 1, gen);
  const std::vector<float> W = uniform_values({out, in}, -0.5, 0.5, gen);
  const std::vector<float> b = uniform_values({out}, -0.5, 0.5, gen);
  const std::vector<float> A = uniform_values({r, in}, -0.5, 0.5, gen);
  const std::vector<float> B = normal_values({out, r}, 0, 1, gen);  // trained: no longer zero
  const double scaling = double(alpha) / r;

  std::vector<float> y(static_cast<std::size_t>(N) * out, 0.0f);
  exercise::lora_forward(y, x, W, b, A, B, alpha, N, in, out, r);
  const std::string scale_hint =
      "LoRA scales its update by alpha / r, so that a larger rank does not mean a larger "
      "update.";
  const Mistake no_scaling{"the update is not scaled by alpha / r", scale_hint,
                           forward(x, W, b, A, B, 1.0, N, in, out, r)};
  const Mistake alpha_only{"the update is scaled by alpha instead of alpha / r", scale_hint,
                           forward(x, W, b, A, B, alpha, N, in, out, r)};
  expect_close(test_case,
               {.name = "y",
                .shape = {N, out},
                .expected = forward(x, W, b, A, B, scaling, N, in, out, r),
                .hint = "y[n, o] = (x W^T + b)[n, o] + (alpha / r) * sum_k (x A^T)[n, k] B[o, k]",
                .mistakes = {no_scaling, alpha_only}},
               y);

  std::vector<float> merged(static_cast<std::size_t>(out) * in, 0.0f);
  exercise::lora_merge(merged, W, A, B, alpha, in, out, r);
  std::vector<Mistake> merge_mistakes = {
      {"the update is not scaled by alpha / r", scale_hint,
       merged_weight(W, A, B, in, out, r, 1.0, false)},
      {"the update is scaled by alpha instead of alpha / r", scale_hint,
       merged_weight(W, A, B, in, out, r, alpha, false)}};
  if (in == out)
    merge_mistakes.insert(
        merge_mistakes.begin(),
        {"merge adds (B A)^T instead of B A",
         "x A^T B^T = x (B A)^T, and a Linear computes x W^T: so W gets B A, [out, r] x [r, in] "
         "= [out, in], not its transpose.",
         merged_weight(W, A, B, in, out, r, scaling, true)});
  expect_close(test_case,
               {.name = "merged",
                .shape = {out, in},
                .expected = merged_weight(W, A, B, in, out, r, scaling, false),
                .hint = "merged[o, i] = W[o, i] + (alpha / r) * sum_k B[o, k] A[k, i]",
                .mistakes = merge_mistakes},
               merged);
  // And the point of merging: a plain Linear with the merged weight gives the adapter's outputs.
  expect_close(test_case,
               {.name = "x merged^T + b (the merged layer's output)",
                .shape = {N, out},
                .expected = forward(x, W, b, A, B, scaling, N, in, out, r),
                .hint = "a Linear with the merged weight must compute the same y as lora_forward"},
               plain_linear(x, merged, b, N, in, out));
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "lora_forward", [] {
    Generator gen(27);
    check({1, 3, "x [3, 4], W [4, 4] (in == out: a transposed update still fits), r 2, alpha 6"}, 3,
          4, 4, 2, 6.0f, gen);
    check({2, 3, "x [5, 6], W [3, 6], r 3, alpha 12"}, 5, 6, 3, 3, 12.0f, gen);
    check({3, 3, "x [2, 5], W [7, 5], r 4, alpha 2 (scaling 1/2)"}, 2, 5, 7, 4, 2.0f, gen);
  });
}
