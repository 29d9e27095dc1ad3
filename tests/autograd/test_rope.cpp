// autograd::rotary_embedding: its backward by gradcheck in float64 (contiguous, transposed and
// expanded inputs, any position offset), and the two properties RoPE exists for, checked on
// numbers: the position offset splits a sequence exactly (the KV cache), and the score between
// a rotated query and key depends only on their distance.
#include <cmath>

#include "tests/helpers.hpp"

using namespace autograd;
using testing::check_close;
using testing::check_gradients;
using testing::error_message;
using testing::random_leaf;
using testing::values;

TEST_CASE("rotary_embedding gradcheck: contiguous, offsets, transposed [B,T,H,D] and expanded") {
  Generator gen(173);
  for (std::int64_t offset : {0, 5, 300}) {
    CAPTURE(offset);
    check_gradients([offset](const std::vector<Tensor>& in) {
      return rotary_embedding(in[0], offset);
    }, {random_leaf({2, 3, 4, 6}, gen)});
  }
  // q as the attention layer makes it: [B, T, H, D] transposed to [B, H, T, D], a view.
  check_gradients([](const std::vector<Tensor>& in) {
    return rotary_embedding(in[0].transpose(1, 2), 2);
  }, {random_leaf({2, 5, 3, 4}, gen)});
  // One sequence broadcast over a batch: the gradient sums over the copies.
  check_gradients([](const std::vector<Tensor>& in) {
    return rotary_embedding(in[0].expand({3, 2, 5, 4}), 1, 100.0);
  }, {random_leaf({1, 1, 5, 4}, gen)});
  // The gradient of a weighted sum, against the loop written out: dx = R(-angle) w.
  Tensor x = random_leaf({4, 2}, gen);
  Tensor w(tensor::uniform({4, 2}, -1, 1, gen, DType::Float64));
  sum(rotary_embedding(x, 3) * w).backward();
  const std::vector<double> g = values(w), got = values(x.grad());
  for (std::int64_t t = 0; t < 4; ++t) {
    const double angle = double(3 + t);  // D = 2: one pair, frequency base^0 = 1
    const double expected0 = std::cos(angle) * g[2 * t] + std::sin(angle) * g[2 * t + 1];
    const double expected1 = -std::sin(angle) * g[2 * t] + std::cos(angle) * g[2 * t + 1];
    CHECK(got[2 * t] == doctest::Approx(expected0).epsilon(1e-13));
    CHECK(got[2 * t + 1] == doctest::Approx(expected1).epsilon(1e-13));
  }
}

TEST_CASE("rotary_embedding: rope(x)[..., t0:, :] == rope(x[..., t0:, :], offset t0), bit for bit") {
  Generator gen(174);
  for (DType dtype : {DType::Float32, DType::Float64}) {
    CAPTURE(dtype_name(dtype));
    Tensor x(tensor::uniform({2, 3, 9, 8}, -1, 1, gen, dtype));  // [B, H, T, D]
    Tensor whole = rotary_embedding(x);
    for (std::int64_t t0 : {1, 4, 8}) {
      CAPTURE(t0);
      Tensor tail = rotary_embedding(x.slice(2, t0, 9), t0);
      CHECK(values(tail) == values(whole.slice(2, t0, 9)));
    }
    // A cache grown one token at a time rotates each new token as the whole sequence would.
    for (std::int64_t t = 0; t < 9; ++t)
      CHECK(values(rotary_embedding(x.slice(2, t, t + 1), t)) == values(whole.slice(2, t, t + 1)));
  }
}

TEST_CASE("rotary_embedding: rotated q_m . k_n depends only on m - n") {
  Generator gen(175);
  const std::int64_t D = 16;
  Tensor q(tensor::uniform({1, D}, -1, 1, gen, DType::Float64));
  Tensor k(tensor::uniform({1, D}, -1, 1, gen, DType::Float64));
  auto score = [&](std::int64_t m, std::int64_t n) {
    return sum(rotary_embedding(q, m) * rotary_embedding(k, n)).item();
  };
  for (std::int64_t distance : {0, 1, 3, 10, 50}) {
    CAPTURE(distance);
    const double reference = score(distance, 0);
    for (std::int64_t n : {1, 7, 100, 4000}) {
      CAPTURE(n);
      CHECK(std::fabs(score(n + distance, n) - reference) < 1e-12 * (1 + std::fabs(reference)));
    }
  }
  // ... and it does depend on the distance: a position-blind op would pass the check above.
  CHECK(std::fabs(score(3, 0) - score(0, 0)) > 1e-3);
  CHECK(std::fabs(score(0, 3) - score(3, 0)) > 1e-6);  // m - n, not |m - n|
}

TEST_CASE("rotary_embedding: float32 graph, and errors through autograd name the shape") {
  Generator gen(176);
  Tensor x(tensor::uniform({3, 4}, -1, 1, gen, DType::Float32), true);
  Tensor y = rotary_embedding(x, 2);
  CHECK(y.dtype() == DType::Float32);
  sum(y * y).backward();  // |rope(x)|^2 = |x|^2, so the gradient is 2x
  check_close(values(x.grad()), values(x * 2.0), 1e-6, 1e-6);
  Tensor odd(tensor::zeros({2, 5}, DType::Float64), true);
  CHECK(error_message([&] { rotary_embedding(odd); }).find("[2, 5]") != std::string::npos);
}
