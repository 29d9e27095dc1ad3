// Exercise: causal self-attention, as in a GPT decoder
// 练习：因果自注意力（GPT 解码器中的掩码注意力）
//
// Task
//   For each of B sequences of T positions, position i may attend only to the positions j <= i
//   (itself and the past, never the future):
//       scores  = Q K^T / sqrt(D)                      [T, T]
//       weights = softmax of row i over the keys j <= i: a key j > i gets weight 0, and the
//                 weights of row i sum to 1
//       out     = weights V                            [T, D]
//   Row-major: q, k, v [B, T, D]; q[b, t, d] is q[(b * T + t) * D + d]. Return out [B, T, D].
// 任务
//   对 B 个长度为 T 的序列中的每一个，位置 i 只能关注 j <= i 的位置（自己和过去，不能看未来）：
//       scores  = Q K^T / sqrt(D)                      [T, T]
//       weights = 第 i 行只在 j <= i 的键上做 softmax：j > i 的键权重为 0，第 i 行的权重和为 1
//       out     = weights V                            [T, D]
//   按行优先存放：q、k、v [B, T, D]。返回 out [B, T, D]。
//
// Check / 检查:   make exercise NAME=causal_attention
//
// Stuck? / 卡住了？  make hint NAME=causal_attention   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/06_attention_masks.cpp, tutorials/14_gpt_decoder.cpp
#include <vector>

namespace exercise {

// q, k, v [B, T, D]  ->  out [B, T, D], position i attending to positions j <= i
std::vector<float> causal_attention(const std::vector<float>& q, const std::vector<float>& k,
                                    const std::vector<float>& v, int B, int T, int D) {
  std::vector<float> out(static_cast<std::size_t>(B) * T * D, 0.0f);
  // TODO: out[b, i, :] for each sequence b and position i
  return out;
}

}  // namespace exercise
