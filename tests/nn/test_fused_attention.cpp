// Fused attention (tensor/cpu/attention.cpp) against the composed path (matmul, mask, softmax,
// matmul: nn::scaled_dot_product_attention, itself tested against plain loops in
// test_attention.cpp) and against a plain loop here: forward and all three gradients, float32
// and float64, causal (with an offset), padding and both, odd sizes, Tq != Tk, fully masked
// rows, non-contiguous inputs, grouped-query attention; a float64 gradcheck; and
// MultiheadAttention with and without the kernel.
#include <cmath>
#include <string>

#include "nn/nn.hpp"
#include "tensor/nn_ops.hpp"
#include "tests/helpers.hpp"

using namespace nn;
using testing::check_close;
using testing::check_gradients;
using testing::error_message;
using testing::op_nodes;
using testing::values;

namespace {

struct Case {
  std::int64_t B = 2, H = 2, Hkv = 2, Tq = 7, Tk = 7, D = 5, Dv = 5;
  bool causal = false;
  std::int64_t causal_offset = 0;
  std::vector<std::int64_t> valid_keys{};  // per batch entry: keys >= this are padding; {} = none
  bool transposed_inputs = false;        // q, k, v as views of [B, T, heads, D], as MHA's
  DType dtype = DType::Float64;
  double qk_magnitude = 1.0;  // q and k drawn from +-1.5 times this
  std::string name() const {
    return "B=" + std::to_string(B) + " H=" + std::to_string(H) + " Hkv=" + std::to_string(Hkv) +
           " Tq=" + std::to_string(Tq) + " Tk=" + std::to_string(Tk) + " D=" + std::to_string(D) +
           " Dv=" + std::to_string(Dv) + (causal ? " causal+" + std::to_string(causal_offset) : "") +
           (valid_keys.empty() ? "" : " padded") + (transposed_inputs ? " strided" : "") + " " +
           tensor::dtype_name(dtype);
  }
};

// A leaf of random values in dtype: [B, heads, T, D], or [B, T, heads, D] (the layout of
// MultiheadAttention's projections) when the case reads it through a transposed view.
Tensor heads_leaf(const Case& c, std::int64_t heads, std::int64_t T, std::int64_t D,
                  Generator& gen, double magnitude = 1.0) {
  Shape shape = c.transposed_inputs ? Shape{c.B, T, heads, D} : Shape{c.B, heads, T, D};
  return Tensor(tensor::uniform(shape, -1.5 * magnitude, 1.5 * magnitude, gen, c.dtype), true);
}

// The leaf as [B, heads, T, D]: itself, or a strided view of it.
Tensor as_heads(const Case& c, const Tensor& leaf) {
  return c.transposed_inputs ? leaf.transpose(1, 2) : leaf;
}

Tensor padding_mask(const Case& c) {
  if (c.valid_keys.empty()) return Tensor();
  Array mask = tensor::zeros({c.B, c.Tk}, DType::Bool);
  for (std::int64_t b = 0; b < c.B; ++b)
    for (std::int64_t j = c.valid_keys[b]; j < c.Tk; ++j) mask.set({b, j}, 1.0);
  return Tensor(mask);
}

struct Results {
  std::vector<double> out, dq, dk, dv;
};

// out and the gradients of sum(out * upstream) for q, k, v, by the fused kernel or composed.
Results run(const Case& c, bool fused, std::uint64_t seed) {
  Generator gen(seed);
  Tensor q_leaf = heads_leaf(c, c.H, c.Tq, c.D, gen, c.qk_magnitude);
  Tensor k_leaf = heads_leaf(c, c.Hkv, c.Tk, c.D, gen, c.qk_magnitude);
  Tensor v_leaf = heads_leaf(c, c.Hkv, c.Tk, c.Dv, gen);
  Tensor upstream(tensor::uniform({c.B, c.H, c.Tq, c.Dv}, -1, 1, gen, c.dtype));
  Tensor q = as_heads(c, q_leaf), k = as_heads(c, k_leaf), v = as_heads(c, v_leaf);
  Tensor padding = padding_mask(c);
  Tensor out;
  if (fused) {
    out = fused_scaled_dot_product_attention(
        q, k, v, {.key_padding_mask = padding, .is_causal = c.causal}, c.causal_offset);
  } else {
    Tensor causal = c.causal ? causal_mask(c.Tq, c.Tk, c.causal_offset) : Tensor();
    const std::int64_t groups = c.H / c.Hkv;
    out = scaled_dot_product_attention(q, repeat_kv(k, groups), repeat_kv(v, groups),
                                       {.key_padding_mask = padding, .attn_mask = causal})
              .output;
  }
  autograd::sum(out * upstream).backward();
  return {values(out), values(as_heads(c, q_leaf.grad())), values(as_heads(c, k_leaf.grad())),
          values(as_heads(c, v_leaf.grad()))};
}

void check_fused_matches_composed(const Case& c) {
  INFO(c.name());
  Results fused = run(c, true, 7), composed = run(c, false, 7);
  // float64: both are exact to rounding. float32: sums over up to Tk * D terms in another order.
  const bool f32 = c.dtype == DType::Float32;
  const double rtol = f32 ? 1e-4 : 1e-10, atol = f32 ? 2e-5 : 1e-12;
  for (const auto& list : {fused.out, fused.dq, fused.dk, fused.dv})
    for (double x : list) REQUIRE(std::isfinite(x));
  check_close(fused.out, composed.out, rtol, atol);
  check_close(fused.dq, composed.dq, rtol, atol);
  check_close(fused.dk, composed.dk, rtol, atol);
  check_close(fused.dv, composed.dv, rtol, atol);
}

}  // namespace

TEST_CASE("fused attention = composed attention: masks, sizes, layouts, GQA, float32/float64") {
  std::vector<Case> cases;
  for (DType dtype : {DType::Float64, DType::Float32}) {
    cases.push_back({.dtype = dtype});  // no mask
    cases.push_back({.causal = true, .dtype = dtype});
    cases.push_back({.valid_keys = {7, 4}, .dtype = dtype});
    cases.push_back({.causal = true, .valid_keys = {3, 6}, .dtype = dtype});
    // One query (decoding a token) and a single key; D = 1.
    cases.push_back({.B = 1, .Tq = 1, .Tk = 1, .D = 1, .Dv = 1, .dtype = dtype});
    cases.push_back({.Tq = 1, .Tk = 33, .D = 1, .Dv = 3, .causal = true, .causal_offset = 32,
                     .dtype = dtype});
    // Tq != Tk, a KV-cache style causal offset, keys spanning several key blocks (64 each),
    // queries spanning several query blocks (32 each), D = 64.
    cases.push_back({.B = 2, .H = 3, .Hkv = 3, .Tq = 33, .Tk = 130, .D = 64, .Dv = 64,
                     .causal = true, .causal_offset = 97, .valid_keys = {130, 101},
                     .dtype = dtype});
    cases.push_back({.B = 1, .H = 2, .Hkv = 2, .Tq = 70, .Tk = 33, .D = 64, .Dv = 7,
                     .dtype = dtype});
    // The kernel works on tiles of 128 queries x 256 keys: several of each, so that the online
    // softmax rescales across key tiles and causal skips whole tiles; the last ones partial.
    cases.push_back({.B = 1, .H = 2, .Hkv = 1, .Tq = 130, .Tk = 600, .D = 8, .Dv = 5,
                     .causal = true, .causal_offset = 470, .valid_keys = {590}, .dtype = dtype});
    cases.push_back({.B = 1, .H = 1, .Hkv = 1, .Tq = 300, .Tk = 300, .D = 3, .Dv = 3,
                     .causal = true, .dtype = dtype});
    cases.push_back({.B = 2, .H = 1, .Hkv = 1, .Tq = 3, .Tk = 530, .D = 4, .Dv = 4,
                     .valid_keys = {530, 300}, .transposed_inputs = true, .dtype = dtype});
    // Strided views of [B, T, heads, D], as MultiheadAttention passes them.
    cases.push_back({.Tq = 33, .Tk = 33, .D = 5, .Dv = 5, .causal = true, .valid_keys = {33, 20},
                     .transposed_inputs = true, .dtype = dtype});
    // Grouped-query (H = 4 over Hkv = 2) and multi-query (Hkv = 1) attention.
    cases.push_back({.H = 4, .Hkv = 2, .Tq = 7, .Tk = 9, .causal = true, .causal_offset = 2,
                     .valid_keys = {9, 5}, .transposed_inputs = true, .dtype = dtype});
    cases.push_back({.H = 3, .Hkv = 1, .Tq = 33, .Tk = 33, .D = 64, .Dv = 64, .causal = true,
                     .dtype = dtype});
  }
  for (const Case& c : cases) check_fused_matches_composed(c);
}

TEST_CASE("fused attention: scores of 1e9 (a diverging run) give finite gradients, as composed") {
  // q and k of size ~3e4: scores ~1e9, where a float32 step is ~100 and softmax is one-hot.
  // The backward must rebuild each weight from the scores rounded exactly as the forward
  // rounded them: a score recomputed a few units off gives exp(+units) for a weight <= 1, and
  // inf or NaN gradients (27_lora at --lr 10 met this). D = 5: the scale 1/sqrt(5) is inexact.
  for (bool causal : {false, true}) {
    const Case c{.B = 2, .H = 2, .Hkv = 2, .Tq = 33, .Tk = 33, .D = 5, .Dv = 5, .causal = causal,
                 .valid_keys = {33, 20}, .dtype = DType::Float32, .qk_magnitude = 3e4};
    INFO(c.name());
    Results fused = run(c, true, 11), composed = run(c, false, 11);
    for (const auto& list : {fused.out, fused.dq, fused.dk, fused.dv})
      for (double x : list) REQUIRE(std::isfinite(x));
    check_close(fused.out, composed.out, 1e-4, 2e-5);
    check_close(fused.dv, composed.dv, 1e-4, 2e-5);
    // One-hot weights: dS = P (dP - dO.O) is 0 up to the rounding of dP and dO.O (~1e-7 of
    // values ~1), times k or q (~3e4) for dq and dk.
    check_close(fused.dq, composed.dq, 0.0, 1e-7 * 3e4 * c.Tk);
    check_close(fused.dk, composed.dk, 0.0, 1e-7 * 3e4 * c.Tq);
  }
}

TEST_CASE("fused attention: fully masked rows give output 0 and zero gradients, no NaN") {
  for (DType dtype : {DType::Float64, DType::Float32}) {
    // Batch entry 1 has no valid key at all; with causal offset -2, queries 0 and 1 of every
    // batch entry see no key either.
    Case c{.B = 2, .H = 2, .Hkv = 1, .Tq = 6, .Tk = 6, .D = 5, .Dv = 3, .causal = true,
           .causal_offset = -2, .valid_keys = {6, 0}, .dtype = dtype};
    check_fused_matches_composed(c);  // the composed path also gives 0 there (its softmax does)
    Results fused = run(c, true, 11);
    auto row_is_zero = [&](const std::vector<double>& list, std::int64_t b, std::int64_t h,
                           std::int64_t i, std::int64_t heads, std::int64_t T, std::int64_t D) {
      for (std::int64_t d = 0; d < D; ++d)
        if (list[((b * heads + h) * T + i) * D + d] != 0.0) return false;
      return true;
    };
    for (std::int64_t h = 0; h < c.H; ++h)
      for (std::int64_t i = 0; i < c.Tq; ++i) {
        CHECK(row_is_zero(fused.out, 1, h, i, c.H, c.Tq, c.Dv));  // every key padding
        CHECK(row_is_zero(fused.dq, 1, h, i, c.H, c.Tq, c.D));
        if (i < 2) {  // causal offset -2: nothing to see yet
          CHECK(row_is_zero(fused.out, 0, h, i, c.H, c.Tq, c.Dv));
          CHECK(row_is_zero(fused.dq, 0, h, i, c.H, c.Tq, c.D));
        }
      }
    for (std::int64_t j = 0; j < c.Tk; ++j) {  // nobody attended to batch 1's keys
      CHECK(row_is_zero(fused.dk, 1, 0, j, c.Hkv, c.Tk, c.D));
      CHECK(row_is_zero(fused.dv, 1, 0, j, c.Hkv, c.Tk, c.Dv));
    }
    CHECK_FALSE(row_is_zero(fused.out, 0, 0, 2, c.H, c.Tq, c.Dv));  // query 2 sees key 0
  }
  // No key at all (Tk = 0): every row is fully masked.
  Tensor q(tensor::ones({1, 1, 3, 2}), true), k(tensor::ones({1, 1, 0, 2}), true),
      v(tensor::ones({1, 1, 0, 2}), true);
  Tensor out = fused_scaled_dot_product_attention(q, k, v);
  CHECK(values(out) == std::vector<double>(6, 0.0));
  autograd::sum(out).backward();
  CHECK(values(q.grad()) == std::vector<double>(6, 0.0));
}

TEST_CASE("fused attention against a plain loop (GQA, causal offset, padding)") {
  // The same numbers written as loops over one (batch, head) at a time, independent of both
  // the kernel and the composed path.
  const std::int64_t B = 2, H = 4, Hkv = 2, Tq = 5, Tk = 8, D = 3, Dv = 2, offset = 3;
  const std::vector<std::int64_t> valid = {8, 6};
  Generator gen(3);
  Array q = tensor::uniform({B, H, Tq, D}, -2, 2, gen, DType::Float64);
  Array k = tensor::uniform({B, Hkv, Tk, D}, -2, 2, gen, DType::Float64);
  Array v = tensor::uniform({B, Hkv, Tk, Dv}, -2, 2, gen, DType::Float64);
  Case c{.B = B, .Tk = Tk, .valid_keys = valid};
  Tensor out = fused_scaled_dot_product_attention(
      Tensor(q), Tensor(k), Tensor(v), {.key_padding_mask = padding_mask(c), .is_causal = true},
      offset);
  std::vector<double> expected(B * H * Tq * Dv, 0.0);
  const double scale = 1 / std::sqrt(double(D));
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t i = 0; i < Tq; ++i) {
        const std::int64_t kv = h / (H / Hkv);
        std::vector<double> weights(Tk, 0.0);
        double top = -1e300, total = 0;
        for (std::int64_t j = 0; j < Tk && j <= i + offset && j < valid[b]; ++j) {
          double s = 0;
          for (std::int64_t d = 0; d < D; ++d) s += q.at({b, h, i, d}) * k.at({b, kv, j, d});
          weights[j] = s * scale;
          top = std::max(top, weights[j]);
        }
        const std::int64_t allowed = std::min({Tk, i + offset + 1, valid[b]});
        for (std::int64_t j = 0; j < allowed; ++j) total += std::exp(weights[j] - top);
        for (std::int64_t j = 0; j < allowed; ++j)
          for (std::int64_t d = 0; d < Dv; ++d)
            expected[((b * H + h) * Tq + i) * Dv + d] +=
                std::exp(weights[j] - top) / total * v.at({b, kv, j, d});
      }
  check_close(values(out), expected, 1e-12, 1e-12);
}

TEST_CASE("fused attention gradcheck (float64, GQA, causal, padding)") {
  Generator gen(5);
  Tensor q = testing::random_leaf({2, 4, 5, 3}, gen);
  Tensor k = testing::random_leaf({2, 2, 6, 3}, gen);
  Tensor v = testing::random_leaf({2, 2, 6, 2}, gen);
  Case c{.B = 2, .Tk = 6, .valid_keys = {6, 4}};
  Tensor padding = padding_mask(c);
  check_gradients(
      [&](const std::vector<Tensor>& in) {
        return fused_scaled_dot_product_attention(
            in[0], in[1], in[2], {.key_padding_mask = padding, .is_causal = true}, 1);
      },
      {q, k, v});
}

TEST_CASE("fused attention rejects what it cannot compute, naming it") {
  Tensor q(tensor::ones({1, 2, 3, 4})), k(tensor::ones({1, 2, 3, 4}));
  CHECK(error_message([&] {
          fused_scaled_dot_product_attention(q, k, k, {.attn_mask = causal_mask(3, 3)});
        }).find("attn_mask") != std::string::npos);
  CHECK(error_message([&] {
          fused_scaled_dot_product_attention(q, Tensor(tensor::ones({1, 3, 3, 4})),
                                             Tensor(tensor::ones({1, 3, 3, 4})));
        }).find("multiple of the key/value heads") != std::string::npos);
  CHECK(error_message([&] {
          fused_scaled_dot_product_attention(
              q, k, k, {.key_padding_mask = Tensor(tensor::zeros({1, 4}, DType::Bool))});
        }).find("key_padding") != std::string::npos);
  CHECK(fused_attention_supports(q, {.is_causal = true}));
  CHECK_FALSE(fused_attention_supports(q, {.attn_mask = causal_mask(3, 3)}));
  CHECK_FALSE(fused_attention_supports(q, {.key_padding_mask = Tensor(tensor::zeros({1, 3}))}));
}

namespace {

bool uses_fused_kernel(const Tensor& output) {
  for (const autograd::Node* node : op_nodes(output))
    if (node->op == "fused_attention") return true;
  return false;
}

// A MultiheadAttention's output and parameter gradients, with or without the fused kernel.
struct ModuleRun {
  std::vector<double> out;
  std::vector<std::vector<double>> grads;
  bool fused_kernel_ran = false;
};

ModuleRun run_module(std::int64_t num_kv_heads, bool rotary, const AttentionMasks& masks,
                     bool use_fused, std::int64_t Tk) {
  Generator gen(21);
  MultiheadAttention mha(16, 4, 0.0, true, gen, 0, 0, num_kv_heads, rotary);
  mha.to(DType::Float64);
  mha.use_fused = use_fused;
  Generator data_gen(22);
  Tensor query(tensor::uniform({2, 5, 16}, -1, 1, data_gen, DType::Float64));
  Tensor memory(tensor::uniform({2, Tk, 16}, -1, 1, data_gen, DType::Float64));
  Tensor upstream(tensor::uniform({2, 5, 16}, -1, 1, data_gen, DType::Float64));
  Tensor out = mha(query, memory, memory, masks).output;
  ModuleRun result{values(out), {}, uses_fused_kernel(out)};
  autograd::sum(out * upstream).backward();
  for (auto& [name, p] : mha.named_parameters()) result.grads.push_back(values(p.grad()));
  return result;
}

}  // namespace

TEST_CASE("MultiheadAttention with the fused kernel = without it (GQA, rotary, masks)") {
  Tensor padding(tensor::zeros({2, 5}, DType::Bool));
  padding.data().set({1, 4}, 1.0).set({1, 3}, 1.0);
  struct ModuleCase {
    std::int64_t num_kv_heads;
    bool rotary;
    AttentionMasks masks;
  };
  for (const ModuleCase& m : {ModuleCase{0, false, {}},
                              ModuleCase{0, false, {.key_padding_mask = padding, .is_causal = true}},
                              ModuleCase{2, true, {.is_causal = true}},
                              ModuleCase{1, true, {.key_padding_mask = padding}}}) {
    INFO("num_kv_heads " << m.num_kv_heads << " rotary " << m.rotary);
    ModuleRun fused = run_module(m.num_kv_heads, m.rotary, m.masks, true, 5);
    ModuleRun composed = run_module(m.num_kv_heads, m.rotary, m.masks, false, 5);
    CHECK(fused.fused_kernel_ran);
    CHECK_FALSE(composed.fused_kernel_ran);
    check_close(fused.out, composed.out, 1e-10, 1e-12);
    REQUIRE(fused.grads.size() == composed.grads.size());
    for (std::size_t i = 0; i < fused.grads.size(); ++i)
      check_close(fused.grads[i], composed.grads[i], 1e-10, 1e-12);
  }
  // Cross-attention over a longer memory (Tq = 5, Tk = 9) with padding there.
  Tensor memory_padding(tensor::zeros({2, 9}, DType::Bool));
  memory_padding.data().set({0, 8}, 1.0);
  ModuleRun fused = run_module(2, false, {.key_padding_mask = memory_padding}, true, 9);
  ModuleRun composed = run_module(2, false, {.key_padding_mask = memory_padding}, false, 9);
  CHECK(fused.fused_kernel_ran);
  check_close(fused.out, composed.out, 1e-10, 1e-12);
  for (std::size_t i = 0; i < fused.grads.size(); ++i)
    check_close(fused.grads[i], composed.grads[i], 1e-10, 1e-12);
}

TEST_CASE("MultiheadAttention falls back to the composed path when the kernel does not apply") {
  Generator gen(4);
  MultiheadAttention mha(8, 2, 0.0, true, gen);
  Tensor x_grad(tensor::uniform({1, 3, 8}, -1, 1, gen), true);
  CHECK(uses_fused_kernel(mha(x_grad, x_grad, x_grad).output));
  // Weights asked for, an attn_mask, a float padding mask: composed.
  CHECK_FALSE(uses_fused_kernel(mha(x_grad, x_grad, x_grad, {}, true).output));
  CHECK_FALSE(uses_fused_kernel(
      mha(x_grad, x_grad, x_grad, {.attn_mask = causal_mask(3, 3)}).output));
  CHECK_FALSE(uses_fused_kernel(
      mha(x_grad, x_grad, x_grad, {.key_padding_mask = Tensor(tensor::zeros({1, 3}))}).output));
  // Dropout while training: composed (the kernel has no dropout); in eval: fused.
  MultiheadAttention dropping(8, 2, 0.5, true, gen);
  CHECK_FALSE(uses_fused_kernel(dropping(x_grad, x_grad, x_grad).output));
  dropping.eval();
  CHECK(uses_fused_kernel(dropping(x_grad, x_grad, x_grad).output));
}

TEST_CASE("MultiheadAttention::forward_cached with the fused kernel = without it") {
  for (std::int64_t num_kv_heads : {4, 2}) {
    std::vector<std::vector<double>> outputs[2];
    for (bool use_fused : {true, false}) {
      Generator gen(8);
      MultiheadAttention mha(16, 4, 0.0, true, gen, 0, 0, num_kv_heads, true);
      mha.to(DType::Float64);
      mha.use_fused = use_fused;
      KVCache cache;
      Generator data_gen(9);
      // A prompt of 3 positions, then 1, then 2 more: causal offsets 0, 3 and 4.
      for (std::int64_t T_new : {3, 1, 2}) {
        Tensor x(tensor::uniform({2, T_new, 16}, -1, 1, data_gen, DType::Float64));
        outputs[use_fused].push_back(values(mha.forward_cached(x, cache).output));
      }
    }
    for (std::size_t step = 0; step < outputs[0].size(); ++step)
      check_close(outputs[1][step], outputs[0][step], 1e-10, 1e-12);
  }
}
