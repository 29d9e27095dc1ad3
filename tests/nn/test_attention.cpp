// Attention: against plain loops, the seed article's example, masks (including fully masked
// rows), multi-head vs a loop over heads, gradchecks of every module, and mask leak tests.
#include <cmath>
#include <set>

#include "nn/nn.hpp"
#include "tests/helpers.hpp"

using namespace nn;
using testing::check_close;
using testing::check_gradients;
using testing::error_message;
using testing::random_leaf;
using testing::values;

using testing::op_nodes;

namespace {

// softmax(Q K^T * scale) V for one batch, q [Tq, D], k [Tk, D], v [Tk, Dv], written as loops.
std::vector<double> attention_loops(const std::vector<double>& q, const std::vector<double>& k,
                                    const std::vector<double>& v, int Tq, int Tk, int D, int Dv,
                                    double scale, const std::vector<bool>& blocked = {}) {
  std::vector<double> out(Tq * Dv, 0.0);
  for (int i = 0; i < Tq; ++i) {
    std::vector<double> scores(Tk);
    double top = -1e300;
    bool any = false;
    for (int j = 0; j < Tk; ++j) {
      if (!blocked.empty() && blocked[i * Tk + j]) continue;
      double s = 0;
      for (int d = 0; d < D; ++d) s += q[i * D + d] * k[j * D + d];
      scores[j] = s * scale;
      top = std::max(top, scores[j]);
      any = true;
    }
    if (!any) continue;  // fully masked: output row stays 0
    double total = 0;
    for (int j = 0; j < Tk; ++j)
      if (blocked.empty() || !blocked[i * Tk + j]) total += std::exp(scores[j] - top);
    for (int j = 0; j < Tk; ++j) {
      if (!blocked.empty() && blocked[i * Tk + j]) continue;
      double w = std::exp(scores[j] - top) / total;
      for (int d = 0; d < Dv; ++d) out[i * Dv + d] += w * v[j * Dv + d];
    }
  }
  return out;
}

Tensor f64(const Array& a) { return Tensor(a.to(DType::Float64)); }

}  // namespace

TEST_CASE("the seed article's example: output is 2x3 and each row a convex combination of V") {
  Tensor Q(tensor::from_rows({{1, 2, 3}, {4, 5, 6}}, DType::Float64));
  Tensor K(tensor::from_rows({{7, 8, 9}, {10, 11, 12}}, DType::Float64));
  Tensor V(tensor::from_rows({{13, 14, 15}, {16, 17, 18}}, DType::Float64));
  AttentionOutput result = dot_product_attention(Q, K, V);
  CHECK(result.output.shape() == Shape{2, 3});  // the article printed a 2x2 matrix
  // Scores Q K^T = [[50, 68], [122, 167]]: worked out by hand.
  std::vector<double> w = values(result.weights);
  CHECK(w[0] == doctest::Approx(1 / (1 + std::exp(18.0))).epsilon(1e-9));
  CHECK(w[2] == doctest::Approx(1 / (1 + std::exp(45.0))).epsilon(1e-9));
  check_close(values(result.output),
              attention_loops(values(Q), values(K), values(V), 2, 2, 3, 3, 1.0), 1e-12);
  // Convex combination: every output element lies between V's two rows.
  std::vector<double> out = values(result.output);
  for (int i = 0; i < 2; ++i)
    for (int d = 0; d < 3; ++d) {
      CHECK(out[i * 3 + d] >= 13 + d - 1e-9);
      CHECK(out[i * 3 + d] <= 16 + d + 1e-9);
    }
}

TEST_CASE("scaled_dot_product_attention equals softmax(QK^T/sqrt(d))V written as loops") {
  Generator gen(1);
  Tensor q = f64(tensor::randn({2, 4, 8}, gen)), k = f64(tensor::randn({2, 6, 8}, gen));
  Tensor v = f64(tensor::randn({2, 6, 5}, gen));
  AttentionOutput result = scaled_dot_product_attention(q, k, v);
  CHECK(result.output.shape() == Shape{2, 4, 5});
  CHECK(result.weights.shape() == Shape{2, 4, 6});
  for (int b = 0; b < 2; ++b)
    check_close(values(result.output.select(0, b)),
                attention_loops(values(q.select(0, b)), values(k.select(0, b)),
                                values(v.select(0, b)), 4, 6, 8, 5, 1 / std::sqrt(8.0)),
                1e-12, 1e-12);
  // Rows of the weights sum to 1.
  for (double s : values(autograd::sum(result.weights, {-1}))) CHECK(s == doctest::Approx(1.0));
  CHECK(error_message([&] { scaled_dot_product_attention(q, k.slice(2, 0, 4), v); })
            .find("queries and keys must have the same last dim") != std::string::npos);
}

TEST_CASE("bool and float masks, causal masking, and a fully masked row giving zeros") {
  Generator gen(2);
  Tensor q = f64(tensor::randn({3, 4}, gen)), k = f64(tensor::randn({3, 4}, gen));
  Tensor v = f64(tensor::randn({3, 2}, gen));
  std::vector<bool> blocked{false, true, false,  //
                            true, true, true,    // row 1: every key masked
                            false, false, true};
  Tensor mask(tensor::from_vector(blocked, {3, 3}));
  AttentionOutput r = scaled_dot_product_attention(q, k, v, {.attn_mask = mask});
  check_close(values(r.output), attention_loops(values(q), values(k), values(v), 3, 3, 4, 2, 0.5, blocked),
              1e-12, 1e-12);
  CHECK(values(r.output.select(0, 1)) == std::vector<double>{0, 0});  // defined as zeros
  CHECK(values(r.weights.select(0, 1)) == std::vector<double>{0, 0, 0});
  // The same mask written as a float mask (-inf blocks, 0 allows) gives the same result.
  Tensor float_mask(tensor::where(mask.data(), tensor::scalar(-INFINITY, DType::Float64),
                                  tensor::scalar(0.0, DType::Float64)));
  CHECK(values(scaled_dot_product_attention(q, k, v, {.attn_mask = float_mask}).output) == values(r.output));
  // No NaN reaches the gradients either.
  Tensor ql(q.data(), true), kl(k.data(), true), vl(v.data(), true);
  autograd::sum(scaled_dot_product_attention(ql, kl, vl, {.attn_mask = mask}).output).backward();
  for (Tensor* t : {&ql, &kl, &vl})
    for (double g : values(t->grad())) CHECK(std::isfinite(g));
  CHECK(values(ql.grad().select(0, 1)) == std::vector<double>{0, 0, 0, 0});
  // is_causal is the lower-triangular mask.
  std::vector<bool> causal{false, true, true, false, false, true, false, false, false};
  check_close(values(scaled_dot_product_attention(q, k, v, {.is_causal = true}).output),
              attention_loops(values(q), values(k), values(v), 3, 3, 4, 2, 0.5, causal), 1e-12, 1e-12);
  CHECK(values(causal_mask(2, 4, 2)) == std::vector<double>{0, 0, 0, 1, 0, 0, 0, 0});
}

TEST_CASE("gradcheck: dot-product, scaled and masked attention") {
  Generator gen(3);
  Tensor mask(tensor::from_vector(std::vector<bool>{false, true, false, false, false, true}, {2, 3}));
  check_gradients([&](const std::vector<Tensor>& in) {
    return scaled_dot_product_attention(in[0], in[1], in[2], {.attn_mask = mask}).output;
  }, {random_leaf({2, 2, 3}, gen), random_leaf({2, 3, 3}, gen), random_leaf({2, 3, 2}, gen)});
  check_gradients([&](const std::vector<Tensor>& in) { return dot_product_attention(in[0], in[1], in[2]).output; },
                  {random_leaf({2, 3}, gen), random_leaf({4, 3}, gen), random_leaf({4, 2}, gen)});
}

TEST_CASE("multi-head attention equals an explicit loop over heads") {
  Generator gen(4);
  MultiheadAttention mha(8, 2, 0.0, true, gen);
  mha.to(DType::Float64);
  Tensor x = f64(tensor::randn({2, 5, 8}, gen)), mem = f64(tensor::randn({2, 3, 8}, gen));
  AttentionOutput result =
      mha(x, mem, mem, {}, /*need_weights=*/true, /*average_attn_weights=*/false);
  CHECK(result.output.shape() == Shape{2, 5, 8});
  CHECK(result.weights.shape() == Shape{2, 2, 5, 3});
  // By hand: project, attend per head over its 4 features, concatenate, project out.
  auto project = [](const Tensor& input, Linear& l) { return autograd::matmul(input, l.weight.t()) + l.bias; };
  Tensor q = project(x, *mha.q_proj), k = project(mem, *mha.k_proj), v = project(mem, *mha.v_proj);
  std::vector<Tensor> heads;
  for (int h = 0; h < 2; ++h) {
    Tensor qh = q.slice(2, h * 4, h * 4 + 4), kh = k.slice(2, h * 4, h * 4 + 4), vh = v.slice(2, h * 4, h * 4 + 4);
    Tensor scores = autograd::matmul(qh, kh.transpose(1, 2)) / 2.0;  // sqrt(4)
    heads.push_back(autograd::matmul(autograd::softmax(scores, -1), vh));
  }
  Tensor expected = project(autograd::cat(heads, 2), *mha.out_proj);
  check_close(values(result.output), values(expected), 1e-12, 1e-12);
  // Head-averaged weights are the mean of the per-head ones.
  check_close(values(mha(x, mem, mem, {}, /*need_weights=*/true).weights), values(autograd::mean(result.weights, {1})), 1e-12);
  CHECK(mha.num_parameters() == 4 * (8 * 8 + 8));
  CHECK(error_message([&] { MultiheadAttention(10, 3); }).find("must be divisible by num_heads 3") != std::string::npos);
}

TEST_CASE("gradcheck: MultiheadAttention with padding and attn masks, cross-attention") {
  Generator gen(5);
  MultiheadAttention mha(4, 2, 0.0, true, gen);
  mha.to(DType::Float64);
  Tensor padding(tensor::from_vector(std::vector<bool>{false, false, true, false, false, false}, {2, 3}));
  check_gradients([&](const std::vector<Tensor>& in) {
    return mha(in[0], in[1], in[1], {.key_padding_mask = padding}).output;
  }, {random_leaf({2, 2, 4}, gen), random_leaf({2, 3, 4}, gen)});
  // And with respect to the parameters themselves (perturbed in place).
  Tensor x = f64(tensor::randn({1, 3, 4}, gen));
  autograd::GradcheckResult result = autograd::gradcheck_leaves([&] {
    return mha(x, x, x, {.is_causal = true}).output;
  }, mha.parameters());
  INFO(result.message);
  CHECK(result.passed);
  CHECK(result.elements_checked == 3 * 4 * mha.num_parameters());
}

TEST_CASE("additive (Bahdanau) attention matches its formula and gradchecks") {
  Generator gen(6);
  AdditiveAttention attention(3, 2, 4, gen);
  attention.to(DType::Float64);
  Tensor q = f64(tensor::randn({1, 2, 3}, gen)), k = f64(tensor::randn({1, 3, 2}, gen));
  Tensor v = f64(tensor::randn({1, 3, 2}, gen));
  AttentionOutput r = attention(q, k, v);
  std::vector<double> wq = values(attention.w_q->weight), wk = values(attention.w_k->weight);
  std::vector<double> vw = values(attention.v->weight), qv = values(q), kv = values(k), vv = values(v);
  std::vector<double> expected(4, 0.0);
  for (int i = 0; i < 2; ++i) {
    double scores[3], top = -1e300, total = 0;
    for (int j = 0; j < 3; ++j) {
      double s = 0;
      for (int h = 0; h < 4; ++h) {
        double a = 0;
        for (int d = 0; d < 3; ++d) a += wq[h * 3 + d] * qv[i * 3 + d];
        for (int d = 0; d < 2; ++d) a += wk[h * 2 + d] * kv[j * 2 + d];
        s += vw[h] * std::tanh(a);
      }
      scores[j] = s;
      top = std::max(top, s);
    }
    for (double s : scores) total += std::exp(s - top);
    for (int j = 0; j < 3; ++j)
      for (int d = 0; d < 2; ++d) expected[i * 2 + d] += std::exp(scores[j] - top) / total * vv[j * 2 + d];
  }
  check_close(values(r.output), expected, 1e-12, 1e-12);
  Tensor mask(tensor::from_vector(std::vector<bool>{false, false, true}, {1, 1, 3}));
  check_gradients([&](const std::vector<Tensor>& in) { return attention(in[0], in[1], in[2], {.attn_mask = mask}).output; },
                  {random_leaf({1, 2, 3}, gen), random_leaf({1, 3, 2}, gen), random_leaf({1, 3, 2}, gen)});
}

TEST_CASE("sinusoidal positional encoding follows the paper's formula") {
  Array pe = sinusoidal_positional_encoding(50, 8);
  for (int pos : {0, 1, 7, 49})
    for (int i = 0; i < 4; ++i) {
      double angle = pos / std::pow(10000.0, 2.0 * i / 8);
      CHECK(pe.at({pos, 2 * i}) == doctest::Approx(std::sin(angle)).epsilon(1e-6));
      CHECK(pe.at({pos, 2 * i + 1}) == doctest::Approx(std::cos(angle)).epsilon(1e-6));
    }
  SinusoidalPositionalEncoding encoding(10, 8);
  CHECK(encoding.num_parameters() == 0);
  CHECK(encoding.named_buffers().size() == 1);
  Tensor x = autograd::zeros({2, 4, 8});
  CHECK(values(encoding(x).select(0, 1)) == values(Tensor(pe.slice(0, 0, 4))));
}

TEST_CASE("sinusoidal positional encoding in float64 is the closed form to 1e-12") {
  // Closed form, written out independently: PE[pos, 2i] = sin(pos / 10000^(2i/d)),
  // PE[pos, 2i+1] = cos(pos / 10000^(2i/d)). A float table widened to float64 is off by ~1e-7.
  const std::int64_t max_len = 64, d = 10;
  auto check_table = [&](const Array& table) {
    REQUIRE(table.dtype() == DType::Float64);
    for (std::int64_t pos = 0; pos < max_len; ++pos)
      for (std::int64_t i = 0; i < d / 2; ++i) {
        double angle = double(pos) / std::pow(10000.0, double(2 * i) / double(d));
        CHECK(std::abs(table.at({pos, 2 * i}) - std::sin(angle)) <= 1e-12);
        CHECK(std::abs(table.at({pos, 2 * i + 1}) - std::cos(angle)) <= 1e-12);
      }
  };
  check_table(sinusoidal_positional_encoding(max_len, d, DType::Float64));
  // A module built in float32 and converted: the table is recomputed, not widened.
  SinusoidalPositionalEncoding encoding(max_len, d);
  encoding.to(DType::Float64);
  check_table(encoding.table.data());
  Tensor x = autograd::zeros({1, max_len, d}, DType::Float64);
  check_table(encoding(x).select(0, 0).data());
}

namespace {

// The promise of the `site` argument: library code passes on the site it was given, so every
// node an attention module records names the line of this file that called it.
void check_all_at(const std::vector<const autograd::Node*>& nodes, unsigned line) {
  REQUIRE(nodes.size() > 5);  // projections, scores, softmax, ...: a real graph was walked
  for (const autograd::Node* node : nodes) {
    INFO("node " << node->op << " made at " << node->site_str());
    CHECK(std::string(node->site.file_name()).find("tests/nn/test_attention.cpp") !=
          std::string::npos);
    CHECK(node->site.line() == line);
  }
}

}  // namespace

TEST_CASE("attention modules name the caller's line on every node they record") {
  Generator gen(13);
  Tensor x = random_leaf({2, 3, 4}, gen);
  Tensor padding(tensor::from_vector(std::vector<bool>{false, false, true, false, false, false}, {2, 3}));

  MultiheadAttention mha(4, 2, 0.0, true, gen);
  const unsigned mha_line = __LINE__ + 1;
  AttentionOutput mha_out = mha(x, x, x, {.key_padding_mask = padding, .is_causal = true}, true);
  check_all_at(op_nodes(mha_out.output), mha_line);
  check_all_at(op_nodes(mha_out.weights), mha_line);

  AdditiveAttention additive(4, 4, 5, gen);
  const unsigned additive_line = __LINE__ + 1;
  AttentionOutput additive_out = additive(x, x, x, {.key_padding_mask = padding});
  check_all_at(op_nodes(additive_out.output), additive_line);

  const unsigned function_line = __LINE__ + 1;
  AttentionOutput sdpa_out = scaled_dot_product_attention(x, x, x, {.is_causal = true});
  check_all_at(op_nodes(sdpa_out.output), function_line);
}
