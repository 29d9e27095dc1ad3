// 18_training_tricks — How do you optimize the training of attention models?
//                      如何优化注意力模型的训练过程？
//                      (The interview article "Attention Mechanism原理与代码实例讲解——面试题和算法
//                      编程题解析" lists "batch size, learning rate, regularisation such as Dropout
//                      and weight decay, preprocessing" with nothing measured.)
//
// Short answer
//   The standard Transformer recipe, each trick with the problem it solves:
//     - learning-rate warmup: at the start Adam's second-moment estimates are poor and a
//       post-LN Transformer's gradients are large, so full-size steps can throw the model into a
//       bad region; ramping the rate up over the first few hundred steps avoids it;
//     - gradient clipping: rescale the whole gradient when its norm exceeds a threshold, so one
//       bad batch cannot take a huge step;
//     - dropout (on attention weights, sublayer outputs, FFN) and weight decay (AdamW: decoupled,
//       p -= lr * wd * p, on weight matrices only): regularisers, they matter when the model can
//       memorise its training set;
//     - label smoothing: train towards (1 - s) on the right class and s spread over all
//       classes, so the model stops pushing logits to infinity: less over-confidence.
//   Which ones matter depends on the model, the data and the learning rate: measure, switching
//   one off at a time, as below.
//
// What this program shows
//   1. each mechanism checked against a computation by hand: the warmup schedule, clipping,
//      AdamW's decoupled decay, dropout's mask and scaling, label smoothing's loss;
//   2. one task (a BERT-style classifier, post-LN, "more a's or b's?", a small fixed training
//      set so that regularisation has something to do, a high learning rate so that stability
//      has something to do), trained with all the tricks and then with each switched off in
//      turn, from the same initial weights and the same batches; every run repeated with 3 seeds,
//      and a change called consistent only when all seeds move the same way;
//   3. held-out accuracy curves of all runs in one plot (tricks_accuracy.png), the training loss
//      (tricks_loss.png), and a table: final and best held-out accuracy, training-set accuracy,
//      held-out confidence, largest gradient norm.
//
// Run:  build/tutorials/18_training_tricks   (--steps, --lr, --train-size; --quick for CI)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/classifier_training.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/tasks.hpp"
#include "tutorials/common/training.hpp"
#include "tutorials/common/tutorial.hpp"

using namespace nn;
using autograd::NoGradGuard;
using tutorial::MajorityTask;

namespace {

struct Variant {
  std::string name;
  tutorial::TrainingRecipe recipe;
  double dropout;
};

// Mean probability the model gives to its own prediction on the held-out set: how confident it is.
double mean_confidence(BertEncoder& model, const std::vector<tutorial::LabeledSequence>& examples) {
  NoGradGuard no_grad;
  model.eval();
  tutorial::ClassificationBatch batch = tutorial::make_classification_batch(examples);
  Tensor p = autograd::softmax(model.classify(model.forward(batch.ids, batch.padding)), -1);
  return autograd::mean(autograd::amax(p, {-1})).item();
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "18_training_tricks",
    .chinese = "如何优化注意力机制的训练过程？",
    .english = "How do you optimize the training of attention models?",
    .answer = "The Transformer recipe, each trick against one problem: learning-rate warmup (early Adam\n"
              "steps are unreliable), gradient clipping (one bad batch cannot take a huge step), dropout\n"
              "and AdamW weight decay (regularisers, when the model can memorise its data), and label\n"
              "smoothing (less over-confidence). Which ones matter depends on model, data and learning\n"
              "rate: switch one off at a time, with several seeds, and measure.",
    .article = "Attention Mechanism原理与代码实例讲解——面试题和算法编程题解析",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  std::int64_t symbols = 8, min_len = 6, max_len = 12, held_out = 300;
  std::int64_t d_model = 32, heads = 4, layers = 2, d_ff = 64;
  tutorial::TrainingRecipe all;  // the full recipe
  all.steps = 100, all.batch = 32, all.lr = 3e-2, all.warmup_steps = 20, all.cosine_decay = true;
  all.weight_decay = 0.1, all.clip_norm = 1.0, all.label_smoothing = 0.1, all.eval_every = 10;
  all.train_set_size = 256;
  double dropout = 0.1;
  std::int64_t seeds = 3;
  // Each trick's strength is > 0: the run "no <trick>" is the one that switches it off.
  flags.add("--seeds", seeds, "seeds per variant (the spread between them is the noise level)", tutorial::between(1, 20));
  flags.add("--steps", all.steps, "training steps per run", tutorial::between(1, 1000000));
  flags.add("--lr", all.lr, "peak learning rate", tutorial::positive(10));
  flags.add("--train-size", all.train_set_size, "fixed training sequences (0: fresh every step)", tutorial::between(0, 100000));
  flags.add("--warmup", all.warmup_steps, "warmup steps", tutorial::between(1, 1000000));
  flags.add("--dropout", dropout, "dropout probability", tutorial::Range{0, 0.99, /*min_excluded=*/true});
  flags.add("--weight-decay", all.weight_decay, "AdamW weight decay", tutorial::positive(10));
  flags.add("--clip", all.clip_norm, "gradient clipping norm", tutorial::positive(1e6));
  flags.add("--label-smoothing", all.label_smoothing, "label smoothing", tutorial::positive(1));
  flags.add("--layers", layers, "encoder layers", tutorial::between(1, 64));
  flags.add("--d-model", d_model, "model width (a multiple of the 4 heads; 2 under --quick)", tutorial::between(1, 4096));
  flags.parse(argc, argv);
  if (options.quick) {  // a few seconds: one seed of a small model (flags given win)
    flags.quick(d_model, 16), flags.quick(layers, 1), flags.quick(seeds, 1);
    flags.quick(all.steps, std::min<std::int64_t>(all.steps, 12)), flags.quick(all.warmup_steps, 4);
    d_ff = 32, heads = 2, held_out = 100, all.eval_every = 6, all.batch = 16;
  }
  tutorial::Flags::require(d_model % heads == 0, "--d-model " + std::to_string(d_model) + " is not a multiple of the " +
                                                     std::to_string(heads) + " attention heads");
  tutorial::Checks checks;

  tutorial::section("1. Each trick, checked by hand");
  {
    Generator gen(options.seed + 99);
    // Warmup + cosine: the schedule train_classifier follows, against the formula.
    tutorial::TrainingRecipe r;
    r.steps = 10, r.lr = 1.0, r.warmup_steps = 4, r.cosine_decay = true, r.eval_every = 1000, r.batch = 4;
    MajorityTask small_task(4, 3, 5);
    tutorial::MajorityData small_data(small_task, 8, 1);
    BertConfig small;
    small.vocab = small_task.vocab_size(), small.max_len = small_task.max_tokens();
    small.layer = {8, 2, 16, 0.0, "gelu", false, 1e-5};
    small.num_layers = 1;
    BertEncoder tiny(small, gen);
    tutorial::TrainingHistory h = tutorial::train_classifier(tiny, small_data, r, gen);
    double worst = 0;
    for (std::int64_t s = 0; s < r.steps; ++s) {
      double expected = s < 4 ? double(s + 1) / 4 : 0.5 * (1 + std::cos(M_PI * double(s - 4) / double(r.steps - 4)));
      worst = std::max(worst, std::fabs(h.learning_rates[s] - expected));
    }
    std::printf("  warmup then cosine, lr per step:");
    for (double lr : h.learning_rates) std::printf(" %.2f", lr);
    std::printf("\n");
    checks.small(worst, 1e-12, "learning rate = (s+1)/warmup, then (1 + cos(pi progress)) / 2");

    // Clipping: gradients with norm 5 scaled to norm 1, direction kept.
    Tensor p(tensor::zeros({4}), true);
    p.set_grad(tensor::from_vector(std::vector<float>{3, 0, 4, 0}));
    double before = clip_grad_norm_({p}, 1.0);
    std::vector<float> g = p.grad().to_vector<float>();
    double after = std::sqrt(double(g[0]) * g[0] + double(g[2]) * g[2]);
    std::printf("  clipping: norm %.1f -> %.6f, gradient now (%.3f, %.3f, %.3f, %.3f)\n", before, after, g[0], g[1], g[2], g[3]);
    checks.close(after, 1.0, 1e-5, "clip_grad_norm_ rescales a norm-5 gradient to norm 1");

    // AdamW with a zero gradient: the Adam part does nothing, the decay multiplies by 1 - lr*wd.
    Tensor w(tensor::full({3}, 2.0), true);
    w.set_grad(tensor::zeros({3}));
    AdamW adamw({w}, /*lr=*/0.1, 0.9, 0.999, 1e-8, /*weight_decay=*/0.5);
    adamw.step();
    checks.close(w.at({0}), 2.0 * (1 - 0.1 * 0.5), 1e-6, "AdamW decays weights by (1 - lr * wd), apart from the gradient");

    // Dropout: about p of the elements zeroed, the rest scaled by 1 / (1 - p); identity in eval.
    Tensor ones = autograd::ones({100000});
    Tensor dropped = autograd::dropout(ones, 0.1, /*training=*/true, gen);
    std::vector<float> d = dropped.to_vector<float>();
    double zeros = std::count(d.begin(), d.end(), 0.0f) / double(d.size());
    double kept_value = *std::max_element(d.begin(), d.end());
    std::printf("  dropout p=0.1: %.2f%% zeroed, the others = %.4f (1/(1-p) = %.4f)\n", 100 * zeros, kept_value, 1 / 0.9);
    checks.close(zeros, 0.1, 0.005, "dropout zeroes a fraction p of the elements");
    checks.close(kept_value, 1 / 0.9, 1e-6, "dropout scales the kept ones by 1/(1-p)");
    checks.same(autograd::dropout(ones, 0.1, false, gen), ones, 0,
                "dropout is the identity when not training");

    // Label smoothing: loss = (1-s) * (-log p_y) + s * mean_c(-log p_c).
    Tensor logits = autograd::from_rows({{2.0, -1.0, 0.5}, {0.0, 3.0, 1.0}});
    Tensor labels(tensor::from_vector(std::vector<std::int64_t>{0, 2}));
    double s = 0.1, expected = 0;
    std::vector<std::vector<double>> z = {{2.0, -1.0, 0.5}, {0.0, 3.0, 1.0}};
    for (int i = 0; i < 2; ++i) {
      double top = *std::max_element(z[i].begin(), z[i].end()), total = 0;
      for (double v : z[i]) total += std::exp(v - top);
      double lse = top + std::log(total), mean_nll = 0;
      for (double v : z[i]) mean_nll += (lse - v) / 3;
      expected += ((1 - s) * (lse - z[i][i == 0 ? 0 : 2]) + s * mean_nll) / 2;
    }
    checks.close(autograd::cross_entropy(logits, labels, -100, s).item(), expected, 1e-6,
                 "cross_entropy with label smoothing equals (1-s) NLL + s mean over classes");
  }

  tutorial::section("2. The task and the recipe");
  MajorityTask task(symbols, min_len, max_len);
  tutorial::MajorityData data(task, held_out, options.seed + 1000);
  std::printf("  \"more a's or more b's?\", %lld..%lld symbols; %lld fixed training sequences (reused every\n"
              "  epoch), %lld held out. Post-LN encoder: %lld layers, d_model %lld, %lld heads; batch %lld,\n"
              "  %lld steps, peak lr %.0e.\n",
              (long long)min_len, (long long)max_len, (long long)all.train_set_size, (long long)held_out,
              (long long)layers, (long long)d_model, (long long)heads, (long long)all.batch, (long long)all.steps, all.lr);
  std::printf("  all tricks: warmup %lld steps + cosine decay, dropout %.2f, AdamW weight decay %.2f,\n"
              "  clipping at norm %.1f, label smoothing %.2f\n",
              (long long)all.warmup_steps, dropout, all.weight_decay, all.clip_norm, all.label_smoothing);

  std::vector<Variant> variants;
  variants.push_back({"all tricks", all, dropout});
  {
    Variant v{"no warmup", all, dropout};
    v.recipe.warmup_steps = 0;
    variants.push_back(v);
    v = {"no dropout", all, 0.0};
    variants.push_back(v);
    v = {"no weight decay", all, dropout};
    v.recipe.weight_decay = 0;
    variants.push_back(v);
    v = {"no clipping", all, dropout};
    v.recipe.clip_norm = 0;
    variants.push_back(v);
    v = {"no label smoothing", all, dropout};
    v.recipe.label_smoothing = 0;
    variants.push_back(v);
  }

  tutorial::section("3. Training: all tricks, then each one switched off");
  // Every run is repeated with `seeds` different seeds (initial weights, dropout masks and data
  // order change together); the spread between seeds says how big a difference must be to mean
  // something. Within one seed all variants share initial weights and batches.
  struct Result {
    std::vector<double> final_accuracy, confidence, max_grad_norm, train_accuracy;
    std::vector<double> curve_steps, curve;  // held-out accuracy at each evaluation, mean over seeds
    std::vector<double> losses;              // training loss per step, mean over seeds
    double seconds = 0;
    bool diverged = false;
    std::string divergence;  // the first diverged seed's message
    double mean(const std::vector<double>& v) const {
      double sum = 0;
      for (double x : v) sum += x;
      return sum / double(v.size());
    }
  };
  std::vector<Result> results(variants.size());
  tutorial::Stopwatch total_clock;
  for (std::size_t i = 0; i < variants.size(); ++i) {
    Result& r = results[i];
    for (std::int64_t seed = 0; seed < seeds; ++seed) {
      Generator model_gen(options.seed + 100 * seed), data_gen(options.seed + 100 * seed + 1);
      BertConfig config;
      config.vocab = task.vocab_size(), config.max_len = task.max_tokens();
      config.layer = {d_model, heads, d_ff, variants[i].dropout, "gelu", /*norm_first=*/false, 1e-5};
      config.num_layers = layers, config.num_classes = 2;
      BertEncoder model(config, model_gen);
      // A variant that diverges is one of the results (DIVERGED below), not the end of the program.
      tutorial::TrainingRecipe recipe = variants[i].recipe;
      recipe.divergence_is_a_result = true;
      tutorial::TrainingHistory h = tutorial::train_classifier(model, data, recipe, data_gen);
      if (h.diverged && !r.diverged) r.divergence = "seed " + std::to_string(seed) + ": " + h.divergence;
      r.diverged = r.diverged || h.diverged;
      r.seconds += h.seconds;
      r.final_accuracy.push_back(h.accuracy.empty() ? 0.5 : h.accuracy.back().second);
      r.train_accuracy.push_back(h.train_accuracy);
      r.confidence.push_back(mean_confidence(model, data.held_out()));
      r.max_grad_norm.push_back(h.grad_norms.empty() ? 0 : *std::max_element(h.grad_norms.begin(), h.grad_norms.end()));
      if (r.curve.empty()) r.curve.assign(h.accuracy.size(), 0.0), r.losses.assign(h.losses.size(), 0.0);
      for (std::size_t k = 0; k < h.accuracy.size() && k < r.curve.size(); ++k) {
        if (seed == 0) r.curve_steps.push_back(double(h.accuracy[k].first));
        r.curve[k] += h.accuracy[k].second / double(seeds);
      }
      for (std::size_t k = 0; k < h.losses.size() && k < r.losses.size(); ++k) r.losses[k] += h.losses[k] / double(seeds);
    }
    std::printf("  %-20s held-out %5.1f%% (mean of %lld seeds, %.1f s)%s\n", variants[i].name.c_str(),
                100 * r.mean(r.final_accuracy), (long long)seeds, r.seconds, r.diverged ? "  DIVERGED (non-finite loss)" : "");
    if (r.diverged) std::printf("    %s\n", r.divergence.c_str());
    std::fflush(stdout);
  }
  double total_seconds = total_clock.seconds();

  tutorial::section("4. Results");
  std::printf("  %-20s %10s %15s %10s %12s %12s\n", "run", "held-out", "seed range", "train set", "confidence",
              "max |grad|");
  for (std::size_t i = 0; i < variants.size(); ++i) {
    const Result& r = results[i];
    double low = *std::min_element(r.final_accuracy.begin(), r.final_accuracy.end());
    double high = *std::max_element(r.final_accuracy.begin(), r.final_accuracy.end());
    std::printf("  %-20s %9.1f%% %7.1f..%5.1f%% %9.1f%% %11.3f %12.2f\n", variants[i].name.c_str(),
                100 * r.mean(r.final_accuracy), 100 * low, 100 * high, 100 * r.mean(r.train_accuracy),
                r.mean(r.confidence), r.mean(r.max_grad_norm));
  }
  std::printf("  (held-out accuracy at the last step, mean and range over seeds; train set: accuracy on the\n"
              "  %lld training sequences; confidence: mean probability of the predicted class on held-out\n"
              "  data; max |grad|: largest gradient norm seen, before clipping)\n",
              (long long)all.train_set_size);
  // What the numbers say, worked out from them rather than written in advance. Within a seed
  // every variant starts from the same weights and sees the same batches, so the per-seed
  // difference to "all tricks" is a paired comparison: it counts as consistent when every seed
  // moves the same way.
  const Result& base = results[0];
  std::printf("\n  Switching one trick off changes held-out accuracy by (mean, then per seed):\n");
  for (std::size_t i = 1; i < variants.size(); ++i) {
    double change = results[i].mean(results[i].final_accuracy) - base.mean(base.final_accuracy);
    int up = 0, down = 0;
    std::string per_seed;
    for (std::int64_t k = 0; k < seeds; ++k) {
      double d = results[i].final_accuracy[k] - base.final_accuracy[k];
      up += d > 0, down += d < 0;
      char text[16];
      std::snprintf(text, sizeof text, " %+.1f", 100 * d);
      per_seed += text;
    }
    const char* verdict = seeds < 2       ? ""
                          : down == seeds ? "worse for every seed"
                          : up == seeds   ? "better for every seed"
                                          : "mixed: no evidence";
    std::printf("    %-20s %+6.1f points  (%s )  %s\n", variants[i].name.c_str(), 100 * change, per_seed.c_str(), verdict);
  }
  std::printf("  label smoothing off: confidence %.3f -> %.3f (the model pushes its probabilities to 1)\n",
              base.mean(base.confidence), results[5].mean(results[5].confidence));
  // With smoothing s over C = 2 classes the target is (1 - s + s/2) on the label and s/2 on the
  // other class; the loss cannot go below that distribution's entropy, however good the model.
  const double s_ls = all.label_smoothing, on = 1 - s_ls / 2, off = s_ls / 2;
  const double loss_floor = -(on * std::log(on) + off * std::log(off));
  double base_final_loss = 0, plain_final_loss = 0;
  const std::size_t tail = std::min<std::size_t>(10, base.losses.size());
  for (std::size_t k = base.losses.size() - tail; k < base.losses.size(); ++k) {
    base_final_loss += base.losses[k] / double(tail);
    plain_final_loss += results[5].losses[k] / double(tail);
  }
  std::printf("  with smoothing %.2f the training loss cannot go below the entropy of the smoothed target,\n"
              "  %.4f; the last 10 steps average %.4f with all tricks, %.4f without smoothing\n",
              s_ls, loss_floor, base_final_loss, plain_final_loss);

  tutorial::section("5. Pictures");
  {
    viz::LinePlot plot("Held-out accuracy, mean of " + std::to_string(seeds) + " seeds");
    plot.set_x_label("step").set_y_label("held-out accuracy").set_y_range(0.4, 1.02);
    for (std::size_t i = 0; i < variants.size(); ++i) plot.add_series(variants[i].name, results[i].curve_steps, results[i].curve);
    tutorial::save_picture(plot, options, "tricks_accuracy.png",
                           "which recipe reaches high held-out accuracy sooner, and which ends "
                           "higher: the gap each trick makes, averaged over seeds");

    viz::LinePlot loss("Training loss (mean of seeds, smoothed over 10 steps)");
    loss.set_x_label("step").set_y_label("cross-entropy (label-smoothed where on)").set_markers(viz::MarkerMode::never);
    for (std::size_t i = 0; i < variants.size(); ++i) {
      const std::vector<double>& l = results[i].losses;
      std::vector<double> at, smooth;
      for (std::size_t s = 0; s < l.size(); ++s) {
        std::size_t from = s >= 9 ? s - 9 : 0;
        double sum = 0;
        for (std::size_t k = from; k <= s; ++k) sum += l[k];
        at.push_back(double(s + 1)), smooth.push_back(sum / double(s - from + 1));
      }
      loss.add_series(variants[i].name, at, smooth);
    }
    loss.add_reference_line(loss_floor, "lowest possible with label smoothing " + std::to_string(all.label_smoothing).substr(0, 4));
    tutorial::save_picture(loss, options, "tricks_loss.png",
                           "runs with label smoothing level off at the dashed floor, never at 0: "
                           "their loss is not comparable with the others' in absolute terms");
  }

  tutorial::section("6. Checks");
  for (std::size_t i = 0; i < results.size(); ++i) {
    // Mean of the first and of the last 10 steps (single batches are noisy); --quick runs too
    // few steps to expect progress, so there only that training ran and stayed finite.
    const std::vector<double>& l = results[i].losses;
    std::size_t k = std::min<std::size_t>(10, l.size() / 2);
    double first = 0, last = 0;
    for (std::size_t s = 0; s < k; ++s) first += l[s] / k, last += l[l.size() - 1 - s] / k;
    if (options.quick)
      checks.check(!results[i].diverged && l.size() == std::size_t(all.steps),
                   "training ran with finite losses (" + variants[i].name + ")");
    else
      checks.check(last < first, "the training loss went down (" + variants[i].name + ")");
  }
  if (!options.quick) {
    checks.check(base.mean(base.final_accuracy) >= 0.85, "with all tricks, mean held-out accuracy is at least 85%");
    checks.check(results[5].mean(results[5].confidence) > base.mean(base.confidence) + 0.02,
                 "label smoothing lowers the model's confidence (mean max probability)");
    checks.check(results[1].mean(results[1].final_accuracy) < base.mean(base.final_accuracy),
                 "at this learning rate, training without warmup ends worse than with all tricks");
    checks.check(base_final_loss >= loss_floor - 1e-3,
                 "with label smoothing the loss stays above the entropy of the smoothed target");
  }
  int code = checks.finish();
  std::printf("mean held-out accuracy: all tricks %.1f%%;", 100 * base.mean(base.final_accuracy));
  for (std::size_t i = 1; i < variants.size(); ++i)
    std::printf(" %s %.1f%%%s", variants[i].name.c_str(), 100 * results[i].mean(results[i].final_accuracy),
                i + 1 < variants.size() ? "," : "");
  std::printf("; %zu runs in %.1f s\n", variants.size() * seeds, total_seconds);
  std::string changes;  // "no warmup -12.3, no dropout +0.4, ...": points of held-out accuracy
  for (std::size_t i = 1; i < variants.size(); ++i) {
    char text[48];
    std::snprintf(text, sizeof text, "%s%s %+.1f", i > 1 ? ", " : "", variants[i].name.c_str(),
                  100 * (results[i].mean(results[i].final_accuracy) - base.mean(base.final_accuracy)));
    changes += text;
  }
  char answer[800];
  std::snprintf(answer, sizeof answer,
                "Each trick was checked by hand, then switched off in turn on one task (peak lr %.0e, %lld\n"
                "seed%s). All tricks: %.1f%% held-out accuracy. Points changed by switching one off:\n"
                "%s.\n"
                "Without label smoothing the confidence rose from %.3f to %.3f. Which trick matters\n"
                "depends on the model, the data and the learning rate: measure, as here.",
                all.lr, (long long)seeds, seeds == 1 ? "" : "s", 100 * base.mean(base.final_accuracy), changes.c_str(),
                base.mean(base.confidence), results[5].mean(results[5].confidence));
  tutorial::print_answer(kQuestion, answer);
  return code;
} catch (...) {
  return tutorial::report_error();
}
