// Exercise: multi-head self-attention, with its projections W_Q, W_K, W_V and W_O
// 练习：多头自注意力（含投影 W_Q、W_K、W_V 与 W_O）
//
// Task
//   x holds B sequences of T positions with C features each: x [B, T, C], row-major. The weights
//   are [C, C] matrices applied on the right, y = x W (y[t, o] = sum_c x[t, c] * W[c, o]; no
//   bias). With H heads of D = C / H features each:
//       Q = x W_q,  K = x W_k,  V = x W_v                           each [B, T, C]
//       head h uses the features h * D .. h * D + D - 1 of Q, K and V:
//           head_h = softmax(Q_h K_h^T / sqrt(D)) V_h               [B, T, D], softmax over keys
//       out = concat(head_0, ..., head_{H-1}) W_o                   [B, T, C]
//   (no mask: every position attends to every position of its own sequence.)
//   Return out [B, T, C]. (PyTorch: nn.MultiheadAttention, whose Linear layers store W^T.)
// 任务
//   x 是 B 个序列、每个 T 个位置、每个位置 C 个特征：x [B, T, C]，行优先。权重都是 [C, C]，
//   右乘：y = x W（无偏置）。H 个头，每个头 D = C / H 个特征：
//       Q = x W_q，K = x W_k，V = x W_v                             均为 [B, T, C]
//       第 h 个头使用 Q、K、V 的第 h * D .. h * D + D - 1 个特征：
//           head_h = softmax(Q_h K_h^T / sqrt(D)) V_h               [B, T, D]
//       out = concat(head_0, ..., head_{H-1}) W_o                   [B, T, C]
//   （无掩码。）返回 out [B, T, C]。
//
// Check / 检查:   make exercise NAME=multi_head_attention
//
// Stuck? / 卡住了？  make hint NAME=multi_head_attention   (again for the next hint: a nudge
//   first, nearly the answer last)
// Worked answer / 讲解:  tutorials/08_multi_head_attention.cpp; exercises split_merge_heads and
//   dot_product_attention are its parts
#include <vector>

namespace exercise {

// x [B, T, C], w_q, w_k, w_v, w_o [C, C] (y = x W), H heads of D = C / H  ->  out [B, T, C]
std::vector<float> multi_head_attention(const std::vector<float>& x, const std::vector<float>& w_q,
                                        const std::vector<float>& w_k,
                                        const std::vector<float>& w_v,
                                        const std::vector<float>& w_o, int B, int T, int C, int H) {
  std::vector<float> out(static_cast<std::size_t>(B) * T * C, 0.0f);
  // TODO: out = multi-head attention of x
  return out;
}

}  // namespace exercise
