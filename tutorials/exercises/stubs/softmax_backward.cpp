// Exercise: the backward of softmax
// 练习：softmax 的反向传播
//
// Task
//   The forward computed out = softmax(x) row by row: x and out are [rows, cols], row-major.
//   Given out and dout = dL/dout (same shape), return dx = dL/dx [rows, cols].
//   Within a row the Jacobian is d out[j] / d x[i] = out[j] * (delta_ij - out[i]), so
//       dx[i] = sum_j dout[j] * out[j] * (delta_ij - out[i])
//   Compute it without building the [cols, cols] Jacobian: O(cols) work per row.
// 任务
//   前向对每一行计算 out = softmax(x)：x 与 out 都是 [rows, cols]，按行优先存放。
//   已知 out 和 dout = dL/dout（形状相同），返回 dx = dL/dx [rows, cols]。
//   每一行内雅可比矩阵为 d out[j] / d x[i] = out[j] * (delta_ij - out[i])，因此
//       dx[i] = sum_j dout[j] * out[j] * (delta_ij - out[i])
//   请不要构造 [cols, cols] 的雅可比矩阵：每行 O(cols) 的计算量。
//
// Check / 检查:   make exercise NAME=softmax_backward
//
// Stuck? / 卡住了？  make hint NAME=softmax_backward   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/02_softmax.cpp (section 3)
#include <vector>

namespace exercise {

// dout [rows, cols], out = softmax(x) [rows, cols]  ->  dx [rows, cols]
std::vector<float> softmax_backward(const std::vector<float>& dout, const std::vector<float>& out,
                                    int rows, int cols) {
  std::vector<float> dx(static_cast<std::size_t>(rows) * cols, 0.0f);
  // TODO: dx for every row, from dout and out
  return dx;
}

}  // namespace exercise
