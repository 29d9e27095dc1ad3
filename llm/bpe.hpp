// bpe.hpp — a byte-level byte-pair-encoding (BPE) tokenizer: how GPT-style models turn text
// into token ids and back.
//
// The vocabulary starts as the 256 byte values (token t < 256 is the single byte t), so every
// string, valid UTF-8 or not, NUL bytes included, can be encoded and decode(encode(s)) == s.
// Training then adds tokens one at a time (Sennrich et al., 2016; GPT-2's byte-level variant):
//   1. count every pair of adjacent tokens in the training text (overlapping: "aaa" holds the
//      pair (a, a) twice);
//   2. take the most frequent pair; among pairs with the same count, the one whose (left, right)
//      ids are smallest, comparing left first (a fixed rule, so training is deterministic);
//   3. give it the next id (256, 257, ...) and replace its occurrences, left to right, never
//      overlapping ("aaa" becomes [aa][a]);
//   4. repeat until the vocabulary has the size asked for, or no pair occurs twice (a pair seen
//      once is no pattern).
// The merges in the order they were learned (their rank) are the whole tokenizer. Encoding
// applies them to new text in rank order: the adjacent pair with the lowest rank is merged
// everywhere (left to right), then the next, until no adjacent pair is a merge. Because training
// is greedy, the first k merges of a large vocabulary are exactly the merges of a smaller one.
//
// This tokenizer merges across spaces and punctuation (like minbpe's BasicTokenizer); GPT-2
// first splits text into words with a regular expression so that no token spans two words.
//
// The vocabulary file (save / load), a small text file, one merge per line in rank order:
//   bpe-tokenizer v1
//   merges 3
//   97 97     # "aa" -> 256
//   97 98     # "ab" -> 257
//   256 257   # "aaab" -> 258
// Line 1 is the header, line 2 the number of merges; then per merge the left and right token
// ids, decimal, separated by spaces, each smaller than the id the merge creates (merge i creates
// 256 + i). Everything from '#' to the end of a line is a comment (save writes the new token's
// bytes there, escaped, for a person to read); blank lines are skipped. A malformed file is
// refused with its line number.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace llm {

class BPETokenizer {
 public:
  using Merge = std::pair<std::int64_t, std::int64_t>;  // (left id, right id)

  // 256 byte tokens and no merges: one token per byte.
  BPETokenizer();
  // A tokenizer from merges in rank order (merge i creates id 256 + i). Throws when an id is
  // negative or not yet created, or a pair appears twice.
  explicit BPETokenizer(std::vector<Merge> merges);

  // Learns merges on `text` until the vocabulary has vocab_size tokens (>= 256) or no pair
  // occurs twice. The pair counts are kept up to date at each merge's occurrences instead of
  // being counted again over the whole text. Each merge still passes over the whole text once,
  // so the time grows as (merges x text length): `on_merge`, when given, is called after each
  // merge with the number of merges so far (for a progress line on large texts).
  static BPETokenizer train(std::string_view text, std::int64_t vocab_size,
                            const std::function<void(std::int64_t)>& on_merge = nullptr);

  // Token ids of `text`: its bytes, then the merges applied in rank order.
  std::vector<std::int64_t> encode(std::string_view text) const;
  // The bytes of the tokens, concatenated. Throws on an id outside 0 .. vocab_size()-1.
  std::string decode(const std::vector<std::int64_t>& ids) const;

  std::int64_t vocab_size() const { return 256 + std::int64_t(merges_.size()); }
  const std::vector<Merge>& merges() const { return merges_; }
  // The bytes token `id` stands for. Throws when out of range.
  const std::string& token_bytes(std::int64_t id) const;
  // The first `count` merges alone: the tokenizer training would give with vocab_size 256+count.
  BPETokenizer truncated(std::int64_t count) const;

  // Writes the file described above (atomically: a temporary file renamed over `path`).
  void save(const std::string& path) const;
  // Reads it back. Throws std::runtime_error "BPETokenizer::load: <path>: line N: <problem>".
  static BPETokenizer load(const std::string& path);
  // The same from the text of a file; `source` names it in errors.
  static BPETokenizer parse(std::string_view text, const std::string& source);

 private:
  void build_tables();  // token_bytes_ and rank_of_, from merges_ (checking them)

  std::vector<Merge> merges_;
  std::vector<std::string> token_bytes_;                 // [vocab_size()]
  std::unordered_map<std::uint64_t, std::int64_t> rank_of_;  // pair key -> its merge's rank
};

// A token's bytes as text a person can read: printable ASCII as is, '\n' and '\t' escaped, a
// space as '␣' where `show_space`, other bytes as \xHH.
std::string escape_bytes(std::string_view bytes, bool show_space = false);

}  // namespace llm
