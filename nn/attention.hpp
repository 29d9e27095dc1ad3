// attention.hpp — attention, built up step by step.
//
// Letters: B batch, H heads, Tq query positions, Tk key positions, E embedding (model) size,
// D = E / H the size of one head.
//
//   dot_product_attention            weights = softmax(Q K^T),         output = weights V
//   scaled_dot_product_attention     weights = softmax(Q K^T / sqrt(D)), output = weights V
//   AdditiveAttention (Bahdanau)     score(q, k) = v^T tanh(W_q q + W_k k)
//   MultiheadAttention               H scaled attentions on learned projections, concatenated
//                                    and projected back: out_proj(concat_h attention_h)
//
// Masks follow PyTorch. A bool mask is true where attention is NOT allowed ("masked out"); a
// float mask is added to the scores (-inf forbids, 0 allows). Masks broadcast against the
// scores [..., Tq, Tk].
//
// A query whose every key is masked out (e.g. a row of padding) gets all-zero weights and
// therefore a zero output, and no gradient flows through that row: softmax over an all -inf
// row is defined as zeros here (tensor/ops.hpp), where PyTorch would produce NaN.
#pragma once

#include <cstdint>
#include <memory>

#include "nn/layers.hpp"
#include "nn/module.hpp"

namespace nn {

struct AttentionOutput {
  Tensor output;   // [..., Tq, Dv]
  Tensor weights;  // [..., Tq, Tk], each row sums to 1 (or is all 0 when fully masked)
};

// softmax(Q K^T) V without scaling: q [..., Tq, D], k [..., Tk, D], v [..., Tk, Dv].
AttentionOutput dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                      const Tensor& mask = Tensor(),
                                      autograd::Site site = autograd::Site::current());

// softmax(Q K^T / sqrt(D)) V. is_causal masks key j > query i (aligned at the top left, as
// torch's is_causal). Dropout (probability dropout_p, drawn from gen) is applied to the weights
// used for the output; pass 0 when not training. The returned weights are before dropout.
AttentionOutput scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                             const Tensor& mask = Tensor(),
                                             double dropout_p = 0.0, bool is_causal = false,
                                             Generator& gen = tensor::default_generator(),
                                             autograd::Site site = autograd::Site::current());

// The causal mask for Tq queries over Tk keys as a bool [Tq, Tk] tensor, true where key j is in
// the future of query i + offset (offset: queries are the last Tq of Tk positions when decoding
// with a cache, offset = Tk - Tq).
Tensor causal_mask(std::int64_t tq, std::int64_t tk, std::int64_t offset = 0,
                   Device device = tensor::kCPU);

// Bahdanau attention: score(q, k) = v^T tanh(W_q q + W_k k), weights = softmax over keys.
// query [B, Tq, query_dim], key [B, Tk, key_dim], value [B, Tk, Dv].
// Parameters: w_q.weight [hidden, query_dim], w_k.weight [hidden, key_dim], v.weight [1, hidden].
class AdditiveAttention : public Module {
 public:
  AdditiveAttention(std::int64_t query_dim, std::int64_t key_dim, std::int64_t hidden_dim,
                    Generator& gen = tensor::default_generator());
  AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const Tensor& mask = Tensor());
  AttentionOutput operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                             const Tensor& mask = Tensor()) {
    return forward(query, key, value, mask);
  }
  std::string type_name() const override { return "AdditiveAttention"; }
  std::string extra_repr() const override;
  std::shared_ptr<Linear> w_q, w_k, v;
};

// Keys and values of the positions seen so far, per layer, for fast generation: each new token
// attends over the cache instead of recomputing every earlier position.
struct KVCache {
  Tensor k, v;  // [B, H, T_so_far, D]; undefined when empty
  std::int64_t length() const { return k.defined() ? k.size(2) : 0; }
};

// The optional arguments of MultiheadAttention::forward, with PyTorch's meanings.
struct AttentionOptions {
  Tensor key_padding_mask;           // [B, Tk]: true (bool) = padding; or float, added
  Tensor attn_mask;                  // [Tq, Tk] or [B*H, Tq, Tk]: bool true = blocked, float added
  bool is_causal = false;            // also block future keys (top-left aligned)
  bool need_weights = false;         // return the attention weights
  bool average_attn_weights = true;  // ... averaged over heads [B, Tq, Tk], else [B, H, Tq, Tk]
};

// Multi-head attention, batch first. Parameters (as PyTorch's, but with separate projections
// instead of one packed in_proj_weight):
//   q_proj.weight [E, E], q_proj.bias [E]   (k_proj, v_proj likewise; kdim/vdim for k and v)
//   out_proj.weight [E, E], out_proj.bias [E]
// Init as PyTorch: Xavier-uniform projection weights, zero biases, out_proj with Linear's init.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads, double dropout = 0.0,
                     bool bias = true, Generator& gen = tensor::default_generator(),
                     std::int64_t kdim = 0, std::int64_t vdim = 0);

  using Options = AttentionOptions;
  // query [B, Tq, E], key [B, Tk, kdim], value [B, Tk, vdim] -> output [B, Tq, E]
  AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const Options& options);
  AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value) {
    return forward(query, key, value, Options{});
  }
  AttentionOutput operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                             const Options& options = {}) {
    return forward(query, key, value, options);
  }
  // Self-attention for new positions x [B, T_new, E] that follow the cached ones; appends
  // their keys and values to `cache`. Causal: position i sees the cache and new positions <= i.
  AttentionOutput forward_cached(const Tensor& x, KVCache& cache, bool need_weights = false);

  std::string type_name() const override { return "MultiheadAttention"; }
  std::string extra_repr() const override;

  std::int64_t embed_dim, num_heads, head_dim;
  double dropout;
  std::shared_ptr<Linear> q_proj, k_proj, v_proj, out_proj;

 private:
  Tensor split_heads(const Tensor& x) const;   // [B, T, E] -> [B, H, T, D] (a view)
  Tensor merge_heads(const Tensor& x) const;   // [B, H, T, D] -> [B, T, E]
  Generator* gen_;
};

// "Attention Is All You Need": PE[pos, 2i] = sin(pos / 10000^(2i/E)), PE[pos, 2i+1] = cos(...).
Array sinusoidal_positional_encoding(std::int64_t max_len, std::int64_t dim);

// Adds the sinusoidal table (a buffer, not trained) to x [B, T, E].
class SinusoidalPositionalEncoding : public UnaryModule {
 public:
  SinusoidalPositionalEncoding(std::int64_t max_len, std::int64_t dim);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SinusoidalPositionalEncoding"; }
  std::string extra_repr() const override;
  Tensor table;  // [max_len, E]
};

// Adds a learned position embedding (weight [max_len, E]) to x [B, T, E]; `offset` shifts the
// positions (used when generating with a cache).
class LearnedPositionalEmbedding : public UnaryModule {
 public:
  LearnedPositionalEmbedding(std::int64_t max_len, std::int64_t dim,
                             Generator& gen = tensor::default_generator());
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  Tensor forward(const Tensor& x, std::int64_t offset);
  std::string type_name() const override { return "LearnedPositionalEmbedding"; }
  std::string extra_repr() const override;
  Tensor weight;  // [max_len, E]
};

}  // namespace nn
