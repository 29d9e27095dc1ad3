// 13_bert_encoder — How does a BERT-style encoder-only model work?
//                   BERT 这类只有编码器（encoder-only）的模型是如何工作的？
//                   (seeds/002 「编写一个简单的 BERT 模型函数」: its answer stacks decoder layers on
//                   the encoder and ends in a softmax over the vocabulary for a classification
//                   question. BERT has no decoder at all.)
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

#include "nn/nn.hpp"
#include "tutorials/common/going_further.hpp"
#include "tutorials/common/training.hpp"
#include "tutorials/common/legacy_flags.hpp"  // TEMPORARY, until this program moves to tutorial::Flags
#include "tutorials/common/tutorial.hpp"
#include "viz/heatmap.hpp"

using namespace nn;
using autograd::NoGradGuard;
using tutorial::MajorityTask;

int main(int argc, char** argv) {
  CLI::App app{"13_bert_encoder: an encoder-only model with [CLS] pooling, trained on a synthetic task"};
  tutorial::Options options;
  tutorial::add_common_flags(app, options);
  std::int64_t symbols = 8, min_len = 8, max_len = 16, held_out = 1000;
  std::int64_t d_model = 64, heads = 4, layers = 2, d_ff = 128;
  std::int64_t batch_size = 64, steps = 500, eval_every = 10;
  double lr = 1e-3, target = 0.99;
  app.add_option("--symbols", symbols, "symbols: a, b and symbols-2 distractors")->capture_default_str();
  app.add_option("--min-len", min_len, "shortest sequence (without [CLS])")->capture_default_str();
  app.add_option("--max-len", max_len, "longest sequence (without [CLS])")->capture_default_str();
  app.add_option("--held-out", held_out, "held-out sequences for evaluation")->capture_default_str();
  app.add_option("--d-model", d_model, "model width")->capture_default_str();
  app.add_option("--heads", heads, "attention heads")->capture_default_str();
  app.add_option("--layers", layers, "encoder layers")->capture_default_str();
  app.add_option("--d-ff", d_ff, "feed-forward width")->capture_default_str();
  app.add_option("--batch", batch_size, "sequences per step")->capture_default_str();
  app.add_option("--steps", steps, "most training steps")->capture_default_str();
  app.add_option("--lr", lr, "Adam learning rate")->capture_default_str();
  app.add_option("--target", target, "stop once held-out accuracy reaches this")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (options.quick) {
    held_out = 200, d_model = 32, heads = 2, layers = 1, d_ff = 64, batch_size = 32;
    steps = std::min<std::int64_t>(steps, 40), eval_every = 20;
  }
  tutorial::apply(options);
  tutorial::one_thread_unless_asked(options);
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
    double moved = tensor::max_abs_diff(cls.data(), cls_changed.data());
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
    checks.close(tensor::max_abs_diff(logits.data(), logits_padded.data()), 0, 1e-5,
                 "8 extra [PAD]s (masked out) leave the [CLS] logits unchanged");
    checks.close(tensor::amax(tensor::abs(cls_to_pad.data())).item(), 0, 0,
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
    checks.close(worst, 0, 1e-5, "classify() equals a plain loop over hidden[:, 0]");
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
    std::vector<double> at, fraction;
    for (auto [s, a] : accuracy) at.push_back(double(s)), fraction.push_back(a);
    plot.set_x_label("step").set_y_label("loss (cross-entropy) / accuracy").set_y_range(0, 1.05);
    std::vector<double> loss_steps;
    for (std::size_t i = 0; i < losses.size(); ++i) loss_steps.push_back(double(i + 1));
    plot.add_series("training loss", loss_steps, losses);
    plot.add_series("held-out accuracy", at, fraction);
    plot.add_reference_line(target, "target accuracy");
    tutorial::save_line_plot(plot, options.out, "bert_training.png");

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
    cls_map.save(tutorial::path_in(options.out, "bert_cls_attention.png"));
    std::printf("  %s\n", tutorial::path_in(options.out, "bert_cls_attention.png").c_str());

    // The whole attention matrix of the head that looks most at a's and b's.
    Tensor weights = model.layers->items()[best_layer]->last_attention.select(0, 0).select(0, best_head);
    viz::Heatmap example(weights.to_vector<double>(), (int)weights.size(0), (int)weights.size(1));
    example.set_title("Self-attention of layer " + std::to_string(best_layer) + ", head " +
                      std::to_string(best_head) + " (row 0 is [CLS])")
        .set_row_labels(tokens).set_col_labels(tokens)
        .set_y_label("query token").set_x_label("key token")
        .set_range(0, 1).set_colorbar_label("weight");
    example.save(tutorial::path_in(options.out, "bert_attention_example.png"));
    std::printf("  %s\n", tutorial::path_in(options.out, "bert_attention_example.png").c_str());
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
  return code;
}
