#include "tutorials/common/training.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace tutorial {

Progress::Progress(std::int64_t total_steps, bool may_stop_early)
    : total_(std::max<std::int64_t>(total_steps, 1)), may_stop_early_(may_stop_early) {
  interactive_ = isatty(fileno(stdout)) && std::getenv("CI") == nullptr;
}

void Progress::update(std::int64_t step, double loss, double tokens_per_second) {
  double now = clock_.seconds();
  if (first_step_ < 0) {
    first_step_ = step;
    first_time_ = now;
  }
  // ETA from the average time per step so far.
  double per_step = step > first_step_ ? (now - first_time_) / double(step - first_step_) : 0.0;
  double eta = per_step * double(std::max<std::int64_t>(total_ - step, 0));
  const char* eta_label = may_stop_early_ ? "ETA at most" : "ETA";
  char rate[32];
  if (tokens_per_second >= 1000)
    std::snprintf(rate, sizeof rate, "%.1fk", tokens_per_second / 1000);
  else
    std::snprintf(rate, sizeof rate, "%.0f", tokens_per_second);
  if (interactive_) {
    const int width = 24;
    int filled = static_cast<int>(width * std::min(step, total_) / total_);
    std::string bar(filled, '#');
    bar += std::string(width - filled, '.');
    std::printf("\r[%s] step %lld/%lld  loss %.4f  %s tok/s  %s %.0fs   ", bar.c_str(),
                static_cast<long long>(step), static_cast<long long>(total_), loss, rate, eta_label,
                eta);
    std::fflush(stdout);
    bar_on_screen_ = true;
    return;
  }
  std::int64_t every = std::max<std::int64_t>(1, total_ / 20);
  if (step % every == 0 || step == total_ || step == 1) {
    std::printf("step %lld/%lld  loss %.4f  %s tok/s  %s %.0fs\n", static_cast<long long>(step),
                static_cast<long long>(total_), loss, rate, eta_label, eta);
    std::fflush(stdout);  // a log file sees each line as it is written
  }
}

void Progress::note(const std::string& text) {
  if (bar_on_screen_) std::printf("\n");
  bar_on_screen_ = false;
  std::printf("%s\n", text.c_str());
  std::fflush(stdout);
}

void Progress::finish() {
  if (bar_on_screen_) std::printf("\n");
  bar_on_screen_ = false;
}

std::string lower_lr_advice(double lr) {
  char text[64];
  std::snprintf(text, sizeof text, "try a lower --lr (this run used %g)", lr);
  return text;
}

std::vector<std::int64_t> until_eos(const std::vector<std::int64_t>& tokens) {
  auto end = std::find(tokens.begin(), tokens.end(), nn::data::EOS);
  return std::vector<std::int64_t>(tokens.begin(), end);
}

ExactMatch exact_match(nn::Transformer& model, const std::vector<nn::data::Example>& examples,
                       std::int64_t batch_size) {
  ExactMatch result;
  for (std::size_t start = 0; start < examples.size(); start += batch_size) {
    std::size_t end = std::min(examples.size(), start + static_cast<std::size_t>(batch_size));
    std::vector<nn::data::Example> chunk(examples.begin() + start, examples.begin() + end);
    nn::data::Batch batch = nn::data::make_batch(chunk, model.device());
    std::int64_t longest = batch.tgt_out.size(1);  // target + EOS
    nn::Tensor decoded = nn::greedy_decode(model, batch.src, batch.src_padding, longest,
                                           nn::data::BOS, nn::data::EOS);
    std::vector<std::int64_t> tokens = decoded.to_vector<std::int64_t>();
    const std::int64_t width = decoded.size(1);
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      std::vector<std::int64_t> row(tokens.begin() + i * width, tokens.begin() + (i + 1) * width);
      bool has_eos = std::find(row.begin(), row.end(), nn::data::EOS) != row.end();
      result.correct += has_eos && until_eos(row) == chunk[i].target;
      ++result.total;
    }
  }
  return result;
}

}  // namespace tutorial
