// nn_kernels.cpp — cpu kernels behind the nn ops: embedding, gather/scatter, layer norm, RMS norm,
// cross-entropy, dropout masks and the Adam update. Each forward sits above its backward.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "tensor/cpu/cpu_backend.hpp"
#include "tensor/cpu/loops.hpp"
#include "tensor/philox.hpp"

namespace tensor::cpu {

// ---- embedding ---------------------------------------------------------------------------------

void CpuBackend::embedding(const Array& weight, const Array& indices, const Array& out) {
  const std::int64_t n = indices.numel(), width = weight.size(1);
  const std::int64_t* index = indices.data<std::int64_t>();
  const std::size_t row_bytes = static_cast<std::size_t>(width) * dtype_size(weight.dtype());
  const char* table = static_cast<const char*>(weight.raw_data());
  char* rows = static_cast<char*>(out.raw_data());
  parallel_for(n, grain_for_work(width), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i)
      std::memcpy(rows + i * row_bytes, table + index[i] * row_bytes, row_bytes);
  });
}

void CpuBackend::embedding_backward(const Array& grad_out, const Array& indices,
                                    const Array& grad_weight) {
  dispatch_floating(grad_out.dtype(), "embedding_backward", [&](auto zero) {
    using T = decltype(zero);
    const std::int64_t n = indices.numel(), width = grad_weight.size(1);
    const std::int64_t* index = indices.data<std::int64_t>();
    const T* g = grad_out.data<T>();
    T* dw = grad_weight.data<T>();
    // Threads split the columns, not the rows: two rows with the same index then never race,
    // and the sum is added in the same order on every run.
    parallel_for(width, grain_for_work(n), [&](std::int64_t col_begin, std::int64_t col_end) {
      for (std::int64_t i = 0; i < n; ++i) {
        const T* src = g + i * width;
        T* dst = dw + index[i] * width;
        for (std::int64_t c = col_begin; c < col_end; ++c) dst[c] += src[c];
      }
    });
  });
}

// ---- gather / scatter_add along the last dim -----------------------------------------------------

void CpuBackend::gather(const Array& x, const Array& index, const Array& out) {
  dispatch(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const std::int64_t rows = index.size(0), k = index.size(1), s = x.size(1);
    const T* src = x.data<T>();
    const std::int64_t* idx = index.data<std::int64_t>();
    T* dst = out.data<T>();
    parallel_for(rows, grain_for_work(k), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t m = begin; m < end; ++m)
        for (std::int64_t j = 0; j < k; ++j) dst[m * k + j] = src[m * s + idx[m * k + j]];
    });
  });
}

void CpuBackend::scatter_add(const Array& out, const Array& index, const Array& src) {
  dispatch(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, bool>) {
      throw std::invalid_argument("scatter_add: not supported for bool tensors");
    } else {
      const std::int64_t rows = index.size(0), k = index.size(1), s = out.size(1);
      const T* from = src.data<T>();
      const std::int64_t* idx = index.data<std::int64_t>();
      T* dst = out.data<T>();
      parallel_for(rows, grain_for_work(k), [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t m = begin; m < end; ++m)  // each row is owned by one thread
          for (std::int64_t j = 0; j < k; ++j) dst[m * s + idx[m * k + j]] += from[m * k + j];
      });
    }
  });
}

// ---- layer norm ----------------------------------------------------------------------------------

// One row of C values at a time; sums in double (8 lanes at a time under `omp simd`), the
// elementwise work in T. weight and bias are optional: a missing one is a row of ones (zeros),
// so one loop serves every case and none of them tests a pointer per element.
void CpuBackend::layer_norm(const Array& x, const Array& weight, const Array& bias, double eps,
                            const Array& out, const Array& mean, const Array& rstd) {
  dispatch_floating(x.dtype(), "layer_norm", [&](auto zero) {
    using T = decltype(zero);
    const std::int64_t rows = x.size(0), C = x.size(1);
    const T* in = x.data<T>();
    std::vector<T> ones, zeros;
    const T* w = weight.defined() ? weight.data<T>() : (ones.assign(C, T(1)), ones.data());
    const T* b = bias.defined() ? bias.data<T>() : (zeros.assign(C, T(0)), zeros.data());
    T* y = out.data<T>();
    T* mu_out = mean.data<T>();
    T* rstd_out = rstd.data<T>();
    // Work per row: three passes over it (the sum, the squares, the output).
    parallel_for(rows, grain_for_work(3 * C), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r) {
        const T* row = in + r * C;
        double sum = 0;
#pragma omp simd reduction(+ : sum)
        for (std::int64_t c = 0; c < C; ++c) sum += row[c];
        const double mu = sum / C;
        double sq = 0;  // two passes: sum (x - mean)^2 loses no precision to cancellation
#pragma omp simd reduction(+ : sq)
        for (std::int64_t c = 0; c < C; ++c) sq += (row[c] - mu) * (row[c] - mu);
        const double r_std = 1.0 / std::sqrt(sq / C + eps);
        mu_out[r] = T(mu);
        rstd_out[r] = T(r_std);
        const T mu_t = T(mu), rstd_t = T(r_std);
        T* dst = y + r * C;
#pragma omp simd
        for (std::int64_t c = 0; c < C; ++c) dst[c] = (row[c] - mu_t) * rstd_t * w[c] + b[c];
      }
    });
  });
}

void CpuBackend::layer_norm_backward(const Array& grad_out, const Array& x, const Array& weight,
                                     const Array& mean, const Array& rstd, const Array& grad_x,
                                     const Array& grad_weight, const Array& grad_bias) {
  dispatch_floating(x.dtype(), "layer_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    const std::int64_t rows = x.size(0), C = x.size(1);
    const T* g = grad_out.data<T>();
    const T* in = x.data<T>();
    const T* mu = mean.data<T>();
    const T* rs = rstd.data<T>();
    T* dx = grad_x.data<T>();
    // No weight is a weight of ones, as in the forward.
    std::vector<T> ones;
    const T* w = weight.defined() ? weight.data<T>() : (ones.assign(C, T(1)), ones.data());
    // Per-chunk partial sums for dweight and dbias (rows are split between threads), always
    // kept (it costs two adds per element); written out only where asked for.
    // Work per row: two passes over four rows (g, x, dweight's and dbias's partial sums).
    const std::int64_t grain = grain_for_work(4 * C), chunks = parallel_chunks(rows, grain);
    std::vector<double> partial_dw(chunks * C, 0.0), partial_db(chunks * C, 0.0);
    parallel_for_chunks(rows, grain, [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
      double* dw_acc = partial_dw.data() + chunk * C;
      double* db_acc = partial_db.data() + chunk * C;
      for (std::int64_t r = begin; r < end; ++r) {
        const T* g_row = g + r * C;
        const T* x_row = in + r * C;
        const T mu_r = mu[r], rstd_r = rs[r];
        // forward was: y = xhat * w + b, xhat = (x - mean) * rstd
        // dxhat = g * w;  dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
        double sum_dxhat = 0, sum_dxhat_xhat = 0;
#pragma omp simd reduction(+ : sum_dxhat, sum_dxhat_xhat)
        for (std::int64_t c = 0; c < C; ++c) {
          T xhat = (x_row[c] - mu_r) * rstd_r;
          T dxhat = g_row[c] * w[c];
          sum_dxhat += dxhat;
          sum_dxhat_xhat += double(dxhat) * xhat;
          dw_acc[c] += double(g_row[c]) * xhat;
          db_acc[c] += g_row[c];
        }
        const T mean_dxhat = T(sum_dxhat / C), mean_dxhat_xhat = T(sum_dxhat_xhat / C);
        T* dx_row = dx + r * C;
#pragma omp simd
        for (std::int64_t c = 0; c < C; ++c) {
          T xhat = (x_row[c] - mu_r) * rstd_r;
          dx_row[c] = rstd_r * (g_row[c] * w[c] - mean_dxhat - xhat * mean_dxhat_xhat);
        }
      }
    });
    for (auto [want, partial, target] :
         {std::tuple{grad_weight.defined(), &partial_dw, &grad_weight},
          std::tuple{grad_bias.defined(), &partial_db, &grad_bias}}) {
      if (!want) continue;
      T* dst = target->template data<T>();
      for (std::int64_t c = 0; c < C; ++c) {
        double total = 0;
        for (std::int64_t t = 0; t < chunks; ++t) total += (*partial)[t * C + c];
        dst[c] = T(total);
      }
    }
  });
}

// ---- RMS norm -------------------------------------------------------------------------------------

// Layer norm without the mean: one pass for the sum of squares (in double), one to scale. A
// missing weight is a row of ones, as in layer_norm.
void CpuBackend::rms_norm(const Array& x, const Array& weight, double eps, const Array& out,
                          const Array& rstd) {
  dispatch_floating(x.dtype(), "rms_norm", [&](auto zero) {
    using T = decltype(zero);
    const std::int64_t rows = x.size(0), C = x.size(1);
    const T* in = x.data<T>();
    std::vector<T> ones;
    const T* w = weight.defined() ? weight.data<T>() : (ones.assign(C, T(1)), ones.data());
    T* y = out.data<T>();
    T* rstd_out = rstd.data<T>();
    parallel_for(rows, grain_for_work(2 * C), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r) {
        const T* row = in + r * C;
        double sum_sq = 0;
#pragma omp simd reduction(+ : sum_sq)
        for (std::int64_t c = 0; c < C; ++c) sum_sq += double(row[c]) * row[c];
        const double r_rms = 1.0 / std::sqrt(sum_sq / C + eps);
        rstd_out[r] = T(r_rms);
        const T rstd_t = T(r_rms);
        T* dst = y + r * C;
#pragma omp simd
        for (std::int64_t c = 0; c < C; ++c) dst[c] = row[c] * rstd_t * w[c];
      }
    });
  });
}

void CpuBackend::rms_norm_backward(const Array& grad_out, const Array& x, const Array& weight,
                                   const Array& rstd, const Array& grad_x,
                                   const Array& grad_weight) {
  dispatch_floating(x.dtype(), "rms_norm_backward", [&](auto zero) {
    using T = decltype(zero);
    const std::int64_t rows = x.size(0), C = x.size(1);
    const T* g = grad_out.data<T>();
    const T* in = x.data<T>();
    const T* rs = rstd.data<T>();
    T* dx = grad_x.data<T>();
    std::vector<T> ones;
    const T* w = weight.defined() ? weight.data<T>() : (ones.assign(C, T(1)), ones.data());
    // Per-chunk partial sums of dweight (rows are split between threads), added up at the end.
    const bool want_dw = grad_weight.defined();
    const std::int64_t grain = grain_for_work(3 * C), chunks = parallel_chunks(rows, grain);
    std::vector<double> partial_dw(want_dw ? chunks * C : 0, 0.0);
    parallel_for_chunks(rows, grain, [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
      double* dw_acc = want_dw ? partial_dw.data() + chunk * C : nullptr;
      for (std::int64_t r = begin; r < end; ++r) {
        const T* g_row = g + r * C;
        const T* x_row = in + r * C;
        const T rstd_r = rs[r];
        // forward was: y = xhat * w, xhat = x * rstd, rstd = (mean(x^2) + eps)^(-1/2)
        // dxhat = g * w;  dx = rstd * (dxhat - xhat * mean(dxhat * xhat))
        // (layer norm's formula without the "- mean(dxhat)" term: no mean was subtracted)
        double sum_dxhat_xhat = 0;
#pragma omp simd reduction(+ : sum_dxhat_xhat)
        for (std::int64_t c = 0; c < C; ++c)
          sum_dxhat_xhat += double(g_row[c]) * w[c] * (x_row[c] * rstd_r);
        if (want_dw)
          for (std::int64_t c = 0; c < C; ++c) dw_acc[c] += double(g_row[c]) * (x_row[c] * rstd_r);
        const T mean_dxhat_xhat = T(sum_dxhat_xhat / C);
        T* dx_row = dx + r * C;
#pragma omp simd
        for (std::int64_t c = 0; c < C; ++c) {
          T xhat = x_row[c] * rstd_r;
          dx_row[c] = rstd_r * (g_row[c] * w[c] - xhat * mean_dxhat_xhat);
        }
      }
    });
    if (want_dw) {
      T* dst = grad_weight.data<T>();
      for (std::int64_t c = 0; c < C; ++c) {
        double total = 0;
        for (std::int64_t t = 0; t < chunks; ++t) total += partial_dw[t * C + c];
        dst[c] = T(total);
      }
    }
  });
}

// ---- cross-entropy -------------------------------------------------------------------------------

namespace {
// log-sum-exp of one row, computed stably around its max.
template <typename T>
double row_logsumexp(const T* row, std::int64_t C) {
  double row_max = -std::numeric_limits<double>::infinity();
  for (std::int64_t c = 0; c < C; ++c) row_max = std::max(row_max, double(row[c]));
  double total = 0;
  for (std::int64_t c = 0; c < C; ++c) total += std::exp(double(row[c]) - row_max);
  return row_max + std::log(total);
}
}  // namespace

void CpuBackend::cross_entropy(const Array& logits, const Array& targets,
                               std::int64_t ignore_index, double label_smoothing,
                               const Array& losses) {
  dispatch_floating(logits.dtype(), "cross_entropy", [&](auto zero) {
    using T = decltype(zero);
    const std::int64_t N = logits.size(0), C = logits.size(1);
    const T* x = logits.data<T>();
    const std::int64_t* t = targets.data<std::int64_t>();
    T* loss = losses.data<T>();
    // Work per row: two passes, one with a double exp (~8 units) per element.
    parallel_for(N, grain_for_work(10 * C), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t n = begin; n < end; ++n) {
        if (t[n] == ignore_index) {
          loss[n] = T(0);
          continue;
        }
        const T* row = x + n * C;
        const double lse = row_logsumexp(row, C);
        double nll = lse - row[t[n]];  // -log p[t]
        double smooth = 0;             // -(1/C) sum_c log p[c]
        if (label_smoothing > 0) {
          for (std::int64_t c = 0; c < C; ++c) smooth += lse - row[c];
          smooth /= C;
        }
        loss[n] = T((1 - label_smoothing) * nll + label_smoothing * smooth);
      }
    });
  });
}

void CpuBackend::cross_entropy_backward(const Array& logits, const Array& targets,
                                        const Array& grad_losses, std::int64_t ignore_index,
                                        double label_smoothing, const Array& grad_logits) {
  dispatch_floating(logits.dtype(), "cross_entropy_backward", [&](auto zero) {
    using T = decltype(zero);
    const std::int64_t N = logits.size(0), C = logits.size(1);
    const T* x = logits.data<T>();
    const std::int64_t* t = targets.data<std::int64_t>();
    const T* g = grad_losses.data<T>();
    T* dx = grad_logits.data<T>();
    // Work per row: three passes, two with a double exp (~8 units) per element.
    parallel_for(N, grain_for_work(20 * C), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t n = begin; n < end; ++n) {
        T* dst = dx + n * C;
        if (t[n] == ignore_index) {
          for (std::int64_t c = 0; c < C; ++c) dst[c] = T(0);
          continue;
        }
        const T* row = x + n * C;
        const double lse = row_logsumexp(row, C);
        // d loss / d logit_c = p_c - target_distribution_c, with the target distribution
        // (1 - s) on the true class plus s/C spread over every class.
        for (std::int64_t c = 0; c < C; ++c) {
          double p = std::exp(double(row[c]) - lse);
          double target = (c == t[n] ? 1 - label_smoothing : 0.0) + label_smoothing / C;
          dst[c] = T(g[n] * (p - target));
        }
      }
    });
  });
}

// ---- dropout mask --------------------------------------------------------------------------------

void CpuBackend::dropout_mask(const Array& out, double keep_prob, std::uint64_t seed,
                              std::uint64_t offset) {
  dispatch_floating(out.dtype(), "dropout_mask", [&](auto zero) {
    using T = decltype(zero);
    T* mask = out.data<T>();
    const T scale = T(1.0 / keep_prob);
    parallel_for(out.numel(), grain_for_work(8), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) {
        PhiloxBlock block = philox4x32(offset + std::uint64_t(i / 4), seed);
        mask[i] = uniform_float(block.v[i % 4]) < keep_prob ? scale : T(0);
      }
    });
  });
}

// ---- Adam / AdamW --------------------------------------------------------------------------------

void CpuBackend::adam_step(const Array& param, const Array& grad, const Array& exp_avg,
                           const Array& exp_avg_sq, double lr, double beta1, double beta2,
                           double eps, double weight_decay, bool decoupled, std::int64_t step) {
  dispatch_floating(param.dtype(), "adam_step", [&](auto zero) {
    using T = decltype(zero);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* m = exp_avg.data<T>();
    T* v = exp_avg_sq.data<T>();
    const double bias1 = 1 - std::pow(beta1, double(step));
    const double bias2 = 1 - std::pow(beta2, double(step));
    const T step_size = T(lr / bias1), inv_sqrt_bias2 = T(1 / std::sqrt(bias2));
    const T decay = T(decoupled ? 1 - lr * weight_decay : 1);
    const T l2 = T(decoupled ? 0 : weight_decay);
    const T b1 = T(beta1), b2 = T(beta2), e = T(eps);
    // Work per element: four arrays read, three written, a square root and a division.
    parallel_for(param.numel(), grain_for_work(8), [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) {
        T gi = g[i] + l2 * p[i];
        m[i] = b1 * m[i] + (T(1) - b1) * gi;
        v[i] = b2 * v[i] + (T(1) - b2) * gi * gi;
        p[i] = p[i] * decay - step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bias2 + e);
      }
    });
  });
}

}  // namespace tensor::cpu
