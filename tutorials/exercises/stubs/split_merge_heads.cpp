// Exercise: multi-head attention's split and merge of heads
// 练习：多头注意力的拆分与合并
//
// Task
//   Multi-head attention cuts the E = H * D features of every position into H heads of D
//   features each: head h owns the contiguous features h * D .. h * D + D - 1. Each head then
//   attends on its own, so the heads become a batch-like axis in front of time:
//       split_heads: x [B, T, H * D]  ->  [B, H, T, D]   out[b, h, t, d] = x[b, t, h * D + d]
//       merge_heads: x [B, H, T, D]   ->  [B, T, H * D]  (the inverse: concatenates the heads)
//   Everything is row-major; e.g. x[b, t, e] of split_heads's input is x[(b * T + t) * H * D + e].
//   (In PyTorch: x.view(B, T, H, D).transpose(1, 2) and its inverse.)
// 任务
//   多头注意力把每个位置的 E = H * D 个特征分成 H 个头，每个头 D 个特征：第 h 个头拥有连续的特征
//   h * D .. h * D + D - 1。每个头独立计算注意力，因此头这一维要移到时间维之前：
//       split_heads: x [B, T, H * D]  ->  [B, H, T, D]   out[b, h, t, d] = x[b, t, h * D + d]
//       merge_heads: x [B, H, T, D]   ->  [B, T, H * D]  （逆操作：把各个头拼接回去）
//   全部按行优先存放。（PyTorch 中即 x.view(B, T, H, D).transpose(1, 2) 及其逆。）
//
// Check / 检查:   make exercise NAME=split_merge_heads
//
// Stuck? / 卡住了？  make hint NAME=split_merge_heads   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/08_multi_head_attention.cpp
#include <vector>

namespace exercise {

// x [B, T, H * D]  ->  [B, H, T, D]
std::vector<float> split_heads(const std::vector<float>& x, int B, int T, int H, int D) {
  std::vector<float> out(x.size(), 0.0f);
  // TODO: out[((b * H + h) * T + t) * D + d] = x[b, t, h * D + d]
  return out;
}

// x [B, H, T, D]  ->  [B, T, H * D]
std::vector<float> merge_heads(const std::vector<float>& x, int B, int T, int H, int D) {
  std::vector<float> out(x.size(), 0.0f);
  // TODO: the inverse of split_heads
  return out;
}

}  // namespace exercise
