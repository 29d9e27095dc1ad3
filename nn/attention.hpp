// attention.hpp — attention, built up step by step.
//
// Letters: B batch, H heads, Tq query positions, Tk key positions, E embedding (model) size,
// D = E / H the size of one head, Hkv key/value heads (grouped-query attention; Hkv = H unless
// asked otherwise).
//
//   dot_product_attention            weights = softmax(Q K^T),         output = weights V
//   scaled_dot_product_attention     weights = softmax(Q K^T / sqrt(D)), output = weights V
//   AdditiveAttention (Bahdanau)     score(q, k) = v^T tanh(W_q q + W_k k)
//   MultiheadAttention               H scaled attentions on learned projections, concatenated
//                                    and projected back: out_proj(concat_h attention_h);
//                                    with num_kv_heads < H, grouped-query attention (GQA):
//                                    H / Hkv query heads share each key/value head
//
// Masks follow PyTorch. A bool mask is true where attention is NOT allowed ("masked out"); a
// float mask is added to the scores (-inf forbids, 0 allows). Masks broadcast against the
// scores [..., Tq, Tk]. Every attention here, from dot_product_attention up to Transformer, takes
// its masks as one AttentionMasks, filled by name: {.is_causal = true}.
//
// Every op these functions and modules record carries the caller's file and line (the defaulted
// `site` argument, autograd/record.hpp), so graph dumps and anomaly reports point at the line
// that called attention, not into this library.
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

// Which keys each query may not attend to. Any part may be left out; the parts combine (a key
// is blocked when any of them blocks it). Fill by name:
//   {.is_causal = true}   {.key_padding_mask = padding}   {.attn_mask = band, .is_causal = true}
// (Every member has a default, `{}` meaning "no mask", so that leaving one out is not a warning.)
struct AttentionMasks {
  // [B, Tk], B the first dim of the scores: bool true = a padding key; or float, added.
  Tensor key_padding_mask{};
  // Broadcasts against the scores [..., Tq, Tk]: bool true = blocked; or float, added.
  // MultiheadAttention takes [Tq, Tk] or [B*H, Tq, Tk], as PyTorch's.
  Tensor attn_mask{};
  // Also block key j > query i (aligned at the top left, as torch's is_causal).
  bool is_causal = false;
};

// softmax(Q K^T) V without scaling: q [..., Tq, D], k [..., Tk, D], v [..., Tk, Dv].
AttentionOutput dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                      const AttentionMasks& masks = {},
                                      autograd::Site site = autograd::Site::current());

// softmax(Q K^T / sqrt(D)) V. Dropout (probability dropout_p, drawn from gen) is applied to the
// weights used for the output; pass 0 when not training. The returned weights are before
// dropout.
AttentionOutput scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                             const AttentionMasks& masks = {},
                                             double dropout_p = 0.0,
                                             Generator& gen = tensor::default_generator(),
                                             autograd::Site site = autograd::Site::current());

// The same attention as scaled_dot_product_attention(q, k, v, masks).output without dropout,
// computed by one fused kernel per pass (autograd::fused_attention, tensor/cpu/attention.cpp):
// the scores, masks, softmax and weights . V for a block of queries at a time, the masks taken
// from indices, and a backward that recomputes the weights, so no [B, H, Tq, Tk] tensor is
// ever stored. It gives no weights. q [B, H, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv]
// with H a multiple of Hkv (grouped-query attention without repeat_kv: query head h reads
// kv head h / (H / Hkv)). Masks: key_padding_mask (bool [B, Tk]) and is_causal, where the
// causal mask is causal_mask(Tq, Tk, causal_offset) (0: aligned at the top left, as is_causal
// everywhere else; Tk - Tq when the queries are the last positions, decoding with a cache).
// Throws for what the kernel does not do (an attn_mask, a float key_padding_mask, a device
// without the kernel): fused_attention_supports says beforehand.
Tensor fused_scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                          const AttentionMasks& masks = {},
                                          std::int64_t causal_offset = 0,
                                          autograd::Site site = autograd::Site::current());

// Whether fused_scaled_dot_product_attention can compute attention over q with these masks:
// q's device has the kernel (the cpu), q is float32 or float64, there is no attn_mask and
// key_padding_mask is bool or absent.
bool fused_attention_supports(const Tensor& q, const AttentionMasks& masks);

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
                          const AttentionMasks& masks = {},
                          autograd::Site site = autograd::Site::current());
  AttentionOutput operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                             const AttentionMasks& masks = {},
                             autograd::Site site = autograd::Site::current()) {
    return forward(query, key, value, masks, site);
  }
  std::string type_name() const override { return "AdditiveAttention"; }
  std::string extra_repr() const override;
  std::shared_ptr<Linear> w_q, w_k, v;
};

// Keys and values of the positions seen so far, per layer, for fast generation: each new token
// attends over the cache instead of recomputing every earlier position. Only the key/value heads
// are stored, Hkv of them: with grouped-query attention (Hkv < H) the cache is H / Hkv times
// smaller than with standard multi-head attention, which is what GQA and MQA are for. A layer's
// cache holds 2 * Hkv * D * T numbers per sequence (keys and values).
struct KVCache {
  Tensor k, v;  // [B, Hkv, T_so_far, D] (keys already rotated when the attention is rotary);
                // undefined when empty
  std::int64_t length() const { return k.defined() ? k.size(2) : 0; }
  // Numbers held, keys and values together: 2 * B * Hkv * T_so_far * D.
  std::int64_t numel() const { return k.defined() ? k.numel() + v.numel() : 0; }
};

// Grouped-query attention's one new step: kv [B, Hkv, T, D] -> [B, Hkv * groups, T, D], where
// query head h reads key/value head h / groups (each kv head repeated `groups` times in a row,
// as LLaMA's repeat_kv and torch.repeat_interleave(kv, groups, dim=1)). A view plus one copy;
// the gradient of a repeated head is the sum over the query heads that read it.
// groups = 1 returns kv itself.
Tensor repeat_kv(const Tensor& kv, std::int64_t groups,
                 autograd::Site site = autograd::Site::current());

// Multi-head attention, batch first. Parameters (as PyTorch's, but with separate projections
// instead of one packed in_proj_weight):
//   q_proj.weight [E, E], q_proj.bias [E]
//   k_proj.weight [Hkv*D, kdim], k_proj.bias [Hkv*D]   (v_proj likewise with vdim; Hkv*D = E
//                                                       unless num_kv_heads < num_heads)
//   out_proj.weight [E, E], out_proj.bias [E]
// Init as PyTorch: Xavier-uniform projection weights, zero biases, out_proj with Linear's init.
//
// num_kv_heads (0 means num_heads; must divide num_heads): grouped-query attention. Keys and
// values are projected to num_kv_heads heads only, and query head h attends with key/value head
// h / (num_heads / num_kv_heads) (repeat_kv). num_kv_heads = num_heads is standard multi-head
// attention (the same numbers as without the option), 1 is multi-query attention (MQA).
// rotary: rotate q and k per head by their positions (autograd::rotary_embedding, base
// rope_base) after splitting the heads, before the scores; the cached forward rotates new
// positions by their absolute position (offset = the cache's length), so the cache keeps
// rotated keys. Needs an even head_dim.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads, double dropout = 0.0,
                     bool bias = true, Generator& gen = tensor::default_generator(),
                     std::int64_t kdim = 0, std::int64_t vdim = 0, std::int64_t num_kv_heads = 0,
                     bool rotary = false, double rope_base = 10000.0);

  // query [B, Tq, E], key [B, Tk, kdim], value [B, Tk, vdim] -> output [B, Tq, E].
  // With need_weights the attention weights come back too, as PyTorch's: averaged over the
  // heads [B, Tq, Tk], or per head [B, H, Tq, Tk] when average_attn_weights is false.
  AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const AttentionMasks& masks = {}, bool need_weights = false,
                          bool average_attn_weights = true,
                          autograd::Site site = autograd::Site::current());
  AttentionOutput operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                             const AttentionMasks& masks = {}, bool need_weights = false,
                             bool average_attn_weights = true,
                             autograd::Site site = autograd::Site::current()) {
    return forward(query, key, value, masks, need_weights, average_attn_weights, site);
  }
  // Self-attention for new positions x [B, T_new, E] that follow the cached ones; appends
  // their keys and values ([B, Hkv, T_new, D]) to `cache`. Causal: position i sees the cache
  // and new positions <= i.
  AttentionOutput forward_cached(const Tensor& x, KVCache& cache, bool need_weights = false,
                                 autograd::Site site = autograd::Site::current());

  std::string type_name() const override { return "MultiheadAttention"; }
  std::string extra_repr() const override;

  std::int64_t embed_dim, num_heads, head_dim;
  std::int64_t num_kv_heads;  // Hkv: key/value heads, dividing num_heads
  double dropout;
  bool rotary;       // rotary position embedding on q and k
  double rope_base;  // its base (10000 in RoFormer and LLaMA)
  std::shared_ptr<Linear> q_proj, k_proj, v_proj, out_proj;
  // Use the fused attention kernel (fused_scaled_dot_product_attention) whenever it computes
  // the same thing: no weights asked for, no dropout on them (p = 0 or eval), no attn_mask, a
  // bool or no key_padding_mask, and a device that has the kernel (the cpu). Otherwise, or
  // when false, the composed scaled_dot_product_attention, which tests compare against.
  bool use_fused = true;

 private:
  // [B, T, heads * D] -> [B, heads, T, D] (a view)
  Tensor split_heads(const Tensor& x, std::int64_t heads, autograd::Site site) const;
  // [B, H, T, D] -> [B, T, E]
  Tensor merge_heads(const Tensor& x, autograd::Site site) const;
  // x [B, heads, T, D] rotated for positions offset, offset + 1, ... when rotary; else x.
  Tensor rotate(const Tensor& x, std::int64_t offset, autograd::Site site) const;
  Generator gen_;  // a handle on the caller's stream, for dropout (tensor/random.hpp)
};

// "Attention Is All You Need": PE[pos, 2i] = sin(pos / 10000^(2i/E)), PE[pos, 2i+1] = cos(...).
// Computed in double and rounded once to `dtype`, so a float64 table is exact to float64.
Array sinusoidal_positional_encoding(std::int64_t max_len, std::int64_t dim,
                                     DType dtype = DType::Float32);

// Adds the sinusoidal table (a buffer, not trained) to x [B, T, E]; `offset` shifts the
// positions (used when generating with a cache).
class SinusoidalPositionalEncoding : public UnaryModule {
 public:
  SinusoidalPositionalEncoding(std::int64_t max_len, std::int64_t dim);
  Tensor forward(const Tensor& x, autograd::Site site = autograd::Site::current()) override {
    return forward(x, 0, site);
  }
  // Positions offset, offset + 1, ... (used when generating with a cache).
  Tensor forward(const Tensor& x, std::int64_t offset,
                 autograd::Site site = autograd::Site::current());
  std::string type_name() const override { return "SinusoidalPositionalEncoding"; }
  std::string extra_repr() const override;
  Tensor table;  // [max_len, E], in the module's dtype (float32 until to(dtype))

 protected:
  void buffers_to(DType dtype) override;  // recomputes the table in dtype, never widens floats
};

// Adds a learned position embedding (weight [max_len, E]) to x [B, T, E]; `offset` shifts the
// positions (used when generating with a cache).
class LearnedPositionalEmbedding : public UnaryModule {
 public:
  LearnedPositionalEmbedding(std::int64_t max_len, std::int64_t dim,
                             Generator& gen = tensor::default_generator());
  Tensor forward(const Tensor& x, autograd::Site site = autograd::Site::current()) override {
    return forward(x, 0, site);
  }
  Tensor forward(const Tensor& x, std::int64_t offset,
                 autograd::Site site = autograd::Site::current());
  std::string type_name() const override { return "LearnedPositionalEmbedding"; }
  std::string extra_repr() const override;
  Tensor weight;  // [max_len, E]
};

}  // namespace nn
