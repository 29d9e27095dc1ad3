// Exercise: top-p (nucleus) filtering of a next-token distribution
// 练习：top-p（核采样）截断下一个词的概率分布
//
// Task
//   probs holds `rows` probability distributions over V tokens, row-major: the probability of
//   token v in row r is probs[r * V + v] (each row sums to 1). For every row, keep the nucleus:
//   the smallest set of the most likely tokens whose probabilities add up to at least p;
//   every other token gets probability 0, and the kept ones are rescaled so that the row sums
//   to 1 again. The result is the distribution that top-p sampling draws the next token from.
//   When two tokens are equally likely, the one with the smaller index counts as more likely.
//   0 < p <= 1; p = 1 keeps every token.
// 任务
//   probs 按行存放 rows 个长度为 V 的概率分布：第 r 行词 v 的概率是 probs[r * V + v]（每行和为 1）。
//   对每一行保留"核"：概率最大的若干个词组成的最小集合，使它们的概率之和至少为 p；其余词的概率
//   置 0，保留的词重新缩放使该行之和重新为 1。结果就是 top-p 采样抽取下一个词时所用的分布。
//   两个词概率相等时，下标较小的算作概率更大。0 < p <= 1；p = 1 时保留所有词。
//
// Check / 检查:   make exercise NAME=top_p
//
// Stuck? / 卡住了？  make hint NAME=top_p   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/25_sampling.cpp, nn::sampling_distribution in nn/sampling.cpp
#include <vector>

namespace exercise {

// probs [rows, V] (each row a distribution), p in (0, 1]  ->  the nucleus distribution [rows, V]
std::vector<float> top_p(const std::vector<float>& probs, int rows, int V, float p) {
  std::vector<float> out(static_cast<std::size_t>(rows) * V, 0.0f);
  // TODO: out[r, :] = row r of probs restricted to its nucleus of probability p, renormalised
  return out;
}

}  // namespace exercise
