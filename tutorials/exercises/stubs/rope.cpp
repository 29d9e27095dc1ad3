// Exercise: rotary position embedding (RoPE)
// 练习：旋转位置编码（RoPE）
//
// Task
//   Apply RoPE to x [rows, T, D] (row-major; x[(r * T + t) * D + j]): rows are independent (a
//   batch and its heads), t counts positions, and the token at t sits at position
//   position_offset + t (a KV cache passes the number of tokens it already holds). D is even.
//   For each pair of dims (2i, 2i + 1), read (x[2i], x[2i + 1]) as the complex number
//   x[2i] + i x[2i + 1] and multiply it by e^{i angle}, where
//       angle = position * theta_i,   theta_i = 10000^(-2i / D),   i = 0 .. D/2 - 1,
//   i.e. turn the pair by `angle` radians counter-clockwise. Return the turned array.
// 任务
//   对 x [rows, T, D]（按行优先存放，x[(r * T + t) * D + j]）做 RoPE：各行互不相关（批次与各个头），
//   t 是位置下标，第 t 个 token 的位置是 position_offset + t（KV cache 传入它已存的 token 数）。
//   D 为偶数。把每一对维度 (2i, 2i + 1) 看成复数 x[2i] + i x[2i + 1]，乘以 e^{i angle}，其中
//       angle = position * theta_i，theta_i = 10000^(-2i / D)，i = 0 .. D/2 - 1，
//   即把这一对逆时针旋转 angle 弧度。返回旋转后的数组。
//
// Check / 检查:   make exercise NAME=rope
//
// Stuck? / 卡住了？  make hint NAME=rope   (again for the next hint: a nudge first, nearly the
//   answer last)
// Worked answer / 讲解:  tutorials/21_rope.cpp, autograd::rotary_embedding
#include <vector>

namespace exercise {

// x [rows, T, D] -> out [rows, T, D]
std::vector<float> rope(const std::vector<float>& x, int rows, int T, int D, int position_offset) {
  std::vector<float> out(x.size(), 0.0f);
  // TODO: out[(r * T + t) * D + j] for every r, t and j
  return out;
}

}  // namespace exercise
