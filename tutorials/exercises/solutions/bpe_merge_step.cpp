// Reference solution of tutorials/exercises/stubs/bpe_merge_step.cpp (the task is stated there).
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace exercise {

void bpe_merge_step(std::vector<std::int64_t>& merged, std::int64_t& left, std::int64_t& right,
                    const std::vector<std::int64_t>& ids, std::int64_t new_id) {
  left = right = -1;
  if (ids.size() < 2) {
    merged = ids;
    return;
  }
  // 1. Every adjacent pair, overlapping ones too: "aaa" holds (a, a) twice. A std::map keeps the
  //    pairs sorted, smallest (left, right) first.
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> counts;
  for (std::size_t i = 0; i + 1 < ids.size(); ++i) ++counts[{ids[i], ids[i + 1]}];
  // 2. The highest count; going through the pairs in sorted order and replacing only on a
  //    strictly higher count keeps the smallest pair among equals.
  std::int64_t best = 0;
  for (const auto& [pair, count] : counts)
    if (count > best) {
      best = count;
      left = pair.first;
      right = pair.second;
    }
  // 3. Left to right: after a match both tokens are used up, so jump past them. "aaa" becomes
  //    [new_id, a], not [new_id, new_id].
  for (std::size_t i = 0; i < ids.size();) {
    if (i + 1 < ids.size() && ids[i] == left && ids[i + 1] == right) {
      merged.push_back(new_id);
      i += 2;
    } else {
      merged.push_back(ids[i]);
      i += 1;
    }
  }
}

}  // namespace exercise
