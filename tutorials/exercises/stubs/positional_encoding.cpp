// Exercise: sinusoidal positional encoding
// 练习：正弦位置编码
//
// Task
//   Return the table PE [max_len, dim] of "Attention Is All You Need", row-major
//   (PE[pos, j] is table[pos * dim + j]). Features come in pairs (2i, 2i + 1) that share one
//   frequency w_i = 1 / 10000^(2i / dim):
//       PE[pos, 2i]     = sin(pos * w_i)
//       PE[pos, 2i + 1] = cos(pos * w_i)
//   When dim is odd the last feature, 2i = dim - 1, is a sin with no cos partner.
// 任务
//   返回 “Attention Is All You Need” 中的位置编码表 PE [max_len, dim]，按行优先存放
//   （PE[pos, j] 即 table[pos * dim + j]）。特征两两成对 (2i, 2i + 1)，共用频率
//   w_i = 1 / 10000^(2i / dim)：
//       PE[pos, 2i]     = sin(pos * w_i)
//       PE[pos, 2i + 1] = cos(pos * w_i)
//   dim 为奇数时，最后一个特征 2i = dim - 1 只有 sin。
//
// Check / 检查:   make exercise NAME=positional_encoding
//
// Stuck? / 卡住了？  make hint NAME=positional_encoding   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/09_positional_encoding.cpp
#include <vector>

namespace exercise {

// -> PE [max_len, dim]
std::vector<float> positional_encoding(int max_len, int dim) {
  std::vector<float> table(static_cast<std::size_t>(max_len) * dim, 0.0f);
  // TODO: table[pos * dim + j] = PE[pos, j]
  return table;
}

}  // namespace exercise
