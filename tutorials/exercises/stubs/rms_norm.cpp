// Exercise: RMS norm, forward and backward
// 练习：RMSNorm 的前向与反向
//
// Task
//   x holds N rows of C features, row-major: x[n, c] is x[n * C + c]. For every row n:
//       ms[n]      = (1/C) sum_c x[n, c]^2                  (the mean of the squares)
//       rstd[n]    = 1 / sqrt(ms[n] + eps)
//       norm[n, c] = x[n, c] * rstd[n]
//       out[n, c]  = norm[n, c] * weight[c]
//   This is RMSNorm (LLaMA, torch.nn.RMSNorm): there is no bias.
//   1. rms_norm_forward writes out [N, C], and rstd [N] (saved for the backward).
//   2. rms_norm_backward gets dout = dL/dout [N, C] and the forward's x, weight, rstd, and
//      writes dx = dL/dx [N, C] and dweight = dL/dweight [C].
//   The output vectors arrive sized and filled with zeros.
// 任务
//   x 按行存放 N 行、每行 C 个特征：x[n, c] 是 x[n * C + c]。对每一行 n 按上面的公式计算
//   平方的均值 ms、rstd = 1 / sqrt(ms + eps)、norm 和 out。这就是 RMSNorm（LLaMA、
//   torch.nn.RMSNorm）：没有偏置。
//   1. rms_norm_forward 写出 out [N, C]，以及反向传播要用的 rstd [N]。
//   2. rms_norm_backward 已知 dout = dL/dout [N, C] 和前向的 x、weight、rstd，
//      写出 dx [N, C] 和 dweight [C]。输出向量已按大小分配并填 0。
//
// Check / 检查:   make exercise NAME=rms_norm     (the forward is checked first / 先检查前向)
//
// Stuck? / 卡住了？  make hint NAME=rms_norm   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/22_rmsnorm_swiglu.cpp; autograd::rms_norm (autograd/ops_nn.cpp,
//   tensor/cpu/nn_kernels.cpp)
#include <vector>

namespace exercise {

// x [N, C], weight [C]  ->  out [N, C], rstd [N]
void rms_norm_forward(std::vector<float>& out, std::vector<float>& rstd,
                      const std::vector<float>& x, const std::vector<float>& weight, int N, int C,
                      float eps) {
  // TODO: per row: the mean of the squares, rstd; then out = x * rstd * weight
}

// dout [N, C], x [N, C], weight [C], rstd [N]  ->  dx [N, C], dweight [C]
void rms_norm_backward(std::vector<float>& dx, std::vector<float>& dweight,
                       const std::vector<float>& dout, const std::vector<float>& x,
                       const std::vector<float>& weight, const std::vector<float>& rstd, int N,
                       int C) {
  // TODO: forward was: out[n, c] = x[n, c] * rstd[n] * weight[c]
}

}  // namespace exercise
