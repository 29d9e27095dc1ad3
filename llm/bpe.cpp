#include "llm/bpe.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <queue>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace llm {

namespace {

// Both ids of a pair in one number, for hash maps: left in the high half.
std::uint64_t bpe_pair_key(std::int64_t left, std::int64_t right) {
  return (std::uint64_t(left) << 32) | std::uint64_t(right);
}
std::int64_t bpe_key_left(std::uint64_t key) { return std::int64_t(key >> 32); }
std::int64_t bpe_key_right(std::uint64_t key) { return std::int64_t(key & 0xffffffffu); }

}  // namespace

// ---- the vocabulary ------------------------------------------------------------------------------

BPETokenizer::BPETokenizer() { build_tables(); }

BPETokenizer::BPETokenizer(std::vector<Merge> merges) : merges_(std::move(merges)) { build_tables(); }

void BPETokenizer::build_tables() {
  token_bytes_.assign(256, std::string());
  for (int byte = 0; byte < 256; ++byte) token_bytes_[byte] = std::string(1, char(byte));
  rank_of_.clear();
  for (std::size_t rank = 0; rank < merges_.size(); ++rank) {
    const auto [left, right] = merges_[rank];
    const std::int64_t id = 256 + std::int64_t(rank);
    if (left < 0 || right < 0 || left >= id || right >= id)
      throw std::invalid_argument("BPETokenizer: merge " + std::to_string(rank) + " (" +
                                  std::to_string(left) + ", " + std::to_string(right) +
                                  ") uses an id that is not a token yet (ids so far: 0.." +
                                  std::to_string(id - 1) + ")");
    if (!rank_of_.emplace(bpe_pair_key(left, right), std::int64_t(rank)).second)
      throw std::invalid_argument("BPETokenizer: the pair (" + std::to_string(left) + ", " +
                                  std::to_string(right) + ") is merged twice (merges " +
                                  std::to_string(rank_of_.at(bpe_pair_key(left, right))) + " and " +
                                  std::to_string(rank) + ")");
    token_bytes_.push_back(token_bytes_[left] + token_bytes_[right]);
  }
}

const std::string& BPETokenizer::token_bytes(std::int64_t id) const {
  if (id < 0 || id >= vocab_size())
    throw std::out_of_range("BPETokenizer: token id " + std::to_string(id) + " is outside 0.." +
                            std::to_string(vocab_size() - 1));
  return token_bytes_[id];
}

BPETokenizer BPETokenizer::truncated(std::int64_t count) const {
  if (count < 0 || count > std::int64_t(merges_.size()))
    throw std::invalid_argument("BPETokenizer::truncated: " + std::to_string(count) +
                                " merges asked, the tokenizer has " + std::to_string(merges_.size()));
  return BPETokenizer(std::vector<Merge>(merges_.begin(), merges_.begin() + count));
}

// ---- training ----------------------------------------------------------------------------------

BPETokenizer BPETokenizer::train(std::string_view text, std::int64_t vocab_size,
                                 const std::function<void(std::int64_t)>& on_merge) {
  if (vocab_size < 256)
    throw std::invalid_argument("BPETokenizer::train: vocab_size " + std::to_string(vocab_size) +
                                " is below 256 (the byte tokens alone)");
  if (vocab_size > (std::int64_t(1) << 31))
    throw std::invalid_argument("BPETokenizer::train: vocab_size " + std::to_string(vocab_size) +
                                " is too large (at most 2^31)");
  std::vector<std::int64_t> ids(text.begin(), text.end());
  for (std::int64_t& id : ids) id = std::int64_t(static_cast<unsigned char>(id));

  // How often each adjacent pair occurs (overlapping). Counted once here; afterwards each merge
  // changes only the counts around its own occurrences.
  std::unordered_map<std::uint64_t, std::int64_t> counts;
  for (std::size_t i = 0; i + 1 < ids.size(); ++i) ++counts[bpe_pair_key(ids[i], ids[i + 1])];
  auto add = [&counts](std::int64_t left, std::int64_t right, std::int64_t delta) {
    auto it = counts.try_emplace(bpe_pair_key(left, right), 0).first;
    it->second += delta;
    if (it->second == 0) counts.erase(it);  // keep the map small: the max search scans it
  };

  std::vector<Merge> merges;
  std::vector<std::int64_t> merged_ids;
  while (256 + std::int64_t(merges.size()) < vocab_size) {
    // The most frequent pair; ties go to the smallest (left, right).
    std::uint64_t best = 0;
    std::int64_t best_count = 0;
    for (const auto& [key, count] : counts)
      if (count > best_count || (count == best_count && key < best)) best = key, best_count = count;
    if (best_count < 2) break;  // nothing repeats any more
    const std::int64_t left = bpe_key_left(best), right = bpe_key_right(best);
    const std::int64_t id = 256 + std::int64_t(merges.size());
    merges.emplace_back(left, right);

    // Replace the occurrences left to right, never overlapping, into merged_ids. At each one the
    // pairs with its neighbours change: (prev, left) becomes (prev, id) and (right, next)
    // becomes (id, next). `prev` is what was written last, which may be a new `id` already: that
    // is how "aaaa" -> [aa][aa] counts (aa, aa) once and (aa, a) not at all.
    merged_ids.clear();
    const std::size_t n = ids.size();
    for (std::size_t i = 0; i < n;) {
      if (i + 1 < n && ids[i] == left && ids[i + 1] == right) {
        add(left, right, -1);
        if (!merged_ids.empty()) {
          add(merged_ids.back(), left, -1);
          add(merged_ids.back(), id, +1);
        }
        if (i + 2 < n) {
          add(right, ids[i + 2], -1);
          add(id, ids[i + 2], +1);
        }
        merged_ids.push_back(id);
        i += 2;
      } else {
        merged_ids.push_back(ids[i]);
        i += 1;
      }
    }
    ids.swap(merged_ids);
    if (on_merge) on_merge(std::int64_t(merges.size()));
  }
  return BPETokenizer(std::move(merges));
}

// ---- encoding and decoding -------------------------------------------------------------------

std::vector<std::int64_t> BPETokenizer::encode(std::string_view text) const {
  // The bytes as a linked list of tokens (merging two removes one node, in O(1)), and a heap of
  // the adjacent pairs that are merges, smallest (rank, position) first: all occurrences of the
  // lowest-rank pair are merged before the next rank, left to right. A merge creates a token
  // newer than both of its parts, so any pair it forms has a higher rank than the merge itself:
  // ranks come out of the heap in order. Entries made stale by an earlier merge are skipped.
  const std::size_t n = text.size();
  std::vector<std::int64_t> id(n);
  std::vector<std::int64_t> prev(n), next(n);  // neighbours in the list; -1 and n past the ends
  for (std::size_t i = 0; i < n; ++i) {
    id[i] = std::int64_t(static_cast<unsigned char>(text[i]));
    prev[i] = std::int64_t(i) - 1;
    next[i] = std::int64_t(i) + 1;
  }
  using Entry = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>;  // rank, pos, left, right
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  auto push = [&](std::int64_t pos) {
    if (pos < 0 || next[pos] >= std::int64_t(n)) return;
    auto it = rank_of_.find(bpe_pair_key(id[pos], id[next[pos]]));
    if (it != rank_of_.end()) heap.emplace(it->second, pos, id[pos], id[next[pos]]);
  };
  for (std::size_t i = 0; i + 1 < n; ++i) push(std::int64_t(i));
  std::vector<bool> removed(n, false);
  while (!heap.empty()) {
    const auto [rank, pos, left, right] = heap.top();
    heap.pop();
    // Stale: the node was merged away, or it or its neighbour became another token since.
    if (removed[pos] || next[pos] >= std::int64_t(n) || id[pos] != left || id[next[pos]] != right)
      continue;
    const std::int64_t gone = next[pos];
    id[pos] = 256 + rank;
    removed[gone] = true;
    next[pos] = next[gone];
    if (next[gone] < std::int64_t(n)) prev[next[gone]] = pos;
    push(prev[pos]);  // (before, new token)
    push(pos);        // (new token, after)
  }
  std::vector<std::int64_t> out;
  // Node 0 is never removed (a merge removes the right node of a pair): the list starts there.
  for (std::int64_t pos = 0; pos < std::int64_t(n); pos = next[pos]) out.push_back(id[pos]);
  return out;
}

std::string BPETokenizer::decode(const std::vector<std::int64_t>& ids) const {
  std::string text;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size())
      throw std::out_of_range("BPETokenizer::decode: id " + std::to_string(ids[i]) + " at position " +
                              std::to_string(i) + " is outside 0.." + std::to_string(vocab_size() - 1));
    text += token_bytes_[ids[i]];
  }
  return text;
}

// ---- the vocabulary file ----------------------------------------------------------------------

std::string escape_bytes(std::string_view bytes, bool show_space) {
  std::string out;
  for (char c : bytes) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == ' ' && show_space) out += "\xe2\x90\xa3";  // ␣
    else if (byte >= 0x20 && byte < 0x7f) out += c;
    else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", byte);
      out += hex;
    }
  }
  return out;
}

void BPETokenizer::save(const std::string& path) const {
  std::ostringstream text;
  text << "bpe-tokenizer v1\nmerges " << merges_.size() << "\n";
  for (std::size_t rank = 0; rank < merges_.size(); ++rank)
    text << merges_[rank].first << " " << merges_[rank].second << "  # \""
         << escape_bytes(token_bytes_[256 + rank]) << "\" -> " << 256 + rank << "\n";
  // Written beside the target and renamed over it: an interrupted save keeps the old file.
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text.str();
    out.flush();
    if (!out) {
      std::remove(temporary.c_str());
      throw std::runtime_error("BPETokenizer::save: " + path + ": cannot write " + temporary);
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw std::runtime_error("BPETokenizer::save: " + path + ": cannot rename " + temporary + " to it");
  }
}

BPETokenizer BPETokenizer::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("BPETokenizer::load: " + path + ": cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

namespace {

// A line without its comment and surrounding blanks.
std::string bpe_strip(std::string line) {
  if (std::size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!line.empty() && blank(line.back())) line.pop_back();
  std::size_t start = 0;
  while (start < line.size() && blank(line[start])) ++start;
  return line.substr(start);
}

// Decimal digits only (no sign, no blank), at most 18 of them: the value, else -1.
std::int64_t bpe_parse_count(const std::string& word) {
  if (word.empty() || word.size() > 18) return -1;
  std::int64_t value = 0;
  for (char c : word) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

BPETokenizer BPETokenizer::parse(std::string_view text, const std::string& source) {
  std::vector<std::string> lines;
  {
    std::string current;
    for (char c : text) {
      if (c == '\n') {
        lines.push_back(current);
        current.clear();
      } else {
        current += c;
      }
    }
    if (!current.empty()) lines.push_back(current);
  }
  auto fail = [&source](std::size_t line, const std::string& problem) -> BPETokenizer {
    throw std::runtime_error("BPETokenizer::load: " + source + ": line " + std::to_string(line) + ": " +
                             problem);
  };
  if (lines.empty() || bpe_strip(lines[0]) != "bpe-tokenizer v1")
    return fail(1, "expected the header \"bpe-tokenizer v1\"" +
                       (lines.empty() ? std::string(" (the file is empty)") : ", got \"" + escape_bytes(lines[0]) + "\""));
  if (lines.size() < 2) return fail(2, "expected \"merges N\", the file ends after the header");
  const std::string count_line = bpe_strip(lines[1]);
  std::int64_t count = -1;
  if (count_line.rfind("merges ", 0) == 0) count = bpe_parse_count(count_line.substr(7));
  if (count < 0 || count > (std::int64_t(1) << 31) - 256)
    return fail(2, "expected \"merges N\" with N a number of merges, got \"" + escape_bytes(lines[1]) + "\"");

  std::vector<Merge> merges;
  std::unordered_map<std::uint64_t, std::size_t> seen;  // pair key -> its line
  std::size_t line = 2;
  for (; line < lines.size(); ++line) {
    const std::string content = bpe_strip(lines[line]);
    const std::size_t number = line + 1;
    if (content.empty()) continue;  // a blank or comment-only line
    if (std::int64_t(merges.size()) == count)
      return fail(number, "more merges than the " + std::to_string(count) + " announced on line 2");
    const std::size_t space = content.find_first_of(" \t");
    std::int64_t left = -1, right = -1;
    if (space != std::string::npos) {
      std::size_t second = space;
      while (second < content.size() && (content[second] == ' ' || content[second] == '\t')) ++second;
      left = bpe_parse_count(content.substr(0, space));
      right = bpe_parse_count(content.substr(second));
    }
    if (left < 0 || right < 0)
      return fail(number, "expected two token ids \"LEFT RIGHT\", got \"" + escape_bytes(content) + "\"");
    const std::int64_t id = 256 + std::int64_t(merges.size());
    if (left >= id || right >= id)
      return fail(number, "merge " + std::to_string(merges.size()) + " creates token " + std::to_string(id) +
                              " but uses " + std::to_string(std::max(left, right)) +
                              ", which does not exist yet (ids must be below " + std::to_string(id) + ")");
    if (auto [it, fresh] = seen.emplace(bpe_pair_key(left, right), number); !fresh)
      return fail(number, "the pair " + std::to_string(left) + " " + std::to_string(right) +
                              " was already merged on line " + std::to_string(it->second));
    merges.emplace_back(left, right);
  }
  if (std::int64_t(merges.size()) < count)
    return fail(lines.size() + 1, "the file ends after " + std::to_string(merges.size()) + " of the " +
                                      std::to_string(count) + " merges announced on line 2");
  return BPETokenizer(std::move(merges));
}

}  // namespace llm
