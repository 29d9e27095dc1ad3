// Checker of tutorials/exercises/stubs/bpe_merge_step.cpp: exercise::bpe_merge_step against one
// BPE training step worked out here with plain loops (every adjacent pair counted over a plain
// list of pairs, the best chosen by comparing counts, then ids; the replacement scanned left to
// right). The cases: the classic "aaabdaaabac" (a run of a's: overlapping pairs), a three-way tie
// where the first pair in the text, the smallest and the largest are three different pairs, a
// run "aaaa", a sequence too short to have a pair, and random sequences over a few ids with
// earlier merges (ids >= 256) among them.
#include <cstdint>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
void bpe_merge_step(std::vector<std::int64_t>& merged, std::int64_t& left, std::int64_t& right,
                    const std::vector<std::int64_t>& ids, std::int64_t new_id);  // the learner's
}

using namespace exercise_check;
using Ids = std::vector<std::int64_t>;

namespace {

struct Pair {
  std::int64_t left, right, count, first_position;
};

// Every distinct adjacent pair with its count (overlapping occurrences count) and where it first
// occurs, in order of first occurrence.
std::vector<Pair> count_pairs(const Ids& ids) {
  std::vector<Pair> pairs;
  for (std::size_t i = 0; i + 1 < ids.size(); ++i) {
    bool found = false;
    for (Pair& pair : pairs)
      if (pair.left == ids[i] && pair.right == ids[i + 1]) {
        ++pair.count;
        found = true;
      }
    if (!found) pairs.push_back({ids[i], ids[i + 1], 1, std::int64_t(i)});
  }
  return pairs;
}

enum class TieRule { smallest, largest, first_in_text };

// The most frequent pair; among equals, by `rule`. {-1, -1} when there is no pair.
std::vector<double> choose(const std::vector<Pair>& pairs, TieRule rule) {
  const Pair* best = nullptr;
  for (const Pair& pair : pairs) {
    if (best == nullptr || pair.count > best->count) {
      best = &pair;
      continue;
    }
    if (pair.count < best->count) continue;
    const bool smaller = pair.left < best->left || (pair.left == best->left && pair.right < best->right);
    if ((rule == TieRule::smallest && smaller) || (rule == TieRule::largest && !smaller)) best = &pair;
    // first_in_text: pairs come in order of first occurrence, so the earlier one stays
  }
  if (best == nullptr) return {-1, -1};
  return {double(best->left), double(best->right)};
}

// The sequence with (left, right) replaced by new_id, left to right; with `overlapping`, the
// scan moves on by one token after a match too (the right token is used twice).
std::vector<double> replace(const Ids& ids, std::int64_t left, std::int64_t right, std::int64_t new_id,
                            bool overlapping) {
  std::vector<double> out;
  for (std::size_t i = 0; i < ids.size();) {
    if (i + 1 < ids.size() && ids[i] == left && ids[i + 1] == right) {
      out.push_back(double(new_id));
      i += overlapping ? 1 : 2;
    } else {
      out.push_back(double(ids[i]));
      i += 1;
    }
  }
  return out;
}

Ids from_text(const std::string& text) {
  Ids ids;
  for (char c : text) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

void check(const Case& test_case, const Ids& ids, std::int64_t new_id) {
  Ids merged;
  std::int64_t left = -7, right = -7;
  exercise::bpe_merge_step(merged, left, right, ids, new_id);

  const std::vector<Pair> pairs = count_pairs(ids);
  const std::vector<double> pair = choose(pairs, TieRule::smallest);
  const std::string tie_hint =
      "several pairs share the highest count here; the rule picks the smallest left id, then the "
      "smallest right id, wherever the pairs stand in the text.";
  expect_close(test_case,
               {.name = "(left, right)",
                .shape = {2},
                .expected = pair,
                .hint = "count every adjacent pair (ids[i], ids[i + 1]), overlapping ones included, and "
                        "take the most frequent;\nties: the smallest left id, then the smallest right id. "
                        "No pair at all: -1, -1.",
                .mistakes = {{"tie broken by the first pair in the text, not by the smallest ids", tie_hint,
                              choose(pairs, TieRule::first_in_text)},
                             {"tie broken by the largest pair, not the smallest", tie_hint,
                              choose(pairs, TieRule::largest)}},
                .rtol = 0,
                .atol = 0},
               Ids{left, right});

  const std::int64_t l = std::int64_t(pair[0]), r = std::int64_t(pair[1]);
  const std::vector<double> expected = replace(ids, l, r, new_id, false);
  const std::vector<double> overlapped = replace(ids, l, r, new_id, true);
  const std::string overlap_name = "overlapping occurrences replaced: the scan did not skip the token a merge used up";
  const std::string overlap_hint =
      "after replacing ids[i], ids[i + 1] by new_id, both are used up: continue at i + 2. \"a a a\" with "
      "(a, a) becomes [new_id, a].";
  // The length first: a wrong length says more than its first wrong value.
  expect_close(test_case,
               {.name = "merged.size()",
                .shape = {1},
                .expected = {double(expected.size())},
                .hint = "every occurrence replaced turns two tokens into one",
                .mistakes = {{overlap_name, overlap_hint, {double(overlapped.size())}}},
                .rtol = 0,
                .atol = 0},
               Ids{std::int64_t(merged.size())});
  expect_close(test_case,
               {.name = "merged",
                .shape = {std::int64_t(expected.size())},
                .expected = expected,
                .hint = "scan from the left: where ids[i], ids[i + 1] is the pair, write new_id and skip both; "
                        "else copy ids[i].",
                .mistakes = {{overlap_name, overlap_hint, overlapped}},
                .rtol = 0,
                .atol = 0},
               merged);
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "bpe_merge_step", [] {
    const int count = 8;
    check({1, count, "the bytes of \"aaabdaaabac\", new_id 256"}, from_text("aaabdaaabac"), 256);
    check({2, count, "[5 9 5 9 2 7 2 7 8 1 8 1]: (5, 9), (2, 7) and (8, 1) all occur twice"},
          {5, 9, 5, 9, 2, 7, 2, 7, 8, 1, 8, 1}, 300);
    check({3, count, "the bytes of \"aaaa\": (a, a) occurs three times, overlapping"}, from_text("aaaa"), 256);
    check({4, count, "a single token: no pair"}, {42}, 256);
    Generator gen(26);
    const Ids alphabet = {97, 98, 99, 256, 257};
    for (int n = 5; n <= count; ++n) {
      Ids ids;
      const int length = 10 + 9 * n;
      for (int i = 0; i < length; ++i) ids.push_back(alphabet[std::size_t(gen.uniform() * alphabet.size())]);
      check({n, count, "random: " + std::to_string(length) + " ids from {97, 98, 99, 256, 257}, new_id 258"}, ids,
            258);
    }
  });
}
