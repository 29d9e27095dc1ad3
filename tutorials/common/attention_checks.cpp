#include "tutorials/common/attention_checks.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <stdexcept>

#include "tensor/ops.hpp"
#include "tensor/shape.hpp"

namespace tutorial {

namespace {

using tensor::Array;
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
  Shape batch = tensor::broadcast_shapes(leading_dims(q), leading_dims(k), "attention_by_loops");
  batch = tensor::broadcast_shapes(batch, leading_dims(v), "attention_by_loops");
  if (mask.defined() && mask.dim() > 2)
    batch = tensor::broadcast_shapes(batch, leading_dims(mask), "attention_by_loops (mask)");
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
  Shape batch = tensor::broadcast_shapes(leading_dims(q), leading_dims(k), "additive_attention");
  batch = tensor::broadcast_shapes(batch, leading_dims(v), "additive_attention");
  if (mask.defined() && mask.dim() > 2)
    batch = tensor::broadcast_shapes(batch, leading_dims(mask), "additive_attention (mask)");
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

double max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape())
    throw std::invalid_argument("max_abs_diff: shapes " + tensor::shape_str(a.shape()) + " and " +
                                tensor::shape_str(b.shape()) + " differ");
  std::vector<double> x = a.data().to(DType::Float64).contiguous().to_vector<double>();
  std::vector<double> y = b.data().to(DType::Float64).contiguous().to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] == y[i]) continue;  // also equal infinities
    double diff = std::fabs(x[i] - y[i]);
    if (std::isnan(diff)) return kInf;
    worst = std::max(worst, diff);
  }
  return worst;
}

std::vector<double> matrix_values(const Tensor& t, const Tensor& masked) {
  Array m = t.data().to(DType::Float64);
  Array blocked = masked.defined() ? masked.data().expand(t.shape()) : Array();
  while (m.dim() > 2) {
    m = m.select(0, 0);
    if (blocked.defined()) blocked = blocked.select(0, 0);
  }
  std::vector<double> values = m.contiguous().to_vector<double>();
  if (blocked.defined()) {
    std::vector<double> b = blocked.to(DType::Float64).contiguous().to_vector<double>();
    for (std::size_t i = 0; i < values.size(); ++i)
      if (b[i] != 0) values[i] = std::numeric_limits<double>::quiet_NaN();
  }
  return values;
}

std::string picture_path(const std::string& dir, const std::string& name) {
  std::string path = (std::filesystem::path(dir) / name).string();
  std::printf("  wrote %s\n", path.c_str());
  return path;
}

void print_matrix(const std::string& title, const Tensor& t, int precision, std::int64_t max_rows,
                  std::int64_t max_cols) {
  Array m = t.data().to(DType::Float64);
  while (m.dim() > 2) m = m.select(0, 0);
  if (m.dim() < 2) m = m.reshape({1, -1});
  const std::int64_t rows = m.size(0), cols = m.size(1);
  const std::int64_t shown_rows = std::min(rows, max_rows), shown_cols = std::min(cols, max_cols);
  std::printf("  %s   %s%s\n", title.c_str(), tensor::shape_str(t.shape()).c_str(),
              t.dim() > 2 ? " (first matrix)" : "");
  // Scientific notation when fixed point would hide the numbers (tiny weights, huge scores).
  bool scientific = false;
  for (std::int64_t i = 0; i < shown_rows; ++i)
    for (std::int64_t j = 0; j < shown_cols; ++j) {
      double x = std::fabs(m.at({i, j}));
      if (std::isfinite(x) && x != 0 && (x < std::pow(10.0, -precision) || x >= 1e6))
        scientific = true;
    }
  for (std::int64_t i = 0; i < shown_rows; ++i) {
    std::printf("    [");
    for (std::int64_t j = 0; j < shown_cols; ++j) {
      double x = m.at({i, j});
      if (scientific)
        std::printf(" %*.*e", precision + 7, precision - 1, x);
      else
        std::printf(" %*.*f", precision + 6, precision, x);
    }
    std::printf("%s ]\n", shown_cols < cols ? " ..." : "");
  }
  if (shown_rows < rows || shown_cols < cols)
    std::printf("    (showing %lld x %lld of %lld x %lld)\n", (long long)shown_rows,
                (long long)shown_cols, (long long)rows, (long long)cols);
}

}  // namespace tutorial
