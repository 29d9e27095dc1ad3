// 05_additive_attention — What is additive (Bahdanau) attention and how does it compare with
//                         dot-product attention?
//                         什么是加性注意力（Bahdanau 注意力）？它和点积注意力相比有什么不同？
//   seeds/002: “加性注意力（Additive Attention）：
//              通过计算加性交互来生成权重”
//
// Short answer
//   Additive attention scores a (query, key) pair with a tiny one-hidden-layer network:
//   score(q, k) = v^T tanh(W_q q + W_k k), with learned W_q [H, Dq], W_k [H, Dk] and v [H]. Then,
//   like every attention, weights = softmax over the keys and output = weights V. Compared with
//   dot-product attention (score = q . k):
//     - it has parameters and can compare a query and a key of different sizes (Dq != Dk), which
//       is why Bahdanau et al. (2015) used it between an RNN decoder state and encoder states;
//     - it costs more: per pair it does H adds, H tanh, H multiply-adds, and it materialises a
//       [B, Tq, Tk, H] tensor, while dot-product is one matrix multiply (GEMM) producing only
//       [B, Tq, Tk]. Both are O(Tq Tk) in the lengths, but the constant and the memory traffic
//       differ a lot, so dot-product runs much faster on real hardware;
//     - unscaled dot-product degrades for large d_k (softmax saturates); scaled by 1/sqrt(d_k)
//       it matches additive attention in quality, which is what Transformers use (tutorial 04).
//
// What this program shows
//   1. a small example with Dq = 3, Dk = 4, H = 5: the weights and output of nn::AdditiveAttention,
//      checked against loops that evaluate v^T tanh(W_q q + W_k k) pair by pair; a gradient check;
//      and dot-product attention refusing the same inputs;
//   2. the cost: FLOPs counted by the loops equal to closed-form formulas, then both formulas
//      and measured forward times as the sequence length grows, with the memory each needs;
//   3. plots of FLOPs and time against the length (written to --out).
//
// Run:  build/tutorials/05_additive_attention           (--max-len, --dim, --hidden for the sizes)
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/attention_checks.hpp"
#include "tutorials/common/legacy_flags.hpp"  // TEMPORARY, until this program moves to tutorial::Flags
#include "tutorials/common/tutorial.hpp"
#include "viz/plot.hpp"

using autograd::Tensor;
using tensor::DType;

namespace {

// Closed-form FLOP counts of one forward pass (tanh and exp counted as one operation each).
// Per score the softmax does a subtract, an exp, an add and a divide: 4 operations.
double dot_product_flops(double b, double tq, double tk, double d, double dv) {
  return b * (2 * tq * tk * d       // scores: a d-long dot product per pair
              + 4 * tq * tk         // softmax
              + 2 * tq * tk * dv);  // weights x V
}

double additive_flops(double b, double tq, double tk, double dq, double dk, double h, double dv) {
  return b * (2 * tq * h * dq + 2 * tk * h * dk  // W_q q once per query, W_k k once per key
              + 4 * tq * tk * h                  // per pair and hidden unit: add, tanh, v*, +
              + 4 * tq * tk                      // softmax
              + 2 * tq * tk * dv);               // weights x V
}

// CPU time used by the calling thread, in seconds. Unlike a wall clock it does not count the
// time the thread waits while other programs run, so timings stay meaningful on a busy machine.
double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return double(now.tv_sec) + 1e-9 * double(now.tv_nsec);
}

// The fastest of `repeats` runs of f (thread CPU time, in seconds).
template <typename F>
double best_seconds(int repeats, F&& f) {
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    double start = thread_cpu_seconds();
    f();
    times.push_back(thread_cpu_seconds() - start);
  }
  return *std::min_element(times.begin(), times.end());
}

std::string human_bytes(double bytes) {
  char text[32];
  if (bytes >= 1 << 20)
    std::snprintf(text, sizeof text, "%.1f MiB", bytes / (1 << 20));
  else
    std::snprintf(text, sizeof text, "%.1f KiB", bytes / (1 << 10));
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"05_additive_attention: Bahdanau attention, checked, and its cost vs dot-product"};
  tutorial::Options options;
  tutorial::add_common_flags(app, options);
  std::int64_t query_dim = 3, key_dim = 4, hidden = 5;
  std::int64_t dim = 64, cost_hidden = 64, max_len = 256;
  int repeats = 5;
  app.add_option("--query-dim", query_dim, "Dq of the small example")->capture_default_str();
  app.add_option("--key-dim", key_dim, "Dk of the small example")->capture_default_str();
  app.add_option("--hidden", hidden, "H of the small example")->capture_default_str();
  app.add_option("--dim", dim, "D = Dq = Dk = Dv in the cost comparison")->capture_default_str();
  app.add_option("--cost-hidden", cost_hidden, "H of additive attention in the cost comparison")
      ->capture_default_str();
  app.add_option("--max-len", max_len, "longest sequence T = Tq = Tk timed (from 16, doubling)")
      ->capture_default_str();
  app.add_option("--repeats", repeats, "timings per size (the fastest is kept)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  tutorial::apply(options);
  if (options.quick) {
    max_len = std::min<std::int64_t>(max_len, 64);
    repeats = std::min(repeats, 3);
  }
  if (query_dim < 1 || key_dim < 1 || hidden < 1 || dim < 1 || cost_hidden < 1 || max_len < 16 ||
      repeats < 1) {
    std::fprintf(stderr, "error: sizes must be >= 1, --max-len >= 16\n");
    return 2;
  }
  tutorial::Checks checks;
  tensor::Generator gen(options.seed);

  tutorial::section("1. score(q, k) = v^T tanh(W_q q + W_k k) on a small example");
  const std::int64_t B = 1, tq = 2, tk = 4, dv = 3;
  nn::AdditiveAttention attention(query_dim, key_dim, hidden, gen);
  attention.to(DType::Float64);  // float64 so the loops agree to ~1e-15
  Tensor q = autograd::randn({B, tq, query_dim}, gen, DType::Float64);
  Tensor k = autograd::randn({B, tk, key_dim}, gen, DType::Float64);
  Tensor v = autograd::randn({B, tk, dv}, gen, DType::Float64);
  std::printf("  queries %s, keys %s, values %s; W_q %s, W_k %s, v %s\n",
              tensor::shape_str(q.shape()).c_str(), tensor::shape_str(k.shape()).c_str(),
              tensor::shape_str(v.shape()).c_str(),
              tensor::shape_str(attention.w_q->weight.shape()).c_str(),
              tensor::shape_str(attention.w_k->weight.shape()).c_str(),
              tensor::shape_str(attention.v->weight.shape()).c_str());
  std::printf(
      "  inside: W_q q -> [B, Tq, 1, H], W_k k -> [B, 1, Tk, H], their sum broadcasts to\n"
      "  [B, Tq, Tk, H] = [%lld, %lld, %lld, %lld], tanh, then v reads out one score per pair.\n\n",
      (long long)B, (long long)tq, (long long)tk, (long long)hidden);
  nn::AttentionOutput result = attention(q, k, v);
  tutorial::LoopAttention loops = tutorial::additive_attention_by_loops(
      q, k, v, attention.w_q->weight, attention.w_k->weight, attention.v->weight);
  tutorial::print_matrix("scores from the loops", loops.scores);
  tutorial::print_matrix("weights = softmax(scores)", result.weights);
  tutorial::print_matrix("output = weights V", result.output);
  std::printf("\n");
  checks.close(tutorial::max_abs_diff(result.weights, loops.weights), 0, 1e-14,
               "weights equal the loops' softmax of v^T tanh(W_q q_i + W_k k_j)");
  checks.close(tutorial::max_abs_diff(result.output, loops.output), 0, 1e-14,
               "output equals the loops");
  checks.check(
      attention.num_parameters() == hidden * (query_dim + key_dim + 1),
      "parameters: H*Dq + H*Dk + H = " + std::to_string(hidden * (query_dim + key_dim + 1)) +
          " (dot-product attention has none)");
  std::vector<Tensor> parameters = attention.parameters();
  autograd::GradcheckResult grads =
      autograd::gradcheck_leaves([&] { return attention(q, k, v).output; }, parameters);
  std::printf("  %s\n", grads.message.c_str());
  checks.check(grads.passed, "gradients w.r.t. W_q, W_k and v match finite differences");
  std::string dot_error = tutorial::error_of([&] { (void)nn::dot_product_attention(q, k, v); });
  std::printf("\n  Dot-product attention on the same inputs (Dq = %lld, Dk = %lld):\n    %s\n",
              (long long)query_dim, (long long)key_dim,
              dot_error.empty() ? "(runs: Dq == Dk here)" : dot_error.c_str());
  if (query_dim != key_dim)
    checks.check(!dot_error.empty(), "dot-product needs Dq == Dk; additive attention does not");

  tutorial::section("2. Cost: FLOPs and time as the sequence grows");
  // The loops count every operation they perform; the closed forms must agree exactly.
  {
    const std::int64_t b = 2, n_q = 5, n_k = 7, d = 6, h = 4, d_v = 3;
    Tensor cq = autograd::randn({b, n_q, d}, gen, DType::Float64);
    Tensor ck = autograd::randn({b, n_k, d}, gen, DType::Float64);
    Tensor cv = autograd::randn({b, n_k, d_v}, gen, DType::Float64);
    std::int64_t counted_dot = 0, counted_additive = 0;
    tutorial::attention_by_loops(cq, ck, cv, 1.0, Tensor(), &counted_dot);
    tutorial::additive_attention_by_loops(cq, ck, cv, autograd::randn({h, d}, gen, DType::Float64),
                                          autograd::randn({h, d}, gen, DType::Float64),
                                          autograd::randn({1, h}, gen, DType::Float64), Tensor(),
                                          &counted_additive);
    checks.close(double(counted_dot), dot_product_flops(b, n_q, n_k, d, d_v), 0,
                 "dot-product: operations counted in the loops = 2 Tq Tk D + 4 Tq Tk + 2 Tq Tk Dv");
    checks.close(double(counted_additive), additive_flops(b, n_q, n_k, d, d, h, d_v), 0,
                 "additive: counted = 2 Tq H Dq + 2 Tk H Dk + 4 Tq Tk H + 4 Tq Tk + 2 Tq Tk Dv");
  }

  std::printf(
      "\n  T = Tq = Tk, D = Dq = Dk = Dv = %lld, H = %lld, batch 1, float32 forward pass on one\n"
      "  thread, CPU time of the thread, best of %d runs (tanh counted as 1 FLOP, though it\n"
      "  costs far more).\n\n",
      (long long)dim, (long long)cost_hidden, repeats);
  // One thread for both, so the comparison is about the work, not about how each parallelises.
  omp_set_num_threads(1);
  std::printf("  %5s | %10s %10s %6s | %10s %10s %6s | %s\n", "T", "FLOPs dot", "additive", "ratio",
              "time dot", "additive", "ratio", "largest intermediate: dot / additive");
  nn::AdditiveAttention timed(dim, dim, cost_hidden, gen);  // float32, as in training
  std::vector<double> lengths, flops_dot, flops_add, time_dot, time_add;
  for (std::int64_t T = 16; T <= max_len; T *= 2) {
    Tensor tq_ = autograd::randn({1, T, dim}, gen), tk_ = autograd::randn({1, T, dim}, gen),
           tv_ = autograd::randn({1, T, dim}, gen);
    autograd::NoGradGuard no_grad;  // forward cost only
    double t_dot = best_seconds(repeats, [&] { (void)nn::dot_product_attention(tq_, tk_, tv_); });
    double t_add = best_seconds(repeats, [&] { (void)timed(tq_, tk_, tv_); });
    double f_dot = dot_product_flops(1, T, T, dim, dim);
    double f_add = additive_flops(1, T, T, dim, dim, cost_hidden, dim);
    lengths.push_back(double(T));
    flops_dot.push_back(f_dot);
    flops_add.push_back(f_add);
    time_dot.push_back(t_dot);
    time_add.push_back(t_add);
    std::printf("  %5lld | %10.3g %10.3g %5.1fx | %8.3fms %8.3fms %5.1fx | %s / %s\n", (long long)T,
                f_dot, f_add, f_add / f_dot, 1e3 * t_dot, 1e3 * t_add, t_add / t_dot,
                human_bytes(4.0 * T * T).c_str(), human_bytes(4.0 * T * T * cost_hidden).c_str());
  }
  double flop_ratio = flops_add.back() / flops_dot.back(),
         time_ratio = time_add.back() / time_dot.back();
  // Where does the additive time go? The tanh alone, on a tensor of the features' size.
  double t_tanh = 0;
  {
    const std::int64_t T = std::int64_t(lengths.back());
    Tensor features = autograd::randn({1, T, T, cost_hidden}, gen);
    autograd::NoGradGuard no_grad;
    t_tanh = best_seconds(repeats, [&] { (void)autograd::tanh(features); });
  }
  std::printf(
      "\n  At T = %lld additive attention needs %.1fx the FLOPs but %.1fx the time. The tanh\n"
      "  of the T*T*H = %.2g features alone takes %.1f ms (%.0f%% of it): one tanh costs as\n"
      "  much time as dozens of multiply-adds. The rest are passes over the [T, T, H] tensor\n"
      "  (broadcast add, the v read-out), while dot-product is two matrix multiplies whose\n"
      "  inner loops reuse every loaded number many times. Both grow like T^2 (doubling T\n"
      "  quadruples the work once the projections no longer dominate).\n",
      (long long)lengths.back(), flop_ratio, time_ratio,
      lengths.back() * lengths.back() * double(cost_hidden), 1e3 * t_tanh,
      100 * t_tanh / time_add.back());
  checks.check(flops_add.back() > flops_dot.back(), "additive attention needs more FLOPs (H = D)");
  checks.check(time_add.back() > time_dot.back(),
               "measured: additive attention is slower at the largest T (timing, not exact)");

  tutorial::section("3. Pictures");
  {
    std::vector<double> log2_len, ms_dot, ms_add;
    for (std::size_t i = 0; i < lengths.size(); ++i) {
      log2_len.push_back(std::log2(lengths[i]));
      ms_dot.push_back(1e3 * time_dot[i]);
      ms_add.push_back(1e3 * time_add[i]);
    }
    const std::string x_label = "log2(T)     (4: T = 16,  6: T = 64,  8: T = 256)";
    viz::LinePlot flops("Operations per forward pass (D = H = " + std::to_string(dim) + ")");
    flops.set_x_label(x_label).set_y_label("FLOPs (closed form)").set_log_y(true);
    flops.add_series("dot-product", log2_len, flops_dot);
    flops.add_series("additive", log2_len, flops_add);
    flops.save(tutorial::picture_path(options.out, "05_flops.png"));
    viz::LinePlot time("Measured forward time, one thread");
    time.set_x_label(x_label).set_y_label("milliseconds (thread CPU time)").set_log_y(true);
    time.add_series("dot-product", log2_len, ms_dot);
    time.add_series("additive", log2_len, ms_add);
    time.save(tutorial::picture_path(options.out, "05_time.png"));
    std::printf(
        "  For large T both FLOP curves rise 4x per doubling of T and run parallel (a\n"
        "  constant factor apart); the measured time gap is far wider than the FLOP gap.\n");
  }

  std::printf(
      "\nWhat to notice: both are softmax(scores) V; only the score differs. Additive pays\n"
      "H tanh units per (query, key) pair and a [Tq, Tk, H] tensor; dot-product pays one\n"
      "GEMM, which is why Transformers use (scaled) dot-product attention.\n");
  return checks.finish();
}
