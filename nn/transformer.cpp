#include "nn/transformer.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "tensor/factory.hpp"
#include "tensor/ops.hpp"
#include "tensor/philox.hpp"

namespace nn {

using autograd::Site;

namespace {
std::string layer_repr(const LayerConfig& c) {
  std::ostringstream s;
  s << "d_model=" << c.d_model << ", nhead=" << c.nhead << ", dim_feedforward=" << c.dim_feedforward
    << ", dropout=" << c.dropout << ", activation=" << c.activation
    << ", norm_first=" << (c.norm_first ? "true" : "false");
  return s.str();
}
}  // namespace

// ---- encoder layer -------------------------------------------------------------------------------

TransformerEncoderLayer::TransformerEncoderLayer(const LayerConfig& c, Generator& gen) : config(c) {
  self_attn = register_module("self_attn",
                              std::make_shared<MultiheadAttention>(c.d_model, c.nhead, c.dropout, true, gen));
  linear1 = register_module("linear1", std::make_shared<Linear>(c.d_model, c.dim_feedforward, true, gen));
  activation = register_module("activation", make_activation(c.activation));
  dropout = register_module("dropout", std::make_shared<Dropout>(c.dropout, gen));
  linear2 = register_module("linear2", std::make_shared<Linear>(c.dim_feedforward, c.d_model, true, gen));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(c.d_model, c.layer_norm_eps));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(c.d_model, c.layer_norm_eps));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(c.dropout, gen));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(c.dropout, gen));
}

Tensor TransformerEncoderLayer::feed_forward(const Tensor& x, Site site) {
  // Position-wise: the same two-layer MLP on every position independently.
  return (*dropout2)(
      (*linear2)((*dropout)((*activation)((*linear1)(x, site), site), site), site), site);
}

// The residual sums are autograd::add rather than `+`, which would record this file's line.
Tensor TransformerEncoderLayer::forward(const Tensor& x, const AttentionMasks& masks, Site site) {
  auto self_attention = [&](const Tensor& input) {
    AttentionOutput attended = (*self_attn)(input, input, input, masks,
                                            /*need_weights=*/keep_attention,
                                            /*average_attn_weights=*/false, site);
    if (keep_attention) last_attention = attended.weights.detach();
    return (*dropout1)(attended.output, site);
  };
  Tensor h = x;
  if (config.norm_first) {
    // pre-LN: normalise the sublayer's input
    h = autograd::add(h, self_attention((*norm1)(h, site)), site);
    h = autograd::add(h, feed_forward((*norm2)(h, site), site), site);
  } else {
    // post-LN: normalise after the residual sum
    h = (*norm1)(autograd::add(h, self_attention(h), site), site);
    h = (*norm2)(autograd::add(h, feed_forward(h, site), site), site);
  }
  call_forward_hooks(h);
  return h;
}

Tensor TransformerEncoderLayer::forward_cached(const Tensor& x, KVCache& cache, Site site) {
  auto self_attention = [&](const Tensor& input) {
    return (*dropout1)(self_attn->forward_cached(input, cache, false, site).output, site);
  };
  Tensor h = x;
  if (config.norm_first) {
    h = autograd::add(h, self_attention((*norm1)(h, site)), site);
    h = autograd::add(h, feed_forward((*norm2)(h, site), site), site);
  } else {
    h = (*norm1)(autograd::add(h, self_attention(h), site), site);
    h = (*norm2)(autograd::add(h, feed_forward(h, site), site), site);
  }
  return h;
}

std::string TransformerEncoderLayer::extra_repr() const { return layer_repr(config); }

// ---- decoder layer -------------------------------------------------------------------------------

TransformerDecoderLayer::TransformerDecoderLayer(const LayerConfig& c, Generator& gen) : config(c) {
  self_attn = register_module("self_attn",
                              std::make_shared<MultiheadAttention>(c.d_model, c.nhead, c.dropout, true, gen));
  multihead_attn = register_module(
      "multihead_attn", std::make_shared<MultiheadAttention>(c.d_model, c.nhead, c.dropout, true, gen));
  linear1 = register_module("linear1", std::make_shared<Linear>(c.d_model, c.dim_feedforward, true, gen));
  activation = register_module("activation", make_activation(c.activation));
  dropout = register_module("dropout", std::make_shared<Dropout>(c.dropout, gen));
  linear2 = register_module("linear2", std::make_shared<Linear>(c.dim_feedforward, c.d_model, true, gen));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(c.d_model, c.layer_norm_eps));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(c.d_model, c.layer_norm_eps));
  norm3 = register_module("norm3", std::make_shared<LayerNorm>(c.d_model, c.layer_norm_eps));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(c.dropout, gen));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(c.dropout, gen));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(c.dropout, gen));
}

Tensor TransformerDecoderLayer::forward(const Tensor& x, const Tensor& memory,
                                        const AttentionMasks& self_masks,
                                        const AttentionMasks& memory_masks, Site site) {
  auto self_attention = [&](const Tensor& input) {
    AttentionOutput attended = (*self_attn)(input, input, input, self_masks,
                                            /*need_weights=*/keep_attention,
                                            /*average_attn_weights=*/false, site);
    if (keep_attention) last_self_attention = attended.weights.detach();
    return (*dropout1)(attended.output, site);
  };
  Tensor h = sublayers(x, self_attention, memory, memory_masks, site);
  call_forward_hooks(h);
  return h;
}

Tensor TransformerDecoderLayer::forward_cached(const Tensor& x, const Tensor& memory,
                                               KVCache& cache, const AttentionMasks& memory_masks,
                                               Site site) {
  auto self_attention = [&](const Tensor& input) {
    return (*dropout1)(self_attn->forward_cached(input, cache, false, site).output, site);
  };
  return sublayers(x, self_attention, memory, memory_masks, site);
}

Tensor TransformerDecoderLayer::sublayers(const Tensor& x,
                                          const std::function<Tensor(const Tensor&)>& self_attention,
                                          const Tensor& memory, const AttentionMasks& memory_masks,
                                          Site site) {
  auto cross_attention = [&](const Tensor& input) {
    // Queries come from the target side, keys and values from the encoder's output: every
    // target position may look at every source position (except source padding).
    AttentionOutput attended = (*multihead_attn)(input, memory, memory, memory_masks,
                                                 /*need_weights=*/keep_attention,
                                                 /*average_attn_weights=*/false, site);
    if (keep_attention) last_cross_attention = attended.weights.detach();
    return (*dropout2)(attended.output, site);
  };
  auto feed_forward = [&](const Tensor& input) {
    return (*dropout3)(
        (*linear2)((*dropout)((*activation)((*linear1)(input, site), site), site), site), site);
  };
  Tensor h = x;
  if (config.norm_first) {
    h = autograd::add(h, self_attention((*norm1)(h, site)), site);
    h = autograd::add(h, cross_attention((*norm2)(h, site)), site);
    h = autograd::add(h, feed_forward((*norm3)(h, site)), site);
  } else {
    h = (*norm1)(autograd::add(h, self_attention(h), site), site);
    h = (*norm2)(autograd::add(h, cross_attention(h), site), site);
    h = (*norm3)(autograd::add(h, feed_forward(h), site), site);
  }
  return h;
}

std::string TransformerDecoderLayer::extra_repr() const { return layer_repr(config); }

// ---- stacks --------------------------------------------------------------------------------------

TransformerEncoder::TransformerEncoder(const LayerConfig& config, std::int64_t num_layers,
                                       Generator& gen) {
  layers = register_module("layers", std::make_shared<ModuleList<TransformerEncoderLayer>>());
  for (std::int64_t i = 0; i < num_layers; ++i)
    layers->append(std::make_shared<TransformerEncoderLayer>(config, gen));
  // Pre-LN leaves the residual stream unnormalised at the top: one last LayerNorm fixes that.
  if (config.norm_first)
    norm = register_module("norm", std::make_shared<LayerNorm>(config.d_model, config.layer_norm_eps));
}

Tensor TransformerEncoder::forward(const Tensor& x, const AttentionMasks& masks, Site site) {
  Tensor h = x;
  for (auto& layer : layers->items()) h = layer->forward(h, masks, site);
  return norm ? (*norm)(h, site) : h;
}

TransformerDecoder::TransformerDecoder(const LayerConfig& config, std::int64_t num_layers,
                                       Generator& gen) {
  layers = register_module("layers", std::make_shared<ModuleList<TransformerDecoderLayer>>());
  for (std::int64_t i = 0; i < num_layers; ++i)
    layers->append(std::make_shared<TransformerDecoderLayer>(config, gen));
  if (config.norm_first)
    norm = register_module("norm", std::make_shared<LayerNorm>(config.d_model, config.layer_norm_eps));
}

Tensor TransformerDecoder::forward(const Tensor& x, const Tensor& memory,
                                   const AttentionMasks& self_masks,
                                   const AttentionMasks& memory_masks, Site site) {
  Tensor h = x;
  for (auto& layer : layers->items())
    h = layer->forward(h, memory, self_masks, memory_masks, site);
  return norm ? (*norm)(h, site) : h;
}

Tensor TransformerDecoder::forward_cached(const Tensor& x, const Tensor& memory,
                                          std::vector<KVCache>& caches,
                                          const AttentionMasks& memory_masks, Site site) {
  if (caches.size() != layers->size()) caches.resize(layers->size());
  Tensor h = x;
  for (std::size_t i = 0; i < layers->size(); ++i)
    h = (*layers)[i].forward_cached(h, memory, caches[i], memory_masks, site);
  return norm ? (*norm)(h, site) : h;
}

// ---- Transformer (encoder-decoder) ---------------------------------------------------------------

namespace {
std::shared_ptr<UnaryModule> make_positions(const std::string& kind, std::int64_t max_len,
                                            std::int64_t dim, Generator& gen) {
  if (kind == "learned") return std::make_shared<LearnedPositionalEmbedding>(max_len, dim, gen);
  if (kind == "sinusoidal") return std::make_shared<SinusoidalPositionalEncoding>(max_len, dim);
  throw std::invalid_argument("Transformer: positional must be 'learned' or 'sinusoidal', got '" +
                              kind + "'");
}

void check_ids(const Tensor& ids, std::int64_t max_len, const char* what) {
  if (ids.dim() != 2 || ids.dtype() != DType::Int64)
    throw std::invalid_argument(std::string("Transformer: ") + what +
                                " must be int64 token ids [B, T], got " +
                                tensor::dtype_name(ids.dtype()) + " " +
                                tensor::shape_str(ids.shape()));
  if (ids.size(1) > max_len)
    throw std::invalid_argument(std::string("Transformer: ") + what + " has " +
                                std::to_string(ids.size(1)) + " positions but max_len is " +
                                std::to_string(max_len));
}
}  // namespace

Transformer::Transformer(const TransformerConfig& c, Generator& gen) : config(c) {
  const std::int64_t E = c.layer.d_model;
  src_embed = register_module("src_embed", std::make_shared<Embedding>(c.src_vocab, E, gen));
  tgt_embed = register_module("tgt_embed", std::make_shared<Embedding>(c.tgt_vocab, E, gen));
  src_pos = register_module("src_pos", make_positions(c.positional, c.max_len, E, gen));
  tgt_pos = register_module("tgt_pos", make_positions(c.positional, c.max_len, E, gen));
  encoder = register_module("encoder", std::make_shared<TransformerEncoder>(c.layer, c.num_encoder_layers, gen));
  decoder = register_module("decoder", std::make_shared<TransformerDecoder>(c.layer, c.num_decoder_layers, gen));
  if (!c.tie_output) output = register_module("output", std::make_shared<Linear>(E, c.tgt_vocab, false, gen));
}

Tensor Transformer::embed(const Tensor& ids, Embedding& table, UnaryModule& positions,
                          Site site) {
  return positions(table(ids, site), site);  // token vectors plus position vectors  [B, T, E]
}

Tensor Transformer::encode(const Tensor& src, const Tensor& src_padding, Site site) {
  check_ids(src, config.max_len, "src");
  return encoder->forward(embed(src, *src_embed, *src_pos, site),
                          {.key_padding_mask = src_padding}, site);
}

Tensor Transformer::decode(const Tensor& tgt, const Tensor& memory, const Tensor& src_padding,
                           const Tensor& tgt_padding, Site site) {
  check_ids(tgt, config.max_len, "tgt");
  Tensor h = decoder->forward(embed(tgt, *tgt_embed, *tgt_pos, site), memory,
                              {.key_padding_mask = tgt_padding, .is_causal = true},
                              {.key_padding_mask = src_padding}, site);
  return output_logits(h, site);
}

Tensor Transformer::decode_cached(const Tensor& tgt_new, const Tensor& memory,
                                  std::vector<KVCache>& caches, const Tensor& src_padding,
                                  Site site) {
  const std::int64_t past = caches.empty() ? 0 : caches[0].length();
  check_ids(tgt_new, config.max_len - past, "tgt_new (after the cached positions)");
  // The new tokens sit at positions past, past + 1, ...: their position vectors start there.
  Tensor tokens = tgt_embed->forward(tgt_new, site);  // [B, T_new, E]
  Tensor h;
  if (auto* learned = dynamic_cast<LearnedPositionalEmbedding*>(tgt_pos.get())) {
    h = learned->forward(tokens, past, site);
  } else {
    auto& sinusoidal = dynamic_cast<SinusoidalPositionalEncoding&>(*tgt_pos);
    Tensor rows = sinusoidal.table.slice(0, past, past + tgt_new.size(1), 1, site);  // [T_new, E]
    h = autograd::add(tokens, rows.to(tokens.dtype(), site), site);
  }
  h = decoder->forward_cached(h, memory, caches, {.key_padding_mask = src_padding}, site);
  return output_logits(h, site);
}

Tensor Transformer::output_logits(const Tensor& h, Site site) {
  // Scores for every target-vocabulary token: [B, T, E] x [E, V]
  if (output) return (*output)(h, site);
  return autograd::matmul(h, tgt_embed->weight.transpose(0, 1, site), site);
}

Tensor Transformer::forward(const Tensor& src, const Tensor& tgt, const Tensor& src_padding,
                            const Tensor& tgt_padding, Site site) {
  Tensor memory = encode(src, src_padding, site);
  Tensor logits = decode(tgt, memory, src_padding, tgt_padding, site);
  call_forward_hooks(logits);
  return logits;
}

void Transformer::keep_attention(bool on) {
  for (auto& layer : encoder->layers->items()) layer->keep_attention = on;
  for (auto& layer : decoder->layers->items()) layer->keep_attention = on;
}

// ---- GPT -----------------------------------------------------------------------------------------

void validate(const GPTConfig& c) {
  auto fail = [](const std::string& why) { throw std::invalid_argument("GPTConfig: " + why); };
  auto one_of = [&](const char* field, const std::string& value, const std::string& allowed,
                    std::initializer_list<const char*> values) {
    for (const char* v : values)
      if (value == v) return;
    fail(std::string(field) + " must be " + allowed + ", got '" + value + "'");
  };
  if (c.vocab <= 0 || c.context <= 0 || c.d_model <= 0 || c.nhead <= 0 || c.num_layers < 0 ||
      c.dim_feedforward <= 0)
    fail("vocab, context, d_model, nhead and dim_feedforward must be positive and num_layers >= 0");
  if (c.d_model % c.nhead != 0)
    fail("d_model " + std::to_string(c.d_model) + " must be divisible by nhead " +
         std::to_string(c.nhead));
  if (!(c.dropout >= 0 && c.dropout < 1)) fail("dropout must be in [0, 1)");
  one_of("position", c.position, "'learned', 'sinusoidal' or 'rope'",
         {"learned", "sinusoidal", "rope"});
  one_of("norm", c.norm, "'layer' (LayerNorm) or 'rms' (RMSNorm)", {"layer", "rms"});
  one_of("mlp", c.mlp, "'gelu' (two linear layers and an activation) or 'swiglu'",
         {"gelu", "swiglu"});
  if (c.mlp == "gelu")
    one_of("activation", c.activation, "'gelu', 'gelu_tanh' or 'relu'", {"gelu", "gelu_tanh", "relu"});
  if (c.num_kv_heads < 0 || (c.num_kv_heads > 0 && c.nhead % c.num_kv_heads != 0))
    fail("num_kv_heads " + std::to_string(c.num_kv_heads) + " must divide nhead " +
         std::to_string(c.nhead) + " (0 means nhead; 1 is multi-query attention)");
  if (c.position == "rope") {
    if ((c.d_model / c.nhead) % 2 != 0)
      fail("position 'rope' needs an even head size, got d_model / nhead = " +
           std::to_string(c.d_model / c.nhead));
    if (!(c.rope_base > 1)) fail("rope_base must be > 1, got " + std::to_string(c.rope_base));
  }
}

namespace {
std::shared_ptr<UnaryModule> make_gpt_norm(const GPTConfig& c) {
  if (c.norm == "rms") return std::make_shared<RMSNorm>(c.d_model, 1e-5);
  return std::make_shared<LayerNorm>(c.d_model, 1e-5);
}
}  // namespace

// The construction order is TransformerEncoderLayer's (attention, linear1, linear2, ...), so
// that a default GPTBlock draws the same initial weights from `gen` as GPT-2's block did.
GPTBlock::GPTBlock(const GPTConfig& c, Generator& gen) : config(c) {
  validate(c);
  self_attn = register_module(
      "self_attn", std::make_shared<MultiheadAttention>(c.d_model, c.nhead, c.dropout, true, gen, 0,
                                                        0, c.num_kv_heads, c.position == "rope",
                                                        c.rope_base));
  if (c.mlp == "swiglu") {
    feed_forward = register_module(
        "feed_forward", std::make_shared<SwiGLU>(c.d_model, c.dim_feedforward, false, gen));
  } else {
    linear1 = register_module("linear1", std::make_shared<Linear>(c.d_model, c.dim_feedforward, true, gen));
    activation = register_module("activation", make_activation(c.activation));
    dropout = register_module("dropout", std::make_shared<Dropout>(c.dropout, gen));
    linear2 = register_module("linear2", std::make_shared<Linear>(c.dim_feedforward, c.d_model, true, gen));
  }
  norm1 = register_module("norm1", make_gpt_norm(c));
  norm2 = register_module("norm2", make_gpt_norm(c));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(c.dropout, gen));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(c.dropout, gen));
}

Tensor GPTBlock::mlp_forward(const Tensor& x, Site site) {
  // Position-wise: the same MLP on every position independently.
  Tensor y = feed_forward ? (*feed_forward)(x, site)
                          : (*linear2)((*dropout)((*activation)((*linear1)(x, site), site), site), site);
  return (*dropout2)(y, site);
}

// The residual sums are autograd::add rather than `+`, which would record this file's line.
Tensor GPTBlock::forward(const Tensor& x, const AttentionMasks& masks, Site site) {
  Tensor normed = (*norm1)(x, site);
  AttentionOutput attended = (*self_attn)(normed, normed, normed, masks,
                                          /*need_weights=*/keep_attention,
                                          /*average_attn_weights=*/false, site);
  if (keep_attention) last_attention = attended.weights.detach();
  Tensor h = autograd::add(x, (*dropout1)(attended.output, site), site);
  h = autograd::add(h, mlp_forward((*norm2)(h, site), site), site);
  call_forward_hooks(h);
  return h;
}

Tensor GPTBlock::forward_cached(const Tensor& x, KVCache& cache, Site site) {
  Tensor h = autograd::add(
      x, (*dropout1)(self_attn->forward_cached((*norm1)(x, site), cache, false, site).output, site),
      site);
  return autograd::add(h, mlp_forward((*norm2)(h, site), site), site);
}

std::string GPTBlock::extra_repr() const {
  std::ostringstream s;
  s << "d_model=" << config.d_model << ", nhead=" << config.nhead;
  if (config.num_kv_heads > 0 && config.num_kv_heads != config.nhead)
    s << ", num_kv_heads=" << config.num_kv_heads;
  s << ", norm=" << config.norm << ", mlp=" << config.mlp;
  if (config.mlp == "gelu") s << ", activation=" << config.activation;
  s << ", dim_feedforward=" << config.dim_feedforward << ", dropout=" << config.dropout;
  if (config.position == "rope") s << ", rotary=true";
  return s.str();
}

GPT::GPT(const GPTConfig& c, Generator& gen) : config(c) {
  validate(c);
  tok_embed = register_module("tok_embed", std::make_shared<Embedding>(c.vocab, c.d_model, gen));
  if (c.position == "learned")
    pos_embed = register_module("pos_embed", std::make_shared<LearnedPositionalEmbedding>(c.context, c.d_model, gen));
  else if (c.position == "sinusoidal")
    pos_encoding = register_module("pos_encoding", std::make_shared<SinusoidalPositionalEncoding>(c.context, c.d_model));
  layers = register_module("layers", std::make_shared<ModuleList<GPTBlock>>());
  for (std::int64_t i = 0; i < c.num_layers; ++i)
    layers->append(std::make_shared<GPTBlock>(c, gen));
  norm = register_module("norm", make_gpt_norm(c));
  head = register_module("head", std::make_shared<Linear>(c.d_model, c.vocab, false, gen));
}

Tensor GPT::embed(const Tensor& ids, std::int64_t offset, Site site) {
  Tensor tokens = tok_embed->forward(ids, site);  // [B, T, E]
  if (pos_embed) return pos_embed->forward(tokens, offset, site);
  if (pos_encoding) return pos_encoding->forward(tokens, offset, site);
  return tokens;  // rope: positions enter as rotations of q and k inside every attention
}

Tensor GPT::forward(const Tensor& ids, Site site) {
  if (ids.dim() != 2 || ids.size(1) > config.context)
    throw std::invalid_argument("GPT: expected ids [B, T <= " + std::to_string(config.context) +
                                "], got " + tensor::shape_str(ids.shape()));
  Tensor h = embed(ids, 0, site);
  for (auto& layer : layers->items()) h = layer->forward(h, {.is_causal = true}, site);
  Tensor logits = (*head)((*norm)(h, site), site);
  call_forward_hooks(logits);
  return logits;
}

Tensor GPT::forward_cached(const Tensor& ids, std::vector<KVCache>& caches, Site site) {
  if (caches.size() != layers->size()) caches.resize(layers->size());
  if (ids.dim() != 2)
    throw std::invalid_argument("GPT: expected ids [B, T_new], got " + tensor::shape_str(ids.shape()));
  std::int64_t past = caches.empty() ? 0 : caches[0].length();
  if (past + ids.size(1) > config.context)
    throw std::invalid_argument("GPT: generating beyond the context of " +
                                std::to_string(config.context) + " positions");
  Tensor h = embed(ids, past, site);
  for (std::size_t i = 0; i < layers->size(); ++i)
    h = (*layers)[i].forward_cached(h, caches[i], site);
  return (*head)((*norm)(h, site), site);
}

Tensor GPT::generate(const Tensor& prompt, std::int64_t max_new_tokens,
                     const SamplingOptions& sampling, Generator& gen, bool use_cache,
                     Site site) {
  autograd::NoGradGuard no_grad;
  bool was_training = is_training();
  eval();
  Tensor sequence = prompt;
  std::vector<KVCache> caches;
  Tensor next_input = prompt;  // with the cache, only tokens the model has not seen yet
  for (std::int64_t step = 0; step < max_new_tokens; ++step) {
    Tensor logits = use_cache ? forward_cached(next_input, caches, site) : forward(sequence, site);
    Tensor last = logits.select(1, -1, site);  // [B, V]: the prediction for the next position
    Tensor next = sample_next_token(last, sampling, gen).unsqueeze(1, site);  // [B, 1]
    sequence = autograd::cat({sequence, next}, 1, site);
    next_input = next;
  }
  train(was_training);
  return sequence;
}

// ---- BERT ----------------------------------------------------------------------------------------

BertEncoder::BertEncoder(const BertConfig& c, Generator& gen) : config(c) {
  const std::int64_t E = c.layer.d_model;
  tok_embed = register_module("tok_embed", std::make_shared<Embedding>(c.vocab, E, gen));
  pos_embed = register_module("pos_embed", std::make_shared<LearnedPositionalEmbedding>(c.max_len, E, gen));
  layers = register_module("layers", std::make_shared<ModuleList<TransformerEncoderLayer>>());
  for (std::int64_t i = 0; i < c.num_layers; ++i)
    layers->append(std::make_shared<TransformerEncoderLayer>(c.layer, gen));
  if (c.layer.norm_first) norm = register_module("norm", std::make_shared<LayerNorm>(E));
  mlm_head = register_module("mlm_head", std::make_shared<Linear>(E, c.vocab, true, gen));
  if (c.num_classes > 0)
    classifier = register_module("classifier", std::make_shared<Linear>(E, c.num_classes, true, gen));
}

Tensor BertEncoder::forward(const Tensor& ids, const Tensor& padding, Site site) {
  if (ids.dim() != 2 || ids.size(1) > config.max_len)
    throw std::invalid_argument("BertEncoder: expected ids [B, T <= " +
                                std::to_string(config.max_len) + "], got " +
                                tensor::shape_str(ids.shape()));
  Tensor h = pos_embed->forward(tok_embed->forward(ids, site), 0, site);
  for (auto& layer : layers->items()) h = layer->forward(h, {.key_padding_mask = padding}, site);
  return norm ? (*norm)(h, site) : h;
}

Tensor BertEncoder::classify(const Tensor& hidden, Site site) {
  if (!classifier) throw std::logic_error("BertEncoder: built with num_classes = 0");
  return (*classifier)(hidden.select(1, 0, site), site);  // the [CLS] position
}

Tensor BertEncoder::mlm_logits(const Tensor& hidden, Site site) {
  return (*mlm_head)(hidden, site);
}

void BertEncoder::keep_attention(bool on) {
  for (auto& layer : layers->items()) layer->keep_attention = on;
}

// ---- decoding ------------------------------------------------------------------------------------

Tensor greedy_decode(Transformer& model, const Tensor& src, const Tensor& src_padding,
                     std::int64_t max_len, std::int64_t bos, std::int64_t eos, Site site) {
  autograd::NoGradGuard no_grad;
  bool was_training = model.is_training();
  model.eval();
  const std::int64_t B = src.size(0);
  Tensor memory = model.encode(src, src_padding, site);  // the source is encoded once
  Tensor tgt(tensor::full({B, 1}, double(bos), DType::Int64, src.device()));
  std::vector<bool> finished(B, false);
  for (std::int64_t step = 0; step < max_len; ++step) {
    Tensor logits = model.decode(tgt, memory, src_padding, Tensor(), site);  // [B, t, V]
    std::vector<std::int64_t> next = autograd::argmax(logits.select(1, -1), -1).to_vector<std::int64_t>();
    bool all_done = true;
    for (std::int64_t b = 0; b < B; ++b) {
      if (finished[b]) next[b] = eos;  // keep finished rows at eos
      finished[b] = finished[b] || next[b] == eos;
      all_done = all_done && finished[b];
    }
    tgt = autograd::cat({tgt, Tensor(tensor::from_vector(next, {B, 1}).to(src.device()))}, 1,
                        site);
    if (all_done) break;
  }
  model.train(was_training);
  return tgt.slice(1, 1, tgt.size(1));
}

}  // namespace nn
