// 12_train_transformer — Build and train a full Transformer.
//                        从零搭建并训练一个完整的 Transformer。
//
// Short answer
//   An encoder reads the source sequence with self-attention; a decoder writes the target one
//   token at a time with causal self-attention over what it wrote so far and cross-attention
//   over the encoder's output. Training uses teacher forcing: the decoder reads the true target
//   shifted right (BOS y1 y2 ...) and is trained with cross-entropy to predict it shifted left
//   (y1 y2 ... EOS), all positions at once. At test time it decodes greedily, feeding back its
//   own predictions.
//
// What this program shows
//   The encoder-decoder of nn/transformer.hpp trained from scratch on a synthetic task (default:
//   reverse 16-token sequences over 10 symbols): a progress bar, periodic exact-match accuracy on
//   held-out sequences it never trained on, decoded examples, a checkpoint (resume with
//   --resume), a loss curve and attention heatmaps in --out. The last line is for scripts:
//     held-out exact match: 100.0% (512/512) after 75 steps, 7.9 s of training
//
// Run:  make run     (or build/tutorials/12_train_transformer --help)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nn/checkpoint.hpp"
#include "nn/data.hpp"
#include "nn/nn.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/training.hpp"
#include "tutorials/common/tutorial.hpp"

using namespace nn;
namespace fs = std::filesystem;

namespace {

struct Settings {
  std::string task = "reverse";
  std::int64_t symbols = 10, min_len = 16, max_len = 16, held_out = 512;
  std::int64_t d_model = 128, heads = 4, layers = 2, d_ff = 512;
  double dropout = 0.0;
  std::int64_t batch = 64, steps = 400, eval_every = 25, checkpoint_every = 100;
  double lr = 3e-4, target = 0.99;
  bool resume = false;
};

// Everything the run has produced so far, kept in the checkpoint's metadata so that a resumed
// run continues exactly where the interrupted one stopped.
struct History {
  std::vector<double> losses;                    // one per step
  std::vector<std::pair<std::int64_t, double>> accuracy;  // (step, held-out exact match)
  double training_seconds = 0;
};

std::string join(const std::vector<double>& values) {
  std::ostringstream s;
  s.precision(9);
  for (std::size_t i = 0; i < values.size(); ++i) s << (i ? "," : "") << values[i];
  return s.str();
}

std::vector<double> split_numbers(const std::string& text) {
  std::vector<double> values;
  std::stringstream s(text);
  std::string item;
  while (std::getline(s, item, ',')) values.push_back(std::stod(item));
  return values;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"12_train_transformer: train an encoder-decoder Transformer on a synthetic task"};
  tutorial::Options options;
  tutorial::add_common_flags(app, options, /*with_device=*/true);
  Settings s;
  app.add_option("--task", s.task, "copy, reverse, sort or addition")->capture_default_str();
  app.add_option("--symbols", s.symbols, "vocabulary symbols (besides PAD/BOS/EOS)")->capture_default_str();
  app.add_option("--min-len", s.min_len, "shortest sequence")->capture_default_str();
  app.add_option("--max-len", s.max_len, "longest sequence")->capture_default_str();
  app.add_option("--held-out", s.held_out, "held-out sequences for evaluation")->capture_default_str();
  app.add_option("--d-model", s.d_model, "model width")->capture_default_str();
  app.add_option("--heads", s.heads, "attention heads")->capture_default_str();
  app.add_option("--layers", s.layers, "encoder layers (and as many decoder layers)")->capture_default_str();
  app.add_option("--d-ff", s.d_ff, "feed-forward width")->capture_default_str();
  app.add_option("--dropout", s.dropout, "dropout probability")->capture_default_str();
  app.add_option("--batch", s.batch, "sequences per step")->capture_default_str();
  app.add_option("--steps", s.steps, "most training steps")->capture_default_str();
  app.add_option("--lr", s.lr, "Adam learning rate")->capture_default_str();
  app.add_option("--target", s.target, "stop once held-out exact match reaches this")->capture_default_str();
  app.add_option("--eval-every", s.eval_every, "evaluate every N steps")->capture_default_str();
  app.add_option("--checkpoint-every", s.checkpoint_every, "save a checkpoint every N steps")->capture_default_str();
  app.add_flag("--resume", s.resume, "continue from <out>/checkpoint.safetensors");
  CLI11_PARSE(app, argc, argv);
  if (options.quick) {  // a few seconds: a small model on short sequences
    s.min_len = std::min<std::int64_t>(s.min_len, 6);
    s.max_len = std::min<std::int64_t>(s.max_len, 6);
    s.d_model = 32, s.heads = 2, s.layers = 1, s.d_ff = 64, s.batch = 32, s.held_out = 64;
    s.steps = std::min<std::int64_t>(s.steps, 30), s.eval_every = 15, s.checkpoint_every = 15;
    s.lr = 3e-3;
  }
  tutorial::apply(options);
  tutorial::Checks checks;

  tutorial::section("1. The task and the data");
  data::SyntheticTask task(data::task_from_name(s.task), s.symbols, s.min_len, s.max_len);
  data::Dataset dataset(task, s.held_out, options.seed + 1000);
  std::printf("  task %s: %lld..%lld tokens, vocabulary %lld (PAD=0 BOS=1 EOS=2, symbols from 3)\n",
              s.task.c_str(), static_cast<long long>(s.min_len), static_cast<long long>(s.max_len),
              static_cast<long long>(task.vocab_size()));
  data::Example example = dataset.held_out()[0];
  std::printf("  example: %s  ->  %s\n", task.to_text(example.source).c_str(),
              task.to_text(example.target).c_str());
  std::printf("  %lld held-out sequences, never used for training\n", static_cast<long long>(s.held_out));

  tutorial::section("2. The model");
  // One generator draws the initial weights and then the dropout masks; another draws the
  // training data. Their positions are saved in checkpoints, so --resume repeats nothing.
  Generator model_gen(options.seed), data_gen(options.seed + 1);
  TransformerConfig config;
  config.src_vocab = config.tgt_vocab = task.vocab_size();
  config.max_len = std::max(task.max_source_len(), task.max_target_len() + 1);
  config.layer = {s.d_model, s.heads, s.d_ff, s.dropout, "gelu", /*norm_first=*/true, 1e-5};
  config.num_encoder_layers = config.num_decoder_layers = s.layers;
  Transformer model(config, model_gen);
  const Device device = Device::parse(options.device);
  model.to(device);  // cpu, cuda (a GPU, in a CUDA=1 build) or cuda-sim (the CUDA kernels on the CPU)
  std::printf("  on %s: encoder-decoder, pre-LN, d_model %lld, %lld heads, %lld+%lld layers, d_ff %lld: "
              "%lld parameters\n", device.str().c_str(), static_cast<long long>(s.d_model), static_cast<long long>(s.heads),
              static_cast<long long>(s.layers), static_cast<long long>(s.layers),
              static_cast<long long>(s.d_ff), static_cast<long long>(model.num_parameters()));
  Adam optimizer(model.parameters(), s.lr);

  fs::path checkpoint = fs::path(options.out) / "checkpoint.safetensors";
  History history;
  std::int64_t start_step = 0;
  if (s.resume) {
    if (!fs::exists(checkpoint)) {
      std::fprintf(stderr, "--resume: no checkpoint at %s\n", checkpoint.c_str());
      return 2;
    }
    std::map<std::string, std::string> meta = load_checkpoint(checkpoint, model, &optimizer);
    start_step = std::stoll(meta.at("step"));
    data_gen.set_offset(std::stoull(meta.at("data_offset")));
    model_gen.set_offset(std::stoull(meta.at("model_offset")));
    history.losses = split_numbers(meta.at("losses"));
    std::vector<double> acc = split_numbers(meta.at("accuracy"));
    for (std::size_t i = 0; i + 1 < acc.size(); i += 2)
      history.accuracy.emplace_back(static_cast<std::int64_t>(acc[i]), acc[i + 1]);
    history.training_seconds = std::stod(meta.at("seconds"));
    std::printf("  resumed from %s at step %lld\n", checkpoint.c_str(), static_cast<long long>(start_step));
  }
  auto save = [&](std::int64_t step) {
    std::vector<double> acc;
    for (auto [at, fraction] : history.accuracy) acc.insert(acc.end(), {double(at), fraction});
    save_checkpoint(checkpoint, model, &optimizer,
                    {{"step", std::to_string(step)},
                     {"data_offset", std::to_string(data_gen.offset())},
                     {"model_offset", std::to_string(model_gen.offset())},
                     {"losses", join(history.losses)},
                     {"accuracy", join(acc)},
                     {"seconds", std::to_string(history.training_seconds)},
                     {"task", s.task}});
  };

  tutorial::section("3. Training: teacher forcing, cross-entropy, Adam");
  std::printf("  each step: %lld sequences; evaluation every %lld steps on the held-out set\n\n",
              static_cast<long long>(s.batch), static_cast<long long>(s.eval_every));
  tutorial::Progress progress(s.steps);
  std::int64_t step = start_step;
  double best = history.accuracy.empty() ? 0 : history.accuracy.back().second;
  while (step < s.steps && best < s.target) {
    tutorial::Stopwatch step_clock;
    data::Batch batch = data::make_batch(dataset.sample_train(s.batch, data_gen), device);
    Tensor logits = model.forward(batch.src, batch.tgt_in, batch.src_padding, batch.tgt_padding);
    // Every position at once: logits [B, T, V] against the shifted targets [B, T]; PAD ignored.
    Tensor loss = autograd::cross_entropy(logits.reshape({-1, logits.size(-1)}),
                                          batch.tgt_out.reshape({-1}), data::PAD);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    ++step;
    history.training_seconds += step_clock.seconds();
    history.losses.push_back(loss.item());
    progress.update(step, loss.item(), double(batch.target_tokens) / step_clock.seconds());
    if (step % s.eval_every == 0 || step == s.steps) {
      tutorial::ExactMatch match = tutorial::exact_match(model, dataset.held_out());
      best = match.fraction();
      history.accuracy.emplace_back(step, best);
      char line[160];
      std::snprintf(line, sizeof line, "  step %lld: held-out exact match %.1f%% (%lld/%lld), %.1f s of training",
                    static_cast<long long>(step), 100 * best, static_cast<long long>(match.correct),
                    static_cast<long long>(match.total), history.training_seconds);
      progress.note(line);
    }
    if (step % s.checkpoint_every == 0) save(step);
  }
  progress.finish();
  save(step);
  std::printf("  checkpoint: %s\n", checkpoint.c_str());

  tutorial::section("4. Greedy decoding of held-out sequences");
  for (int i = 0; i < 4; ++i) {
    const data::Example& ex = dataset.held_out()[i];
    data::Batch one = data::make_batch({ex}, device);
    Tensor decoded = greedy_decode(model, one.src, one.src_padding, one.tgt_out.size(1), data::BOS, data::EOS);
    std::vector<std::int64_t> output = tutorial::until_eos(decoded.to_vector<std::int64_t>());
    std::printf("  %s  ->  %s  %s\n", task.to_text(ex.source).c_str(), task.to_text(output).c_str(),
                output == ex.target ? "(right)" : ("(expected " + task.to_text(ex.target) + ")").c_str());
  }

  tutorial::section("5. Pictures");
  tutorial::write_training_pictures(model, task, dataset.held_out()[0], history.losses,
                                    history.accuracy, options.out);

  tutorial::section("6. Checks");
  double first = history.losses.empty() ? 0 : history.losses.front();
  double last = history.losses.empty() ? 0 : history.losses.back();
  checks.check(last < first, "the training loss went down");
  checks.check(fs::exists(checkpoint), "the checkpoint was written");
  if (!options.quick)
    checks.check(best >= s.target, "held-out exact match reached the target of " +
                                       std::to_string(static_cast<int>(100 * s.target)) + "%");
  int code = checks.finish();
  std::int64_t correct = static_cast<std::int64_t>(std::llround(best * s.held_out));
  std::printf("held-out exact match: %.1f%% (%lld/%lld) after %lld steps, %.1f s of training\n",
              100 * best, static_cast<long long>(correct), static_cast<long long>(s.held_out),
              static_cast<long long>(step), history.training_seconds);
  return code;
}
