// 06_attention_masks — How do padding and causal masks work?
//                      如何在Transformer模型中实现注意力遮挡（Attention Mask）？
//                      (as the interview article "Attention Mechanism原理与代码实例讲解——面试题和
//                      算法编程题解析" asks it)
//
// Short answer
//   A mask says which (query, key) pairs may not attend. Before softmax the blocked scores are
//   set to -inf (masked_fill), so exp(-inf) = 0 gives them exactly zero weight and the allowed
//   weights still sum to 1. A padding mask blocks the keys that are padding in each sequence
//   ([B, Tk], broadcast over the queries as [B, 1, Tk]); a causal mask blocks key j > query i
//   ([T, T], the upper triangle), so a decoder cannot look at future tokens. They combine with
//   a logical OR. When every key of a row is blocked (e.g. a padding query under a causal mask
//   with left padding), softmax would compute 0 / 0 = nan, and torch.softmax does return nan; this
//   library defines that row's weights as all zeros, so the output row is 0 and its gradient 0
//   (nn/attention.hpp). Filling with -1e9 instead of -inf hides the problem differently: the
//   row becomes uniform and quietly attends to padding and to the future.
//   The mask must act on the scores BEFORE softmax. Applied after it (softmax over all keys, then
//   the blocked weights zeroed), each row sums only to the probability softmax gave its allowed
//   keys, so the output is scaled down, and the blocked scores still sit in the denominator: a
//   future token changes earlier outputs and receives gradient from them.
//   (The article answers this question with "padding, positional encoding, sliding window": the
//   padding mask is right, positional encoding is no mask at all, and a sliding window is one
//   more mask pattern, a band |i - j| <= w.)
//
// What this program shows
//   1. a padding mask on a batch of two sequences (lengths T and --valid): padded keys get
//      weight 0, the result equals running the short sequence alone, and garbage written into
//      the padding changes nothing;
//   2. a causal mask: weights are lower-triangular, and changing a future token leaves earlier
//      outputs untouched; is_causal=true gives the same;
//   3. how: masked_fill(-inf) then softmax, and a float mask (0 / -inf added) giving the same;
//   4. the wrong way, the mask applied after softmax: row sums printed and checked against the
//      allowed probability mass computed by loops, the output scaled down by it, the future
//      leaking into earlier outputs and into the gradient;
//   5. both masks at once with left padding: fully masked rows, zeros here, nan from the naive
//      formula, a uniform row with -1e9, and finite gradients;
//   6. a sliding-window (band) mask;
//   7. heatmaps of the masks and of the masked weights (written to --out).
//   Every result is checked against attention written as loops.
//
// Run:  build/tutorials/06_attention_masks
//       build/tutorials/06_attention_masks --q q.npy --k k.npy --v v.npy --mask m.npy --save my_npy
//       (mask: bool, true = blocked, broadcastable to [..., Tq, Tk]; writes weights.npy and
//        output.npy computed by scaled_dot_product_attention)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/printing.hpp"
#include "tutorials/common/reference.hpp"
#include "tutorials/common/qkv_files.hpp"
#include "tutorials/common/tutorial.hpp"
#include "viz/heatmap.hpp"

using autograd::Tensor;
using tensor::DType;

namespace {

const double kInf = std::numeric_limits<double>::infinity();

// Prints a bool mask as a grid of '.' (allowed) and 'x' (blocked).
void print_mask(const std::string& title, const Tensor& mask) {
  std::printf("  %s   %s   (x = blocked)\n", title.c_str(),
              tensor::shape_str(mask.shape()).c_str());
  tensor::Array m = mask.data().to(DType::Float64);
  while (m.dim() > 2) m = m.select(0, m.size(0) - 1);
  for (std::int64_t i = 0; i < m.size(0); ++i) {
    std::printf("    ");
    for (std::int64_t j = 0; j < m.size(1); ++j) std::printf("%c ", m.at({i, j}) != 0 ? 'x' : '.');
    std::printf("\n");
  }
}

// True when every weight at a blocked position is exactly 0.
bool zero_where_blocked(const Tensor& weights, const Tensor& mask) {
  Tensor blocked_weights = autograd::where(mask, weights, autograd::zeros_like(weights));
  return autograd::amax(autograd::abs(blocked_weights)).item() == 0.0;
}

// The largest |row sum - 1| over the rows that have at least one allowed key.
double worst_row_sum_error(const Tensor& weights) {
  std::vector<double> sums = autograd::sum(weights, {-1}).data().contiguous().to_vector<double>();
  double worst = 0;
  for (double s : sums)
    if (s != 0) worst = std::max(worst, std::fabs(s - 1));
  return worst;
}

bool all_finite(const Tensor& t) {
  for (double x : t.data().to(DType::Float64).contiguous().to_vector<double>())
    if (!std::isfinite(x)) return false;
  return true;
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "06_attention_masks",
    .chinese = "如何在Transformer模型中实现注意力遮挡（Attention Mask）？",
    .english = "How do padding and causal masks work?",
    .answer = "A mask sets the blocked scores to -inf BEFORE softmax, so they get weight exactly 0\n"
              "and the allowed weights still sum to 1. Padding masks are [B, 1, Tk], causal masks\n"
              "the upper triangle of [T, T]; OR them to combine. A row with every key blocked is\n"
              "zeros here (nan in torch.softmax). Zeroing the weights AFTER softmax is wrong: rows\n"
              "sum to less than 1, and the future leaks in through softmax's denominator.",
    .article = "Attention Mechanism原理与代码实例讲解——面试题和算法编程题解析",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  const tutorial::Options& options = flags.options;
  tutorial::QKVFiles files;
  tutorial::add_qkv_flags(flags, files, /*with_mask=*/true);
  std::int64_t T = 6, dim = 8, valid = 4, window = 1;
  flags.add("--seq-len", T, "T, positions per sequence", tutorial::between(3, 512));
  flags.add("--dim", dim, "D, size of queries, keys and values", tutorial::between(1, 1024));
  flags.add("--valid", valid, "real tokens in the second (padded) sequence (2 .. --seq-len - 1)",
            tutorial::between(2, 511));
  flags.add("--window", window, "w of the sliding-window mask |i - j| <= w",
            tutorial::between(0, 512));
  flags.parse(argc, argv);
  tutorial::Flags::require(valid < T, "--valid " + std::to_string(valid) +
                                          " must be less than --seq-len " + std::to_string(T));
  tutorial::Checks checks;
  tensor::Generator gen(options.seed);
  const std::int64_t B = 2;
  const double scale = 1.0 / std::sqrt(double(dim));

  // For the closing answer: what the late mask (part 4) did, and the fully masked rows (part 5).
  double late_first_row_sum = 0, late_leak = 0, late_future_gradient = 0;
  std::int64_t fully_masked_rows = 0;
  {
    // One batch for the whole program: q, k, v [B, T, D]. Sequence 0 is full, sequence 1 has
    // `valid` real tokens followed by padding.
    Tensor q = autograd::randn({B, T, dim}, gen, DType::Float64);
    Tensor k = autograd::randn({B, T, dim}, gen, DType::Float64);
    Tensor v = autograd::randn({B, T, dim}, gen, DType::Float64);

    tutorial::section("1. Padding mask: ignore the keys that are padding");
    std::vector<bool> padding(B * T, false);  // [B, T]: true = this position is padding
    for (std::int64_t t = valid; t < T; ++t) padding[1 * T + t] = true;
    Tensor key_padding_mask = autograd::from_vector(padding, {B, T});  // [B, Tk]
    // Scores are [B, Tq, Tk]; the mask must line up with B and Tk and repeat over the queries.
    Tensor padding_mask = key_padding_mask.unsqueeze(1);  // [B, 1, Tk]
    std::printf("  sequence 0: %lld tokens, sequence 1: %lld tokens + %lld padding\n", (long long)T,
                (long long)valid, (long long)(T - valid));
    std::printf(
        "  key_padding_mask %s -> unsqueeze(1) -> %s, broadcast against scores [B, Tq, Tk]\n",
        tensor::shape_str(key_padding_mask.shape()).c_str(),
        tensor::shape_str(padding_mask.shape()).c_str());
    nn::AttentionOutput padded = nn::scaled_dot_product_attention(q, k, v, {.attn_mask = padding_mask});
    tutorial::print_matrix("weights of sequence 1 (last columns are padding keys)",
                           padded.weights.select(0, 1), 3);
    tutorial::LoopAttention padded_loops =
        tutorial::attention_by_loops(q, k, v, scale, padding_mask);
    checks.same(padded.weights, padded_loops.weights, 1e-12,
                "masked weights equal the loops (which skip blocked keys)");
    checks.same(padded.output, padded_loops.output, 1e-12, "masked output equals the loops");
    checks.check(zero_where_blocked(padded.weights, padding_mask.expand({B, T, T})),
                 "every padding key gets weight exactly 0");
    checks.small(worst_row_sum_error(padded.weights), 1e-12, "every row still sums to 1");
    // The short sequence alone, without any padding, must give the same rows.
    Tensor q1 = q.select(0, 1), k1 = k.select(0, 1).slice(0, 0, valid),
           v1 = v.select(0, 1).slice(0, 0, valid);
    nn::AttentionOutput alone = nn::scaled_dot_product_attention(q1, k1, v1);
    checks.same(alone.output, padded.output.select(0, 1), 1e-12,
                "sequence 1 with its padding masked = sequence 1 alone (its " +
                    std::to_string(valid) + " real keys only)");
    // Garbage in the padded keys and values cannot leak into the result.
    Tensor garbage_k = k.clone(), garbage_v = v.clone();
    garbage_k.data().slice(1, valid, T).select(0, 1).fill_(1e6);
    garbage_v.data().slice(1, valid, T).select(0, 1).fill_(-1e6);
    nn::AttentionOutput with_garbage =
        nn::scaled_dot_product_attention(q, garbage_k, garbage_v, {.attn_mask = padding_mask});
    checks.same(with_garbage.output, padded.output, 0,
                "writing 1e6 into the padded keys and values changes nothing");
    std::printf(
        "  Note: padding *queries* (rows %lld..%lld of sequence 1) still get outputs; they\n"
        "  attend to the real keys, and the loss ignores them later (ignore_index).\n",
        (long long)valid, (long long)T - 1);

    tutorial::section("2. Causal mask: position i sees keys 0..i only");
    Tensor causal = nn::causal_mask(T, T);  // [T, T], true above the diagonal
    print_mask("nn::causal_mask(T, T)", causal);
    nn::AttentionOutput causal_out = nn::scaled_dot_product_attention(q, k, v, {.attn_mask = causal});
    tutorial::print_matrix("causal weights of sequence 0 (lower-triangular)", causal_out.weights,
                           3);
    tutorial::LoopAttention causal_loops = tutorial::attention_by_loops(q, k, v, scale, causal);
    checks.same(causal_out.output, causal_loops.output, 1e-12, "causal output equals the loops");
    checks.check(zero_where_blocked(causal_out.weights, causal.expand({B, T, T})),
                 "every weight above the diagonal is exactly 0");
    checks.close(causal_out.weights.at({0, 0, 0}), 1.0, 0,
                 "query 0 can only attend to itself: weight 1");
    nn::AttentionOutput flag =
        nn::scaled_dot_product_attention(q, k, v, {.is_causal = true});
    checks.same(flag.output, causal_out.output, 0,
                "is_causal=true gives the same as the explicit mask");
    // Change token t (its key and value): outputs before t must not move, outputs from t on must.
    const std::int64_t changed = T / 2;
    Tensor future_k = k.clone(), future_v = v.clone();
    future_k.data().select(1, changed).add_(autograd::ones({B, dim}, DType::Float64).data(), 3.0);
    future_v.data().select(1, changed).add_(autograd::ones({B, dim}, DType::Float64).data(), 3.0);
    nn::AttentionOutput after = nn::scaled_dot_product_attention(q, future_k, future_v, {.attn_mask = causal});
    double before_changed = tutorial::max_abs_diff(after.output.slice(1, 0, changed),
                                                   causal_out.output.slice(1, 0, changed));
    double from_changed = tutorial::max_abs_diff(after.output.slice(1, changed, T),
                                                 causal_out.output.slice(1, changed, T));
    std::printf("  changing token %lld: outputs 0..%lld move by %g, outputs %lld..%lld by %.3f\n",
                (long long)changed, (long long)changed - 1, before_changed, (long long)changed,
                (long long)T - 1, from_changed);
    checks.check(
        before_changed == 0 && from_changed > 0,
        "a future token cannot change earlier outputs; it does change its own and later ones");

    tutorial::section("3. How: -inf before softmax");
    Tensor scores = autograd::matmul(q, k.transpose(-2, -1)) * scale;  // [B, T, T]
    Tensor filled = autograd::masked_fill(scores, causal, -kInf);
    tutorial::print_matrix("masked_fill(scores, causal, -inf)  (sequence 0)", filled, 3);
    Tensor by_hand = autograd::softmax(filled, -1);
    checks.same(by_hand, causal_out.weights, 0,
                "softmax(masked_fill(scores, mask, -inf)) is what the library computes");
    // A float mask is added to the scores: 0 where allowed, -inf where blocked.
    Tensor float_mask =
        autograd::masked_fill(autograd::zeros({T, T}, DType::Float64), causal, -kInf);
    nn::AttentionOutput additive = nn::scaled_dot_product_attention(q, k, v, {.attn_mask = float_mask});
    checks.same(additive.output, causal_out.output, 0,
                "a float mask of 0 / -inf added to the scores gives the same result");

    tutorial::section("4. The wrong way: the mask applied AFTER softmax");
    // A common bug: softmax over ALL keys first, then zero the blocked weights. Nothing
    // renormalises what is left, so each row keeps only the share of probability that softmax
    // happened to give its allowed keys.
    Tensor all_keys = autograd::softmax(scores, -1);                          // [B, T, T]
    Tensor late_weights = autograd::masked_fill(all_keys, causal, 0.0);       // zeroed, not renormalised
    Tensor late_output = autograd::matmul(late_weights, v);                   // [B, T, D]
    tutorial::print_matrix("masked_fill(softmax(scores), causal, 0)  (sequence 0)", late_weights, 3);
    // Independently, by loops: the probability that softmax over all keys gives the allowed
    // keys of each row, sum_{j allowed} exp(s_ij) / sum_{all j} exp(s_ij).
    std::vector<double> score_values = scores.data().contiguous().to_vector<double>();
    std::vector<double> blocked = causal.data().to(DType::Float64).contiguous().to_vector<double>();
    std::vector<double> allowed_mass(B * T, 0.0);
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t i = 0; i < T; ++i) {
        std::vector<double> row(score_values.begin() + (b * T + i) * T,
                                score_values.begin() + (b * T + i + 1) * T);
        std::vector<double> p = tutorial::softmax_by_loop(row);
        for (std::int64_t j = 0; j < T; ++j)
          if (blocked[i * T + j] == 0) allowed_mass[b * T + i] += p[j];
      }
    Tensor row_sums = autograd::sum(late_weights, {-1});  // [B, T]
    std::printf("  row sums, sequence 0:        ");
    for (std::int64_t i = 0; i < T; ++i) std::printf(" %.4f", row_sums.at({0, i}));
    std::printf("\n  allowed mass by loops:       ");
    for (std::int64_t i = 0; i < T; ++i) std::printf(" %.4f", allowed_mass[i]);
    std::printf("\n  the right way (mask first):  ");
    for (std::int64_t i = 0; i < T; ++i)
      std::printf(" %.4f", autograd::sum(causal_out.weights.select(0, 0).select(0, i)).item());
    std::printf("\n");
    checks.same(row_sums, autograd::from_vector(allowed_mass, {B, T}), 1e-12,
                "late masking: each row sums to the unmasked probability mass of its allowed keys");
    double short_row = autograd::amax(row_sums.slice(1, 0, T - 1)).item();
    checks.check(short_row < 1 - 1e-9,
                 "so every row with a blocked key sums to less than 1 (largest " +
                     std::to_string(short_row) + "); only the last row, with nothing blocked, sums to 1");
    // Dividing each row by its sum would repair it: that is exactly the right weights.
    checks.same(late_weights / row_sums.unsqueeze(-1), causal_out.weights, 1e-12,
                "renormalising the rows gives the right (mask-before-softmax) weights");
    checks.same(late_output, causal_out.output * row_sums.unsqueeze(-1), 1e-12,
                "the late output is the right output scaled down by each row's mass");
    // Worse, the future leaks in: the blocked scores still sit in softmax's denominator.
    auto late_attention = [&](const Tensor& keys, const Tensor& values) {
      Tensor s = autograd::matmul(q, keys.transpose(-2, -1)) * scale;
      return autograd::matmul(autograd::masked_fill(autograd::softmax(s, -1), causal, 0.0), values);
    };
    double leaked = tutorial::max_abs_diff(late_attention(future_k, future_v).slice(1, 0, changed),
                                           late_output.slice(1, 0, changed));
    std::printf("  changing token %lld (as in part 2) now moves outputs 0..%lld by %.3g\n",
                (long long)changed, (long long)changed - 1, leaked);
    checks.check(leaked > 1e-6,
                 "with the mask after softmax a future token changes earlier outputs (via the sum)");
    // The gradient differs too: query 0's output sends gradient to the future keys.
    Tensor late_k = k.detach().requires_grad_(), right_k = k.detach().requires_grad_();
    autograd::sum(late_attention(late_k, v).slice(1, 0, 1)).backward();
    autograd::sum(nn::scaled_dot_product_attention(q, right_k, v, {.attn_mask = causal}).output.slice(1, 0, 1))
        .backward();
    double late_future_grad = autograd::amax(autograd::abs(late_k.grad().slice(1, 1, T))).item();
    double right_future_grad = autograd::amax(autograd::abs(right_k.grad().slice(1, 1, T))).item();
    std::printf("  d(output of query 0) / d(keys 1..%lld): max |grad| %.3g late, %g mask-first\n",
                (long long)T - 1, late_future_grad, right_future_grad);
    late_first_row_sum = row_sums.at({0, 0});
    late_leak = leaked;
    late_future_gradient = late_future_grad;
    checks.check(late_future_grad > 1e-6 && right_future_grad == 0,
                 "late masking trains query 0 on the future keys; masking first gives them 0");
    std::printf(
        "  How to see it: print the weights' row sums (they must be 1, or 0 for a fully masked\n"
        "  row), or change a future token and watch earlier outputs. Mask the SCORES with -inf\n"
        "  before softmax, so the blocked keys leave the denominator too.\n");

    tutorial::section("5. Both masks, left padding, and rows with nothing left");
    // Left padding: sequence 1 is [PAD .. PAD, tokens]. Under the causal mask its first
    // (T - valid) queries can only see keys <= i, which are all padding: nothing is allowed.
    std::vector<bool> left(B * T, false);
    for (std::int64_t t = 0; t < T - valid; ++t) left[1 * T + t] = true;
    Tensor left_padding = autograd::from_vector(left, {B, T}).unsqueeze(1);  // [B, 1, Tk]
    Tensor combined = autograd::logical_or(left_padding, causal);            // [B, T, T]
    print_mask("padding OR causal, sequence 1", combined);
    nn::AttentionOutput both = nn::scaled_dot_product_attention(q, k, v, {.attn_mask = combined});
    tutorial::print_matrix("weights of sequence 1", both.weights.select(0, 1), 3);
    tutorial::print_matrix("output of sequence 1", both.output.select(0, 1), 3, 8, 4);
    tutorial::LoopAttention both_loops = tutorial::attention_by_loops(q, k, v, scale, combined);
    checks.same(both.output, both_loops.output, 1e-12, "combined-mask output equals the loops");
    const std::int64_t dead = T - valid;  // fully masked rows of sequence 1: 0 .. dead-1
    fully_masked_rows = dead;
    Tensor dead_weights = both.weights.select(0, 1).slice(0, 0, dead);
    Tensor dead_output = both.output.select(0, 1).slice(0, 0, dead);
    checks.check(all_finite(both.weights) && all_finite(both.output), "no nan anywhere");
    checks.check(autograd::amax(autograd::abs(dead_weights)).item() == 0 &&
                     autograd::amax(autograd::abs(dead_output)).item() == 0,
                 "the library gives the " + std::to_string(dead) +
                     " fully masked rows all-zero weights and a zero output");

    // The naive formula exp(s - max) / sum on such a row: max = -inf and -inf - (-inf) = nan.
    Tensor row = autograd::masked_fill(scores, combined, -kInf).select(0, 1).select(0, 0);  // [Tk]
    Tensor e = autograd::exp(row - autograd::amax(row, {-1}, true));
    Tensor naive = e / autograd::sum(e, {-1}, true);
    std::printf(
        "\n  Row 0 of sequence 1 after masked_fill is all -inf. The naive formula:\n"
        "    exp(s - max(s)) / sum -> [");
    for (std::int64_t j = 0; j < T; ++j) {
      if (std::isnan(naive.at({j})))
        std::printf("%snan", j ? ", " : "");  // printf might write "-nan"
      else
        std::printf("%s%.3g", j ? ", " : "", naive.at({j}));
    }
    std::printf(
        "]\n    because max(s) = -inf and -inf - (-inf) = nan. torch.softmax gives nan too.\n");
    checks.check(std::isnan(naive.at({0})), "the naive formula turns a fully masked row into nan");
    // A common workaround fills with -1e9 instead of -inf. Then the row is a softmax of equal
    // numbers: uniform, i.e. it averages every value, padding and future tokens included.
    Tensor big_negative = autograd::softmax(autograd::masked_fill(scores, combined, -1e9), -1);
    std::printf("    masked_fill(-1e9) then softmax -> [");
    for (std::int64_t j = 0; j < T; ++j)
      std::printf("%s%.4f", j ? ", " : "", big_negative.at({1, 0, j}));
    std::printf("]\n    uniform over ALL keys: it reads padding and the future, silently.\n\n");
    checks.close(big_negative.at({1, 0, T - 1}), 1.0 / double(T), 1e-12,
                 "with -1e9 a fully masked row becomes uniform 1/T (attends to the future)");
    // Gradients: the dead rows pass none back, and nothing is nan.
    Tensor gq = q.detach().requires_grad_(), gk = k.detach().requires_grad_(),
           gv = v.detach().requires_grad_();
    Tensor loss = autograd::sum(nn::scaled_dot_product_attention(gq, gk, gv, {.attn_mask = combined}).output);
    loss.backward();
    checks.check(all_finite(gq.grad()) && all_finite(gk.grad()) && all_finite(gv.grad()),
                 "backward through the masked rows gives finite gradients");
    checks.small(autograd::amax(autograd::abs(gq.grad().select(0, 1).slice(0, 0, dead))).item(), 0,
                 "a fully masked query gets zero gradient");

    tutorial::section("6. A sliding-window mask: a band |i - j| <= w");
    // Blocked where |i - j| > w: the article's "sliding window" is one more mask pattern.
    Tensor positions = autograd::arange(0.0, double(T), 1.0, DType::Float64);
    Tensor distance = autograd::abs(positions.unsqueeze(1) - positions.unsqueeze(0));  // [T, T]
    Tensor band = autograd::gt(distance, autograd::scalar(double(window), DType::Float64));
    print_mask("window mask, w = " + std::to_string(window), band);
    nn::AttentionOutput local = nn::scaled_dot_product_attention(q, k, v, {.attn_mask = band});
    tutorial::LoopAttention local_loops = tutorial::attention_by_loops(q, k, v, scale, band);
    checks.same(local.output, local_loops.output, 1e-12, "window-masked output equals the loops");
    checks.check(zero_where_blocked(local.weights, band.expand({B, T, T})),
                 "each query attends only to keys within distance w");

    tutorial::section("7. Pictures");
    {
      // The four masks of this program, as [T, T] grids (rows = queries, columns = keys), and the
      // weights they leave: blocked cells are drawn hatched, and hold exactly 0 weight.
      Tensor padding_tt = padding_mask.expand({B, T, T}).select(0, 1);
      Tensor combined_tt = combined.select(0, 1);
      struct Panel {
        std::string title;
        Tensor mask, weights;
      };
      const std::vector<Panel> panels = {
          {"padding (seq 1)", padding_tt, padded.weights.select(0, 1)},
          {"causal", causal, causal_out.weights.select(0, 0)},
          {"left pad + causal", combined_tt, both.weights.select(0, 1)},
          {"window, w = " + std::to_string(window), band, local.weights.select(0, 0)},
      };
      viz::HeatmapGrid masks(4), weights(4);
      masks.set_title("Masks: rows = queries, columns = keys; 1 = blocked")
          .set_range(0, 1)
          .set_colorbar_label("blocked");
      weights.set_title("Weights under each mask (hatched = blocked, weight 0)")
          .set_range(0, 1)
          .set_colorbar_label("weight")
          .set_masked_label("blocked: weight 0");
      for (const Panel& panel : panels) {
        masks.add_panel(panel.title, tutorial::matrix_values(panel.mask.to(DType::Float64)), int(T),
                        int(T));
        weights.add_panel(panel.title, tutorial::matrix_values(panel.weights, panel.mask), int(T),
                          int(T));
      }
      tutorial::save_picture(masks, options, "06_masks.png",
                             "which (query, key) pairs each mask blocks: padding columns, the "
                             "causal upper triangle, both, a diagonal band");
      tutorial::save_picture(
          weights, options, "06_masked_weights.png",
          "hatched cells are blocked and hold weight 0; every other row sums to 1");
      // The interesting one in detail: left padding under a causal mask.
      std::vector<std::string> tokens;
      for (std::int64_t t = 0; t < T; ++t)
        tokens.push_back(t < T - valid ? "PAD" : "t" + std::to_string(t));
      viz::Heatmap detail(tutorial::matrix_values(both.weights.select(0, 1), combined_tt), int(T),
                          int(T));
      detail.set_title("Left padding + causal: the PAD rows have no key left")
          .set_row_labels(tokens)
          .set_col_labels(tokens)
          .set_y_label("query")
          .set_x_label("key")
          .set_range(0, 1)
          .set_colorbar_label("weight")
          .set_masked_label("blocked: weight 0 (a row with no key left is all 0)");
      tutorial::save_picture(detail, options, "06_padding_causal_weights.png",
                             "the PAD rows are entirely hatched: no key is left, so the library "
                             "gives them zero weights (PyTorch: nan)");
      std::printf(
          "  In the last picture the first %lld rows are entirely hatched: the library\n"
          "  returns zero weights there (torch.softmax: nan).\n",
          (long long)dead);
    }

    tutorial::section("8. Your own inputs (--q, --k, --v, --mask), or the example of part 5");
    Tensor Q = tutorial::load_or(files.q, q, "Q", files.allow_non_finite);
    Tensor K = tutorial::load_or(files.k, k, "K", files.allow_non_finite);
    Tensor V = tutorial::load_or(files.v, v, "V", files.allow_non_finite);
    // Your Q, K, V without --mask are used unmasked; the example keeps its combined mask.
    const bool own_inputs = !files.q.empty() || !files.k.empty() || !files.v.empty();
    Tensor M = tutorial::load_or(files.mask, own_inputs ? Tensor() : combined, "mask", files.allow_non_finite);
    const double own_scale = 1.0 / std::sqrt(double(Q.size(-1)));
    nn::AttentionOutput own = nn::scaled_dot_product_attention(Q, K, V, {.attn_mask = M});
    tutorial::LoopAttention own_loops = tutorial::attention_by_loops(Q, K, V, own_scale, M);
    std::printf("  Q %s, K %s, V %s, mask %s (%s) -> output %s\n",
                tensor::shape_str(Q.shape()).c_str(), tensor::shape_str(K.shape()).c_str(),
                tensor::shape_str(V.shape()).c_str(),
                M.defined() ? tensor::shape_str(M.shape()).c_str() : "none",
                M.defined() ? tensor::dtype_name(M.dtype()).c_str() : "-",
                tensor::shape_str(own.output.shape()).c_str());
    checks.same(own.weights, own_loops.weights, 1e-12, "masked scaled attention equals the loops");
    checks.same(own.output, own_loops.output, 1e-12, "outputs equal too");
    std::vector<std::pair<std::string, Tensor>> saved = {
        {"q", Q}, {"k", K}, {"v", V}, {"weights", own.weights}, {"output", own.output}};
    if (M.defined()) saved.emplace_back("mask", M);  // bool, true = blocked
    tutorial::save_npy_files(files.save, saved);
  }

  std::printf(
      "\nWhat to notice: a mask is -inf on the scores before softmax, so blocked pairs get\n"
      "weight exactly 0; padding masks are [B, 1, Tk], causal masks [T, T], OR them to\n"
      "combine. A row with nothing allowed is zeros here, nan from torch.softmax, and\n"
      "uniform (reading padding and the future) with -1e9.\n");
  char answer[800];
  std::snprintf(
      answer, sizeof answer,
      "Blocked scores become -inf before softmax: every blocked weight came out exactly 0 and\n"
      "every other row summed to 1; padding [B, 1, Tk] and causal [T, T] masks combine with OR,\n"
      "and the %lld rows with no key left gave zeros (nan in the naive formula). Zeroing after\n"
      "softmax instead left row 0 summing to %.3f (its allowed mass), scaled each output down,\n"
      "let a future token move earlier outputs by %.3g and sent them gradient (%.3g).",
      (long long)fully_masked_rows, late_first_row_sum, late_leak, late_future_gradient);
  tutorial::print_answer(kQuestion, answer);
  std::printf("\nPython twin: tutorials/python/06_attention_masks.py (make python)\n");
  return checks.finish();
} catch (...) {
  return tutorial::report_error();
}
