// The nn ops (indexing, joining, masking, dropout, layer norm, losses): forward against plain
// loops written here, backward by gradcheck in float64.
#include <cmath>

#include "tests/helpers.hpp"

using namespace autograd;
using testing::check_close;
using testing::check_gradients;
using testing::error_message;
using testing::random_leaf;
using testing::values;

namespace {
Tensor ids(std::vector<std::int64_t> v, Shape shape = {}) {
  return Tensor(tensor::from_vector(v, shape.empty() ? Shape{std::int64_t(v.size())} : shape));
}
}  // namespace

// ---- indexing ----------------------------------------------------------------------------------

TEST_CASE("embedding picks rows; repeated ids accumulate their gradients") {
  Tensor w(tensor::from_rows({{1, 2}, {3, 4}, {5, 6}}, DType::Float64), true);
  Tensor out = embedding(w, ids({2, 0, 2, 2}, {2, 2}));
  CHECK(out.shape() == Shape{2, 2, 2});
  CHECK(values(out) == std::vector<double>{5, 6, 1, 2, 5, 6, 5, 6});
  sum(out).backward();
  CHECK(values(w.grad()) == std::vector<double>{1, 1, 0, 0, 3, 3});
  Generator gen(1);
  check_gradients([](const std::vector<Tensor>& in) {
    return embedding(in[0], ids({1, 1, 0, 3}, {2, 2})) * 2.0;
  }, {random_leaf({4, 3}, gen)});
  CHECK(error_message([&] { embedding(w, ids({3})); }) ==
        "embedding: index 3 at position 0 is out of range [0, 3)");
  CHECK(error_message([&] { embedding(w, Tensor(tensor::zeros({2}))); }) ==
        "embedding: index must be int64, got float32");
}

TEST_CASE("index_select along any dim, forward and gradient") {
  Tensor x(tensor::arange(0.0, 24.0, 1.0, DType::Float64).view({2, 3, 4}), true);
  Tensor y = index_select(x, 1, ids({2, 0, 2}));
  CHECK(y.shape() == Shape{2, 3, 4});
  CHECK(y.at({1, 0, 3}) == x.at({1, 2, 3}));
  CHECK(y.at({0, 1, 0}) == x.at({0, 0, 0}));
  Generator gen(2);
  check_gradients([](const std::vector<Tensor>& in) { return index_select(in[0], -1, ids({3, 3, 1})); },
                  {random_leaf({2, 3, 4}, gen)});
}

TEST_CASE("gather and scatter_add match plain loops and gradcheck") {
  Tensor x(tensor::from_rows({{10, 11, 12}, {20, 21, 22}}, DType::Float64));
  Tensor idx = ids({2, 0, 1, 1}, {2, 2});
  CHECK(values(gather(x, 1, idx)) == std::vector<double>{12, 10, 21, 21});
  Tensor src(tensor::from_rows({{1, 2}, {3, 4}}, DType::Float64));
  // out[i][idx[i][j]] += src[i][j]
  CHECK(values(scatter_add(x, 1, idx, src)) == std::vector<double>{12, 11, 13, 20, 28, 22});
  Generator gen(3);
  check_gradients([&](const std::vector<Tensor>& in) { return gather(in[0], 1, idx); },
                  {random_leaf({2, 3}, gen)});
  check_gradients([&](const std::vector<Tensor>& in) { return gather(in[0], 0, ids({1, 0, 1}, {1, 3})); },
                  {random_leaf({2, 3}, gen)});
  check_gradients([&](const std::vector<Tensor>& in) { return scatter_add(in[0], 1, idx, in[1]); },
                  {random_leaf({2, 3}, gen), random_leaf({2, 2}, gen)});
  CHECK(error_message([&] { gather(x, 1, ids({5, 0}, {2, 1})); }) == "gather: index 5 at position 0 is out of range [0, 3)");
  CHECK(error_message([&] { gather(x, 1, ids({0}, {1, 1})); }).find("gather: index shape [1, 1] must match input shape [2, 3] outside dim 1") == 0);
}

// ---- joining and splitting ---------------------------------------------------------------------

TEST_CASE("cat, stack, split and chunk, with gradients") {
  Generator gen(4);
  Tensor a = random_leaf({2, 3}, gen), b = random_leaf({1, 3}, gen);
  Tensor c = cat({a, b}, 0);
  CHECK(c.shape() == Shape{3, 3});
  CHECK(c.at({2, 1}) == b.at({0, 1}));
  check_gradients([](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[0]}, 0) * 3.0; }, {a, b});
  Tensor s = stack({a, a * 2.0}, 1);
  CHECK(s.shape() == Shape{2, 2, 3});
  CHECK(s.at({1, 1, 2}) == doctest::Approx(2 * a.at({1, 2})));
  check_gradients([](const std::vector<Tensor>& in) { return stack({in[0], exp(in[0])}, -1); }, {a});
  std::vector<Tensor> parts = split(random_leaf({7, 2}, gen), 3, 0);
  REQUIRE(parts.size() == 3);
  CHECK(parts[2].shape() == Shape{1, 2});
  std::vector<Tensor> pieces = chunk(random_leaf({2, 6}, gen), 3, 1);
  CHECK(pieces.size() == 3);
  CHECK(pieces[0].shape() == Shape{2, 2});
  check_gradients([](const std::vector<Tensor>& in) {
    std::vector<Tensor> p = chunk(in[0], 2, 1);
    return p[0] * p[1];  // the two halves multiplied: each gets the other as gradient
  }, {random_leaf({2, 4}, gen)});
  CHECK(error_message([&] { split_with_sizes(a, {1, 1}, 0); }).find("split: sizes add up to 2 but dim 0 has size 2") == std::string::npos);
  CHECK(error_message([&] { split_with_sizes(a, {1, 2}, 0); }) == "split: sizes add up to 3 but dim 0 has size 2");
}

// ---- masking -----------------------------------------------------------------------------------

TEST_CASE("masked_fill and where, forward and gradients") {
  Tensor x(tensor::from_rows({{1, 2, 3}, {4, 5, 6}}, DType::Float64), true);
  Tensor mask(tensor::from_vector(std::vector<bool>{false, true, true}));  // broadcast over rows
  Tensor y = masked_fill(x, mask, -INFINITY);
  CHECK(values(y)[0] == 1);
  CHECK(std::isinf(values(y)[1]));
  sum(masked_fill(x, mask, 0.0) * 2.0).backward();
  CHECK(values(x.grad()) == std::vector<double>{2, 0, 0, 2, 0, 0});
  Generator gen(5);
  Tensor cond(tensor::from_vector(std::vector<bool>{true, false, true, false}, {2, 2}));
  check_gradients([&](const std::vector<Tensor>& in) { return where(cond, in[0], in[1]); },
                  {random_leaf({2, 2}, gen), random_leaf({2}, gen)});
  CHECK(error_message([&] { masked_fill(x, Tensor(tensor::ones({3})), 0.0); })
            .find("masked_fill: the mask must be a bool tensor") == 0);
}

TEST_CASE("tril, triu and clamp") {
  Tensor m(tensor::ones({3, 3}, DType::Float64), true);
  CHECK(values(tril(m)) == std::vector<double>{1, 0, 0, 1, 1, 0, 1, 1, 1});
  CHECK(values(triu(m, 1)) == std::vector<double>{0, 1, 1, 0, 0, 1, 0, 0, 0});
  CHECK(values(tril(m, -1)) == std::vector<double>{0, 0, 0, 1, 0, 0, 1, 1, 0});
  sum(triu(m) * 3.0).backward();
  CHECK(values(m.grad()) == std::vector<double>{3, 3, 3, 0, 3, 3, 0, 0, 3});
  Tensor x(tensor::from_vector(std::vector<double>{-2, -0.5, 0.5, 2}), true);
  CHECK(values(clamp(x, -1, 1)) == std::vector<double>{-1, -0.5, 0.5, 1});
  sum(clamp(x, -1, 1)).backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 1, 1, 0});
  CHECK(values(clamp_min(x, 0)) == std::vector<double>{0, 0, 0.5, 2});
  CHECK(error_message([&] { clamp(x, 1, -1); }).find("clamp: min") == 0);
}

// ---- dropout -----------------------------------------------------------------------------------

TEST_CASE("dropout: identity in eval, inverted scaling in training, same seed same mask") {
  Tensor x(tensor::ones({1000}, DType::Float64), true);
  Generator gen(6);
  CHECK(values(dropout(x, 0.3, /*training=*/false, gen)) == values(x));
  Tensor y = dropout(x, 0.3, true, gen);
  std::vector<double> v = values(y);
  int kept = 0;
  for (double e : v) {
    CHECK((e == 0 || std::fabs(e - 1 / 0.7) < 1e-12));
    kept += e != 0;
  }
  CHECK(kept / 1000.0 == doctest::Approx(0.7).epsilon(0.08));
  sum(y).backward();  // the gradient is the mask itself
  CHECK(values(x.grad()) == v);
  Generator g1(9), g2(9);
  CHECK(values(dropout(x, 0.5, true, g1)) == values(dropout(x, 0.5, true, g2)));
}

// ---- layer norm --------------------------------------------------------------------------------

TEST_CASE("layer_norm matches the definition and its fused backward passes gradcheck") {
  Generator gen(7);
  Tensor x = random_leaf({3, 5}, gen, -2, 2);
  Tensor w = random_leaf({5}, gen), b = random_leaf({5}, gen);
  Tensor y = layer_norm(x, w, b, 1e-5);
  std::vector<double> xv = values(x), wv = values(w), bv = values(b), expected;
  for (int r = 0; r < 3; ++r) {
    double mean = 0, var = 0;
    for (int c = 0; c < 5; ++c) mean += xv[r * 5 + c] / 5;
    for (int c = 0; c < 5; ++c) var += (xv[r * 5 + c] - mean) * (xv[r * 5 + c] - mean) / 5;
    for (int c = 0; c < 5; ++c)
      expected.push_back((xv[r * 5 + c] - mean) / std::sqrt(var + 1e-5) * wv[c] + bv[c]);
  }
  check_close(values(y), expected, 1e-12, 1e-12);
  check_gradients([](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2]); }, {x, w, b});
  check_gradients([](const std::vector<Tensor>& in) { return layer_norm(in[0].transpose(0, 1), Tensor(), Tensor()); },
                  {random_leaf({4, 2, 3}, gen)});
  CHECK(error_message([&] { layer_norm(x, random_leaf({4}, gen), Tensor()); })
            .find("layer_norm: weight and bias must have shape [5]") == 0);
}

// ---- losses ------------------------------------------------------------------------------------

TEST_CASE("cross_entropy equals -log softmax at the target, with ignore_index and smoothing") {
  Tensor logits(tensor::from_rows({{1, 2, 3}, {1, 1, 1}, {0, 5, 0}}, DType::Float64), true);
  Tensor targets = ids({2, 0, -100});
  auto log_softmax_row = [](std::vector<double> row, int c) {
    double total = 0;
    for (double v : row) total += std::exp(v);
    return row[c] - std::log(total);
  };
  double l0 = -log_softmax_row({1, 2, 3}, 2), l1 = -log_softmax_row({1, 1, 1}, 0);
  // mean over the two rows that are not ignored
  CHECK(cross_entropy(logits, targets).item() == doctest::Approx((l0 + l1) / 2).epsilon(1e-12));
  CHECK(cross_entropy(logits, targets, -100, 0, Reduction::Sum).item() == doctest::Approx(l0 + l1));
  std::vector<double> none = values(cross_entropy(logits, targets, -100, 0, Reduction::None));
  CHECK(none[2] == 0);
  // Label smoothing s: (1 - s) * nll + s * mean_c(-log p_c)
  double s = 0.1, smooth0 = 0;
  for (int c = 0; c < 3; ++c) smooth0 += -log_softmax_row({1, 2, 3}, c) / 3;
  Tensor single = cross_entropy(Tensor(tensor::from_vector(std::vector<double>{1, 2, 3})),
                                Tensor(tensor::scalar(2, DType::Int64)), -100, s);
  CHECK(single.item() == doctest::Approx((1 - s) * l0 + s * smooth0).epsilon(1e-12));
  Generator gen(8);
  for (double smoothing : {0.0, 0.2}) {
    check_gradients([&](const std::vector<Tensor>& in) {
      return cross_entropy(in[0], ids({1, -100, 3, 0}), -100, smoothing);
    }, {random_leaf({4, 5}, gen, -3, 3)});
  }
  // Stable for huge logits.
  Tensor big(tensor::from_rows({{1000, 0}}, DType::Float32));
  CHECK(cross_entropy(big, ids({1})).item() == doctest::Approx(1000));
  CHECK(error_message([&] { cross_entropy(logits, ids({3, 0, 0})); }) ==
        "cross_entropy: target 3 at position 0 is not a class in [0, 3) nor the ignore_index -100");
  CHECK(error_message([&] { cross_entropy(Tensor(tensor::zeros({2, 3, 4})), ids({0, 0})); })
            .find("(for sequences, reshape [B, T, C] to [B*T, C])") != std::string::npos);
}

TEST_CASE("nll_loss, mse_loss and binary_cross_entropy_with_logits") {
  Generator gen(9);
  Tensor lp(tensor::log_softmax(tensor::uniform({3, 4}, -1, 1, gen, DType::Float64), 1));
  std::vector<double> v = values(lp);
  CHECK(nll_loss(lp, ids({1, 3, -100})).item() == doctest::Approx(-(v[1] + v[7]) / 2));
  check_gradients([](const std::vector<Tensor>& in) { return nll_loss(in[0], ids({0, 2, 1})); },
                  {random_leaf({3, 4}, gen)});
  Tensor a(tensor::from_vector(std::vector<double>{1, 2, 3})), b(tensor::from_vector(std::vector<double>{1, 0, 5}));
  CHECK(mse_loss(a, b).item() == doctest::Approx((0 + 4 + 4) / 3.0));
  check_gradients([&](const std::vector<Tensor>& in) { return mse_loss(in[0], b, Reduction::Sum); },
                  {random_leaf({3}, gen)});
  // BCE with logits against the definition -[y log s(x) + (1 - y) log(1 - s(x))]
  std::vector<double> x{-3, 0.5, 4}, y{0, 1, 0.3};
  double expected = 0;
  for (int i = 0; i < 3; ++i) {
    double sgm = 1 / (1 + std::exp(-x[i]));
    expected += -(y[i] * std::log(sgm) + (1 - y[i]) * std::log(1 - sgm)) / 3;
  }
  Tensor bce = binary_cross_entropy_with_logits(Tensor(tensor::from_vector(x)), Tensor(tensor::from_vector(y)));
  CHECK(bce.item() == doctest::Approx(expected).epsilon(1e-12));
  check_gradients([&](const std::vector<Tensor>& in) {
    return binary_cross_entropy_with_logits(in[0], Tensor(tensor::from_vector(y)));
  }, {Tensor(tensor::from_vector(std::vector<double>{-3, 0.5, 4}), true)});
  // Stable at extreme logits: no inf, no nan.
  Tensor extreme = binary_cross_entropy_with_logits(Tensor(tensor::from_vector(std::vector<double>{-800, 800})),
                                                    Tensor(tensor::from_vector(std::vector<double>{1, 0})));
  CHECK(extreme.item() == doctest::Approx(800));
}
