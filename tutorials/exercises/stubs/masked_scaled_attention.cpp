// Exercise: scaled dot-product attention with a mask
// 练习：带掩码的缩放点积注意力
//
// Task
//   For each of B sequences:
//       scores  = Q K^T / sqrt(D)                    [Tq, Tk]
//       weights = softmax of each row of scores over the keys that are not blocked: where
//                 mask[b, i, j] is true key j is blocked for query i and gets weight 0
//       out     = weights V                          [Tq, Dv]
//   A query whose keys are ALL blocked gets weights 0 and out 0 (not nan): this library's
//   convention (nn/attention.hpp; PyTorch would give nan).
//   Row-major inputs: q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv], mask [B, Tq, Tk] with true =
//   blocked (PyTorch's bool convention), e.g. mask[b, i, j] is mask[(b * Tq + i) * Tk + j].
//   Return out [B, Tq, Dv].
// 任务
//   对 B 个序列中的每一个：
//       scores  = Q K^T / sqrt(D)                    [Tq, Tk]
//       weights = 对每一行在未被屏蔽的键上做 softmax：mask[b, i, j] 为 true 表示查询 i
//                 不能看键 j，其权重为 0
//       out     = weights V                          [Tq, Dv]
//   若某个查询的所有键都被屏蔽，它的权重全为 0、输出为 0（不是 nan），这是本库的约定
//   （见 nn/attention.hpp；PyTorch 会得到 nan）。
//   输入按行优先存放：q [B, Tq, D]、k [B, Tk, D]、v [B, Tk, Dv]、mask [B, Tq, Tk]，
//   true 表示屏蔽（与 PyTorch 的布尔掩码相同）。返回 out [B, Tq, Dv]。
//
// Check / 检查:   make exercise NAME=masked_scaled_attention
//
// Stuck? / 卡住了？  make hint NAME=masked_scaled_attention   (again for the next hint: a nudge
// first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/04_scaled_attention.cpp, tutorials/06_attention_masks.cpp
#include <vector>

namespace exercise {

// q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv], mask [B, Tq, Tk] (true = blocked)
//   ->  out [B, Tq, Dv] = softmax(q k^T / sqrt(D) over the allowed keys) v
std::vector<float> masked_scaled_attention(const std::vector<float>& q, const std::vector<float>& k,
                                           const std::vector<float>& v,
                                           const std::vector<bool>& mask, int B, int Tq, int Tk,
                                           int D, int Dv) {
  std::vector<float> out(static_cast<std::size_t>(B) * Tq * Dv, 0.0f);
  // TODO: out[b, i, :] for each batch b and query i
  return out;
}

}  // namespace exercise
