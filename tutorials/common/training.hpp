// training.hpp — pieces of a training loop that the tutorials share: a progress line,
// a stopwatch, and exact-match evaluation of an encoder-decoder with greedy decoding.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "nn/data.hpp"
#include "nn/transformer.hpp"

namespace tutorial {

// Seconds since construction (or the last reset), as a double.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  void reset() { start_ = std::chrono::steady_clock::now(); }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// On a terminal: one line redrawn in place,
//   [##########..........] step 120/400  loss 0.8123  21.3k tok/s  ETA 14s
// When stdout is not a terminal, or under CI (CI set in the environment): plain lines, about
// twenty per run, so logs stay readable.
// The ETA counts to `total_steps`. A run that stops once it reaches a target (held-out accuracy)
// may end sooner, so with may_stop_early it reads "ETA at most 14s": an upper bound, not a
// promise.
class Progress {
 public:
  explicit Progress(std::int64_t total_steps, bool may_stop_early = false);
  // Ends the bar's line, so that an error thrown out of the loop is printed on a line of its own.
  ~Progress() { finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void update(std::int64_t step, double loss, double tokens_per_second);
  // A line of its own (e.g. an evaluation result), not overwritten by the bar.
  void note(const std::string& text);
  void finish();

 private:
  std::int64_t total_;
  bool may_stop_early_;
  bool interactive_;
  bool bar_on_screen_ = false;
  Stopwatch clock_;
  std::int64_t first_step_ = -1;
  double first_time_ = 0;
};

// What a DivergenceGuard (nn/divergence.hpp) tells a learner to try when the loss of a run
// with learning rate `lr` stops being finite: "try a lower --lr (this run used 0.5)".
std::string lower_lr_advice(double lr);

struct ExactMatch {
  std::int64_t correct = 0, total = 0;
  double fraction() const { return total > 0 ? double(correct) / double(total) : 0.0; }
};

// Greedy-decodes every example (in batches) and counts outputs that equal the target exactly,
// up to and including the EOS.
ExactMatch exact_match(nn::Transformer& model, const std::vector<nn::data::Example>& examples,
                       std::int64_t batch_size = 256);

// The tokens a decoder produced before its first EOS.
std::vector<std::int64_t> until_eos(const std::vector<std::int64_t>& tokens);

}  // namespace tutorial
