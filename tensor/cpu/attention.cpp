// attention.cpp — fused scaled-dot-product attention on the cpu, forward and backward: the
// flash-attention idea (Dao et al., 2022) written for a cache hierarchy instead of GPU SRAM.
//
// The composed path (nn/attention.cpp) builds the whole score matrix S = scale Q K^T [B, H, Tq,
// Tk], masks it, softmaxes it into P (another [B, H, Tq, Tk]) and multiplies P V; the backward
// keeps both. At B=8, H=8, T=512 each of those is 64 MiB of float32, streamed through memory
// several times. Here one query row at a time walks the keys of its head, kKeyBlock keys at a
// time, and keeps only:
//   m   the largest score seen so far            (a number)
//   l   sum_j exp(s_j - m) over the keys so far  (a number)
//   acc sum_j exp(s_j - m) v_j                   (Dv numbers)
// When a block of keys raises the maximum from m to m', the old terms were all measured against
// m, so l and acc are multiplied by exp(m - m') first ("online softmax", Milakov & Gimelshein
// 2018). After the last block out = acc / l, and logsumexp = m + log l is all the backward
// needs to rebuild any weight: P_ij = exp(s_ij - logsumexp_i).
//
// Backward, for one query row i and key j (dO = dL/dout, the forward's out = O):
//   s_ij  = scale q_i . k_j               P_ij = exp(s_ij - logsumexp_i)     (recomputed)
//   dV_j += P_ij dO_i                      (out_i = sum_j P_ij v_j)
//   dP_ij = dO_i . v_j
//   dS_ij = P_ij (dP_ij - D_i),  D_i = sum_j P_ij dP_ij = dO_i . O_i          (softmax backward)
//   dQ_i += scale dS_ij k_j,     dK_j += scale dS_ij q_i                      (s = scale q . k)
//
// Masks are computed from indices, never read from a [Tq, Tk] tensor: a key is blocked when it
// is padding (key_padding[b, j]) or, with causal, when j > i + causal_offset. Blocked keys get
// s = -inf, hence P = 0. A row whose every key is blocked keeps m = -inf: its output is 0, its
// logsumexp -inf, and the backward gives it zero gradients, as the composed path (whose softmax
// of an all -inf row is all zeros) does.
//
// No head is copied: q, k and v are read through their strides (MultiheadAttention passes views
// of the projected [B, T, H, D] tensors), and the inner loops run along D, where the stride is
// 1, as `omp simd` loops of dot products and axpys the compiler vectorises.
//
// Threads: the forward splits (batch, head, block of query rows) among threads; every task
// writes its own rows of out. The backward splits (batch, key/value head): a task owns the dK
// and dV rows of its key/value head, which every query head of its group adds into, and the dQ
// rows of those query heads, so no two tasks ever write the same number.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tensor/array.hpp"
#include "tensor/cpu/cpu_backend.hpp"
#include "tensor/cpu/loops.hpp"
#include "tensor/scalar_math.hpp"

namespace tensor::cpu {

namespace {

constexpr std::int64_t kQueryBlock = 32;  // query rows per forward task
constexpr std::int64_t kKeyBlock = 64;    // keys per online-softmax step: one rescale per block
// Multiply-adds below which a task list runs on one thread (decoding one token, tiny tests).
constexpr std::int64_t kMinParallelWork = 1 << 16;

// A [B, heads, T, D] array with stride 1 along D: row(b, h, t) points at its D numbers.
template <typename T>
struct HeadRows {
  T* base;
  std::int64_t batch_stride, head_stride, position_stride;
  explicit HeadRows(const Array& a)
      : base(a.data<T>()),
        batch_stride(a.strides()[0]),
        head_stride(a.strides()[1]),
        position_stride(a.strides()[2]) {}
  T* row(std::int64_t b, std::int64_t h, std::int64_t t) const {
    return base + b * batch_stride + h * head_stride + t * position_stride;
  }
};

template <typename T>
inline T dot(const T* a, const T* b, std::int64_t n) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (std::int64_t d = 0; d < n; ++d) sum += a[d] * b[d];
  return sum;
}

// y += alpha * x
template <typename T>
inline void axpy(T alpha, const T* x, T* y, std::int64_t n) {
#pragma omp simd
  for (std::int64_t d = 0; d < n; ++d) y[d] += alpha * x[d];
}

// The sizes and masks shared by the forward and the backward.
struct AttentionShape {
  std::int64_t B, H, Hkv, Tq, Tk, D, Dv, group;  // group = H / Hkv query heads per kv head
  const bool* key_padding;                        // [B, Tk] or null
  bool causal;
  std::int64_t causal_offset;

  AttentionShape(const Array& q, const Array& k, const Array& v, const Array& padding,
                 bool causal, std::int64_t causal_offset)
      : B(q.size(0)),
        H(q.size(1)),
        Hkv(k.size(1)),
        Tq(q.size(2)),
        Tk(k.size(2)),
        D(q.size(3)),
        Dv(v.size(3)),
        group(q.size(1) / k.size(1)),
        key_padding(padding.defined() ? padding.data<bool>() : nullptr),
        causal(causal),
        causal_offset(causal_offset) {}

  // Keys j >= key_end(i) are in query i's future (all of them are allowed without causal).
  std::int64_t key_end(std::int64_t i) const {
    if (!causal) return Tk;
    return std::clamp<std::int64_t>(i + causal_offset + 1, 0, Tk);
  }
  bool is_padding(std::int64_t b, std::int64_t j) const {
    return key_padding != nullptr && key_padding[b * Tk + j];
  }
};

// Tasks per thread chunk so that a chunk holds at least kMinParallelWork multiply-adds.
std::int64_t grain_for(std::int64_t work_per_task) {
  return std::max<std::int64_t>(1, kMinParallelWork / std::max<std::int64_t>(1, work_per_task));
}

// ---- forward -------------------------------------------------------------------------------

template <typename T>
void forward_typed(const AttentionShape& shape, const Array& q, const Array& k, const Array& v,
                   double scale, const Array& out, const Array& logsumexp) {
  const HeadRows<T> Q(q), K(k), V(v), O(out);
  T* lse = logsumexp.data<T>();  // [B, H, Tq]
  const T minus_inf = -std::numeric_limits<T>::infinity();
  const T scale_t = T(scale);
  const std::int64_t query_blocks = (shape.Tq + kQueryBlock - 1) / kQueryBlock;
  const std::int64_t tasks = shape.B * shape.H * query_blocks;
  const std::int64_t work = kQueryBlock * shape.Tk * (shape.D + shape.Dv);

  parallel_for(tasks, grain_for(work), [&](std::int64_t begin, std::int64_t end) {
    std::vector<T> scores(kKeyBlock);  // one block of s_ij, then of exp(s_ij - m)
    std::vector<T> acc(shape.Dv);      // sum_j exp(s_ij - m) v_j
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t b = task / (shape.H * query_blocks);
      const std::int64_t h = task / query_blocks % shape.H;
      const std::int64_t kv_head = h / shape.group;
      const std::int64_t first_row = task % query_blocks * kQueryBlock;
      const std::int64_t last_row = std::min(shape.Tq, first_row + kQueryBlock);
      for (std::int64_t i = first_row; i < last_row; ++i) {
        const T* q_row = Q.row(b, h, i);
        T running_max = minus_inf;  // m
        double running_sum = 0;     // l, in double: it adds up to Tk terms
        std::fill(acc.begin(), acc.end(), T(0));
        const std::int64_t key_end = shape.key_end(i);
        for (std::int64_t j0 = 0; j0 < key_end; j0 += kKeyBlock) {
          const std::int64_t n = std::min(kKeyBlock, key_end - j0);
          // s_ij = scale q_i . k_j, -inf where the key is padding.         scores [n]
          T block_max = minus_inf;
          for (std::int64_t jj = 0; jj < n; ++jj) {
            const std::int64_t j = j0 + jj;
            T s = shape.is_padding(b, j) ? minus_inf
                                         : scale_t * dot(q_row, K.row(b, kv_head, j), shape.D);
            scores[jj] = s;
            block_max = std::max(block_max, s);
          }
          if (block_max == minus_inf) continue;  // every key of this block is blocked
          const T new_max = std::max(running_max, block_max);
          // The terms so far were exp(s - m); measured against m' they are exp(s - m')
          // = exp(s - m) exp(m - m'). (m = -inf: nothing so far, the factor is 0.)
          if (new_max != running_max) {
            const T correction = T(std::exp(double(running_max) - double(new_max)));
            running_sum *= correction;
#pragma omp simd
            for (std::int64_t d = 0; d < shape.Dv; ++d) acc[d] *= correction;
            running_max = new_max;
          }
          T block_sum = 0;
#pragma omp simd reduction(+ : block_sum)
          for (std::int64_t jj = 0; jj < n; ++jj) {
            T weight = math::exp(scores[jj] - running_max);  // exp(-inf) = 0 for blocked keys
            scores[jj] = weight;
            block_sum += weight;
          }
          running_sum += block_sum;
          for (std::int64_t jj = 0; jj < n; ++jj)
            if (scores[jj] != T(0)) axpy(scores[jj], V.row(b, kv_head, j0 + jj), acc.data(), shape.Dv);
        }
        T* out_row = O.row(b, h, i);
        T& row_lse = lse[(b * shape.H + h) * shape.Tq + i];
        if (running_max == minus_inf) {  // every key blocked: output 0, as the composed path
          std::fill(out_row, out_row + shape.Dv, T(0));
          row_lse = minus_inf;
          continue;
        }
        const T inv_sum = T(1.0 / running_sum);
#pragma omp simd
        for (std::int64_t d = 0; d < shape.Dv; ++d) out_row[d] = acc[d] * inv_sum;
        row_lse = T(double(running_max) + std::log(running_sum));
      }
    }
  });
}

// ---- backward ------------------------------------------------------------------------------

template <typename T>
void backward_typed(const AttentionShape& shape, const Array& grad_out, const Array& q,
                    const Array& k, const Array& v, const Array& out, const Array& logsumexp,
                    double scale, const Array& grad_q, const Array& grad_k, const Array& grad_v) {
  const HeadRows<T> dO(grad_out), Q(q), K(k), V(v), O(out), dQ(grad_q), dK(grad_k), dV(grad_v);
  const T* lse = logsumexp.data<T>();
  const T minus_inf = -std::numeric_limits<T>::infinity();
  const T scale_t = T(scale);
  const std::int64_t tasks = shape.B * shape.Hkv;
  const std::int64_t work = shape.group * shape.Tq * shape.Tk * (3 * shape.D + 2 * shape.Dv);

  parallel_for(tasks, grain_for(work), [&](std::int64_t begin, std::int64_t end) {
    std::vector<T> weights(kKeyBlock), grad_scores(kKeyBlock);  // P_ij and dS_ij of one block
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t b = task / shape.Hkv, kv_head = task % shape.Hkv;
      for (std::int64_t j = 0; j < shape.Tk; ++j) {  // dK, dV of this kv head start at 0
        std::fill(dK.row(b, kv_head, j), dK.row(b, kv_head, j) + shape.D, T(0));
        std::fill(dV.row(b, kv_head, j), dV.row(b, kv_head, j) + shape.Dv, T(0));
      }
      for (std::int64_t h = kv_head * shape.group; h < (kv_head + 1) * shape.group; ++h) {
        for (std::int64_t i = 0; i < shape.Tq; ++i) {
          const T* q_row = Q.row(b, h, i);
          const T* grad_out_row = dO.row(b, h, i);
          T* grad_q_row = dQ.row(b, h, i);
          std::fill(grad_q_row, grad_q_row + shape.D, T(0));
          const T row_lse = lse[(b * shape.H + h) * shape.Tq + i];
          if (row_lse == minus_inf) continue;  // fully masked row: no weight, no gradient
          // D_i = sum_j P_ij dP_ij = dO_i . (sum_j P_ij v_j) = dO_i . O_i
          const T grad_dot_out = dot(grad_out_row, O.row(b, h, i), shape.Dv);
          const std::int64_t key_end = shape.key_end(i);
          for (std::int64_t j0 = 0; j0 < key_end; j0 += kKeyBlock) {
            const std::int64_t n = std::min(kKeyBlock, key_end - j0);
            // forward was: P_ij = exp(scale q_i . k_j - logsumexp_i), 0 for a blocked key
            for (std::int64_t jj = 0; jj < n; ++jj) {
              const std::int64_t j = j0 + jj;
              weights[jj] = shape.is_padding(b, j)
                                ? minus_inf
                                : scale_t * dot(q_row, K.row(b, kv_head, j), shape.D) - row_lse;
            }
#pragma omp simd
            for (std::int64_t jj = 0; jj < n; ++jj) weights[jj] = math::exp(weights[jj]);
            // dP_ij = dO_i . v_j;  dS_ij = P_ij (dP_ij - D_i)
            for (std::int64_t jj = 0; jj < n; ++jj)
              grad_scores[jj] =
                  weights[jj] == T(0)
                      ? T(0)
                      : weights[jj] * (dot(grad_out_row, V.row(b, kv_head, j0 + jj), shape.Dv) -
                                       grad_dot_out);
            for (std::int64_t jj = 0; jj < n; ++jj) {
              if (weights[jj] == T(0)) continue;  // blocked (or underflowed): adds nothing
              const std::int64_t j = j0 + jj;
              axpy(weights[jj], grad_out_row, dV.row(b, kv_head, j), shape.Dv);  // dV_j += P dO_i
              const T grad_score = scale_t * grad_scores[jj];
              axpy(grad_score, K.row(b, kv_head, j), grad_q_row, shape.D);  // dQ_i += s dS k_j
              axpy(grad_score, q_row, dK.row(b, kv_head, j), shape.D);      // dK_j += s dS q_i
            }
          }
        }
      }
    }
  });
}

}  // namespace

void CpuBackend::fused_attention(const Array& q, const Array& k, const Array& v,
                                 const Array& key_padding, bool causal,
                                 std::int64_t causal_offset, double scale, const Array& out,
                                 const Array& logsumexp) {
  const AttentionShape shape(q, k, v, key_padding, causal, causal_offset);
  dispatch_floating(q.dtype(), "fused_attention", [&](auto zero) {
    forward_typed<decltype(zero)>(shape, q, k, v, scale, out, logsumexp);
  });
}

void CpuBackend::fused_attention_backward(const Array& grad_out, const Array& q, const Array& k,
                                          const Array& v, const Array& out,
                                          const Array& logsumexp, const Array& key_padding,
                                          bool causal, std::int64_t causal_offset, double scale,
                                          const Array& grad_q, const Array& grad_k,
                                          const Array& grad_v) {
  const AttentionShape shape(q, k, v, key_padding, causal, causal_offset);
  dispatch_floating(q.dtype(), "fused_attention_backward", [&](auto zero) {
    backward_typed<decltype(zero)>(shape, grad_out, q, k, v, out, logsumexp, scale, grad_q,
                                   grad_k, grad_v);
  });
}

}  // namespace tensor::cpu
