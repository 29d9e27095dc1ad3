// 02_softmax — Implement softmax. Why subtract the max? What is its Jacobian?
//              softmax函数如何实现概率分布的归一化？为什么要减去最大值？它的雅可比矩阵是什么？
//              (the interview article "注意力机制与softmax函数在深度学习中的应用与面试解析"
//              asks the first part; its answer codes the formula literally)
//
// Short answer
//   softmax(x)_i = exp(x_i) / sum_j exp(x_j) turns any real scores into probabilities. Coded
//   literally (as the seed article writes it) it breaks: exp(x) overflows to inf for x > 88.7 in
//   float32 (x > 709.8 in float64), and inf / inf = nan; very negative inputs underflow to 0 / 0.
//   Softmax does not change when the same number is added to every input, so subtract the max
//   first: every exponent is then <= 0 (no overflow) and the largest term is exp(0) = 1 (the sum
//   is >= 1, never 0). The Jacobian is ds_i/dx_j = s_i (delta_ij - s_j), i.e. J = diag(s) - s s^T:
//   symmetric, each row sums to 0, and it shrinks towards 0 when s is nearly one-hot (saturation).
//   Backward never builds J: dx = s * (g - sum(g * s)). For classification, log-softmax followed
//   by the negative log-likelihood is cross-entropy, computed as x_t - max - log sum exp(x - max).
//
// What this program shows
//   1. softmax of [1, 2, 3] by the formula, checked against the library and a loop;
//   2. the naive formula giving nan for large (and very negative) inputs, in float32 and float64,
//      while the max-subtracted one gives the right answer everywhere;
//   3. the Jacobian from autograd (one backward pass per row) equal to diag(s) - s s^T, its
//      properties, the O(n) backward formula, and how it vanishes when softmax saturates;
//   4. log_softmax + nll_loss = cross_entropy = a loop, log(softmax) failing where log_softmax
//      does not, and the gradient of cross-entropy, (softmax - one_hot) / N;
//   5. a plot of softmax(z / T) against the temperature T (saturation), written to --out.
//
// Run:  build/tutorials/02_softmax            (--help for the sizes)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/printing.hpp"
#include "tutorials/common/qkv_files.hpp"
#include "tutorials/common/reference.hpp"
#include "tutorials/common/tutorial.hpp"
#include "viz/heatmap.hpp"
#include "viz/plot.hpp"

using autograd::Tensor;
using tensor::DType;

namespace {

// softmax written exactly as the formula reads: exp(x) / sum(exp(x)).
Tensor naive_softmax(const Tensor& x) {
  Tensor e = autograd::exp(x);
  return e / autograd::sum(e, {-1}, /*keepdim=*/true);
}

// The same after subtracting the row max; mathematically identical, numerically safe.
Tensor stable_softmax(const Tensor& x) {
  Tensor e = autograd::exp(x - autograd::amax(x, {-1}, /*keepdim=*/true));
  return e / autograd::sum(e, {-1}, /*keepdim=*/true);
}

std::string row_text(const Tensor& t, int precision = 4) {
  std::vector<double> values = t.data().to(DType::Float64).contiguous().to_vector<double>();
  std::string text = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    char item[40];
    if (std::isnan(values[i]))  // printf may write "-nan"; the sign of a nan means nothing
      std::snprintf(item, sizeof item, "%snan", i ? ", " : "");
    else
      std::snprintf(item, sizeof item, "%s%.*f", i ? ", " : "", precision, values[i]);
    text += item;
  }
  return text + "]";
}

bool has_nan(const Tensor& t) {
  for (double x : t.data().to(DType::Float64).contiguous().to_vector<double>())
    if (std::isnan(x)) return true;
  return false;
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "02_softmax",
    .chinese = "softmax函数如何实现概率分布的归一化？为什么要减去最大值？它的雅可比矩阵是什么？",
    .english = "Implement softmax. Why subtract the max? What is its Jacobian?",
    .answer = "softmax(x)_i = exp(x_i) / sum_j exp(x_j). Coded literally, exp overflows (x > 88.7 in\n"
              "float32) and gives inf / inf = nan; softmax is shift-invariant, so subtract the max\n"
              "first and every exponent is <= 0. The Jacobian is diag(s) - s s^T; backward never\n"
              "builds it: dx = s * (g - sum(g * s)). log_softmax + NLL = cross-entropy.",
    .article = "注意力机制与softmax函数在深度学习中的应用与面试解析",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  const tutorial::Options& options = flags.options;
  std::int64_t n = 6, batch = 8, classes = 5;
  flags.add("--n", n, "length of the vector whose Jacobian is checked", tutorial::between(2, 512));
  flags.add("--batch", batch, "N, rows of logits for the cross-entropy part",
            tutorial::between(1, 100000));
  flags.add("--classes", classes, "C, classes for the cross-entropy part",
            tutorial::between(2, 10000));
  std::string save_dir;
  flags.add_output_folder("--save", save_dir,
                          "folder to write inputs and outputs into as .npy, for the Python twin");
  flags.parse(argc, argv);
  tutorial::Checks checks;
  tensor::Generator gen(options.seed);

  tutorial::section("1. softmax(x)_i = exp(x_i) / sum_j exp(x_j)");
  Tensor x = autograd::from_rows({{1, 2, 3}}, DType::Float64).squeeze(0);
  Tensor s = autograd::softmax(x, -1);
  double e1 = std::exp(1.0), e2 = std::exp(2.0), e3 = std::exp(3.0);
  std::printf("  x = [1, 2, 3]\n  softmax(x) = %s   (sum %.15g)\n\n", row_text(s).c_str(),
              autograd::sum(s).item());
  checks.close(s.at({0}), e1 / (e1 + e2 + e3), 1e-15, "s_0 = e / (e + e^2 + e^3), by hand");
  Tensor by_loop = autograd::from_vector(tutorial::softmax_by_loop({1, 2, 3}), {3});
  checks.same(s, by_loop, 1e-15, "the library's softmax equals a plain loop");

  tutorial::section("2. Why subtract the max: the naive formula overflows");
  std::printf(
      "  The same three inputs shifted by a constant c. Softmax is shift-invariant,\n"
      "  softmax(x + c) = e^c exp(x) / (e^c sum exp(x)) = softmax(x), so every row\n"
      "  should read [0.0900, 0.2447, 0.6652].\n\n");
  std::printf("  %-22s %-28s %-28s %s\n", "input", "naive, float32", "naive, float64",
              "max subtracted, float32");
  const std::vector<double> shifts = {0, 100, 1000, -1000};
  bool stable_always_right = true;
  std::vector<bool> naive32_nan, naive64_nan;
  for (double c : shifts) {
    Tensor x64 = autograd::from_rows({{1 + c, 2 + c, 3 + c}}, DType::Float64);
    Tensor x32 = x64.to(DType::Float32);
    Tensor naive32 = naive_softmax(x32), naive64 = naive_softmax(x64),
           stable32 = stable_softmax(x32);
    char input[80];
    std::snprintf(input, sizeof input, "[%g, %g, %g]", 1 + c, 2 + c, 3 + c);
    std::printf("  %-22s %-28s %-28s %s\n", input, row_text(naive32).c_str(),
                row_text(naive64).c_str(), row_text(stable32).c_str());
    naive32_nan.push_back(has_nan(naive32));
    naive64_nan.push_back(has_nan(naive64));
    stable_always_right =
        stable_always_right && tutorial::max_abs_diff(stable32.squeeze(0), s) < 1e-7;
  }
  std::printf("\n  exp(101) = %g in float32 (largest float32 is 3.4e38, exp overflows past 88.7)\n",
              std::exp(101.0f));
  std::printf("  exp(1001) = %g in float64 (largest double is 1.8e308, past 709.8)\n",
              std::exp(1001.0));
  std::printf("  exp(-999) = %g: all three underflow to 0 and 0 / 0 = nan\n\n", std::exp(-999.0));
  checks.check(!naive32_nan[0] && !naive64_nan[0], "the naive formula is fine for small inputs");
  checks.check(naive32_nan[1] && !naive64_nan[1],
               "inputs around 100: naive float32 gives nan (inf / inf), float64 still copes");
  checks.check(naive32_nan[2] && naive64_nan[2],
               "inputs around 1000: naive gives nan even in float64");
  checks.check(naive32_nan[3] && naive64_nan[3], "inputs around -1000: naive gives nan (0 / 0)");
  checks.check(
      stable_always_right,
      "subtracting the max gives [0.0900, 0.2447, 0.6652] for every shift, even in float32");

  tutorial::section("3. The Jacobian: J = diag(s) - s s^T");
  std::printf(
      "  ds_i/dx_j = s_i (delta_ij - s_j). Autograd gives row i of J from one backward\n"
      "  pass that starts with the gradient e_i (one-hot) at the output.\n\n");
  Tensor logits = (autograd::randn({n}, gen, DType::Float64) * 2.0).requires_grad_();
  Tensor probs = autograd::softmax(logits, -1);
  std::vector<double> p = probs.data().to_vector<double>();
  // The closed form, as loops.
  std::vector<double> closed(n * n);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) closed[i * n + j] = p[i] * ((i == j) - p[j]);
  Tensor jacobian_closed = autograd::from_vector(closed, {n, n});
  // Autograd, one row per backward pass.
  std::vector<Tensor> rows;
  for (std::int64_t i = 0; i < n; ++i) {
    logits.zero_grad();
    Tensor one_hot = autograd::zeros({n}, DType::Float64);
    one_hot.data().set({i}, 1.0);
    probs.backward(one_hot, /*retain_graph=*/true);
    rows.push_back(logits.grad().detach().clone());
  }
  Tensor jacobian_autograd = autograd::stack(rows, 0);
  tutorial::print_matrix("J from autograd", jacobian_autograd, 4, 6, 6);
  checks.same(jacobian_autograd, jacobian_closed, 1e-15,
              "autograd's Jacobian equals diag(s) - s s^T");
  checks.same(jacobian_autograd, jacobian_autograd.t(), 1e-15, "J is symmetric");
  checks.small(autograd::amax(autograd::abs(autograd::sum(jacobian_autograd, {1}))).item(), 1e-15,
               "each row of J sums to 0: adding c to every input changes nothing");
  autograd::GradcheckResult fd = autograd::gradcheck(
      [](const std::vector<Tensor>& in) { return autograd::softmax(in[0], -1); },
      {logits.detach().requires_grad_()});
  std::printf("  %s\n", fd.message.c_str());
  checks.check(fd.passed, "finite differences agree with autograd's Jacobian");

  std::printf(
      "\n  Backward never builds the n x n matrix: for an upstream gradient g,\n"
      "  dx = J^T g = s * (g - sum(g * s)), O(n) work and memory.\n");
  Tensor g = autograd::randn({n}, gen, DType::Float64);
  logits.zero_grad();
  probs.backward(g, /*retain_graph=*/true);
  double g_dot_s = autograd::sum(g * probs.detach()).item();
  Tensor dx_formula = probs.detach() * (g - g_dot_s);
  checks.same(logits.grad(), dx_formula, 1e-15, "autograd's dx equals s * (g - sum(g * s))");

  std::printf("\n  Saturation: scale the inputs up and s becomes one-hot, J goes to 0:\n");
  std::vector<double> jacobian_norms;
  for (double scale : {1.0, 10.0, 100.0}) {
    Tensor scaled = autograd::from_rows({{1, 2, 3}}, DType::Float64).squeeze(0) * scale;
    Tensor ss = autograd::softmax(scaled, -1);
    std::vector<double> sv = ss.data().to_vector<double>();
    double frob = 0;  // ||diag(s) - s s^T||_F
    for (std::size_t i = 0; i < sv.size(); ++i)
      for (std::size_t j = 0; j < sv.size(); ++j) {
        double entry = sv[i] * ((i == j) - sv[j]);
        frob += entry * entry;
      }
    jacobian_norms.push_back(std::sqrt(frob));
    std::printf("    x = %5g * [1, 2, 3]: s = %-40s ||J||_F = %.3e\n", scale,
                row_text(ss, 6).c_str(), std::sqrt(frob));
  }
  checks.check(jacobian_norms[2] < 1e-6 * jacobian_norms[0],
               "a saturated softmax passes almost no gradient (||J|| drops by > 1e6)");
  std::printf("  This is why attention divides its scores by sqrt(d_k) (tutorial 04).\n");

  tutorial::section("4. log-softmax + NLL = cross-entropy");
  Tensor class_logits = autograd::randn({batch, classes}, gen, DType::Float64) * 3.0;
  Tensor targets = autograd::randint(0, classes, {batch}, gen);
  class_logits.requires_grad_();
  Tensor ce = autograd::cross_entropy(class_logits, targets);
  Tensor nll = autograd::nll_loss(autograd::log_softmax(class_logits, -1), targets);
  // The loop: -(1/N) sum_n [x[n, t_n] - (max_n + log sum_c exp(x[n, c] - max_n))].
  std::vector<double> xl = class_logits.data().to_vector<double>();
  std::vector<std::int64_t> tl = targets.data().to_vector<std::int64_t>();
  double loop_loss = 0;
  for (std::int64_t row = 0; row < batch; ++row) {
    double max = -INFINITY, sum = 0;
    for (std::int64_t c = 0; c < classes; ++c) max = std::max(max, xl[row * classes + c]);
    for (std::int64_t c = 0; c < classes; ++c) sum += std::exp(xl[row * classes + c] - max);
    loop_loss -= xl[row * classes + tl[row]] - (max + std::log(sum));
  }
  loop_loss /= double(batch);
  std::printf(
      "  logits [%lld, %lld], targets [%lld]\n  cross_entropy = %.12f\n"
      "  nll_loss(log_softmax) = %.12f\n  loop = %.12f\n\n",
      (long long)batch, (long long)classes, (long long)batch, ce.item(), nll.item(), loop_loss);
  checks.close(nll.item(), ce.item(), 1e-12, "nll_loss(log_softmax(x)) equals cross_entropy(x)");
  checks.close(ce.item(), loop_loss, 1e-12, "both equal the loop with log-sum-exp");

  ce.backward();
  Tensor one_hot = autograd::zeros({batch, classes}, DType::Float64);
  for (std::int64_t row = 0; row < batch; ++row) one_hot.data().set({row, tl[row]}, 1.0);
  Tensor dlogits = (autograd::softmax(class_logits.detach(), -1) - one_hot) / double(batch);
  checks.same(class_logits.grad(), dlogits, 1e-15,
              "d cross_entropy / d logits = (softmax - one_hot) / N");

  Tensor extreme = autograd::from_rows({{0, 1000}}, DType::Float64);
  Tensor log_of_softmax = autograd::log(autograd::softmax(extreme, -1));
  Tensor log_softmax = autograd::log_softmax(extreme, -1);
  std::printf("\n  logits [0, 1000]:  log(softmax) = %s,  log_softmax = %s\n",
              row_text(log_of_softmax, 1).c_str(), row_text(log_softmax, 1).c_str());
  std::printf(
      "  softmax rounds e^-1000 to 0 and log(0) = -inf; log_softmax computes\n"
      "  x - max - log(sum exp(x - max)) and never takes the log of a rounded 0.\n\n");
  checks.check(std::isinf(log_of_softmax.at({0, 0})), "log(softmax) gives -inf for class 0");
  checks.close(log_softmax.at({0, 0}), -1000.0, 1e-9, "log_softmax gives the exact -1000");

  tutorial::section("5. Pictures: the temperature, and the Jacobian");
  {
    // softmax(z / T): a small T sharpens towards one-hot (saturation), a large T flattens
    // towards uniform. Dividing attention scores by sqrt(d_k) is a temperature of sqrt(d_k).
    const std::vector<double> z = {1, 2, 3, 4};
    std::vector<double> log_t;
    std::vector<std::vector<double>> curves(z.size());
    bool sums_to_one = true, sharpens = true;
    for (int step = 0; step <= 80; ++step) {
      double log10_t = -1.0 + 2.0 * step / 80.0;
      Tensor logits_t = autograd::from_vector(z, {4}) / std::pow(10.0, log10_t);
      std::vector<double> probs_t = autograd::softmax(logits_t, -1).data().to_vector<double>();
      double total = 0;
      for (std::size_t i = 0; i < z.size(); ++i) {
        if (!curves[i].empty() && i + 1 == z.size()) sharpens &= probs_t[i] <= curves[i].back();
        curves[i].push_back(probs_t[i]);
        total += probs_t[i];
      }
      sums_to_one &= std::fabs(total - 1) < 1e-12;
      log_t.push_back(log10_t);
    }
    viz::LinePlot plot("softmax(z / T) for z = [1, 2, 3, 4]");
    plot.set_x_label("log10 of the temperature T   (-1: T = 0.1,  0: T = 1,  1: T = 10)")
        .set_y_label("probability")
        .set_y_range(0, 1);
    for (std::size_t i = 0; i < z.size(); ++i)
      plot.add_series("z = " + std::to_string(int(z[i])), log_t, curves[i]);
    plot.add_reference_line(0.25, "uniform, 1/4");
    tutorial::save_picture(plot, options, "02_temperature.png",
                           "at T = 0.1 (left) the largest input takes almost all the probability; "
                           "at T = 10 (right) all curves near the uniform 1/4");
    checks.check(sums_to_one, "every point of the plot is a distribution (sums to 1)");
    checks.check(sharpens && curves[3].front() > 0.999 && curves[3].back() < 0.3,
                 "the largest input's probability falls from > 0.999 (T = 0.1) to < 0.3 (T = 10)");

    std::vector<std::string> row_names;
    for (std::int64_t i = 0; i < n; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "s%lld = %.2f", (long long)i, p[i]);
      row_names.push_back(name);
    }
    viz::Heatmap jacobian_map(tutorial::matrix_values(jacobian_autograd), int(n), int(n));
    jacobian_map.set_title("Softmax Jacobian J = diag(s) - s s^T (from autograd)")
        .set_row_labels(row_names)
        .set_colormap(viz::ColormapKind::diverging)
        .set_y_label("output s_i")
        .set_x_label("input x_j")
        .set_colorbar_label("d s_i / d x_j");
    tutorial::save_picture(jacobian_map, options, "02_jacobian.png",
                           "a positive diagonal s_i (1 - s_i), negative elsewhere (-s_i s_j): "
                           "symmetric, each row sums to 0");
    std::printf(
        "  The Jacobian is positive on the diagonal, s_i (1 - s_i): raising x_i raises s_i;\n"
        "  and negative elsewhere, -s_i s_j: it takes probability from every other s_j.\n");
  }

  std::printf(
      "\nWhat to notice: subtracting the max changes nothing mathematically and removes\n"
      "every overflow; softmax's gradient J = diag(s) - s s^T vanishes when s is one-hot.\n");
  char answer[640];
  std::snprintf(answer, sizeof answer,
                "softmax([1, 2, 3]) = [%.4f, %.4f, %.4f]. The literal formula gave nan for inputs\n"
                "near 100 in float32 and near +-1000 even in float64; subtracting the max gave the\n"
                "same row at every shift. Autograd's Jacobian equalled diag(s) - s s^T (n = %lld), and\n"
                "||J|| fell from %.3g to %.3g as the inputs were scaled by 100 (saturation).\n"
                "log_softmax + NLL equalled cross-entropy (%.6f) and a log-sum-exp loop.",
                s.at({0}), s.at({1}), s.at({2}), (long long)n, jacobian_norms.front(),
                jacobian_norms.back(), ce.item());
  tutorial::print_answer(kQuestion, answer);
  // The inputs and results of parts 3 and 4, for the numpy answer to recompute.
  tutorial::save_npy_files(save_dir, {{"logits", logits.detach()},
                                      {"probs", probs.detach()},
                                      {"jacobian", jacobian_autograd},
                                      {"upstream", g},
                                      {"dx", logits.grad()},
                                      {"class_logits", class_logits.detach()},
                                      {"targets", targets},
                                      {"cross_entropy", ce.detach()},
                                      {"dlogits", class_logits.grad()}});
  std::printf("\nPython twin: tutorials/python/02_softmax.py (make python)\n");
  return checks.finish();
} catch (...) {
  return tutorial::report_error();
}
