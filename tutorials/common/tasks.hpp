// tasks.hpp — the sequence-classification task of the encoder-only tutorials (13_bert_encoder,
// 17_interpretability, 18_training_tricks): "are there more a's or more b's?". Only two of the
// symbols matter, so we know which tokens a good model must look at.
//
//   MajorityTask            draws labelled sequences
//   MajorityData            a fixed held-out set, and training batches that never repeat it
//   ClassificationBatch     token ids with [CLS] first, padding mask, labels
//   classification_accuracy argmax of the [CLS] classifier against the labels
//
// Tokens:  PAD = 0, CLS = 1, MASK = 2, symbols from 3 ('a' = 3, 'b' = 4, ...).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "nn/nn.hpp"

namespace tutorial {

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
double classification_accuracy(nn::BertEncoder& model,
                               const std::vector<LabeledSequence>& examples);

}  // namespace tutorial
