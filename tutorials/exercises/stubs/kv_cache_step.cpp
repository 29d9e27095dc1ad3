// Exercise: one decoding step with a KV cache
// 练习：使用 KV 缓存的一步解码
//
// Task
//   A decoder generates one token at a time. Instead of recomputing the keys and values of the
//   whole prefix at every step, it keeps them in a cache: k_cache and v_cache [H, max_len, D]
//   (H heads, row-major: k_cache[h, t, d] is k_cache[(h * max_len + t) * D + d]) hold the keys
//   and values of positions 0 .. length - 1; the slots from length on are unused.
//   One step gets the new token's query, key and value, q, k, v [H, D], and:
//     1. stores k and v at position `length` of each head's cache, and adds 1 to length;
//     2. returns out [H, D]: for each head h, the new token's attention over every position
//        now in the cache, itself included,
//            out[h] = softmax_t(q[h] . k_cache[h, t] / sqrt(D)) v_cache[h, t],  t < length
//   The result equals causal self-attention over the whole sequence, one row at a time.
// 任务
//   解码器一次生成一个词。为了不在每一步重新计算整个前缀的键和值，把它们存在缓存中：
//   k_cache、v_cache [H, max_len, D]（H 个头，行优先）保存位置 0 .. length - 1 的键和值，
//   从 length 开始的位置未使用。一步解码得到新词的 q、k、v [H, D]，并且：
//     1. 把 k、v 存到每个头缓存的第 length 个位置，length 加 1；
//     2. 返回 out [H, D]：每个头上新词对缓存中所有位置（包括它自己）的注意力。
//   结果等于对整个序列做因果自注意力的一行。
//
// Check / 检查:   make exercise NAME=kv_cache_step
//
// Stuck? / 卡住了？  make hint NAME=kv_cache_step   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/14_gpt_decoder.cpp (its KV cache), nn/transformer.hpp
#include <vector>

namespace exercise {

// k_cache, v_cache [H, max_len, D] with `length` positions filled; q, k, v [H, D] of the new
// token  ->  out [H, D]; k, v stored at position length, length + 1
std::vector<float> kv_cache_step(std::vector<float>& k_cache, std::vector<float>& v_cache,
                                 int& length, const std::vector<float>& q,
                                 const std::vector<float>& k, const std::vector<float>& v, int H,
                                 int max_len, int D) {
  std::vector<float> out(static_cast<std::size_t>(H) * D, 0.0f);
  // TODO: update the caches and length, then out
  return out;
}

}  // namespace exercise
