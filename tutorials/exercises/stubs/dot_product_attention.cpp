// Exercise: dot-product attention
// 练习：点积注意力
//
// Task
//   For each of B sequences, every query attends over every key (no scaling, no mask):
//       scores  = Q K^T          [Tq, Tk]   scores[i, j] = sum_d q[i, d] * k[j, d]
//       weights = softmax(scores) over the keys (each row sums to 1)
//       out     = weights V      [Tq, Dv]   out[i, e] = sum_j weights[i, j] * v[j, e]
//   Inputs are row-major: q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv]; e.g. q[b, i, d] is
//   q[(b * Tq + i) * D + d]. Return out [B, Tq, Dv].
// 任务
//   对 B 个序列中的每一个，每个查询（query）关注所有键（key），不缩放、不加掩码：
//       scores  = Q K^T          [Tq, Tk]
//       weights = 对每一行（在键的维度上）做 softmax，每行和为 1
//       out     = weights V      [Tq, Dv]
//   输入按行优先存放：q [B, Tq, D]、k [B, Tk, D]、v [B, Tk, Dv]，例如 q[b, i, d] 是
//   q[(b * Tq + i) * D + d]。返回 out [B, Tq, Dv]。
//
// Check / 检查:   make exercise NAME=dot_product_attention
//
// Stuck? / 卡住了？  make hint NAME=dot_product_attention   (again for the next hint: a nudge
// first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/03_dot_product_attention.cpp
#include <vector>

namespace exercise {

// q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv]  ->  out [B, Tq, Dv] = softmax(q k^T) v
std::vector<float> dot_product_attention(const std::vector<float>& q, const std::vector<float>& k,
                                         const std::vector<float>& v, int B, int Tq, int Tk, int D,
                                         int Dv) {
  std::vector<float> out(static_cast<std::size_t>(B) * Tq * Dv, 0.0f);
  // TODO: for each batch b and query i: the Tk scores, their softmax, the weighted sum of v's rows.
  return out;
}

}  // namespace exercise
