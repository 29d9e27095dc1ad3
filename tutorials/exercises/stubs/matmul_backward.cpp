// Exercise: the backward of matmul
// 练习：矩阵乘法的反向传播
//
// Task
//   The forward computed out = a b with a [M, K], b [K, N], out [M, N] (row-major):
//       out[i, j] = sum_k a[i, k] * b[k, j]
//   Given dout = dL/dout [M, N], write da = dL/da [M, K] and db = dL/db [K, N].
//   da and db arrive sized and filled with zeros.
// 任务
//   前向计算 out = a b，其中 a [M, K]、b [K, N]、out [M, N]（行优先）：
//       out[i, j] = sum_k a[i, k] * b[k, j]
//   已知 dout = dL/dout [M, N]，写出 da = dL/da [M, K] 和 db = dL/db [K, N]。
//   da 和 db 已按大小分配并填 0。
//
// Check / 检查:   make exercise NAME=matmul_backward
//
// Stuck? / 卡住了？  make hint NAME=matmul_backward   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  the backward of matmul in autograd/ops_linalg.cpp
#include <vector>

namespace exercise {

// dout [M, N], a [M, K], b [K, N]  ->  da [M, K], db [K, N]   (forward: out = a b)
void matmul_backward(std::vector<float>& da, std::vector<float>& db, const std::vector<float>& dout,
                     const std::vector<float>& a, const std::vector<float>& b, int M, int K,
                     int N) {
  // TODO: da (the shape of a) and db (the shape of b), as loops
}

}  // namespace exercise
