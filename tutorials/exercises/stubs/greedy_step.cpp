// Exercise: one step of greedy decoding
// 练习：贪心解码的一步
//
// Task
//   A decoder has read B token sequences of length T (tokens [B, T], row-major; each starts
//   with BOS) and produced logits [B, T, V]: logits[b, t, :] scores every vocabulary token as
//   the one that follows tokens[b, 0..t]. One step of greedy decoding appends, to every
//   sequence b, its next token:
//     - next = the argmax over v of logits[b, T - 1, v] (the last position: it has read the
//       whole prefix); on a tie, the smallest v;
//     - if finished[b] (the sequence already produced eos), next = eos instead: a finished
//       sequence is padded with eos;
//     - finished[b] becomes true once next == eos.
//   Return the tokens [B, T + 1] (each row with its next token appended) and update finished.
//   (nn::greedy_decode runs this step in a loop until every sequence is finished.)
// 任务
//   解码器读入了 B 个长度为 T 的序列（tokens [B, T]，行优先，每个以 BOS 开头），输出 logits
//   [B, T, V]：logits[b, t, :] 给词表中每个词打分，表示它接在 tokens[b, 0..t] 之后的可能性。
//   贪心解码的一步为每个序列 b 追加下一个词：
//     - next = logits[b, T - 1, v] 在 v 上的 argmax（最后一个位置读过整个前缀）；并列取最小的 v；
//     - 若 finished[b]（该序列已生成 eos），则 next = eos：已结束的序列用 eos 填充；
//     - 当 next == eos 时 finished[b] 变为 true。
//   返回 tokens [B, T + 1]（每行追加了下一个词），并更新 finished。
//
// Check / 检查:   make exercise NAME=greedy_step
//
// Stuck? / 卡住了？  make hint NAME=greedy_step   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/12_train_transformer.cpp, nn::greedy_decode in
// nn/transformer.cpp
#include <cstdint>
#include <vector>

namespace exercise {

// tokens [B, T], logits [B, T, V], finished [B] (updated)  ->  tokens [B, T + 1]
std::vector<std::int64_t> greedy_step(const std::vector<std::int64_t>& tokens,
                                      const std::vector<float>& logits, std::vector<bool>& finished,
                                      int B, int T, int V, std::int64_t eos) {
  std::vector<std::int64_t> next_tokens(static_cast<std::size_t>(B) * (T + 1), 0);
  // TODO: copy each row of tokens, append its next token, update finished
  return next_tokens;
}

}  // namespace exercise
