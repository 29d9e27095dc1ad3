// 03_dot_product_attention — Implement dot-product attention for Q, K, V.
//                            给定一个序列，如何实现基于dot-product attention的注意力机制？
//                            (as the interview article "注意力机制与softmax函数在深度学习中的
//                            应用与面试解析" asks it)
//
// Short answer
//   Three steps. (1) Score every query against every key with a dot product: S = Q K^T, one row
//   per query, one column per key, [Tq, D] x [D, Tk] -> [Tq, Tk]. (2) Turn each row of scores
//   into a probability distribution with softmax over the keys: weights >= 0, each row sums to 1.
//   (3) Mix the values with those weights: output = weights V, [Tq, Tk] x [Tk, Dv] -> [Tq, Dv].
//   So each output row is a weighted average (a convex combination) of V's rows: it has V's
//   width Dv, and every column stays between that column's smallest and largest value in V.
//
// What this program shows
//   1. the example of that article (Q = [[1,2,3],[4,5,6]], K = [[7,8,9],
//      [10,11,12]], V = [[13,14,15],[16,17,18]]) computed step by step, with the shape at each
//      step, checked against plain loops and a weight worked out by hand;
//   2. why the article's printed answer [[51.9, 68.4], [127.4, 141.6]] cannot be right: it is
//      2 x 2 (attention over a 2 x 3 V gives 2 x 3) and its numbers lie outside V's range;
//   3. the two other mistakes of the article: `np.softmax` does not exist in NumPy, and its
//      formula `V * attention_weights` multiplies in the wrong order (the library's errors shown);
//   4. the same three steps on a random batch [B, T, D], library against loops, and a gradient
//      check with finite differences;
//   5. a heatmap of the weights (saturated: the article's scores are large, see tutorial 04).
//
// Run:  build/tutorials/03_dot_product_attention          (the article's example + a random batch)
//       build/tutorials/03_dot_product_attention --q q.npy --k k.npy --v v.npy --save my_npy
//       (your own Q, K, V; writes scores.npy, weights.npy, output.npy to compare with NumPy:
//        w = np.exp(s - s.max(-1, keepdims=True)); w /= w.sum(-1, keepdims=True); out = w @ v)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
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

// Every output row lies inside the box spanned by V's rows: column c between min_j V[j, c] and
// max_j V[j, c]. True for any convex combination, so for any correct attention output.
bool inside_value_range(const Tensor& output, const Tensor& v) {
  Tensor lowest = autograd::amin(v, {-2}, true), highest = autograd::amax(v, {-2}, true);
  const double slack = 1e-9;
  bool above = autograd::ge(output, lowest - slack).data().to(DType::Float64).to_vector<double>() ==
               std::vector<double>(output.numel(), 1.0);
  bool below =
      autograd::le(output, highest + slack).data().to(DType::Float64).to_vector<double>() ==
      std::vector<double>(output.numel(), 1.0);
  return above && below;
}

// Every weight is >= 0 and every row sums to 1 (to rounding).
bool rows_are_distributions(const Tensor& weights) {
  std::vector<double> w = weights.data().contiguous().to_vector<double>();
  const std::int64_t tk = weights.size(-1);
  for (std::size_t row = 0; row * tk < w.size(); ++row) {
    double sum = 0;
    for (std::int64_t j = 0; j < tk; ++j) {
      if (w[row * tk + j] < 0) return false;
      sum += w[row * tk + j];
    }
    if (std::fabs(sum - 1) > 1e-12) return false;
  }
  return true;
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "03_dot_product_attention",
    .chinese = "给定一个序列，如何实现基于dot-product attention的注意力机制？",
    .english = "Implement dot-product attention for Q, K, V.",
    .answer = "Three steps: scores = Q K^T ([Tq, D] x [D, Tk] -> [Tq, Tk]); weights = softmax of each\n"
              "row over the keys; output = weights V ([Tq, Tk] x [Tk, Dv] -> [Tq, Dv]). Each output\n"
              "row is a weighted average of V's rows: V's width, inside V's range. The article's\n"
              "2 x 2 answer cannot be right, np.softmax does not exist, and V * weights is backwards.",
    .article = "注意力机制与softmax函数在深度学习中的应用与面试解析",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  const tutorial::Options& options = flags.options;
  tutorial::QKVFiles files;
  tutorial::add_qkv_flags(flags, files, /*with_mask=*/false);
  std::int64_t batch = 2, tq = 4, tk = 6, dim = 8, dv = 5;
  flags.add("--batch", batch, "B of the random example in part 4", tutorial::between(1, 64));
  flags.add("--tq", tq, "query positions Tq of the random example", tutorial::between(1, 256));
  flags.add("--tk", tk, "key/value positions Tk of the random example", tutorial::between(1, 256));
  flags.add("--dim", dim, "D, the size of a query and of a key", tutorial::between(1, 256));
  flags.add("--dv", dv, "Dv, the size of a value", tutorial::between(1, 256));
  flags.parse(argc, argv);
  flags.quick(batch, std::min<std::int64_t>(batch, 2));
  tutorial::Checks checks;

  // For the closing answer.
  std::string output_shape;
  double wrong_order_by = 0;
  {
    // The interview article's example, as float64 so the loops can be compared to ~1e-15.
    const Tensor seed_q = autograd::from_rows({{1, 2, 3}, {4, 5, 6}}, DType::Float64);
    const Tensor seed_k = autograd::from_rows({{7, 8, 9}, {10, 11, 12}}, DType::Float64);
    const Tensor seed_v = autograd::from_rows({{13, 14, 15}, {16, 17, 18}}, DType::Float64);

    tutorial::section("1. Dot-product attention in three steps");
    const bool own_inputs = !files.q.empty() || !files.k.empty() || !files.v.empty();
    std::printf("  %s\n", own_inputs ? "Your inputs (any missing one is the article's):"
                                     : "The interview article's example:");
    Tensor Q = tutorial::load_or(files.q, seed_q, "Q", files.allow_non_finite);
    Tensor K = tutorial::load_or(files.k, seed_k, "K", files.allow_non_finite);
    Tensor V = tutorial::load_or(files.v, seed_v, "V", files.allow_non_finite);
    tutorial::print_matrix("Q  (Tq queries of size D)", Q);
    tutorial::print_matrix("K  (Tk keys of size D)", K);
    tutorial::print_matrix("V  (Tk values of size Dv)", V);

    // Step 1: one score per (query, key) pair. transpose(-2, -1) swaps the last two dims, so it
    // works for a single matrix and for a batch [B, T, D] alike.
    Tensor scores = autograd::matmul(Q, K.transpose(-2, -1));  // [..., Tq, Tk]
    std::printf("\n  step 1: scores = Q K^T:  %s x %s -> %s\n",
                tensor::shape_str(Q.shape()).c_str(),
                tensor::shape_str(K.transpose(-2, -1).shape()).c_str(),
                tensor::shape_str(scores.shape()).c_str());
    tutorial::print_matrix("scores[i, j] = q_i . k_j", scores);

    // Step 2: softmax over the keys (the last dim), so each query's row becomes a distribution.
    Tensor weights = autograd::softmax(scores, -1);  // [..., Tq, Tk]
    std::printf("\n  step 2: weights = softmax(scores, over keys):  %s\n",
                tensor::shape_str(weights.shape()).c_str());
    tutorial::print_matrix("weights (each row sums to 1)", weights);

    // Step 3: the weights on the LEFT: row i of the output is sum_j weights[i, j] * V[j, :].
    Tensor output = autograd::matmul(weights, V);  // [..., Tq, Dv]
    output_shape = tensor::shape_str(output.shape());
    std::printf("\n  step 3: output = weights V:  %s x %s -> %s\n",
                tensor::shape_str(weights.shape()).c_str(), tensor::shape_str(V.shape()).c_str(),
                tensor::shape_str(output.shape()).c_str());
    tutorial::print_matrix("output (row i = weighted average of V's rows)", output, 8);
    std::printf("\n");

    tutorial::LoopAttention loops = tutorial::attention_by_loops(Q, K, V, 1.0);
    checks.same(scores, loops.scores, 1e-9, "scores equal the loops' sum_c q_i[c] * k_j[c]");
    checks.same(weights, loops.weights, 1e-12, "weights equal the loops' exp(s - max) / sum");
    checks.same(output, loops.output, 1e-9, "output equals the loops' sum_j w_ij * v_j");
    nn::AttentionOutput library = nn::dot_product_attention(Q, K, V);
    checks.same(library.output, output, 1e-12, "nn::dot_product_attention gives the same output");
    checks.check(rows_are_distributions(weights), "every weight is >= 0 and every row sums to 1");
    checks.check(output.shape().back() == V.shape().back() && output.size(-2) == Q.size(-2),
                 "the output is [Tq, Dv] = " + tensor::shape_str({Q.size(-2), V.size(-1)}) +
                     ": one row per query, V's width");
    checks.check(inside_value_range(output, V),
                 "each output column lies between the smallest and largest value of V's column "
                 "(a convex combination of V's rows)");
    if (!own_inputs) {
      // By hand: row 0 scores are 50 and 68, so w[0, 0] = e^50 / (e^50 + e^68) = 1 / (1 + e^18).
      double by_hand = 1.0 / (1.0 + std::exp(18.0));
      checks.close(weights.at({0, 0}), by_hand, 1e-20, "w[0, 0] = 1 / (1 + e^(68 - 50)), by hand");
      std::printf(
          "\n  Notice: the scores differ by 18 (row 0) and 45 (row 1), so softmax gives\n"
          "  almost all weight to key 1: both queries copy V's last row [16, 17, 18].\n"
          "  Unscaled dot products of large vectors saturate softmax; tutorial 04 shows\n"
          "  why Transformers divide the scores by sqrt(D).\n");
    }
    tutorial::save_npy_files(files.save, {{"q", Q},
                                          {"k", K},
                                          {"v", V},
                                          {"scores", scores},
                                          {"weights", weights},
                                          {"output", output}});

    tutorial::section("2. The article's printed answer cannot be the output of attention");
    // The article prints this as the result for its example:
    const Tensor printed = autograd::from_rows(
        {{51.92549507, 68.35671086}, {127.39186635, 141.61276447}}, DType::Float64);
    Tensor seed_output = nn::dot_product_attention(seed_q, seed_k, seed_v).output;
    tutorial::print_matrix("printed by the article", printed);
    tutorial::print_matrix("computed here", seed_output, 8);
    double v_max = autograd::amax(seed_v).item(), printed_max = autograd::amax(printed).item();
    std::printf(
        "\n  Attention returns [Tq, Dv] = [2, 3]; the article shows %s. And every output\n"
        "  value must lie within V's range [13, 18]; the article has values up to %.1f.\n"
        "  No choice of weights (>= 0, summing to 1) can average 13..18 into 51.9.\n\n",
        tensor::shape_str(printed.shape()).c_str(), printed_max);
    checks.check(printed.shape() != seed_output.shape(),
                 "the printed answer has shape [2, 2], not the [2, 3] attention must give");
    checks.check(printed_max > v_max,
                 "the printed values lie outside V's range, so no weights could produce them");
    checks.check(inside_value_range(seed_output, seed_v),
                 "the computed answer lies inside V's range");

    tutorial::section("3. The article's two other mistakes");
    std::printf(
        "  a) `np.softmax(attention_scores, axis=1)`: NumPy has no softmax, the line raises\n"
        "     AttributeError: module 'numpy' has no attribute 'softmax'. Write it (subtract\n"
        "     the row max for stability, tutorial 02) or use scipy.special.softmax.\n\n");
    std::printf(
        "  b) The article's formula `context_vector = V * attention_weights` has the wrong\n"
        "     order. weights is [Tq, Tk] and V is [Tk, Dv]; only weights x V lines up the\n"
        "     key dims. In this library the wrong versions fail with:\n");
    Tensor seed_weights = nn::dot_product_attention(seed_q, seed_k, seed_v).weights;
    std::string elementwise_error = tutorial::error_of([&] { (void)(seed_v * seed_weights); });
    std::string wrong_order_error =
        tutorial::error_of([&] { (void)autograd::matmul(seed_v, seed_weights); });
    std::printf("       V * weights        -> %s\n", elementwise_error.c_str());
    std::printf("       matmul(V, weights) -> %s\n", wrong_order_error.c_str());
    checks.check(!elementwise_error.empty() && !wrong_order_error.empty(),
                 "both wrong versions are refused for the article's shapes");
    // When Tq = Tk = Dv every version has a valid shape, so the wrong order runs silently.
    tensor::Generator gen(options.seed);
    Tensor sq = autograd::randn({3, 3}, gen, DType::Float64),
           sk = autograd::randn({3, 3}, gen, DType::Float64),
           sv = autograd::randn({3, 3}, gen, DType::Float64);
    nn::AttentionOutput square = nn::dot_product_attention(sq, sk, sv);
    double wrong_by = tutorial::max_abs_diff(autograd::matmul(sv, square.weights), square.output);
    std::printf(
        "\n     With square 3 x 3 inputs no error is raised, yet V x weights differs from\n"
        "     weights x V by up to %.3f: mixes columns of V instead of averaging its rows.\n\n",
        wrong_by);
    wrong_order_by = wrong_by;
    checks.check(wrong_by > 1e-3,
                 "with square inputs the wrong order runs but gives a different matrix");

    tutorial::section("4. A random batch [B, T, D]: the same three lines");
    tensor::Generator batch_gen(options.seed + 1);
    Tensor q = autograd::randn({batch, tq, dim}, batch_gen, DType::Float64);
    Tensor k = autograd::randn({batch, tk, dim}, batch_gen, DType::Float64);
    Tensor v = autograd::randn({batch, tk, dv}, batch_gen, DType::Float64);
    Tensor batch_scores = autograd::matmul(q, k.transpose(-2, -1));  // [B, Tq, Tk]
    Tensor batch_weights = autograd::softmax(batch_scores, -1);      // [B, Tq, Tk]
    Tensor batch_output = autograd::matmul(batch_weights, v);        // [B, Tq, Dv]
    std::printf("  q %s, k %s, v %s\n  scores %s, weights %s, output %s\n\n",
                tensor::shape_str(q.shape()).c_str(), tensor::shape_str(k.shape()).c_str(),
                tensor::shape_str(v.shape()).c_str(),
                tensor::shape_str(batch_scores.shape()).c_str(),
                tensor::shape_str(batch_weights.shape()).c_str(),
                tensor::shape_str(batch_output.shape()).c_str());
    tutorial::LoopAttention batch_loops = tutorial::attention_by_loops(q, k, v, 1.0);
    checks.same(batch_output, batch_loops.output, 1e-12,
                "batched output equals the loops over b, i, j");
    checks.same(batch_weights, batch_loops.weights, 1e-12, "batched weights equal the loops");
    checks.check(rows_are_distributions(batch_weights) && inside_value_range(batch_output, v),
                 "rows are distributions and outputs stay inside V's range");
    // The backward pass of the three steps, against finite differences (small sizes, float64).
    const std::int64_t check_tq = std::min<std::int64_t>(tq, 3), check_tk = std::min<std::int64_t>(tk, 4);
    Tensor gq = q.slice(0, 0, 1).slice(1, 0, check_tq).contiguous().requires_grad_();
    Tensor gk = k.slice(0, 0, 1).slice(1, 0, check_tk).contiguous().requires_grad_();
    Tensor gv = v.slice(0, 0, 1).slice(1, 0, check_tk).contiguous().requires_grad_();
    autograd::GradcheckResult grads = autograd::gradcheck(
        [](const std::vector<Tensor>& in) {
          return nn::dot_product_attention(in[0], in[1], in[2]).output;
        },
        {gq, gk, gv});
    std::printf("  %s\n", grads.message.c_str());
    checks.check(grads.passed,
                 "gradients of the output w.r.t. Q, K and V match finite differences");

    tutorial::section("5. Picture: the weights");
    {
      // Rows are queries, columns keys; each row is one softmax, so each row sums to 1.
      viz::Heatmap seed_map(tutorial::matrix_values(seed_weights), 2, 2);
      seed_map.set_title("Seed example: softmax(Q K^T) is one-hot")
          .set_row_labels({"q0", "q1"})
          .set_col_labels({"k0", "k1"})
          .set_y_label("query")
          .set_x_label("key")
          .set_range(0, 1)
          .set_colorbar_label("weight");
      tutorial::save_picture(
          seed_map, options, "03_seed_weights.png",
          "one bright cell per row: both queries put all their weight on key k1 (one-hot)");
      viz::Heatmap random_map(tutorial::matrix_values(batch_weights), int(tq), int(tk));
      random_map
          .set_title("Random q, k (D = " + std::to_string(dim) + "), batch 0: each row sums to 1")
          .set_y_label("query i")
          .set_x_label("key j")
          .set_range(0, 1)
          .set_colorbar_label("weight");
      tutorial::save_picture(random_map, options, "03_random_weights.png",
                             "each row sums to 1, with the weight spread over several keys");
      std::printf(
          "  The article's example puts all the weight on key 1 (scores 18 and 45 apart);\n"
          "  random unit-variance q, k spread it over several keys.\n");
    }

    std::printf(
        "\nWhat to notice: the output has one row per query and V's width, and every row\n"
        "is an average of V's rows (weights >= 0, summing to 1). The weights go on the\n"
        "left: weights [Tq, Tk] x V [Tk, Dv].\n");
  }
  tutorial::print_answer(
      kQuestion,
      "scores = Q K^T, weights = softmax over the keys, output = weights V: here the output was\n" +
          output_shape + " (one row per query, V's width), each row a weighted average of V's rows,\n"
          "equal to plain loops and to finite differences. The article's 2 x 2 answer cannot be\n"
          "right; V x weights in the wrong order ran on square inputs but was off by " +
          std::to_string(wrong_order_by) + ".");
  std::printf("\nPython twin: tutorials/python/03_dot_product_attention.py (make python)\n");
  return checks.finish();
} catch (...) {
  return tutorial::report_error();
}
