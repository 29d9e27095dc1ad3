#include "nn/data.hpp"

#include <algorithm>
#include <stdexcept>

#include "tensor/factory.hpp"
#include "tensor/random.hpp"

namespace nn::data {

namespace {
constexpr std::int64_t kDigits = 10, kPlus = 10;  // addition: digits are symbols 0..9, '+' is 10

std::string key_of(const std::vector<std::int64_t>& tokens) {
  return std::string(reinterpret_cast<const char*>(tokens.data()), tokens.size() * sizeof(std::int64_t));
}

// n uniform integers in [low, high) from the generator.
std::vector<std::int64_t> draw(std::int64_t n, std::int64_t low, std::int64_t high, Generator& gen) {
  return tensor::randint(low, high, {n}, gen).to_vector<std::int64_t>();
}

std::vector<std::int64_t> digits_of(std::int64_t value) {  // most significant first, as symbols
  std::vector<std::int64_t> digits;
  do {
    digits.insert(digits.begin(), FIRST_SYMBOL + value % 10);
    value /= 10;
  } while (value > 0);
  return digits;
}
}  // namespace

TaskKind task_from_name(const std::string& name) {
  if (name == "copy") return TaskKind::Copy;
  if (name == "reverse") return TaskKind::Reverse;
  if (name == "sort") return TaskKind::Sort;
  if (name == "addition") return TaskKind::Addition;
  throw std::invalid_argument("task: unknown task '" + name + "' (copy, reverse, sort or addition)");
}

std::string task_name(TaskKind kind) {
  switch (kind) {
    case TaskKind::Copy: return "copy";
    case TaskKind::Reverse: return "reverse";
    case TaskKind::Sort: return "sort";
    case TaskKind::Addition: return "addition";
  }
  return "?";
}

SyntheticTask::SyntheticTask(TaskKind kind, std::int64_t num_symbols, std::int64_t min_len,
                             std::int64_t max_len)
    : kind_(kind), num_symbols_(kind == TaskKind::Addition ? kDigits + 1 : num_symbols),
      min_len_(min_len), max_len_(max_len) {
  if (min_len < 1 || max_len < min_len)
    throw std::invalid_argument("SyntheticTask: need 1 <= min_len <= max_len, got " +
                                std::to_string(min_len) + " and " + std::to_string(max_len));
  if (kind != TaskKind::Addition && num_symbols < 2)
    throw std::invalid_argument("SyntheticTask: need at least 2 symbols");
  if (kind == TaskKind::Addition && max_len > 9)
    throw std::invalid_argument("SyntheticTask: addition operands are limited to 9 digits");
}

std::int64_t SyntheticTask::vocab_size() const { return FIRST_SYMBOL + num_symbols_; }

std::int64_t SyntheticTask::max_source_len() const {
  return kind_ == TaskKind::Addition ? 2 * max_len_ + 1 : max_len_;
}

std::int64_t SyntheticTask::max_target_len() const {
  return kind_ == TaskKind::Addition ? max_len_ + 1 : max_len_;
}

double SyntheticTask::distinct_sources() const {
  double total = 0, base = kind_ == TaskKind::Addition ? 10 : double(num_symbols_);
  for (std::int64_t len = min_len_; len <= max_len_; ++len) {
    double count = 1;
    for (std::int64_t i = 0; i < len && count < 4.6e18; ++i) count *= base;
    total += kind_ == TaskKind::Addition ? count * count : count;
  }
  return std::min(total, 4.6e18);
}

Example SyntheticTask::sample(Generator& gen) const {
  Example ex;
  if (kind_ == TaskKind::Addition) {
    // Two operands with min_len..max_len digits (no leading zeros unless the number is 0).
    auto operand = [&]() {
      std::int64_t len = draw(1, min_len_, max_len_ + 1, gen)[0];
      std::int64_t low = 1, high = 10;
      for (std::int64_t i = 1; i < len; ++i) {
        low *= 10;
        high *= 10;
      }
      return draw(1, len == 1 ? 0 : low, high, gen)[0];
    };
    std::int64_t a = operand(), b = operand();
    ex.source = digits_of(a);
    ex.source.push_back(FIRST_SYMBOL + kPlus);
    for (std::int64_t d : digits_of(b)) ex.source.push_back(d);
    ex.target = digits_of(a + b);
    return ex;
  }
  std::int64_t len = draw(1, min_len_, max_len_ + 1, gen)[0];
  ex.source = draw(len, FIRST_SYMBOL, FIRST_SYMBOL + num_symbols_, gen);
  ex.target = ex.source;
  if (kind_ == TaskKind::Reverse) std::reverse(ex.target.begin(), ex.target.end());
  if (kind_ == TaskKind::Sort) std::sort(ex.target.begin(), ex.target.end());
  return ex;
}

std::string SyntheticTask::to_text(const std::vector<std::int64_t>& tokens) const {
  std::string text;
  for (std::int64_t t : tokens) {
    if (t == PAD) text += "_";
    else if (t == BOS) text += "<bos>";
    else if (t == EOS) text += "<eos>";
    else if (kind_ == TaskKind::Addition) text += t - FIRST_SYMBOL == kPlus ? '+' : char('0' + t - FIRST_SYMBOL);
    else if (t - FIRST_SYMBOL < 26) text += char('a' + t - FIRST_SYMBOL);
    else text += "[" + std::to_string(t - FIRST_SYMBOL) + "]";
  }
  return text;
}

Batch make_batch(const std::vector<Example>& examples, Device device) {
  if (examples.empty()) throw std::invalid_argument("make_batch: no examples");
  const std::int64_t B = static_cast<std::int64_t>(examples.size());
  std::int64_t S = 0, T = 0;
  for (const Example& e : examples) {
    S = std::max<std::int64_t>(S, e.source.size());
    T = std::max<std::int64_t>(T, e.target.size() + 1);  // BOS y / y EOS
  }
  std::vector<std::int64_t> src(B * S, PAD), tgt_in(B * T, PAD), tgt_out(B * T, PAD);
  std::vector<bool> src_pad(B * S, true), tgt_pad(B * T, true);
  Batch batch;
  for (std::int64_t b = 0; b < B; ++b) {
    const Example& e = examples[b];
    for (std::size_t i = 0; i < e.source.size(); ++i) {
      src[b * S + i] = e.source[i];
      src_pad[b * S + i] = false;
    }
    tgt_in[b * T] = BOS;
    for (std::size_t i = 0; i < e.target.size(); ++i) {
      tgt_in[b * T + i + 1] = e.target[i];
      tgt_out[b * T + i] = e.target[i];
    }
    tgt_out[b * T + e.target.size()] = EOS;
    for (std::size_t i = 0; i <= e.target.size(); ++i) tgt_pad[b * T + i] = false;
    batch.target_tokens += static_cast<std::int64_t>(e.target.size()) + 1;
  }
  auto ids = [&](const std::vector<std::int64_t>& v, std::int64_t cols) {
    return Tensor(tensor::from_vector(v, {B, cols}).to(device));
  };
  auto mask = [&](const std::vector<bool>& v, std::int64_t cols) {
    return Tensor(tensor::from_vector(v, {B, cols}).to(device));
  };
  batch.src = ids(src, S);
  batch.src_padding = mask(src_pad, S);
  batch.tgt_in = ids(tgt_in, T);
  batch.tgt_out = ids(tgt_out, T);
  batch.tgt_padding = mask(tgt_pad, T);
  return batch;
}

Dataset::Dataset(const SyntheticTask& task, std::int64_t held_out_size, std::uint64_t seed)
    : task_(task) {
  if (double(held_out_size) > task.distinct_sources() / 4)
    throw std::invalid_argument(
        "Dataset: a held-out set of " + std::to_string(held_out_size) +
        " examples would take more than a quarter of the task's distinct inputs; use longer "
        "sequences or more symbols");
  Generator gen(seed);
  while (static_cast<std::int64_t>(held_out_.size()) < held_out_size) {
    Example e = task.sample(gen);
    if (held_out_keys_.insert(key_of(e.source)).second) held_out_.push_back(std::move(e));
  }
}

bool Dataset::is_held_out(const std::vector<std::int64_t>& source) const {
  return held_out_keys_.count(key_of(source)) > 0;
}

std::vector<Example> Dataset::sample_train(std::int64_t batch_size, Generator& gen) const {
  std::vector<Example> examples;
  while (static_cast<std::int64_t>(examples.size()) < batch_size) {
    Example e = task_.sample(gen);
    if (!is_held_out(e.source)) examples.push_back(std::move(e));  // keep held-out unseen
  }
  return examples;
}

}  // namespace nn::data
