// nn::RMSNorm, nn::SiLU and nn::SwiGLU: parameters as in PyTorch / LLaMA, forward against plain
// loops over the module's own weights, the SwiGLU hidden size against the parameter count of a
// 4*d GELU feed-forward.
#include <cmath>

#include "nn/nn.hpp"
#include "tests/helpers.hpp"

using namespace nn;
using testing::check_close;
using testing::check_gradients;
using testing::error_message;
using testing::values;

namespace {

std::int64_t count_weights(Module& m) {  // parameters named ...weight (biases left out)
  std::int64_t n = 0;
  for (auto& [name, p] : m.named_parameters())
    if (name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0) n += p.numel();
  return n;
}

}  // namespace

TEST_CASE("RMSNorm: a weight of ones, PyTorch's repr, the functional op, eps passed through") {
  RMSNorm norm(6);
  auto named = norm.named_parameters();
  REQUIRE(named.size() == 1);
  CHECK(named[0].first == "weight");
  CHECK(values(named[0].second) == std::vector<double>(6, 1.0));
  CHECK(!norm.eps.has_value());
  CHECK(norm.type_name() == "RMSNorm");
  CHECK(norm.extra_repr() == "(6,), eps=None, elementwise_affine=true");

  Generator gen(81);
  Tensor x(tensor::uniform({2, 3, 6}, -2, 2, gen));
  norm.weight.data().copy_(tensor::uniform({6}, 0.5, 1.5, gen));
  check_close(values(norm(x)), values(autograd::rms_norm(x, norm.weight)), 0, 0);
  RMSNorm with_eps(6, 0.25, false);
  CHECK(with_eps.parameters().empty());
  check_close(values(with_eps(x)), values(autograd::rms_norm(x, Tensor(), 0.25)), 0, 0);
  CHECK(error_message([&] { norm(Tensor(tensor::zeros({2, 5}))); })
            .find("RMSNorm: expected input [..., 6], got [2, 5]") == 0);
  CHECK(error_message([] { RMSNorm(0); }).find("RMSNorm: normalized_size must be positive") == 0);
}

TEST_CASE("SiLU module and make_activation(\"silu\")") {
  Tensor x(tensor::from_vector(std::vector<double>{-3, -0.5, 0, 1, 4}).to(DType::Float64));
  std::vector<double> expected;
  for (double v : values(x)) expected.push_back(v / (1 + std::exp(-v)));
  SiLU silu;
  check_close(values(silu(x)), expected, 1e-15, 1e-300);
  check_close(values((*make_activation("silu"))(x)), expected, 1e-15, 1e-300);
  CHECK(make_activation("silu")->type_name() == "SiLU");
}

TEST_CASE("SwiGLU: w2(silu(w1 x) * w3 x) by loops over its own weights; gradcheck") {
  const std::int64_t d = 4, h = 5;
  Generator gen(82);
  SwiGLU ffn(d, h, false, gen);
  auto names = ffn.named_parameters();
  REQUIRE(names.size() == 3);
  CHECK(names[0].first == "w1.weight");
  CHECK(names[1].first == "w2.weight");
  CHECK(names[2].first == "w3.weight");
  CHECK(ffn.w1->weight.shape() == Shape{h, d});
  CHECK(ffn.w2->weight.shape() == Shape{d, h});
  CHECK(ffn.w3->weight.shape() == Shape{h, d});
  ffn.to(DType::Float64);
  Tensor x(tensor::uniform({3, d}, -1, 1, gen, DType::Float64));
  std::vector<double> xv = values(x), w1 = values(ffn.w1->weight), w2 = values(ffn.w2->weight),
                      w3 = values(ffn.w3->weight), expected;
  for (std::int64_t r = 0; r < 3; ++r) {
    std::vector<double> hidden(h);
    for (std::int64_t j = 0; j < h; ++j) {
      double gate = 0, up = 0;
      for (std::int64_t k = 0; k < d; ++k) {
        gate += w1[j * d + k] * xv[r * d + k];
        up += w3[j * d + k] * xv[r * d + k];
      }
      hidden[j] = gate / (1 + std::exp(-gate)) * up;  // silu on the gate only
    }
    for (std::int64_t i = 0; i < d; ++i) {
      double out = 0;
      for (std::int64_t j = 0; j < h; ++j) out += w2[i * h + j] * hidden[j];
      expected.push_back(out);
    }
  }
  check_close(values(ffn(x)), expected, 1e-13, 1e-14);
  Tensor leaf(x.data(), true);
  check_gradients([&](const std::vector<Tensor>& in) { return ffn(in[0]); }, {leaf});

  SwiGLU with_bias(d, h, true, gen);
  CHECK(with_bias.parameters().size() == 6);
  CHECK(error_message([] { SwiGLU(0, 3); }).find("SwiGLU: d_model and hidden_dim must be positive") == 0);
}

TEST_CASE("swiglu_hidden_dim: the SwiGLU of that width has the weights of a 4*d GELU MLP") {
  // 3 matrices of d x h against 2 of d x 4d: h = 8d/3.
  for (std::int64_t d : {6, 48, 96, 300}) {  // divisible by 3: exactly equal
    CAPTURE(d);
    const std::int64_t h = swiglu_hidden_dim(d);
    CHECK(h * 3 == 8 * d);
    SwiGLU swiglu(d, h);
    FeedForward mlp(d, 4 * d, "gelu");
    CHECK(count_weights(swiglu) == count_weights(mlp));
  }
  for (std::int64_t d : {4, 64, 100}) {  // otherwise within 3d weights, never more
    CAPTURE(d);
    SwiGLU swiglu(d, swiglu_hidden_dim(d));
    FeedForward mlp(d, 4 * d, "gelu");
    CHECK(count_weights(swiglu) <= count_weights(mlp));
    CHECK(count_weights(mlp) - count_weights(swiglu) < 3 * d);
  }
  // multiple_of rounds up: LLaMA-7B's d = 4096 with multiple_of = 256 gives its 11008.
  CHECK(swiglu_hidden_dim(4096, 256) == 11008);
  CHECK(swiglu_hidden_dim(64, 64) == 192);  // floor(512/3) = 170 -> 192
  CHECK(swiglu_hidden_dim(1) == 2);
  CHECK(error_message([] { swiglu_hidden_dim(8, 0); }).find("swiglu_hidden_dim: ") == 0);
}
