// Exercise: softmax, numerically stable
// 练习：数值稳定的 softmax
//
// Task
//   x holds `rows` rows of `cols` scores, row-major: score c of row r is x[r * cols + c].
//   Return the softmax of every row, same layout:
//       out[r, c] = exp(x[r, c]) / sum_j exp(x[r, j])
//   Each row of the result is a probability distribution (entries >= 0, summing to 1).
//   It must be right for any scores: the checker feeds small ones, ones around +1000 and -1000,
//   and rows with -inf entries (masked positions: probability exactly 0).
// 任务
//   x 按行存放 rows 行、每行 cols 个分数：第 r 行第 c 个是 x[r * cols + c]。
//   按同样的布局返回每一行的 softmax：
//       out[r, c] = exp(x[r, c]) / sum_j exp(x[r, j])
//   结果的每一行都是概率分布（非负，和为 1）。对任何分数都必须正确：检查程序会输入较小的分数、
//   +1000 和 -1000 左右的分数，以及含 -inf 的行（被屏蔽的位置，概率恰为 0）。
//
// Check / 检查:   make exercise NAME=softmax
//
// Stuck? / 卡住了？  make hint NAME=softmax   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/02_softmax.cpp
#include <vector>

namespace exercise {

// x: [rows, cols]  ->  softmax of each row: [rows, cols]
std::vector<float> softmax(const std::vector<float>& x, int rows, int cols) {
  std::vector<float> out(static_cast<std::size_t>(rows) * cols, 0.0f);
  // TODO: out[r, c] = softmax of row r, for every row r
  return out;
}

}  // namespace exercise
