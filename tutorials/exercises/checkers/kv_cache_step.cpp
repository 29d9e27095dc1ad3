// Checker of tutorials/exercises/stubs/kv_cache_step.cpp: exercise::kv_cache_step against plain
// loops in float64: one step on a half-full cache, a whole sequence decoded step by step from an
// empty cache (compared with causal attention over that sequence, computed all at once), and a
// step that fills the cache's last slot.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::vector<float> kv_cache_step(std::vector<float>& k_cache, std::vector<float>& v_cache,
                                 int& length, const std::vector<float>& q,
                                 const std::vector<float>& k, const std::vector<float>& v, int H,
                                 int max_len, int D);  // the learner's
}

using namespace exercise_check;

namespace {

struct Cache {
  std::vector<float> keys, values;  // [H, max_len, D]
  int length = 0;
};

// How one step is computed: right, or one of the usual wrong ways.
struct Variant {
  double scale;
  bool attend_new = true;      // the new token's own key and value are attended
  bool attend_unused = false;  // the unused slots after the new token are attended too
};

// The step done in float64 on a copy of `cache`: out [H, D].
std::vector<double> step_out(const Cache& cache, const std::vector<float>& q,
                             const std::vector<float>& k, const std::vector<float>& v, int H,
                             int max_len, int D, const Variant& variant) {
  std::vector<double> keys = as_doubles(cache.keys), values = as_doubles(cache.values);
  for (int h = 0; h < H; ++h)
    for (int d = 0; d < D; ++d) {
      keys[(h * max_len + cache.length) * D + d] = k[h * D + d];
      values[(h * max_len + cache.length) * D + d] = v[h * D + d];
    }
  const int seen = variant.attend_unused ? max_len : cache.length + (variant.attend_new ? 1 : 0);
  std::vector<double> out;
  for (int h = 0; h < H; ++h) {
    std::vector<double> qh(q.begin() + h * D, q.begin() + (h + 1) * D);  // [1, D]
    std::vector<double> kh(keys.begin() + h * max_len * D, keys.begin() + (h * max_len + seen) * D);
    std::vector<double> vh(values.begin() + h * max_len * D,
                           values.begin() + (h * max_len + seen) * D);  // [seen, D]
    std::vector<double> row = attention_rows(qh, kh, vh, 1, seen, D, D, variant.scale);
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

// The cache after a step, [H, max_len, D], with the new rows written at `slot` (none when < 0).
std::vector<double> cache_after(const std::vector<float>& cache, const std::vector<float>& x,
                                int slot, int H, int max_len, int D) {
  std::vector<double> result = as_doubles(cache);
  if (slot >= 0)
    for (int h = 0; h < H; ++h)
      for (int d = 0; d < D; ++d) result[(h * max_len + slot) * D + d] = x[h * D + d];
  return result;
}

// One step of the learner's on `cache` (updated), checked value by value.
void check_step(const Case& test_case, Cache& cache, const std::vector<float>& q,
                const std::vector<float>& k, const std::vector<float>& v, int H, int max_len,
                int D) {
  const double scale = 1.0 / std::sqrt(double(D));
  const Cache before = cache;
  std::vector<float> got =
      exercise::kv_cache_step(cache.keys, cache.values, cache.length, q, k, v, H, max_len, D);
  Output out{.name = "out",
             .shape = {H, D},
             .expected = step_out(before, q, k, v, H, max_len, D, {.scale = scale}),
             .hint =
                 "store k, v at slot length, length += 1, then for each head attend over the\n"
                 "slots 0 .. length - 1: softmax_t(q[h] . k_cache[h, t] / sqrt(D))."};
  out.mistakes = {
      {"the new token's key and value not attended (attention before the append)",
       "the new token attends to itself too: append k and v first, then attend over every\n"
       "filled slot, the new one included.",
       before.length > 0
           ? step_out(before, q, k, v, H, max_len, D, {.scale = scale, .attend_new = false})
           : std::vector<double>{}},
      {"the unused cache slots attended too (use only positions < length)",
       "slots from length on hold no token yet (zeros here): they must stay out of the softmax.",
       step_out(before, q, k, v, H, max_len, D, {.scale = scale, .attend_unused = true})},
      {"missing 1/sqrt(D) scale", "scores = q . k / sqrt(D), as in full attention.",
       step_out(before, q, k, v, H, max_len, D, {.scale = 1.0})},
  };
  expect_close(test_case, out, got);

  Output length{.name = "length",
                .shape = {1},
                .expected = {double(before.length + 1)},
                .hint = "the step adds one token to the cache: length grows by 1.",
                .rtol = 0,
                .atol = 0};
  expect_close(test_case, length, std::vector<double>{double(cache.length)});

  Output keys{.name = "k_cache",
              .shape = {H, max_len, D},
              .expected = cache_after(before.keys, k, before.length, H, max_len, D),
              .hint = "k[h, :] goes to k_cache[h, length, :] (the old length), every head.",
              .rtol = 0,
              .atol = 0};
  keys.mistakes = {
      {"the new key not stored in the cache",
       "the next step needs this token's key: write it at slot length of every head.",
       as_doubles(before.keys)},
      {"the new key stored at the wrong slot (length - 1 overwritten)",
       "slot length - 1 holds the previous token; the new one goes to slot length.",
       before.length > 0 ? cache_after(before.keys, k, before.length - 1, H, max_len, D)
                         : std::vector<double>{}},
  };
  expect_close(test_case, keys, cache.keys);

  Output values{.name = "v_cache",
                .shape = {H, max_len, D},
                .expected = cache_after(before.values, v, before.length, H, max_len, D),
                .hint = "v[h, :] goes to v_cache[h, length, :] (the old length), every head.",
                .rtol = 0,
                .atol = 0};
  expect_close(test_case, values, cache.values);
}

// A cache of H heads with `length` random entries and zeros after them.
Cache random_cache(int H, int max_len, int D, int length, Generator& gen) {
  Cache cache{std::vector<float>(H * max_len * D, 0.0f), std::vector<float>(H * max_len * D, 0.0f),
              length};
  std::vector<float> keys = normal_values({H, length, D}, 0, 1, gen),
                     values = normal_values({H, length, D}, 0, 1, gen);
  for (int h = 0; h < H; ++h)
    for (int t = 0; t < length; ++t)
      for (int d = 0; d < D; ++d) {
        cache.keys[(h * max_len + t) * D + d] = keys[(h * length + t) * D + d];
        cache.values[(h * max_len + t) * D + d] = values[(h * length + t) * D + d];
      }
  return cache;
}

// Decodes a sequence of T tokens (q, k, v [T, H, D]) step by step from an empty cache and
// compares the outputs [T, H, D] with causal attention over the whole sequence per head.
void check_sequence(const Case& test_case, int T, int H, int D, Generator& gen) {
  std::vector<float> q = normal_values({T, H, D}, 0, 1, gen),
                     k = normal_values({T, H, D}, 0, 1, gen),
                     v = normal_values({T, H, D}, 0, 1, gen);
  Cache cache{std::vector<float>(H * T * D, 0.0f), std::vector<float>(H * T * D, 0.0f), 0};
  std::vector<float> got;  // [T, H, D]
  for (int t = 0; t < T; ++t) {
    auto token = [&](const std::vector<float>& x) {  // position t: [H, D]
      return std::vector<float>(x.begin() + t * H * D, x.begin() + (t + 1) * H * D);
    };
    std::vector<float> out = exercise::kv_cache_step(cache.keys, cache.values, cache.length,
                                                     token(q), token(k), token(v), H, T, D);
    if (out.size() != static_cast<std::size_t>(H * D)) {  // let expect_close report the size
      got = out;
      break;
    }
    got.insert(got.end(), out.begin(), out.end());
  }
  // Causal attention per head over the whole sequence, at once.
  std::vector<double> expected(T * H * D);  // [T, H, D]
  for (int h = 0; h < H; ++h) {
    std::vector<double> qh(T * D), kh(T * D), vh(T * D);  // head h: [T, D]
    for (int t = 0; t < T; ++t)
      for (int d = 0; d < D; ++d) {
        qh[t * D + d] = q[(t * H + h) * D + d];
        kh[t * D + d] = k[(t * H + h) * D + d];
        vh[t * D + d] = v[(t * H + h) * D + d];
      }
    std::vector<double> oh = attention_rows(qh, kh, vh, T, T, D, D, 1.0 / std::sqrt(double(D)),
                                            [](int i, int j) { return j > i; });
    for (int t = 0; t < T; ++t)
      for (int d = 0; d < D; ++d) expected[(t * H + h) * D + d] = oh[t * D + d];
  }
  Output outs{.name = "out of every step",
              .shape = {T, H, D},
              .expected = expected,
              .hint =
                  "decoding step by step with the cache must give causal self-attention over\n"
                  "the whole sequence: row t attends to positions 0 .. t."};
  expect_close(test_case, outs, got);
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "kv_cache_step", [] {
    Generator gen(51);

    // 1. A cache of 6 slots holding 3 tokens, 2 heads.
    Cache cache = random_cache(2, 6, 4, 3, gen);
    check_step({1, 3, "one step, 2 heads, 3 of 6 slots filled: caches [2, 6, 4], q, k, v [2, 4]"},
               cache, normal_values({2, 4}, 0, 1, gen), normal_values({2, 4}, 0, 1, gen),
               normal_values({2, 4}, 0, 1, gen), 2, 6, 4);

    // 2. A whole sequence from an empty cache equals causal attention.
    check_sequence({2, 3, "5 steps from an empty cache, 2 heads, D 3, against causal attention"}, 5,
                   2, 3, gen);

    // 3. The step that fills the last slot.
    Cache nearly_full = random_cache(1, 4, 2, 3, gen);
    check_step({3, 3, "the last free slot: caches [1, 4, 2] with 3 filled, q, k, v [1, 2]"},
               nearly_full, normal_values({1, 2}, 0, 1, gen), normal_values({1, 2}, 0, 1, gen),
               normal_values({1, 2}, 0, 1, gen), 1, 4, 2);
  });
}
