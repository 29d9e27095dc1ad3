// layer_checks.hpp — independent computations that the attention and Transformer tutorials
// (07-11) compare the library with.
//
//   loops::        plain C++ loops over the numbers: nothing from the library but reading the
//                  inputs' values. What "checked against a hand-written loop" means.
//   from_scratch:: the same layers written with plain tensor ops (matmul, softmax, mean, ...)
//                  reading an nn layer's weights: the code an interviewer asks you to write,
//                  compared with the library's modules on the same weights.
//   pictures::     attention maps as labelled heatmaps, several side by side in one PNG.
//
// Letters: B batch, T target (query) positions, S source (key) positions, E model size,
// H heads, D = E / H head size, F feed-forward size.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/nn.hpp"
#include "viz/heatmap.hpp"

namespace layer_checks {

using autograd::Tensor;

// max |a - b| over all elements; throws when the shapes differ (a check must compare like with
// like, not broadcast).
double max_abs_diff(const Tensor& a, const Tensor& b);

namespace loops {

struct Attention {
  Tensor output;   // [..., Tq, Dv]
  Tensor weights;  // [..., Tq, Tk]
};

// softmax(q k^T * scale) v with three nested loops per query, for q [..., Tq, D],
// k [..., Tk, D], v [..., Tk, Dv] with the same leading dims. `blocked` (optional, bool
// [Tq, Tk]) marks the pairs a query may not see; a row with every key blocked gets zero weights
// (the library's convention). Works in float64 whatever the inputs' dtype.
Attention attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                    const Tensor& blocked = Tensor());

// y[..., o] = sum_i x[..., i] * weight[o, i] + bias[o], weight [out, in] (PyTorch's layout).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

}  // namespace loops

namespace from_scratch {

// Multi-head attention with plain ops, reading the projections of `mha`:
//   q = query_input Wq^T + bq, k = kv_input Wk^T + bk, v = kv_input Wv^T + bv     [B, T|S, E]
//   split each into H heads of D features                                         [B, H, T|S, D]
//   weights = softmax(q k^T / sqrt(D)) with blocked pairs at -inf                 [B, H, T, S]
//   concat_h(weights_h v_h) Wo^T + bo                                             [B, T, E]
// `blocked`: optional bool [T, S], true = may not attend. The per-head weights go to
// *weights when asked.
Tensor multihead_attention(const nn::MultiheadAttention& mha, const Tensor& query_input,
                           const Tensor& kv_input, const Tensor& blocked = Tensor(),
                           Tensor* weights = nullptr);

// (x - mean) / sqrt(var + eps) * weight + bias over the last dim (biased variance).
Tensor layer_norm(const nn::LayerNorm& norm, const Tensor& x);

// linear2(relu(linear1(x))): the same two-layer MLP applied at every position.
Tensor feed_forward(const nn::Linear& linear1, const nn::Linear& linear2, const Tensor& x);

}  // namespace from_scratch

namespace pictures {

// A [rows, cols] tensor (e.g. one head's weights) as a heatmap with axis names, indices (or the
// given labels) and the colour range 0..1 of attention weights.
viz::Heatmap attention_map(const Tensor& weights, const std::string& title,
                           const std::string& y_label = "query position",
                           const std::string& x_label = "key position");

// Several rendered heatmaps side by side (wrapping after `per_row`) under one title, saved as a
// PNG; prints the path. Each panel keeps its own axes; give them all the same range so equal
// colours mean equal values.
void save_side_by_side(const std::vector<viz::Canvas>& panels, const std::string& title,
                       const std::string& path, int per_row = 4);

}  // namespace pictures

}  // namespace layer_checks
