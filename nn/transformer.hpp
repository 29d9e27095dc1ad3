// transformer.hpp — Transformer layers and three models built from them.
//
//   TransformerEncoderLayer   self-attention + feed-forward, each with a residual and LayerNorm
//   TransformerDecoderLayer   causal self-attention + cross-attention over the encoder output
//                             + feed-forward
//   Transformer               encoder-decoder (seq2seq): "translate" a source to a target
//   GPTBlock                  one pre-norm causal block of a GPT: attention + MLP, each with a
//                             residual; LayerNorm or RMSNorm, GELU MLP or SwiGLU, MHA/GQA/MQA,
//                             optionally rotary
//   GPT                       decoder-only causal language model, with a KV cache; GPT-2's
//                             shape by default, LLaMA's (RoPE, RMSNorm, SwiGLU, GQA) on request
//   BertEncoder               encoder-only, with a [CLS] classifier and a masked-token head
//
// Every forward-like entry takes a trailing defaulted `site` (autograd/record.hpp) and passes it
// to each op and submodule it calls, so every node of the graph names the caller's line.
//
// Post-LN (norm_first = false, the original paper):   x = norm(x + sublayer(x))
// Pre-LN  (norm_first = true, GPT-2 and later):        x = x + sublayer(norm(x)), and the stack
//                                                      ends with a final LayerNorm
//
// Parameter layout (named_parameters(); all shapes [out, in] like PyTorch's):
//   <layer>.self_attn.{q,k,v,out}_proj.{weight,bias}  [E, E], [E]
//       PyTorch packs q/k/v into self_attn.in_proj_weight [3E, E]: split it in three rows blocks
//       (q, k, v in that order) to move weights between the two.
//   <layer>.multihead_attn.{q,k,v,out}_proj.*         (decoder layers: cross-attention)
//   <layer>.linear1.{weight,bias}  [F, E], [F]        <layer>.linear2.{weight,bias}  [E, F], [E]
//   <layer>.norm1/norm2(/norm3).{weight,bias}  [E]
//   Transformer: src_embed.weight [Vs, E], tgt_embed.weight [Vt, E], src_pos.weight [L, E],
//     tgt_pos.weight [L, E] (learned positions; none when sinusoidal), encoder.layers.<i>.*,
//     encoder.norm.* and decoder.norm.* (pre-LN only), decoder.layers.<i>.*,
//     output.weight [Vt, E] (no bias; absent when tied to tgt_embed)
//   GPT: tok_embed.weight [V, E], pos_embed.weight [L, E] (position = "learned" only),
//     layers.<i>.self_attn.* (k_proj, v_proj [Hkv*D, E] with grouped-query attention),
//     layers.<i>.linear1/linear2.* (mlp = "gelu") or layers.<i>.feed_forward.{w1,w2,w3}.weight
//     (mlp = "swiglu": w1, w3 [F, E], w2 [E, F]), layers.<i>.norm1/norm2.* and norm.* (bias only
//     with LayerNorm), head.weight [V, E]
//   BertEncoder: tok_embed, pos_embed, layers.<i>.*, norm.* (pre-LN), mlm_head.{weight,bias},
//     classifier.{weight,bias}
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/attention.hpp"
#include "nn/layers.hpp"
#include "nn/sampling.hpp"  // SamplingOptions, sample_next_token (used by GPT::generate)

namespace nn {

// A list of submodules named "0", "1", ... (like torch.nn.ModuleList).
template <typename M>
class ModuleList : public Module {
 public:
  void append(std::shared_ptr<M> module) {
    register_module(std::to_string(items_.size()), module);
    items_.push_back(std::move(module));
  }
  std::size_t size() const { return items_.size(); }
  M& operator[](std::size_t i) { return *items_.at(i); }
  const std::vector<std::shared_ptr<M>>& items() const { return items_; }
  std::string type_name() const override { return "ModuleList"; }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

struct LayerConfig {
  std::int64_t d_model = 128;
  std::int64_t nhead = 4;
  std::int64_t dim_feedforward = 512;
  double dropout = 0.1;
  std::string activation = "relu";  // relu, gelu or gelu_tanh
  bool norm_first = false;          // pre-LN when true
  double layer_norm_eps = 1e-5;
};

class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(const LayerConfig& config, Generator& gen = tensor::default_generator());
  // x [B, T, E] -> [B, T, E]; masks of the self-attention: key_padding_mask [B, T] (true =
  // padding), attn_mask [T, T] or [B*H, T, T], is_causal.
  Tensor forward(const Tensor& x, const AttentionMasks& masks = {},
                 autograd::Site site = autograd::Site::current());
  // Causal self-attention over cached positions (for generation): x [B, T_new, E].
  Tensor forward_cached(const Tensor& x, KVCache& cache,
                        autograd::Site site = autograd::Site::current());
  std::string type_name() const override { return "TransformerEncoderLayer"; }
  std::string extra_repr() const override;

  // When true, forward keeps the per-head attention weights [B, H, T, T] here (for pictures).
  bool keep_attention = false;
  Tensor last_attention;

  LayerConfig config;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<UnaryModule> activation;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  std::shared_ptr<LayerNorm> norm1, norm2;

 private:
  Tensor feed_forward(const Tensor& x, autograd::Site site);
};

class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(const LayerConfig& config, Generator& gen = tensor::default_generator());
  // x [B, T, E], memory [B, S, E] (the encoder's output) -> [B, T, E].
  // self_masks: on the self-attention over the target (PyTorch's tgt_key_padding_mask [B, T],
  //   tgt_mask [T, T], tgt_is_causal); causal by default: a decoder may not look ahead.
  // memory_masks: on the cross-attention over the source (memory_key_padding_mask [B, S] = the
  //   source's padding, memory_mask [T, S]).
  Tensor forward(const Tensor& x, const Tensor& memory,
                 const AttentionMasks& self_masks = {.is_causal = true},
                 const AttentionMasks& memory_masks = {},
                 autograd::Site site = autograd::Site::current());
  // For generation: x [B, T_new, E] are the target positions that follow the cached ones. Their
  // causal self-attention runs over `cache` (their keys and values are appended to it), the
  // cross-attention over the whole memory [B, S, E] as in forward. Same values as forward on the
  // whole target, one new position at a time.
  Tensor forward_cached(const Tensor& x, const Tensor& memory, KVCache& cache,
                        const AttentionMasks& memory_masks = {},
                        autograd::Site site = autograd::Site::current());
  std::string type_name() const override { return "TransformerDecoderLayer"; }
  std::string extra_repr() const override;

  bool keep_attention = false;
  Tensor last_self_attention, last_cross_attention;  // [B, H, T, T], [B, H, T, S]

  LayerConfig config;
  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<UnaryModule> activation;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2, dropout3;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;

 private:
  // The three sublayers with their residuals and norms, around a given self-attention (plain
  // or cached): what forward and forward_cached share.
  Tensor sublayers(const Tensor& x, const std::function<Tensor(const Tensor&)>& self_attention,
                   const Tensor& memory, const AttentionMasks& memory_masks, autograd::Site site);
};

// A stack of encoder layers, with a final LayerNorm for pre-LN stacks.
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(const LayerConfig& config, std::int64_t num_layers,
                     Generator& gen = tensor::default_generator());
  Tensor forward(const Tensor& x, const AttentionMasks& masks = {},
                 autograd::Site site = autograd::Site::current());
  std::string type_name() const override { return "TransformerEncoder"; }
  std::shared_ptr<ModuleList<TransformerEncoderLayer>> layers;
  std::shared_ptr<LayerNorm> norm;  // null for post-LN
};

class TransformerDecoder : public Module {
 public:
  TransformerDecoder(const LayerConfig& config, std::int64_t num_layers,
                     Generator& gen = tensor::default_generator());
  Tensor forward(const Tensor& x, const Tensor& memory,
                 const AttentionMasks& self_masks = {.is_causal = true},
                 const AttentionMasks& memory_masks = {},
                 autograd::Site site = autograd::Site::current());
  // The cached decoding of TransformerDecoderLayer::forward_cached through every layer (caches:
  // one per layer, resized to the number of layers when empty).
  Tensor forward_cached(const Tensor& x, const Tensor& memory, std::vector<KVCache>& caches,
                        const AttentionMasks& memory_masks = {},
                        autograd::Site site = autograd::Site::current());
  std::string type_name() const override { return "TransformerDecoder"; }
  std::shared_ptr<ModuleList<TransformerDecoderLayer>> layers;
  std::shared_ptr<LayerNorm> norm;
};

struct TransformerConfig {
  std::int64_t src_vocab = 16, tgt_vocab = 16;
  std::int64_t max_len = 64;              // longest source or target sequence
  LayerConfig layer;                      // d_model, nhead, dim_feedforward, dropout, ...
  std::int64_t num_encoder_layers = 2, num_decoder_layers = 2;
  std::string positional = "learned";     // "learned" or "sinusoidal"
  bool tie_output = false;                // output projection shares tgt_embed's weight
};

class Transformer : public Module {
 public:
  Transformer(const TransformerConfig& config, Generator& gen = tensor::default_generator());
  // src [B, S] and tgt [B, T] int64 token ids; padding masks [B, S] / [B, T] (true = PAD).
  // Returns logits [B, T, tgt_vocab]; position t only sees tgt[:, :t+1] and the whole source.
  Tensor forward(const Tensor& src, const Tensor& tgt, const Tensor& src_padding = Tensor(),
                 const Tensor& tgt_padding = Tensor(),
                 autograd::Site site = autograd::Site::current());
  // [B, S, E]
  Tensor encode(const Tensor& src, const Tensor& src_padding = Tensor(),
                autograd::Site site = autograd::Site::current());
  // logits [B, T, tgt_vocab]
  Tensor decode(const Tensor& tgt, const Tensor& memory, const Tensor& src_padding = Tensor(),
                const Tensor& tgt_padding = Tensor(),
                autograd::Site site = autograd::Site::current());
  // decode with a KV cache, for generation: tgt_new [B, T_new] are the target tokens that
  // follow the ones already in `caches` (one per decoder layer; start with an empty vector).
  // Returns their logits [B, T_new, tgt_vocab], equal to decode's at those positions.
  Tensor decode_cached(const Tensor& tgt_new, const Tensor& memory, std::vector<KVCache>& caches,
                       const Tensor& src_padding = Tensor(),
                       autograd::Site site = autograd::Site::current());
  // Ask every layer to keep its attention weights on the next forward (for heatmaps).
  void keep_attention(bool on);
  std::string type_name() const override { return "Transformer"; }

  TransformerConfig config;
  std::shared_ptr<Embedding> src_embed, tgt_embed;
  std::shared_ptr<UnaryModule> src_pos, tgt_pos;
  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;
  std::shared_ptr<Linear> output;  // null when tied

 private:
  Tensor embed(const Tensor& ids, Embedding& table, UnaryModule& positions,
               autograd::Site site);
  Tensor output_logits(const Tensor& h, autograd::Site site);  // [B, T, E] -> [B, T, tgt_vocab]
};

// What a GPT is made of. The defaults are GPT-2's shape (learned positions, LayerNorm, a GELU
// MLP, standard multi-head attention); LLaMA's is
//   {.position = "rope", .norm = "rms", .mlp = "swiglu", .num_kv_heads = nhead / 4}
// with dim_feedforward = swiglu_hidden_dim(d_model, ...) for the parameters of a 4 * d_model MLP.
// Fields are appended, never reordered: GPTConfig{64, 64, 128, 4, 4, 512, 0.0, "gelu"} still
// means what it did.
struct GPTConfig {
  std::int64_t vocab = 64, context = 64;
  std::int64_t d_model = 128, nhead = 4, num_layers = 4, dim_feedforward = 512;
  double dropout = 0.0;
  std::string activation = "gelu";     // of the mlp = "gelu" MLP: gelu, gelu_tanh or relu
  std::string position = "learned";    // learned | sinusoidal (added to the embeddings) |
                                       // rope (q and k rotated in every attention)
  std::string norm = "layer";          // layer (LayerNorm) | rms (RMSNorm, weight only)
  std::string mlp = "gelu";            // gelu: linear2(activation(linear1 x)), hidden size
                                       //   dim_feedforward | swiglu: w2(silu(w1 x) * w3 x),
                                       //   hidden size dim_feedforward, no biases
  std::int64_t num_kv_heads = 0;       // key/value heads, dividing nhead; 0 = nhead (standard
                                       // MHA), 1 = multi-query attention
  double rope_base = 10000.0;          // position = "rope" only
};

// Throws std::invalid_argument naming the field, its value and what is allowed.
void validate(const GPTConfig& config);

// One block of a GPT, pre-norm and causal:
//   h = x + dropout1(self_attn(norm1(x)))       (causal; GQA when num_kv_heads < nhead; rotary
//                                                 q and k when position = "rope")
//   y = h + dropout2(mlp(norm2(h)))              (linear1 -> activation -> dropout -> linear2,
//                                                 or feed_forward = SwiGLU)
// With GPTConfig's defaults it is exactly a TransformerEncoderLayer with norm_first and a
// causal mask (same parameters, same numbers), which is what GPT-2's block is.
class GPTBlock : public Module {
 public:
  GPTBlock(const GPTConfig& config, Generator& gen = tensor::default_generator());
  // x [B, T, E] -> [B, T, E]; masks of the self-attention (a GPT passes {.is_causal = true}).
  Tensor forward(const Tensor& x, const AttentionMasks& masks = {.is_causal = true},
                 autograd::Site site = autograd::Site::current());
  // Causal self-attention over cached positions (for generation): x [B, T_new, E].
  Tensor forward_cached(const Tensor& x, KVCache& cache,
                        autograd::Site site = autograd::Site::current());
  std::string type_name() const override { return "GPTBlock"; }
  std::string extra_repr() const override;

  // When true, forward keeps the per-head attention weights [B, H, T, T] here (for pictures).
  bool keep_attention = false;
  Tensor last_attention;

  GPTConfig config;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<UnaryModule> norm1, norm2;  // LayerNorm or RMSNorm
  std::shared_ptr<Linear> linear1, linear2;   // mlp = "gelu"; null for "swiglu"
  std::shared_ptr<UnaryModule> activation;    // mlp = "gelu"
  std::shared_ptr<Dropout> dropout;           // mlp = "gelu": after the activation
  std::shared_ptr<SwiGLU> feed_forward;       // mlp = "swiglu"; null for "gelu"
  std::shared_ptr<Dropout> dropout1, dropout2;

 private:
  Tensor mlp_forward(const Tensor& x, autograd::Site site);
};

// Decoder-only language model: token embeddings (+ learned or sinusoidal positions), a stack of
// pre-norm causal GPTBlocks, a final norm, an untied bias-free head. GPTConfig chooses the
// positions, norm, MLP and kv heads; the defaults are GPT-2's.
class GPT : public Module {
 public:
  GPT(const GPTConfig& config, Generator& gen = tensor::default_generator());
  // ids [B, T] -> logits [B, T, V]
  Tensor forward(const Tensor& ids, autograd::Site site = autograd::Site::current());
  // Logits for new positions that follow the cached ones (caches: one per layer, each holding
  // [B, Hkv, T, D] keys and values).
  Tensor forward_cached(const Tensor& ids, std::vector<KVCache>& caches,
                        autograd::Site site = autograd::Site::current());
  // Appends max_new_tokens tokens to prompt [B, T0] (eval mode, no gradients). With use_cache
  // each step runs only the new token through the model; without, the whole sequence again.
  // Both give the same tokens.
  Tensor generate(const Tensor& prompt, std::int64_t max_new_tokens,
                  const SamplingOptions& sampling = {}, Generator& gen = tensor::default_generator(),
                  bool use_cache = true,
                  autograd::Site site = autograd::Site::current());
  std::string type_name() const override { return "GPT"; }

  GPTConfig config;
  std::shared_ptr<Embedding> tok_embed;
  std::shared_ptr<LearnedPositionalEmbedding> pos_embed;       // position = "learned"; else null
  std::shared_ptr<SinusoidalPositionalEncoding> pos_encoding;  // "sinusoidal"; else null
  std::shared_ptr<ModuleList<GPTBlock>> layers;
  std::shared_ptr<UnaryModule> norm;  // LayerNorm or RMSNorm
  std::shared_ptr<Linear> head;

 private:
  // Token embeddings plus the positions offset, offset + 1, ... (nothing to add for rope).
  Tensor embed(const Tensor& ids, std::int64_t offset, autograd::Site site);
};

struct BertConfig {
  std::int64_t vocab = 32, max_len = 64;
  LayerConfig layer;
  std::int64_t num_layers = 2;
  std::int64_t num_classes = 2;  // size of the [CLS] classifier (0: none)
};

// Encoder-only model. Position 0 of every sequence is the [CLS] token; its final hidden state
// summarises the sequence for classification.
class BertEncoder : public Module {
 public:
  BertEncoder(const BertConfig& config, Generator& gen = tensor::default_generator());
  // -> hidden [B, T, E]
  Tensor forward(const Tensor& ids, const Tensor& padding = Tensor(),
                 autograd::Site site = autograd::Site::current());
  // [CLS] hidden -> logits [B, num_classes]
  Tensor classify(const Tensor& hidden, autograd::Site site = autograd::Site::current());
  // -> logits [B, T, vocab] for masked-token prediction
  Tensor mlm_logits(const Tensor& hidden, autograd::Site site = autograd::Site::current());
  void keep_attention(bool on);
  std::string type_name() const override { return "BertEncoder"; }

  BertConfig config;
  std::shared_ptr<Embedding> tok_embed;
  std::shared_ptr<LearnedPositionalEmbedding> pos_embed;
  std::shared_ptr<ModuleList<TransformerEncoderLayer>> layers;
  std::shared_ptr<LayerNorm> norm;  // pre-LN only
  std::shared_ptr<Linear> mlm_head, classifier;
};

// Greedy decoding with an encoder-decoder: starts every target with `bos` and appends the most
// likely token until every sequence has produced `eos` or max_len tokens were generated.
// Returns the generated tokens [B, <= max_len] (without the leading bos; after a sequence's eos
// the rest of its row is eos).
Tensor greedy_decode(Transformer& model, const Tensor& src, const Tensor& src_padding,
                     std::int64_t max_len, std::int64_t bos, std::int64_t eos,
                     autograd::Site site = autograd::Site::current());

}  // namespace nn
