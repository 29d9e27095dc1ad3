// Exercise: a LoRA layer's forward, and merging its update into the weight
// 练习：LoRA 层的前向计算，以及把更新合并进权重
//
// Task
//   A Linear layer with frozen weight W [out, in] and bias b [out] is fine-tuned with LoRA:
//   two small trained matrices A [r, in] and B [out, r] and a number alpha. All row-major.
//   1. lora_forward: for x [N, in], write y [N, out], the layer's output with the adapter:
//      the frozen layer's x W^T + b plus the low-rank update x A^T B^T, sized as LoRA sizes it
//      (Hu et al., 2021; as PEFT and llm/lora.hpp do).
//   2. lora_merge: write merged [out, in], the single weight W' of a plain Linear that gives the
//      same outputs as step 1 (so that inference costs no more than the base model).
//   y and merged arrive sized and filled with zeros.
// 任务
//   一个 Linear 层的权重 W [out, in] 和偏置 b [out] 被冻结，用 LoRA 微调：两个训练得到的小矩阵
//   A [r, in]、B [out, r]，以及一个数 alpha。全部按行优先存放。
//   1. lora_forward：对输入 x [N, in]，写出带适配器的输出 y [N, out]：冻结层的 x W^T + b，
//      加上低秩更新 x A^T B^T，并按 LoRA 的规定缩放（Hu 等，2021；与 PEFT 和 llm/lora.hpp 一致）。
//   2. lora_merge：写出 merged [out, in]，即一个普通 Linear 的权重 W'，使它的输出与第 1 步相同
//      （这样推理的开销与基础模型一样）。
//   y 和 merged 已按大小分配并填 0。
//
// Check / 检查:   make exercise NAME=lora_forward
//
// Stuck? / 卡住了？  make hint NAME=lora_forward   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/27_lora.cpp, llm/lora.cpp (LoRAAdapter::delta and merge)
#include <vector>

namespace exercise {

// x [N, in], W [out, in], b [out], A [r, in], B [out, r]  ->  y [N, out]
void lora_forward(std::vector<float>& y, const std::vector<float>& x, const std::vector<float>& W,
                  const std::vector<float>& b, const std::vector<float>& A,
                  const std::vector<float>& B, float alpha, int N, int in, int out, int r) {
  // TODO: y = the frozen layer's output plus the adapter's update
}

// W [out, in], A [r, in], B [out, r]  ->  merged [out, in]
void lora_merge(std::vector<float>& merged, const std::vector<float>& W, const std::vector<float>& A,
                const std::vector<float>& B, float alpha, int in, int out, int r) {
  // TODO: merged = W with the adapter's update folded in
}

}  // namespace exercise
