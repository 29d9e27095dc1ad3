// Exercise: the backward of token and learned position embeddings
// 练习：词嵌入与可学习位置嵌入的反向传播
//
// Task
//   A Transformer's first layer looks up a row of the token table and a row of the position
//   table for every position of every sequence and adds them:
//       x[b, t, :] = tok_emb[ids[b, t], :] + pos_emb[t, :]
//   with ids [B, T] (0 <= ids < V), tok_emb [V, C], pos_emb [max_len, C], T <= max_len, x
//   [B, T, C], all row-major (x[b, t, c] is x[(b * T + t) * C + c]).
//   Given dx = dL/dx [B, T, C], write dtok = dL/dtok_emb [V, C] and dpos = dL/dpos_emb
//   [max_len, C]. They arrive sized and filled with zeros. Token ids repeat, within a sequence
//   and across the batch.
// 任务
//   Transformer 的第一层为每个序列的每个位置查出词表的一行和位置表的一行并相加：
//       x[b, t, :] = tok_emb[ids[b, t], :] + pos_emb[t, :]
//   其中 ids [B, T]、tok_emb [V, C]、pos_emb [max_len, C]、x [B, T, C]，均为行优先。
//   已知 dx = dL/dx [B, T, C]，写出 dtok [V, C] 和 dpos [max_len, C]（已分配并填 0）。
//   词的编号会重复出现（同一序列内和不同序列间）。
//
// Check / 检查:   make exercise NAME=embedding_backward    (dtok first, then dpos)
//
// Stuck? / 卡住了？  make hint NAME=embedding_backward   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/09_positional_encoding.cpp, tutorials/14_gpt_decoder.cpp
#include <cstdint>
#include <vector>

namespace exercise {

// dx [B, T, C], ids [B, T]  ->  dtok [V, C], dpos [max_len, C]
void embedding_backward(std::vector<float>& dtok, std::vector<float>& dpos,
                        const std::vector<float>& dx, const std::vector<std::int64_t>& ids, int B,
                        int T, int C, int V, int max_len) {
  // TODO: dtok and dpos
}

}  // namespace exercise
