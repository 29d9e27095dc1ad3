// Grouped-query attention (MultiheadAttention with num_kv_heads): against attention written as
// plain loops over heads, the old multi-head code path at num_kv_heads = num_heads (bit for
// bit), multi-query attention by hand at num_kv_heads = 1, float64 gradchecks, repeat_kv's
// layout, and the KV cache holding only the kv heads.
#include <cmath>

#include "nn/nn.hpp"
#include "tests/helpers.hpp"

using namespace nn;
using testing::check_close;
using testing::check_gradients;
using testing::error_message;
using testing::f64_randn;
using testing::random_leaf;
using testing::values;

namespace {

// y[b, t, o] = sum_i x[b, t, i] * W[o, i] + bias[o], in plain loops. x is [B, T, I].
std::vector<double> linear_loops(const std::vector<double>& x, int B, int T, int I,
                                 const Linear& layer) {
  const int O = static_cast<int>(layer.out_features);
  std::vector<double> w = values(layer.weight), bias = values(layer.bias), y(B * T * O);
  for (int bt = 0; bt < B * T; ++bt)
    for (int o = 0; o < O; ++o) {
      double s = bias[o];
      for (int i = 0; i < I; ++i) s += x[bt * I + i] * w[o * I + i];
      y[bt * O + o] = s;
    }
  return y;
}

// Rotary embedding in plain loops on x [B, T, heads * D] (row-major): the pair (2i, 2i + 1) of
// each head at position offset + t turns by the angle (offset + t) * base^(-2i / D).
void rotate_loops(std::vector<double>& x, int B, int T, int heads, int D, int offset, double base) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < heads; ++h)
        for (int i = 0; i < D / 2; ++i) {
          double angle = (offset + t) * std::pow(base, -2.0 * i / D);
          double& x0 = x[(b * T + t) * heads * D + h * D + 2 * i];
          double& x1 = x[(b * T + t) * heads * D + h * D + 2 * i + 1];
          double r0 = x0 * std::cos(angle) - x1 * std::sin(angle);
          double r1 = x0 * std::sin(angle) + x1 * std::cos(angle);
          x0 = r0, x1 = r1;
        }
}

// Grouped-query self/cross attention written as loops: query head h reads kv head
// h / (H / Hkv); causal blocks key j > query i; q and k rotated first when mha.rotary.
// query [B, Tq, E], memory [B, Tk, E].
std::vector<double> gqa_loops(const MultiheadAttention& mha, const Tensor& query,
                              const Tensor& memory, bool causal) {
  const int B = query.size(0), Tq = query.size(1), Tk = memory.size(1), E = mha.embed_dim;
  const int H = mha.num_heads, Hkv = mha.num_kv_heads, D = mha.head_dim, groups = H / Hkv;
  std::vector<double> q = linear_loops(values(query), B, Tq, E, *mha.q_proj);   // [B, Tq, H*D]
  std::vector<double> k = linear_loops(values(memory), B, Tk, E, *mha.k_proj);  // [B, Tk, Hkv*D]
  std::vector<double> v = linear_loops(values(memory), B, Tk, E, *mha.v_proj);
  if (mha.rotary) {
    rotate_loops(q, B, Tq, H, D, 0, mha.rope_base);
    rotate_loops(k, B, Tk, Hkv, D, 0, mha.rope_base);
  }
  std::vector<double> concat(B * Tq * E, 0.0);  // [B, Tq, H*D]
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const int g = h / groups;  // the kv head this query head reads
      for (int i = 0; i < Tq; ++i) {
        std::vector<double> scores(Tk, -INFINITY);
        double top = -INFINITY;
        for (int j = 0; j < Tk; ++j) {
          if (causal && j > i) continue;
          double s = 0;
          for (int d = 0; d < D; ++d)
            s += q[(b * Tq + i) * H * D + h * D + d] * k[(b * Tk + j) * Hkv * D + g * D + d];
          scores[j] = s / std::sqrt(double(D));
          top = std::max(top, scores[j]);
        }
        double total = 0;
        for (int j = 0; j < Tk; ++j) total += std::exp(scores[j] - top);
        for (int j = 0; j < Tk; ++j) {
          double weight = std::exp(scores[j] - top) / total;
          for (int d = 0; d < D; ++d)
            concat[(b * Tq + i) * E + h * D + d] += weight * v[(b * Tk + j) * Hkv * D + g * D + d];
        }
      }
    }
  return linear_loops(concat, B, Tq, E, *mha.out_proj);
}

}  // namespace

TEST_CASE("repeat_kv: head h of the result is kv head h / groups; the gradient sums the groups") {
  Generator gen(11);
  Tensor kv = f64_randn({2, 3, 4, 5}, gen);  // [B, Hkv, T, D]
  Tensor repeated = repeat_kv(kv, 2);
  REQUIRE(repeated.shape() == Shape{2, 6, 4, 5});
  std::vector<double> in = values(kv), out = values(repeated);
  bool all_equal = true;
  for (int b = 0; b < 2; ++b)
    for (int h = 0; h < 6; ++h)
      for (int t = 0; t < 4; ++t)
        for (int d = 0; d < 5; ++d)
          all_equal = all_equal && out[((b * 6 + h) * 4 + t) * 5 + d] ==
                                       in[((b * 3 + h / 2) * 4 + t) * 5 + d];
  CHECK(all_equal);
  CHECK(repeat_kv(kv, 1).data().storage() == kv.data().storage());  // groups = 1: kv itself
  check_gradients([](const std::vector<Tensor>& in) { return repeat_kv(in[0], 3); },
                  {random_leaf({1, 2, 3, 2}, gen)});
  // And on a transposed (non-contiguous) input, as split heads are.
  check_gradients([](const std::vector<Tensor>& in) { return repeat_kv(in[0].transpose(1, 2), 2); },
                  {random_leaf({1, 3, 2, 2}, gen)});
  CHECK(error_message([&] { repeat_kv(Tensor(tensor::zeros({2, 3, 4})), 2); })
            .find("repeat_kv: expected kv [B, Hkv, T, D]") != std::string::npos);
  CHECK(error_message([&] { repeat_kv(kv, 0); }).find("groups 0") != std::string::npos);
}

TEST_CASE("grouped-query attention equals attention written as loops over heads") {
  Generator gen(12);
  for (std::int64_t kv_heads : {1, 2, 4}) {
    CAPTURE(kv_heads);
    MultiheadAttention mha(8, 4, 0.0, true, gen, 0, 0, kv_heads);
    mha.to(DType::Float64);
    // Non-zero biases, so a bias applied to the wrong head would show.
    for (auto& p : mha.parameters())
      if (p.dim() == 1) p.data().copy_(tensor::randn(p.shape(), gen, DType::Float64));
    CHECK(mha.k_proj->weight.shape() == Shape{kv_heads * 2, 8});
    CHECK(mha.num_parameters() == 2 * (8 * 8 + 8) + 2 * (kv_heads * 2 * 8 + kv_heads * 2));
    Tensor x = f64_randn({2, 5, 8}, gen), memory = f64_randn({2, 3, 8}, gen);
    check_close(values(mha(x, memory, memory).output), gqa_loops(mha, x, memory, false), 1e-12, 1e-12);
    check_close(values(mha(x, x, x, {.is_causal = true}).output), gqa_loops(mha, x, x, true), 1e-12, 1e-12);
  }
}

TEST_CASE("num_kv_heads = num_heads is the old multi-head attention, bit for bit") {
  Generator gen_a(13), gen_b(13);
  MultiheadAttention standard(8, 2, 0.0, true, gen_a), explicit_kv(8, 2, 0.0, true, gen_b, 0, 0, 2);
  CHECK(standard.num_kv_heads == 2);
  auto a = standard.named_parameters(), b = explicit_kv.named_parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].first == b[i].first);
    CHECK(values(a[i].second) == values(b[i].second));
  }
  Generator data(14);
  Tensor x = autograd::randn({2, 4, 8}, data);
  // The multi-head code path before grouped-query attention, written out with the same ops:
  // split into heads, scaled attention, merge, out_proj.
  auto split = [](const Tensor& t) { return t.view({2, 4, 2, 4}).transpose(1, 2); };
  Tensor heads = scaled_dot_product_attention(split((*standard.q_proj)(x)), split((*standard.k_proj)(x)),
                                              split((*standard.v_proj)(x)), {.is_causal = true})
                     .output;
  Tensor old_path = (*standard.out_proj)(heads.transpose(1, 2).reshape({2, 4, 8}));
  // The composed path (the one the old code took) gives the same bits; the fused kernel sums
  // in another order, so it agrees to float32 rounding, and the same bits for both modules.
  Tensor fused_standard = standard(x, x, x, {.is_causal = true}).output;
  CHECK(values(explicit_kv(x, x, x, {.is_causal = true}).output) == values(fused_standard));
  check_close(values(fused_standard), values(old_path), 1e-5, 1e-6);
  standard.use_fused = explicit_kv.use_fused = false;
  CHECK(values(standard(x, x, x, {.is_causal = true}).output) == values(old_path));
  CHECK(values(explicit_kv(x, x, x, {.is_causal = true}).output) == values(old_path));
}

TEST_CASE("num_kv_heads = 1 is multi-query attention: one key and value head shared by every query head") {
  Generator gen(15);
  MultiheadAttention mqa(12, 3, 0.0, true, gen, 0, 0, 1);
  mqa.to(DType::Float64);
  Tensor x = f64_randn({2, 4, 12}, gen);
  // By hand: one key and one value projection of size D = 4, every head attends with them.
  auto project = [](const Tensor& input, Linear& l) { return autograd::matmul(input, l.weight.t()) + l.bias; };
  Tensor q = project(x, *mqa.q_proj), k = project(x, *mqa.k_proj), v = project(x, *mqa.v_proj);
  REQUIRE(k.shape() == Shape{2, 4, 4});
  std::vector<Tensor> heads;
  for (int h = 0; h < 3; ++h) {
    Tensor scores = autograd::matmul(q.slice(2, h * 4, h * 4 + 4), k.transpose(1, 2)) / 2.0;  // sqrt(4)
    heads.push_back(autograd::matmul(autograd::softmax(scores, -1), v));
  }
  Tensor expected = project(autograd::cat(heads, 2), *mqa.out_proj);
  check_close(values(mqa(x, x, x).output), values(expected), 1e-12, 1e-12);
}

TEST_CASE("gradcheck: grouped-query attention with respect to inputs and parameters") {
  Generator gen(16);
  MultiheadAttention gqa(8, 4, 0.0, true, gen, 0, 0, 2);
  gqa.to(DType::Float64);
  Tensor padding(tensor::from_vector(std::vector<bool>{false, false, true, false, false, false}, {2, 3}));
  check_gradients([&](const std::vector<Tensor>& in) {
    return gqa(in[0], in[1], in[1], {.key_padding_mask = padding}).output;
  }, {random_leaf({2, 2, 8}, gen), random_leaf({2, 3, 8}, gen)});
  Tensor x = f64_randn({1, 3, 8}, gen);
  autograd::GradcheckResult result = autograd::gradcheck_leaves([&] {
    return gqa(x, x, x, {.is_causal = true}).output;
  }, gqa.parameters());
  INFO(result.message);
  CHECK(result.passed);
  CHECK(result.elements_checked == 3 * 8 * gqa.num_parameters());
}

TEST_CASE("the KV cache of grouped-query attention holds only the kv heads") {
  Generator gen(17);
  for (std::int64_t kv_heads : {1, 2, 4}) {
    CAPTURE(kv_heads);
    MultiheadAttention mha(16, 4, 0.0, true, gen, 0, 0, kv_heads);
    mha.to(DType::Float64);
    Tensor x = f64_randn({2, 5, 16}, gen);
    KVCache cache;
    Tensor first = mha.forward_cached(x.slice(1, 0, 3), cache).output;
    Tensor rest = mha.forward_cached(x.slice(1, 3, 5), cache).output;
    CHECK(cache.k.shape() == Shape{2, kv_heads, 5, 4});  // [B, Hkv, T, D]
    CHECK(cache.numel() == 2 * 2 * kv_heads * 4 * 5);    // keys and values, B = 2
    CHECK(cache.k.data().storage()->nbytes() == std::size_t(2 * kv_heads * 5 * 4 * 8));
    // Cached decoding gives the full causal forward's output.
    check_close(values(autograd::cat({first, rest}, 1)),
                values(mha(x, x, x, {.is_causal = true}).output), 1e-12, 1e-12);
  }
}

TEST_CASE("num_kv_heads must divide num_heads") {
  CHECK(error_message([] { MultiheadAttention(8, 4, 0.0, true, tensor::default_generator(), 0, 0, 3); })
            .find("num_kv_heads 3 must divide num_heads 4") != std::string::npos);
  CHECK(error_message([] { MultiheadAttention(8, 4, 0.0, true, tensor::default_generator(), 0, 0, -1); })
            .find("num_kv_heads -1 must divide") != std::string::npos);
  CHECK(error_message([] { MultiheadAttention(8, 4, 0.0, true, tensor::default_generator(), 0, 0, 8); })
            .find("num_kv_heads 8 must divide num_heads 4") != std::string::npos);
}

TEST_CASE("SinusoidalPositionalEncoding with an offset adds the table's rows offset, offset + 1, ...") {
  SinusoidalPositionalEncoding encoding(10, 4);
  encoding.to(DType::Float64);
  Tensor x(tensor::zeros({2, 3, 4}, DType::Float64));
  Array table = sinusoidal_positional_encoding(10, 4, DType::Float64);
  std::vector<double> expected;
  for (int b = 0; b < 2; ++b) {
    std::vector<double> rows = values(table.slice(0, 5, 8));
    expected.insert(expected.end(), rows.begin(), rows.end());
  }
  CHECK(values(encoding.forward(x, 5)) == expected);
  CHECK(values(encoding.forward(x)) == values(encoding.forward(x, 0)));
  CHECK(error_message([&] { encoding.forward(x, 8); }).find("offset + T <= 10") != std::string::npos);
}

TEST_CASE("rotary grouped-query attention equals loops that rotate q and k, also cached") {
  Generator gen(18);
  for (std::int64_t kv_heads : {1, 2, 4}) {
    CAPTURE(kv_heads);
    MultiheadAttention mha(16, 4, 0.0, true, gen, 0, 0, kv_heads, /*rotary=*/true, /*rope_base=*/100.0);
    mha.to(DType::Float64);
    Tensor x = f64_randn({2, 6, 16}, gen), memory = f64_randn({2, 4, 16}, gen);
    check_close(values(mha(x, x, x, {.is_causal = true}).output), gqa_loops(mha, x, x, true), 1e-12, 1e-12);
    check_close(values(mha(x, memory, memory).output), gqa_loops(mha, x, memory, false), 1e-12, 1e-12);
    // Cached, in chunks: each chunk is rotated from the cache's length on.
    KVCache cache;
    Tensor a = mha.forward_cached(x.slice(1, 0, 2), cache).output;
    Tensor b = mha.forward_cached(x.slice(1, 2, 3), cache).output;
    Tensor c = mha.forward_cached(x.slice(1, 3, 6), cache).output;
    CHECK(cache.k.shape() == Shape{2, kv_heads, 6, 4});
    check_close(values(autograd::cat({a, b, c}, 1)), gqa_loops(mha, x, x, true), 1e-12, 1e-12);
  }
  CHECK(error_message([] { MultiheadAttention(12, 4, 0.0, true, tensor::default_generator(), 0, 0, 2, true); })
            .find("rotary needs an even head_dim") != std::string::npos);
}

TEST_CASE("gradcheck: rotary grouped-query attention with respect to inputs and parameters") {
  Generator gen(19);
  MultiheadAttention gqa(8, 4, 0.0, true, gen, 0, 0, 2, /*rotary=*/true);
  gqa.to(DType::Float64);
  check_gradients([&](const std::vector<Tensor>& in) {
    return gqa(in[0], in[0], in[0], {.is_causal = true}).output;
  }, {random_leaf({2, 3, 8}, gen)});
  Tensor x = f64_randn({1, 3, 8}, gen);
  autograd::GradcheckResult result = autograd::gradcheck_leaves([&] {
    return gqa(x, x, x, {.is_causal = true}).output;
  }, gqa.parameters());
  INFO(result.message);
  CHECK(result.passed);
  CHECK(result.elements_checked == 3 * 8 * gqa.num_parameters());
}
