// 17_interpretability — How do you interpret what attention attends to?
//                       如何解释注意力机制关注了什么？如何实现注意力机制的可解释性？
//                       (The interview article "Attention Mechanism原理与代码实例讲解——面试题和
//                       算法编程题解析" answers "visualise the attention weights" and names LIME
//                       and SHAP, without a single example.)
//
// Short answer
//   Attention weights say where each position READ information from, in one layer and one head.
//   They are a useful first look, but not an explanation of the decision by themselves:
//     - deeper layers read positions that already mix information from all tokens, so a layer's
//       map does not say which INPUT tokens matter. Attention rollout (Abnar & Zuidema, 2020)
//       follows the mixing through the stack: R = (A_L/2 + I/2) ... (A_1/2 + I/2), heads
//       averaged, the identity standing for the residual connection;
//     - attention is non-negative: it cannot tell whether a token pushes the decision up or down.
//       Gradient x input, s_t = sum_e (d margin / d x_te) x_te, is signed, and is the first-order
//       change of the output when token t's embedding is scaled to zero.
//   Check explanations against the ground truth when you know it, and against interventions:
//   delete the token an explanation ranks first and see whether the prediction moves.
//
// What this program shows, on a small BERT-style classifier trained on "more a's or more b's?"
// (only a's and b's matter, so we know the right answer):
//   1. the model trained (accuracy printed) and its attention maps for every layer and head on one
//      held-out sequence (interp_attention_maps.png);
//   2. attention rollout, its matrix products checked against plain loops;
//   3. gradient x input, checked against finite differences of the output when one token's
//      embedding is scaled (float64);
//   4. the methods compared on the held-out set: share of each explanation on the a/b tokens,
//      rank agreement between rollout and gradient x input, the signs that attention cannot show,
//      and a deletion test (replace the top-ranked token, count flipped predictions);
//      interp_explanations.png puts them side by side for one sequence.
//
// Run:  build/tutorials/17_interpretability   (--steps, --layers, --heads; --quick for CI)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/classifier_training.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/tasks.hpp"
#include "tutorials/common/training.hpp"
#include "tutorials/common/tutorial.hpp"
#include "viz/heatmap.hpp"

using namespace nn;
using autograd::NoGradGuard;
using tutorial::MajorityTask;

namespace {

// What BertEncoder::forward does after looking up the embeddings: the encoder layers, then the
// [CLS] classifier. Starting from the embeddings lets us differentiate with respect to them.
Tensor logits_from_embeddings(BertEncoder& model, const Tensor& embedded, const Tensor& padding) {
  Tensor h = embedded;
  for (auto& layer : model.layers->items()) h = layer->forward(h, {.key_padding_mask = padding});
  if (model.norm) h = (*model.norm)(h);
  return model.classify(h);
}
Tensor embed(BertEncoder& model, const Tensor& ids) { return model.pos_embed->forward(model.tok_embed->forward(ids), 0); }

// The decision margin: logit of the predicted class minus the other one, [N].
Tensor margin(const Tensor& logits, const std::vector<std::int64_t>& predicted) {
  std::vector<double> sign;
  for (std::int64_t p : predicted) sign.push_back(p == 0 ? 1.0 : -1.0);
  Tensor s(tensor::from_vector(sign, {(std::int64_t)sign.size()}).to(logits.dtype()));
  return (logits.select(1, 0) - logits.select(1, 1)) * s;
}

// Spearman rank correlation of two equally long lists (ties broken by position).
double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  auto ranks = [](const std::vector<double>& x) {
    std::vector<std::size_t> order(x.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t i, std::size_t j) { return x[i] < x[j]; });
    std::vector<double> r(x.size());
    for (std::size_t i = 0; i < order.size(); ++i) r[order[i]] = double(i);
    return r;
  };
  std::vector<double> ra = ranks(a), rb = ranks(b);
  double n = double(a.size()), sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += (ra[i] - rb[i]) * (ra[i] - rb[i]);
  return 1 - 6 * sum / (n * (n * n - 1));
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "17_interpretability",
    .chinese = "如何在深度学习模型中实现注意力机制的可解释性？",
    .english = "How do you make a model's attention interpretable: what does attention attend to?",
    .answer = "Attention maps show where one head of one layer read from, a first look but not an\n"
              "explanation: deeper layers read already-mixed positions (attention rollout multiplies the\n"
              "layers' maps, residual included), and weights are never negative, so they cannot say\n"
              "whether a token pushes the decision up or down (gradient x input is signed). Check any\n"
              "explanation against an intervention: delete the token it ranks first.",
    .article = "Attention Mechanism原理与代码实例讲解——面试题和算法编程题解析",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  std::int64_t symbols = 8, min_len = 8, max_len = 14, held_out = 500;
  std::int64_t d_model = 64, heads = 2, layers = 2, d_ff = 128;
  tutorial::TrainingRecipe recipe;
  recipe.steps = 300, recipe.batch = 64, recipe.lr = 1e-3, recipe.warmup_steps = 30, recipe.eval_every = 50;
  // At least 3: the deletion test (section 4) replaces a token by the distractor 'c'.
  flags.add("--symbols", symbols, "symbols: a, b and symbols-2 distractors", tutorial::between(3, 26));
  flags.add("--max-len", max_len, "longest sequence (the shortest is 8)", tutorial::between(8, 128));
  flags.add("--d-model", d_model, "model width", tutorial::between(1, 4096));
  flags.add("--heads", heads, "attention heads (must divide --d-model)", tutorial::between(1, 256));
  flags.add("--layers", layers, "encoder layers", tutorial::between(1, 64));
  flags.add("--steps", recipe.steps, "training steps", tutorial::between(1, 1000000));
  flags.parse(argc, argv);
  if (options.quick) {  // a few seconds (flags given win)
    flags.quick(d_model, 32);
    flags.quick(recipe.steps, std::min<std::int64_t>(recipe.steps, 30));
    d_ff = 64, held_out = 100, recipe.batch = 32, recipe.eval_every = 15, recipe.warmup_steps = 5;
  }
  tutorial::Flags::require(d_model % heads == 0, "--heads " + std::to_string(heads) +
                                                     " does not divide --d-model " + std::to_string(d_model));
  // The held-out sequences are distinct and never trained on: ask for 4x as many possible inputs.
  double distinct = 0;
  for (std::int64_t n = min_len; n <= max_len; ++n) distinct += std::pow(double(symbols), double(n));
  tutorial::Flags::require(distinct >= 4.0 * double(held_out),
                           "--symbols " + std::to_string(symbols) + " and --max-len " + std::to_string(max_len) +
                               " allow only " + std::to_string(static_cast<long long>(distinct)) +
                               " sequences, too few for " + std::to_string(held_out) +
                               " distinct held-out ones: raise --symbols or --max-len");
  tutorial::Checks checks;
  const std::int64_t L = layers, H = heads;

  tutorial::section("1. A trained model and its attention maps");
  MajorityTask task(symbols, min_len, max_len);
  tutorial::MajorityData data(task, held_out, options.seed + 1000);
  Generator model_gen(options.seed), data_gen(options.seed + 1);
  BertConfig config;
  config.vocab = task.vocab_size(), config.max_len = task.max_tokens();
  config.layer = {d_model, heads, d_ff, 0.0, "gelu", /*norm_first=*/false, 1e-5};
  config.num_layers = layers, config.num_classes = 2;
  BertEncoder model(config, model_gen);
  tutorial::Progress progress(recipe.steps);
  tutorial::TrainingHistory history = tutorial::train_classifier(
      model, data, recipe, data_gen, [&](std::int64_t step, double loss) { progress.update(step, loss, 0); });
  progress.finish();
  double accuracy = history.accuracy.back().second;
  std::printf("  %lld-layer, %lld-head encoder trained %lld steps (%.1f s): held-out accuracy %.1f%%\n",
              (long long)L, (long long)H, (long long)recipe.steps, history.seconds, 100 * accuracy);
  model.eval();

  // One held-out sequence with a close vote, to look at.
  const tutorial::LabeledSequence* shown = &data.held_out()[0];
  for (const auto& ex : data.held_out()) {
    std::int64_t a = std::count(ex.tokens.begin(), ex.tokens.end(), MajorityTask::A);
    std::int64_t b = std::count(ex.tokens.begin(), ex.tokens.end(), MajorityTask::B);
    if (a >= 2 && b >= 2 && std::abs(a - b) == 1 && ex.tokens.size() <= 12) {
      shown = &ex;
      break;
    }
  }
  std::vector<std::string> labels;
  for (std::int64_t t : shown->tokens) labels.push_back(task.token_text(t));
  const std::int64_t T = shown->tokens.size();
  std::printf("  the sequence we look at: %s (%s)\n", task.to_text(shown->tokens).c_str(),
              MajorityTask::label_text(shown->label));
  std::vector<Tensor> attention;  // per layer: [H, T, T] on the shown sequence
  {
    NoGradGuard no_grad;
    model.keep_attention(true);
    model.forward(tutorial::make_classification_batch({*shown}).ids);
    model.keep_attention(false);
    viz::HeatmapGrid maps((int)H);  // one row of the grid per layer
    maps.set_title("Attention maps of every layer and head: " + task.to_text(shown->tokens))
        .set_y_label("query token").set_x_label("key token").set_range(0, 1).set_colorbar_label("weight");
    for (std::int64_t l = 0; l < L; ++l) {
      attention.push_back(model.layers->items()[l]->last_attention.select(0, 0));
      for (std::int64_t h = 0; h < H; ++h)
        maps.add_panel("layer " + std::to_string(l) + ", head " + std::to_string(h),
                       attention[l].select(0, h).to_vector<double>(), (int)T, (int)T, labels, labels);
    }
    tutorial::save_picture(maps, options, "interp_attention_maps.png",
                           "heads whose bright columns sit on the a and b tokens, and others that "
                           "spread evenly; raw maps do not say which of them the answer used");
  }

  tutorial::section("2. Attention rollout: follow the mixing through the layers");
  // R = Â_{L-1} ... Â_0 with Â_l = (mean over heads of A_l) / 2 + I / 2. Row 0 of R: how much of
  // [CLS]'s final state comes from each input position.
  Tensor rollout = autograd::eye(T);
  for (std::int64_t l = 0; l < L; ++l)
    rollout = autograd::matmul(0.5 * autograd::mean(attention[l], {0}) + 0.5 * autograd::eye(T), rollout);
  {
    // By hand: the same products with plain loops.
    std::vector<double> r(T * T, 0.0);
    for (std::int64_t i = 0; i < T; ++i) r[i * T + i] = 1;
    for (std::int64_t l = 0; l < L; ++l) {
      std::vector<double> a(T * T, 0.0), next(T * T, 0.0);
      for (std::int64_t i = 0; i < T; ++i)
        for (std::int64_t j = 0; j < T; ++j) {
          for (std::int64_t h = 0; h < H; ++h) a[i * T + j] += attention[l].at({h, i, j}) / double(H);
          a[i * T + j] = 0.5 * a[i * T + j] + (i == j ? 0.5 : 0.0);
        }
      for (std::int64_t i = 0; i < T; ++i)
        for (std::int64_t j = 0; j < T; ++j)
          for (std::int64_t k = 0; k < T; ++k) next[i * T + j] += a[i * T + k] * r[k * T + j];
      r = next;
    }
    double worst = 0, row_sum = 0;
    for (std::int64_t i = 0; i < T * T; ++i) worst = std::max(worst, std::fabs(r[i] - rollout.data().to_vector<double>()[i]));
    for (std::int64_t j = 0; j < T; ++j) row_sum += rollout.at({0, j});
    checks.small(worst, 1e-5, "rollout from tensor matmuls equals plain loops");
    checks.close(row_sum, 1, 1e-5, "each rollout row is a distribution (sums to 1)");
  }

  tutorial::section("3. Gradient x input, checked by finite differences");
  {
    // float64 for the check: a copy of the model's numbers in double precision.
    model.to(DType::Float64);
    tutorial::ClassificationBatch one = tutorial::make_classification_batch({*shown});
    Tensor embedded = embed(model, one.ids).detach().requires_grad_();  // [1, T, E]
    Tensor logits = logits_from_embeddings(model, embedded, one.padding);
    std::vector<std::int64_t> predicted = autograd::argmax(logits, -1).to_vector<std::int64_t>();
    margin(logits, predicted).sum().backward();
    // s_t = sum_e grad[t, e] * x[t, e]
    Tensor saliency = (embedded.grad() * embedded).sum({-1}).select(0, 0);
    // Finite differences: s_t = d/d(alpha) margin(x with row t scaled by alpha) at alpha = 1.
    double worst = 0;
    const double eps = 1e-6;
    NoGradGuard no_grad;
    for (std::int64_t t = 0; t < T; ++t) {
      auto scaled = [&](double alpha) {
        std::vector<double> factor(T, 1.0);
        factor[t] = alpha;
        Tensor f(tensor::from_vector(factor, {1, T, 1}));
        return margin(logits_from_embeddings(model, embedded.detach() * f, one.padding), predicted).item();
      };
      double numerical = (scaled(1 + eps) - scaled(1 - eps)) / (2 * eps);
      worst = std::max(worst, std::fabs(numerical - saliency.at({t})));
    }
    std::printf("  gradient x input for every token vs finite differences: worst difference %.1e\n", worst);
    checks.small(
        worst, 1e-6,
        "gradient x input equals the finite-difference derivative along each token (float64)");
    model.to(DType::Float32);
  }

  tutorial::section("4. The explanations compared on the held-out set");
  // For every held-out sequence and every symbol token (not [CLS], not padding), four scores:
  //   attention of [CLS] in layer 0 and in the last layer (mean over heads), rollout row 0, and
  //   |gradient x input|. Each normalised to sum 1 over the sequence's symbol tokens.
  const std::vector<tutorial::LabeledSequence>& examples = data.held_out();
  const std::size_t N = examples.size();
  tutorial::ClassificationBatch all = tutorial::make_classification_batch(examples);
  const std::int64_t width = all.ids.size(1);
  const char* method_names[] = {"attention, layer 0", "attention, last layer", "attention rollout", "|gradient x input|"};
  const char* short_names[] = {"attn, layer 0", "attn, last layer", "rollout", "|grad x input|"};  // for pictures
  const int methods = 4;
  std::vector<std::vector<double>> scores(methods, std::vector<double>(N * width, 0.0));
  std::vector<double> signed_saliency(N * width);
  std::vector<std::int64_t> predicted;
  {
    model.keep_attention(true);
    Tensor embedded = embed(model, all.ids).detach().requires_grad_();
    Tensor logits = logits_from_embeddings(model, embedded, all.padding);
    model.keep_attention(false);
    predicted = autograd::argmax(logits, -1).to_vector<std::int64_t>();
    margin(logits, predicted).sum().backward();
    signed_saliency = (embedded.grad() * embedded).sum({-1}).to_vector<double>();
    NoGradGuard no_grad;
    std::vector<Tensor> per_layer;  // [N, T, T], heads averaged
    for (auto& layer : model.layers->items()) per_layer.push_back(autograd::mean(layer->last_attention, {1}));
    Tensor roll = autograd::eye(width).unsqueeze(0);
    for (const Tensor& a : per_layer) roll = autograd::matmul(0.5 * a + 0.5 * autograd::eye(width), roll);
    std::vector<double> first = per_layer.front().select(1, 0).to_vector<double>();  // [N, T]
    std::vector<double> last = per_layer.back().select(1, 0).to_vector<double>();
    std::vector<double> rolled = roll.select(1, 0).to_vector<double>();
    for (std::size_t i = 0; i < N; ++i)
      for (std::int64_t t = 1; t < (std::int64_t)examples[i].tokens.size(); ++t) {
        std::size_t at = i * width + t;
        scores[0][at] = first[at], scores[1][at] = last[at], scores[2][at] = rolled[at];
        scores[3][at] = std::fabs(signed_saliency[at]);
      }
    for (auto& s : scores)
      for (std::size_t i = 0; i < N; ++i) {
        double total = 0;
        for (std::int64_t t = 1; t < width; ++t) total += s[i * width + t];
        for (std::int64_t t = 1; t < width; ++t) s[i * width + t] /= std::max(total, 1e-30);
      }
  }
  auto is_ab = [&](std::size_t i, std::int64_t t) {
    return t >= 1 && t < (std::int64_t)examples[i].tokens.size() &&
           (examples[i].tokens[t] == MajorityTask::A || examples[i].tokens[t] == MajorityTask::B);
  };
  // (a) Ground truth: how much of each explanation lands on the a's and b's?
  double uniform_share = 0;
  std::vector<double> share(methods, 0.0);
  for (std::size_t i = 0; i < N; ++i) {
    std::int64_t ab = 0, n = examples[i].tokens.size() - 1;
    for (std::int64_t t = 1; t <= n; ++t) ab += is_ab(i, t);
    uniform_share += double(ab) / n / N;
    for (int m = 0; m < methods; ++m)
      for (std::int64_t t = 1; t <= n; ++t)
        if (is_ab(i, t)) share[m] += scores[m][i * width + t] / N;
  }
  std::printf("  (a) share of each explanation on the a/b tokens (the only ones that matter):\n");
  for (int m = 0; m < methods; ++m) std::printf("      %-24s %5.1f%%\n", method_names[m], 100 * share[m]);
  std::printf("      %-24s %5.1f%%   (uniform: their share of the tokens)\n", "uniform", 100 * uniform_share);

  // (b) Do rollout and gradient x input rank the tokens alike?
  double agreement_rollout = 0, agreement_last = 0;
  for (std::size_t i = 0; i < N; ++i) {
    std::vector<double> g, r, a;
    for (std::int64_t t = 1; t < (std::int64_t)examples[i].tokens.size(); ++t) {
      g.push_back(scores[3][i * width + t]);
      r.push_back(scores[2][i * width + t]);
      a.push_back(scores[1][i * width + t]);
    }
    agreement_rollout += spearman(r, g) / N;
    agreement_last += spearman(a, g) / N;
  }
  std::printf("  (b) rank correlation (Spearman) with |gradient x input|, mean over sequences:\n"
              "      attention rollout %.2f, last-layer attention %.2f\n", agreement_rollout, agreement_last);

  // (c) Signs: with the margin of the predicted class, the majority letter should push it up and
  // the minority letter down. Attention weights are >= 0 and cannot say which.
  double majority_sum = 0, minority_sum = 0;
  std::int64_t majority_count = 0, minority_count = 0, minority_negative = 0;
  for (std::size_t i = 0; i < N; ++i) {
    std::int64_t majority = predicted[i] == 0 ? MajorityTask::A : MajorityTask::B;
    for (std::int64_t t = 1; t < (std::int64_t)examples[i].tokens.size(); ++t) {
      if (!is_ab(i, t)) continue;
      double s = signed_saliency[i * width + t];
      if (examples[i].tokens[t] == majority) majority_sum += s, ++majority_count;
      else minority_sum += s, ++minority_count, minority_negative += s < 0;
    }
  }
  std::printf("  (c) signed gradient x input: majority letter %+.3f on average, minority letter %+.3f;\n"
              "      negative for %.0f%% of minority-letter tokens — attention gives them positive weight.\n",
              majority_sum / majority_count, minority_sum / minority_count, 100.0 * minority_negative / minority_count);

  // (d) Deletion: replace the symbol token each explanation ranks first by a distractor ('c')
  // and count how often the prediction flips. Two more rankings: the most POSITIVE signed
  // gradient x input (the token that most supports the prediction), and a random token.
  const int signed_method = methods, random_method = methods + 1;
  std::vector<double> flipped(methods + 2, 0.0);
  Generator pick_gen(options.seed + 7);
  for (int m = 0; m < methods + 2; ++m) {
    std::vector<tutorial::LabeledSequence> edited = examples;
    std::vector<std::int64_t> random_pick =
        tensor::randint(0, 1 << 30, {(std::int64_t)N}, pick_gen).to_vector<std::int64_t>();
    for (std::size_t i = 0; i < N; ++i) {
      std::int64_t n = examples[i].tokens.size() - 1, best = 1;
      const std::vector<double>& score = m == signed_method ? signed_saliency : scores[m == random_method ? 0 : m];
      if (m == random_method) best = 1 + random_pick[i] % n;
      else
        for (std::int64_t t = 2; t <= n; ++t)
          if (score[i * width + t] > score[i * width + best]) best = t;
      edited[i].tokens[best] = MajorityTask::FIRST_SYMBOL + 2;  // 'c'
    }
    NoGradGuard no_grad;
    tutorial::ClassificationBatch batch = tutorial::make_classification_batch(edited);
    std::vector<std::int64_t> now = autograd::argmax(model.classify(model.forward(batch.ids, batch.padding)), -1)
                                        .to_vector<std::int64_t>();
    for (std::size_t i = 0; i < N; ++i) flipped[m] += double(now[i] != predicted[i]) / N;
  }
  std::printf("  (d) deletion test: replace the top-ranked token by 'c'; predictions flipped:\n");
  for (int m = 0; m < methods; ++m) std::printf("      %-32s %5.1f%%\n", method_names[m], 100 * flipped[m]);
  std::printf("      %-32s %5.1f%%\n", "gradient x input, most positive", 100 * flipped[signed_method]);
  std::printf("      %-32s %5.1f%%\n", "a random token", 100 * flipped[random_method]);
  std::printf("  Deleting a minority letter only strengthens the prediction, and unsigned scores cannot\n"
              "  tell it from the majority letter; the signed gradient can. Only sequences won by one\n"
              "  letter can flip after one deletion, so no ranking reaches 100%%.\n");

  tutorial::section("5. Pictures");
  {
    // The shown sequence: rows = methods, columns = its tokens (CLS excluded); each row sums to 1.
    std::size_t index = shown - &examples[0];
    std::vector<double> cells;
    std::vector<std::string> rows, columns(labels.begin() + 1, labels.end());
    for (int m = 0; m < methods; ++m) {
      rows.push_back(short_names[m]);
      for (std::int64_t t = 1; t < T; ++t) cells.push_back(scores[m][index * width + t]);
    }
    viz::Heatmap compare(cells, methods, (int)(T - 1));
    compare.set_title("Which tokens matter for " + task.to_text(shown->tokens) + " -> " +
                      MajorityTask::label_text(predicted[index]) + "? Each row sums to 1")
        .set_row_labels(rows).set_col_labels(columns).set_x_label("token").set_colorbar_label("share");
    std::vector<double> signed_row;
    double top = 0;
    for (std::int64_t t = 1; t < T; ++t) top = std::max(top, std::fabs(signed_saliency[index * width + t]));
    for (std::int64_t t = 1; t < T; ++t) signed_row.push_back(signed_saliency[index * width + t] / top);
    viz::Heatmap signs(signed_row, 1, (int)(T - 1));
    signs.set_title("Signed gradient x input (scaled to max 1): + pushes towards the prediction")
        .set_row_labels({"grad x input"}).set_col_labels(columns).set_x_label("token")
        .set_colormap(viz::ColormapKind::diverging).set_range(-1, 1).set_colorbar_label("effect");
    tutorial::save_picture(compare, options, "interp_explanations.png",
                           "rows that agree put their share on the a and b tokens; a row "
                           "spread over the distractors is a method that explains little");
    tutorial::save_picture(signs, options, "interp_signed_saliency.png",
                           "red pushes towards the prediction, blue against it: the majority "
                           "symbol's tokens red, the minority's blue, distractors near white");
  }

  tutorial::section("6. Checks");
  checks.check(history.losses.back() < history.losses.front(), "the training loss went down");
  if (!options.quick) {
    checks.check(accuracy >= 0.95, "the model is accurate enough to be worth explaining (>= 95%)");
    checks.check(share[3] > uniform_share + 0.3, "gradient x input concentrates on the a/b tokens");
    checks.check(100.0 * minority_negative / minority_count > 80, "the minority letter's gradient x input is negative (> 80%)");
    checks.check(flipped[signed_method] > 2 * flipped[random_method],
                 "deleting the most supporting token (signed gradient x input) flips > 2x more than a random one");
  }
  int code = checks.finish();
  std::printf("accuracy %.1f%%; share on a/b: last-layer attention %.0f%%, rollout %.0f%%, |grad x input| %.0f%% "
              "(uniform %.0f%%); deletion flips: attention %.0f%%, rollout %.0f%%, |grad x input| %.0f%%, signed %.0f%%, "
              "random %.0f%%\n",
              100 * accuracy, 100 * share[1], 100 * share[2], 100 * share[3], 100 * uniform_share, 100 * flipped[1],
              100 * flipped[2], 100 * flipped[3], 100 * flipped[signed_method], 100 * flipped[random_method]);
  char answer[700];
  std::snprintf(answer, sizeof answer,
                "On a model %.1f%% accurate at \"more a's or b's?\", the share of each explanation on the a/b\n"
                "tokens (the only ones that matter; uniform %.0f%%): last-layer attention %.0f%%, rollout %.0f%%,\n"
                "|gradient x input| %.0f%%. Attention cannot show sign; gradient x input can. Deleting the\n"
                "top-ranked token flipped %.0f%% of predictions for signed gradient x input, %.0f%% for\n"
                "last-layer attention, %.0f%% for a random token.",
                100 * accuracy, 100 * uniform_share, 100 * share[1], 100 * share[2], 100 * share[3],
                100 * flipped[signed_method], 100 * flipped[1], 100 * flipped[random_method]);
  tutorial::print_answer(kQuestion, answer);
  return code;
} catch (...) {
  return tutorial::report_error();
}
