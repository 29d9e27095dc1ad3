// 11_decoder_layer — Write a simple Transformer decoder layer. What is the difference between
//                    self- and cross-attention?
//                    编写一个简单的 Transformer 解码器层函数。自注意力和交叉注意力有什么区别？
//   Asked in the interview article "深入探讨注意力模型：从基础理论到实际应用" (coding question 6);
//   parts 5 and 6 take apart its coding question 7, a Transformer whose decoder call has its
//   inputs swapped and whose softmax output a cross-entropy loss would softmax again.
//
// Short answer
//   A decoder layer has three sublayers, each with a residual connection and a LayerNorm:
//     1. causal self-attention: Q, K and V all come from the target sequence, and position t
//        may only look at positions <= t (it must not see the tokens it is learning to predict);
//     2. cross-attention: Q comes from the decoder, K and V from the encoder's output
//        ("memory"); every target position may look at every source position, so the weights
//        are T x S, not T x T, and they say which source positions each target position reads;
//     3. the position-wise feed-forward network.
//   Post-LN:  h1 = LN1(y + SelfAttn(y, causal))
//             h2 = LN2(h1 + CrossAttn(q = h1, k = v = memory))
//             out = LN3(h2 + FFN(h2))
//   Self-attention relates a sequence to itself; cross-attention relates two sequences, and is
//   the only path by which the source reaches the decoder.
//
// What this program shows
//   1. the shapes: self-attention weights [B, H, T, T], cross-attention weights [B, H, T, S];
//   2. the layer from scratch with plain ops, equal to nn::TransformerDecoderLayer (post/pre-LN);
//   3. causality: changing future target tokens leaves every earlier output exactly unchanged,
//      changing the source changes all of them; the article's layer (no causal mask) leaks;
//   4. cross-attention of a tiny encoder-decoder trained on the reverse task (a few seconds):
//      target position t reads source position S-1-t, an anti-diagonal (cross_attention.png);
//   5. the article's Transformer calls its decoder layer with the inputs swapped: the source is
//      decoded (under a causal mask) and cross-attention takes its keys from the target, so
//      every position sees the tokens it is meant to predict;
//   6. it ends in a softmax layer; a loss that expects logits applies softmax again, and the
//      gradient to the logits, p - y when done right, vanishes as the logits grow: measured
//      against its closed form and float64 finite differences.
//
// Run:  build/tutorials/11_decoder_layer   (--steps for the training; --quick for CI)

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "nn/data.hpp"
#include "nn/nn.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/qkv_files.hpp"
#include "tutorials/common/reference.hpp"
#include "tutorials/common/training.hpp"
#include "tutorials/common/tutorial.hpp"

using autograd::DType;
using autograd::Tensor;
using tutorial::max_abs_diff;
namespace scratch = tutorial::from_scratch;

namespace {

nn::LayerConfig make_config(std::int64_t d_model, std::int64_t heads, std::int64_t d_ff,
                            bool norm_first) {
  nn::LayerConfig c;
  c.d_model = d_model;
  c.nhead = heads;
  c.dim_feedforward = d_ff;
  c.dropout = 0.0;
  c.norm_first = norm_first;
  return c;
}

struct DecoderWeights {
  Tensor self, cross;  // [B, H, T, T], [B, H, T, S]
};

// The decoder layer from scratch (no dropout), with the weights of `layer`.
Tensor decoder_layer_from_scratch(const nn::TransformerDecoderLayer& layer, const Tensor& y,
                                  const Tensor& memory, DecoderWeights& weights) {
  const std::int64_t T = y.size(1);
  Tensor future = nn::causal_mask(T, T);         // [T, T], true where key j > query i
  auto self_attention = [&](const Tensor& in) {  // Q, K, V all from the target side
    return scratch::multihead_attention(*layer.self_attn, in, in, future, &weights.self);
  };
  auto cross_attention = [&](const Tensor& in) {  // Q from the target, K and V from the memory
    return scratch::multihead_attention(*layer.multihead_attn, in, memory, Tensor(),
                                        &weights.cross);
  };
  auto ffn = [&](const Tensor& in) {
    return scratch::feed_forward(*layer.linear1, *layer.linear2, in);
  };
  auto norm = [](const nn::LayerNorm& ln, const Tensor& in) { return scratch::layer_norm(ln, in); };
  if (!layer.config.norm_first) {
    Tensor h1 = norm(*layer.norm1, y + self_attention(y));
    Tensor h2 = norm(*layer.norm2, h1 + cross_attention(h1));  // queries from h1, not from y
    return norm(*layer.norm3, h2 + ffn(h2));
  }
  Tensor h1 = y + self_attention(norm(*layer.norm1, y));
  Tensor h2 = h1 + cross_attention(norm(*layer.norm2, h1));
  return h2 + ffn(norm(*layer.norm3, h2));
}

// Part 6, by plain loops in float64: -log softmax(row)[target], the max subtracted for stability.
double nll_of_logits(const std::vector<double>& row, std::int64_t target) {
  double top = *std::max_element(row.begin(), row.end()), sum = 0;
  for (double v : row) sum += std::exp(v - top);
  return -(row[target] - top - std::log(sum));
}

// The mean over rows of the loss as written right (cross-entropy on the logits z) or as the
// article's model gets it (cross-entropy on p = softmax(z), which log-softmaxes p again).
// z holds rows of `classes` logits.
double mean_loss_by_loops(const std::vector<double>& z, const std::vector<std::int64_t>& targets,
                          std::int64_t classes, bool softmax_first) {
  double total = 0;
  for (std::size_t r = 0; r < targets.size(); ++r) {
    std::vector<double> row(z.begin() + r * classes, z.begin() + (r + 1) * classes);
    total += nll_of_logits(softmax_first ? tutorial::softmax_by_loop(row) : row, targets[r]);
  }
  return total / double(targets.size());
}

// Largest |a - b| over positions [from, to) of dim 1.
double diff_positions(const Tensor& a, const Tensor& b, std::int64_t from, std::int64_t to) {
  return max_abs_diff(a.slice(1, from, to), b.slice(1, from, to));
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "11_decoder_layer",
    .chinese = "编写一个简单的 Transformer 解码器层函数。自注意力和交叉注意力有什么区别？",
    .english = "Write a simple Transformer decoder layer. How do self- and cross-attention differ?",
    .answer = "Three sublayers, each with a residual and a LayerNorm: causal self-attention over the\n"
              "target (Q, K, V from it; position t sees only <= t), cross-attention (Q from the decoder,\n"
              "K and V from the encoder's output, all source positions visible, weights T x S), and\n"
              "the FFN. The layer takes (target, memory) in that order, and a softmax output layer\n"
              "must not be followed by a loss that applies softmax again.",
    .article = "深入探讨注意力模型：从基础理论到实际应用",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  std::int64_t B = 2, T = 5, S = 7, E = 16, H = 4, F = 64;
  std::int64_t steps = 150, length = 8;
  flags.add("--batch", B, "B, sequences in the batch", tutorial::between(1, 64));
  // At least 2: part 3 changes the second half of the target and looks at the first.
  flags.add("--tgt-len", T, "T, target positions", tutorial::between(2, 512));
  flags.add("--src-len", S, "S, source positions (the encoder's output)", tutorial::between(2, 512));
  // At least 4: a post-LN LayerNorm over 1 feature outputs 0 whatever comes in.
  flags.add("--dim", E, "E, the model size", tutorial::between(4, 1024));
  flags.add("--heads", H, "H, attention heads (must divide --dim)", tutorial::between(1, 1024));
  flags.add("--ff", F, "d_ff, the feed-forward width", tutorial::between(1, 8192));
  flags.add("--steps", steps, "training steps of the tiny model in part 4", tutorial::between(1, 100000));
  flags.add("--seq-len", length, "sequence length of the reverse task in part 4", tutorial::between(1, 64));
  std::string save_dir;
  flags.add_output_folder("--save", save_dir,
                          "folder to write inputs, weights and outputs into as .npy (Python twin)");
  flags.parse(argc, argv);
  tutorial::Flags::require(E % H == 0, "--heads " + std::to_string(H) + " does not divide --dim " +
                                           std::to_string(E));
  flags.quick(steps, 60);
  tutorial::Checks checks;
  tensor::Generator gen(options.seed);

  tutorial::section("1. Self-attention vs cross-attention: where Q, K, V come from");
  nn::TransformerDecoderLayer post(make_config(E, H, F, false), gen);
  nn::TransformerDecoderLayer pre(make_config(E, H, F, true), gen);
  for (auto* layer : {&post, &pre}) {
    layer->to(DType::Float64);
    layer->eval();
    layer->keep_attention = true;  // keep the per-head weights of the last forward
  }
  Tensor y = autograd::randn({B, T, E}, gen, DType::Float64);       // the target side
  Tensor memory = autograd::randn({B, S, E}, gen, DType::Float64);  // the encoder's output
  Tensor out = post.forward(y, memory);
  std::printf("  target y %s, memory (encoder output) %s\n", tensor::shape_str(y.shape()).c_str(),
              tensor::shape_str(memory.shape()).c_str());
  std::printf("  self-attention  Q, K, V from y:                 weights %s  (T x T, causal)\n",
              tensor::shape_str(post.last_self_attention.shape()).c_str());
  std::printf(
      "  cross-attention Q from y, K and V from memory:  weights %s  (T x S, all visible)\n",
      tensor::shape_str(post.last_cross_attention.shape()).c_str());
  std::printf(
      "  output                                          %s  (one vector per target position)\n",
      tensor::shape_str(out.shape()).c_str());
  checks.check(post.last_self_attention.shape() == autograd::Shape{B, H, T, T} &&
                   post.last_cross_attention.shape() == autograd::Shape{B, H, T, S},
               "self-attention weights are T x T, cross-attention weights T x S");
  {
    // In the self-attention weights everything above the diagonal is exactly 0.
    Tensor above = autograd::masked_fill(post.last_self_attention,
                                         autograd::logical_not(nn::causal_mask(T, T)), 0.0);
    checks.small(autograd::amax(autograd::abs(above)).item(), 0.0,
                 "no self-attention weight on a future position");
  }

  tutorial::section("2. From scratch with plain ops, equal to nn::TransformerDecoderLayer");
  std::printf(
      "  post-LN:  h1 = LN1(y + SelfAttn(y, causal))\n"
      "            h2 = LN2(h1 + CrossAttn(q = h1, k = v = memory))\n"
      "            out = LN3(h2 + FFN(h2))\n"
      "  pre-LN:   h1 = y + SelfAttn(LN1(y)); h2 = h1 + CrossAttn(LN2(h1), memory);\n"
      "            out = h2 + FFN(LN3(h2))\n\n");
  for (auto* layer : {&post, &pre}) {
    const char* name = layer->config.norm_first ? "pre-LN" : "post-LN";
    DecoderWeights scratch_weights;
    Tensor mine = decoder_layer_from_scratch(*layer, y, memory, scratch_weights);
    Tensor library = layer->forward(y, memory);
    checks.same(mine, library, 1e-12, std::string(name) + ": from scratch == library");
    checks.small(std::max(max_abs_diff(scratch_weights.self, layer->last_self_attention),
                          max_abs_diff(scratch_weights.cross, layer->last_cross_attention)),
                 1e-12, std::string(name) + ": self- and cross-attention weights equal too");
  }

  tutorial::section("3. Causality: the future cannot leak into the past");
  const std::int64_t t0 = T / 2;
  Tensor changed_future = y.clone();
  changed_future.data().slice(1, t0, T).copy_(tensor::randn({B, T - t0, E}, gen, DType::Float64));
  Tensor out_future = post.forward(changed_future, memory);
  std::printf("  target positions %lld..%lld replaced by new random vectors:\n",
              static_cast<long long>(t0), static_cast<long long>(T - 1));
  std::printf("    outputs at positions 0..%lld change by %.1e\n", static_cast<long long>(t0 - 1),
              diff_positions(out, out_future, 0, t0));
  std::printf("    outputs at positions %lld..%lld change by %.3f\n", static_cast<long long>(t0),
              static_cast<long long>(T - 1), diff_positions(out, out_future, t0, T));
  checks.small(diff_positions(out, out_future, 0, t0), 0.0,
               "earlier outputs are exactly unchanged (the future gets weight 0)");
  checks.check(diff_positions(out, out_future, t0, T) > 1e-3, "later outputs do change");
  Tensor changed_source = memory.clone();
  changed_source.data().select(1, S - 1).copy_(tensor::randn({B, E}, gen, DType::Float64));
  Tensor out_source = post.forward(y, changed_source);
  std::printf("  the last SOURCE position changed: position 0's output changes by %.3f\n",
              diff_positions(out, out_source, 0, 1));
  checks.check(diff_positions(out, out_source, 0, 1) > 1e-3,
               "cross-attention has no causal mask: every target position sees the whole source");

  std::printf(
      "\n  The article's decoder layer calls self_attention(inputs, inputs, inputs) with\n"
      "  no mask. Its layer, run the same way (self-attention masks {.is_causal = false}):\n");
  const nn::AttentionMasks no_mask{.is_causal = false};
  Tensor leaky = post.forward(y, memory, no_mask),
         leaky_future = post.forward(changed_future, memory, no_mask);
  std::printf("    outputs at positions 0..%lld change by %.3f when the future changes\n",
              static_cast<long long>(t0 - 1), diff_positions(leaky, leaky_future, 0, t0));
  checks.check(diff_positions(leaky, leaky_future, 0, t0) > 1e-3,
               "without the causal mask the past depends on the future: training would cheat");
  std::printf(
      "  Two more slips in that layer: its cross-attention takes its queries from `inputs`\n"
      "  instead of the self-attention sublayer's output (so what self-attention gathered\n"
      "  never shapes what is looked up in the source), and its FFN residual has no third\n"
      "  LayerNorm although the other two sublayers are post-LN.\n");

  tutorial::section("4. Cross-attention of a tiny trained model: which source position is read");
  namespace data = nn::data;
  data::SyntheticTask task(data::TaskKind::Reverse, 8, length, length);
  nn::TransformerConfig model_config;
  model_config.src_vocab = model_config.tgt_vocab = task.vocab_size();
  model_config.max_len = length + 2;
  model_config.layer = make_config(32, 2, 64, false);
  model_config.num_encoder_layers = model_config.num_decoder_layers = 1;
  tensor::Generator model_gen(options.seed + 1), data_gen(options.seed + 2);
  nn::Transformer model(model_config, model_gen);
  nn::Adam optimizer(model.parameters(), 3e-3);
  std::printf(
      "  reverse sequences of %lld tokens; 1 encoder + 1 decoder layer, d_model 32, 2 heads\n"
      "  (%lld parameters); %lld Adam steps of 64 sequences\n",
      static_cast<long long>(length), static_cast<long long>(model.num_parameters()),
      static_cast<long long>(steps));
  tutorial::Stopwatch clock;
  double first_loss = 0, last_loss = 0;
  for (std::int64_t step = 0; step < steps; ++step) {
    std::vector<data::Example> examples;
    for (int i = 0; i < 64; ++i) examples.push_back(task.sample(data_gen));
    data::Batch batch = data::make_batch(examples);
    Tensor logits = model.forward(batch.src, batch.tgt_in, batch.src_padding, batch.tgt_padding);
    Tensor loss = autograd::cross_entropy(logits.reshape({-1, logits.size(-1)}),
                                          batch.tgt_out.reshape({-1}), data::PAD);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step == 0) first_loss = loss.item();
    last_loss = loss.item();
  }
  std::printf("  loss %.3f -> %.3f in %.1f s\n", first_loss, last_loss, clock.seconds());

  data::Example example = task.sample(data_gen);
  data::Batch one = data::make_batch({example});
  model.eval();
  model.keep_attention(true);
  model.forward(one.src, one.tgt_in, one.src_padding, one.tgt_padding);
  nn::TransformerDecoderLayer& decoder_layer = (*model.decoder->layers)[0];
  Tensor cross =
      decoder_layer.last_cross_attention.mean({1}).select(0, 0);  // [T+1, S], mean over heads
  std::printf("  source %s -> target %s\n", task.to_text(example.source).c_str(),
              task.to_text(example.target).c_str());
  std::printf(
      "  Decoder position t reads <bos> y_1..y_t and predicts y_(t+1) = x_(S-1-t); the direct\n"
      "  way to get it is to look at source position S-1-t. Did training find that?\n\n"
      "  t   most-attended source position   weight (mean over heads)\n");
  std::int64_t aligned = 0;
  for (std::int64_t t = 0; t < length; ++t) {
    Tensor row = cross.select(0, t);
    std::int64_t best = autograd::argmax(row, 0).to_vector<std::int64_t>()[0];
    aligned += best == length - 1 - t;
    std::printf("  %lld   %lld (want %lld)                     %.2f\n", static_cast<long long>(t),
                static_cast<long long>(best), static_cast<long long>(length - 1 - t),
                row.at({best}));
  }
  checks.check(last_loss < 0.1 * first_loss, "training lowered the loss more than tenfold");
  checks.check(aligned == length,
               "cross-attention follows the anti-diagonal: target t reads source S-1-t");
  {
    // Tokens as "position:symbol" so that repeated symbols stay apart.
    auto labels = [&](const Tensor& ids) {
      std::vector<std::string> out;
      std::vector<std::int64_t> tokens = ids.select(0, 0).to_vector<std::int64_t>();
      for (std::size_t i = 0; i < tokens.size(); ++i)
        out.push_back(std::to_string(i) + ":" + task.to_text({tokens[i]}));
      return out;
    };
    std::vector<std::string> decoder_tokens = labels(one.tgt_in), source_tokens = labels(one.src);
    // Self-attention: blocked (future) cells as NaN, which the heatmap hatches.
    Tensor self = decoder_layer.last_self_attention.mean({1}).select(0, 0);  // [T+1, T+1]
    Tensor future = nn::causal_mask(self.size(0), self.size(0));
    self = autograd::masked_fill(self, future, NAN);
    viz::HeatmapGrid maps(2);
    maps.set_title("Trained on reverse: " + task.to_text(example.source) + " -> " +
                   task.to_text(example.target) + " (mean over heads)")
        .set_range(0, 1)
        .set_colorbar_label("weight")
        .set_masked_label("blocked (the future): weight 0")
        .set_y_label("decoder position (reads)")
        .set_x_label("key: decoder position (left), source position (right)");
    maps.add_panel("decoder self-attention (causal)", self.to_vector<double>(),
                   static_cast<int>(self.size(0)), static_cast<int>(self.size(1)), decoder_tokens,
                   decoder_tokens);
    maps.add_panel("cross-attention to the source", cross.to_vector<double>(),
                   static_cast<int>(cross.size(0)), static_cast<int>(cross.size(1)),
                   decoder_tokens, source_tokens);
    tutorial::save_picture(maps, options, "cross_attention.png",
                           "left: hatched upper triangle, the future no position may read; "
                           "right: a bright anti-diagonal, target t reading source S-1-t");
  }

  tutorial::section("5. The article's Transformer, 1: the decoder's inputs swapped");
  std::printf(
      "  The article's coding question 7 (a Keras Transformer) runs its decoder layers as\n"
      "      decoder_outputs = encoder_outputs\n"
      "      for decoder_layer in self.decoder_layers:\n"
      "          decoder_outputs = decoder_layer(inputs, decoder_outputs, training=training)\n"
      "  while its decoder layer is call(self, inputs, encoder_outputs): the first argument is\n"
      "  the sequence being decoded, the second the memory cross-attention reads. The running\n"
      "  decoder stream goes where the memory belongs, and the embedded source where the\n"
      "  decoded sequence belongs (every layer restarts from it; there is no target input at\n"
      "  all). With a target y and the encoder output m the right call is layer(y, m); with\n"
      "  the two swapped, layer(m, y), cross-attention reads the target instead of the source.\n\n");
  Tensor right_output = post.forward(y, memory);
  Tensor right_cross = post.last_cross_attention;
  Tensor swapped = post.forward(memory, y);  // the article's order
  Tensor swapped_cross = post.last_cross_attention;
  std::printf("  right    layer(y, m): output %s, cross-attention weights %s (T x S)\n",
              tensor::shape_str(right_output.shape()).c_str(),
              tensor::shape_str(right_cross.shape()).c_str());
  std::printf("  swapped  layer(m, y): output %s, cross-attention weights %s (S x T)\n",
              tensor::shape_str(swapped.shape()).c_str(),
              tensor::shape_str(swapped_cross.shape()).c_str());
  checks.check(swapped.shape() == autograd::Shape{B, S, E} &&
                   swapped_cross.shape() == autograd::Shape{B, H, S, T},
               "swapped, the layer returns one vector per SOURCE position and its cross-attention "
               "is S x T");
  {
    // Which tensor do the swapped cross-attention's keys come from? Redo the sublayers by hand:
    // the causal self-attention now runs over the source m; its result queries the keys.
    Tensor h1 = scratch::layer_norm(
        *post.norm1, memory + scratch::multihead_attention(*post.self_attn, memory, memory,
                                                           nn::causal_mask(S, S)));
    Tensor keys_from_target;  // [B, H, S, T]: k = y W_k^T + b_k
    scratch::multihead_attention(*post.multihead_attn, h1, y, Tensor(), &keys_from_target);
    checks.same(swapped_cross, keys_from_target, 1e-12,
                "its cross-attention weights are softmax(q k^T / sqrt(D)) with k = y W_k^T + b_k: "
                "the keys come from the target, not the encoder");
  }
  // What that does to training: position 0 now sees the target tokens it is meant to predict,
  // while the source, run through the causal self-attention, loses its own future.
  Tensor swapped_future = post.forward(memory, changed_future);
  Tensor swapped_source = post.forward(changed_source, y);
  const double leak = diff_positions(swapped, swapped_future, 0, 1);
  const double source_hidden = diff_positions(swapped, swapped_source, 0, S - 1);
  std::printf("  target positions %lld..%lld changed: swapped output at position 0 changes by %.3f\n",
              static_cast<long long>(t0), static_cast<long long>(T - 1), leak);
  std::printf("  last source position changed: swapped outputs 0..%lld change by %.1e\n",
              static_cast<long long>(S - 2), source_hidden);
  checks.check(leak > 1e-3, "swapped, every position reads the whole target, the future included");
  checks.small(source_hidden, 0.0,
               "swapped, the causal mask hides later SOURCE positions from earlier ones");
  std::printf(
      "  The right order keeps both properties of part 3: the target causal, the source all\n"
      "  visible. Swapped, the model would learn to copy the answer from the target, and at\n"
      "  generation time, when the target is not there yet, it would have nothing to copy.\n");

  tutorial::section("6. The article's Transformer, 2: softmax, then a loss that applies it again");
  std::printf(
      "  Its last layer is Dense(VOCAB_SIZE, activation='softmax'): it outputs p = softmax(z).\n"
      "  A loss that expects logits (PyTorch's CrossEntropyLoss, Keras's from_logits=True)\n"
      "  computes -log softmax(p)[y]: softmax twice. (Keras's default from_logits=False takes\n"
      "  log p and is right; PyTorch has no such switch.) The gradient to the logits z:\n"
      "    right:    L = -log softmax(z)[y]          dL/dz = p - e_y\n"
      "    article:  L = -log softmax(p)[y]          dL/dp = q - e_y, q = softmax(p)\n"
      "              dL/dz = J_softmax(z)^T (q - e_y) = p * (u - <p, u>),  u = q - e_y\n"
      "  Both are averaged over the rows (the mean of the losses). When the logits grow, p\n"
      "  saturates, J_softmax(z) = diag(p) - p p^T goes to 0, and so does the article's gradient.\n\n");
  const std::int64_t rows = 4, classes = 10;
  // Logits: each row a shuffle of 0, 2/9, 4/9, ..., 2 (neighbours 2/9 apart), times a scale; the
  // target is the LOWEST logit: a wrong answer, held more confidently as the scale grows.
  tensor::Generator loss_gen(options.seed + 5);
  std::vector<double> base(rows * classes);
  std::vector<std::int64_t> wrong_targets(rows), right_targets(rows);
  for (std::int64_t r = 0; r < rows; ++r) {
    std::vector<std::int64_t> order = Tensor(tensor::randperm(classes, loss_gen)).to_vector<std::int64_t>();
    for (std::int64_t j = 0; j < classes; ++j) base[r * classes + j] = 2.0 * double(order[j]) / double(classes - 1);
    wrong_targets[r] = std::min_element(order.begin(), order.end()) - order.begin();
    right_targets[r] = std::max_element(order.begin(), order.end()) - order.begin();
  }
  // The gradient of the mean loss by autograd, with or without the extra softmax.
  auto autograd_gradient = [&](const std::vector<double>& z, const std::vector<std::int64_t>& targets,
                               bool softmax_first, double* loss_value) {
    Tensor logits = autograd::from_vector(z, {rows, classes});
    logits.requires_grad_();
    Tensor input = softmax_first ? autograd::softmax(logits, -1) : logits;
    Tensor loss = autograd::cross_entropy(input, autograd::from_vector(targets, {rows}));
    loss.backward();
    *loss_value = loss.item();
    return logits.grad().to_vector<double>();
  };
  // The closed forms above, by loops.
  auto closed_gradient = [&](const std::vector<double>& z, const std::vector<std::int64_t>& targets,
                             bool softmax_first) {
    std::vector<double> gradient(z.size());
    for (std::int64_t r = 0; r < rows; ++r) {
      std::vector<double> p = tutorial::softmax_by_loop(
          std::vector<double>(z.begin() + r * classes, z.begin() + (r + 1) * classes));
      std::vector<double> u = softmax_first ? tutorial::softmax_by_loop(p) : p;  // q, or p
      u[targets[r]] -= 1.0;                                                       // - e_y
      double p_dot_u = 0;
      for (std::int64_t j = 0; j < classes; ++j) p_dot_u += p[j] * u[j];
      for (std::int64_t j = 0; j < classes; ++j)
        gradient[r * classes + j] = (softmax_first ? p[j] * (u[j] - p_dot_u) : u[j]) / double(rows);
    }
    return gradient;
  };
  // Central finite differences of the loops' loss, float64.
  auto finite_difference_gradient = [&](std::vector<double> z, const std::vector<std::int64_t>& targets,
                                        bool softmax_first) {
    const double h = 1e-5;  // truncation ~h^2, rounding ~1e-16 * |loss| / h: both far below 1e-7
    std::vector<double> gradient(z.size());
    for (std::size_t i = 0; i < z.size(); ++i) {
      const double saved = z[i];
      z[i] = saved + h;
      double up = mean_loss_by_loops(z, targets, classes, softmax_first);
      z[i] = saved - h;
      double down = mean_loss_by_loops(z, targets, classes, softmax_first);
      z[i] = saved;
      gradient[i] = (up - down) / (2 * h);
    }
    return gradient;
  };
  auto norm = [](const std::vector<double>& v) {
    double squared = 0;
    for (double x : v) squared += x * x;
    return std::sqrt(squared);
  };
  auto largest_gap = [](const std::vector<double>& a, const std::vector<double>& b) {
    double gap = 0;
    for (std::size_t i = 0; i < a.size(); ++i) gap = std::max(gap, std::fabs(a[i] - b[i]));
    return gap;
  };
  std::printf(
      "  %lld rows of %lld logits; target = the lowest logit (a confident wrong answer)\n\n"
      "  logit scale   loss: right   article   |dL/dz|: right    article   article / right\n",
      static_cast<long long>(rows), static_cast<long long>(classes));
  double closed_error = 0, finite_error = 0, ratio_at_top = 0, norm_right_top = 0, norm_article_top = 0;
  double ratio_at_one = 0, article_loss_first = 0, article_loss_last = 0;
  for (double scale : {0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0}) {
    std::vector<double> z(base.size());
    for (std::size_t i = 0; i < z.size(); ++i) z[i] = scale * base[i];
    double loss_right = 0, loss_article = 0;
    std::vector<double> right = autograd_gradient(z, wrong_targets, false, &loss_right);
    std::vector<double> article = autograd_gradient(z, wrong_targets, true, &loss_article);
    for (bool softmax_first : {false, true}) {
      const std::vector<double>& got = softmax_first ? article : right;
      std::vector<double> fd = finite_difference_gradient(z, wrong_targets, softmax_first);
      closed_error = std::max(closed_error, largest_gap(got, closed_gradient(z, wrong_targets, softmax_first)));
      finite_error = std::max(finite_error, largest_gap(got, fd));
    }
    norm_right_top = norm(right), norm_article_top = norm(article);
    ratio_at_top = norm_article_top / norm_right_top;
    if (scale == 1.0) ratio_at_one = ratio_at_top;
    if (scale == 0.5) article_loss_first = loss_article;
    article_loss_last = loss_article;
    std::printf("  %11.1f   %11.3f   %7.3f   %13.3e   %9.3e   %15.2e\n", scale, loss_right,
                loss_article, norm_right_top, norm_article_top, ratio_at_top);
  }
  std::printf(
      "\n  The wrong answer grows ever more confident, yet the article's loss barely moves\n"
      "  (%.3f -> %.3f): q = softmax(p) sees inputs in [0, 1] and stays near uniform. Even at\n"
      "  logit scale 1 its gradient is %.1f%% of the right one; at scale 64 nothing is left.\n\n",
      article_loss_first, article_loss_last, 100 * ratio_at_one);
  checks.small(closed_error, 1e-12,
               "autograd's gradients equal the closed forms p - e_y and J^T (q - e_y), at every scale");
  checks.small(finite_error, 1e-7,
               "and float64 central finite differences of the loss written as loops");
  checks.check(ratio_at_top < 1e-4,
               "at logit scale 64 the extra softmax leaves under 1e-4 of the gradient: the wrong "
               "answer is no longer corrected");
  // A confident RIGHT answer: the correct loss goes to 0, the article's stops at a floor.
  std::vector<double> confident(base.size());
  for (std::size_t i = 0; i < confident.size(); ++i) confident[i] = 64.0 * base[i];
  double right_loss = 0, article_loss = 0;
  autograd_gradient(confident, right_targets, false, &right_loss);
  autograd_gradient(confident, right_targets, true, &article_loss);
  const double loss_floor = std::log(1.0 + double(classes - 1) / std::exp(1.0));
  std::printf(
      "  And a confident RIGHT answer (target = the highest logit, scale 64): the right loss is\n"
      "  %.2e; the article's is %.4f, its floor -log(e / (e + n - 1)) = log(1 + (n-1)/e) = %.4f\n"
      "  for n = %lld: even a perfect model cannot push it lower.\n",
      right_loss, article_loss, loss_floor, static_cast<long long>(classes));
  checks.close(article_loss, loss_floor, 1e-5,
               "softmax twice: the loss of a confident right answer is log(1 + (n-1)/e)");

  std::printf(
      "\nWhat to notice: the only difference between the two attentions is where K and V\n"
      "come from (and the mask): the same sequence, causally, or the encoder's output, all\n"
      "of it. Cross-attention's weights are the alignment between target and source.\n");
  int code = checks.finish();
  char answer[900];
  std::snprintf(answer, sizeof answer,
                "Causal self-attention over the target (weights T x T, nothing above the diagonal),\n"
                "cross-attention with queries from the decoder and keys/values from the encoder output\n"
                "(T x S, all visible), then the FFN; from scratch it matched the library. Trained on\n"
                "reversal, target t read source S-1-t at %lld of %lld positions. Called with its inputs\n"
                "swapped, the layer read its keys from the target (position 0 changed by %.3f when the\n"
                "future target did). Softmax before a logits loss left %.1e of the gradient at scale 64.",
                static_cast<long long>(aligned), static_cast<long long>(length), leak, ratio_at_top);
  tutorial::print_answer(kQuestion, answer);
  // Part 1's target and memory, both layers' outputs (eval mode, causal) and weights, named as in
  // PyTorch.
  std::vector<std::pair<std::string, Tensor>> saved = {
      {"heads", autograd::from_vector(std::vector<double>{double(H)}, {1})},
      {"y", y},
      {"memory", memory},
      {"post_output", post.forward(y, memory).detach()},
      {"pre_output", pre.forward(y, memory).detach()}};
  for (const auto& [name, weight] : post.named_parameters())
    saved.emplace_back("post." + name, weight.detach());
  for (const auto& [name, weight] : pre.named_parameters())
    saved.emplace_back("pre." + name, weight.detach());
  tutorial::save_npy_files(save_dir, saved);
  std::printf("\nPython twin: tutorials/python/11_decoder_layer.py (make python)\n");
  return code;
} catch (...) {
  return tutorial::report_error();
}
