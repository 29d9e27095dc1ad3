// data.hpp — synthetic sequence tasks for training Transformers in seconds, and batching.
//
// Token conventions (every task):  PAD = 0  (filler after the end; ignored by the loss)
//                                  BOS = 1  (starts every decoder input)
//                                  EOS = 2  (ends every target)
//                                  3, 4, ...  the task's symbols (symbol s is token 3 + s)
// A batch for an encoder-decoder holds, for each example (source x, target y):
//     src     = x                  padded with PAD to the longest source
//     tgt_in  = BOS y              what the decoder reads (teacher forcing)
//     tgt_out = y EOS              what it must predict at each position: tgt_in shifted left
//
// Tasks: copy (y = x), reverse (y = x backwards), sort (y = x sorted), and addition
// (x = "a+b" as digits, y = the digits of a + b; digits are symbols 0..9, '+' is symbol 10).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "nn/module.hpp"

namespace nn::data {

inline constexpr std::int64_t PAD = 0, BOS = 1, EOS = 2, FIRST_SYMBOL = 3;

enum class TaskKind { Copy, Reverse, Sort, Addition };
TaskKind task_from_name(const std::string& name);  // "copy", "reverse", "sort", "addition"
std::string task_name(TaskKind kind);

struct Example {
  std::vector<std::int64_t> source, target;  // tokens, without BOS/EOS
};

class SyntheticTask {
 public:
  // Sequences of min_len..max_len symbols drawn from num_symbols symbols. For addition,
  // min_len..max_len is the number of digits of each operand and num_symbols is ignored.
  SyntheticTask(TaskKind kind, std::int64_t num_symbols, std::int64_t min_len, std::int64_t max_len);
  Example sample(Generator& gen) const;
  TaskKind kind() const { return kind_; }
  std::int64_t vocab_size() const;        // specials + symbols
  std::int64_t max_source_len() const;    // longest source
  std::int64_t max_target_len() const;    // longest target, without EOS
  // Number of distinct possible sources (capped at 2^62), to check a held-out set can exist.
  double distinct_sources() const;
  // Tokens as text: symbols as letters or digits, specials as <pad>, <bos>, <eos>.
  std::string to_text(const std::vector<std::int64_t>& tokens) const;

 private:
  TaskKind kind_;
  std::int64_t num_symbols_, min_len_, max_len_;
};

struct Batch {
  Tensor src, src_padding;          // [B, S] int64, [B, S] bool (true at PAD)
  Tensor tgt_in, tgt_out, tgt_padding;  // [B, T] int64, [B, T] int64, [B, T] bool
  std::int64_t target_tokens = 0;   // non-PAD tokens in tgt_out (what the loss averages over)
};
Batch make_batch(const std::vector<Example>& examples, Device device = tensor::kCPU);

// A fixed held-out set of distinct examples, and training examples that are never among them.
class Dataset {
 public:
  Dataset(const SyntheticTask& task, std::int64_t held_out_size, std::uint64_t seed);
  const SyntheticTask& task() const { return task_; }
  const std::vector<Example>& held_out() const { return held_out_; }
  // batch_size fresh training examples drawn from gen (rejecting held-out sources).
  std::vector<Example> sample_train(std::int64_t batch_size, Generator& gen) const;
  bool is_held_out(const std::vector<std::int64_t>& source) const;

 private:
  SyntheticTask task_;
  std::vector<Example> held_out_;
  std::unordered_set<std::string> held_out_keys_;
};

}  // namespace nn::data
