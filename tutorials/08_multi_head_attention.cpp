// 08_multi_head_attention — What is multi-head self-attention, and why several heads?
//                           什么是多头自注意力（Multi-Head Self-Attention）？它如何提高模型性能？
//   Asked in the interview article "Attention Mechanism原理与代码实例讲解——面试题和算法编程题解析"
//   (question 4), and in "深入探讨注意力模型：从基础理论到实际应用" (questions 9 and 14).
//
// Short answer
//   Project the inputs to Q, K, V of size E as usual, then cut the E features into H groups of
//   D = E / H ("heads"). Each head runs its own scaled dot-product attention over ALL positions
//   with its D features: its own T x S weight matrix, its own softmax. The H outputs are
//   concatenated back to E features and mixed by an output projection W_O.
//   Why: one head has one softmax, so each query gets ONE distribution over the keys and can
//   only blend what it finds. H heads give each query H distributions (e.g. one head looks at
//   the previous word, another at the subject) whose results land in separate features. And it
//   is free: the parameters are the same 4 E^2 + 4 E for any H (the heads just partition W_Q,
//   W_K, W_V), and so are the FLOPs.
//
// What this program shows
//   1. multi-head attention step by step (project, split, attend per head, concat, W_O) with
//      every shape, equal to nn::MultiheadAttention;
//   2. equal to a plain loop over heads (and, inside, loops over positions) in float64;
//   3. the articles' multi-head code: E = 3 with 2 heads cannot be split, the printed 2x2
//      output cannot be an attention output over [2, 3] inputs, no W_O;
//   4. the parameter count for H = 1, 2, 4, ... : always 4 E^2 + 4 E;
//   5. what heads buy: a constructed layer whose head 0 reads the previous token and head 1 the
//      next one, recovering both exactly; the same weights as ONE head can only average them.
//   Pictures in --out: mha_heads.png (per-head weights), mha_two_patterns.png.
//   Your own inputs: --q/--k/--v .npy ([T, E] or [B, T, E], the query/key/value inputs of the
//   layer), --mask ([Tq, Tk] bool, true = blocked), --save DIR writes the output, the per-head
//   weights and the layer's weights (in_proj_weight as PyTorch's nn.MultiheadAttention packs it).
//
// Run:  build/tutorials/08_multi_head_attention   (--help for sizes; --quick for CI)
#include <cmath>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/reference.hpp"
#include "tutorials/common/qkv_files.hpp"
#include "tutorials/common/tutorial.hpp"

using autograd::DType;
using autograd::Tensor;
using tutorial::max_abs_diff;

namespace {

Tensor as_batch(const Tensor& t) {
  return t.dim() == 2 ? t.unsqueeze(0) : t;
}  // [T, E] -> [1, T, E]

// Sets a [rows, cols] parameter to `value` at the listed (row, col) entries and 0 elsewhere.
void set_entries(const Tensor& weight, const std::vector<std::pair<std::int64_t, std::int64_t>>& at,
                 double value) {
  weight.data().fill_(0.0);
  for (auto [row, col] : at) weight.data().set({row, col}, value);
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "08_multi_head_attention",
    .chinese = "什么是多头自注意力（Multi-Head Self-Attention）？它如何提高模型性能？",
    .english = "What is multi-head self-attention, and why use several heads?",
    .answer = "Project to Q, K, V of size E, cut the E features (not the positions) into H heads of\n"
              "E/H, run scaled dot-product attention in each head with its own softmax, concatenate\n"
              "and mix with W_O. Same parameters (4 E^2 + 4 E) and FLOPs for any H, but each query\n"
              "gets H attention distributions instead of one, so it can look at several places.",
    .article = "Attention Mechanism原理与代码实例讲解——面试题和算法编程题解析",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  tutorial::QKVFiles files;
  tutorial::add_qkv_flags(flags, files, /*with_mask=*/true);
  std::int64_t B = 2, T = 8, E = 16, H = 4;
  // The loops of part 2 cost B T^2 E and the weights take B H T^2 numbers, several times over:
  // the largest sizes here take about 20 s and 0.5 GB.
  flags.add("--batch", B, "B, sequences in the batch", tutorial::between(1, 16));
  flags.add("--len", T, "T, positions per sequence", tutorial::between(1, 128));
  flags.add("--dim", E, "E, the model size (split into H heads of E/H)", tutorial::between(1, 512));
  flags.add("--heads", H, "H, the number of heads (must divide --dim)", tutorial::between(1, 16));
  flags.parse(argc, argv);
  flags.quick(B, 1);
  tutorial::Flags::require(!files.q.empty() || E % H == 0,
                           "--heads " + std::to_string(H) + " does not divide --dim " + std::to_string(E));
  tutorial::Checks checks;
  tensor::Generator gen(options.seed);

  // ---- the inputs: a random batch, or the learner's files ----------------------------------
  Tensor x = autograd::randn({B, T, E}, gen, DType::Float64);
  Tensor query = as_batch(tutorial::load_or(files.q, x, "query input", files.allow_non_finite));
  Tensor key = as_batch(tutorial::load_or(files.k, query, "key input", files.allow_non_finite));
  Tensor value = as_batch(tutorial::load_or(files.v, key, "value input", files.allow_non_finite));
  Tensor mask = tutorial::load_or(files.mask, Tensor(), "mask", files.allow_non_finite);
  E = query.size(-1);
  B = query.size(0);
  const std::int64_t Tq = query.size(1), Tk = key.size(1);

  tutorial::section("1. Multi-head attention, step by step");
  nn::MultiheadAttention mha(E, H, 0.0, true, gen);  // throws if H does not divide E
  mha.to(DType::Float64);
  const std::int64_t D = mha.head_dim;
  std::printf("  E = %lld features, H = %lld heads of D = E / H = %lld features each\n\n",
              static_cast<long long>(E), static_cast<long long>(H), static_cast<long long>(D));
  auto project = [](const nn::Linear& layer, const Tensor& in) {  // in W^T + b
    return autograd::matmul(in, layer.weight.transpose(0, 1)) + layer.bias;
  };
  Tensor q = project(*mha.q_proj, query);  // [B, Tq, E]
  Tensor k = project(*mha.k_proj, key);    // [B, Tk, E]
  Tensor v = project(*mha.v_proj, value);  // [B, Tk, E]
  std::printf("  Q = query W_Q^T + b_Q           %s   (K, V: %s)\n",
              tensor::shape_str(q.shape()).c_str(), tensor::shape_str(k.shape()).c_str());
  // Split the FEATURES, not the sequence: head h owns features h*D .. h*D + D - 1 of every
  // position.  [B, T, E] -> [B, T, H, D] -> [B, H, T, D]
  Tensor qh = q.view({B, Tq, H, D}).transpose(1, 2);
  Tensor kh = k.view({B, Tk, H, D}).transpose(1, 2);
  Tensor vh = v.view({B, Tk, H, D}).transpose(1, 2);
  std::printf("  split: view [B,T,H,D], transpose  %s\n", tensor::shape_str(qh.shape()).c_str());
  // Each head: its own scores, its own softmax. Scale by sqrt(D), the size of what is dotted.
  Tensor scores = autograd::matmul(qh, kh.transpose(-2, -1)) / std::sqrt(double(D));
  if (mask.defined()) scores = autograd::masked_fill(scores, mask, -INFINITY);
  Tensor weights = autograd::softmax(scores, -1);  // [B, H, Tq, Tk]
  Tensor heads = autograd::matmul(weights, vh);    // [B, H, Tq, D]
  std::printf("  per head: softmax(Q_h K_h^T/sqrt(D)) %s   one Tq x Tk map per head\n",
              tensor::shape_str(weights.shape()).c_str());
  std::printf("  per head: weights_h V_h           %s\n", tensor::shape_str(heads.shape()).c_str());
  Tensor concat = heads.transpose(1, 2).reshape({B, Tq, E});  // [B, Tq, H*D]
  std::printf("  concat: transpose, reshape        %s\n",
              tensor::shape_str(concat.shape()).c_str());
  Tensor output = project(*mha.out_proj, concat);  // [B, Tq, E]: W_O mixes the heads
  std::printf("  output = concat W_O^T + b_O       %s\n\n",
              tensor::shape_str(output.shape()).c_str());

  nn::AttentionOutput library = mha(query, key, value, {.attn_mask = mask}, /*need_weights=*/true,
                                    /*average_attn_weights=*/false);  // keep one map per head
  checks.same(output, library.output, 1e-12,
              "the step-by-step output equals nn::MultiheadAttention's");
  checks.same(weights, library.weights, 1e-12, "and so do the per-head weights [B, H, Tq, Tk]");

  tutorial::section("2. The same thing as a plain loop over heads");
  // No views, no batched matmuls: for each head take its D columns of the projections,
  // attend with loops, and write the result into its D columns of the concatenation.
  Tensor q_loop = tutorial::linear_by_loops(query, mha.q_proj->weight, mha.q_proj->bias);
  Tensor k_loop = tutorial::linear_by_loops(key, mha.k_proj->weight, mha.k_proj->bias);
  Tensor v_loop = tutorial::linear_by_loops(value, mha.v_proj->weight, mha.v_proj->bias);
  std::vector<Tensor> head_outputs, head_weights;
  for (std::int64_t h = 0; h < H; ++h) {
    auto columns = [&](const Tensor& t) { return t.slice(-1, h * D, (h + 1) * D).contiguous(); };
    tutorial::LoopAttention one = tutorial::attention_by_loops(
        columns(q_loop), columns(k_loop), columns(v_loop), 1.0 / std::sqrt(double(D)), mask);
    head_outputs.push_back(one.output);   // [B, Tq, D]
    head_weights.push_back(one.weights);  // [B, Tq, Tk]
  }
  Tensor loop_output = tutorial::linear_by_loops(autograd::cat(head_outputs, -1),
                                                 mha.out_proj->weight, mha.out_proj->bias);
  checks.same(library.output, loop_output, 1e-12,
              "nn::MultiheadAttention equals the loop over heads");
  checks.same(library.weights, autograd::stack(head_weights, 1), 1e-12,
              "head h's weights equal the loop's attention on columns h*D .. h*D+D-1");
  std::vector<std::pair<std::string, Tensor>> saved = {
      {"output", library.output},
      {"weights", library.weights},
      {"in_proj_weight",
       autograd::cat({mha.q_proj->weight, mha.k_proj->weight, mha.v_proj->weight}, 0)},
      {"in_proj_bias", autograd::cat({mha.q_proj->bias, mha.k_proj->bias, mha.v_proj->bias}, 0)},
      {"out_proj_weight", mha.out_proj->weight},
      {"out_proj_bias", mha.out_proj->bias}};
  if (files.q.empty()) saved.emplace_back("x", x);
  if (mask.defined()) saved.emplace_back("mask", mask);
  tutorial::save_npy_files(files.save, saved);
  tutorial::save_picture(
      tutorial::head_grid(
          library.weights.select(0, 0),
          "One attention map per head, sequence 0 (random weights: each head its own pattern)", 2),
      options, "mha_heads.png",
      "each head spreads its weight differently over the same keys: H patterns from one input");

  tutorial::section("3. The articles' multi-head code");
  std::printf(
      "  One article calls multi_head_attention(X, X, X, head_num=2) with X = [[1,2,3],[4,5,6]]\n"
      "  and prints a 2 x 2 result. With E = 3 features, 2 heads cannot each get E/2:\n");
  bool refused = false;
  try {
    nn::MultiheadAttention bad(3, 2);
  } catch (const std::exception& e) {
    refused = true;
    std::printf("    %s\n", e.what());
  }
  checks.check(refused, "3 features cannot be split into 2 heads");
  {
    Tensor article_x = autograd::from_rows({{1, 2, 3}, {4, 5, 6}}, DType::Float64).unsqueeze(0);
    nn::MultiheadAttention three_heads(3, 3, 0.0, true, gen);
    three_heads.to(DType::Float64);
    Tensor out = three_heads(article_x, article_x, article_x).output;
    std::printf(
        "  With 3 heads of 1 feature it runs, and the output is %s: one E-vector per\n"
        "  query position, the input's own shape. A 2 x 2 result cannot come out of it.\n",
        tensor::shape_str(out.shape()).c_str());
    checks.check(out.shape() == autograd::Shape{1, 2, 3},
                 "the output has the input's shape [1, 2, 3]");
  }
  std::printf(
      "\n  The other versions: one splits the raw input features with np.split and attends\n"
      "  without any W_Q, W_K, W_V or W_O (the heads cannot learn what to look for, and\n"
      "  np.softmax does not exist); another wraps a one-argument SelfAttention but calls it\n"
      "  with (query, key, value), a TypeError, and never applies W_O. And \"split the input\n"
      "  sequence into sub-sequences\" is wrong in words too: every head sees every position,\n"
      "  shape %s above; it is the features that are split.\n",
      tensor::shape_str(weights.shape()).c_str());
  checks.check(weights.size(-1) == Tk && weights.size(-2) == Tq,
               "each head attends from all Tq positions to all Tk positions");

  tutorial::section("4. Parameters: the same for any number of heads");
  std::printf(
      "  W_Q, W_K, W_V, W_O are [E, E] whatever H is; H only decides how their outputs are\n"
      "  grouped. Count = 4 E^2 + 4 E = %lld for E = %lld.\n\n",
      static_cast<long long>(4 * E * E + 4 * E), static_cast<long long>(E));
  bool all_equal = true;
  for (std::int64_t heads_count = 1; heads_count <= E; heads_count *= 2) {
    if (E % heads_count != 0) continue;
    nn::MultiheadAttention candidate(E, heads_count);
    std::int64_t count = candidate.num_parameters();
    std::printf("  H = %2lld, D = %2lld   parameters %lld   score FLOPs per query T*E = T*H*D\n",
                static_cast<long long>(heads_count), static_cast<long long>(E / heads_count),
                static_cast<long long>(count));
    all_equal = all_equal && count == 4 * E * E + 4 * E;
  }
  checks.check(all_equal, "every H has exactly 4 E^2 + 4 E parameters");

  tutorial::section("5. What heads buy: two patterns at once");
  // Inputs x_t = [one-hot position p_t (8) ; content c_t (8)], E = 16, two heads of D = 8.
  // Head 0: query p_t, key p_(j+1): the scores peak at j = t - 1 (the previous token).
  // Head 1: query p_t, key p_(j-1): the scores peak at j = t + 1 (the next token).
  // Both heads' values are the content c_j; W_O = identity. Positions wrap around.
  const std::int64_t P = 8, C = 8, E2 = P + C;
  const double s = std::sqrt(24.0 * std::sqrt(double(E2 / 2)));  // a match scores 24 after /sqrt(D)
  nn::MultiheadAttention two(E2, 2, 0.0, true, gen), one(E2, 1, 0.0, true, gen);
  for (nn::MultiheadAttention* m : {&two, &one}) {
    m->to(DType::Float64);
    std::vector<std::pair<std::int64_t, std::int64_t>> wq, wk, wv, wo;
    for (std::int64_t r = 0; r < P; ++r) {
      wq.push_back({r, r});                // head 0 query: p_t
      wq.push_back({P + r, r});            // head 1 query: p_t
      wk.push_back({r, (r + P - 1) % P});  // head 0 key: p_(j+1)
      wk.push_back({P + r, (r + 1) % P});  // head 1 key: p_(j-1)
      wv.push_back({r, P + r});            // both heads' values: the content c_j
      wv.push_back({P + r, P + r});
    }
    for (std::int64_t r = 0; r < E2; ++r) wo.push_back({r, r});
    set_entries(m->q_proj->weight, wq, s);
    set_entries(m->k_proj->weight, wk, s);
    set_entries(m->v_proj->weight, wv, 1.0);
    set_entries(m->out_proj->weight, wo, 1.0);
    for (auto* proj : {&m->q_proj, &m->k_proj, &m->v_proj, &m->out_proj})
      (*proj)->bias.data().fill_(0.0);
  }
  Tensor content = autograd::randn({1, P, C}, gen, DType::Float64);
  Tensor positions(tensor::eye(P, DType::Float64).unsqueeze(0));
  Tensor tokens = autograd::cat({positions, content}, -1);  // [1, P, E2]
  // What we want at position t: [c_(t-1) ; c_(t+1)].
  std::vector<std::int64_t> prev_index, next_index;
  for (std::int64_t t = 0; t < P; ++t) {
    prev_index.push_back((t + P - 1) % P);
    next_index.push_back((t + 1) % P);
  }
  Tensor target =
      autograd::cat({autograd::index_select(content, 1, autograd::from_vector(prev_index)),
                     autograd::index_select(content, 1, autograd::from_vector(next_index))},
                    -1);
  nn::AttentionOutput two_out = two(tokens, tokens, tokens, {}, /*need_weights=*/true,
                                    /*average_attn_weights=*/false);
  nn::AttentionOutput one_out = one(tokens, tokens, tokens, {}, /*need_weights=*/true,
                                    /*average_attn_weights=*/false);
  double two_error = max_abs_diff(two_out.output, target),
         one_error = max_abs_diff(one_out.output, target);
  std::printf(
      "  Wanted at each position t: [c_(t-1) ; c_(t+1)], the previous and next token's content.\n");
  std::printf("  position 3, first content feature: c_2 = %+.3f, c_4 = %+.3f\n",
              content.at({0, 2, 0}), content.at({0, 4, 0}));
  std::printf("    2 heads:                  [%+.3f ; %+.3f]   largest error %.1e\n",
              two_out.output.at({0, 3, 0}), two_out.output.at({0, 3, C}), two_error);
  std::printf("    same weights as 1 head:   [%+.3f ; %+.3f]   largest error %.3f\n\n",
              one_out.output.at({0, 3, 0}), one_out.output.at({0, 3, C}), one_error);
  checks.small(two_error, 1e-8, "two heads recover the previous AND the next token exactly");
  checks.check(one_error > 0.1,
               "as one head the scores add up: one softmax, a 50/50 blend of both");
  std::printf(
      "  One head gives each query ONE distribution w_t over the keys. When it is chosen by\n"
      "  position (as here) no single head can do the job, whatever its weights: its output\n"
      "  is sum_j w_tj (A p_j + B c_j), and the first half must be c_(t-1) for every content,\n"
      "  so w_t,t-1 B_top = I and w_t,t+1 B_top = 0, hence w_t,t+1 = 0; the second half needs\n"
      "  w_t,t-1 = 0 the same way. It cannot point at two places and keep what it finds\n"
      "  apart; two heads can, for the same parameter count (%lld here, both layers).\n",
      static_cast<long long>(two.num_parameters()));
  checks.check(two.num_parameters() == one.num_parameters(),
               "the 2-head and the 1-head layer have equal parameter counts");
  tutorial::save_picture(
      tutorial::attention_grid(
          {{"2 heads: head 0", two_out.weights.select(0, 0).select(0, 0)},
           {"2 heads: head 1", two_out.weights.select(0, 0).select(0, 1)},
           {"same weights, 1 head", one_out.weights.select(0, 0).select(0, 0)}},
          "Head 0 reads the previous token, head 1 the next (positions wrap around); one head "
          "blends them",
          3),
      options, "mha_two_patterns.png",
      "head 0 lights the cell left of the diagonal, head 1 the cell right of it; the single head "
      "splits its weight between both");

  std::printf(
      "\nWhat to notice: heads partition the features, never the positions; the split is a\n"
      "view and a transpose, the merge a transpose and a reshape. More heads cost no\n"
      "parameters and no FLOPs; they buy H separate attention patterns per query.\n");
  int code = checks.finish();
  char answer[600];
  std::snprintf(answer, sizeof answer,
                "Heads split the E = %lld features into H = %lld groups of %lld (never the positions); each\n"
                "head attends with its own softmax, the outputs are concatenated and mixed by W_O; this\n"
                "matched a loop over heads. Parameters stay 4 E^2 + 4 E = %lld for every H. Two heads\n"
                "recovered previous AND next token (error %.1e); one head with the same weights: %.3f.",
                static_cast<long long>(E), static_cast<long long>(H), static_cast<long long>(D),
                static_cast<long long>(4 * E * E + 4 * E), two_error, one_error);
  tutorial::print_answer(kQuestion, answer);
  std::printf("\nPython twin: tutorials/python/08_multi_head_attention.py (make python)\n");
  return code;
} catch (...) {
  return tutorial::report_error();
}
