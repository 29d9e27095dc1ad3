#include "nn/attention.hpp"

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "nn/init.hpp"
#include "tensor/factory.hpp"
#include "tensor/nn_ops.hpp"
#include "tensor/ops.hpp"

namespace nn {

using autograd::Site;

namespace {

const double kInf = std::numeric_limits<double>::infinity();

// A bool mask as an additive float mask: -inf where blocked, 0 where allowed.
Tensor as_additive(const Tensor& mask, DType dtype) {
  if (mask.dtype() != DType::Bool) return mask.to(dtype);
  Array blocked = tensor::where(mask.data(), tensor::scalar(-kInf, dtype, mask.device()),
                                tensor::scalar(0.0, dtype, mask.device()));
  return Tensor(blocked);
}

// One mask meaning "blocked by a or by b"; either may be undefined.
Tensor combine_masks(const Tensor& a, const Tensor& b, DType dtype, Site site) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  if (a.dtype() == DType::Bool && b.dtype() == DType::Bool) return autograd::logical_or(a, b);
  return autograd::add(as_additive(a, dtype), as_additive(b, dtype), site);
}

// scores with the mask applied: bool -> -inf where true, float -> added.
Tensor apply_mask(const Tensor& scores, const Tensor& mask, Site site) {
  if (!mask.defined()) return scores;
  if (mask.dtype() == DType::Bool) return autograd::masked_fill(scores, mask, -kInf, site);
  return autograd::add(scores, mask.to(scores.dtype()), site);
}

void check_qkv(const Tensor& q, const Tensor& k, const Tensor& v, const char* op,
               bool same_qk_dim = true) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument(std::string(op) + ": " + why + " (q " +
                                tensor::shape_str(q.shape()) + ", k " +
                                tensor::shape_str(k.shape()) + ", v " +
                                tensor::shape_str(v.shape()) + ")");
  };
  if (q.dim() < 2 || k.dim() < 2 || v.dim() < 2) fail("q, k and v need at least 2 dims [.., T, D]");
  if (same_qk_dim && q.size(-1) != k.size(-1)) fail("queries and keys must have the same last dim");
  if (k.size(-2) != v.size(-2)) fail("keys and values must have the same number of positions");
}

// The masks as one mask that broadcasts against the scores [..., Tq, Tk]: padding, then
// attn_mask, then the causal mask, combined (blocked by any of them).
Tensor one_mask(const AttentionMasks& masks, const Tensor& scores, const char* op, Site site) {
  Tensor blocked;
  if (masks.key_padding_mask.defined()) {
    const Tensor& pad = masks.key_padding_mask;
    const std::int64_t tk = scores.size(-1);
    if (scores.dim() < 3 || pad.dim() != 2 || pad.size(0) != scores.size(0) || pad.size(1) != tk)
      throw std::invalid_argument(std::string(op) + ": key_padding_mask must be [B, Tk] = [" +
                                  std::to_string(scores.size(0)) + ", " + std::to_string(tk) +
                                  "] for scores " + tensor::shape_str(scores.shape()) + ", got " +
                                  tensor::shape_str(pad.shape()));
    Shape view(scores.shape().size(), 1);  // [B, 1, ..., 1, Tk]: one row per batch entry
    view.front() = pad.size(0);
    view.back() = tk;
    blocked = pad.view(view, site);
  }
  blocked = combine_masks(blocked, masks.attn_mask, scores.dtype(), site);
  if (masks.is_causal)
    blocked = combine_masks(
        blocked, causal_mask(scores.size(-2), scores.size(-1), 0, scores.device()),
        scores.dtype(), site);
  return blocked;
}

// The attention core shared by the plain and the scaled version.
AttentionOutput attend(const Tensor& q, const Tensor& k, const Tensor& v,
                       const AttentionMasks& masks, double scale, double dropout_p, Generator& gen,
                       const char* op, Site site) {
  // scores[i, j] = q_i . k_j (times scale): how well query i matches key j.   [..., Tq, Tk]
  Tensor scores = autograd::matmul(q, k.transpose(-2, -1, site), site);
  if (scale != 1.0) scores = autograd::mul(scores, autograd::scalar_like(scores, scale), site);
  scores = apply_mask(scores, one_mask(masks, scores, op, site), site);
  // weights[i, :] is a probability distribution over the keys (all zero if fully masked).
  Tensor weights = autograd::softmax(scores, -1, site);
  Tensor used = dropout_p > 0 ? autograd::dropout(weights, dropout_p, true, gen, site) : weights;
  // Each output row is a weighted average of the value rows.                 [..., Tq, Dv]
  return {autograd::matmul(used, v, site), weights};
}

}  // namespace

AttentionOutput dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                      const AttentionMasks& masks, Site site) {
  check_qkv(q, k, v, "dot_product_attention");
  return attend(q, k, v, masks, 1.0, 0.0, tensor::default_generator(), "dot_product_attention",
                site);
}

AttentionOutput scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                             const AttentionMasks& masks, double dropout_p,
                                             Generator& gen, Site site) {
  check_qkv(q, k, v, "scaled_dot_product_attention");
  // Dividing by sqrt(D) keeps the scores' variance near 1 whatever the head size, so softmax
  // does not saturate (tutorial 04 measures why that matters).
  double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  return attend(q, k, v, masks, scale, dropout_p, gen, "scaled_dot_product_attention", site);
}

bool fused_attention_supports(const Tensor& q, const AttentionMasks& masks) {
  return q.defined() && tensor::is_floating(q.dtype()) && tensor::has_fused_attention(q.device()) &&
         !masks.attn_mask.defined() &&
         (!masks.key_padding_mask.defined() || masks.key_padding_mask.dtype() == DType::Bool);
}

Tensor fused_scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                          const AttentionMasks& masks,
                                          std::int64_t causal_offset, Site site) {
  const char* op = "fused_scaled_dot_product_attention";
  if (masks.attn_mask.defined())
    throw std::invalid_argument(std::string(op) + ": an attn_mask is not supported (the kernel "
                                "computes its masks from indices); use "
                                "scaled_dot_product_attention");
  if (masks.key_padding_mask.defined() && masks.key_padding_mask.dtype() != DType::Bool)
    throw std::invalid_argument(std::string(op) + ": key_padding_mask must be bool (true = "
                                "padding), got " +
                                tensor::dtype_name(masks.key_padding_mask.dtype()));
  // As in scaled_dot_product_attention: 1/sqrt(D) keeps the scores' variance near 1.
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  return autograd::fused_attention(q, k, v, masks.key_padding_mask, masks.is_causal,
                                   causal_offset, scale, site);
}

Tensor causal_mask(std::int64_t tq, std::int64_t tk, std::int64_t offset, Device device) {
  // tril_mask is true where key j <= query i + offset is allowed; the mask marks the rest.
  return Tensor(tensor::logical_not(tensor::tril_mask(tq, tk, offset, device)));
}

// ---- AdditiveAttention ---------------------------------------------------------------------------

AdditiveAttention::AdditiveAttention(std::int64_t query_dim, std::int64_t key_dim,
                                     std::int64_t hidden_dim, Generator& gen) {
  w_q = register_module("w_q", std::make_shared<Linear>(query_dim, hidden_dim, false, gen));
  w_k = register_module("w_k", std::make_shared<Linear>(key_dim, hidden_dim, false, gen));
  v = register_module("v", std::make_shared<Linear>(hidden_dim, 1, false, gen));
}

AttentionOutput AdditiveAttention::forward(const Tensor& query, const Tensor& key,
                                           const Tensor& value, const AttentionMasks& masks,
                                           Site site) {
  // q and k may have different sizes: each has its own projection to the hidden size.
  check_qkv(query, key, value, "AdditiveAttention", /*same_qk_dim=*/false);
  // Every (query, key) pair gets its own small feed-forward score: project both to the hidden
  // size, add them with broadcasting, squash with tanh, and read out one number with v.
  Tensor projected_q = (*w_q)(query, site).unsqueeze(-2, site);  // [B, Tq, 1, hidden]
  Tensor projected_k = (*w_k)(key, site).unsqueeze(-3, site);    // [B, 1, Tk, hidden]
  Tensor features =
      autograd::tanh(autograd::add(projected_q, projected_k, site), site);  // [B, Tq, Tk, hidden]
  Tensor scores = (*v)(features, site).squeeze(-1, site);        // [B, Tq, Tk]
  scores = apply_mask(scores, one_mask(masks, scores, "AdditiveAttention", site), site);
  Tensor weights = autograd::softmax(scores, -1, site);
  AttentionOutput result{autograd::matmul(weights, value, site), weights};
  call_forward_hooks(result.output);
  return result;
}

std::string AdditiveAttention::extra_repr() const {
  return "query_dim=" + std::to_string(w_q->in_features) + ", key_dim=" +
         std::to_string(w_k->in_features) + ", hidden_dim=" + std::to_string(w_q->out_features);
}

// ---- grouped-query attention ---------------------------------------------------------------------

Tensor repeat_kv(const Tensor& kv, std::int64_t groups, Site site) {
  if (kv.dim() != 4 || groups <= 0)
    throw std::invalid_argument("repeat_kv: expected kv [B, Hkv, T, D] and groups >= 1, got " +
                                tensor::shape_str(kv.shape()) + " and groups " +
                                std::to_string(groups));
  if (groups == 1) return kv;
  const std::int64_t B = kv.size(0), Hkv = kv.size(1), T = kv.size(2), D = kv.size(3);
  // [B, Hkv, 1, T, D] -> [B, Hkv, groups, T, D] (a view: each kv head seen `groups` times)
  // -> [B, Hkv * groups, T, D]: head h = kv_head * groups + g, so head h reads kv head
  // h / groups. The reshape copies (an expanded view is not contiguous); its backward is a
  // reshape back, and expand's backward sums the groups' gradients into their kv head.
  return kv.unsqueeze(2, site).expand({B, Hkv, groups, T, D}, site).reshape({B, Hkv * groups, T, D}, site);
}

// ---- MultiheadAttention --------------------------------------------------------------------------

MultiheadAttention::MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads,
                                       double dropout, bool bias, Generator& gen,
                                       std::int64_t kdim, std::int64_t vdim,
                                       std::int64_t num_kv_heads, bool rotary, double rope_base)
    : embed_dim(embed_dim),
      num_heads(num_heads),
      num_kv_heads(num_kv_heads == 0 ? num_heads : num_kv_heads),
      dropout(dropout),
      rotary(rotary),
      rope_base(rope_base),
      gen_(gen) {
  if (num_heads <= 0 || embed_dim % num_heads != 0)
    throw std::invalid_argument("MultiheadAttention: embed_dim " + std::to_string(embed_dim) +
                                " must be divisible by num_heads " + std::to_string(num_heads));
  if (this->num_kv_heads <= 0 || num_heads % this->num_kv_heads != 0)
    throw std::invalid_argument("MultiheadAttention: num_kv_heads " + std::to_string(num_kv_heads) +
                                " must divide num_heads " + std::to_string(num_heads) +
                                " (0 means num_heads; 1 is multi-query attention)");
  if (!(dropout >= 0 && dropout < 1))
    throw std::invalid_argument("MultiheadAttention: dropout must be in [0, 1)");
  head_dim = embed_dim / num_heads;
  if (rotary && head_dim % 2 != 0)
    throw std::invalid_argument("MultiheadAttention: rotary needs an even head_dim (it turns pairs "
                                "of features), got embed_dim " + std::to_string(embed_dim) +
                                " / num_heads " + std::to_string(num_heads) + " = " +
                                std::to_string(head_dim));
  if (rotary && !(rope_base > 1))
    throw std::invalid_argument("MultiheadAttention: rope_base must be > 1, got " +
                                std::to_string(rope_base));
  kdim = kdim > 0 ? kdim : embed_dim;
  vdim = vdim > 0 ? vdim : embed_dim;
  const std::int64_t kv_dim = this->num_kv_heads * head_dim;  // = embed_dim for standard MHA
  q_proj = register_module("q_proj", std::make_shared<Linear>(embed_dim, embed_dim, bias, gen));
  k_proj = register_module("k_proj", std::make_shared<Linear>(kdim, kv_dim, bias, gen));
  v_proj = register_module("v_proj", std::make_shared<Linear>(vdim, kv_dim, bias, gen));
  out_proj = register_module("out_proj", std::make_shared<Linear>(embed_dim, embed_dim, bias, gen));
  // PyTorch's MultiheadAttention init: Xavier-uniform input projections, zero biases.
  for (auto& proj : {q_proj, k_proj, v_proj}) {
    init::xavier_uniform_(proj->weight, gen);
    if (bias) init::zeros_(proj->bias);
  }
  if (bias) init::zeros_(out_proj->bias);
}

Tensor MultiheadAttention::split_heads(const Tensor& x, std::int64_t heads, Site site) const {
  // [B, T, heads*D] -> [B, T, heads, D] -> [B, heads, T, D]: each head sees its own D
  // features; a view.
  return x.view({x.size(0), x.size(1), heads, head_dim}, site).transpose(1, 2, site);
}

Tensor MultiheadAttention::merge_heads(const Tensor& x, Site site) const {
  // [B, H, T, D] -> [B, T, H, D] -> [B, T, E]: concatenate the heads' outputs.
  return x.transpose(1, 2, site).reshape({x.size(0), x.size(2), embed_dim}, site);
}

Tensor MultiheadAttention::rotate(const Tensor& x, std::int64_t offset, Site site) const {
  // Turning q and k by their positions makes q_m . k_n depend on m - n only (tutorial 21).
  return rotary ? autograd::rotary_embedding(x, offset, rope_base, site) : x;
}

AttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key,
                                            const Tensor& value, const AttentionMasks& masks,
                                            bool need_weights, bool average_attn_weights,
                                            Site site) {
  if (query.dim() != 3 || key.dim() != 3 || value.dim() != 3 || query.size(-1) != embed_dim ||
      key.size(0) != query.size(0) || value.size(0) != query.size(0) ||
      key.size(1) != value.size(1))
    throw std::invalid_argument(
        "MultiheadAttention: expected query [B, Tq, " + std::to_string(embed_dim) +
        "], key [B, Tk, kdim], value [B, Tk, vdim] (batch first), got " +
        tensor::shape_str(query.shape()) + ", " + tensor::shape_str(key.shape()) + ", " +
        tensor::shape_str(value.shape()));
  const std::int64_t B = query.size(0), Tq = query.size(1), Tk = key.size(1);
  Tensor q = split_heads((*q_proj)(query, site), num_heads, site);     // [B, H, Tq, D]
  Tensor k = split_heads((*k_proj)(key, site), num_kv_heads, site);    // [B, Hkv, Tk, D]
  Tensor v = split_heads((*v_proj)(value, site), num_kv_heads, site);  // [B, Hkv, Tk, D]
  q = rotate(q, 0, site), k = rotate(k, 0, site);  // positions 0, 1, ... (rotary only)

  // Check the masks' shapes as PyTorch's MultiheadAttention takes them, and bring attn_mask to
  // one that broadcasts against the scores [B, H, Tq, Tk]; scaled_dot_product_attention
  // combines the masks.
  AttentionMasks head_masks = masks;
  if (masks.key_padding_mask.defined() && masks.key_padding_mask.shape() != Shape{B, Tk})
    throw std::invalid_argument("MultiheadAttention: key_padding_mask must be [B, Tk] = " +
                                tensor::shape_str({B, Tk}) + ", got " +
                                tensor::shape_str(masks.key_padding_mask.shape()));
  if (masks.attn_mask.defined()) {
    Tensor& attn = head_masks.attn_mask;
    if (attn.shape() == Shape{B * num_heads, Tq, Tk}) {
      attn = attn.view({B, num_heads, Tq, Tk}, site);
    } else if (attn.shape() != Shape{Tq, Tk}) {
      throw std::invalid_argument("MultiheadAttention: attn_mask must be [Tq, Tk] = " +
                                  tensor::shape_str({Tq, Tk}) + " or [B*H, Tq, Tk] = " +
                                  tensor::shape_str({B * num_heads, Tq, Tk}) + ", got " +
                                  tensor::shape_str(attn.shape()));
    }
  }
  double p = is_training() ? dropout : 0.0;
  AttentionOutput result;
  if (use_fused && !need_weights && p == 0.0 && fused_attention_supports(q, masks)) {
    // One kernel reads q, k and v through their strides; query head h reads kv head
    // h / groups directly, so GQA needs no repeat_kv copy. Its output is laid out [B, Tq, H, D]
    // in memory, so merging the heads is a view.
    Tensor heads = fused_scaled_dot_product_attention(q, k, v, masks, 0, site);  // [B, H, Tq, D]
    result.output = (*out_proj)(merge_heads(heads, site), site);                // [B, Tq, E]
    call_forward_hooks(result.output);
    return result;
  }
  // Each group of num_heads / num_kv_heads query heads reads the same key/value head.
  const std::int64_t groups = num_heads / num_kv_heads;
  AttentionOutput heads = scaled_dot_product_attention(
      q, repeat_kv(k, groups, site), repeat_kv(v, groups, site), head_masks, p, gen_, site);
  result.output = (*out_proj)(merge_heads(heads.output, site), site);  // [B, Tq, E]
  if (need_weights)
    result.weights = average_attn_weights ? autograd::mean(heads.weights, {1}, false, site)
                                          : heads.weights;
  call_forward_hooks(result.output);
  return result;
}

AttentionOutput MultiheadAttention::forward_cached(const Tensor& x, KVCache& cache,
                                                   bool need_weights, Site site) {
  const std::int64_t past = cache.length(), T_new = x.size(1);
  Tensor q = split_heads((*q_proj)(x, site), num_heads, site);     // [B, H, T_new, D]
  Tensor k = split_heads((*k_proj)(x, site), num_kv_heads, site);  // [B, Hkv, T_new, D]
  Tensor v = split_heads((*v_proj)(x, site), num_kv_heads, site);
  // The new positions are past, past + 1, ...: rotary turns them by their absolute position.
  q = rotate(q, past, site), k = rotate(k, past, site);
  // Only the Hkv key/value heads are kept:                           [B, Hkv, past + T_new, D]
  cache.k = cache.k.defined() ? autograd::cat({cache.k, k}, 2, site) : k;
  cache.v = cache.v.defined() ? autograd::cat({cache.v, v}, 2, site) : v;
  // New position i (absolute past + i) may see keys 0 .. past + i: a causal mask shifted by
  // `past`. The fused kernel takes the shift as causal_offset; the composed path needs the mask
  // as a tensor, since is_causal (aligned at the top left) cannot express it.
  if (use_fused && !need_weights && fused_attention_supports(q, {})) {
    Tensor heads = fused_scaled_dot_product_attention(q, cache.k, cache.v, {.is_causal = true},
                                                      past, site);  // [B, H, T_new, D]
    return {(*out_proj)(merge_heads(heads, site), site), Tensor()};
  }
  Tensor mask = T_new > 1 ? causal_mask(T_new, past + T_new, past, x.device()) : Tensor();
  const std::int64_t groups = num_heads / num_kv_heads;
  AttentionOutput heads =
      scaled_dot_product_attention(q, repeat_kv(cache.k, groups, site),
                                   repeat_kv(cache.v, groups, site), {.attn_mask = mask}, 0.0,
                                   gen_, site);
  AttentionOutput result{(*out_proj)(merge_heads(heads.output, site), site), Tensor()};
  if (need_weights) result.weights = autograd::mean(heads.weights, {1}, false, site);
  return result;
}

std::string MultiheadAttention::extra_repr() const {
  std::ostringstream s;
  s << "embed_dim=" << embed_dim << ", num_heads=" << num_heads;
  if (num_kv_heads != num_heads) s << ", num_kv_heads=" << num_kv_heads;
  s << ", dropout=" << dropout;
  if (rotary) s << ", rotary=true, rope_base=" << rope_base;
  return s.str();
}

// ---- positional encodings ------------------------------------------------------------------------

Array sinusoidal_positional_encoding(std::int64_t max_len, std::int64_t dim, DType dtype) {
  if (max_len <= 0 || dim <= 0)
    throw std::invalid_argument("sinusoidal_positional_encoding: sizes must be positive");
  if (!tensor::is_floating(dtype))
    throw std::invalid_argument("sinusoidal_positional_encoding: dtype must be float32 or "
                                "float64, got " + tensor::dtype_name(dtype));
  // In double, then rounded once: a float table computed in float and widened would give a
  // float64 model positions accurate to only ~1e-7.
  std::vector<double> table(static_cast<std::size_t>(max_len * dim));
  for (std::int64_t pos = 0; pos < max_len; ++pos)
    for (std::int64_t j = 0; j < dim; ++j) {
      // Pairs of features (2i, 2i+1) share a frequency 1 / 10000^(2i/dim): from one turn per
      // 2 pi positions down to one turn per 10000 * 2 pi positions.
      double frequency = std::pow(10000.0, -double(j / 2 * 2) / double(dim));
      double angle = double(pos) * frequency;
      table[pos * dim + j] = j % 2 == 0 ? std::sin(angle) : std::cos(angle);
    }
  return tensor::from_vector(table, {max_len, dim}).to(dtype);
}

SinusoidalPositionalEncoding::SinusoidalPositionalEncoding(std::int64_t max_len, std::int64_t dim) {
  table = register_buffer("table", Tensor(sinusoidal_positional_encoding(max_len, dim)));
}

Tensor SinusoidalPositionalEncoding::forward(const Tensor& x, std::int64_t offset, Site site) {
  if (x.dim() != 3 || x.size(2) != table.size(1) || offset < 0 || offset + x.size(1) > table.size(0))
    throw std::invalid_argument("SinusoidalPositionalEncoding: expected [B, T, " +
                                std::to_string(table.size(1)) + "] with offset + T <= " +
                                std::to_string(table.size(0)) + ", got " +
                                tensor::shape_str(x.shape()) + " at offset " +
                                std::to_string(offset));
  return autograd::add(
      x, table.slice(0, offset, offset + x.size(1), 1, site).to(x.dtype(), site), site);
}

void SinusoidalPositionalEncoding::buffers_to(DType dtype) {
  if (table.dtype() == dtype) return;
  Array exact = sinusoidal_positional_encoding(table.size(0), table.size(1), dtype);
  table.set_data(exact.to(table.device()));
}

std::string SinusoidalPositionalEncoding::extra_repr() const {
  return "max_len=" + std::to_string(table.size(0)) + ", dim=" + std::to_string(table.size(1));
}

LearnedPositionalEmbedding::LearnedPositionalEmbedding(std::int64_t max_len, std::int64_t dim,
                                                       Generator& gen) {
  weight = register_parameter("weight", autograd::zeros({max_len, dim}));
  init::normal_(weight, 0.0, 1.0, gen);  // as nn.Embedding
}

Tensor LearnedPositionalEmbedding::forward(const Tensor& x, std::int64_t offset, Site site) {
  if (x.dim() != 3 || x.size(2) != weight.size(1) || offset + x.size(1) > weight.size(0))
    throw std::invalid_argument("LearnedPositionalEmbedding: expected [B, T, " +
                                std::to_string(weight.size(1)) + "] with offset + T <= " +
                                std::to_string(weight.size(0)) + ", got " +
                                tensor::shape_str(x.shape()) + " at offset " +
                                std::to_string(offset));
  return autograd::add(x, weight.slice(0, offset, offset + x.size(1), 1, site), site);
}

std::string LearnedPositionalEmbedding::extra_repr() const {
  return "max_len=" + std::to_string(weight.size(0)) + ", dim=" + std::to_string(weight.size(1));
}

}  // namespace nn
