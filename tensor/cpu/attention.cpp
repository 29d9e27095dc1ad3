// attention.cpp — fused scaled-dot-product attention on the cpu, forward and backward: the
// flash-attention idea (Dao et al., 2022) written for a cache hierarchy instead of GPU SRAM.
//
// The composed path (nn/attention.cpp) builds the whole score matrix S = scale Q K^T [B, H, Tq,
// Tk], masks it, softmaxes it into P (another [B, H, Tq, Tk]) and multiplies P V; the backward
// keeps both. At B=8, H=8, T=512 each of those is 64 MiB of float32, streamed through memory
// several times. Here a block of kQueryBlock query rows of one head walks the keys kKeyBlock at
// a time; each block of scores is a kQueryBlock x kKeyBlock tile that stays in the cache, and per
// query row only these survive from one key block to the next:
//   m   the largest score seen so far            (a number)
//   l   sum_j exp(s_j - m) over the keys so far  (a number)
//   acc sum_j exp(s_j - m) v_j                   (Dv numbers)
// When a block of keys raises the maximum from m to m', the old terms were all measured against
// m, so l and acc are multiplied by exp(m - m') first ("online softmax", Milakov & Gimelshein
// 2018). After the last block out = acc / l, and logsumexp = m + log l is all the backward
// needs to rebuild any weight: P_ij = exp(s_ij - logsumexp_i).
//
// Backward, per block of queries and block of keys (dO = dL/dout, the forward's out = O):
//   S  = scale Q K^T               P = exp(S - logsumexp)     (recomputed; 0 where blocked)
//   dV += P^T dO                    (out = P V)
//   dP = dO V^T
//   dS = P * (dP - D),  D_i = sum_j P_ij dP_ij = dO_i . O_i     (softmax backward)
//   dQ += scale dS K,   dK += scale dS^T Q                     (S = scale Q K^T)
//
// The tile products (Q K^T, P V, dO V^T, ...) are small matrix multiplies: they run on the
// packed, register-tiled gemm (tensor/cpu/gemm.cpp), which reads q, k and v through their
// strides, so no head is copied (MultiheadAttention passes views of the projected [B, T, H, D]
// tensors). Everything between the products (mask, exp, rescaling) is elementwise on a tile.
//
// Masks are computed from indices, never read from a [Tq, Tk] tensor: a key is blocked when it
// is padding (key_padding[b, j]) or, with causal, when j > i + causal_offset; with causal, key
// blocks wholly in a query block's future are skipped. Blocked keys get s = -inf, hence P = 0. A
// row whose every key is blocked keeps m = -inf: its output is 0, its logsumexp -inf, and the
// backward gives it zero gradients, as the composed path (whose softmax of an all -inf row is
// all zeros) does.
//
// Threads: the forward splits (batch, head, block of query rows) among threads; every task
// writes its own rows of out. The backward splits (batch, key/value head): a task owns the dK
// and dV rows of its key/value head, which every query head of its group adds into, and the dQ
// rows of those query heads, so no two tasks ever write the same number. Inside a parallel
// region gemm runs on the calling thread.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "tensor/array.hpp"
#include "tensor/cpu/cpu_backend.hpp"
#include "tensor/cpu/gemm.hpp"
#include "tensor/cpu/loops.hpp"
#include "tensor/scalar_math.hpp"

namespace tensor::cpu {

namespace {

constexpr std::int64_t kQueryBlock = 128;  // query rows per tile
constexpr std::int64_t kKeyBlock = 256;   // keys per tile: one online-softmax rescale per tile

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

// Rows [first, first + count) of head h of batch entry b of a [B, heads, T, D] array: a
// [count, D] view of its numbers, no copy. Raw views, not Arrays: a tile of a short sequence
// is a few hundred multiply-adds, and making Array views for it (their shape vectors, and the
// storage's shared count, which every thread bumps) cost more than the tile's products.
template <typename T>
MatrixView<T> head_rows(const Array& a, std::int64_t b, std::int64_t h, std::int64_t first,
                        std::int64_t count) {
  using Number = std::remove_const_t<T>;
  T* base = a.data<Number>() + b * a.strides()[0] + h * a.strides()[1] + first * a.strides()[2];
  return {base, count, a.size(3), a.strides()[2], a.strides()[3]};
}

// A read-only view of the same numbers.
template <typename T>
MatrixView<const T> read_only(const MatrixView<T>& m) {
  return {m.data, m.rows, m.cols, m.row_stride, m.col_stride};
}

// A thread's scratch buffer of at least n numbers, kept for the thread's next task and call:
// fresh buffers of 128 KiB (a tile of scores) per chunk cost page faults and, with two threads
// running, TLB shootdowns when they were given back, more than the tiles of a short sequence
// cost to compute.
template <typename T>
std::vector<T>& scratch(std::vector<T>& buffer, std::int64_t n) {
  if (std::int64_t(buffer.size()) < n) buffer.resize(n);
  return buffer;
}

// A scratch tile [rows, cols] at the start of a buffer whose rows are `width` apart.
template <typename T>
MatrixView<T> tile(std::vector<T>& buffer, std::int64_t width, std::int64_t rows,
                   std::int64_t cols) {
  return {buffer.data(), rows, cols, width, 1};
}

// ---- forward -------------------------------------------------------------------------------

template <typename T>
void forward_typed(const AttentionShape& shape, const Array& q, const Array& k, const Array& v,
                   double scale, const Array& out, const Array& logsumexp) {
  T* lse = logsumexp.data<T>();  // [B, H, Tq]
  const T minus_inf = -std::numeric_limits<T>::infinity();
  const T scale_t = T(scale);
  const std::int64_t query_blocks = (shape.Tq + kQueryBlock - 1) / kQueryBlock;
  const std::int64_t tasks = shape.B * shape.H * query_blocks;
  // Work per task in multiply-adds, one unit each (loops.hpp: grain_for_work).
  const std::int64_t work = std::min(kQueryBlock, shape.Tq) * shape.Tk * (shape.D + shape.Dv);
  const std::int64_t Dv = shape.Dv;

  parallel_for(tasks, grain_for_work(work), [&](std::int64_t begin, std::int64_t end) {
    // Per thread: one tile of scores, one of P V, and the running m, l, acc of a query block.
    static thread_local std::vector<T> scores_store, values_store, acc_store, max_store,
        correction_store;
    static thread_local std::vector<double> sum_store;
    auto& scores_buffer = scratch(scores_store, kQueryBlock * kKeyBlock);  // s_ij, then exp(s_ij - m_i)
    auto& values_buffer = scratch(values_store, kQueryBlock * Dv);  // P V of one key block
    auto& acc = scratch(acc_store, kQueryBlock * Dv);
    auto& running_max = scratch(max_store, kQueryBlock);
    auto& correction = scratch(correction_store, kQueryBlock);
    auto& running_sum = scratch(sum_store, kQueryBlock);
    T* scores = scores_buffer.data();
    const T* block_values = values_buffer.data();
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t b = task / (shape.H * query_blocks);
      const std::int64_t h = task / query_blocks % shape.H;
      const std::int64_t kv_head = h / shape.group;
      const std::int64_t first_row = task % query_blocks * kQueryBlock;
      const std::int64_t rows = std::min(shape.Tq, first_row + kQueryBlock) - first_row;
      const MatrixView<const T> q_block = head_rows<const T>(q, b, h, first_row, rows);  // [rows, D]
      // (The kept buffers may be longer, from an earlier call: only this block's part counts.)
      std::fill(acc.begin(), acc.begin() + rows * Dv, T(0));
      std::fill(running_max.begin(), running_max.begin() + rows, minus_inf);
      std::fill(running_sum.begin(), running_sum.begin() + rows, 0.0);
      // With causal, keys past the last row's horizon are blocked for every row of the block.
      const std::int64_t block_key_end = shape.key_end(first_row + rows - 1);
      for (std::int64_t j0 = 0; j0 < block_key_end; j0 += kKeyBlock) {
        const std::int64_t n = std::min(kKeyBlock, block_key_end - j0);
        // s = Q_block K_block^T                                                [rows, n]
        gemm_on_this_thread(q_block, head_rows<const T>(k, b, kv_head, j0, n).transposed(),
                            tile(scores_buffer, kKeyBlock, rows, n));
        for (std::int64_t r = 0; r < rows; ++r) {
          T* s = scores + r * kKeyBlock;
          // Scale, then block the keys in row i's future or padding (-inf).
          const std::int64_t allowed_end = std::clamp<std::int64_t>(
              shape.key_end(first_row + r) - j0, 0, n);
          T block_max = minus_inf;
#pragma omp simd reduction(max : block_max)
          for (std::int64_t jj = 0; jj < allowed_end; ++jj) {
            s[jj] *= scale_t;
            block_max = std::max(block_max, s[jj]);
          }
          for (std::int64_t jj = allowed_end; jj < n; ++jj) s[jj] = minus_inf;
          if (shape.key_padding != nullptr) {
            block_max = minus_inf;
            for (std::int64_t jj = 0; jj < n; ++jj) {
              if (shape.is_padding(b, j0 + jj)) s[jj] = minus_inf;
              block_max = std::max(block_max, s[jj]);
            }
          }
          const T new_max = std::max(running_max[r], block_max);
          if (new_max == minus_inf) {  // nothing allowed so far: this block adds nothing
            std::fill(s, s + n, T(0));
            correction[r] = T(1);
            continue;
          }
          // The terms so far were exp(s - m); measured against m' they are exp(s - m')
          // = exp(s - m) exp(m - m'). (m = -inf, nothing so far: the factor is 0.)
          correction[r] = T(std::exp(double(running_max[r]) - double(new_max)));
          running_max[r] = new_max;
          T block_sum = 0;
#pragma omp simd reduction(+ : block_sum)
          for (std::int64_t jj = 0; jj < n; ++jj) {
            const T weight = math::exp(s[jj] - new_max);  // exp(-inf) = 0 for blocked keys
            s[jj] = weight;
            block_sum += weight;
          }
          running_sum[r] = running_sum[r] * correction[r] + block_sum;
        }
        // acc = acc * correction + P_block V_block                              [rows, Dv]
        gemm_on_this_thread(read_only(tile(scores_buffer, kKeyBlock, rows, n)),
                            head_rows<const T>(v, b, kv_head, j0, n),
                            tile(values_buffer, Dv, rows, Dv));
        for (std::int64_t r = 0; r < rows; ++r) {
          T* acc_row = acc.data() + r * Dv;
          const T* add = block_values + r * Dv;
          const T c = correction[r];
#pragma omp simd
          for (std::int64_t d = 0; d < Dv; ++d) acc_row[d] = acc_row[d] * c + add[d];
        }
      }
      const MatrixView<T> out_block = head_rows<T>(out, b, h, first_row, rows);  // [rows, Dv]
      T* out_base = out_block.data;
      const std::int64_t out_stride = out_block.row_stride;
      for (std::int64_t r = 0; r < rows; ++r) {
        T* out_row = out_base + r * out_stride;
        T& row_lse = lse[(b * shape.H + h) * shape.Tq + first_row + r];
        if (running_max[r] == minus_inf) {  // every key blocked: output 0, as composed
          std::fill(out_row, out_row + Dv, T(0));
          row_lse = minus_inf;
          continue;
        }
        const T inv_sum = T(1.0 / running_sum[r]);
#pragma omp simd
        for (std::int64_t d = 0; d < Dv; ++d) out_row[d] = acc[r * Dv + d] * inv_sum;
        row_lse = T(double(running_max[r]) + std::log(running_sum[r]));
      }
    }
  });
}

// ---- backward ------------------------------------------------------------------------------

// dst[rows, cols] += src[rows, cols]; dst strided by rows (stride 1 along cols), src packed
// with row stride src_stride.
template <typename T>
void add_rows(const MatrixView<T>& dst, const T* src, std::int64_t src_stride) {
  for (std::int64_t r = 0; r < dst.rows; ++r) {
    T* d = dst.data + r * dst.row_stride;
    const T* s = src + r * src_stride;
#pragma omp simd
    for (std::int64_t c = 0; c < dst.cols; ++c) d[c] += s[c];
  }
}

// rows[r, :] = 0 for a [rows, cols] view with stride 1 along cols.
template <typename T>
void zero_rows(const MatrixView<T>& rows) {
  for (std::int64_t r = 0; r < rows.rows; ++r)
    std::fill(rows.data + r * rows.row_stride, rows.data + r * rows.row_stride + rows.cols, T(0));
}

template <typename T>
void backward_typed(const AttentionShape& shape, const Array& grad_out, const Array& q,
                    const Array& k, const Array& v, const Array& out, const Array& logsumexp,
                    double scale, const Array& grad_q, const Array& grad_k, const Array& grad_v) {
  const T* lse = logsumexp.data<T>();
  const T minus_inf = -std::numeric_limits<T>::infinity();
  const T scale_t = T(scale);
  const std::int64_t D = shape.D, Dv = shape.Dv;
  const std::int64_t tasks = shape.B * shape.Hkv;
  const std::int64_t work = shape.group * shape.Tq * shape.Tk * (3 * D + 2 * Dv);
  const std::int64_t widest = std::max(D, Dv);

  parallel_for(tasks, grain_for_work(work), [&](std::int64_t begin, std::int64_t end) {
    static thread_local std::vector<T> weights_store, grad_scores_store, product_store,
        grad_dot_out_store;
    auto& weights_buffer = scratch(weights_store, kQueryBlock * kKeyBlock);          // P
    auto& grad_scores_buffer = scratch(grad_scores_store, kQueryBlock * kKeyBlock);  // dP, then dS
    auto& product_buffer =
        scratch(product_store, std::max(kQueryBlock, kKeyBlock) * widest);  // a product
    T* weights = weights_buffer.data();
    T* grad_scores = grad_scores_buffer.data();
    const T* product = product_buffer.data();
    auto& grad_dot_out = scratch(grad_dot_out_store, kQueryBlock);  // D_i = dO_i . O_i
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t b = task / shape.Hkv, kv_head = task % shape.Hkv;
      zero_rows(head_rows<T>(grad_k, b, kv_head, 0, shape.Tk));  // dK, dV of this kv head
      zero_rows(head_rows<T>(grad_v, b, kv_head, 0, shape.Tk));
      for (std::int64_t h = kv_head * shape.group; h < (kv_head + 1) * shape.group; ++h) {
        for (std::int64_t first_row = 0; first_row < shape.Tq; first_row += kQueryBlock) {
          const std::int64_t rows = std::min(kQueryBlock, shape.Tq - first_row);
          const auto q_block = head_rows<const T>(q, b, h, first_row, rows);  // [rows, D]
          const auto grad_out_block = head_rows<const T>(grad_out, b, h, first_row, rows);
          const auto grad_q_block = head_rows<T>(grad_q, b, h, first_row, rows);  // [rows, D]
          zero_rows(grad_q_block);
          const T* row_lse = lse + (b * shape.H + h) * shape.Tq + first_row;
          const auto out_block = head_rows<const T>(out, b, h, first_row, rows);  // [rows, Dv]
          for (std::int64_t r = 0; r < rows; ++r) {
            const T* dO_row = grad_out_block.data + r * grad_out_block.row_stride;
            const T* O_row = out_block.data + r * out_block.row_stride;
            T sum = 0;
#pragma omp simd reduction(+ : sum)
            for (std::int64_t d = 0; d < Dv; ++d) sum += dO_row[d] * O_row[d];
            grad_dot_out[r] = sum;
          }
          const std::int64_t block_key_end = shape.key_end(first_row + rows - 1);
          for (std::int64_t j0 = 0; j0 < block_key_end; j0 += kKeyBlock) {
            const std::int64_t n = std::min(kKeyBlock, block_key_end - j0);
            const auto k_block = head_rows<const T>(k, b, kv_head, j0, n);  // [n, D]
            const auto v_block = head_rows<const T>(v, b, kv_head, j0, n);  // [n, Dv]
            const MatrixView<T> P = tile(weights_buffer, kKeyBlock, rows, n);
            const MatrixView<T> dS = tile(grad_scores_buffer, kKeyBlock, rows, n);
            // forward was: P = exp(scale Q K^T - logsumexp), 0 where blocked
            gemm_on_this_thread(q_block, k_block.transposed(), P);
            // dP = dO V^T                                                      [rows, n]
            gemm_on_this_thread(grad_out_block, v_block.transposed(), dS);
            for (std::int64_t r = 0; r < rows; ++r) {
              T* p = weights + r * kKeyBlock;
              T* ds = grad_scores + r * kKeyBlock;
              const std::int64_t allowed_end = std::clamp<std::int64_t>(
                  shape.key_end(first_row + r) - j0, 0, n);
              const T m = row_lse[r];
              if (m == minus_inf) {  // fully masked row: no weight, no gradient
                std::fill(p, p + n, T(0));
                std::fill(ds, ds + n, T(0));
                continue;
              }
              const T Di = grad_dot_out[r];
              // The scores rounded exactly as the forward rounded them: scaled and stored
              // first, then exp(s - logsumexp). Written as one expression, s * scale - m
              // may compile to a fused multiply-add that skips the rounding of s * scale;
              // with scores of 1e9 (a diverging run) that is tens of units of difference,
              // exp(+tens) instead of a weight <= 1, and inf/NaN gradients.
#pragma omp simd
              for (std::int64_t jj = 0; jj < allowed_end; ++jj) p[jj] *= scale_t;
              // dS = P (dP - D_i), with the scale of S = scale Q K^T folded in. A weight is
              // at most 1 (m is the log of a sum that includes it); min() keeps it so.
#pragma omp simd
              for (std::int64_t jj = 0; jj < allowed_end; ++jj) {
                const T weight = std::min(math::exp(p[jj] - m), T(1));
                p[jj] = weight;
                ds[jj] = scale_t * weight * (ds[jj] - Di);
              }
              // Keys in row i's future, and padding keys: weight 0, no gradient.
              std::fill(p + allowed_end, p + n, T(0));
              std::fill(ds + allowed_end, ds + n, T(0));
              if (shape.key_padding != nullptr)
                for (std::int64_t jj = 0; jj < allowed_end; ++jj)
                  if (shape.is_padding(b, j0 + jj)) p[jj] = ds[jj] = T(0);
            }
            // dV_block += P^T dO                                               [n, Dv]
            gemm_on_this_thread(read_only(P).transposed(), grad_out_block,
                                tile(product_buffer, widest, n, Dv));
            add_rows(head_rows<T>(grad_v, b, kv_head, j0, n), product, widest);
            // dK_block += scale dS^T Q                                         [n, D]
            gemm_on_this_thread(read_only(dS).transposed(), q_block,
                                tile(product_buffer, widest, n, D));
            add_rows(head_rows<T>(grad_k, b, kv_head, j0, n), product, widest);
            // dQ_block += scale dS K                                           [rows, D]
            gemm_on_this_thread(read_only(dS), k_block, tile(product_buffer, widest, rows, D));
            add_rows(grad_q_block, product, widest);
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
