#include "tutorials/common/layer_checks.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "tensor/ops.hpp"

namespace layer_checks {

using autograd::DType;
using autograd::Shape;

double max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape())
    throw std::invalid_argument("max_abs_diff: shapes differ, " + tensor::shape_str(a.shape()) +
                                " vs " + tensor::shape_str(b.shape()));
  return tensor::max_abs_diff(a.data().to(DType::Float64), b.data().to(DType::Float64));
}

namespace loops {

namespace {
// Product of the dims before the last `keep` ones: how many matrices a [..., R, C] tensor holds.
std::int64_t leading(const Tensor& t, std::int64_t keep) {
  std::int64_t n = 1;
  for (std::int64_t d = 0; d < t.dim() - keep; ++d) n *= t.size(d);
  return n;
}
}  // namespace

Attention attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale,
                    const Tensor& blocked) {
  const std::int64_t tq = q.size(-2), tk = k.size(-2), d = q.size(-1), dv = v.size(-1);
  const std::int64_t batch = leading(q, 2);
  if (leading(k, 2) != batch || leading(v, 2) != batch || k.size(-1) != d || v.size(-2) != tk)
    throw std::invalid_argument("loops::attention: q, k, v do not fit together");
  std::vector<double> Q = q.to_vector<double>(), K = k.to_vector<double>(),
                      V = v.to_vector<double>();
  std::vector<bool> mask;
  if (blocked.defined()) {
    if (blocked.shape() != Shape{tq, tk})
      throw std::invalid_argument("loops::attention: blocked must be [Tq, Tk]");
    mask = blocked.to_vector<bool>();
  }
  std::vector<double> out(batch * tq * dv, 0.0), weights(batch * tq * tk, 0.0);
  for (std::int64_t b = 0; b < batch; ++b) {
    const double* qb = &Q[b * tq * d];
    const double* kb = &K[b * tk * d];
    const double* vb = &V[b * tk * dv];
    for (std::int64_t i = 0; i < tq; ++i) {
      // scores of query i against every allowed key, and their maximum (for a stable exp)
      std::vector<double> score(tk, 0.0);
      double top = -INFINITY;
      for (std::int64_t j = 0; j < tk; ++j) {
        if (!mask.empty() && mask[i * tk + j]) continue;
        double dot = 0;
        for (std::int64_t c = 0; c < d; ++c) dot += qb[i * d + c] * kb[j * d + c];
        score[j] = dot * scale;
        top = std::max(top, score[j]);
      }
      if (top == -INFINITY) continue;  // every key blocked: zero weights, zero output
      double total = 0;
      for (std::int64_t j = 0; j < tk; ++j) {
        bool allowed = mask.empty() || !mask[i * tk + j];
        score[j] = allowed ? std::exp(score[j] - top) : 0.0;
        total += score[j];
      }
      double* w = &weights[(b * tq + i) * tk];
      double* o = &out[(b * tq + i) * dv];
      for (std::int64_t j = 0; j < tk; ++j) {
        w[j] = score[j] / total;
        for (std::int64_t c = 0; c < dv; ++c) o[c] += w[j] * vb[j * dv + c];
      }
    }
  }
  Shape out_shape = q.shape(), weight_shape = q.shape();
  out_shape.back() = dv;
  weight_shape.back() = tk;
  return {autograd::from_vector(out, out_shape), autograd::from_vector(weights, weight_shape)};
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const std::int64_t in = weight.size(1), out = weight.size(0), rows = leading(x, 1);
  if (x.size(-1) != in)
    throw std::invalid_argument("loops::linear: x's last dim is not in_features");
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

}  // namespace loops

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

namespace pictures {

viz::Heatmap attention_map(const Tensor& weights, const std::string& title,
                           const std::string& y_label, const std::string& x_label) {
  if (weights.dim() != 2)
    throw std::invalid_argument("attention_map: expects [rows, cols], got " +
                                tensor::shape_str(weights.shape()));
  viz::Heatmap map(weights.to_vector<double>(), static_cast<int>(weights.size(0)),
                   static_cast<int>(weights.size(1)));
  map.set_title(title).set_y_label(y_label).set_x_label(x_label).set_range(0, 1).set_colorbar_label(
      "weight");
  return map;
}

void save_side_by_side(const std::vector<viz::Canvas>& panels, const std::string& title,
                       const std::string& path, int per_row) {
  const int margin = 20, gap = 16, title_height = title.empty() ? 0 : 3 * viz::text_height(3);
  const int count = static_cast<int>(panels.size()),
            columns = std::max(1, std::min(per_row, count));
  const int rows = (count + columns - 1) / columns;
  std::vector<int> column_width(columns, 0), row_height(rows, 0);
  for (int i = 0; i < count; ++i) {
    column_width[i % columns] = std::max(column_width[i % columns], panels[i].width());
    row_height[i / columns] = std::max(row_height[i / columns], panels[i].height());
  }
  int width = 2 * margin + (columns - 1) * gap,
      height = 2 * margin + title_height + (rows - 1) * gap;
  for (int w : column_width) width += w;
  for (int h : row_height) height += h;
  width = std::max(width, viz::text_width(title, 3) + 2 * margin);
  viz::Canvas canvas(width, height);
  if (!title.empty())
    canvas.draw_text(width / 2, margin, title, viz::colors::text, 3, viz::HAlign::center);
  int y = margin + title_height;
  for (int r = 0; r < rows; ++r) {
    int x = margin;
    for (int c = 0; c < columns && r * columns + c < count; ++c) {
      const viz::Canvas& panel = panels[r * columns + c];
      for (int py = 0; py < panel.height(); ++py)
        for (int px = 0; px < panel.width(); ++px)
          canvas.set_pixel(x + px, y + py, panel.pixel(px, py));
      x += column_width[c] + gap;
    }
    y += row_height[r] + gap;
  }
  canvas.save_png(path);
  std::printf("  picture: %s\n", path.c_str());
}

}  // namespace pictures

}  // namespace layer_checks
