// Exercise: the backward of softmax
// 练习：softmax 的反向传播
//
// Task
//   The forward computed out = softmax(x) row by row: x and out are [rows, cols], row-major.
//   Given out and dout = dL/dout (same shape), return dx = dL/dx [rows, cols].
//   Within a row the Jacobian is d out[j] / d x[i] = out[j] * (delta_ij - out[i]), so
//       dx[i] = sum_j dout[j] * out[j] * (delta_ij - out[i])
//   Simplify it: the result needs no [cols, cols] matrix, only one dot product per row.
// 任务
//   前向对每一行计算 out = softmax(x)：x 与 out 都是 [rows, cols]，按行优先存放。
//   已知 out 和 dout = dL/dout（形状相同），返回 dx = dL/dx [rows, cols]。
//   每一行内雅可比矩阵为 d out[j] / d x[i] = out[j] * (delta_ij - out[i])，因此
//       dx[i] = sum_j dout[j] * out[j] * (delta_ij - out[i])
//   请化简：不需要构造 [cols, cols] 的矩阵，每行只需一次点积。
//
// Check / 检查:   make exercise NAME=softmax_backward
//
// Hints / 提示
//   - Split the sum into the j = i term and the rest; a sum over the whole row appears.
//     把求和拆成 j = i 的一项与其余各项，会出现一个对整行的求和。
//   - The checker includes a nearly one-hot row: a saturated softmax, whose gradient nearly
//     vanishes.
//   - Worked answer: tutorials/02_softmax.cpp (section 3), tensor::softmax_backward in
//     tensor/ops.hpp. Reference solution: solutions/softmax_backward.cpp.
#include <vector>

namespace exercise {

// dout [rows, cols], out = softmax(x) [rows, cols]  ->  dx [rows, cols]
std::vector<float> softmax_backward(const std::vector<float>& dout, const std::vector<float>& out,
                                    int rows, int cols) {
  std::vector<float> dx(static_cast<std::size_t>(rows) * cols, 0.0f);
  // TODO: for each row: one dot product of dout and out, then dx = ...
  return dx;
}

}  // namespace exercise
