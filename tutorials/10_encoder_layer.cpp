// 10_encoder_layer — Write a simple Transformer encoder layer.
//                    编写一个简单的 Transformer 编码器层函数。
//   Asked in the interview article "深入探讨注意力模型：从基础理论到实际应用" (coding question 5);
//   part 7 takes apart its coding question 4, the attention layer that applies softmax twice.
//
// Short answer
//   Two sublayers, each wrapped in a residual connection and a LayerNorm:
//     1. multi-head self-attention: every position gathers information from every other;
//     2. a position-wise feed-forward network FFN(x) = W2 relu(W1 x + b1) + b2, the same MLP
//        on each position, usually 4x wider inside (d_ff = 4 d_model).
//   Dropout is applied to each sublayer's output before it is added back (and inside the
//   attention and the FFN), only while training.
//   Post-LN (the 2017 paper):  h = LN(x + Drop(MHA(x)));      y = LN(h + Drop(FFN(h)))
//   Pre-LN (GPT-2 and later):  h = x + Drop(MHA(LN(x)));      y = h + Drop(FFN(LN(h)))
//   Post-LN renormalises the residual stream after every sublayer, and every layer, the top
//   ones included, gets an O(1) gradient however deep the stack: unstable at a large learning
//   rate early on, hence warmup. Pre-LN leaves a clean identity path from input to output; the
//   stream grows with depth, a final LN divides the top layers' gradients by that growth, and
//   deep stacks train without warmup.
//
// What this program shows
//   1. the formulas, and what is wrong in the article's encoder layer;
//   2. the layer written from scratch with plain ops, printing the shape at every step;
//   3. that version equal to nn::TransformerEncoderLayer on the same weights (post- and pre-LN);
//   4. dropout: active in train(), the identity in eval();
//   5. a gradient check of a tiny layer: backprop vs finite differences on all its parameters;
//   6. a deep stack, post-LN vs pre-LN: the size of the residual stream and the gradient norm of
//      every layer, as plots (encoder_residual_stream.png, encoder_gradient_norms.png);
//   7. the article's attention_layer, which applies softmax to attention weights that are
//      already a softmax: the second softmax sees values in [0, 1], so no weight can exceed
//      e / (e + T - 1) and every row is pulled toward uniform, whatever the scores were.
//   The from-scratch pieces (attention, LayerNorm, FFN) are in tutorials/common/reference.cpp.
//
// Run:  build/tutorials/10_encoder_layer   (--layers for the deep stack; --quick for CI)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/qkv_files.hpp"
#include "tutorials/common/reference.hpp"
#include "tutorials/common/tutorial.hpp"
#include "viz/plot.hpp"

using autograd::DType;
using autograd::Tensor;
using tutorial::max_abs_diff;
namespace scratch = tutorial::from_scratch;

namespace {

void show(const char* what, const Tensor& t, bool print) {
  if (print) std::printf("  %-44s %s\n", what, tensor::shape_str(t.shape()).c_str());
}

// The encoder layer from scratch (eval mode: no dropout), with the weights of `layer`.
Tensor encoder_layer_from_scratch(const nn::TransformerEncoderLayer& layer, const Tensor& x,
                                  bool print_shapes) {
  const nn::MultiheadAttention& attention = *layer.self_attn;
  show("x", x, print_shapes);
  if (!layer.config.norm_first) {
    // post-LN: sublayer, add, normalise
    Tensor attended = scratch::multihead_attention(attention, x, x);
    show("MHA(x)", attended, print_shapes);
    Tensor h = scratch::layer_norm(*layer.norm1, x + attended);
    show("h = LN1(x + MHA(x))", h, print_shapes);
    Tensor hidden = autograd::relu(autograd::matmul(h, layer.linear1->weight.transpose(0, 1)) +
                                   layer.linear1->bias);
    show("relu(h W1^T + b1)      (d_ff wide)", hidden, print_shapes);
    Tensor ffn =
        autograd::matmul(hidden, layer.linear2->weight.transpose(0, 1)) + layer.linear2->bias;
    show("FFN(h) = ... W2^T + b2", ffn, print_shapes);
    Tensor y = scratch::layer_norm(*layer.norm2, h + ffn);
    show("y = LN2(h + FFN(h))", y, print_shapes);
    return y;
  }
  // pre-LN: normalise, sublayer, add
  Tensor normed = scratch::layer_norm(*layer.norm1, x);
  Tensor h = x + scratch::multihead_attention(attention, normed, normed);
  show("h = x + MHA(LN1(x))", h, print_shapes);
  Tensor y = h + scratch::feed_forward(*layer.linear1, *layer.linear2,
                                       scratch::layer_norm(*layer.norm2, h));
  show("y = h + FFN(LN2(h))", y, print_shapes);
  return y;
}

nn::LayerConfig make_config(std::int64_t d_model, std::int64_t heads, std::int64_t d_ff,
                            double dropout, bool norm_first) {
  nn::LayerConfig c;
  c.d_model = d_model;
  c.nhead = heads;
  c.dim_feedforward = d_ff;
  c.dropout = dropout;
  c.norm_first = norm_first;
  return c;
}

// Root mean square of all elements.
double rms(const Tensor& t) {
  return std::sqrt(autograd::mean(autograd::square(t.detach())).item());
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "10_encoder_layer",
    .chinese = "编写一个简单的 Transformer 编码器层函数。",
    .english = "Write a simple Transformer encoder layer.",
    .answer = "Two sublayers, each inside a residual connection and a LayerNorm: multi-head\n"
              "self-attention, then a position-wise FFN (d_ff ~ 4E), with dropout on each sublayer's\n"
              "output while training. Post-LN: h = LN(x + MHA(x)), y = LN(h + FFN(h)); pre-LN puts the\n"
              "LN before each sublayer and keeps an identity path. Softmax the weights once, not twice.",
    .article = "深入探讨注意力模型：从基础理论到实际应用",
};

namespace {

// Part 7: rows of softmax(scores) and of softmax(softmax(scores)), and how far from uniform.
struct RowStats {
  double mean_max = 0, mean_entropy = 0;  // over the rows: the largest weight, the entropy (nats)
};
RowStats row_stats(const std::vector<double>& weights, std::int64_t row_len) {
  RowStats stats;
  const std::int64_t rows = static_cast<std::int64_t>(weights.size()) / row_len;
  for (std::int64_t r = 0; r < rows; ++r) {
    double top = 0, entropy = 0;
    for (std::int64_t j = 0; j < row_len; ++j) {
      double w = weights[r * row_len + j];
      top = std::max(top, w);
      if (w > 0) entropy -= w * std::log(w);
    }
    stats.mean_max += top / double(rows);
    stats.mean_entropy += entropy / double(rows);
  }
  return stats;
}

}  // namespace

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  std::int64_t B = 2, T = 6, E = 16, H = 4, F = 64, layers = 24;
  flags.add("--batch", B, "B, sequences in the batch", tutorial::between(1, 64));
  flags.add("--len", T, "T, positions per sequence", tutorial::between(1, 512));
  // At least 4: a LayerNorm over 2 features can only output (-1, 1) or (1, -1), and part 4
  // needs dropout to be able to change the output.
  flags.add("--dim", E, "E, the model size", tutorial::between(4, 1024));
  flags.add("--heads", H, "H, attention heads (must divide --dim)", tutorial::between(1, 1024));
  flags.add("--ff", F, "d_ff, the feed-forward width", tutorial::between(1, 8192));
  // At least 8: part 6 checks that the pre-LN stream grows by a quarter over the stack.
  flags.add("--layers", layers, "depth of the stack in part 6", tutorial::between(8, 128));
  std::string save_dir;
  flags.add_output_folder("--save", save_dir,
                          "folder to write inputs, weights and outputs into as .npy (Python twin)");
  flags.parse(argc, argv);
  flags.quick(layers, 8);
  tutorial::Flags::require(E % H == 0, "--heads " + std::to_string(H) + " does not divide --dim " +
                                           std::to_string(E));
  tutorial::Checks checks;
  tensor::Generator gen(options.seed);

  tutorial::section("1. The layer in formulas, and the article's version");
  std::printf(
      "  post-LN (2017):  h = LN1(x + Dropout(MHA(x, x, x)))    y = LN2(h + Dropout(FFN(h)))\n"
      "  pre-LN:          h = x + Dropout(MHA(LN1(x)))          y = h + Dropout(FFN(LN2(h)))\n"
      "  FFN(h) = W2 Dropout(relu(W1 h + b1)) + b2, with W1 [d_ff, E], W2 [E, d_ff]\n\n");
  std::printf(
      "  The article's Keras layer has the post-LN structure right, but\n"
      "   - its FFN is Dense(hidden_size) twice: d_ff = E instead of ~4E;\n"
      "   - it calls self.dropout(...), which it never defines (AttributeError);\n"
      "   - LayerNormalization(hidden_size) passes the size as Keras's `axis`;\n"
      "   - its example (E = 3, 2 heads) cannot be built, and its printed output\n"
      "     [1.0, 1.0, 0.5] has 3 numbers where the layer returns one E-vector per position.\n");
  bool refused = false;
  try {
    nn::TransformerEncoderLayer bad(make_config(3, 2, 12, 0.1, false));
  } catch (const std::exception& e) {
    refused = true;
    std::printf("  nn::TransformerEncoderLayer(d_model 3, nhead 2): %s\n", e.what());
  }
  checks.check(refused, "the article's sizes are refused with a clear message");

  tutorial::section("2. From scratch, shape by shape (post-LN)");
  nn::TransformerEncoderLayer post(make_config(E, H, F, 0.1, false), gen);
  nn::TransformerEncoderLayer pre(make_config(E, H, F, 0.1, true), gen);
  for (auto* layer : {&post, &pre}) {
    layer->to(DType::Float64);
    layer->eval();  // dropout off: the output is deterministic
  }
  Tensor x = autograd::randn({B, T, E}, gen, DType::Float64);
  Tensor post_scratch = encoder_layer_from_scratch(post, x, true);

  tutorial::section("3. The same as nn::TransformerEncoderLayer, on the same weights");
  Tensor post_library = post.forward(x);
  checks.same(post_scratch, post_library, 1e-12, "post-LN: from scratch == library");
  std::printf("\n  pre-LN:\n");
  Tensor pre_scratch = encoder_layer_from_scratch(pre, x, true);
  checks.same(pre_scratch, pre.forward(x), 1e-12, "pre-LN: from scratch == library");
  // Post-LN output rows are normalised (LayerNorm's weight 1, bias 0 at start): mean 0, var 1.
  Tensor row_mean = post_library.mean({-1}), row_var = autograd::var(post_library, {-1}, 0);
  checks.small(autograd::amax(autograd::abs(row_mean)).item(), 1e-12,
               "post-LN: every output row has mean 0");
  checks.small(autograd::amax(autograd::abs(row_var - 1.0)).item(), 1e-3,
               "post-LN: every output row has variance 1 (up to LayerNorm's eps)");
  std::printf(
      "  parameters: %lld  (attention 4E^2+4E = %lld, FFN 2 E d_ff + d_ff + E = %lld, 2 LayerNorms "
      "4E = %lld)\n",
      static_cast<long long>(post.num_parameters()), static_cast<long long>(4 * E * E + 4 * E),
      static_cast<long long>(2 * E * F + F + E), static_cast<long long>(4 * E));
  checks.check(post.num_parameters() == 4 * E * E + 4 * E + 2 * E * F + F + E + 4 * E,
               "the parameter count matches the formula");

  tutorial::section("4. Dropout: only while training");
  post.train();
  Tensor first = post.forward(x), second = post.forward(x);
  post.eval();
  Tensor eval_first = post.forward(x), eval_second = post.forward(x);
  std::printf("  train(): two passes differ by up to %.3f (a new random mask each time)\n",
              max_abs_diff(first, second));
  std::printf("  eval():  two passes differ by %.1e\n", max_abs_diff(eval_first, eval_second));
  checks.check(max_abs_diff(first, second) > 1e-3, "in training mode dropout changes the output");
  checks.same(eval_first, eval_second, 0.0, "in eval mode the layer is deterministic");
  {
    // Inverted dropout: zero with probability p, scale the survivors by 1/(1-p).
    const double p = 0.1;
    Tensor ones = autograd::ones({100000}, DType::Float64);
    tensor::Generator dropout_gen(options.seed + 7);
    Tensor dropped = autograd::dropout(ones, p, true, dropout_gen);
    std::vector<double> values = dropped.to_vector<double>();
    double zeros = 0, worst = 0;
    for (double v : values) {
      if (v == 0)
        zeros += 1;
      else
        worst = std::max(worst, std::fabs(v - 1.0 / (1 - p)));
    }
    std::printf(
        "  dropout(p = 0.1) on 100000 ones: %.2f%% zeros, the rest equal to 1/(1-p) = %.4f\n",
        100 * zeros / values.size(), 1 / (1 - p));
    checks.close(zeros / values.size(), p, 0.005, "about p of the values are zeroed");
    checks.small(worst, 1e-12, "survivors are scaled by 1/(1-p), so the mean is unchanged");
  }

  tutorial::section("5. Gradient check of a tiny layer (float64, all parameters)");
  for (bool norm_first : {false, true}) {
    tensor::Generator tiny_gen(options.seed + 3);
    nn::TransformerEncoderLayer tiny(make_config(4, 2, 8, 0.0, norm_first), tiny_gen);
    tiny.to(DType::Float64);
    Tensor tiny_x = autograd::randn({1, 3, 4}, tiny_gen, DType::Float64);
    Tensor probe = autograd::randn({1, 3, 4}, tiny_gen, DType::Float64);  // loss = sum(y * probe)
    autograd::GradcheckResult result = autograd::gradcheck_leaves(
        [&] { return autograd::sum(tiny.forward(tiny_x) * probe); }, tiny.parameters());
    std::printf("  %s: %s\n", norm_first ? "pre-LN " : "post-LN", result.message.c_str());
    checks.check(result.passed, std::string(norm_first ? "pre-LN" : "post-LN") +
                                    " layer: backprop agrees with finite differences on all " +
                                    std::to_string(tiny.num_parameters()) + " parameters");
  }

  tutorial::section("6. A deep stack: post-LN vs pre-LN");
  // Its own, larger sizes: the effect needs a realistic width.
  const std::int64_t stack_E = 64, stack_H = 4, stack_F = 256, stack_B = 4, stack_T = 16;
  std::printf(
      "  %lld layers, E = %lld, d_ff = %lld, at initialisation (float32).\n"
      "  stream:   RMS of the residual stream x_l after layer l\n"
      "  gradient: norm of d loss / d (all parameters of layer l), loss = mean(y * probe)\n\n",
      static_cast<long long>(layers), static_cast<long long>(stack_E),
      static_cast<long long>(stack_F));
  struct Run {
    std::vector<double> stream, gradient;
  };
  auto run_stack = [&](bool norm_first) {
    tensor::Generator stack_gen(options.seed + 11);  // the same weights and data for both
    nn::TransformerEncoder stack(make_config(stack_E, stack_H, stack_F, 0.0, norm_first), layers,
                                 stack_gen);
    Tensor input = autograd::randn({stack_B, stack_T, stack_E}, stack_gen);
    Tensor probe = autograd::randn({stack_B, stack_T, stack_E}, stack_gen);
    Run run;
    Tensor h = input;
    for (auto& layer : stack.layers->items()) {
      h = layer->forward(h);
      run.stream.push_back(rms(h));
    }
    Tensor y = stack.norm ? (*stack.norm)(h) : h;  // a pre-LN stack ends with a final LayerNorm
    autograd::mean(y * probe).backward();
    for (auto& layer : stack.layers->items()) {
      double squared = 0;
      for (const Tensor& p : layer->parameters())
        squared += autograd::sum(autograd::square(p.grad())).item();
      run.gradient.push_back(std::sqrt(squared));
    }
    return run;
  };
  Run post_run = run_stack(false), pre_run = run_stack(true);
  std::printf("  layer   stream: post-LN   pre-LN     gradient: post-LN    pre-LN\n");
  for (std::int64_t l = 0; l < layers; ++l)
    if (l < 2 || l == layers / 2 || l >= layers - 2)
      std::printf("  %5lld   %15.3f   %6.3f     %17.3e   %.3e\n", static_cast<long long>(l + 1),
                  post_run.stream[l], pre_run.stream[l], post_run.gradient[l], pre_run.gradient[l]);
  double worst_post = 0;
  for (double v : post_run.stream) worst_post = std::max(worst_post, std::fabs(v - 1.0));
  checks.small(worst_post, 1e-3, "post-LN: the stream is renormalised to RMS 1 after every layer");
  checks.check(pre_run.stream.back() > 1.25 * pre_run.stream.front(),
               "pre-LN: every layer adds to the stream, which grows with depth");
  const double top_ratio = post_run.gradient.back() / pre_run.gradient.back();
  std::printf(
      "\n  top layer's gradient, post-LN / pre-LN: %.2f;  pre-LN stream RMS at the top: %.2f\n",
      top_ratio, pre_run.stream.back());
  checks.close(
      top_ratio / pre_run.stream.back(), 1.0, 0.15,
      "pre-LN's top-layer gradient is post-LN's divided by the stream's RMS (the final LN)");
  checks.check(pre_run.gradient.back() < pre_run.gradient.front(),
               "pre-LN: lower layers get larger gradients than the top one");
  std::printf(
      "\n  Post-LN: a LayerNorm after every residual sum pins the stream to RMS 1 and every\n"
      "  layer gets a gradient of about the same size, however deep the stack. Those O(1)\n"
      "  gradients at the top are what makes post-LN unstable at large learning rates early\n"
      "  in training, hence its learning-rate warmup (Xiong et al., 2020).\n"
      "  Pre-LN: x_L = x_0 + sum_l F_l(LN(x_l)) keeps an identity path from every layer to\n"
      "  the top. The stream grows (its variance roughly linearly with depth), and the final\n"
      "  LayerNorm divides the gradient by that size: the top layers' gradients shrink like\n"
      "  1/sqrt(L) while the lower layers also collect gradient through every identity path.\n"
      "  Deep pre-LN stacks train without warmup; the price is a growing residual stream.\n");
  {
    std::vector<double> depth;
    for (std::int64_t l = 1; l <= layers; ++l) depth.push_back(double(l));
    viz::LinePlot stream_plot("Residual stream after each layer (" + std::to_string(layers) +
                              " layers, at init)");
    stream_plot.set_x_label("layer l")
        .set_y_label("RMS of x_l")
        .add_series("post-LN: LN(x + F(x))", depth, post_run.stream)
        .add_series("pre-LN: x + F(LN(x))", depth, pre_run.stream);
    viz::LinePlot gradient_plot("Gradient norm of each layer's parameters (at init)");
    gradient_plot.set_x_label("layer l (1 = next to the input)")
        .set_y_label("norm of d loss / d (parameters of layer l)")
        .add_series("post-LN", depth, post_run.gradient)
        .add_series("pre-LN", depth, pre_run.gradient);
    std::printf("\n");
    tutorial::save_picture(stream_plot, options, "encoder_residual_stream.png",
                           "post-LN flat at 1, pre-LN climbing with depth");
    tutorial::save_picture(gradient_plot, options, "encoder_gradient_norms.png",
                           "post-LN about level across layers, pre-LN smaller at the top");
  }

  tutorial::section("7. The article's attention_layer: softmax applied twice");
  std::printf(
      "  The article's coding question 4 builds attention_layer on its multi_head_attention,\n"
      "  whose dot_product_attention already applies softmax, and then applies it AGAIN:\n"
      "      attention_weights = multi_head_attention(inputs, hidden_size, num_heads)\n"
      "      attention_weights = np.softmax(attention_weights)   # a second softmax\n"
      "      output = np.dot(attention_weights, inputs)\n"
      "  (np.softmax does not exist, and what it gets back is weights V, which it names\n"
      "  attention_weights.) Take the name at its word: what does a second softmax do to\n"
      "  weights that already are a softmax?\n\n");
  // A row to print: "[0.665, 0.090, 0.245]".
  auto row_text = [](const Tensor& rows, std::int64_t r) {
    std::string text = "[";
    for (std::int64_t j = 0; j < rows.size(1); ++j) {
      char number[32];
      std::snprintf(number, sizeof number, "%s%.3f", j ? ", " : "", rows.at({r, j}));
      text += number;
    }
    return text + "]";
  };
  // softmax(p) by its formula, row by row: exp(p_j) / sum_k exp(p_k). No max is subtracted: the
  // p are in [0, 1], so exp cannot overflow.
  auto softmax_of_weights = [](const std::vector<double>& p, std::int64_t row_len) {
    std::vector<double> out(p.size());
    for (std::size_t start = 0; start < p.size(); start += static_cast<std::size_t>(row_len)) {
      double sum = 0;
      for (std::int64_t j = 0; j < row_len; ++j) sum += std::exp(p[start + j]);
      for (std::int64_t j = 0; j < row_len; ++j) out[start + j] = std::exp(p[start + j]) / sum;
    }
    return out;
  };
  {
    // The article's example: inputs = queries = keys = values, scores X X^T (it does not scale).
    Tensor article_x = autograd::from_rows({{1, 0, 2}, {0, 2, 1}, {2, 1, 0}}, DType::Float64);
    Tensor once = autograd::softmax(autograd::matmul(article_x, article_x.transpose(0, 1)), -1);
    Tensor twice = autograd::softmax(once, -1);  // [3, 3]
    std::printf("  the article's inputs [[1,0,2],[0,2,1],[2,1,0]], scores X X^T:\n");
    for (std::int64_t r = 0; r < 3; ++r)
      std::printf("    row %lld   softmax once %s   twice %s\n", static_cast<long long>(r),
                  row_text(once, r).c_str(), row_text(twice, r).c_str());
    checks.same(twice,
                autograd::from_vector(softmax_of_weights(once.to_vector<double>(), 3), {3, 3}),
                1e-15, "the second softmax equals exp(p_j) / sum_k exp(p_k) on the first's rows");
  }
  std::printf(
      "\n  Why it flattens: the second softmax's inputs p_j lie in [0, 1], so any two of its\n"
      "  outputs differ by a factor exp(p_j - p_k) <= e. Even a one-hot first softmax gives at\n"
      "  most e / (e + n - 1) to its key, for n keys. And since |p_j - p_k| <= |s_j - s_k| for\n"
      "  the scores s, every log-ratio between two weights shrinks: the row moves toward\n"
      "  uniform whatever the scores were.\n\n");
  const std::int64_t keys = 10, rows = 2000;
  const double bound = std::exp(1.0) / (std::exp(1.0) + double(keys - 1));
  std::printf(
      "  %lld rows of %lld keys, scores = scale * N(0, 1). Uniform: largest weight 1/n = %.3f,\n"
      "  entropy ln n = %.3f nats. Bound after a second softmax: e / (e + n - 1) = %.3f.\n\n",
      static_cast<long long>(rows), static_cast<long long>(keys), 1.0 / double(keys),
      std::log(double(keys)), bound);
  std::printf(
      "  score scale   largest weight: once    twice     entropy: once    twice\n");
  tensor::Generator softmax_gen(options.seed + 13);
  Tensor unit_scores = autograd::randn({rows, keys}, softmax_gen, DType::Float64);
  double closed_form_error = 0, worst_twice = 0, top_once = 0, top_twice = 0;
  bool log_ratios_shrink = true, entropy_grows = true;
  for (double scale : {0.25, 1.0, 4.0, 16.0, 64.0}) {
    Tensor scores = unit_scores * scale;
    Tensor once = autograd::softmax(scores, -1), twice = autograd::softmax(once, -1);
    std::vector<double> s = scores.to_vector<double>(), p = once.to_vector<double>(),
                        p2 = twice.to_vector<double>();
    std::vector<double> closed = softmax_of_weights(p, keys);
    for (std::size_t i = 0; i < p2.size(); ++i) {
      closed_form_error = std::max(closed_form_error, std::fabs(p2[i] - closed[i]));
      worst_twice = std::max(worst_twice, p2[i]);
    }
    for (std::int64_t r = 0; r < rows; ++r)  // log(p2_j / p2_k) = p_j - p_k vs log(p_j / p_k) = s_j - s_k
      for (std::int64_t j = 0; j < keys; ++j)
        for (std::int64_t k = 0; k < j; ++k)
          log_ratios_shrink = log_ratios_shrink &&
                              std::fabs(p[r * keys + j] - p[r * keys + k]) <=
                                  std::fabs(s[r * keys + j] - s[r * keys + k]) + 1e-15;
    RowStats first = row_stats(p, keys), second = row_stats(p2, keys);
    entropy_grows = entropy_grows && second.mean_entropy > first.mean_entropy;
    std::printf("  %11.2f   %20.3f   %6.3f    %13.3f   %6.3f\n", scale, first.mean_max,
                second.mean_max, first.mean_entropy, second.mean_entropy);
    top_once = first.mean_max, top_twice = second.mean_max;  // the last (largest) scale
  }
  std::printf("\n");
  checks.small(closed_form_error, 1e-15,
               "at every scale the second softmax equals exp(p_j) / sum_k exp(p_k)");
  checks.check(worst_twice <= bound, "no weight after two softmaxes exceeds e / (e + n - 1) = " +
                                         std::to_string(bound));
  checks.check(log_ratios_shrink,
               "every log-ratio between two weights shrinks: |p_j - p_k| <= |s_j - s_k|");
  checks.check(entropy_grows, "at every scale the second softmax has the higher mean entropy");
  checks.check(top_once > 0.9 && top_twice <= bound,
               "scores that pick one key (largest weight > 0.9) give at most the bound after two");
  std::printf(
      "  With the scores scaled by 64 the first softmax puts %.3f on its top key on average;\n"
      "  after the second, %.3f. With n = 512 keys the bound would be %.4f: the layer averages\n"
      "  nearly uniformly, whatever it learned. Softmax once, on the scores.\n",
      top_once, top_twice, std::exp(1.0) / (std::exp(1.0) + 511.0));

  std::printf(
      "\nWhat to notice: an encoder layer is attention + FFN, each inside a residual and a\n"
      "LayerNorm; where the LayerNorm sits (after the sum or before the sublayer) decides\n"
      "whether the residual stream or the gradient path is kept tidy.\n");
  int code = checks.finish();
  char answer[800];
  std::snprintf(answer, sizeof answer,
                "Self-attention then FFN, each in a residual and a LayerNorm; written from scratch it\n"
                "matched nn::TransformerEncoderLayer (post- and pre-LN) and passed a gradient check.\n"
                "Over %lld layers post-LN kept the stream at RMS 1; pre-LN's grew to %.2f. Softmax the\n"
                "scores once: the article's second softmax took a %.3f top weight down to %.3f (bound\n"
                "e / (e + n - 1) = %.3f for n = %lld keys), flattening every row toward uniform.",
                static_cast<long long>(layers), pre_run.stream.back(), top_once, top_twice, bound,
                static_cast<long long>(keys));
  tutorial::print_answer(kQuestion, answer);
  // Part 2's input, both layers' outputs (eval mode) and weights, named as in PyTorch.
  std::vector<std::pair<std::string, Tensor>> saved = {
      {"heads", autograd::from_vector(std::vector<double>{double(H)}, {1})},
      {"x", x},
      {"post_output", post.forward(x).detach()},
      {"pre_output", pre.forward(x).detach()}};
  for (const auto& [name, weight] : post.named_parameters())
    saved.emplace_back("post." + name, weight.detach());
  for (const auto& [name, weight] : pre.named_parameters())
    saved.emplace_back("pre." + name, weight.detach());
  tutorial::save_npy_files(save_dir, saved);
  std::printf("\nPython twin: tutorials/python/10_encoder_layer.py (make python)\n");
  return code;
} catch (...) {
  return tutorial::report_error();
}
