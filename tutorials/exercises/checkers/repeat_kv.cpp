// Checker of tutorials/exercises/stubs/repeat_kv.cpp: exercise::repeat_kv against a plain-loop
// copy in which output head h reads kv head h / groups (as nn::repeat_kv and LLaMA's repeat_kv),
// on inputs whose values are their own flat indices, then on random values.
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::vector<float> repeat_kv(const std::vector<float>& kv, int B, int Hkv, int T, int D,
                             int groups);
}  // namespace exercise

using namespace exercise_check;

namespace {

// 0, 1, 2, ...: every value names the flat index it came from.
std::vector<float> flat_indices(int count) {
  std::vector<float> x(count);
  for (int n = 0; n < count; ++n) x[n] = static_cast<float>(n);
  return x;
}

// kv [B, Hkv, T, D] -> [B, Hkv * groups, T, D], output head h copying kv head kv_head(h).
template <typename KvHead>
std::vector<double> repeated(const std::vector<float>& kv, int B, int Hkv, int T, int D,
                             int groups, KvHead kv_head) {
  const int H = Hkv * groups;
  std::vector<double> out;
  out.reserve(kv.size() * groups);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int t = 0; t < T; ++t)
        for (int d = 0; d < D; ++d) out.push_back(kv[((b * Hkv + kv_head(h)) * T + t) * D + d]);
  return out;
}

// The right answer: consecutive query heads share a kv head.
std::vector<double> expected(const std::vector<float>& kv, int B, int Hkv, int T, int D,
                             int groups) {
  return repeated(kv, B, Hkv, T, D, groups, [&](int h) { return h / groups; });
}

// The usual wrong answers, worked out on the same input.
std::vector<Mistake> mistakes(const std::vector<float>& kv, int B, int Hkv, int T, int D,
                              int groups) {
  // Each row kv[b, g, t, :] written `groups` times in a row, then read as [B, H, T, D].
  std::vector<double> along_time;
  for (int b = 0; b < B; ++b)
    for (int g = 0; g < Hkv; ++g)
      for (int t = 0; t < T; ++t)
        for (int r = 0; r < groups; ++r)
          for (int d = 0; d < D; ++d) along_time.push_back(kv[((b * Hkv + g) * T + t) * D + d]);
  return {
      {"kv heads tiled (head h reads kv head h % Hkv), not repeated in groups (h / groups)",
       "query heads 0 .. groups - 1 all read kv head 0, the next groups read kv head 1: each kv\n"
       "head is repeated in place (0, 0, 1, 1), not the whole block of kv heads (0, 1, 0, 1).\n"
       "A model trained one way and run the other pairs every query head with the wrong keys.",
       repeated(kv, B, Hkv, T, D, groups, [&](int h) { return h % Hkv; })},
      {"repeated along time (each position `groups` times), not along the heads",
       "the copies must be whole heads [T, D] placed next to each other on the head axis;\n"
       "you repeated every position's row instead (an expand on the wrong axis).",
       along_time},
  };
}

const char* kIndexHint =
    "kv[n] = n here, so the expected value is the flat index in kv that belongs at this place.\n";

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "repeat_kv", [] {
    // 1. Two kv heads, three query heads each: kv[n] = n shows which element went where.
    {
      const int B = 2, Hkv = 2, T = 3, D = 2, groups = 3;
      std::vector<float> kv = flat_indices(B * Hkv * T * D);
      Output out{.name = "out",
                 .shape = {B, Hkv * groups, T, D},
                 .expected = expected(kv, B, Hkv, T, D, groups),
                 .hint = std::string(kIndexHint) +
                         "out[b, h, t, d] = kv[b, g, t, d] where g is the kv head that query head\n"
                         "h shares with its group; b, t and d do not change.",
                 .mistakes = mistakes(kv, B, Hkv, T, D, groups),
                 .rtol = 0,
                 .atol = 0};
      expect_close({1, 3, "GQA: kv [2, 2, 3, 2] (B 2, Hkv 2, T 3, D 2), groups 3, kv[n] = n"}, out,
                   exercise::repeat_kv(kv, B, Hkv, T, D, groups));
    }
    // 2. groups = 1 is standard multi-head attention: nothing to repeat.
    {
      const int B = 1, Hkv = 3, T = 2, D = 3, groups = 1;
      std::vector<float> kv = flat_indices(B * Hkv * T * D);
      Output out{.name = "out",
                 .shape = {B, Hkv, T, D},
                 .expected = expected(kv, B, Hkv, T, D, groups),
                 .hint = std::string(kIndexHint) +
                         "with groups = 1 every query head has its own kv head: out = kv.",
                 .rtol = 0,
                 .atol = 0};
      expect_close({2, 3, "MHA: kv [1, 3, 2, 3], groups 1 (out must equal kv)"}, out,
                   exercise::repeat_kv(kv, B, Hkv, T, D, groups));
    }
    // 3. One kv head (multi-query attention), random values.
    {
      const int B = 2, Hkv = 1, T = 4, D = 3, groups = 4;
      Generator gen(23);
      std::vector<float> kv = normal_values({B, Hkv, T, D}, 0.0, 1.0, gen);
      Output out{.name = "out",
                 .shape = {B, Hkv * groups, T, D},
                 .expected = expected(kv, B, Hkv, T, D, groups),
                 .hint = "with one kv head every query head reads it: each of the 4 output heads of\n"
                         "a batch entry is a copy of that entry's kv head.",
                 .mistakes = mistakes(kv, B, Hkv, T, D, groups),
                 .rtol = 0,
                 .atol = 0};
      expect_close({3, 3, "MQA: kv [2, 1, 4, 3] normal, groups 4"}, out,
                   exercise::repeat_kv(kv, B, Hkv, T, D, groups));
    }
  });
}
