// 27_lora — How does LoRA fine-tune a model with few parameters?
//           LoRA 是如何只用很少的参数微调模型的？
//
// Short answer
//   LoRA freezes every pretrained weight W [out, in] and learns only a low-rank correction
//   ΔW = (alpha / r) · B A, with A [r, in] and B [out, r]: r·(in + out) numbers per layer instead
//   of in·out. B starts at zero, so fine-tuning starts from exactly the pretrained model; the
//   optimizer holds state (Adam: two floats) only for A and B, so its memory shrinks by the same
//   factor; and after training B A is merged into W, so the fine-tuned model runs at the base
//   model's cost. Because W never changes, one base model serves many tasks, each a small file.
//
// What this program shows
//   1. one LoRA layer: its output and its merged weight against plain loops, and the count
//      r·(in + out);
//   2. a small BERT-style classifier (nn::BertEncoder) pretrained on "more a's or more b's?"
//      (tutorials/common/tasks.hpp);
//   3. the same model fine-tuned on a shifted task, "more c's or more d's?", five ways from the
//      same pretrained weights: every weight, LoRA with r = 1, 4, 16 on every Linear of the
//      encoder (plus the 2-way classifier head, trained fully, as PEFT's modules_to_save does),
//      and the classifier head alone. A table: trainable parameters (LoRA's checked against
//      r·(in + out) per adapted layer), Adam's state measured from the optimizer itself (two
//      floats per trainable parameter), held-out accuracy on both tasks, and whether the
//      pretrained weights were left untouched;
//   4. the adapters saved alone (llm::save_lora), their file size next to the whole model's,
//      and loaded into a fresh copy of the pretrained model: the same outputs, exactly;
//   5. merged and unmerged adapters give the same outputs (checked); unmerging gives W back;
//   6. a picture: accuracy on the shifted task against the number of trainable parameters.
//
// Run:  build/tutorials/27_lora   (--ranks 1,4,16, --alpha, --finetune-steps; --quick for CI)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "llm/lora.hpp"
#include "nn/checkpoint.hpp"
#include "nn/nn.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/qkv_files.hpp"
#include "tutorials/common/tasks.hpp"
#include "tutorials/common/training.hpp"
#include "tutorials/common/tutorial.hpp"

using namespace nn;
using autograd::NoGradGuard;
using tutorial::LabeledSequence;
using tutorial::MajorityTask;

const tutorial::Question kQuestion{
    .program = "27_lora",
    .chinese = "LoRA 是如何只用很少的参数微调模型的？",
    .english = "How does LoRA fine-tune a model with few parameters?",
    .answer = "Freeze the pretrained W [out, in]; learn only dW = (alpha/r)·B·A with A [r, in], B [out, r]:\n"
              "r·(in+out) numbers per layer instead of in·out. B starts at 0 (training starts from the\n"
              "pretrained model); the optimizer keeps state only for A and B (Adam: 2 floats each); after\n"
              "training B·A is merged into W, so inference costs nothing extra, and W itself never changes.",
    .article = "",
};

namespace {

// The shifted task: the same sequences with a <-> c and b <-> d swapped, so the label now says
// whether there are more c's or more d's. A bijection on the symbols, so the training batches
// still never contain a held-out sequence.
std::vector<LabeledSequence> shifted(std::vector<LabeledSequence> examples) {
  const std::int64_t a = MajorityTask::A, b = MajorityTask::B, c = a + 2, d = a + 3;
  for (LabeledSequence& example : examples)
    for (std::int64_t& token : example.tokens)
      token = token == a ? c : token == c ? a : token == b ? d : token == d ? b : token;
  return examples;
}

// Copies every parameter and buffer of `from` into `to` (same architecture): a second copy of
// the pretrained model to fine-tune another way.
void copy_weights(const Module& from, Module& to) {
  NamedTensors source = from.named_parameters(), target = to.named_parameters();
  for (std::size_t i = 0; i < source.size(); ++i) target[i].second.data().copy_(source[i].second.data());
}

// Adam's state right now, counted from the optimizer itself: its arrays (exp_avg and exp_avg_sq
// per trainable parameter), not the step counter. Returns {values, bytes}.
std::pair<std::int64_t, std::int64_t> optimizer_state_size(const Optimizer& optimizer) {
  std::int64_t values = 0, bytes = 0;
  for (const auto& [name, array] : optimizer.state()) {
    if (name == "steps") continue;
    values += array.numel();
    bytes += array.numel() * std::int64_t(tensor::dtype_size(array.dtype()));
  }
  return {values, bytes};
}

std::int64_t count_values(const std::vector<Tensor>& tensors) {
  std::int64_t n = 0;
  for (const Tensor& t : tensors) n += t.numel();
  return n;
}

// max |t|: the scale that float32 rounding errors are relative to.
double largest_abs(const Tensor& t) {
  double largest = 0;
  for (float value : t.to_vector<float>()) largest = std::max(largest, double(std::fabs(value)));
  return largest;
}

struct TrainResult {
  double final_loss = 0, seconds = 0;
  std::int64_t state_values = 0, state_bytes = 0;
};

// Trains `trainable` (and nothing else: the optimizer sees only them) on batches from `draw`.
// `progress` counts the steps of every run of the program; this run's first is `first_step`.
TrainResult train(BertEncoder& model, const std::vector<Tensor>& trainable,
                  const std::function<std::vector<LabeledSequence>()>& draw, std::int64_t steps,
                  double lr, tutorial::Progress& progress, std::int64_t first_step) {
  TrainResult result;
  nn::Adam optimizer(trainable, lr);
  nn::DivergenceGuard guard("try a lower --lr");
  tutorial::Stopwatch watch;
  model.train();
  for (std::int64_t step = 1; step <= steps; ++step) {
    tutorial::ClassificationBatch batch = tutorial::make_classification_batch(draw());
    Tensor logits = model.classify(model.forward(batch.ids, batch.padding));  // [B, 2]
    Tensor loss = autograd::cross_entropy(logits, batch.labels);
    optimizer.zero_grad();
    loss.backward();
    guard.check(step, loss.item(), nn::grad_norm(trainable));  // before the weights change
    optimizer.step();
    result.final_loss = loss.item();
    progress.update(first_step + step, result.final_loss,
                    double(batch.ids.numel()) * double(step) / std::max(1e-9, watch.seconds()));
  }
  model.eval();
  result.seconds = watch.seconds();
  std::tie(result.state_values, result.state_bytes) = optimizer_state_size(optimizer);
  return result;
}

// The [CLS] logits of a batch of held-out sequences, without a graph.
Tensor logits_of(BertEncoder& model, const std::vector<LabeledSequence>& examples) {
  NoGradGuard no_grad;
  tutorial::ClassificationBatch batch = tutorial::make_classification_batch(examples);
  return model.classify(model.forward(batch.ids, batch.padding));
}

bool is_head(const std::string& name) { return name.rfind("classifier.", 0) == 0; }
bool is_mlm_head(const std::string& name) { return name.rfind("mlm_head.", 0) == 0; }

// The parameters the classifier uses: all but the masked-token head, which classify() never
// reaches (an optimizer given it would hold it without ever stepping it).
std::vector<Tensor> classifier_parameters(const BertEncoder& model) {
  std::vector<Tensor> out;
  for (const auto& [name, p] : model.named_parameters())
    if (!is_mlm_head(name)) out.push_back(p);
  return out;
}

// The largest change of any pretrained encoder parameter: the model's parameters that the
// pretrained model has too (adapters are new), leaving out the 2-way head, which every way trains.
double largest_base_change(const Module& pretrained, Module& tuned) {
  double largest = 0;
  NamedTensors before = pretrained.named_parameters();
  for (const auto& [name, value] : tuned.named_parameters())
    for (const auto& [old_name, old_value] : before)
      if (old_name == name && !is_head(name))
        largest = std::max(largest, tutorial::max_abs_diff(value, old_value));
  return largest;
}

}  // namespace

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  std::int64_t symbols = 8, min_len = 8, max_len = 16, held_out = 500;
  std::int64_t d_model = 64, heads = 4, layers = 2, d_ff = 128, batch_size = 32;
  std::int64_t pretrain_steps = 300, finetune_steps = 150;
  std::vector<std::int64_t> ranks = {1, 4, 16};
  double lr = 1e-3, lora_lr = 3e-3, alpha = 8;
  flags.add("--symbols", symbols, "symbols: a, b, c, d and symbols-4 distractors", tutorial::between(4, 26));
  flags.add("--min-len", min_len, "shortest sequence (without [CLS])", tutorial::between(2, 64));
  flags.add("--max-len", max_len, "longest sequence (without [CLS])", tutorial::between(2, 64));
  flags.add("--held-out", held_out, "held-out sequences for evaluation", tutorial::between(10, 20000));
  flags.add("--d-model", d_model, "model width", tutorial::between(4, 1024));
  flags.add("--heads", heads, "attention heads (must divide --d-model)", tutorial::between(1, 64));
  flags.add("--layers", layers, "encoder layers", tutorial::between(1, 16));
  flags.add("--d-ff", d_ff, "feed-forward width", tutorial::between(1, 8192));
  flags.add("--batch", batch_size, "sequences per step", tutorial::between(1, 4096));
  flags.add("--pretrain-steps", pretrain_steps, "steps on the first task", tutorial::between(1, 100000));
  flags.add("--finetune-steps", finetune_steps, "steps on the shifted task, each way", tutorial::between(1, 100000));
  flags.add("--ranks", ranks, "LoRA ranks to compare (comma-separated)", tutorial::between(1, 1024));
  flags.add("--alpha", alpha, "LoRA alpha (the update is scaled by alpha / r)", tutorial::positive(1e4));
  flags.add("--lr", lr, "Adam learning rate: pretraining, full and last-layer fine-tuning", tutorial::positive(10));
  flags.add("--lora-lr", lora_lr, "Adam learning rate of the LoRA runs", tutorial::positive(10));
  std::string save_dir;
  flags.add_output_folder("--save", save_dir,
                          "folder to write one adapted layer's W, b, A, B, alpha, r, an input and its outputs "
                          "into as .npy (for the Python twin)");
  flags.parse(argc, argv);
  if (options.quick) {  // well under a second: a tiny model, a few steps (flags given win)
    flags.quick(held_out, 64), flags.quick(d_model, 16), flags.quick(heads, 2), flags.quick(layers, 1);
    flags.quick(d_ff, 32), flags.quick(batch_size, 16), flags.quick(pretrain_steps, 12);
    flags.quick(finetune_steps, 6), flags.quick(max_len, 10);
    flags.quick(ranks, std::vector<std::int64_t>{1, 2, 4});
  }
  tutorial::Flags::require(min_len <= max_len, "--min-len " + std::to_string(min_len) +
                                                   " is longer than --max-len " + std::to_string(max_len));
  tutorial::Flags::require(d_model % heads == 0, "--heads " + std::to_string(heads) +
                                                     " does not divide --d-model " + std::to_string(d_model));
  tutorial::Checks checks;
  Generator gen(options.seed);

  // ---- 1 ------------------------------------------------------------------------------------
  tutorial::section("1. One LoRA layer: y = x Wᵀ + b + (alpha/r) · (x Aᵀ) Bᵀ");
  {
    const std::int64_t in = 6, out = 4, r = 2;
    const double layer_alpha = 3;  // scaling 1.5
    Linear layer(in, out, true, gen);
    std::shared_ptr<llm::LoRAAdapter> adapter = llm::add_lora(layer, {.rank = r, .alpha = layer_alpha}, gen);
    // B starts at zero; give it values as training would, so there is something to check.
    adapter->B.data().copy_(tensor::uniform({out, r}, -1, 1, gen));
    Tensor x(tensor::uniform({3, in}, -1, 1, gen), false);  // [3, in]
    Tensor y = layer(x);                                     // [3, out]
    std::printf("  Linear(%lld -> %lld) with a rank-%lld adapter, alpha %g: scaling alpha/r = %g\n",
                (long long)in, (long long)out, (long long)r, layer_alpha, adapter->scaling());
    std::printf("  %lld values in W and b stay frozen; A [%lld, %lld] and B [%lld, %lld] train: %lld values\n",
                (long long)(in * out + out), (long long)r, (long long)in, (long long)out, (long long)r,
                (long long)(adapter->A.numel() + adapter->B.numel()));
    // The same output with plain loops over the numbers.
    std::vector<double> xv = x.to_vector<double>(), w = layer.weight.to_vector<double>(),
                        bias = layer.bias.to_vector<double>(), a = adapter->A.to_vector<double>(),
                        bv = adapter->B.to_vector<double>(), expected(3 * out);
    for (int n = 0; n < 3; ++n)
      for (int o = 0; o < out; ++o) {
        double base = bias[o], update = 0;
        for (int i = 0; i < in; ++i) base += xv[n * in + i] * w[o * in + i];
        for (int k = 0; k < r; ++k) {
          double down = 0;
          for (int i = 0; i < in; ++i) down += xv[n * in + i] * a[k * in + i];
          update += down * bv[o * r + k];
        }
        expected[n * out + o] = base + adapter->scaling() * update;
      }
    checks.same(y, autograd::from_vector(expected, {3, out}), 1e-5,
                "the adapted layer's output equals x Wᵀ + b + (alpha/r)(x Aᵀ)Bᵀ by loops");
    checks.check(adapter->num_adapter_parameters() == r * (in + out),
                 "trainable values = r·(in + out) = " + std::to_string(r * (in + out)));
    adapter->merge();
    checks.same(layer(x), y, 1e-5, "after merge (W += (alpha/r)·B A) the plain layer gives the same y");
    adapter->unmerge();
  }

  // ---- 2 ------------------------------------------------------------------------------------
  tutorial::section("2. Pretraining on \"more a's or more b's?\"");
  MajorityTask task(symbols, min_len, max_len);
  tutorial::MajorityData data(task, held_out, options.seed + 1000);
  const std::vector<LabeledSequence> original_held_out = data.held_out();
  const std::vector<LabeledSequence> shifted_held_out = shifted(data.held_out());
  std::printf("  e.g. %s -> %s;   shifted: %s -> %s\n", task.to_text(original_held_out[0].tokens).c_str(),
              MajorityTask::label_text(original_held_out[0].label),
              task.to_text(shifted_held_out[0].tokens).c_str(),
              shifted_held_out[0].label == 0 ? "c>d" : "d>c");
  BertConfig config;
  config.vocab = task.vocab_size();
  config.max_len = task.max_tokens();
  config.layer = {d_model, heads, d_ff, /*dropout=*/0.0, "gelu", /*norm_first=*/false, 1e-5};
  config.num_layers = layers;
  config.num_classes = 2;
  Generator model_gen(options.seed + 1);
  BertEncoder pretrained(config, model_gen);
  Generator data_gen(options.seed + 2);
  const std::int64_t ways_count = 2 + std::int64_t(ranks.size());
  // One progress line for all the training of this program: the pretraining, then each way.
  tutorial::Progress progress(pretrain_steps + ways_count * finetune_steps);
  TrainResult pre = train(
      pretrained, classifier_parameters(pretrained), [&] { return data.sample_train(batch_size, data_gen); },
      pretrain_steps, lr, progress, 0);
  const double pre_original = tutorial::classification_accuracy(pretrained, original_held_out);
  const double pre_shifted = tutorial::classification_accuracy(pretrained, shifted_held_out);
  const std::int64_t model_size = count_values(classifier_parameters(pretrained));
  char pretrained_line[300];
  std::snprintf(pretrained_line, sizeof pretrained_line,
                "  %lld parameters, %lld steps in %.1f s: held-out accuracy %.1f%% on the first task,\n"
                "  %.1f%% on the shifted task \"more c's or more d's?\" before any fine-tuning",
                (long long)model_size, (long long)pretrain_steps, pre.seconds, 100 * pre_original,
                100 * pre_shifted);
  progress.note(pretrained_line);

  // ---- 3 ------------------------------------------------------------------------------------
  tutorial::section("3. Fine-tuning on the shifted task, five ways from the same weights");
  const std::string lora_targets = "q_proj|k_proj|v_proj|out_proj|linear1|linear2";
  struct Way {
    std::string name;
    std::int64_t trainable = 0, adapter_values = 0, formula = -1, state_values = 0, state_bytes = 0;
    double shifted_accuracy = 0, original_accuracy = 0, base_change = 0, seconds = 0;
  };
  std::vector<Way> ways;
  std::unique_ptr<BertEncoder> kept_lora;  // the LoRA model of the middle rank, for parts 4 and 5
  std::int64_t kept_rank = ranks[ranks.size() / 2];
  std::vector<std::string> names = {"full fine-tuning"};
  for (std::int64_t r : ranks) names.push_back("LoRA r=" + std::to_string(r) + " + head");
  names.push_back("last layer only");
  for (std::size_t w = 0; w < names.size(); ++w) {
    Way way{.name = names[w]};
    Generator copy_gen(options.seed + 1);
    auto model = std::make_unique<BertEncoder>(config, copy_gen);
    copy_weights(pretrained, *model);
    std::vector<Tensor> trainable;
    double way_lr = lr;
    const bool is_lora = w > 0 && w + 1 < names.size();
    if (w == 0) {
      trainable = classifier_parameters(*model);  // everything classify() uses
    } else if (is_lora) {
      const std::int64_t r = ranks[w - 1];
      // Adapters on every Linear of the encoder layers; apply_lora freezes everything else.
      Generator lora_gen(options.seed + 3);
      auto attached = llm::apply_lora(*model, lora_targets, {.rank = r, .alpha = alpha}, lora_gen);
      trainable = llm::lora_parameter_list(*model);
      way.adapter_values = count_values(trainable);
      way.formula = 0;  // r·(in + out) for each adapted layer, from the layers' own sizes
      for (const auto& [name, linear] : llm::named_linears(*model))
        for (const auto& [adapted, adapter] : attached)
          if (adapted == name) way.formula += r * (linear->in_features + linear->out_features);
      way_lr = lora_lr;
    } else {
      for (auto& [name, p] : model->named_parameters()) p.requires_grad_(false);
    }
    if (w > 0) {  // the 2-way head is new for the new task: it trains fully in these ways
      model->classifier->weight.requires_grad_(true);
      model->classifier->bias.requires_grad_(true);
      trainable.push_back(model->classifier->weight);
      trainable.push_back(model->classifier->bias);
    }
    way.trainable = count_values(trainable);
    Generator finetune_gen(options.seed + 4);  // the same batches for every way
    TrainResult result = train(
        *model, trainable, [&] { return shifted(data.sample_train(batch_size, finetune_gen)); },
        finetune_steps, way_lr, progress, pretrain_steps + std::int64_t(w) * finetune_steps);
    way.state_values = result.state_values;
    way.state_bytes = result.state_bytes;
    way.seconds = result.seconds;
    way.shifted_accuracy = tutorial::classification_accuracy(*model, shifted_held_out);
    way.original_accuracy = tutorial::classification_accuracy(*model, original_held_out);
    way.base_change = largest_base_change(pretrained, *model);
    char way_line[200];
    std::snprintf(way_line, sizeof way_line, "  %-22s %8lld trainable, %.1f s, held-out accuracy on the shifted task %.1f%%",
                  way.name.c_str(), (long long)way.trainable, way.seconds, 100 * way.shifted_accuracy);
    progress.note(way_line);
    if (is_lora && ranks[w - 1] == kept_rank && !kept_lora) kept_lora = std::move(model);
    if (is_lora && ranks[w - 1] * 2 >= d_model)
      progress.note("  (r=" + std::to_string(ranks[w - 1]) + " is not small: r·(in + out) >= in·out for a " +
                    std::to_string(d_model) + "x" + std::to_string(d_model) +
                    " weight, so LoRA saves nothing there)");
    ways.push_back(way);
  }
  progress.finish();

  std::printf("\n  %-22s %10s %8s %12s %12s %9s %9s %12s\n", "way", "trainable", "of model",
              "Adam state", "state bytes", "shifted", "first", "W changed");
  for (const Way& way : ways)
    std::printf("  %-22s %10lld %7.2f%% %12lld %12lld %8.1f%% %8.1f%% %12.3g\n", way.name.c_str(),
                (long long)way.trainable, 100.0 * way.trainable / model_size, (long long)way.state_values,
                (long long)way.state_bytes, 100 * way.shifted_accuracy, 100 * way.original_accuracy,
                way.base_change);
  std::printf("  (trainable: values the optimizer holds; Adam state: its exp_avg + exp_avg_sq arrays,\n"
              "   counted from optimizer.state(); shifted/first: held-out accuracy on each task after\n"
              "   fine-tuning; W changed: the largest change of any pretrained encoder parameter, head excluded)\n");
  for (const Way& way : ways) {
    checks.check(way.state_values == 2 * way.trainable,
                 way.name + ": Adam's state is 2 floats per trainable value (" +
                     std::to_string(way.state_values) + " = 2 x " + std::to_string(way.trainable) + ")");
    if (way.formula >= 0)
      checks.check(way.adapter_values == way.formula,
                   way.name + ": adapter values " + std::to_string(way.adapter_values) +
                       " = sum of r·(in + out) over the adapted layers");
  }
  const Way& full = ways.front();
  const Way& head_only = ways.back();
  for (std::size_t w = 1; w < ways.size(); ++w) {
    // Only the adapters and the head moved: every pretrained encoder weight is bit for bit the
    // same, so dropping the adapters gives the pretrained model back.
    checks.check(ways[w].base_change == 0,
                 ways[w].name + ": every pretrained encoder weight unchanged (bit for bit)");
  }
  checks.check(full.base_change > 0, "full fine-tuning changed the pretrained weights");
  std::printf("  Full fine-tuning overwrote the first task (%.1f%% on it now). The other ways left every\n"
              "  pretrained encoder weight as it was, so dropping the adapters and the new head gives the\n"
              "  pretrained model back (%.1f%% on the first task): one base model, one small file per task.\n"
              "  What LoRA saves is memory (optimizer state, gradients, files), not compute: every step still\n"
              "  runs the whole frozen model forward and backward (the gradient has to pass through W to reach\n"
              "  the adapters below), plus two thin matmuls per adapted layer.\n",
              100 * full.original_accuracy, 100 * pre_original);

  // ---- 4 ------------------------------------------------------------------------------------
  tutorial::section("4. The adapters alone on disk");
  const std::string adapter_path = tutorial::output_path(options, "lora_adapters.safetensors");
  const std::string model_path = tutorial::output_path(options, "full_model.safetensors");
  llm::save_lora(*kept_lora, adapter_path, {{"task", "more c's or more d's"}});
  nn::save(pretrained, model_path);
  const auto adapter_bytes = std::filesystem::file_size(adapter_path);
  const auto model_bytes = std::filesystem::file_size(model_path);
  std::printf("  %s: %lld bytes (the adapters of r=%lld; the head is not in it)\n", adapter_path.c_str(),
              (long long)adapter_bytes, (long long)kept_rank);
  std::printf("  %s: %lld bytes (the whole model)\n", model_path.c_str(), (long long)model_bytes);
  {
    Generator copy_gen(options.seed + 1);
    BertEncoder reloaded(config, copy_gen);
    copy_weights(pretrained, reloaded);
    Generator other_gen(options.seed + 99);  // different A: the file must overwrite it
    llm::apply_lora(reloaded, lora_targets, {.rank = kept_rank, .alpha = alpha}, other_gen);
    llm::load_lora(reloaded, adapter_path);
    // The head was trained too; it travels with the adapters in practice (PEFT's modules_to_save).
    reloaded.classifier->weight.data().copy_(kept_lora->classifier->weight.data());
    reloaded.classifier->bias.data().copy_(kept_lora->classifier->bias.data());
    reloaded.eval();
    checks.same(logits_of(reloaded, shifted_held_out), logits_of(*kept_lora, shifted_held_out), 0,
                "pretrained model + loaded adapters (+ head) = the fine-tuned model, exactly");
  }

  // ---- 5 ------------------------------------------------------------------------------------
  tutorial::section("5. Merged and unmerged adapters give the same outputs");
  double merge_diff = 0, restore_diff = 0;
  {
    BertEncoder& model = *kept_lora;
    Tensor unmerged = logits_of(model, shifted_held_out);  // [N, 2]
    // For the Python twin: the first adapted layer alone, on a random input, before and after
    // the merge (copies: merge and unmerge change W in place).
    const auto [twin_name, twin_adapter] = llm::lora_adapters(model).front();
    nn::Linear* twin_layer = nullptr;
    for (const auto& [name, linear] : llm::named_linears(model))
      if (name == twin_name) twin_layer = linear;
    auto copy_of = [](const Tensor& t) { return Tensor(t.data().clone(), false); };
    Generator twin_gen(options.seed + 7);
    const Tensor twin_x(tensor::uniform({6, twin_layer->in_features}, -1, 1, twin_gen), false);  // [6, in]
    std::vector<std::pair<std::string, Tensor>> saved = {
        {"x", twin_x},
        {"weight", copy_of(twin_layer->weight)},  // [out, in], frozen
        {"bias", twin_layer->bias.defined() ? copy_of(twin_layer->bias)
                                            : autograd::zeros({twin_layer->out_features}, tensor::DType::Float32)},
        {"A", copy_of(twin_adapter->A)},  // [r, in]
        {"B", copy_of(twin_adapter->B)},  // [out, r]
        {"alpha", autograd::from_vector(std::vector<double>{twin_adapter->alpha}, {1})},
        {"rank", autograd::from_vector(std::vector<std::int64_t>{twin_adapter->rank}, {1})},
        {"lora_output", copy_of(twin_layer->forward(twin_x))},  // [6, out]
    };
    llm::merge_lora(model);
    saved.emplace_back("merged_weight", copy_of(twin_layer->weight));
    saved.emplace_back("merged_output", copy_of(twin_layer->forward(twin_x)));
    Tensor merged = logits_of(model, shifted_held_out);
    merge_diff = tutorial::max_abs_diff(merged, unmerged);
    // float32 rounding grows with the size of the numbers: a run with a large --lr has large
    // weights and logits, so the tolerance is relative to the largest logit (at least 1).
    const double logit_scale = std::max(1.0, largest_abs(unmerged));
    checks.small(merge_diff, 1e-4 * logit_scale,
                 "r=" + std::to_string(kept_rank) + ": logits with B·A merged into W equal the adapter's logits");
    checks.check(tutorial::classification_accuracy(model, shifted_held_out) ==
                     ways[1 + ranks.size() / 2].shifted_accuracy,
                 "the merged model has the same held-out accuracy");
    double merged_weight_scale = 1;  // the largest |W + (alpha/r) B A|: W's rounding is relative to it
    for (const auto& [name, linear] : llm::named_linears(model))
      if (linear->adapter) merged_weight_scale = std::max(merged_weight_scale, largest_abs(linear->weight));
    llm::unmerge_lora(model);
    restore_diff = 0;
    for (const auto& [name, linear] : llm::named_linears(model))
      if (linear->adapter) {
        Tensor original = Tensor();
        for (const auto& [old_name, old_value] : pretrained.named_parameters())
          if (old_name == name + ".weight") original = old_value;
        restore_diff = std::max(restore_diff, tutorial::max_abs_diff(linear->weight, original));
      }
    checks.small(restore_diff, 1e-5 * merged_weight_scale,
                 "unmerge gives the pretrained W back (up to float rounding)");
    saved.emplace_back("unmerged_weight", copy_of(twin_layer->weight));
    tutorial::save_npy_files(save_dir, saved);
  }

  // ---- 6 ------------------------------------------------------------------------------------
  tutorial::section("6. Picture");
  viz::LinePlot plot("Accuracy on the shifted task vs trainable values");
  double lowest = pre_shifted;
  for (const Way& way : ways) lowest = std::min(lowest, way.shifted_accuracy);
  plot.set_x_label("log10(trainable values)").set_y_label("held-out accuracy");
  plot.set_y_range(std::min(0.4, std::floor(lowest * 10) / 10), 1.0);
  plot.set_markers(viz::MarkerMode::always);
  std::vector<double> lora_x, lora_y;
  for (std::size_t w = 1; w + 1 < ways.size(); ++w) {
    lora_x.push_back(std::log10(double(ways[w].trainable)));
    lora_y.push_back(ways[w].shifted_accuracy);
  }
  plot.add_series("LoRA r = " + [&] {
    std::string list;
    for (std::int64_t r : ranks) list += (list.empty() ? "" : ", ") + std::to_string(r);
    return list;
  }(), lora_x, lora_y);
  plot.add_series("full fine-tuning", std::vector<double>{std::log10(double(full.trainable))},
                  std::vector<double>{full.shifted_accuracy});
  plot.add_series("last layer only", std::vector<double>{std::log10(double(head_only.trainable))},
                  std::vector<double>{head_only.shifted_accuracy});
  plot.add_reference_line(pre_shifted, "before fine-tuning");
  tutorial::save_picture(plot, options, "lora_accuracy_vs_params.png",
                         "how close each LoRA point gets to full fine-tuning with far fewer trainable values, "
                         "and how far the last layer alone stays below");

  std::string lora_summary;
  for (std::size_t w = 1; w + 1 < ways.size(); ++w) {
    char line[200];
    std::snprintf(line, sizeof line, "\n  %s: %lld values (%.1f%% of the model) -> %.1f%%",
                  ways[w].name.c_str(), (long long)ways[w].trainable, 100.0 * ways[w].trainable / model_size,
                  100 * ways[w].shifted_accuracy);
    lora_summary += line;
  }
  char answer[1600];
  std::snprintf(answer, sizeof answer,
                "LoRA trains dW = (alpha/r)·B·A beside the frozen W: r·(in+out) values per layer. Here, on the\n"
                "shifted task (%.1f%% before fine-tuning): full fine-tuning %lld values -> %.1f%%; last layer\n"
                "only %lld -> %.1f%%;%s.\n"
                "Adam's state is 2 floats per trainable value (measured), so it shrinks with them; merging B·A\n"
                "into W changed the logits by %.1e; the adapters file is %lld bytes against %lld for the model,\n"
                "and the pretrained weights are untouched, so one base model serves every task.",
                100 * pre_shifted, (long long)full.trainable, 100 * full.shifted_accuracy,
                (long long)head_only.trainable, 100 * head_only.shifted_accuracy, lora_summary.c_str(),
                merge_diff, (long long)adapter_bytes, (long long)model_bytes);
  tutorial::print_answer(kQuestion, answer);
  return checks.finish();
} catch (...) {
  return tutorial::report_error();
}
