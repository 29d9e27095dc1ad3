// reference.cpp — see reference.hpp. Everything here is computed in float64.
#include "tutorials/common/reference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "tensor/ops.hpp"
#include "tensor/shape.hpp"

namespace tutorial {

namespace {

using tensor::DType;
using tensor::Shape;

const double kInf = std::numeric_limits<double>::infinity();

Shape leading_dims(const Tensor& x) {
  if (x.dim() <= 2) return {};
  return Shape(x.shape().begin(), x.shape().end() - 2);
}

// The elements of x brought to shape batch + [rows, cols] (broadcasting), row-major, as doubles.
std::vector<double> values_at(const Tensor& x, const Shape& batch, std::int64_t rows,
                              std::int64_t cols) {
  Shape target = batch;
  target.push_back(rows);
  target.push_back(cols);
  return x.data().to(DType::Float64).expand(target).contiguous().to_vector<double>();
}

// A mask as numbers to add to the scores: bool true -> -inf, bool false -> 0, float as given.
std::vector<double> additive_mask(const Tensor& mask, const Shape& batch, std::int64_t tq,
                                  std::int64_t tk) {
  std::size_t count = static_cast<std::size_t>(tensor::shape_numel(batch) * tq * tk);
  if (!mask.defined()) return std::vector<double>(count, 0.0);
  std::vector<double> values = values_at(mask, batch, tq, tk);
  if (mask.dtype() == DType::Bool)
    for (double& x : values) x = x != 0 ? -kInf : 0.0;
  return values;
}

// The batch dims that q, k, v (and a mask with more than 2 dims) broadcast to.
Shape batch_shape(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                  const std::string& op) {
  Shape batch = tensor::broadcast_shapes(leading_dims(q), leading_dims(k), op.c_str());
  batch = tensor::broadcast_shapes(batch, leading_dims(v), op.c_str());
  if (mask.defined() && mask.dim() > 2)
    batch = tensor::broadcast_shapes(batch, leading_dims(mask), (op + " (mask)").c_str());
  return batch;
}

Shape with_last(Shape batch, std::int64_t rows, std::int64_t cols) {
  batch.push_back(rows);
  batch.push_back(cols);
  return batch;
}

Tensor as_tensor(const std::vector<double>& values, const Shape& shape) {
  return autograd::from_vector(values, shape);
}

// softmax over each row of `scores` [rows, tk] followed by weights . values; fills weights and
// output of one batch element. Counts the softmax and the weighted sum when flops is given.
void softmax_and_mix(const double* scores, const double* values, std::int64_t tq, std::int64_t tk,
                     std::int64_t dv, double* weights, double* output, std::int64_t* flops) {
  for (std::int64_t i = 0; i < tq; ++i) {
    std::vector<double> row(scores + i * tk, scores + (i + 1) * tk);
    std::vector<double> w = softmax_by_loop(row);
    // softmax: a subtract, an exp, an add into the sum and a divide per key
    if (flops) *flops += 4 * tk;
    for (std::int64_t j = 0; j < tk; ++j) weights[i * tk + j] = w[j];
    for (std::int64_t c = 0; c < dv; ++c) {
      double sum = 0;
      for (std::int64_t j = 0; j < tk; ++j) sum += w[j] * values[j * dv + c];
      output[i * dv + c] = sum;
    }
    if (flops) *flops += 2 * tk * dv;  // a multiply and an add per (key, value column)
  }
}

}  // namespace

// ---- plain loops
// ----------------------------------------------------------------------------------

std::vector<double> softmax_by_loop(const std::vector<double>& row) {
  double max = -kInf;
  for (double x : row) max = std::max(max, x);
  std::vector<double> out(row.size(), 0.0);
  if (max == -kInf) return out;  // every entry masked: zeros, not 0/0
  double sum = 0;
  for (std::size_t j = 0; j < row.size(); ++j) {
    out[j] = row[j] == -kInf ? 0.0 : std::exp(row[j] - max);
    sum += out[j];
  }
  for (double& x : out) x /= sum;
  return out;
}

LoopAttention attention_by_loops(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                                 const Tensor& mask, std::int64_t* flops) {
  if (q.dim() < 2 || k.dim() < 2 || v.dim() < 2 || q.size(-1) != k.size(-1) ||
      k.size(-2) != v.size(-2))
    throw std::invalid_argument(
        "attention_by_loops: expected q [..., Tq, D], k [..., Tk, D], "
        "v [..., Tk, Dv], got " +
        tensor::shape_str(q.shape()) + ", " + tensor::shape_str(k.shape()) + ", " +
        tensor::shape_str(v.shape()));
  const std::int64_t tq = q.size(-2), tk = k.size(-2), d = q.size(-1), dv = v.size(-1);
  const Shape batch = batch_shape(q, k, v, mask, "attention_by_loops");
  const std::int64_t nbatch = tensor::shape_numel(batch);

  std::vector<double> qs = values_at(q, batch, tq, d), ks = values_at(k, batch, tk, d),
                      vs = values_at(v, batch, tk, dv), ms = additive_mask(mask, batch, tq, tk);
  std::vector<double> scores(nbatch * tq * tk), weights(nbatch * tq * tk), output(nbatch * tq * dv);
  for (std::int64_t b = 0; b < nbatch; ++b) {
    for (std::int64_t i = 0; i < tq; ++i) {
      for (std::int64_t j = 0; j < tk; ++j) {
        double dot = 0;  // q_i . k_j
        for (std::int64_t c = 0; c < d; ++c)
          dot += qs[(b * tq + i) * d + c] * ks[(b * tk + j) * d + c];
        if (flops) *flops += 2 * d + (scale != 1.0 ? 1 : 0);  // d multiplies and d adds (+ scaling)
        std::int64_t at = (b * tq + i) * tk + j;
        scores[at] = dot * scale + ms[at];
      }
    }
    softmax_and_mix(&scores[b * tq * tk], &vs[b * tk * dv], tq, tk, dv, &weights[b * tq * tk],
                    &output[b * tq * dv], flops);
  }
  return {as_tensor(scores, with_last(batch, tq, tk)), as_tensor(weights, with_last(batch, tq, tk)),
          as_tensor(output, with_last(batch, tq, dv))};
}

LoopAttention additive_attention_by_loops(const Tensor& q, const Tensor& k, const Tensor& v,
                                          const Tensor& w_q, const Tensor& w_k, const Tensor& w_v,
                                          const Tensor& mask, std::int64_t* flops) {
  const std::int64_t tq = q.size(-2), tk = k.size(-2), dq = q.size(-1), dk = k.size(-1),
                     dv = v.size(-1), hidden = w_q.size(0);
  if (w_q.shape() != Shape{hidden, dq} || w_k.shape() != Shape{hidden, dk} ||
      w_v.shape() != Shape{1, hidden} || k.size(-2) != v.size(-2))
    throw std::invalid_argument("additive_attention_by_loops: shapes do not fit together");
  const Shape batch = batch_shape(q, k, v, mask, "additive_attention_by_loops");
  const std::int64_t nbatch = tensor::shape_numel(batch);
  std::vector<double> qs = values_at(q, batch, tq, dq), ks = values_at(k, batch, tk, dk),
                      vs = values_at(v, batch, tk, dv), ms = additive_mask(mask, batch, tq, tk);
  std::vector<double> wq = w_q.data().to(DType::Float64).contiguous().to_vector<double>();
  std::vector<double> wk = w_k.data().to(DType::Float64).contiguous().to_vector<double>();
  std::vector<double> wv = w_v.data().to(DType::Float64).contiguous().to_vector<double>();

  // project(x)[h] = sum_a W[h, a] x[a], once per query and once per key (not once per pair).
  auto project = [&](const double* x, const std::vector<double>& w, std::int64_t in) {
    std::vector<double> out(hidden, 0.0);
    for (std::int64_t h = 0; h < hidden; ++h)
      for (std::int64_t a = 0; a < in; ++a) out[h] += w[h * in + a] * x[a];
    if (flops) *flops += 2 * hidden * in;
    return out;
  };

  std::vector<double> scores(nbatch * tq * tk), weights(nbatch * tq * tk), output(nbatch * tq * dv);
  for (std::int64_t b = 0; b < nbatch; ++b) {
    std::vector<std::vector<double>> pq, pk;
    for (std::int64_t i = 0; i < tq; ++i) pq.push_back(project(&qs[(b * tq + i) * dq], wq, dq));
    for (std::int64_t j = 0; j < tk; ++j) pk.push_back(project(&ks[(b * tk + j) * dk], wk, dk));
    for (std::int64_t i = 0; i < tq; ++i) {
      for (std::int64_t j = 0; j < tk; ++j) {
        double score = 0;
        for (std::int64_t h = 0; h < hidden; ++h) score += wv[h] * std::tanh(pq[i][h] + pk[j][h]);
        if (flops) *flops += 4 * hidden;  // an add, a tanh, a multiply and an add per hidden unit
        std::int64_t at = (b * tq + i) * tk + j;
        scores[at] = score + ms[at];
      }
    }
    softmax_and_mix(&scores[b * tq * tk], &vs[b * tk * dv], tq, tk, dv, &weights[b * tq * tk],
                    &output[b * tq * dv], flops);
  }
  return {as_tensor(scores, with_last(batch, tq, tk)), as_tensor(weights, with_last(batch, tq, tk)),
          as_tensor(output, with_last(batch, tq, dv))};
}

Tensor linear_by_loops(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const std::int64_t in = weight.size(1), out = weight.size(0);
  const std::int64_t rows = x.numel() / std::max<std::int64_t>(1, x.size(-1));  // positions
  if (x.size(-1) != in)
    throw std::invalid_argument(
        "linear_by_loops: x " + tensor::shape_str(x.shape()) +
        " does not fit weight [out, in] = " + tensor::shape_str(weight.shape()));
  std::vector<double> X = x.to_vector<double>(), W = weight.to_vector<double>();
  std::vector<double> b = bias.defined() ? bias.to_vector<double>() : std::vector<double>(out, 0.0);
  std::vector<double> y(rows * out);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t o = 0; o < out; ++o) {
      double sum = b[o];
      for (std::int64_t i = 0; i < in; ++i) sum += X[r * in + i] * W[o * in + i];
      y[r * out + o] = sum;
    }
  Shape shape = x.shape();
  shape.back() = out;
  return autograd::from_vector(y, shape);
}

// ---- from scratch, with plain tensor ops
// ----------------------------------------------------------

namespace from_scratch {

Tensor multihead_attention(const nn::MultiheadAttention& mha, const Tensor& query_input,
                           const Tensor& kv_input, const Tensor& blocked, Tensor* weights) {
  const std::int64_t B = query_input.size(0), T = query_input.size(1), S = kv_input.size(1);
  const std::int64_t H = mha.num_heads, D = mha.head_dim, E = mha.embed_dim;
  auto project = [](const nn::Linear& layer, const Tensor& x) {  // x W^T + b
    return autograd::matmul(x, layer.weight.transpose(0, 1)) + layer.bias;
  };
  auto split_heads = [&](const Tensor& x, std::int64_t len) {  // [B, len, E] -> [B, H, len, D]
    return x.reshape({B, len, H, D}).permute({0, 2, 1, 3});
  };
  Tensor q = split_heads(project(*mha.q_proj, query_input), T);                     // [B, H, T, D]
  Tensor k = split_heads(project(*mha.k_proj, kv_input), S);                        // [B, H, S, D]
  Tensor v = split_heads(project(*mha.v_proj, kv_input), S);                        // [B, H, S, D]
  Tensor scores = autograd::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(D));  // [B, H, T, S]
  if (blocked.defined()) scores = autograd::masked_fill(scores, blocked, -INFINITY);
  Tensor w = autograd::softmax(scores, -1);  // [B, H, T, S]
  if (weights) *weights = w;
  Tensor heads = autograd::matmul(w, v);                           // [B, H, T, D]
  Tensor concat = heads.permute({0, 2, 1, 3}).reshape({B, T, E});  // [B, T, H*D = E]
  return project(*mha.out_proj, concat);                           // [B, T, E]
}

Tensor layer_norm(const nn::LayerNorm& norm, const Tensor& x) {
  Tensor mean = x.mean({-1}, true);
  Tensor centred = x - mean;
  Tensor variance = autograd::square(centred).mean({-1}, true);  // biased, as LayerNorm
  Tensor normalised = centred / autograd::sqrt(variance + norm.eps);
  return normalised * norm.weight + norm.bias;
}

Tensor feed_forward(const nn::Linear& linear1, const nn::Linear& linear2, const Tensor& x) {
  Tensor hidden =
      autograd::relu(autograd::matmul(x, linear1.weight.transpose(0, 1)) + linear1.bias);
  return autograd::matmul(hidden, linear2.weight.transpose(0, 1)) + linear2.bias;
}

}  // namespace from_scratch

}  // namespace tutorial
