// 11_decoder_layer — Write a Transformer decoder layer. What is the difference between self-
//                    and cross-attention?
//                    编写一个简单的 Transformer 解码器层函数。
//                    请解释自注意力（self-attention）和交叉注意力（cross-attention）的区别。
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
//      changing the source changes all of them; the seed article's layer (no causal mask) leaks;
//   4. cross-attention of a tiny encoder-decoder trained on the reverse task (a few seconds):
//      target position t reads source position S-1-t, an anti-diagonal (cross_attention.png).
//
// Run:  build/tutorials/11_decoder_layer   (--steps for the training; --quick for CI)
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <exception>

#include "nn/data.hpp"
#include "nn/nn.hpp"
#include "tutorials/common/layer_checks.hpp"
#include "tutorials/common/training.hpp"
#include "tutorials/common/legacy_flags.hpp"  // TEMPORARY, until this program moves to tutorial::Flags
#include "tutorials/common/tutorial.hpp"

using autograd::DType;
using autograd::Tensor;
using layer_checks::max_abs_diff;
namespace scratch = layer_checks::from_scratch;

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

// Largest |a - b| over positions [from, to) of dim 1.
double diff_positions(const Tensor& a, const Tensor& b, std::int64_t from, std::int64_t to) {
  return max_abs_diff(a.slice(1, from, to), b.slice(1, from, to));
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"11_decoder_layer: causal self-attention, cross-attention, FFN; and what differs"};
  tutorial::Options options;
  tutorial::add_common_flags(app, options);
  std::int64_t B = 2, T = 5, S = 7, E = 16, H = 4, F = 64;
  std::int64_t steps = 150, length = 8;
  app.add_option("--batch", B, "B, sequences in the batch")->capture_default_str();
  app.add_option("--tgt-len", T, "T, target positions")->capture_default_str();
  app.add_option("--src-len", S, "S, source positions (the encoder's output)")
      ->capture_default_str();
  app.add_option("--dim", E, "E, the model size")->capture_default_str();
  app.add_option("--heads", H, "H, attention heads")->capture_default_str();
  app.add_option("--ff", F, "d_ff, the feed-forward width")->capture_default_str();
  app.add_option("--steps", steps, "training steps of the tiny model in part 4")
      ->capture_default_str();
  app.add_option("--seq-len", length, "sequence length of the reverse task in part 4")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  tutorial::apply(options);
  // Everything here is tiny (the model has ~23k parameters): one thread is faster than a team
  // that must synchronise after every small op. --threads N still overrides this.
  if (options.threads == 0) omp_set_num_threads(1);
  if (options.quick) steps = std::min<std::int64_t>(steps, 60);
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
    checks.close(autograd::amax(autograd::abs(above)).item(), 0, 0.0,
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
    checks.close(max_abs_diff(mine, library), 0, 1e-12,
                 std::string(name) + ": from scratch == library");
    checks.close(std::max(max_abs_diff(scratch_weights.self, layer->last_self_attention),
                          max_abs_diff(scratch_weights.cross, layer->last_cross_attention)),
                 0, 1e-12, std::string(name) + ": self- and cross-attention weights equal too");
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
  checks.close(diff_positions(out, out_future, 0, t0), 0, 0.0,
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
      "\n  The seed article's decoder layer calls self_attention(inputs, inputs, inputs) with\n"
      "  no mask. Its layer, run the same way (tgt_is_causal = false):\n");
  nn::TransformerDecoderLayer::Masks no_mask;
  no_mask.tgt_is_causal = false;
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
    viz::Heatmap self_map =
        layer_checks::pictures::attention_map(self, "decoder self-attention (causal)",
                                              "decoder position (reads)", "decoder position (key)");
    self_map.set_row_labels(decoder_tokens).set_col_labels(decoder_tokens);
    viz::Heatmap cross_map =
        layer_checks::pictures::attention_map(cross, "cross-attention to the source",
                                              "decoder position (reads)", "source position (key)");
    cross_map.set_row_labels(decoder_tokens).set_col_labels(source_tokens);
    layer_checks::pictures::save_side_by_side(
        {self_map.render(), cross_map.render()},
        "Trained on reverse: " + task.to_text(example.source) + " -> " +
            task.to_text(example.target) + " (mean over heads)",
        options.out + "/cross_attention.png", 2);
  }

  std::printf(
      "\nWhat to notice: the only difference between the two attentions is where K and V\n"
      "come from (and the mask): the same sequence, causally, or the encoder's output, all\n"
      "of it. Cross-attention's weights are the alignment between target and source.\n");
  return checks.finish();
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 2;
}
