// 07_self_attention — Implement a simple self-attention mechanism in PyTorch (a layer with
//                     W_q, W_k, W_v).
//                     请使用 PyTorch 实现一个简单的自注意力机制。
//   Asked in the interview article "深度学习与注意力模型应用解析：面试题与编程题满分答案"
//   (question 4), whose answer has two bugs this program takes apart.
//
// Short answer
//   Three learned matrices turn every position of the input x [B, T, D] into a query, a key and
//   a value: Q = x W_q, K = x W_k, V = x W_v (each [B, T, D]). Each query is compared with every
//   key of the SAME sequence: scores = Q K^T / sqrt(D), where K^T swaps only the last two dims
//   (one T x T score matrix per batch element: [B, T, T]). softmax over the keys turns each row
//   into weights that sum to 1, and the output is the weighted average of the values:
//   weights V, [B, T, D]. "Self" means queries, keys and values all come from the same x.
//
// What this program shows
//   1. the layer (an nn::Module with w_q, w_k, w_v) on a batch [B, T, D], every shape printed;
//   2. the article's bug: `keys.T` on the 3-d keys. Here .t() refuses a 3-d tensor and
//      says what to do; PyTorch's .T reverses ALL dims ([B, T, D] -> [D, T, B]) and the matmul
//      fails, or, worse, runs and mixes batch elements when B = T = D;
//   3. the fix, transpose(-2, -1), compared with plain loops (projections and attention) in
//      float64, on the layer's Q, K, V or on your own (--q/--k/--v .npy files, --save DIR);
//   4. the article's second bug, no 1/sqrt(D): with D = 512 the softmax rows become nearly
//      one-hot; a heatmap of both (self_attention_scaling.png in --out).
//
// Run:  build/tutorials/07_self_attention            (--help for the sizes; --quick for CI)
//       build/tutorials/07_self_attention --q q.npy --k k.npy --v v.npy --save my_run
#include <algorithm>
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

using autograd::Tensor;
using tutorial::max_abs_diff;

namespace {

// The layer an interviewer asks for: three projections, then scaled dot-product attention of
// the sequence with itself.
class SelfAttention : public nn::Module {
 public:
  SelfAttention(std::int64_t dim, tensor::Generator& gen) : dim(dim) {
    w_q = register_module("w_q", std::make_shared<nn::Linear>(dim, dim, true, gen));
    w_k = register_module("w_k", std::make_shared<nn::Linear>(dim, dim, true, gen));
    w_v = register_module("w_v", std::make_shared<nn::Linear>(dim, dim, true, gen));
  }
  struct Result {
    Tensor q, k, v, scores, weights, output;
  };
  Result forward(const Tensor& x, bool scale = true) {
    Result r;
    r.q = (*w_q)(x);  // [B, T, D]: what each position is looking for
    r.k = (*w_k)(x);  // [B, T, D]: what each position offers to be found by
    r.v = (*w_v)(x);  // [B, T, D]: what each position hands over when it is attended to
    // K^T per batch element: swap the LAST TWO dims only.           scores: [B, T, T]
    r.scores = autograd::matmul(r.q, r.k.transpose(-2, -1));
    if (scale) r.scores = r.scores / std::sqrt(double(dim));
    r.weights = autograd::softmax(r.scores, -1);  // over the keys: each row sums to 1
    r.output = autograd::matmul(r.weights, r.v);  // [B, T, D]: weighted average of the values
    return r;
  }
  std::string type_name() const override { return "SelfAttention"; }
  std::int64_t dim;
  std::shared_ptr<nn::Linear> w_q, w_k, w_v;
};

// Mean over the rows of [..., T] weights of the largest weight and of the entropy (nats).
void row_statistics(const Tensor& weights, double& mean_max, double& mean_entropy) {
  std::vector<double> w = weights.to_vector<double>();
  const std::int64_t t = weights.size(-1), rows = weights.numel() / t;
  mean_max = mean_entropy = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    double top = 0, entropy = 0;
    for (std::int64_t j = 0; j < t; ++j) {
      double p = w[r * t + j];
      top = std::max(top, p);
      if (p > 0) entropy -= p * std::log(p);
    }
    mean_max += top / double(rows);
    mean_entropy += entropy / double(rows);
  }
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "07_self_attention",
    .chinese = "请使用 PyTorch 实现一个简单的自注意力机制。",
    .english = "Implement a simple self-attention mechanism (W_q, W_k, W_v) in a framework such as PyTorch.",
    .answer = "Three Linear layers give Q = x W_q, K = x W_k, V = x W_v from the SAME input x [B, T, D];\n"
              "weights = softmax(Q K^T / sqrt(D)) over the keys, K^T swapping only the last two dims\n"
              "(transpose(-2, -1), not .T, which reverses all three); output = weights V, [B, T, D].\n"
              "Without the 1/sqrt(D) the rows turn nearly one-hot as D grows.",
    .article = "深度学习与注意力模型应用解析：面试题与编程题满分答案",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  tutorial::QKVFiles files;
  tutorial::add_qkv_flags(flags, files, /*with_mask=*/false);
  std::int64_t B = 8, T = 10, D = 512;  // the article's example: torch.randn(8, 10, 512)
  // The loops of part 3 cost B T^2 D: the largest sizes take about 20 s. T >= 2 and D >= 2 so
  // that part 4 has keys to choose between and a scaling that changes something.
  flags.add("--batch", B, "B, sequences in the batch", tutorial::between(1, 16));
  flags.add("--len", T, "T, positions per sequence", tutorial::between(2, 128));
  flags.add("--dim", D, "D, the model (and head) size", tutorial::between(2, 1024));
  flags.parse(argc, argv);
  flags.quick(B, 2), flags.quick(T, 6), flags.quick(D, 64);  // flags given win
  tutorial::Checks checks;
  tensor::Generator gen(options.seed);

  tutorial::section("1. The layer on a batch [B, T, D]");
  SelfAttention layer(D, gen);
  layer.to(autograd::DType::Float64);  // float64 so the loop comparison can be exact
  Tensor x = autograd::randn({B, T, D}, gen, autograd::DType::Float64);
  SelfAttention::Result r = layer.forward(x);
  std::printf("  parameters: w_q, w_k, w_v, each [D, D] + [D]: %lld numbers\n",
              static_cast<long long>(layer.num_parameters()));
  std::printf("  x                        %s\n", tensor::shape_str(x.shape()).c_str());
  std::printf("  Q = x W_q^T + b_q        %s   (and K, V alike)\n",
              tensor::shape_str(r.q.shape()).c_str());
  std::printf("  K.transpose(-2, -1)      %s\n",
              tensor::shape_str(r.k.transpose(-2, -1).shape()).c_str());
  std::printf("  scores = Q K^T / sqrt(D) %s   one T x T matrix per sequence\n",
              tensor::shape_str(r.scores.shape()).c_str());
  std::printf("  weights = softmax(..)    %s\n", tensor::shape_str(r.weights.shape()).c_str());
  std::printf("  output = weights V       %s   same shape as x\n",
              tensor::shape_str(r.output.shape()).c_str());
  checks.check(r.output.shape() == autograd::Shape{B, T, D},
               "the output has the input's shape [B, T, D] = (" + std::to_string(B) + ", " +
                   std::to_string(T) + ", " + std::to_string(D) + ")");
  std::printf(
      "  (The article's comment claims its code prints (8, 10, 512). The shape is right, but\n"
      "  its code stops with an error before printing anything: part 2.)\n");

  tutorial::section("2. The article's bug: torch.matmul(queries, keys.T) with 3-d keys");
  std::printf(
      "  The article writes  attention_weights = softmax(matmul(queries, keys.T), dim=2)\n"
      "  but keys is [B, T, D] = %s, not a matrix.\n\n",
      tensor::shape_str(r.k.shape()).c_str());
  bool refused = false;
  try {
    Tensor keys_T = r.k.t();
  } catch (const std::exception& e) {
    refused = true;
    std::printf("  our library, keys.t():\n    %s\n\n", e.what());
  }
  checks.check(refused, ".t() on a 3-d tensor is refused with a message naming transpose(-2, -1)");
  std::printf(
      "  PyTorch's .T on a 3-d tensor reverses ALL dims (deprecated, with a warning):\n"
      "  [B, T, D] -> [D, T, B]. Here that is permute({2, 1, 0}):\n");
  Tensor reversed = r.k.permute({2, 1, 0});
  std::printf("    keys reversed: %s\n", tensor::shape_str(reversed.shape()).c_str());
  bool matmul_failed = false;
  try {
    Tensor bad = autograd::matmul(r.q, reversed);
  } catch (const std::exception& e) {
    matmul_failed = true;
    std::printf("    matmul(queries, keys reversed):\n      %s\n", e.what());
  }
  // [B, T, D] x [D, T, B] runs only when the inner sizes agree (D = T) and the batch dims
  // broadcast (B = D, or one of them is 1); the article's 8, 10, 512 are far from that.
  const bool shapes_fit = D == T && (B == D || B == 1 || D == 1);
  if (shapes_fit)
    std::printf("    with these sizes the shapes happen to fit, and it runs: see below\n");
  checks.check(matmul_failed != shapes_fit,
               shapes_fit ? "with these sizes matmul(queries, keys.T) runs, silently wrong"
                          : "with these sizes (the article's are 8, 10, 512), matmul(queries, "
                            "keys.T) cannot even run");
  // The worse case: when B = T = D every shape fits and nothing complains.
  {
    const std::int64_t n = 4;
    tensor::Generator small_gen(options.seed + 1);
    SelfAttention square(n, small_gen);
    square.to(autograd::DType::Float64);
    Tensor xs = autograd::randn({n, n, n}, small_gen, autograd::DType::Float64);
    SelfAttention::Result good = square.forward(xs);
    Tensor silent = autograd::matmul(good.q, good.k.permute({2, 1, 0}));  // runs!
    double diff = max_abs_diff(silent / std::sqrt(double(n)), good.scores);
    std::printf(
        "\n  When B = T = D (here all %lld), matmul(queries, keys.T) runs without any error,\n"
        "  but score[b, i, j] then mixes key features of other sequences in the batch.\n"
        "  Its scores differ from the right ones by up to %.3f.\n",
        static_cast<long long>(n), diff);
    checks.check(diff > 1e-3, "the silent B = T = D version computes different (wrong) scores");
  }

  tutorial::section("3. The fix: keys.transpose(-2, -1), checked against plain loops");
  Tensor q = tutorial::load_or(files.q, r.q.detach(), "Q", files.allow_non_finite);
  Tensor k = tutorial::load_or(files.k, r.k.detach(), "K", files.allow_non_finite);
  Tensor v = tutorial::load_or(files.v, r.v.detach(), "V", files.allow_non_finite);
  bool own_qkv = !files.q.empty() || !files.k.empty() || !files.v.empty();
  std::printf("  %s Q %s, K %s, V %s\n", own_qkv ? "your" : "the layer's",
              tensor::shape_str(q.shape()).c_str(), tensor::shape_str(k.shape()).c_str(),
              tensor::shape_str(v.shape()).c_str());
  double scale = 1.0 / std::sqrt(double(q.size(-1)));
  Tensor scores = autograd::matmul(q, k.transpose(-2, -1)) * scale;  // [..., Tq, Tk]
  Tensor weights = autograd::softmax(scores, -1);
  Tensor output = autograd::matmul(weights, v);  // [..., Tq, Dv]
  tutorial::LoopAttention loop = tutorial::attention_by_loops(q, k, v, scale);
  checks.same(weights, loop.weights, 1e-12, "weights equal the loop's");
  checks.same(output, loop.output, 1e-12, "output equals the loop's");
  Tensor row_sums = weights.sum({-1});
  checks.same(row_sums, autograd::ones_like(row_sums).to(row_sums.dtype()), 1e-12,
              "every row of weights sums to 1");
  nn::AttentionOutput library = nn::scaled_dot_product_attention(q, k, v);
  checks.same(output, library.output, 1e-12,
              "and equals the library's nn::scaled_dot_product_attention");

  std::printf("\n  The whole layer, projections included, against loops:\n");
  Tensor q_loop = tutorial::linear_by_loops(x, layer.w_q->weight, layer.w_q->bias);
  Tensor k_loop = tutorial::linear_by_loops(x, layer.w_k->weight, layer.w_k->bias);
  Tensor v_loop = tutorial::linear_by_loops(x, layer.w_v->weight, layer.w_v->bias);
  tutorial::LoopAttention layer_loop =
      tutorial::attention_by_loops(q_loop, k_loop, v_loop, 1.0 / std::sqrt(double(D)));
  checks.same(r.output, layer_loop.output, 1e-10,
              "SelfAttention(x) equals loops over x W^T + b and the attention sums");
  std::vector<std::pair<std::string, Tensor>> saved = {{"output", output}, {"weights", weights}};
  if (!own_qkv) {
    // Everything needed to redo the computation in numpy or PyTorch.
    for (auto& [name, t] : std::vector<std::pair<std::string, Tensor>>{{"x", x},
                                                                       {"q", q},
                                                                       {"k", k},
                                                                       {"v", v},
                                                                       {"w_q", layer.w_q->weight},
                                                                       {"b_q", layer.w_q->bias},
                                                                       {"w_k", layer.w_k->weight},
                                                                       {"b_k", layer.w_k->bias},
                                                                       {"w_v", layer.w_v->weight},
                                                                       {"b_v", layer.w_v->bias}})
      saved.emplace_back(name, t.detach());
  }
  tutorial::save_npy_files(files.save, saved);

  tutorial::section("4. The article's second bug: no division by sqrt(D)");
  SelfAttention::Result unscaled = layer.forward(x, /*scale=*/false);
  double max_scaled, entropy_scaled, max_unscaled, entropy_unscaled;
  row_statistics(r.weights, max_scaled, entropy_scaled);
  row_statistics(unscaled.weights, max_unscaled, entropy_unscaled);
  double score_std = std::sqrt(autograd::var(r.scores).item());
  double unscaled_std = std::sqrt(autograd::var(unscaled.scores).item());
  std::printf("  D = %lld. A score is a sum of D products, so its spread grows like sqrt(D).\n\n",
              static_cast<long long>(D));
  std::printf(
      "                       score std   mean largest weight   mean entropy (max ln T = %.2f)\n",
      std::log(double(T)));
  std::printf("  softmax(QK^T)          %7.3f          %.3f                %.3f\n", unscaled_std,
              max_unscaled, entropy_unscaled);
  std::printf("  softmax(QK^T/sqrt(D))  %7.3f          %.3f                %.3f\n\n", score_std,
              max_scaled, entropy_scaled);
  checks.close(unscaled_std / score_std, std::sqrt(double(D)), 1e-9,
               "the unscaled scores are exactly sqrt(D) times wider");
  checks.check(
      max_unscaled > max_scaled && entropy_unscaled < entropy_scaled,
      "without the scaling the rows are much closer to one-hot (larger max, lower entropy)");
  tutorial::save_picture(
      tutorial::attention_grid({{"unscaled, as the article", unscaled.weights.select(0, 0)},
                                {"scaled by 1 / sqrt(D)", r.weights.select(0, 0)}},
                               "Self-attention weights of sequence 0, D = " + std::to_string(D), 2),
      options, "self_attention_scaling.png",
      "left, unscaled: nearly one bright cell per row (one-hot); right, scaled: the weight is "
      "spread over several keys");
  std::printf("\n");
  std::printf(
      "  A nearly one-hot softmax passes almost no gradient to the scores (tutorial 04\n"
      "  measures it), so W_q and W_k barely learn. Dividing by sqrt(D) keeps the scores'\n"
      "  spread independent of D.\n");

  std::printf(
      "\nWhat to notice: self-attention is three Linear layers and two batched matmuls.\n"
      "The transpose must swap only the last two dims (transpose(-2, -1), PyTorch's .mT);\n"
      "reversing every dim is an error at best and silent garbage when the sizes match.\n");
  int code = checks.finish();
  char answer[600];
  std::snprintf(answer, sizeof answer,
                "Q, K, V are three Linear maps of the same x; output = softmax(Q K^T / sqrt(D)) V has\n"
                "x's shape [%lld, %lld, %lld] and matched plain loops. K^T must be transpose(-2, -1): the\n"
                "article's keys.T fails on 3-d keys, or silently mixes sequences when B = T = D. Without\n"
                "1/sqrt(D) (D = %lld) the mean largest weight is %.3f instead of %.3f: toward one-hot.",
                static_cast<long long>(B), static_cast<long long>(T), static_cast<long long>(D),
                static_cast<long long>(D), max_unscaled, max_scaled);
  tutorial::print_answer(kQuestion, answer);
  std::printf("\nPython twin: tutorials/python/07_self_attention.py (make python)\n");
  return code;
} catch (...) {
  return tutorial::report_error();
}
