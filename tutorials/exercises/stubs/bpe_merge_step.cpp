// Exercise: one step of BPE training
// 练习：BPE 训练的一步
//
// Task
//   ids holds a text as token ids (bytes are 0..255, earlier merges made larger ids). Do one
//   training step of byte-pair encoding, with the rules of llm/bpe.hpp:
//   1. count every pair of adjacent tokens (ids[i], ids[i + 1]);
//   2. choose the pair that occurs most often; when several occur equally often, choose the one
//      with the smallest left id, and among those the smallest right id;
//   3. write into `merged` the sequence with that pair replaced by new_id, scanning from left to
//      right (a token that became part of a new_id is not used again).
//   Set left and right to the chosen pair. When ids has fewer than two tokens there is no pair:
//   set left = right = -1 and merged = ids. merged arrives empty.
// 任务
//   ids 是一段文本的 token id（字节为 0..255，之前的合并产生更大的 id）。按 llm/bpe.hpp 的规则做
//   一步字节对编码（BPE）训练：
//   1. 统计每一对相邻 token (ids[i], ids[i + 1]) 出现的次数；
//   2. 选出现次数最多的那一对；若有多对次数相同，选左 id 最小的，再比右 id；
//   3. 在 merged 中写出把这一对替换成 new_id 之后的序列，从左到右扫描（已经并入 new_id 的 token
//      不再使用）。
//   把选中的一对写入 left 和 right。若 ids 少于两个 token，则没有可合并的对：left = right = -1，
//   merged = ids。merged 传入时为空。
//
// Check / 检查:   make exercise NAME=bpe_merge_step
//
// Stuck? / 卡住了？  make hint NAME=bpe_merge_step   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/26_bpe.cpp, llm/bpe.cpp (BPETokenizer::train)
#include <cstdint>
#include <vector>

namespace exercise {

void bpe_merge_step(std::vector<std::int64_t>& merged, std::int64_t& left, std::int64_t& right,
                    const std::vector<std::int64_t>& ids, std::int64_t new_id) {
  // TODO: count the pairs, choose one, replace it
  left = right = -1;
}

}  // namespace exercise
