// 16_rnn_attention — How is attention used with an RNN (seq2seq with Bahdanau attention)?
//                    如何在循环神经网络（RNN）中实现注意力机制？
//                    (The interview article "Attention Mechanism原理与代码实例讲解——面试题和算法
//                    编程题解析" answers "combine RNN and attention" and "attention gates" in two
//                    sentences; here is the model, built and trained.)
//
// Short answer
//   An RNN encoder reads the source and leaves one hidden state per position, h_1 .. h_S (here a
//   bidirectional GRU, so h_j knows the tokens on both sides of j). Without attention the
//   decoder only gets a single fixed vector (the last states), which must hold the whole
//   sequence. With attention (Bahdanau et al., 2015) the decoder, before emitting token t, scores
//   every encoder state against its own previous state s_{t-1},
//       e_tj = v^T tanh(W_s s_{t-1} + W_h h_j),   a_t = softmax_j(e_t),   c_t = sum_j a_tj h_j,
//   and feeds the context c_t, next to the previous token, into its GRU step. The weights a_tj
//   are a soft alignment between output and input positions, learned with no alignment labels.
//
// What this program shows
//   1. a GRU cell written with library ops (two Linear layers, sigmoid, tanh), equal to the GRU
//      equations evaluated with plain loops, and its gradient checked in float64;
//   2. the encoder-decoder with additive attention (nn::AdditiveAttention) on a synthetic task:
//      reverse 8 symbols; trained with teacher forcing, decoded greedily on held-out sequences;
//   3. the same model with attention switched off (fixed context), trained the same way: what
//      attention buys, measured;
//   4. the alignment: for every output position the source position it attends to most, against
//      the mirrored position it should be; the heatmap (rnn_alignment.png) and training curves
//      (rnn_training.png).
//
// Run:  build/tutorials/16_rnn_attention   (--len, --symbols, --hidden, --steps; --quick for CI)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "nn/data.hpp"
#include "nn/nn.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/qkv_files.hpp"
#include "tutorials/common/training.hpp"
#include "tutorials/common/tutorial.hpp"
#include "viz/heatmap.hpp"

using namespace nn;
using autograd::NoGradGuard;

namespace {

// ---- a GRU cell from library ops -------------------------------------------------------------
// PyTorch's equations (torch.nn.GRUCell), x [B, I], h [B, H]:
//   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)          reset gate
//   z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)          update gate
//   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))       candidate state
//   h' = (1 - z) * n + z * h
// The three input projections are one Linear [3H, I] and the three hidden ones one Linear
// [3H, H], split into (r, z, n) blocks of rows.
class GRUCell : public Module {
 public:
  GRUCell(std::int64_t input_size, std::int64_t hidden_size, Generator& gen) : hidden_size(hidden_size) {
    input = register_module("input", std::make_shared<Linear>(input_size, 3 * hidden_size, true, gen));
    hidden = register_module("hidden", std::make_shared<Linear>(hidden_size, 3 * hidden_size, true, gen));
  }
  Tensor forward(const Tensor& x, const Tensor& h) {
    std::vector<Tensor> gi = autograd::chunk((*input)(x), 3, -1);   // 3 x [B, H]
    std::vector<Tensor> gh = autograd::chunk((*hidden)(h), 3, -1);  // 3 x [B, H]
    Tensor r = autograd::sigmoid(gi[0] + gh[0]);
    Tensor z = autograd::sigmoid(gi[1] + gh[1]);
    Tensor n = autograd::tanh(gi[2] + r * gh[2]);
    return (1.0 - z) * n + z * h;
  }
  std::string type_name() const override { return "GRUCell"; }
  std::int64_t hidden_size;
  std::shared_ptr<Linear> input, hidden;
};

// ---- the encoder-decoder -----------------------------------------------------------------------
// Letters: B batch, S source length, T target length, E embedding size, H GRU size, V vocabulary.
class Seq2Seq : public Module {
 public:
  Seq2Seq(std::int64_t vocab, std::int64_t embed_size, std::int64_t hidden_size, bool use_attention, Generator& gen)
      : use_attention(use_attention) {
    const std::int64_t E = embed_size, H = hidden_size;
    src_embed = register_module("src_embed", std::make_shared<Embedding>(vocab, E, gen));
    tgt_embed = register_module("tgt_embed", std::make_shared<Embedding>(vocab, E, gen));
    forward_gru = register_module("forward_gru", std::make_shared<GRUCell>(E, H, gen));
    backward_gru = register_module("backward_gru", std::make_shared<GRUCell>(E, H, gen));
    init = register_module("init", std::make_shared<Linear>(2 * H, H, true, gen));
    attention = register_module("attention", std::make_shared<AdditiveAttention>(H, 2 * H, H, gen));
    decoder_gru = register_module("decoder_gru", std::make_shared<GRUCell>(E + 2 * H, H, gen));
    output = register_module("output", std::make_shared<Linear>(H + 2 * H + E, vocab, true, gen));
  }

  struct Encoded {
    Tensor states;   // [B, S, 2H]: forward and backward GRU states side by side
    Tensor summary;  // [B, 2H]: last forward state and first backward state (the no-attention context)
  };
  Encoded encode(const Tensor& src) {
    const std::int64_t B = src.size(0), S = src.size(1), H = forward_gru->hidden_size;
    Tensor x = (*src_embed)(src);  // [B, S, E]
    std::vector<Tensor> fwd(S), bwd(S);
    Tensor h = autograd::zeros({B, H}, x.dtype());
    for (std::int64_t j = 0; j < S; ++j) h = fwd[j] = forward_gru->forward(x.select(1, j), h);
    h = autograd::zeros({B, H}, x.dtype());
    for (std::int64_t j = S - 1; j >= 0; --j) h = bwd[j] = backward_gru->forward(x.select(1, j), h);
    return {autograd::cat({autograd::stack(fwd, 1), autograd::stack(bwd, 1)}, -1),
            autograd::cat({fwd[S - 1], bwd[0]}, -1)};
  }

  // One decoder step: previous token [B] and state [B, H] -> logits [B, V], new state, and the
  // attention weights [B, S] (uniform-free: undefined without attention).
  struct Step {
    Tensor logits, state, weights;
  };
  Step decode_step(const Tensor& previous, const Tensor& state, const Encoded& encoded) {
    Tensor embedded = (*tgt_embed)(previous);  // [B, E]
    Tensor context, weights;
    if (use_attention) {
      // query: the decoder state before this step; keys and values: the encoder states.
      AttentionOutput attended = (*attention)(state.unsqueeze(1), encoded.states, encoded.states);
      context = attended.output.select(1, 0);  // [B, 2H] = sum_j a_j h_j
      weights = attended.weights.select(1, 0);  // [B, S]
    } else {
      context = encoded.summary;  // the same vector at every step
    }
    Tensor new_state = decoder_gru->forward(autograd::cat({embedded, context}, -1), state);
    Tensor logits = (*output)(autograd::cat({new_state, context, embedded}, -1));
    return {logits, new_state, weights};
  }

  Tensor initial_state(const Encoded& encoded) { return autograd::tanh((*init)(encoded.summary)); }

  // Teacher forcing: tgt_in [B, T] (BOS y1 y2 ...) -> logits [B, T, V].
  Tensor forward(const Tensor& src, const Tensor& tgt_in) {
    Encoded encoded = encode(src);
    Tensor state = initial_state(encoded);
    std::vector<Tensor> logits;
    for (std::int64_t t = 0; t < tgt_in.size(1); ++t) {
      Step step = decode_step(tgt_in.select(1, t), state, encoded);
      logits.push_back(step.logits);
      state = step.state;
    }
    return autograd::stack(logits, 1);
  }

  // Greedy decoding of `steps` tokens; alignments[t] = weights [B, S] of output step t.
  Tensor greedy(const Tensor& src, std::int64_t steps, std::vector<Tensor>* alignments = nullptr) {
    NoGradGuard no_grad;
    Encoded encoded = encode(src);
    Tensor state = initial_state(encoded);
    Tensor previous(tensor::full({src.size(0)}, double(data::BOS), DType::Int64));
    std::vector<Tensor> tokens;
    for (std::int64_t t = 0; t < steps; ++t) {
      Step step = decode_step(previous, state, encoded);
      previous = autograd::argmax(step.logits, -1);
      state = step.state;
      tokens.push_back(previous);
      if (alignments) alignments->push_back(step.weights);
    }
    return autograd::stack(tokens, 1);  // [B, steps]
  }

  std::string type_name() const override { return "Seq2Seq"; }
  bool use_attention;
  std::shared_ptr<Embedding> src_embed, tgt_embed;
  std::shared_ptr<GRUCell> forward_gru, backward_gru, decoder_gru;
  std::shared_ptr<Linear> init, output;
  std::shared_ptr<AdditiveAttention> attention;
};

double exact_match(Seq2Seq& model, const std::vector<data::Example>& examples) {
  data::Batch batch = data::make_batch(examples);
  std::vector<std::int64_t> tokens = model.greedy(batch.src, batch.tgt_out.size(1)).to_vector<std::int64_t>();
  const std::size_t width = batch.tgt_out.size(1);
  std::int64_t right = 0;
  for (std::size_t i = 0; i < examples.size(); ++i)
    right += tutorial::until_eos({tokens.begin() + i * width, tokens.begin() + (i + 1) * width}) == examples[i].target;
  return double(right) / double(examples.size());
}

struct Run {
  std::vector<double> losses;
  std::vector<std::pair<std::int64_t, double>> accuracy;
  double seconds = 0;
};

Run train(Seq2Seq& model, const data::Dataset& dataset, std::int64_t steps, std::int64_t batch_size, double lr,
          std::int64_t eval_every, Generator& data_gen, const std::string& name) {
  Run run;
  Adam optimizer(model.parameters(), lr);
  tutorial::Progress progress(steps);
  nn::DivergenceGuard guard(name + ": " + tutorial::lower_lr_advice(lr));  // stops on a NaN or inf
  tutorial::Stopwatch clock;
  for (std::int64_t step = 1; step <= steps; ++step) {
    data::Batch batch = data::make_batch(dataset.sample_train(batch_size, data_gen));
    Tensor logits = model.forward(batch.src, batch.tgt_in);  // [B, T, V]
    Tensor loss = autograd::cross_entropy(logits.reshape({-1, logits.size(-1)}), batch.tgt_out.reshape({-1}), data::PAD);
    optimizer.zero_grad();
    loss.backward();
    // RNNs: a long chain of products can spike. The norm before clipping is checked first.
    guard.check(step, loss.item(), clip_grad_norm_(model.parameters(), 1.0));
    optimizer.step();
    run.losses.push_back(loss.item());
    progress.update(step, loss.item(), double(batch.target_tokens) / (clock.seconds() / step));
    if (step % eval_every == 0 || step == steps) {
      double match = exact_match(model, dataset.held_out());
      run.accuracy.emplace_back(step, match);
      char line[120];
      std::snprintf(line, sizeof line, "  %s, step %lld: held-out exact match %.1f%%", name.c_str(), (long long)step, 100 * match);
      progress.note(line);
    }
  }
  progress.finish();
  run.seconds = clock.seconds();
  return run;
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "16_rnn_attention",
    .chinese = "如何在循环神经网络（RNN）中实现注意力机制？",
    .english = "How is attention implemented in a recurrent neural network (RNN)?",
    .answer = "Bahdanau attention: the RNN encoder keeps one state h_j per source position; before each\n"
              "output token the decoder scores every h_j against its previous state s_{t-1},\n"
              "e_tj = v^T tanh(W_s s_{t-1} + W_h h_j), a_t = softmax(e_t), and feeds the context\n"
              "c_t = sum_j a_tj h_j into its next GRU step. The weights a_tj are a soft alignment of\n"
              "output to input, learned with no alignment labels.",
    .article = "Attention Mechanism原理与代码实例讲解——面试题和算法编程题解析",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  std::int64_t len = 8, symbols = 10, embed_size = 32, hidden = 64, held_out = 500;
  std::int64_t steps = 200, batch_size = 64, eval_every = 25;
  double lr = 3e-3;
  bool no_baseline = false;
  flags.add("--len", len, "sequence length", tutorial::between(1, 128));
  flags.add("--symbols", symbols, "symbols in the vocabulary", tutorial::between(2, 1000));
  flags.add("--embed", embed_size, "embedding size E", tutorial::between(1, 4096));
  flags.add("--hidden", hidden, "GRU size H", tutorial::between(1, 4096));
  flags.add("--held-out", held_out, "held-out sequences", tutorial::between(1, 100000));
  flags.add("--steps", steps, "training steps (each model)", tutorial::between(1, 1000000));
  flags.add("--batch", batch_size, "sequences per step", tutorial::between(1, 16384));
  flags.add("--lr", lr, "Adam learning rate", tutorial::positive(10));
  flags.add_switch("--no-baseline", no_baseline, "skip training the model without attention");
  std::string save_dir;
  flags.add_output_folder("--save", save_dir,
                          "folder to write the trained model's weights and logits into as .npy");
  flags.parse(argc, argv);
  const bool baseline = !no_baseline;
  if (options.quick) {  // a few seconds: a small model on short sequences (flags given win)
    flags.quick(len, std::min<std::int64_t>(len, 5)), flags.quick(hidden, 16), flags.quick(embed_size, 8);
    flags.quick(held_out, 100), flags.quick(batch_size, 16);
    flags.quick(steps, std::min<std::int64_t>(steps, 20));
    eval_every = 10;
  }
  // The held-out sequences are distinct and kept out of training: at most a quarter of all inputs.
  const double distinct = std::pow(double(symbols), double(len));
  tutorial::Flags::require(double(held_out) <= distinct / 4,
                           "--held-out " + std::to_string(held_out) + " is more than a quarter of the " +
                               std::to_string(static_cast<long long>(std::min(distinct, 1e18))) +
                               " distinct inputs of --symbols " + std::to_string(symbols) + " and --len " +
                               std::to_string(len));
  tutorial::Checks checks;
  Generator gen(options.seed);

  tutorial::section("1. A GRU cell from library ops");
  {
    const std::int64_t B = 2, I = 3, H = 4;
    GRUCell cell(I, H, gen);
    cell.to(DType::Float64);
    Tensor x = autograd::randn({B, I}, gen, DType::Float64), h = autograd::randn({B, H}, gen, DType::Float64);
    Tensor h_next = cell.forward(x, h);
    // The same equations with plain loops over the weight matrices.
    auto sigmoid = [](double a) { return 1 / (1 + std::exp(-a)); };
    const Tensor &W_i = cell.input->weight, &b_i = cell.input->bias, &W_h = cell.hidden->weight, &b_h = cell.hidden->bias;
    double worst = 0;
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t u = 0; u < H; ++u) {
        double gi[3], gh[3];
        for (int g = 0; g < 3; ++g) {  // g: 0 = r, 1 = z, 2 = n (blocks of rows)
          gi[g] = b_i.at({g * H + u});
          gh[g] = b_h.at({g * H + u});
          for (std::int64_t k = 0; k < I; ++k) gi[g] += W_i.at({g * H + u, k}) * x.at({b, k});
          for (std::int64_t k = 0; k < H; ++k) gh[g] += W_h.at({g * H + u, k}) * h.at({b, k});
        }
        double r = sigmoid(gi[0] + gh[0]), z = sigmoid(gi[1] + gh[1]), n = std::tanh(gi[2] + r * gh[2]);
        worst = std::max(worst, std::fabs((1 - z) * n + z * h.at({b, u}) - h_next.at({b, u})));
      }
    std::printf("  x %s, h %s -> h' %s; parameters: input.weight %s, hidden.weight %s\n",
                tensor::shape_str(x.shape()).c_str(), tensor::shape_str(h.shape()).c_str(),
                tensor::shape_str(h_next.shape()).c_str(), tensor::shape_str(W_i.shape()).c_str(),
                tensor::shape_str(W_h.shape()).c_str());
    checks.small(worst, 1e-12, "the GRU cell equals its equations evaluated with plain loops");
    // Gradient: three steps of the cell, weighted sum of the last state, against finite differences
    // over every parameter and the input.
    Tensor x_leaf = x.detach().clone().requires_grad_();
    Tensor weights = autograd::randn({B, H}, gen, DType::Float64);
    std::vector<Tensor> leaves = cell.parameters();
    leaves.push_back(x_leaf);
    autograd::GradcheckResult result = autograd::gradcheck_leaves(
        [&] {
          Tensor state = h;
          for (int step = 0; step < 3; ++step) state = cell.forward(x_leaf * double(step + 1), state);
          return (state * weights).sum();
        },
        leaves);
    std::printf("  %s\n", result.message.c_str());
    checks.check(result.passed, "GRU backward through 3 steps agrees with finite differences (float64)");
  }

  tutorial::section("2. The task: reverse a sequence");
  data::SyntheticTask task(data::TaskKind::Reverse, symbols, len, len);
  data::Dataset dataset(task, held_out, options.seed + 1000);
  const data::Example& shown = dataset.held_out()[0];
  std::printf("  e.g. %s -> %s; %lld symbols, length %lld; %lld held-out sequences\n", task.to_text(shown.source).c_str(),
              task.to_text(shown.target).c_str(), (long long)symbols, (long long)len, (long long)held_out);

  tutorial::section("3. Training the GRU encoder-decoder with additive attention");
  Generator model_gen(options.seed + 5), data_gen(options.seed + 1);
  Seq2Seq model(task.vocab_size(), embed_size, hidden, /*use_attention=*/true, model_gen);
  std::printf("  bidirectional GRU encoder (H=%lld each way), GRU decoder, additive attention: %lld parameters\n\n",
              (long long)hidden, (long long)model.num_parameters());
  Run with_attention = train(model, dataset, steps, batch_size, lr, eval_every, data_gen, "attention");
  double accuracy = exact_match(model, dataset.held_out());
  std::printf("  with attention: held-out exact match %.1f%% after %lld steps (%.1f s)\n", 100 * accuracy,
              (long long)steps, with_attention.seconds);

  Run without;
  double accuracy_without = 0;
  if (baseline) {
    tutorial::section("4. The same model without attention (one fixed context vector)");
    Generator model_gen2(options.seed + 5), data_gen2(options.seed + 1);
    Seq2Seq plain(task.vocab_size(), embed_size, hidden, /*use_attention=*/false, model_gen2);
    without = train(plain, dataset, steps, batch_size, lr, eval_every, data_gen2, "no attention");
    accuracy_without = exact_match(plain, dataset.held_out());
    std::printf("  without attention: held-out exact match %.1f%% after %lld steps (%.1f s)\n"
                "  The fixed context must carry all %lld tokens at once; with attention each output step\n"
                "  fetches the one encoder state it needs.\n",
                100 * accuracy_without, (long long)steps, without.seconds, (long long)len);
  }

  tutorial::section("5. The alignment learned without any alignment labels");
  std::vector<Tensor> alignments;
  data::Batch all = data::make_batch(dataset.held_out());
  model.greedy(all.src, len, &alignments);  // alignments[t]: [N, S]
  // For reverse, output t should look at source position S-1-t.
  std::int64_t on_mirror = 0, total = 0;
  double mass_on_mirror = 0;
  for (std::int64_t t = 0; t < len; ++t) {
    std::vector<std::int64_t> argmax = autograd::argmax(alignments[t], -1).to_vector<std::int64_t>();
    std::vector<double> w = alignments[t].to_vector<double>();
    for (std::size_t i = 0; i < argmax.size(); ++i) {
      on_mirror += argmax[i] == len - 1 - t;
      mass_on_mirror += w[i * len + (len - 1 - t)];
      ++total;
    }
  }
  std::printf("  output step t attends most to source position S-1-t in %.1f%% of (sequence, step) pairs;\n"
              "  mean weight on that position: %.2f (uniform would be %.2f)\n",
              100.0 * on_mirror / total, mass_on_mirror / total, 1.0 / len);
  {
    // Each row of the alignment is a softmax: it sums to 1 (checked by hand).
    double worst = 0;
    for (const Tensor& a : alignments) {
      std::vector<double> w = a.to_vector<double>();
      for (std::size_t i = 0; i < w.size() / len; ++i) {
        double sum = 0;
        for (std::int64_t j = 0; j < len; ++j) sum += w[i * len + j];
        worst = std::max(worst, std::fabs(sum - 1));
      }
    }
    checks.small(worst, 1e-5, "every row of the alignment sums to 1");
  }

  tutorial::section("6. Pictures");
  {
    std::vector<Tensor> example_alignment;
    data::Batch one = data::make_batch({shown});
    std::vector<std::int64_t> output = model.greedy(one.src, len, &example_alignment).to_vector<std::int64_t>();
    std::vector<double> cells;
    for (const Tensor& a : example_alignment) {
      std::vector<double> row = a.to_vector<double>();
      cells.insert(cells.end(), row.begin(), row.end());
    }
    std::vector<std::string> source_labels, output_labels;
    for (std::int64_t s : shown.source) source_labels.push_back(task.to_text({s}));
    for (std::int64_t s : output) output_labels.push_back(task.to_text({s}));
    viz::Heatmap map(cells, (int)len, (int)len);
    map.set_title("Bahdanau attention: alignment of output to source (" + task.to_text(shown.source) + " -> " +
                  task.to_text(output) + ")")
        .set_row_labels(output_labels).set_col_labels(source_labels)
        .set_y_label("output token (greedy decoding)").set_x_label("source token")
        .set_range(0, 1).set_colorbar_label("weight a_tj");
    tutorial::save_picture(map, options, "rnn_alignment.png",
                           "a bright anti-diagonal: while writing output t the decoder attends to "
                           "source position n-1-t, the symbol it is copying");

    viz::LinePlot plot("GRU encoder-decoder on reverse: held-out exact match");
    plot.set_x_label("step").set_y_label("fraction of sequences exactly right").set_y_range(0, 1.05);
    tutorial::add_eval_curve(plot, "with attention", with_attention.accuracy);
    if (baseline) tutorial::add_eval_curve(plot, "no attention", without.accuracy);
    tutorial::save_picture(plot, options, "rnn_training.png",
                           baseline ? "with attention the exact match rises far sooner than "
                                      "without, which must squeeze the source into one vector"
                                    : "the exact match of the model with attention against the "
                                      "training steps");
  }

  tutorial::section("7. Checks");
  checks.check(with_attention.losses.back() < with_attention.losses.front(), "the training loss went down");
  if (!options.quick) {
    checks.check(accuracy >= 0.9, "with attention, held-out exact match is at least 90%");
    checks.check(double(on_mirror) / total >= 0.9, "the alignment finds the mirrored source position (>= 90%)");
    if (baseline) checks.check(accuracy > accuracy_without + 0.2, "attention beats the fixed context by > 20 points");
  }
  int code = checks.finish();
  std::printf("held-out exact match: %.1f%% with attention, %.1f%% without, %lld steps each; alignment on the mirror "
              "position %.1f%%\n", 100 * accuracy, 100 * accuracy_without, (long long)steps, 100.0 * on_mirror / total);
  char versus[64] = "";
  if (baseline) std::snprintf(versus, sizeof versus, ", against %.1f%% without attention", 100 * accuracy_without);
  char answer[600];
  std::snprintf(answer, sizeof answer,
                "A bidirectional GRU encoder, a GRU decoder that takes c_t = sum_j a_tj h_j with additive\n"
                "scores e_tj = v^T tanh(W_s s_{t-1} + W_h h_j): reversing %lld-token sequences it reached %.1f%%\n"
                "held-out exact match in %lld steps%s.\n"
                "Its alignment, learned without labels, puts the largest weight on the mirrored source\n"
                "position in %.1f%% of output steps.",
                (long long)len, 100 * accuracy, (long long)steps,
                versus,
                100.0 * on_mirror / total);
  tutorial::print_answer(kQuestion, answer);
  if (!save_dir.empty()) {
    // The trained attention model's weights (PyTorch-style names), the held-out batch and its
    // teacher-forced logits, for the numpy encoder-decoder to recompute.
    NoGradGuard no_grad;
    std::vector<std::pair<std::string, Tensor>> saved = {
        {"src", all.src}, {"tgt_in", all.tgt_in}, {"logits", model.forward(all.src, all.tgt_in)}};
    for (const auto& [name, weight] : model.named_parameters()) saved.emplace_back(name, weight);
    tutorial::save_npy_files(save_dir, saved);
  }
  std::printf("\nPython twin: tutorials/python/16_rnn_attention.py (make python)\n");
  return code;
} catch (...) {
  return tutorial::report_error();
}
