#include "tutorials/common/going_further.hpp"

#include <omp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <stdexcept>

namespace tutorial {

namespace {

std::vector<std::int64_t> draw_ints(std::int64_t count, std::int64_t low, std::int64_t high,
                                    nn::Generator& gen) {
  return tensor::randint(low, high, {count}, gen).to_vector<std::int64_t>();
}

std::string key_of(const std::vector<std::int64_t>& tokens) {
  return std::string(tokens.begin(), tokens.end());  // tokens are small: one char each
}

}  // namespace

// ---- the task -----------------------------------------------------------------------------------

MajorityTask::MajorityTask(std::int64_t num_symbols, std::int64_t min_len, std::int64_t max_len)
    : num_symbols_(num_symbols), min_len_(min_len), max_len_(max_len) {
  if (num_symbols < 2 || num_symbols > 26 || min_len < 1 || max_len < min_len)
    throw std::invalid_argument("MajorityTask: need 2..26 symbols and 1 <= min_len <= max_len");
}

LabeledSequence MajorityTask::sample(nn::Generator& gen) const {
  while (true) {
    std::int64_t len = draw_ints(1, min_len_, max_len_ + 1, gen)[0];
    std::vector<std::int64_t> symbols = draw_ints(len, FIRST_SYMBOL, FIRST_SYMBOL + num_symbols_, gen);
    std::int64_t a = std::count(symbols.begin(), symbols.end(), A);
    std::int64_t b = std::count(symbols.begin(), symbols.end(), B);
    if (a == b) continue;  // a tie has no answer: draw again
    LabeledSequence ex;
    ex.tokens.push_back(CLS);
    ex.tokens.insert(ex.tokens.end(), symbols.begin(), symbols.end());
    ex.label = a > b ? 0 : 1;
    return ex;
  }
}

std::string MajorityTask::token_text(std::int64_t token) const {
  if (token == PAD) return "_";
  if (token == CLS) return "CLS";
  if (token == MASK) return "?";
  return std::string(1, char('a' + (token - FIRST_SYMBOL)));
}

std::string MajorityTask::to_text(const std::vector<std::int64_t>& tokens) const {
  std::string text;
  for (std::size_t i = 0; i < tokens.size(); ++i) text += (i ? " " : "") + token_text(tokens[i]);
  return text;
}

MajorityData::MajorityData(const MajorityTask& task, std::int64_t held_out_size, std::uint64_t seed)
    : task_(task) {
  nn::Generator gen(seed);
  while (static_cast<std::int64_t>(held_out_.size()) < held_out_size) {
    LabeledSequence ex = task_.sample(gen);
    if (held_out_keys_.insert(key_of(ex.tokens)).second) held_out_.push_back(ex);
  }
}

std::vector<LabeledSequence> MajorityData::sample_train(std::int64_t batch_size, nn::Generator& gen) const {
  std::vector<LabeledSequence> batch;
  while (static_cast<std::int64_t>(batch.size()) < batch_size) {
    LabeledSequence ex = task_.sample(gen);
    if (!held_out_keys_.count(key_of(ex.tokens))) batch.push_back(ex);
  }
  return batch;
}

ClassificationBatch make_classification_batch(const std::vector<LabeledSequence>& examples,
                                              std::int64_t pad_to) {
  if (examples.empty()) throw std::invalid_argument("make_classification_batch: no examples");
  const std::int64_t B = static_cast<std::int64_t>(examples.size());
  std::int64_t T = pad_to;
  for (const LabeledSequence& e : examples) T = std::max<std::int64_t>(T, e.tokens.size());
  std::vector<std::int64_t> ids(B * T, MajorityTask::PAD), labels(B);
  std::vector<bool> padding(B * T, true);
  for (std::int64_t b = 0; b < B; ++b) {
    const auto& tokens = examples[b].tokens;
    for (std::size_t t = 0; t < tokens.size(); ++t) {
      ids[b * T + t] = tokens[t];
      padding[b * T + t] = false;
    }
    labels[b] = examples[b].label;
  }
  return {nn::Tensor(tensor::from_vector(ids, {B, T})), nn::Tensor(tensor::from_vector(padding, {B, T})),
          nn::Tensor(tensor::from_vector(labels, {B}))};
}

double classification_accuracy(nn::BertEncoder& model, const std::vector<LabeledSequence>& examples) {
  autograd::NoGradGuard no_grad;
  bool was_training = model.is_training();
  model.eval();
  std::int64_t correct = 0;
  for (std::size_t start = 0; start < examples.size(); start += 512) {
    std::vector<LabeledSequence> chunk(examples.begin() + start,
                                       examples.begin() + std::min(examples.size(), start + 512));
    ClassificationBatch batch = make_classification_batch(chunk);
    nn::Tensor predicted = autograd::argmax(model.classify(model.forward(batch.ids, batch.padding)), -1);
    std::vector<std::int64_t> p = predicted.to_vector<std::int64_t>();
    for (std::size_t i = 0; i < chunk.size(); ++i) correct += p[i] == chunk[i].label;
  }
  model.train(was_training);
  return double(correct) / double(examples.size());
}

// ---- training -----------------------------------------------------------------------------------

TrainingHistory train_classifier(nn::BertEncoder& model, const MajorityData& data,
                                 const TrainingRecipe& recipe, nn::Generator& data_gen,
                                 const std::function<void(std::int64_t, double)>& on_step) {
  TrainingHistory history;
  // Weight decay shrinks the weight matrices (and embeddings) only: decaying biases and the
  // LayerNorm gains towards 0 has no regularising purpose, so they get a separate optimizer.
  std::vector<nn::Tensor> decayed, not_decayed;
  for (auto& [name, p] : model.named_parameters()) (p.dim() >= 2 ? decayed : not_decayed).push_back(p);
  nn::Adam matrices(decayed, recipe.lr, 0.9, 0.999, 1e-8, recipe.weight_decay, /*decoupled=*/true);
  nn::Adam vectors(not_decayed, recipe.lr, 0.9, 0.999, 1e-8, 0.0, true);
  std::vector<nn::Tensor> all = model.parameters();

  // The learning rate at a step: linear warmup, then constant or a cosine decay to 0.
  auto lr_at = [&](std::int64_t step) {
    double factor = 1.0;
    if (recipe.warmup_steps > 0 && step < recipe.warmup_steps)
      factor = double(step + 1) / double(recipe.warmup_steps);
    else if (recipe.cosine_decay) {
      double progress = double(step - recipe.warmup_steps) /
                        double(std::max<std::int64_t>(1, recipe.steps - recipe.warmup_steps));
      factor = 0.5 * (1 + std::cos(M_PI * progress));
    }
    return recipe.lr * factor;
  };

  std::vector<LabeledSequence> fixed;  // the small fixed training set, when there is one
  std::vector<std::int64_t> order;
  std::size_t next = 0;
  if (recipe.train_set_size > 0) fixed = data.sample_train(recipe.train_set_size, data_gen);
  auto next_batch = [&]() {
    if (fixed.empty()) return data.sample_train(recipe.batch, data_gen);
    std::vector<LabeledSequence> batch;
    while (static_cast<std::int64_t>(batch.size()) < recipe.batch) {
      if (next >= order.size()) {  // a new epoch: a new random order
        order = tensor::randperm(static_cast<std::int64_t>(fixed.size()), data_gen).to_vector<std::int64_t>();
        next = 0;
      }
      batch.push_back(fixed[order[next++]]);
    }
    return batch;
  };

  auto start = std::chrono::steady_clock::now();
  model.train();
  for (std::int64_t step = 0; step < recipe.steps; ++step) {
    double lr = lr_at(step);
    matrices.set_lr(lr);
    vectors.set_lr(lr);
    ClassificationBatch batch = make_classification_batch(next_batch());
    nn::Tensor logits = model.classify(model.forward(batch.ids, batch.padding));  // [B, 2]
    nn::Tensor loss = autograd::cross_entropy(logits, batch.labels, -100, recipe.label_smoothing);
    double value = loss.item();
    if (!std::isfinite(value)) {
      history.diverged = true;
      break;
    }
    matrices.zero_grad();
    vectors.zero_grad();
    loss.backward();
    double norm = nn::clip_grad_norm_(all, recipe.clip_norm > 0 ? recipe.clip_norm
                                                                : std::numeric_limits<double>::infinity());
    matrices.step();
    vectors.step();
    history.losses.push_back(value);
    history.grad_norms.push_back(norm);
    history.learning_rates.push_back(lr);
    if (on_step) on_step(step + 1, value);
    if ((step + 1) % recipe.eval_every == 0 || step + 1 == recipe.steps)
      history.accuracy.emplace_back(step + 1, classification_accuracy(model, data.held_out()));
  }
  if (!fixed.empty()) history.train_accuracy = classification_accuracy(model, fixed);
  history.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return history;
}

// ---- measuring ----------------------------------------------------------------------------------

void one_thread_unless_asked(const Options& options) {
  if (options.threads <= 0) omp_set_num_threads(1);
  std::printf("  running on %d thread(s)%s\n", omp_get_max_threads(),
              options.threads <= 0 ? " (small ops gain nothing from more; --threads N to change)" : "");
}

double best_seconds(int repeats, const std::function<void()>& f) {
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeats; ++r) {
    auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

namespace {
// A line "Name:   1234 kB" of /proc/self/status, in bytes (-1 when missing).
double status_bytes(const char* name) {
  std::FILE* file = std::fopen("/proc/self/status", "r");
  if (file == nullptr) return -1;
  char line[256];
  double kib = -1;
  const std::size_t length = std::strlen(name);
  while (std::fgets(line, sizeof line, file))
    if (std::strncmp(line, name, length) == 0 && line[length] == ':') kib = std::atof(line + length + 1);
  std::fclose(file);
  return kib < 0 ? -1 : kib * 1024;
}
}  // namespace

double peak_memory_growth(const std::function<std::function<void()>()>& setup) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("peak_memory_growth: pipe failed");
  std::fflush(stdout);  // or the child would print the parent's buffered output again
  pid_t child = fork();
  if (child < 0) throw std::runtime_error("peak_memory_growth: fork failed");
  if (child == 0) {
    close(fds[0]);
    omp_set_num_threads(1);
    std::function<void()> work = setup();
    double before = std::max(status_bytes("VmRSS"), status_bytes("VmHWM"));
    work();
    double growth = status_bytes("VmHWM") - before;
    ssize_t written = write(fds[1], &growth, sizeof growth);
    _exit(written == sizeof growth ? 0 : 1);  // no destructors, no atexit handlers
  }
  close(fds[1]);
  double growth = -1;
  ssize_t got = read(fds[0], &growth, sizeof growth);
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (got != sizeof growth || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("peak_memory_growth: the measuring child process failed");
  return growth;
}

std::string human_bytes(double bytes) {
  char text[32];
  if (std::fabs(bytes) >= 1 << 20)
    std::snprintf(text, sizeof text, "%.1f MiB", bytes / (1 << 20));
  else
    std::snprintf(text, sizeof text, "%.1f KiB", bytes / (1 << 10));
  return text;
}

// ---- pictures -----------------------------------------------------------------------------------

std::string path_in(const std::string& out, const std::string& name) {
  return (std::filesystem::path(out) / name).string();
}

void save_line_plot(const viz::LinePlot& plot, const std::string& out, const std::string& name) {
  plot.save(path_in(out, name));
  std::printf("  %s\n", path_in(out, name).c_str());
}

void save_panels(const std::vector<viz::Canvas>& panels, int columns, const std::string& title,
                 const std::string& out, const std::string& name) {
  if (panels.empty() || columns < 1) throw std::invalid_argument("save_panels: no panels");
  const int rows = (int(panels.size()) + columns - 1) / columns, title_height = 50;
  std::vector<int> widths(columns, 0), heights(rows, 0);
  for (std::size_t i = 0; i < panels.size(); ++i) {
    widths[i % columns] = std::max(widths[i % columns], panels[i].width());
    heights[i / columns] = std::max(heights[i / columns], panels[i].height());
  }
  int width = 0, height = title_height;
  for (int w : widths) width += w;
  for (int h : heights) height += h;
  viz::Canvas canvas(width, height);
  canvas.draw_text(width / 2, title_height / 2, title, viz::colors::black, 3, viz::HAlign::center,
                   viz::VAlign::middle);
  int y = title_height;
  for (int r = 0; r < rows; ++r) {
    int x = 0;
    for (int c = 0; c < columns && r * columns + c < int(panels.size()); ++c) {
      const viz::Canvas& panel = panels[r * columns + c];
      for (int py = 0; py < panel.height(); ++py)
        for (int px = 0; px < panel.width(); ++px) canvas.set_pixel(x + px, y + py, panel.pixel(px, py));
      x += widths[c];
    }
    y += heights[r];
  }
  canvas.save_png(path_in(out, name));
  std::printf("  %s\n", path_in(out, name).c_str());
}

}  // namespace tutorial
