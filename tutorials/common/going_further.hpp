// going_further.hpp — what tutorials 13–18 (the "going further" questions) share:
//
//   MajorityTask            a sequence-classification task for encoder-only models: "are there
//                           more a's or more b's?" (13_bert_encoder, 17_interpretability,
//                           18_training_tricks). Only two of the symbols matter, so we know
//                           which tokens a good model must look at.
//   ClassificationBatch     token ids with [CLS] first, padding mask, labels
//   classification_accuracy argmax of the [CLS] classifier against the labels
//   TrainingRecipe / train_classifier
//                           the training loop with the usual tricks (warmup, dropout, AdamW
//                           weight decay, gradient clipping, label smoothing), each switchable
//   one_thread_unless_asked, best_seconds, peak_memory_growth
//                           timing and memory measurements for 14 and 15
//   save_line_plot, save_panels
//                           pictures written to --out with their paths printed
//
// Tokens of MajorityTask:  PAD = 0, CLS = 1, MASK = 2, symbols from 3 ('a' = 3, 'b' = 4, ...).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "nn/nn.hpp"
#include "tutorials/common/tutorial.hpp"
#include "viz/plot.hpp"

namespace tutorial {

// ---- the "majority" classification task ---------------------------------------------------------

struct LabeledSequence {
  std::vector<std::int64_t> tokens;  // [CLS] x1 ... xn
  std::int64_t label = 0;            // 0: more a's than b's, 1: more b's than a's
};

class MajorityTask {
 public:
  static constexpr std::int64_t PAD = 0, CLS = 1, MASK = 2, FIRST_SYMBOL = 3;
  static constexpr std::int64_t A = FIRST_SYMBOL, B = FIRST_SYMBOL + 1;

  // Sequences of min_len..max_len symbols drawn uniformly from num_symbols symbols (a, b and
  // num_symbols - 2 distractors); sequences with as many a's as b's are drawn again.
  MajorityTask(std::int64_t num_symbols, std::int64_t min_len, std::int64_t max_len);
  LabeledSequence sample(nn::Generator& gen) const;
  std::int64_t vocab_size() const { return FIRST_SYMBOL + num_symbols_; }
  std::int64_t max_tokens() const { return max_len_ + 1; }  // with [CLS]
  std::int64_t num_symbols() const { return num_symbols_; }
  std::string token_text(std::int64_t token) const;  // "CLS", "a", "_" for PAD, "?" for MASK
  std::string to_text(const std::vector<std::int64_t>& tokens) const;  // "CLS a c b b"
  static const char* label_text(std::int64_t label) { return label == 0 ? "a>b" : "b>a"; }

 private:
  std::int64_t num_symbols_, min_len_, max_len_;
};

// A fixed held-out set, and training batches that never contain a held-out sequence.
class MajorityData {
 public:
  MajorityData(const MajorityTask& task, std::int64_t held_out_size, std::uint64_t seed);
  const MajorityTask& task() const { return task_; }
  const std::vector<LabeledSequence>& held_out() const { return held_out_; }
  std::vector<LabeledSequence> sample_train(std::int64_t batch_size, nn::Generator& gen) const;

 private:
  MajorityTask task_;
  std::vector<LabeledSequence> held_out_;
  std::unordered_set<std::string> held_out_keys_;
};

struct ClassificationBatch {
  nn::Tensor ids;      // [B, T] int64, PAD after the end
  nn::Tensor padding;  // [B, T] bool, true at PAD
  nn::Tensor labels;   // [B] int64
};
// Pads to the longest sequence (or to pad_to when it is longer).
ClassificationBatch make_classification_batch(const std::vector<LabeledSequence>& examples,
                                              std::int64_t pad_to = 0);

// Fraction of examples whose argmax of model.classify equals the label (eval mode, no graph).
double classification_accuracy(nn::BertEncoder& model, const std::vector<LabeledSequence>& examples);

// ---- training with the usual tricks ---------------------------------------------------------------

struct TrainingRecipe {
  std::int64_t steps = 400, batch = 64;
  double lr = 1e-3;
  std::int64_t warmup_steps = 0;   // linear warmup from lr/warmup to lr (0: none)
  bool cosine_decay = false;       // after warmup, cosine down to 0 at the last step
  double weight_decay = 0.0;       // AdamW's decoupled decay (0: plain Adam)
  double clip_norm = 0.0;          // clip the global gradient norm to this (0: no clipping)
  double label_smoothing = 0.0;
  std::int64_t eval_every = 25;
  // The training set: 0 draws fresh examples every step; N > 0 cycles through N fixed ones
  // (a small set, so that the model can overfit and regularisation can matter).
  std::int64_t train_set_size = 0;
};

struct TrainingHistory {
  std::vector<double> losses;            // one per step
  std::vector<double> grad_norms;        // global gradient norm before clipping, per step
  std::vector<double> learning_rates;    // per step
  std::vector<std::pair<std::int64_t, double>> accuracy;  // (step, held-out accuracy)
  double train_accuracy = 0;             // on the fixed training set (when there is one)
  double seconds = 0;
  bool diverged = false;                 // a non-finite loss stopped the run
};

// Trains model.classify on the majority task with the recipe. `data_gen` draws the batches.
// Prints nothing; `on_step(step, loss)` is called after every step when given.
TrainingHistory train_classifier(nn::BertEncoder& model, const MajorityData& data,
                                 const TrainingRecipe& recipe, nn::Generator& data_gen,
                                 const std::function<void(std::int64_t, double)>& on_step = {});

// ---- measuring ----------------------------------------------------------------------------------

// The models of these tutorials are small: one op's work is too little to be worth splitting
// across cores, and on a busy machine a second OpenMP thread makes every op wait for it (a
// 2-thread run measured 3x slower than a 1-thread one while other programs ran). So unless
// --threads asks for more, use one thread. Call after tutorial::apply; prints the choice.
void one_thread_unless_asked(const Options& options);

// The fastest of `repeats` runs of f, in wall-clock seconds.
double best_seconds(int repeats, const std::function<void()>& f);
// How much memory some work needs. In a fresh child process (fork): setup() runs first and
// returns the work (a closure holding what setup made, e.g. the inputs, which are not counted);
// then the work runs, and the result is how far the child's peak resident memory (VmHWM in
// /proc/self/status) rose above what it was just before, in bytes. A fresh process, because the
// library keeps freed blocks for reuse (its caching allocator): in the same process, blocks left
// by earlier work would be reused unseen. The OS's resident pages see everything. Call before
// anything has run multi-threaded (a forked child gets no OpenMP thread pool).
double peak_memory_growth(const std::function<std::function<void()>()>& setup);
std::string human_bytes(double bytes);  // "3.2 MiB"

// ---- pictures -----------------------------------------------------------------------------------

// Writes the plot to <out>/<name> and prints the path.
void save_line_plot(const viz::LinePlot& plot, const std::string& out, const std::string& name);
std::string path_in(const std::string& out, const std::string& name);
// Pastes rendered pictures (e.g. labelled heatmaps, one per head) into one image, `columns` per
// row, under a title; writes <out>/<name> and prints the path.
void save_panels(const std::vector<viz::Canvas>& panels, int columns, const std::string& title,
                 const std::string& out, const std::string& name);

}  // namespace tutorial
