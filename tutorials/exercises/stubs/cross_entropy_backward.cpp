// Exercise: cross-entropy loss and its gradient with respect to the logits
// 练习：交叉熵损失及其对 logits 的梯度
//
// Task
//   A classifier produced logits [N, C] for N examples and C classes (row-major: logits[n, c] is
//   logits[n * C + c]); targets [N] holds each example's class, 0 <= targets[n] < C.
//       p[n, :] = softmax(logits[n, :])
//       loss    = (1/N) sum_n -log p[n, targets[n]]          (the mean over the batch)
//   Return loss, and write dlogits = d loss / d logits [N, C] (it arrives sized, filled with 0).
//   It must be right for any finite logits: the checker feeds some around +-200.
//   (PyTorch: F.cross_entropy(logits, targets), then loss.backward(); logits.grad is dlogits.)
// 任务
//   分类器为 N 个样本、C 个类别输出 logits [N, C]（行优先），targets [N] 是每个样本的类别。
//       p[n, :] = softmax(logits[n, :])
//       loss    = (1/N) sum_n -log p[n, targets[n]]          （对批取平均）
//   返回 loss，并写出 dlogits = d loss / d logits [N, C]（已分配并填 0）。
//   对任何有限的 logits 都必须正确：检查程序会输入 ±200 左右的值。
//
// Check / 检查:   make exercise NAME=cross_entropy_backward    (loss first, then dlogits)
//
// Stuck? / 卡住了？  make hint NAME=cross_entropy_backward   (again for the next hint: a nudge
//   first, nearly the answer last)
// Worked answer / 讲解:  tutorials/02_softmax.cpp (section 4), autograd::cross_entropy
#include <cstdint>
#include <vector>

namespace exercise {

// logits [N, C], targets [N]  ->  returns the mean loss; writes dlogits [N, C]
float cross_entropy_backward(std::vector<float>& dlogits, const std::vector<float>& logits,
                             const std::vector<std::int64_t>& targets, int N, int C) {
  float loss = 0.0f;
  // TODO: the loss, and dlogits
  return loss;
}

}  // namespace exercise
