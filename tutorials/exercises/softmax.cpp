// Exercise: softmax, numerically stable
// 练习：数值稳定的 softmax
//
// Task
//   x holds `rows` rows of `cols` scores, row-major: score c of row r is x[r * cols + c].
//   Return the softmax of every row, same layout:
//       out[r, c] = exp(x[r, c]) / sum_j exp(x[r, j])
//   Each row of the result is a probability distribution (entries >= 0, summing to 1).
//   Watch out: the checker feeds scores around +1000 and -1000 (in float exp(1000) is inf and
//   exp(-1000) is 0), and rows with -inf entries (masked positions: probability exactly 0).
// 任务
//   x 按行存放 rows 行、每行 cols 个分数：第 r 行第 c 个是 x[r * cols + c]。
//   按同样的布局返回每一行的 softmax：
//       out[r, c] = exp(x[r, c]) / sum_j exp(x[r, j])
//   结果的每一行都是概率分布（非负，和为 1）。注意：检查程序会输入 +1000 和 -1000 左右的分数
//   （float 中 exp(1000) 是 inf，exp(-1000) 是 0），以及含 -inf 的行（被屏蔽的位置，概率恰为 0）。
//
// Check / 检查:   make exercise NAME=softmax
//
// Hints / 提示
//   - softmax(x) = softmax(x - m) for any constant m. With m = the row max every exponent is <= 0
//     (no overflow) and the largest term is exp(0) = 1 (the sum is >= 1, never 0).
//     softmax 对每个元素减去同一个常数不变；减去行最大值后不会溢出，分母也不会为 0。
//   - Three passes over a row: the max; exp(x - max) and their sum; divide by the sum.
//   - Worked answer: tutorials/02_softmax.cpp. Reference solution: solutions/softmax.cpp.
#include <vector>

namespace exercise {

// x: [rows, cols]  ->  softmax of each row: [rows, cols]
std::vector<float> softmax(const std::vector<float>& x, int rows, int cols) {
  std::vector<float> out(static_cast<std::size_t>(rows) * cols, 0.0f);
  // TODO: for each row r: find its max, write exp(x - max) into out and sum them,
  //       then divide by the sum.
  return out;
}

}  // namespace exercise
