// Exercise: grouped-query attention's repeat_kv
// 练习：分组查询注意力（GQA）中的 repeat_kv
//
// Task
//   Grouped-query attention (GQA) keeps H query heads but only Hkv key/value heads (Hkv divides
//   H; groups = H / Hkv). Each group of `groups` consecutive query heads shares one key/value
//   head: query heads 0 .. groups - 1 use kv head 0, the next `groups` use kv head 1, and so on
//   (as LLaMA does). Before the usual per-head attention, the kv heads are repeated so that
//   there is one per query head:
//       repeat_kv: kv [B, Hkv, T, D]  ->  out [B, Hkv * groups, T, D]
//   Write repeat_kv so that head h of out is the kv head that query head h reads.
//   Everything is row-major: kv[b, g, t, d] is kv[((b * Hkv + g) * T + t) * D + d].
//   groups = 1 is standard multi-head attention (out = kv); Hkv = 1 is multi-query attention.
// 任务
//   分组查询注意力（GQA）保留 H 个查询头，但只有 Hkv 个键/值头（Hkv 整除 H，groups = H / Hkv）。
//   每 groups 个相邻的查询头共用一个键/值头：查询头 0 .. groups - 1 用第 0 个 kv 头，接下来的
//   groups 个用第 1 个，依此类推（与 LLaMA 相同）。在按头计算注意力之前，先把 kv 头重复，
//   使每个查询头都有一个对应的 kv 头：
//       repeat_kv: kv [B, Hkv, T, D]  ->  out [B, Hkv * groups, T, D]
//   写出 repeat_kv，使 out 的第 h 个头正是查询头 h 要读的 kv 头。全部按行优先存放。
//   groups = 1 即标准多头注意力（out = kv）；Hkv = 1 即多查询注意力（MQA）。
//
// Check / 检查:   make exercise NAME=repeat_kv
//
// Stuck? / 卡住了？  make hint NAME=repeat_kv   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorials/23_gqa_kv_cache.cpp, nn::repeat_kv in nn/attention.cpp
#include <vector>

namespace exercise {

// kv [B, Hkv, T, D]  ->  [B, Hkv * groups, T, D]
std::vector<float> repeat_kv(const std::vector<float>& kv, int B, int Hkv, int T, int D,
                             int groups) {
  std::vector<float> out(kv.size() * groups, 0.0f);
  // TODO: out[b, h, t, d] = kv[b, (the kv head of query head h), t, d]
  return out;
}

}  // namespace exercise
