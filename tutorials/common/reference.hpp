// reference.hpp — the independent computations that the tutorials check the library against.
//
//   by loops      plain C++ loops over the numbers: they read the inputs' values and do every
//                 multiply, exp and sum themselves, in double. Nothing from the library but the
//                 bookkeeping of bringing q, k, v and a mask to one batch shape (its views).
//                 What "checked against a hand-written loop" means.
//   from_scratch  the layers written with plain tensor ops (matmul, softmax, mean, ...) reading an
//                 nn layer's weights: the code an interviewer asks you to write, compared with the
//                 library's modules on the same weights.
//
// Letters: B batch, T target (query) positions, S source (key) positions, E model size,
// H heads, D = E / H head size.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/nn.hpp"

namespace tutorial {

using autograd::Tensor;

// ---- by loops
// -------------------------------------------------------------------------------------

// Softmax of one row, written out: subtract the row max, exponentiate, divide by the sum.
// Entries equal to -inf take no part; a row with nothing but -inf gives all zeros (the library's
// convention for a fully masked row, see nn/attention.hpp).
std::vector<double> softmax_by_loop(const std::vector<double>& row);

// What an attention computation produced, all float64.
struct LoopAttention {
  Tensor scores;   // [..., Tq, Tk] after scaling and masking (-inf where blocked)
  Tensor weights;  // [..., Tq, Tk]; a row whose keys are all blocked is zeros
  Tensor output;   // [..., Tq, Dv]
};

// weights = softmax(scale * q k^T + mask), output = weights v, as loops over every (query, key).
// q [..., Tq, D], k [..., Tk, D], v [..., Tk, Dv]; leading (batch) dims broadcast. mask: undefined,
// bool (true = blocked) or float (added to the scores), broadcast to [..., Tq, Tk]. When `flops`
// is given it counts the multiplies and adds of the dot products, the scaling (when scale != 1),
// the softmax (a subtract, exp, add and divide per score) and the weighted sum.
LoopAttention attention_by_loops(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                                 const Tensor& mask = Tensor(), std::int64_t* flops = nullptr);

// Bahdanau attention as loops: score[i, j] = sum_h v[h] * tanh(sum_a Wq[h, a] q_i[a] +
// sum_b Wk[h, b] k_j[b]). q [B, Tq, Dq], k [B, Tk, Dk], v [B, Tk, Dv], w_q [H, Dq], w_k [H, Dk],
// w_v [1, H] (the layouts of nn::AdditiveAttention's Linear weights). When `flops` is given it
// counts every multiply, add and tanh the loops perform (exp and division of softmax included).
LoopAttention additive_attention_by_loops(const Tensor& q, const Tensor& k, const Tensor& v,
                                          const Tensor& w_q, const Tensor& w_k, const Tensor& w_v,
                                          const Tensor& mask = Tensor(),
                                          std::int64_t* flops = nullptr);

// y[..., o] = sum_i x[..., i] * weight[o, i] + bias[o], weight [out, in] (PyTorch's layout);
// an undefined bias counts as zeros.
Tensor linear_by_loops(const Tensor& x, const Tensor& weight, const Tensor& bias);

// ---- from scratch, with plain tensor ops
// ----------------------------------------------------------

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

}  // namespace tutorial
