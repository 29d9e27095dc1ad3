// 04_scaled_attention — Why divide by sqrt(d_k)?
//                       注意力模型中的“缩放点积注意力”是什么？为什么要除以 √d_k？
//   The interview article "深入探讨注意力模型：从基础理论到实际应用" answers: “缩放点积注意力是一种解决点积注意力可能
//   出现的梯度消失问题的方法” (a way to fix the vanishing gradient of dot-product attention).
//
// Short answer
//   If the d_k components of a query and a key are independent with mean 0 and variance 1, their
//   dot product q.k = sum of d_k products has mean 0 and variance d_k: its typical size grows like
//   sqrt(d_k). Fed to softmax, scores that far apart make it saturate: almost all the weight goes
//   to one key (the distribution becomes one-hot), and the softmax Jacobian diag(s) - s s^T goes
//   to zero, so almost no gradient reaches Q and K: learning stalls. Dividing by sqrt(d_k) brings
//   the variance back to 1 for every head size, so the weights stay soft and the gradients keep
//   their size. (Dividing by d_k would overdo it: variance 1/d_k, nearly uniform weights.)
//
// What this program shows
//   1. the variance of q.k for d_k = 4 .. 1024, measured against the closed form d_k, and 1 after
//      scaling;
//   2. what softmax does with those scores: the largest weight per row and the entropy of the
//      rows, unscaled (collapsing to one-hot) and scaled (flat);
//   3. the norm of d(loss)/d(scores) that backpropagation sends through softmax, measured with
//      autograd and checked against the closed form W * (dW - rowsum(dW * W)), unscaled vs scaled;
//   4. plots of the three against d_k (written to --out);
//   5. the library's scaled_dot_product_attention on an example (or your --q/--k/--v), checked
//      against loops and against dot_product_attention(Q / sqrt(d_k), K, V).
//
// Run:  build/tutorials/04_scaled_attention              (d_k from 4 to 1024)
//       build/tutorials/04_scaled_attention --q q.npy --k k.npy --v v.npy --save my_npy
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
#include "viz/plot.hpp"

using autograd::Tensor;
using tensor::DType;

namespace {

// What softmax does with one batch of scores, averaged over rows.
struct SoftmaxStats {
  double score_variance = 0;  // of all the scores
  double max_weight = 0;      // mean over rows of the largest weight (1 = one-hot)
  double entropy = 0;         // mean over rows of -sum w log w (log Tk = uniform, 0 = one-hot)
  double grad_norm = 0;       // median over rows of ||d loss / d scores_row|| (a typical row)
  double grad_norm_mean = 0;  // mean over rows (dominated by the few rows with near-tied scores)
  double saturated = 0;       // fraction of rows whose largest weight exceeds 0.99
  double grad_check = 0;      // max |autograd - closed form| of d loss / d scores
};

// scores [N, Tq, Tk] (values only), v [N, Tk, Dv], upstream gradient g [N, Tq, Dv].
SoftmaxStats measure(const Tensor& scores_values, const Tensor& v, const Tensor& g) {
  SoftmaxStats stats;
  // The scores are a leaf here, so autograd hands us d loss / d scores directly.
  Tensor scores = scores_values.detach().requires_grad_();
  Tensor weights = autograd::softmax(scores, -1);  // [N, Tq, Tk]
  Tensor output = autograd::matmul(weights, v);    // [N, Tq, Dv]
  Tensor loss = autograd::sum(output * g);         // d loss / d output = g
  loss.backward();

  std::vector<double> s = scores.data().contiguous().to_vector<double>();
  std::vector<double> w = weights.data().contiguous().to_vector<double>();
  std::vector<double> ds = scores.grad().data().contiguous().to_vector<double>();
  std::vector<double> vv = v.data().contiguous().to_vector<double>();
  std::vector<double> gg = g.data().contiguous().to_vector<double>();
  const std::int64_t n = scores.size(0), tq = scores.size(1), tk = scores.size(2), dv = v.size(2);

  double mean = 0;
  for (double x : s) mean += x;
  mean /= double(s.size());
  for (double x : s) stats.score_variance += (x - mean) * (x - mean);
  stats.score_variance /= double(s.size() - 1);

  std::vector<double> row_norms;
  for (std::int64_t b = 0; b < n; ++b) {
    for (std::int64_t i = 0; i < tq; ++i) {
      const double* wr = &w[(b * tq + i) * tk];
      const double* dsr = &ds[(b * tq + i) * tk];
      double largest = 0, entropy = 0, norm = 0;
      for (std::int64_t j = 0; j < tk; ++j) {
        largest = std::max(largest, wr[j]);
        if (wr[j] > 0) entropy -= wr[j] * std::log(wr[j]);
        norm += dsr[j] * dsr[j];
      }
      stats.max_weight += largest;
      stats.saturated += largest > 0.99;
      stats.entropy += entropy;
      row_norms.push_back(std::sqrt(norm));
      stats.grad_norm_mean += std::sqrt(norm);
      // The closed form, as loops: dW[i, j] = g_i . v_j, dS[i, j] = W[i, j] (dW[i, j] - sum_k W[i,
      // k] dW[i, k]).
      std::vector<double> dw(tk);
      double weighted = 0;
      for (std::int64_t j = 0; j < tk; ++j) {
        dw[j] = 0;
        for (std::int64_t c = 0; c < dv; ++c)
          dw[j] += gg[(b * tq + i) * dv + c] * vv[(b * tk + j) * dv + c];
        weighted += wr[j] * dw[j];
      }
      for (std::int64_t j = 0; j < tk; ++j)
        stats.grad_check =
            std::max(stats.grad_check, std::fabs(dsr[j] - wr[j] * (dw[j] - weighted)));
    }
  }
  const double rows = double(n * tq);
  stats.max_weight /= rows;
  stats.entropy /= rows;
  stats.grad_norm_mean /= rows;
  stats.saturated /= rows;
  std::sort(row_norms.begin(), row_norms.end());
  stats.grad_norm = row_norms[row_norms.size() / 2];
  return stats;
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "04_scaled_attention",
    .chinese = "注意力模型中的“缩放点积注意力”是什么？为什么要除以 √d_k？",
    .english = "What is scaled dot-product attention? Why divide by sqrt(d_k)?",
    .answer = "With unit-variance components, q.k is a sum of d_k products: variance d_k. Scores\n"
              "that spread out make softmax saturate (nearly one-hot), its Jacobian goes to 0 and\n"
              "almost no gradient reaches Q and K. Dividing by sqrt(d_k) brings the variance back\n"
              "to 1 at every d_k, so the weights stay soft and the gradients keep their size.",
    .article = "深入探讨注意力模型：从基础理论到实际应用",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  const tutorial::Options& options = flags.options;
  tutorial::QKVFiles files;
  tutorial::add_qkv_flags(flags, files, /*with_mask=*/false);
  std::int64_t dk_min = 4, dk_max = 1024, queries = 64, keys = 64, value_dim = 16, trials = 4;
  flags.add("--dk-min", dk_min, "smallest d_k (powers of 2 from here)", tutorial::between(1, 16384));
  flags.add("--dk-max", dk_max, "largest d_k", tutorial::between(1, 16384));
  flags.add("--queries", queries, "Tq, queries per trial", tutorial::between(1, 4096));
  flags.add("--keys", keys, "Tk, keys per query (the softmax length)", tutorial::between(2, 4096));
  flags.add("--dv", value_dim, "Dv, size of a value", tutorial::between(1, 1024));
  flags.add("--trials", trials, "independent batches per d_k", tutorial::between(1, 100));
  flags.parse(argc, argv);
  flags.quick(trials, 1);
  tutorial::Flags::require(dk_min <= dk_max, "--dk-min " + std::to_string(dk_min) +
                                                 " is larger than --dk-max " + std::to_string(dk_max));
  tutorial::Checks checks;
  tensor::Generator gen(options.seed);

  // For the closing answer: the largest d_k, unscaled and scaled.
  double answer_dk = 0, answer_variance = 0, answer_max_raw = 0, answer_max_scaled = 0;
  double answer_grad_shrink = 0, answer_scaled_spread = 0;
  {
    tutorial::section("1-3. Scores, softmax and its gradient as d_k grows");
    std::printf(
        "  q, k with d_k independent N(0, 1) components; %lld x %lld scores per trial, %lld "
        "trials.\n"
        "  Upstream gradient d loss / d output ~ N(0, 1). Uniform entropy = log(%lld) = %.3f.\n\n",
        (long long)queries, (long long)keys, (long long)trials, (long long)keys,
        std::log(double(keys)));
    // Each pair of columns: the raw scores q.k, then the scores divided by sqrt(d_k).
    std::printf("  %5s | %-19s | %-19s | %-19s | %-23s | %s\n", "", "var(scores)",
                "mean max weight", "mean entropy", "median |dL/dscores_row|",
                "rows with max w > 0.99");
    std::printf("  %5s | %9s %9s | %9s %9s | %9s %9s | %11s %11s | %9s %9s\n", "d_k", "q.k",
                "/sqrt(dk)", "q.k", "/sqrt(dk)", "q.k", "/sqrt(dk)", "q.k", "/sqrt(dk)", "q.k",
                "/sqrt(dk)");
    std::vector<double> dks;
    std::vector<SoftmaxStats> raw, scaled;
    double worst_variance_error = 0, worst_grad_check = 0;
    SoftmaxStats flat;  // scores divided by d_k, at the largest d_k
    for (std::int64_t dk = dk_min; dk <= dk_max; dk *= 2) {
      Tensor q = autograd::randn({trials, queries, dk}, gen, DType::Float64);
      Tensor k = autograd::randn({trials, keys, dk}, gen, DType::Float64);
      Tensor v = autograd::randn({trials, keys, value_dim}, gen, DType::Float64);
      Tensor g = autograd::randn({trials, queries, value_dim}, gen, DType::Float64);
      Tensor scores = autograd::matmul(q, k.transpose(-2, -1));  // [trials, Tq, Tk]
      SoftmaxStats r = measure(scores, v, g);
      SoftmaxStats s = measure(scores / std::sqrt(double(dk)), v, g);
      if (dk * 2 > dk_max) flat = measure(scores / double(dk), v, g);
      dks.push_back(double(dk));
      raw.push_back(r);
      scaled.push_back(s);
      // The measured variance is itself random. Its relative standard error comes mostly from the
      // sampled lengths |q_i|^2 and |k_j|^2 (each a chi-square with d_k degrees of freedom,
      // shared along a row or a column of scores) and from the scores themselves:
      //   sigma^2 ~ (2 / (Tq d_k) + 2 / (Tk d_k) + 2 / (Tq Tk)) / trials.
      double sigma = std::sqrt(
          (2.0 / double(queries * dk) + 2.0 / double(keys * dk) + 2.0 / double(queries * keys)) /
          double(trials));
      worst_variance_error =
          std::max({worst_variance_error, std::fabs(r.score_variance / double(dk) - 1) / sigma,
                    std::fabs(s.score_variance - 1) / sigma});
      worst_grad_check = std::max({worst_grad_check, r.grad_check, s.grad_check});
      std::printf(
          "  %5lld | %9.2f %9.3f | %9.4f %9.4f | %9.4f %9.4f | %11.3e %11.3e | %8.1f%% %8.1f%%\n",
          (long long)dk, r.score_variance, s.score_variance, r.max_weight, s.max_weight, r.entropy,
          s.entropy, r.grad_norm, s.grad_norm, 100 * r.saturated, 100 * s.saturated);
    }
    const SoftmaxStats &r_small = raw.front(), &r_large = raw.back();
    const SoftmaxStats& s_large = scaled.back();
    std::printf(
        "\n  Unscaled: the variance grows like d_k, the largest weight goes to 1, the entropy\n"
        "  to 0, and %.0f%% of the rows are saturated at d_k = %lld. The gradient a typical row\n"
        "  sends back through softmax shrinks %.1ex from d_k = %lld to %lld. (The mean shrinks\n"
        "  only %.1fx, from %.3f to %.3f: it is carried by the few rows whose two best keys\n"
        "  happen to score alike; every other row has stopped learning.)\n"
        "  Scaled: every column stays flat, whatever d_k.\n"
        "  Divided by d_k instead (d_k = %lld): variance %.5f, entropy %.3f of %.3f: nearly\n"
        "  uniform weights, the scores no longer pick anything.\n\n",
        100 * r_large.saturated, (long long)dks.back(), r_small.grad_norm / r_large.grad_norm,
        (long long)dk_min, (long long)dks.back(), r_small.grad_norm_mean / r_large.grad_norm_mean,
        r_small.grad_norm_mean, r_large.grad_norm_mean, (long long)dks.back(), flat.score_variance,
        flat.entropy, std::log(double(keys)));

    checks.small(
        worst_variance_error, 4.0,
        "var(q.k) = d_k (closed form) and var(q.k / sqrt(d_k)) = 1, within 4 standard errors "
        "of sampling (largest deviation, in standard errors)");
    checks.small(worst_grad_check, 1e-12,
                 "autograd's d loss / d scores equals W * (dW - rowsum(dW * W)) from loops");
    // How close to one-hot depends on d_k against the number of keys: the claim is made for
    // the default sizes (d_k up to 1024 or more, at most 64 keys).
    if (dks.back() >= 1024 && keys <= 64)
      checks.check(r_large.max_weight > 0.85 && r_large.entropy < 0.25 * std::log(double(keys)),
                   "unscaled at the largest d_k: softmax is nearly one-hot (max weight > 0.85)");
    else
      std::printf("  (skipped the one-hot check: it needs --dk-max >= 1024 and --keys <= 64)\n");
    if (dk_max >= 64 * dk_min)
      checks.check(
          r_large.grad_norm < 0.05 * r_small.grad_norm,
          "unscaled: a typical row's gradient through softmax collapses (over 20x smaller)");
    else
      std::printf("  (skipped the collapse check: --dk-max should be at least 64 x --dk-min)\n");
    double s_min = 1e300, s_max = 0, e_min = 1e300, e_max = 0;
    for (const SoftmaxStats& s : scaled) {
      s_min = std::min(s_min, s.grad_norm);
      s_max = std::max(s_max, s.grad_norm);
      e_min = std::min(e_min, s.entropy);
      e_max = std::max(e_max, s.entropy);
    }
    answer_dk = dks.back(), answer_variance = r_large.score_variance;
    answer_max_raw = r_large.max_weight, answer_max_scaled = s_large.max_weight;
    answer_grad_shrink = r_small.grad_norm / r_large.grad_norm, answer_scaled_spread = s_max / s_min;
    checks.check(s_max < 1.3 * s_min && e_max < 1.1 * e_min,
                 "scaled: gradient norm and entropy stay flat across d_k (within 30% and 10%)");
    checks.check(s_large.max_weight < 0.5, "scaled: no row is close to one-hot on average");

    tutorial::section("4. Pictures");
    {
      // The x axis is log2(d_k), so the powers of two are evenly spaced: 2 = 4, 6 = 64, 10 = 1024.
      std::vector<double> log2_dk, var_raw, var_scaled, max_raw, max_scaled, entropy_raw,
          entropy_scaled, grad_raw, grad_scaled, grad_mean_raw;
      const double uniform_entropy = std::log(double(keys));
      for (std::size_t i = 0; i < dks.size(); ++i) {
        log2_dk.push_back(std::log2(dks[i]));
        var_raw.push_back(raw[i].score_variance);
        var_scaled.push_back(scaled[i].score_variance);
        max_raw.push_back(raw[i].max_weight);
        max_scaled.push_back(scaled[i].max_weight);
        entropy_raw.push_back(raw[i].entropy / uniform_entropy);
        entropy_scaled.push_back(scaled[i].entropy / uniform_entropy);
        grad_raw.push_back(raw[i].grad_norm);
        grad_scaled.push_back(scaled[i].grad_norm);
        grad_mean_raw.push_back(raw[i].grad_norm_mean);
      }
      const std::string x_label = "log2(d_k)     (2: d_k = 4,  6: d_k = 64,  10: d_k = 1024)";
      viz::LinePlot variance("Variance of the attention scores");
      variance.set_x_label(x_label).set_y_label("var(scores)").set_log_y(true);
      variance.add_series("closed form: d_k", log2_dk, dks);
      variance.add_series("measured: q.k", log2_dk, var_raw);
      variance.add_series("measured: q.k / sqrt(d_k)", log2_dk, var_scaled);
      variance.add_reference_line(1.0, "closed form after scaling: 1");
      tutorial::save_picture(variance, options, "04_score_variance.png",
                             "unscaled scores follow the closed form d_k (a straight rising line); "
                             "scaled ones stay on the line at 1");

      viz::LinePlot saturation("Softmax saturation (means over rows)");
      saturation.set_x_label(x_label)
          .set_y_label("max weight,  entropy / log(Tk)")
          .set_y_range(0, 1);
      saturation.add_series("unscaled: max weight", log2_dk, max_raw);
      saturation.add_series("scaled: max weight", log2_dk, max_scaled);
      saturation.add_series("unscaled: entropy / log Tk", log2_dk, entropy_raw);
      saturation.add_series("scaled: entropy / log Tk", log2_dk, entropy_scaled);
      tutorial::save_picture(saturation, options, "04_softmax_saturation.png",
                             "unscaled, the max weight climbs towards 1 and the entropy falls as "
                             "d_k grows; scaled, both stay flat");

      viz::LinePlot gradient("Gradient through softmax, per row of scores");
      gradient.set_x_label(x_label).set_y_label("norm of d loss / d scores_row").set_log_y(true);
      gradient.add_series("median row, unscaled", log2_dk, grad_raw);
      gradient.add_series("mean over rows, unscaled", log2_dk, grad_mean_raw);
      gradient.add_series("median row, scaled", log2_dk, grad_scaled);
      tutorial::save_picture(gradient, options, "04_gradient_norm.png",
                             "unscaled, the gradient reaching the scores collapses as d_k grows "
                             "(log scale); scaled, it stays put");
    }

    tutorial::section("5. The library's scaled_dot_product_attention");
    const std::int64_t d_example = 16;
    tensor::Generator example_gen(options.seed + 1);
    Tensor Q = tutorial::load_or(files.q,
                                 autograd::randn({4, d_example}, example_gen, DType::Float64), "Q", files.allow_non_finite);
    Tensor K = tutorial::load_or(files.k,
                                 autograd::randn({6, d_example}, example_gen, DType::Float64), "K", files.allow_non_finite);
    Tensor V =
        tutorial::load_or(files.v, autograd::randn({6, 5}, example_gen, DType::Float64), "V", files.allow_non_finite);
    const double scale = 1.0 / std::sqrt(double(Q.size(-1)));
    nn::AttentionOutput attention = nn::scaled_dot_product_attention(Q, K, V);
    std::printf("  Q %s, K %s, V %s -> output %s, d_k = %lld, scale 1/sqrt(d_k) = %.6f\n",
                tensor::shape_str(Q.shape()).c_str(), tensor::shape_str(K.shape()).c_str(),
                tensor::shape_str(V.shape()).c_str(),
                tensor::shape_str(attention.output.shape()).c_str(), (long long)Q.size(-1), scale);
    tutorial::print_matrix("weights = softmax(Q K^T / sqrt(d_k))", attention.weights);
    tutorial::LoopAttention loops = tutorial::attention_by_loops(Q, K, V, scale);
    checks.same(attention.weights, loops.weights, 1e-12,
                "weights equal the loops with the 1/sqrt(d_k) factor");
    checks.same(attention.output, loops.output, 1e-12, "output equals the loops");
    nn::AttentionOutput by_hand = nn::dot_product_attention(Q * scale, K, V);
    checks.same(attention.output, by_hand.output, 1e-12,
                "scaled attention = dot_product_attention(Q / sqrt(d_k), K, V)");
    tutorial::save_npy_files(files.save, {{"q", Q},
                                          {"k", K},
                                          {"v", V},
                                          {"weights", attention.weights},
                                          {"output", attention.output}});
  }

  std::printf(
      "\nWhat to notice: without the 1/sqrt(d_k) the scores spread out like sqrt(d_k),\n"
      "softmax turns one-hot and its gradient vanishes; with it, nothing depends on d_k.\n");
  char answer[640];
  std::snprintf(answer, sizeof answer,
                "At d_k = %.0f the raw scores had variance %.1f (closed form: d_k), the largest\n"
                "softmax weight averaged %.3f (nearly one-hot) and a typical row's gradient through\n"
                "softmax was %.3gx smaller than at d_k = %lld. Divided by sqrt(d_k): variance 1, largest\n"
                "weight %.3f, and the gradient norm varied only %.2fx across all d_k.",
                answer_dk, answer_variance, answer_max_raw, answer_grad_shrink, (long long)dk_min,
                answer_max_scaled, answer_scaled_spread);
  tutorial::print_answer(kQuestion, answer);
  std::printf("\nPython twin: tutorials/python/04_scaled_attention.py (make python)\n");
  return checks.finish();
} catch (...) {
  return tutorial::report_error();
}
