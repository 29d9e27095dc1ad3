// Exercise: the SwiGLU feed-forward of LLaMA
// 练习：LLaMA 的 SwiGLU 前馈层
//
// Task
//   x holds N tokens of D features, row-major: x[n, d] is x[n * D + d]. The three weight
//   matrices are stored as torch.nn.Linear stores them, [out_features, in_features]:
//       w1 [H, D] (the gate), w3 [H, D] (the up projection), w2 [D, H] (the down projection).
//   For every token n:
//       gate[n, h]  = sum_d x[n, d] * w1[h, d]          (x w1^T)
//       up[n, h]    = sum_d x[n, d] * w3[h, d]          (x w3^T)
//       hidden[n, h] = silu(gate[n, h]) * up[n, h],      silu(z) = z * sigmoid(z) = z / (1 + e^-z)
//       out[n, d]   = sum_h hidden[n, h] * w2[d, h]     (hidden w2^T)
//   i.e. out = w2(silu(w1 x) * w3 x), with no biases. out arrives sized [N, D], filled with 0.
// 任务
//   x 按行存放 N 个词元、每个 D 维：x[n, d] 是 x[n * D + d]。三个权重矩阵按 torch.nn.Linear
//   的方式存放，形状 [输出维, 输入维]：w1 [H, D]（门）、w3 [H, D]（上投影）、w2 [D, H]（下投影）。
//   按上面的公式计算 out = w2(silu(w1 x) * w3 x)，没有偏置。out 已按 [N, D] 分配并填 0。
//
// Check / 检查:   make exercise NAME=swiglu
//
// Stuck? / 卡住了？  make hint NAME=swiglu   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/22_rmsnorm_swiglu.cpp, nn::SwiGLU in nn/layers.cpp
#include <vector>

namespace exercise {

// x [N, D], w1 [H, D], w3 [H, D], w2 [D, H]  ->  out [N, D]
void swiglu(std::vector<float>& out, const std::vector<float>& x, const std::vector<float>& w1,
            const std::vector<float>& w3, const std::vector<float>& w2, int N, int D, int H) {
  // TODO: per token: gate and up [H], hidden = silu(gate) * up, then out = hidden w2^T
}

}  // namespace exercise
