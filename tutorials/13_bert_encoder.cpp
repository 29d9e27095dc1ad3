// 13_bert_encoder — Write a simple BERT model: how does an encoder-only model work?
//                   编写一个简单的 BERT 模型函数。
//   Asked in the interview article "深入探讨注意力模型：从基础理论到实际应用" (coding question 8).
//   Its answer stacks decoder layers on the encoder and ends in a softmax over the vocabulary
//   for a classification question; BERT has no decoder at all.
//
// Short answer
//   BERT is a stack of Transformer encoder layers and nothing else: self-attention with no causal
//   mask, so every position sees the whole sequence in both directions. A special [CLS] token is
//   put in front of every input; after the last layer its hidden state has attended to all the
//   tokens, and a small classifier on that one vector ("[CLS] pooling") answers questions about
//   the whole sequence. Padding positions are masked out of attention so they change nothing.
//   Pre-training teaches the encoder with masked-token prediction (MLM): hide 15% of the tokens
//   (80% replaced by [MASK], 10% by a random token, 10% left as they are) and predict them, with
//   the loss only on those positions; fine-tuning then trains the [CLS] classifier on the task.
//
// What this program shows
//   1. the task: "are there more a's or more b's?" on sequences of 8..16 symbols (a, b and
//      distractors) — the answer depends on tokens anywhere in the sequence, and only a's and b's
//      matter, so we know where a good [CLS] should look;
//   2. the model: nn::BertEncoder (post-LN, like BERT); bidirectional (changing the LAST token
//      changes the [CLS] state, which a causal GPT could not do) and padding-proof (extra [PAD]s
//      leave the [CLS] logits unchanged);
//   3. [CLS] pooling = a Linear on hidden[:, 0], checked against plain loops;
//   4. training the classifier from scratch, with held-out accuracy as it goes;
//   5. the accuracy reached, split by how close the vote was (|#a - #b| = 1 is the hard case);
//   6. where [CLS] attends: the share of its attention on a's and b's against their share of the
//      tokens, and pictures (bert_training.png, bert_cls_attention.png, bert_attention_example.png);
//   7. the MLM objective: the 15% / 80-10-10 masking counted on a batch, and the loss over masked
//      positions only, checked against a hand-written loop.
//
// Run:  build/tutorials/13_bert_encoder   (--steps, --d-model, --layers, --heads; --quick for CI)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/tasks.hpp"
#include "tutorials/common/training.hpp"
#include "tutorials/common/tutorial.hpp"
#include "viz/heatmap.hpp"

using namespace nn;
using autograd::NoGradGuard;
using tutorial::MajorityTask;

namespace {

// How many different sequences the task can draw: over `symbols` symbols, of each length in
// min_len..max_len, those with #a != #b (a tie has no answer). Capped at 1e15.
double distinct_sequences(std::int64_t symbols, std::int64_t min_len, std::int64_t max_len) {
  const double others = double(symbols - 2), cap = 1e15;
  double count = 0;
  for (std::int64_t len = min_len; len <= max_len && count < cap; ++len) {
    double all = std::pow(double(symbols), double(len));
    if (all >= cap) return cap;  // (and before an inf minus inf)
    // Ties: k a's, k b's and len - 2k others, in C(len, k) C(len - k, k) arrangements.
    double ties = 0;
    for (std::int64_t k = 0; 2 * k <= len; ++k) {
      double arrangements = 1;  // C(len, k) * C(len - k, k), built up term by term
      for (std::int64_t i = 0; i < k; ++i)
        arrangements *= double(len - i) / double(i + 1) * double(len - k - i) / double(i + 1);
      ties += arrangements * std::pow(others, double(len - 2 * k));
    }
    count += all - ties;
  }
  return std::min(count, cap);
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "13_bert_encoder",
    .chinese = "编写一个简单的 BERT 模型函数。",
    .english = "Write a simple BERT model: how does an encoder-only model work?",
    .answer = "A stack of Transformer encoder layers and nothing else (no decoder): self-attention with\n"
              "no causal mask, so every position sees the whole sequence both ways, padding masked out.\n"
              "A [CLS] token in front gathers the sequence; a Linear on its last hidden state classifies\n"
              "it. Pre-training: masked-token prediction (15% picked; 80% [MASK], 10% random, 10% kept).",
    .article = "深入探讨注意力模型：从基础理论到实际应用",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  std::int64_t symbols = 8, min_len = 8, max_len = 16, held_out = 1000;
  std::int64_t d_model = 64, heads = 4, layers = 2, d_ff = 128;
  std::int64_t batch_size = 64, steps = 500, eval_every = 10;
  double lr = 1e-3, target = 0.99;
  flags.add("--symbols", symbols, "symbols: a, b and symbols-2 distractors", tutorial::between(2, 26));
  flags.add("--min-len", min_len, "shortest sequence (without [CLS])", tutorial::between(1, 256));
  flags.add("--max-len", max_len, "longest sequence (without [CLS])", tutorial::between(1, 256));
  // At least 4: part 3 checks the classifier on four held-out sequences.
  flags.add("--held-out", held_out, "held-out sequences for evaluation", tutorial::between(4, 100000));
  // At least 4: a post-LN LayerNorm over 1 feature outputs 0 whatever comes in.
  flags.add("--d-model", d_model, "model width", tutorial::between(4, 4096));
  flags.add("--heads", heads, "attention heads (must divide --d-model)", tutorial::between(1, 256));
  flags.add("--layers", layers, "encoder layers", tutorial::between(1, 64));
  flags.add("--d-ff", d_ff, "feed-forward width", tutorial::between(1, 65536));
  flags.add("--batch", batch_size, "sequences per step", tutorial::between(1, 65536));
  flags.add("--steps", steps, "most training steps", tutorial::between(1, 1000000));
  flags.add("--lr", lr, "Adam learning rate", tutorial::positive(10));
  // Above 0: a target of 0 would be reached before the first step, and nothing would train.
  flags.add("--target", target, "stop once held-out accuracy reaches this", tutorial::positive(1));
  flags.parse(argc, argv);
  if (options.quick) {  // a few seconds: a small model (flags given win)
    flags.quick(held_out, 200), flags.quick(d_model, 32), flags.quick(heads, 2), flags.quick(layers, 1);
    flags.quick(d_ff, 64), flags.quick(batch_size, 32), flags.quick(steps, 40);
    eval_every = 20;
  }
  tutorial::Flags::require(min_len <= max_len, "--min-len " + std::to_string(min_len) +
                                                   " is longer than --max-len " + std::to_string(max_len));
  tutorial::Flags::require(d_model % heads == 0, "--heads " + std::to_string(heads) +
                                                     " does not divide --d-model " + std::to_string(d_model));
  // The held-out set is drawn first, all different, and training draws only sequences outside
  // it: there must be plenty left.
  const double distinct = distinct_sequences(symbols, min_len, max_len);
  tutorial::Flags::require(2 * double(held_out) <= distinct,
                           "--held-out " + std::to_string(held_out) + " needs at least twice as many different "
                           "sequences, but --symbols " + std::to_string(symbols) + " with --min-len " +
                           std::to_string(min_len) + " .. --max-len " + std::to_string(max_len) + " give only " +
                           std::to_string(static_cast<long long>(distinct)));
  tutorial::Checks checks;

  tutorial::section("1. The task: are there more a's or more b's?");
  MajorityTask task(symbols, min_len, max_len);
  tutorial::MajorityData data(task, held_out, options.seed + 1000);
  for (int i = 0; i < 3; ++i) {
    const tutorial::LabeledSequence& ex = data.held_out()[i];
    std::printf("  %-40s -> %s\n", task.to_text(ex.tokens).c_str(), MajorityTask::label_text(ex.label));
  }
  std::printf("  %lld..%lld symbols (a, b and %lld distractors), [CLS] in front; vocabulary %lld\n"
              "  (PAD=0 CLS=1 MASK=2); %lld held-out sequences never seen in training\n",
              (long long)min_len, (long long)max_len, (long long)(symbols - 2),
              (long long)task.vocab_size(), (long long)held_out);

  tutorial::section("2. The model: encoder layers only, bidirectional");
  Generator model_gen(options.seed), data_gen(options.seed + 1);
  BertConfig config;
  config.vocab = task.vocab_size();
  config.max_len = task.max_tokens() + 8;  // room for the padding check below
  config.layer = {d_model, heads, d_ff, /*dropout=*/0.0, "gelu", /*norm_first=*/false, 1e-5};
  config.num_layers = layers;
  config.num_classes = 2;
  BertEncoder model(config, model_gen);
  std::printf("  BertEncoder: token + learned position embeddings, %lld post-LN encoder layers\n"
              "  (d_model %lld, %lld heads, d_ff %lld), a [CLS] classifier %lld -> 2: %lld parameters\n",
              (long long)layers, (long long)d_model, (long long)heads, (long long)d_ff,
              (long long)d_model, (long long)model.num_parameters());
  {
    // Bidirectional: the [CLS] state (position 0) depends on the LAST token. In a causal model
    // position 0 could only see itself.
    NoGradGuard no_grad;
    model.eval();
    tutorial::LabeledSequence ex = data.held_out()[0], changed = ex;
    changed.tokens.back() = changed.tokens.back() == MajorityTask::A ? MajorityTask::B : MajorityTask::A;
    Tensor cls = model.forward(tutorial::make_classification_batch({ex}).ids).select(1, 0);
    Tensor cls_changed = model.forward(tutorial::make_classification_batch({changed}).ids).select(1, 0);
    double moved = tutorial::max_abs_diff(cls, cls_changed);
    std::printf("  changing only the last token moves the [CLS] state by up to %.3f\n", moved);
    checks.check(moved > 1e-3, "bidirectional: the [CLS] state depends on the last token");
    // Padding: the same sequence padded with 8 more [PAD]s (masked out) gives the same logits.
    tutorial::ClassificationBatch plain = tutorial::make_classification_batch({ex});
    tutorial::ClassificationBatch padded = tutorial::make_classification_batch({ex}, ex.tokens.size() + 8);
    model.keep_attention(true);
    Tensor logits = model.classify(model.forward(plain.ids, plain.padding));
    Tensor logits_padded = model.classify(model.forward(padded.ids, padded.padding));
    Tensor cls_to_pad = model.layers->items().back()->last_attention.select(2, 0)  // [1, H, T]
                            .slice(-1, ex.tokens.size(), padded.ids.size(1));
    model.keep_attention(false);
    checks.same(logits, logits_padded, 1e-5,
                "8 extra [PAD]s (masked out) leave the [CLS] logits unchanged");
    checks.small(tensor::amax(tensor::abs(cls_to_pad.data())).item(), 0,
                 "[CLS] gives exactly zero attention to [PAD] positions");
    model.train();
  }

  tutorial::section("3. [CLS] pooling: the classifier reads hidden[:, 0] only");
  {
    NoGradGuard no_grad;
    model.eval();
    tutorial::ClassificationBatch batch = tutorial::make_classification_batch(
        {data.held_out().begin(), data.held_out().begin() + 4});
    Tensor hidden = model.forward(batch.ids, batch.padding);  // [B, T, E]
    Tensor logits = model.classify(hidden);                   // [B, 2]
    // By hand: logits[b][c] = sum_e hidden[b][0][e] * W[c][e] + bias[c].
    double worst = 0;
    for (std::int64_t b = 0; b < 4; ++b)
      for (std::int64_t c = 0; c < 2; ++c) {
        double sum = model.classifier->bias.at({c});
        for (std::int64_t e = 0; e < d_model; ++e)
          sum += hidden.at({b, 0, e}) * model.classifier->weight.at({c, e});
        worst = std::max(worst, std::fabs(sum - logits.at({b, c})));
      }
    std::printf("  hidden %s -> hidden[:, 0] %s -> logits %s\n", tensor::shape_str(hidden.shape()).c_str(),
                tensor::shape_str(hidden.select(1, 0).shape()).c_str(), tensor::shape_str(logits.shape()).c_str());
    checks.small(worst, 1e-5, "classify() equals a plain loop over hidden[:, 0]");
    model.train();
  }

  tutorial::section("4. Training the classifier: cross-entropy on the [CLS] logits, Adam");
  Adam optimizer(model.parameters(), lr);
  std::vector<double> losses;
  std::vector<std::pair<std::int64_t, double>> accuracy;
  tutorial::Progress progress(steps, /*may_stop_early=*/true);  // stops at --target
  nn::DivergenceGuard guard(tutorial::lower_lr_advice(lr));      // stops on a NaN or inf
  tutorial::Stopwatch clock;
  double best = 0;
  std::int64_t step = 0;
  while (step < steps && best < target) {
    tutorial::ClassificationBatch batch =
        tutorial::make_classification_batch(data.sample_train(batch_size, data_gen));
    Tensor hidden = model.forward(batch.ids, batch.padding);            // [B, T, E]
    Tensor loss = autograd::cross_entropy(model.classify(hidden), batch.labels);  // one per sequence
    optimizer.zero_grad();
    loss.backward();
    guard.check(step + 1, loss.item(), grad_norm(model.parameters()));  // before the update
    optimizer.step();
    ++step;
    losses.push_back(loss.item());
    progress.update(step, loss.item(), double(batch.ids.numel()) / (clock.seconds() / double(step)));
    if (step % eval_every == 0 || step == steps) {
      best = tutorial::classification_accuracy(model, data.held_out());
      accuracy.emplace_back(step, best);
      char line[120];
      std::snprintf(line, sizeof line, "  step %lld: held-out accuracy %.1f%%", (long long)step, 100 * best);
      progress.note(line);
    }
  }
  progress.finish();
  double training_seconds = clock.seconds();
  std::printf("  %lld steps in %.1f s\n", (long long)step, training_seconds);

  tutorial::section("5. Accuracy reached, by how close the vote was");
  model.eval();
  std::vector<std::int64_t> right(4, 0), total(4, 0);  // margin 1, 2, 3, >= 4
  {
    NoGradGuard no_grad;
    tutorial::ClassificationBatch all = tutorial::make_classification_batch(data.held_out());
    std::vector<std::int64_t> predicted =
        autograd::argmax(model.classify(model.forward(all.ids, all.padding)), -1).to_vector<std::int64_t>();
    for (std::size_t i = 0; i < data.held_out().size(); ++i) {
      const auto& tokens = data.held_out()[i].tokens;
      std::int64_t margin = std::abs(std::count(tokens.begin(), tokens.end(), MajorityTask::A) -
                                     std::count(tokens.begin(), tokens.end(), MajorityTask::B));
      std::size_t bucket = std::min<std::int64_t>(margin, 4) - 1;
      ++total[bucket];
      right[bucket] += predicted[i] == data.held_out()[i].label;
    }
  }
  const char* names[] = {"|#a-#b| = 1", "|#a-#b| = 2", "|#a-#b| = 3", "|#a-#b| >= 4"};
  for (int k = 0; k < 4; ++k)
    if (total[k] > 0)
      std::printf("  %-14s %5.1f%%  (%lld sequences)\n", names[k], 100.0 * right[k] / total[k],
                  (long long)total[k]);
  double final_accuracy = double(right[0] + right[1] + right[2] + right[3]) / double(data.held_out().size());
  std::printf("  all            %5.1f%%  (chance: 50%%)\n", 100 * final_accuracy);
  checks.close(final_accuracy, tutorial::classification_accuracy(model, data.held_out()), 1e-12,
               "the accuracy by buckets adds up to the batched evaluation");

  tutorial::section("6. Where does [CLS] look?");
  // For every layer and head: the share of [CLS]'s attention that lands on a's and b's, averaged
  // over the held-out set, against the share of the tokens they are (what uniform attention
  // would give). The a/b tokens are the only ones that matter for the answer.
  const std::int64_t H = heads, L = layers;
  std::vector<double> on_ab(L * H, 0.0);  // [layer][head]
  double share_ab = 0;
  {
    NoGradGuard no_grad;
    tutorial::ClassificationBatch all = tutorial::make_classification_batch(data.held_out());
    model.keep_attention(true);
    model.forward(all.ids, all.padding);
    model.keep_attention(false);
    const double N = double(data.held_out().size());
    for (std::int64_t l = 0; l < L; ++l) {
      Tensor cls = model.layers->items()[l]->last_attention.select(2, 0);  // [N, H, T]: row of [CLS]
      const std::int64_t T = cls.size(2);
      std::vector<double> w = cls.to_vector<double>();
      for (std::size_t i = 0; i < data.held_out().size(); ++i) {
        const auto& tokens = data.held_out()[i].tokens;
        for (std::size_t t = 0; t < tokens.size(); ++t) {
          if (tokens[t] != MajorityTask::A && tokens[t] != MajorityTask::B) continue;
          for (std::int64_t h = 0; h < H; ++h) on_ab[l * H + h] += w[(i * H + h) * T + t] / N;
          if (l == 0) share_ab += 1.0 / double(tokens.size()) / N;
        }
      }
    }
  }
  std::printf("  a's and b's are %.0f%% of the tokens (what uniform attention would give them).\n"
              "  Share of [CLS]'s attention on them:\n", 100 * share_ab);
  double best_on_ab = 0;
  for (std::int64_t l = 0; l < L; ++l) {
    double mean = 0;
    std::printf("    layer %lld: heads", (long long)l);
    for (std::int64_t h = 0; h < H; ++h) {
      std::printf(" %3.0f%%", 100 * on_ab[l * H + h]);
      mean += on_ab[l * H + h] / H;
      best_on_ab = std::max(best_on_ab, on_ab[l * H + h]);
    }
    std::printf("   (mean %.0f%%)\n", 100 * mean);
  }
  std::printf("  A head that puts nearly all of [CLS]'s attention on a's and b's averages their value\n"
              "  vectors: the result leans towards whichever letter is more frequent, which is the answer.\n"
              "  Other heads and layers may look elsewhere; 17_interpretability asks what that means.\n");

  tutorial::section("7. Pre-training objective: masked-token prediction (MLM)");
  {
    // BERT's rule: pick 15% of the (non-special) tokens; of those, 80% become [MASK], 10% a
    // random symbol, 10% stay. The loss is taken only at the picked positions (label -100 =
    // ignored elsewhere), so the model cannot score by copying the visible tokens.
    std::vector<tutorial::LabeledSequence> examples = data.sample_train(256, data_gen);
    tutorial::ClassificationBatch batch = tutorial::make_classification_batch(examples);
    std::vector<std::int64_t> ids = batch.ids.to_vector<std::int64_t>(), labels(ids.size(), -100);
    std::vector<double> u = tensor::rand({(std::int64_t)ids.size() * 2}, data_gen, DType::Float64).to_vector<double>();
    std::vector<std::int64_t> random_symbol =
        tensor::randint(MajorityTask::FIRST_SYMBOL, task.vocab_size(), {(std::int64_t)ids.size()}, data_gen)
            .to_vector<std::int64_t>();
    std::int64_t candidates = 0, picked = 0, masked = 0, randomised = 0, kept = 0;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < MajorityTask::FIRST_SYMBOL) continue;  // never [PAD] or [CLS]
      ++candidates;
      if (u[2 * i] >= 0.15) continue;
      ++picked;
      labels[i] = ids[i];
      double r = u[2 * i + 1];
      if (r < 0.8) ids[i] = MajorityTask::MASK, ++masked;
      else if (r < 0.9) ids[i] = random_symbol[i], ++randomised;
      else ++kept;
    }
    std::printf("  %lld of %lld symbol tokens picked (%.1f%%): %.0f%% -> [MASK], %.0f%% -> random, %.0f%% kept\n",
                (long long)picked, (long long)candidates, 100.0 * picked / candidates, 100.0 * masked / picked,
                100.0 * randomised / picked, 100.0 * kept / picked);
    std::printf("  e.g. %s\n    -> %s\n", task.to_text(examples[0].tokens).c_str(),
                task.to_text(std::vector<std::int64_t>(ids.begin(), ids.begin() + examples[0].tokens.size())).c_str());
    // Binomial(candidates, 0.15): the count stays within 4 standard deviations of its mean.
    double mean = 0.15 * candidates, sd = std::sqrt(candidates * 0.15 * 0.85);
    checks.check(std::fabs(picked - mean) < 4 * sd, "about 15% of the symbol tokens are picked");
    checks.check(std::fabs(double(masked) / picked - 0.8) < 0.1, "about 80% of the picked become [MASK]");

    NoGradGuard no_grad;
    const std::int64_t B = batch.ids.size(0), T = batch.ids.size(1), V = task.vocab_size();
    Tensor masked_ids(tensor::from_vector(ids, {B, T}));
    Tensor logits = model.mlm_logits(model.forward(masked_ids, batch.padding));  // [B, T, V]
    Tensor loss = autograd::cross_entropy(logits.reshape({-1, V}),
                                          Tensor(tensor::from_vector(labels, {B * T})), -100);
    // By hand: the mean over picked positions of logsumexp(logits) - logits[label].
    std::vector<double> z = logits.to_vector<double>();
    double sum = 0;
    for (std::int64_t i = 0; i < B * T; ++i) {
      if (labels[i] < 0) continue;
      double top = *std::max_element(z.begin() + i * V, z.begin() + (i + 1) * V), total = 0;
      for (std::int64_t v = 0; v < V; ++v) total += std::exp(z[i * V + v] - top);
      sum += top + std::log(total) - z[i * V + labels[i]];
    }
    std::printf("  MLM loss of the (classification-trained) model: %.3f (ln V = %.3f is a uniform guess);\n"
                "  symbols here are drawn independently, so no context could predict them: MLM only\n"
                "  teaches what the context determines.\n", loss.item(), std::log(double(V)));
    checks.close(loss.item(), sum / picked, 1e-4, "the MLM loss averages over the picked positions only");
  }

  tutorial::section("8. Pictures");
  {
    viz::LinePlot plot("BERT classifier: training loss and held-out accuracy");
    plot.set_x_label("step").set_y_label("loss (cross-entropy) / accuracy").set_y_range(0, 1.05);
    tutorial::add_loss_curve(plot, "training loss", losses);
    tutorial::add_eval_curve(plot, "held-out accuracy", accuracy);
    plot.add_reference_line(target, "target accuracy");
    tutorial::save_picture(plot, options, "bert_training.png",
                           "the loss falls from log 2 = 0.69 (a coin toss) while the held-out "
                           "accuracy climbs from 0.5 to the target line");

    // One held-out sequence with several a's and b's: [CLS]'s attention row in every layer and
    // head (rows), over the tokens of the sequence (columns).
    const tutorial::LabeledSequence* shown = &data.held_out()[0];
    for (const auto& ex : data.held_out()) {
      std::int64_t ab = std::count(ex.tokens.begin(), ex.tokens.end(), MajorityTask::A) +
                        std::count(ex.tokens.begin(), ex.tokens.end(), MajorityTask::B);
      if (ab >= 5 && ex.tokens.size() <= 14) {
        shown = &ex;
        break;
      }
    }
    NoGradGuard no_grad;
    model.keep_attention(true);
    model.forward(tutorial::make_classification_batch({*shown}).ids);
    model.keep_attention(false);
    std::vector<std::string> tokens, row_labels;
    for (std::int64_t t : shown->tokens) tokens.push_back(task.token_text(t));
    std::vector<double> cells;
    std::int64_t best_layer = 0, best_head = 0;
    for (std::int64_t l = 0; l < L; ++l)
      for (std::int64_t h = 0; h < H; ++h) {
        Tensor row = model.layers->items()[l]->last_attention.select(0, 0).select(0, h).select(0, 0);  // [T]
        std::vector<double> w = row.to_vector<double>();
        cells.insert(cells.end(), w.begin(), w.end());
        row_labels.push_back("layer " + std::to_string(l) + " head " + std::to_string(h));
        if (on_ab[l * H + h] > on_ab[best_layer * H + best_head]) best_layer = l, best_head = h;
      }
    viz::Heatmap cls_map(cells, (int)row_labels.size(), (int)tokens.size());
    cls_map.set_title("Attention of [CLS] over the tokens (" + task.to_text(shown->tokens) + ")")
        .set_row_labels(row_labels).set_col_labels(tokens)
        .set_y_label("layer, head").set_x_label("key token")
        .set_range(0, 1).set_colorbar_label("weight");
    tutorial::save_picture(cls_map, options, "bert_cls_attention.png",
                           "some layer-head rows light up the a and b columns: [CLS] gathers the "
                           "two symbols that decide the answer and ignores the distractors");

    // The whole attention matrix of the head that looks most at a's and b's.
    Tensor weights = model.layers->items()[best_layer]->last_attention.select(0, 0).select(0, best_head);
    viz::Heatmap example(weights.to_vector<double>(), (int)weights.size(0), (int)weights.size(1));
    example.set_title("Self-attention of layer " + std::to_string(best_layer) + ", head " +
                      std::to_string(best_head) + " (row 0 is [CLS])")
        .set_row_labels(tokens).set_col_labels(tokens)
        .set_y_label("query token").set_x_label("key token")
        .set_range(0, 1).set_colorbar_label("weight");
    tutorial::save_picture(example, options, "bert_attention_example.png",
                           "no masked triangle: every token, [CLS] included, attends to keys on "
                           "both sides (an encoder is bidirectional)");
  }

  tutorial::section("9. Checks");
  checks.check(losses.back() < losses.front(), "the training loss went down");
  if (!options.quick) {
    checks.check(best >= target, "held-out accuracy reached the target of " +
                                     std::to_string((int)std::lround(100 * target)) + "%");
    checks.check(best_on_ab > share_ab + 0.3,
                 "some head of [CLS] attends to a's and b's far more than their share of the tokens");
  }
  int code = checks.finish();
  std::printf("held-out accuracy: %.1f%% after %lld steps, %.1f s of training; [CLS] attention on a/b: "
              "up to %.0f%% in one head (their share of tokens: %.0f%%)\n",
              100 * final_accuracy, (long long)step, training_seconds, 100 * best_on_ab, 100 * share_ab);
  char answer[700];
  std::snprintf(answer, sizeof answer,
                "Encoder layers only, bidirectional (the last token moved the [CLS] state; [PAD]s got\n"
                "zero attention), a Linear on the [CLS] state: trained from scratch it classified %.1f%%\n"
                "of held-out sequences right after %lld steps, with one head putting %.0f%% of [CLS]'s\n"
                "attention on the a's and b's (%.0f%% of the tokens). MLM masks 15%% and predicts those.",
                100 * final_accuracy, (long long)step, 100 * best_on_ab, 100 * share_ab);
  tutorial::print_answer(kQuestion, answer);
  return code;
} catch (...) {
  return tutorial::report_error();
}
