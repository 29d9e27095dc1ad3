// tasks.cpp — see tasks.hpp.
#include "tutorials/common/tasks.hpp"

#include <algorithm>
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

MajorityTask::MajorityTask(std::int64_t num_symbols, std::int64_t min_len, std::int64_t max_len)
    : num_symbols_(num_symbols), min_len_(min_len), max_len_(max_len) {
  if (num_symbols < 2 || num_symbols > 26 || min_len < 1 || max_len < min_len)
    throw std::invalid_argument("MajorityTask: need 2..26 symbols and 1 <= min_len <= max_len");
}

LabeledSequence MajorityTask::sample(nn::Generator& gen) const {
  while (true) {
    std::int64_t len = draw_ints(1, min_len_, max_len_ + 1, gen)[0];
    std::vector<std::int64_t> symbols =
        draw_ints(len, FIRST_SYMBOL, FIRST_SYMBOL + num_symbols_, gen);
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

std::vector<LabeledSequence> MajorityData::sample_train(std::int64_t batch_size,
                                                        nn::Generator& gen) const {
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
  return {nn::Tensor(tensor::from_vector(ids, {B, T})),
          nn::Tensor(tensor::from_vector(padding, {B, T})),
          nn::Tensor(tensor::from_vector(labels, {B}))};
}

double classification_accuracy(nn::BertEncoder& model,
                               const std::vector<LabeledSequence>& examples) {
  autograd::NoGradGuard no_grad;
  bool was_training = model.is_training();
  model.eval();
  std::int64_t correct = 0;
  for (std::size_t start = 0; start < examples.size(); start += 512) {
    std::vector<LabeledSequence> chunk(examples.begin() + start,
                                       examples.begin() + std::min(examples.size(), start + 512));
    ClassificationBatch batch = make_classification_batch(chunk);
    nn::Tensor predicted =
        autograd::argmax(model.classify(model.forward(batch.ids, batch.padding)), -1);
    std::vector<std::int64_t> p = predicted.to_vector<std::int64_t>();
    for (std::size_t i = 0; i < chunk.size(); ++i) correct += p[i] == chunk[i].label;
  }
  model.train(was_training);
  return double(correct) / double(examples.size());
}

}  // namespace tutorial
