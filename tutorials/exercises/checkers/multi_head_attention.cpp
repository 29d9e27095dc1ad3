// Checker of tutorials/exercises/stubs/multi_head_attention.cpp: exercise::multi_head_attention
// against plain loops in float64, on one sequence with 2 heads, a batch with 3 heads and 4 heads
// of width 2. The same loops, switched, give the usual wrong answers the checker names.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::vector<float> multi_head_attention(const std::vector<float>& x, const std::vector<float>& w_q,
                                        const std::vector<float>& w_k,
                                        const std::vector<float>& w_v,
                                        const std::vector<float>& w_o, int B, int T, int C,
                                        int H);  // the learner's
}

using namespace exercise_check;

namespace {

struct Inputs {
  std::vector<float> x, w_q, w_k, w_v, w_o;  // x [B, T, C], weights [C, C]
  int B, T, C, H;
};

// How to compute it: the right way is H heads, scale 1/sqrt(C / H), softmax over the keys, W_o.
struct Variant {
  int heads;
  double scale;
  bool softmax_over_keys = true;
  bool output_projection = true;
};

// y [rows, C] = x [rows, C] W [C, C]
std::vector<double> project(const std::vector<double>& x, const std::vector<float>& w, int rows,
                            int C) {
  std::vector<double> y(static_cast<std::size_t>(rows) * C, 0.0);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < C; ++c)
      for (int o = 0; o < C; ++o) y[r * C + o] += x[r * C + c] * w[c * C + o];
  return y;
}

// out [B, T, C] computed the way `variant` says.
std::vector<double> attention(const Inputs& in, const Variant& variant) {
  const int B = in.B, T = in.T, C = in.C, H = variant.heads, D = C / H;
  std::vector<double> x = as_doubles(in.x);
  std::vector<double> q = project(x, in.w_q, B * T, C), k = project(x, in.w_k, B * T, C),
                      v = project(x, in.w_v, B * T, C);                 // [B, T, C]
  std::vector<double> heads(static_cast<std::size_t>(B) * T * C, 0.0);  // [B, T, C]
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      std::vector<double> scores(T * T);  // [T queries, T keys]
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < T; ++j) {
          double dot = 0.0;
          for (int d = 0; d < D; ++d)
            dot += q[(b * T + i) * C + h * D + d] * k[(b * T + j) * C + h * D + d];
          scores[i * T + j] = variant.scale * dot;
        }
      std::vector<double> weights;  // [T, T]
      if (variant.softmax_over_keys) {
        weights = softmax_rows(scores, T, T);
      } else {  // each key's column normalised over the queries
        std::vector<double> transposed(T * T);
        for (int i = 0; i < T; ++i)
          for (int j = 0; j < T; ++j) transposed[j * T + i] = scores[i * T + j];
        transposed = softmax_rows(transposed, T, T);
        weights.resize(T * T);
        for (int i = 0; i < T; ++i)
          for (int j = 0; j < T; ++j) weights[i * T + j] = transposed[j * T + i];
      }
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < T; ++j)
          for (int d = 0; d < D; ++d)
            heads[(b * T + i) * C + h * D + d] +=
                weights[i * T + j] * v[(b * T + j) * C + h * D + d];
    }
  return variant.output_projection ? project(heads, in.w_o, B * T, C) : heads;
}

void check(const Case& test_case, const Inputs& in, const std::string& hint) {
  const double per_head = 1.0 / std::sqrt(double(in.C / in.H)),
               whole = 1.0 / std::sqrt(double(in.C));
  Output out{.name = "out",
             .shape = {in.B, in.T, in.C},
             .expected = attention(in, {.heads = in.H, .scale = per_head}),
             .hint = hint};
  out.mistakes = {
      {"output projection W_O forgotten",
       "the concatenated heads still go through W_o: out = concat(heads) W_o. That is the only\n"
       "place where the heads' features mix.",
       attention(in, {.heads = in.H, .scale = per_head, .output_projection = false})},
      {"scaled by 1/sqrt(C) instead of 1/sqrt(D) (the head's width)",
       "each head's dot products run over its D = C / H features, so their spread grows with D:\n"
       "divide by sqrt(D), not sqrt(C).",
       attention(in, {.heads = in.H, .scale = whole})},
      {"missing 1/sqrt(D) scale", "scores = Q_h K_h^T / sqrt(D), before the softmax.",
       attention(in, {.heads = in.H, .scale = 1.0})},
      {"heads not split (one head over all C features)",
       "head h sees only the features h * D .. h * D + D - 1 of Q, K and V; H softmaxes per query.",
       attention(in, {.heads = 1, .scale = whole})},
      {"heads not split (one head over all C features)",
       "head h sees only the features h * D .. h * D + D - 1 of Q, K and V; H softmaxes per query.",
       attention(in, {.heads = 1, .scale = per_head})},
      {"softmax over the wrong axis (over the queries)",
       "each query's weights over the keys sum to 1: softmax along a row of Q_h K_h^T.",
       attention(in, {.heads = in.H, .scale = per_head, .softmax_over_keys = false})},
  };
  expect_close(
      test_case, out,
      exercise::multi_head_attention(in.x, in.w_q, in.w_k, in.w_v, in.w_o, in.B, in.T, in.C, in.H));
}

Inputs random_inputs(int B, int T, int C, int H, Generator& gen) {
  return {normal_values({B, T, C}, 0, 1, gen),
          normal_values({C, C}, 0, 0.6, gen),
          normal_values({C, C}, 0, 0.6, gen),
          normal_values({C, C}, 0, 0.6, gen),
          normal_values({C, C}, 0, 0.6, gen),
          B,
          T,
          C,
          H};
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "multi_head_attention", [] {
    Generator gen(41);
    check({1, 3, "one sequence, 2 heads: x [1, 3, 4], C 4, H 2 (D 2)"},
          random_inputs(1, 3, 4, 2, gen),
          "Q, K, V = x W; head h attends with features h * D .. h * D + D - 1; out = heads W_o.");
    check({2, 3, "a batch, 3 heads: x [2, 4, 6], C 6, H 3 (D 2)"}, random_inputs(2, 4, 6, 3, gen),
          "sequence b uses only its own rows (offset b * T * C) of x, Q, K, V.");
    check({3, 3, "4 heads: x [1, 5, 8], C 8, H 4 (D 2)"}, random_inputs(1, 5, 8, 4, gen),
          "head h's features start at h * D = h * C / H in every row.");
  });
}
