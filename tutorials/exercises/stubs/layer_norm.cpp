// Exercise: layer norm, forward and backward
// 练习：层归一化的前向与反向
//
// Task
//   x holds N rows of C features, row-major: x[n, c] is x[n * C + c]. For every row n:
//       mean[n]   = (1/C) sum_c x[n, c]
//       var[n]    = (1/C) sum_c (x[n, c] - mean[n])^2        (biased: divide by C, not C - 1)
//       rstd[n]   = 1 / sqrt(var[n] + eps)
//       norm[n, c] = (x[n, c] - mean[n]) * rstd[n]
//       out[n, c] = norm[n, c] * weight[c] + bias[c]
//   1. layer_norm_forward writes out [N, C], and mean [N] and rstd [N] (saved for the backward).
//   2. layer_norm_backward gets dout = dL/dout [N, C] and the forward's x, weight, mean, rstd,
//      and writes dx = dL/dx [N, C], dweight = dL/dweight [C], dbias = dL/dbias [C].
//   The output vectors arrive sized and filled with zeros.
// 任务
//   x 按行存放 N 行、每行 C 个特征：x[n, c] 是 x[n * C + c]。对每一行 n 按上面的公式计算
//   mean、var（有偏：除以 C 而不是 C - 1）、rstd = 1 / sqrt(var + eps)、norm 和 out。
//   1. layer_norm_forward 写出 out [N, C]，以及反向传播要用的 mean [N] 和 rstd [N]。
//   2. layer_norm_backward 已知 dout = dL/dout [N, C] 和前向的 x、weight、mean、rstd，
//      写出 dx [N, C]、dweight [C]、dbias [C]。输出向量已按大小分配并填 0。
//
// Check / 检查:   make exercise NAME=layer_norm     (the forward is checked first / 先检查前向)
//
// Stuck? / 卡住了？  make hint NAME=layer_norm   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/10_encoder_layer.cpp
#include <vector>

namespace exercise {

// x [N, C], weight [C], bias [C]  ->  out [N, C], mean [N], rstd [N]
void layer_norm_forward(std::vector<float>& out, std::vector<float>& mean, std::vector<float>& rstd,
                        const std::vector<float>& x, const std::vector<float>& weight,
                        const std::vector<float>& bias, int N, int C, float eps) {
  // TODO: per row: mean, variance, rstd; then out = (x - mean) * rstd * weight + bias
}

// dout [N, C], x [N, C], weight [C], mean [N], rstd [N]  ->  dx [N, C], dweight [C], dbias [C]
void layer_norm_backward(std::vector<float>& dx, std::vector<float>& dweight,
                         std::vector<float>& dbias, const std::vector<float>& dout,
                         const std::vector<float>& x, const std::vector<float>& weight,
                         const std::vector<float>& mean, const std::vector<float>& rstd, int N,
                         int C) {
  // TODO: forward was: out[n, c] = (x[n, c] - mean[n]) * rstd[n] * weight[c] + bias[c]
}

}  // namespace exercise
