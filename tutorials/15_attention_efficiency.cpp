// 15_attention_efficiency — How can attention's computation be made efficient?
//                           如何优化注意力机制的计算效率？
//                           (The interview articles "Attention Mechanism原理与代码实例讲解——
//                           面试题和算法编程题解析" and "深度学习在注意力分配优化中的应用" answer
//                           "parallel computing, low-rank decomposition, sparsity, quantization"
//                           in one line each, with no numbers. Here each one is built and measured.)
//
// Short answer
//   Attention compares every query with every key: for length T it does O(T^2 D) work and the
//   naive version stores the T x T score matrix (per head), O(T^2) memory, which is what runs
//   out first. The main remedies:
//     - exact, memory-efficient (FlashAttention): process keys in tiles and keep a running max
//       and sum per query ("online softmax"), rescaling the partial output whenever the max
//       grows. The T x T matrix never exists: O(T) extra memory, the SAME result. The backward
//       pass recomputes the tiles from Q, K, V and the saved log-sum-exp per query;
//     - sparse / local: each query only sees a window of w keys: O(T w) time and memory, a
//       different (restricted) model;
//     - low-rank (Linformer): project the T keys and values down to k << T rows with k x T
//       matrices, O(T k) — an approximation that is good when the attention matrix is close to
//       low rank;
//     - quantization: int8 Q and K with one scale per row: 4x less memory traffic than float32,
//       integer dot products, a small bounded error in the scores.
//
// What this program shows
//   1. naive attention (nn::scaled_dot_product_attention, the library's composed path: matmul,
//      mask, softmax, matmul): forward time, and the peak memory of a forward + backward pass,
//      measured as T doubles — 4x memory per doubling; next to it the library's fused kernel
//      (nn::fused_scaled_dot_product_attention, tensor/cpu/attention.cpp, what
//      MultiheadAttention runs on the cpu) and the tiled loops of part 2;
//   2. a tiled online-softmax attention, forward AND backward written out below, equal to the
//      library's attention (outputs and gradients) within float tolerance, gradchecked in
//      float64, keeping O(T) memory — measured; and the library's fused kernel, the same idea
//      with its tiles on the packed matrix multiply, equal to the composed path too;
//   3. local-window attention (the same tiles, skipping those outside the band), equal to full
//      attention with a band mask, and linear in T;
//   4. Linformer's low-rank approximation: its error vs the rank k, next to the best possible
//      rank-k approximation of the attention matrix (its singular values, by Jacobi);
//   5. int8-quantised scores: error measured, and below a bound worked out by hand;
//   6. pictures: attention_time.png, attention_memory.png, attention_low_rank.png.
//
// Run:  build/tutorials/15_attention_efficiency   (--max-len, --heads, --head-dim, --window;
//       timings use one thread, --threads N for more: both the naive and the tiled version use them)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "autograd/record.hpp"
#include "nn/nn.hpp"
#include "tutorials/common/measure.hpp"
#include "tutorials/common/pictures.hpp"
#include "tutorials/common/qkv_files.hpp"
#include "tutorials/common/tutorial.hpp"

using autograd::Tensor;
using tensor::Array;
using tensor::DType;

namespace {

// ---- tiled attention with an online softmax (FlashAttention's idea), forward and backward ------
//
// Letters: N = B * H independent (batch, head) pairs, T positions, D head size, `tile` rows or
// columns per tile. q, k, v, out: [N, T, D] contiguous; lse: [N, T] (log-sum-exp of each
// query's scaled scores, saved for backward). Which keys a query may see: all of them, or with
// `window` > 0 only |i - j| <= window (local attention).

struct TileOptions {
  std::int64_t tile = 64;
  std::int64_t window = 0;  // 0: full attention
};

// Is there any allowed (query, key) pair between query rows [q0, q1) and key columns [k0, k1)?
bool tile_needed(std::int64_t q0, std::int64_t q1, std::int64_t k0, std::int64_t k1, std::int64_t window) {
  return window == 0 || (k0 <= q1 - 1 + window && k1 - 1 >= q0 - window);
}
bool allowed(std::int64_t i, std::int64_t j, std::int64_t window) {
  return window == 0 || std::abs(i - j) <= window;
}

template <typename Real>
void tiled_forward(const Real* q, const Real* k, const Real* v, Real* out, Real* lse, std::int64_t N,
                   std::int64_t T, std::int64_t D, const TileOptions& o) {
  const Real scale = Real(1) / std::sqrt(Real(D));
  const std::int64_t tiles = (T + o.tile - 1) / o.tile;
#pragma omp parallel for collapse(2) schedule(dynamic)
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t qt = 0; qt < tiles; ++qt) {
      const std::int64_t q0 = qt * o.tile, q1 = std::min(T, q0 + o.tile), rows = q1 - q0;
      // The only extra memory: one tile of scores (and of K), a running max and sum per query row.
      std::vector<Real> s(o.tile * o.tile), k_tile(D * o.tile);
      std::vector<Real> m(rows, -std::numeric_limits<Real>::infinity()), l(rows, 0);
      Real* acc = out + (n * T + q0) * D;  // the output rows double as the running accumulator
      std::fill(acc, acc + rows * D, Real(0));
      for (std::int64_t kt = 0; kt < tiles; ++kt) {
        const std::int64_t k0 = kt * o.tile, k1 = std::min(T, k0 + o.tile), cols = k1 - k0;
        if (!tile_needed(q0, q1, k0, k1, o.window)) continue;  // local attention skips whole tiles
        // s = Q_tile K_tile^T * scale   [rows, cols]. K's tile is copied transposed first, so
        // the innermost loop runs along contiguous memory and the compiler vectorises it.
        for (std::int64_t j = 0; j < cols; ++j)
          for (std::int64_t d = 0; d < D; ++d) k_tile[d * o.tile + j] = k[(n * T + k0 + j) * D + d];
        for (std::int64_t i = 0; i < rows; ++i) {
          Real* s_i = &s[i * o.tile];
          const Real* qi = q + (n * T + q0 + i) * D;
          std::fill(s_i, s_i + cols, Real(0));
          for (std::int64_t d = 0; d < D; ++d)
            for (std::int64_t j = 0; j < cols; ++j) s_i[j] += qi[d] * k_tile[d * o.tile + j];
          for (std::int64_t j = 0; j < cols; ++j)
            s_i[j] = allowed(q0 + i, k0 + j, o.window) ? s_i[j] * scale : -std::numeric_limits<Real>::infinity();
        }
        // Online softmax: a new tile may raise a row's max; then everything accumulated so far
        // (sum and output) was exponentiated against the old max and is rescaled by
        // exp(old max - new max). Exact, not an approximation.
        for (std::int64_t i = 0; i < rows; ++i) {
          Real tile_max = -std::numeric_limits<Real>::infinity();
          for (std::int64_t j = 0; j < cols; ++j) tile_max = std::max(tile_max, s[i * o.tile + j]);
          const Real new_max = std::max(m[i], tile_max);
          if (new_max == -std::numeric_limits<Real>::infinity()) continue;  // nothing allowed yet
          const Real correction = std::exp(m[i] - new_max);  // exp(-inf) = 0 on the first tile
          Real* acc_i = acc + i * D;
          for (std::int64_t d = 0; d < D; ++d) acc_i[d] *= correction;
          l[i] *= correction;
          for (std::int64_t j = 0; j < cols; ++j) {
            const Real p = std::exp(s[i * o.tile + j] - new_max);
            l[i] += p;
            const Real* vj = v + (n * T + k0 + j) * D;
            for (std::int64_t d = 0; d < D; ++d) acc_i[d] += p * vj[d];
          }
          m[i] = new_max;
        }
      }
      for (std::int64_t i = 0; i < rows; ++i) {
        for (std::int64_t d = 0; d < D; ++d) acc[i * D + d] /= l[i];
        lse[n * T + q0 + i] = m[i] + std::log(l[i]);  // softmax weight p_ij = exp(s_ij - lse_i)
      }
    }
}

// Backward (FlashAttention-2's order). With P = softmax(S), O = P V and the incoming dO:
//   dV = P^T dO,   dP = dO V^T,   dS = P * (dP - rowsum(dO * O)),   dQ = dS K * scale,
//   dK = dS^T Q * scale.
// P is recomputed tile by tile from Q, K and the saved lse: p_ij = exp(q_i . k_j * scale - lse_i).
// Pass 1 owns one key tile at a time (dK, dV for it); pass 2 owns one query tile (dQ): no two
// threads ever write the same row.
template <typename Real>
void tiled_backward(const Real* q, const Real* k, const Real* v, const Real* out, const Real* lse,
                    const Real* dout, Real* dq, Real* dk, Real* dv, std::int64_t N, std::int64_t T,
                    std::int64_t D, const TileOptions& o) {
  const Real scale = Real(1) / std::sqrt(Real(D));
  const std::int64_t tiles = (T + o.tile - 1) / o.tile;
  std::vector<Real> delta(N * T);  // rowsum(dO * O): [N, T]
  for (std::int64_t r = 0; r < N * T; ++r) {
    Real sum = 0;
    for (std::int64_t d = 0; d < D; ++d) sum += dout[r * D + d] * out[r * D + d];
    delta[r] = sum;
  }
  // p_ij and ds_ij for one (query row, key row) pair, recomputed.
  auto p_and_ds = [&](std::int64_t n, std::int64_t i, std::int64_t j, Real& p, Real& ds) {
    const Real* qi = q + (n * T + i) * D;
    const Real* kj = k + (n * T + j) * D;
    const Real* vj = v + (n * T + j) * D;
    const Real* doi = dout + (n * T + i) * D;
    Real dot = 0, dp = 0;
    for (std::int64_t d = 0; d < D; ++d) {
      dot += qi[d] * kj[d];
      dp += doi[d] * vj[d];
    }
    p = std::exp(dot * scale - lse[n * T + i]);
    ds = p * (dp - delta[n * T + i]);
  };
#pragma omp parallel for collapse(2) schedule(dynamic)
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t kt = 0; kt < tiles; ++kt) {  // pass 1: dK and dV of one key tile
      const std::int64_t k0 = kt * o.tile, k1 = std::min(T, k0 + o.tile);
      std::fill(dk + (n * T + k0) * D, dk + (n * T + k1) * D, Real(0));
      std::fill(dv + (n * T + k0) * D, dv + (n * T + k1) * D, Real(0));
      for (std::int64_t qt = 0; qt < tiles; ++qt) {
        const std::int64_t q0 = qt * o.tile, q1 = std::min(T, q0 + o.tile);
        if (!tile_needed(q0, q1, k0, k1, o.window)) continue;
        for (std::int64_t j = k0; j < k1; ++j)
          for (std::int64_t i = q0; i < q1; ++i) {
            if (!allowed(i, j, o.window)) continue;
            Real p, ds;
            p_and_ds(n, i, j, p, ds);
            for (std::int64_t d = 0; d < D; ++d) {
              dv[(n * T + j) * D + d] += p * dout[(n * T + i) * D + d];       // dV = P^T dO
              dk[(n * T + j) * D + d] += ds * scale * q[(n * T + i) * D + d];  // dK = dS^T Q scale
            }
          }
      }
    }
#pragma omp parallel for collapse(2) schedule(dynamic)
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t qt = 0; qt < tiles; ++qt) {  // pass 2: dQ of one query tile
      const std::int64_t q0 = qt * o.tile, q1 = std::min(T, q0 + o.tile);
      std::fill(dq + (n * T + q0) * D, dq + (n * T + q1) * D, Real(0));
      for (std::int64_t kt = 0; kt < tiles; ++kt) {
        const std::int64_t k0 = kt * o.tile, k1 = std::min(T, k0 + o.tile);
        if (!tile_needed(q0, q1, k0, k1, o.window)) continue;
        for (std::int64_t i = q0; i < q1; ++i)
          for (std::int64_t j = k0; j < k1; ++j) {
            if (!allowed(i, j, o.window)) continue;
            Real p, ds;
            p_and_ds(n, i, j, p, ds);
            for (std::int64_t d = 0; d < D; ++d) dq[(n * T + i) * D + d] += ds * scale * k[(n * T + j) * D + d];
          }
      }
    }
}

// The differentiable op: q, k, v [B, H, T, D] (float32 or float64) -> output [B, H, T, D].
// Its graph node keeps only the output and lse [B, H, T]; q, k, v are the caller's anyway.
Tensor tiled_attention(const Tensor& q, const Tensor& k, const Tensor& v, const TileOptions& o) {
  const Array qa = q.data().contiguous(), ka = k.data().contiguous(), va = v.data().contiguous();
  const std::int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
  Array out(q.shape(), q.dtype()), lse({B, H, T}, q.dtype());
  auto forward = [&](auto* type) {
    using Real = std::remove_pointer_t<decltype(type)>;
    tiled_forward<Real>(qa.data<Real>(), ka.data<Real>(), va.data<Real>(), out.data<Real>(), lse.data<Real>(),
                        B * H, T, D, o);
  };
  if (q.dtype() == DType::Float64) forward((double*)nullptr);
  else forward((float*)nullptr);
  return autograd::record("tiled_attention", autograd::Site::current(), out, {q, k, v},
                          [=](const Array& grad) -> autograd::Grads {
                            Array dout = grad.contiguous();
                            Array dq(qa.shape(), qa.dtype()), dk(qa.shape(), qa.dtype()), dv(qa.shape(), qa.dtype());
                            auto backward = [&](auto* type) {
                              using Real = std::remove_pointer_t<decltype(type)>;
                              tiled_backward<Real>(qa.data<Real>(), ka.data<Real>(), va.data<Real>(),
                                                   out.data<Real>(), lse.data<Real>(), dout.data<Real>(),
                                                   dq.data<Real>(), dk.data<Real>(), dv.data<Real>(), B * H,
                                                   T, D, o);
                            };
                            if (qa.dtype() == DType::Float64) backward((double*)nullptr);
                            else backward((float*)nullptr);
                            return {dq, dk, dv};
                          });
}

// The band mask for the library's attention: true (blocked) where |i - j| > window.
Tensor band_mask(std::int64_t T, std::int64_t window) {
  std::vector<bool> blocked(T * T);
  for (std::int64_t i = 0; i < T; ++i)
    for (std::int64_t j = 0; j < T; ++j) blocked[i * T + j] = std::abs(i - j) > window;
  return Tensor(tensor::from_vector(blocked, {T, T}));
}

Tensor naive_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  return nn::scaled_dot_product_attention(q, k, v).output;
}

// The library's fused kernel: part 2's idea, with the tile products on the packed GEMM.
Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  return nn::fused_scaled_dot_product_attention(q, k, v);
}

double relative_error(const Tensor& approx, const Tensor& exact) {
  Array diff = tensor::sub(approx.data().to(DType::Float64), exact.data().to(DType::Float64));
  return std::sqrt(tensor::sum(tensor::square(diff)).item() /
                   tensor::sum(tensor::square(exact.data().to(DType::Float64))).item());
}

// Eigenvalues of a symmetric matrix [n, n] (row-major, float64) by cyclic Jacobi rotations: each
// rotation zeroes one off-diagonal pair; sweeps repeat until the off-diagonal part vanishes.
std::vector<double> symmetric_eigenvalues(std::vector<double> a, std::int64_t n) {
  for (int sweep = 0; sweep < 60; ++sweep) {
    double off = 0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = i + 1; j < n; ++j) off += a[i * n + j] * a[i * n + j];
    if (off < 1e-22) break;
    for (std::int64_t p = 0; p < n; ++p)
      for (std::int64_t r = p + 1; r < n; ++r) {
        double apr = a[p * n + r];
        if (std::fabs(apr) < 1e-300) continue;
        double theta = (a[r * n + r] - a[p * n + p]) / (2 * apr);
        double t = (theta >= 0 ? 1 : -1) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (std::int64_t x = 0; x < n; ++x) {  // columns p and r
          double xp = a[x * n + p], xr = a[x * n + r];
          a[x * n + p] = c * xp - s * xr;
          a[x * n + r] = s * xp + c * xr;
        }
        for (std::int64_t x = 0; x < n; ++x) {  // rows p and r
          double px = a[p * n + x], rx = a[r * n + x];
          a[p * n + x] = c * px - s * rx;
          a[r * n + x] = s * px + c * rx;
        }
      }
  }
  std::vector<double> eigenvalues(n);
  for (std::int64_t i = 0; i < n; ++i) eigenvalues[i] = a[i * n + i];
  std::sort(eigenvalues.rbegin(), eigenvalues.rend());
  return eigenvalues;
}

}  // namespace

const tutorial::Question kQuestion{
    .program = "15_attention_efficiency",
    .chinese = "如何优化注意力机制的计算效率？",
    .english = "How can attention's computation be made efficient?",
    .answer = "Naive attention stores a T x T matrix per head: O(T^2) memory, and that runs out first.\n"
              "Tiled attention with an online softmax (FlashAttention) gives the same result with O(T)\n"
              "extra memory (this library's fused cpu kernel, which MultiheadAttention uses, is one);\n"
              "a local window costs O(T w) but is a different model; low rank (Linformer)\n"
              "is a good approximation only when the attention matrix is close to low rank; int8 Q and\n"
              "K cut memory traffic 4x with a small score error that can be bounded by hand.",
    .article = "Attention Mechanism原理与代码实例讲解——面试题和算法编程题解析",
};

int main(int argc, char** argv) try {
  tutorial::Flags flags(kQuestion);
  tutorial::Options& options = flags.options;
  std::int64_t heads = 2, head_dim = 32, max_len = 2048, window = 32, tile = 64, low_rank_len = 256;
  int repeats = 3;
  flags.add("--heads", heads, "heads (batch 1)", tutorial::between(1, 16));
  flags.add("--head-dim", head_dim, "D, the size of one head", tutorial::between(1, 512));
  // At least 256: the memory growth is measured between the last two lengths (128, 256, ...).
  flags.add("--max-len", max_len, "longest T timed (from 128, doubling)", tutorial::between(256, 8192));
  flags.add("--window", window, "local attention: keys within this distance", tutorial::between(1, 8192));
  flags.add("--tile", tile, "rows and columns per tile", tutorial::between(1, 1024));
  // At least 16: ranks 4, 8, 16, ... up to T, and the error is compared between ranks.
  flags.add("--low-rank-len", low_rank_len, "T for the low-rank and int8 sections", tutorial::between(16, 1024));
  flags.add("--repeats", repeats, "timings per size (the fastest is kept)", tutorial::between(1, 100));
  std::string save_dir;
  flags.add_output_folder("--save", save_dir,
                          "folder to write part 2's inputs, outputs and gradients into as .npy");
  flags.parse(argc, argv);
  if (options.quick) {  // a few seconds (flags given win)
    flags.quick(max_len, std::min<std::int64_t>(max_len, 512));
    flags.quick(low_rank_len, std::min<std::int64_t>(low_rank_len, 64));
    flags.quick(repeats, 1);
  }
  // Naive attention's forward + backward holds several [H, T, T] float matrices at once: keep one
  // of them at the longest T within 1 GiB, so that section 1 measures memory instead of running out.
  const double matrix_gib = double(heads) * double(max_len) * double(max_len) * 4 / double(1 << 30);
  tutorial::Flags::require(matrix_gib <= 1, "--heads " + std::to_string(heads) + " at --max-len " +
                                                 std::to_string(max_len) + " makes one [H, T, T] float matrix " +
                                                 std::to_string(matrix_gib).substr(0, 4) +
                                                 " GiB (at most 1): lower --heads or --max-len");
  tutorial::Checks checks;
  tensor::Generator gen(options.seed);
  const std::int64_t B = 1, H = heads, D = head_dim;
  std::printf("  sizes: batch %lld, %lld heads, head size %lld\n", (long long)B, (long long)H, (long long)D);

  tutorial::section("1. Naive attention: time and memory grow with T^2");
  std::vector<double> lengths, naive_ms, tiled_ms, window_ms, naive_bytes, tiled_bytes, matrix_bytes;
  std::vector<double> fused_ms, fused_bytes, naive_train_ms, fused_train_ms;
  auto random_qkv = [&](std::int64_t T, DType dtype, bool grad) {
    std::vector<Tensor> qkv;
    for (int i = 0; i < 3; ++i) qkv.push_back(autograd::randn({B, H, T, D}, gen, dtype).requires_grad_(grad));
    return qkv;
  };
  // Memory first, while nothing has run multi-threaded yet: for each T, one forward and backward
  // pass in a fresh child process, and how far its peak resident memory rose (see
  // tutorial::peak_memory_growth for why a fresh process).
  std::vector<std::int64_t> sizes;
  for (std::int64_t T = 128; T <= max_len; T *= 2) sizes.push_back(T);
  enum class Kind { Naive, Tiled, Fused };
  auto attend = [tile](Kind kind, const std::vector<Tensor>& qkv) {
    if (kind == Kind::Tiled) return tiled_attention(qkv[0], qkv[1], qkv[2], {tile, 0});
    if (kind == Kind::Fused) return fused_attention(qkv[0], qkv[1], qkv[2]);
    return naive_attention(qkv[0], qkv[1], qkv[2]);
  };
  auto peak_bytes = [&](std::int64_t T, Kind kind) {
    auto forward_backward = [=](const std::vector<Tensor>& qkv) {
      attend(kind, qkv).sum().backward();
    };
    return tutorial::peak_memory_growth([&] {
      forward_backward(random_qkv(16, DType::Float32, true));  // warm-up: code and allocator in place
      std::vector<Tensor> qkv = random_qkv(T, DType::Float32, true);  // the inputs: not counted
      return std::function<void()>([=] { forward_backward(qkv); });
    });
  };
  for (std::int64_t T : sizes) {
    naive_bytes.push_back(peak_bytes(T, Kind::Naive));
    tiled_bytes.push_back(peak_bytes(T, Kind::Tiled));
    fused_bytes.push_back(peak_bytes(T, Kind::Fused));
    matrix_bytes.push_back(double(B * H * T * T) * 4);
  }
  std::printf("  forward time (fastest of %d) and peak memory of forward + backward:\n", repeats);
  std::printf("  %6s %10s %10s %10s %10s | %11s %11s %11s %13s\n", "T", "naive ms", "fused ms",
              "tiled ms", "window ms", "naive peak", "fused peak", "tiled peak", "T x T floats");
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::int64_t T = sizes[i];
    std::vector<Tensor> qkv = random_qkv(T, DType::Float32, false);
    TileOptions full{tile, 0}, local{tile, window};
    double t_naive = tutorial::best_seconds(repeats, [&] { naive_attention(qkv[0], qkv[1], qkv[2]); });
    double t_fused = tutorial::best_seconds(repeats, [&] { fused_attention(qkv[0], qkv[1], qkv[2]); });
    double t_tiled = tutorial::best_seconds(repeats, [&] { tiled_attention(qkv[0], qkv[1], qkv[2], full); });
    double t_window = tutorial::best_seconds(repeats, [&] { tiled_attention(qkv[0], qkv[1], qkv[2], local); });
    lengths.push_back(double(T));
    naive_ms.push_back(1e3 * t_naive), tiled_ms.push_back(1e3 * t_tiled), window_ms.push_back(1e3 * t_window);
    fused_ms.push_back(1e3 * t_fused);
    std::printf("  %6lld %10.2f %10.2f %10.2f %10.2f | %11s %11s %11s %13s\n", (long long)T, 1e3 * t_naive,
                1e3 * t_fused, 1e3 * t_tiled, 1e3 * t_window, tutorial::human_bytes(naive_bytes[i]).c_str(),
                tutorial::human_bytes(fused_bytes[i]).c_str(), tutorial::human_bytes(tiled_bytes[i]).c_str(),
                tutorial::human_bytes(matrix_bytes[i]).c_str());
  }
  // Training runs the backward too: there the fused kernel recomputes the weights from the saved
  // log-sum-exp instead of reading a stored T x T matrix.
  std::printf("  forward + backward time (fastest of %d), naive vs the library's fused kernel:\n", repeats);
  std::printf("  %6s %10s %10s %8s\n", "T", "naive ms", "fused ms", "ratio");
  for (std::int64_t T : sizes) {
    std::vector<Tensor> qkv = random_qkv(T, DType::Float32, true);
    auto train_step = [&](Kind kind) {
      attend(kind, qkv).sum().backward();
      for (Tensor& t : qkv) t.zero_grad();
    };
    naive_train_ms.push_back(1e3 * tutorial::best_seconds(repeats, [&] { train_step(Kind::Naive); }));
    fused_train_ms.push_back(1e3 * tutorial::best_seconds(repeats, [&] { train_step(Kind::Fused); }));
    std::printf("  %6lld %10.2f %10.2f %7.2fx\n", (long long)T, naive_train_ms.back(), fused_train_ms.back(),
                naive_train_ms.back() / fused_train_ms.back());
  }
  const std::size_t last = lengths.size() - 1;
  double naive_growth = naive_bytes[last] / naive_bytes[last - 1];
  double tiled_growth = tiled_bytes[last] / tiled_bytes[last - 1];
  double fused_growth = fused_bytes[last] / fused_bytes[last - 1];
  std::printf("  doubling T: naive needs %.1fx more memory (T^2 -> 4x), tiled %.1fx (T -> 2x).\n"
              "  At T = %lld naive needs %.1f times one T x T float matrix per head (scores, weights and\n"
              "  their gradients); tiled needs %.1f%% of one (its output, the gradients of Q, K, V).\n",
              naive_growth, tiled_growth, (long long)sizes[last], naive_bytes[last] / matrix_bytes[last],
              100 * tiled_bytes[last] / matrix_bytes[last]);
  checks.check(naive_bytes[last] >= matrix_bytes[last], "naive attention needs at least one T x T matrix per head");
  checks.check(tiled_bytes[last] < 0.25 * naive_bytes[last], "tiled attention needs less than a quarter of naive's memory");
  checks.check(fused_bytes[last] < 0.25 * naive_bytes[last],
               "the library's fused kernel needs less than a quarter of naive's memory");
  std::printf("  The library's fused kernel: %s at T = %lld (x%.1f per doubling of T).\n",
              tutorial::human_bytes(fused_bytes[last]).c_str(), (long long)sizes[last], fused_growth);
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer pads every block and keeps freed ones in quarantine: peak memory then says
  // more about its allocator than about T, so the growth rates are not checked in that build.
  std::printf("  [skipped] memory growth per doubling of T: not measurable under AddressSanitizer\n");
#else
  checks.check(naive_growth > 3, "naive memory grows ~4x when T doubles (quadratic)");
  checks.check(tiled_growth < 2.6, "tiled memory grows ~2x when T doubles (linear)");
  checks.check(fused_growth < 2.6, "the fused kernel's memory grows ~2x when T doubles (linear)");
#endif
  std::printf("  Time: part 2's tiled loops are plain C++ while the naive path uses an optimised matrix\n"
              "  multiply, so they are slower. The library's fused kernel runs its tiles on that same\n"
              "  matrix multiply: it does a little more arithmetic (the backward recomputes the weights)\n"
              "  but never writes a T x T matrix to memory and reads it back; at T = %lld its forward +\n"
              "  backward took %.2fx naive's time here. On a GPU, where memory traffic dominates, the\n"
              "  fused version is the clearly faster one. Local attention does O(T w) work: its time\n"
              "  grows linearly.\n",
              (long long)sizes[last], fused_train_ms[last] / naive_train_ms[last]);

  tutorial::section("2. Tiled online-softmax attention equals the naive one");
  double tiled_output_diff = 0, int8_output_error = 0;  // for the closing answer
  {
    const std::int64_t T = 200;  // not a multiple of the tile: partial tiles are exercised too
    std::vector<Tensor> a = random_qkv(T, DType::Float32, true), b;
    for (const Tensor& t : a) b.push_back(t.detach().clone().requires_grad_(true));
    Tensor exact = naive_attention(a[0], a[1], a[2]);
    Tensor tiled = tiled_attention(b[0], b[1], b[2], {tile, 0});
    Tensor upstream = autograd::randn(exact.shape(), gen);
    (exact * upstream).sum().backward();
    (tiled * upstream).sum().backward();
    double out_diff = tutorial::max_abs_diff(exact, tiled);
    tiled_output_diff = out_diff;
    double grad_diff = 0;
    for (int i = 0; i < 3; ++i)
      grad_diff = std::max(grad_diff, tutorial::max_abs_diff(a[i].grad(), b[i].grad()));
    std::printf("  T=%lld, float32: outputs differ by %.1e, gradients of Q, K, V by %.1e\n", (long long)T, out_diff, grad_diff);
    checks.small(out_diff, 1e-5, "tiled forward equals nn::scaled_dot_product_attention (float32)");
    checks.small(grad_diff, 1e-4,
                 "tiled backward equals autograd through the naive attention (float32)");
    tutorial::save_npy_files(save_dir, {{"q", b[0].detach()},
                                        {"k", b[1].detach()},
                                        {"v", b[2].detach()},
                                        {"output", tiled.detach()},
                                        {"upstream", upstream},
                                        {"dq", b[0].grad()},
                                        {"dk", b[1].grad()},
                                        {"dv", b[2].grad()}});
    std::vector<Tensor> small;
    for (int i = 0; i < 3; ++i) small.push_back(autograd::randn({1, 2, 7, 4}, gen, DType::Float64).requires_grad_());
    autograd::GradcheckResult result = autograd::gradcheck(
        [](const std::vector<Tensor>& x) { return tiled_attention(x[0], x[1], x[2], {3, 0}); }, small);
    std::printf("  gradcheck (float64, T=7 in tiles of 3): %s\n", result.message.c_str());
    checks.check(result.passed, "tiled backward agrees with finite differences (gradcheck, float64)");

    // The library's fused kernel on the same inputs, causal too: the composed path with the
    // same mask is the reference.
    for (bool causal : {false, true}) {
      std::vector<Tensor> c;
      for (const Tensor& t : a) c.push_back(t.detach().clone().requires_grad_(true));
      Tensor reference = nn::scaled_dot_product_attention(c[0], c[1], c[2], {.is_causal = causal}).output;
      (reference * upstream).sum().backward();
      std::vector<Tensor> reference_grads = {c[0].grad(), c[1].grad(), c[2].grad()};
      for (Tensor& t : c) t.zero_grad();
      Tensor fused = nn::fused_scaled_dot_product_attention(c[0], c[1], c[2], {.is_causal = causal});
      (fused * upstream).sum().backward();
      double fused_out_diff = tutorial::max_abs_diff(reference, fused), fused_grad_diff = 0;
      for (int i = 0; i < 3; ++i)
        fused_grad_diff = std::max(fused_grad_diff, tutorial::max_abs_diff(reference_grads[i], c[i].grad()));
      std::printf("  library fused kernel%s: outputs differ by %.1e, gradients by %.1e\n",
                  causal ? " (causal)" : "", fused_out_diff, fused_grad_diff);
      checks.small(fused_out_diff, 1e-5, std::string("fused kernel forward equals the composed path") +
                                             (causal ? " (causal)" : "") + " (float32)");
      checks.small(fused_grad_diff, 1e-4, std::string("fused kernel backward equals the composed path") +
                                              (causal ? " (causal)" : "") + " (float32)");
    }
    autograd::GradcheckResult fused_check = autograd::gradcheck(
        [](const std::vector<Tensor>& x) {
          return nn::fused_scaled_dot_product_attention(x[0], x[1], x[2], {.is_causal = true});
        },
        small);
    std::printf("  gradcheck of the fused kernel (float64, T=7, causal): %s\n", fused_check.message.c_str());
    checks.check(fused_check.passed, "the fused kernel's backward agrees with finite differences");
  }

  tutorial::section("3. Local-window attention: the same tiles, the far ones skipped");
  {
    const std::int64_t T = 200;
    std::vector<Tensor> a = random_qkv(T, DType::Float32, false);
    Tensor local = tiled_attention(a[0], a[1], a[2], {tile, window});
    Tensor masked = nn::scaled_dot_product_attention(a[0], a[1], a[2], {.attn_mask = band_mask(T, window)}).output;
    Tensor full = naive_attention(a[0], a[1], a[2]);
    double diff = tutorial::max_abs_diff(local, masked);
    std::printf("  window %lld: equals full attention with a band mask (max diff %.1e); it is a different\n"
                "  model from full attention (relative difference %.2f), trained to live with the window.\n",
                (long long)window, diff, relative_error(local, full));
    checks.small(diff, 1e-5, "local attention equals the library's attention with a band mask");
    std::vector<Tensor> small;
    for (int i = 0; i < 3; ++i) small.push_back(autograd::randn({1, 1, 9, 3}, gen, DType::Float64).requires_grad_());
    autograd::GradcheckResult result = autograd::gradcheck(
        [](const std::vector<Tensor>& x) { return tiled_attention(x[0], x[1], x[2], {4, 2}); }, small);
    checks.check(result.passed, "local attention's backward passes gradcheck (float64, window 2)");
    double growth = window_ms[last] / window_ms[last - 1];
    std::printf("  timing: doubling T multiplies its time by %.1f (naive: %.1f)\n", growth,
                naive_ms[last] / naive_ms[last - 1]);
  }

  tutorial::section("4. Low rank (Linformer): project T keys and values down to k");
  // Linformer: K' = E K and V' = F V with E, F [k, T]; out = softmax(Q K'^T / sqrt(D)) V': the
  // score matrix is T x k instead of T x T. Linformer learns E and F; here they are fixed to
  // mean pooling (row c of E averages positions c*T/k .. (c+1)*T/k - 1), one of the choices
  // its paper tries. How good can ANY rank-k method be? By Eckart-Young, the best rank-k
  // approximation of P leaves sqrt(sum_{i>k} sigma_i^2) / ||P||_F, with sigma the singular values
  // of P (from the eigenvalues of P P^T, by Jacobi). Two kinds of input: independent random
  // vectors at every position, and "smooth" ones where neighbouring positions are similar
  // (each feature a random walk along the sequence, as nearby tokens of real text tend to be).
  std::vector<double> ranks;
  std::vector<std::vector<double>> pooled_error(2), best_rank_error(2);
  const char* input_names[] = {"random", "smooth"};
  {
    const std::int64_t T = low_rank_len;
    auto smooth_qkv = [&]() {  // x_t = 0.98 x_{t-1} + sqrt(1 - 0.98^2) noise_t: variance 1
      std::vector<Tensor> qkv;
      for (int i = 0; i < 3; ++i) {
        std::vector<float> noise = autograd::randn({B, H, T, D}, gen).to_vector<float>(), x(noise.size());
        const double rho = 0.98, fresh = std::sqrt(1 - rho * rho);
        for (std::int64_t n = 0; n < B * H; ++n)
          for (std::int64_t t = 0; t < T; ++t)
            for (std::int64_t d = 0; d < D; ++d) {
              std::int64_t at = (n * T + t) * D + d;
              x[at] = t == 0 ? noise[at] : float(rho * x[at - D] + fresh * noise[at]);
            }
        qkv.push_back(Tensor(tensor::from_vector(x, {B, H, T, D})));
      }
      return qkv;
    };
    auto pooling = [&](std::int64_t rank) {  // E [rank, T]
      std::vector<float> e(rank * T, 0.0f);
      const std::int64_t width = T / rank;
      for (std::int64_t c = 0; c < rank; ++c)
        for (std::int64_t t = c * width; t < (c + 1) * width; ++t) e[c * T + t] = 1.0f / float(width);
      return Tensor(tensor::from_vector(e, {rank, T}));
    };
    for (std::int64_t rank = 4; rank <= T; rank *= 2) ranks.push_back(double(rank));
    for (int kind = 0; kind < 2; ++kind) {
      std::vector<Tensor> a = kind == 0 ? random_qkv(T, DType::Float32, false) : smooth_qkv();
      nn::AttentionOutput exact = nn::scaled_dot_product_attention(a[0], a[1], a[2]);
      auto linformer = [&](const Tensor& E, const Tensor& F) {
        return nn::scaled_dot_product_attention(a[0], autograd::matmul(E, a[1]), autograd::matmul(F, a[2])).output;
      };
      if (kind == 0) {
        Tensor identity = autograd::eye(T);
        checks.same(linformer(identity, identity), exact.output, 1e-5,
                    "Linformer with k = T and E = F = I is exact attention");
      }
      Array P = exact.weights.select(0, 0).select(0, 0).data().to(DType::Float64);  // one head [T, T]
      Array gram = tensor::matmul(P, P.t());  // P P^T: its eigenvalues are sigma^2
      std::vector<double> sigma2 = symmetric_eigenvalues(gram.to_vector<double>(), T);
      double total = 0, trace = 0;
      for (double s2 : sigma2) total += std::max(s2, 0.0);
      for (std::int64_t i = 0; i < T; ++i) trace += gram.at({i, i});
      checks.close(total / trace, 1, 1e-9, std::string("the eigenvalues of P P^T add up to ||P||_F^2 (") +
                                               input_names[kind] + " inputs)");
      for (double rank : ranks) {
        Tensor E = pooling(std::int64_t(rank));
        pooled_error[kind].push_back(relative_error(linformer(E, E), exact.output));
        double tail = 0;
        for (std::int64_t i = std::int64_t(rank); i < T; ++i) tail += std::max(sigma2[i], 0.0);
        best_rank_error[kind].push_back(std::sqrt(tail / total));
      }
    }
    std::printf("  T = %lld. Relative errors:\n  %6s | %14s %14s | %14s %14s\n", (long long)T, "rank k",
                "pooled, random", "best, random", "pooled, smooth", "best, smooth");
    for (std::size_t r = 0; r < ranks.size(); ++r)
      std::printf("  %6.0f | %14.3f %14.3f | %14.3f %14.3f\n", ranks[r], pooled_error[0][r], best_rank_error[0][r],
                  pooled_error[1][r], best_rank_error[1][r]);
    std::printf("  With random inputs the attention matrix is far from low rank: even the best rank-k\n"
                "  approximation needs k close to T, and pooling is poor. With smooth inputs a small k\n"
                "  captures most of P, and pooling's output is as good (the output also averages the\n"
                "  smooth V, so its error can even be below P's). Low-rank attention is a bet on the\n"
                "  data being redundant; its cost is O(T k) instead of O(T^2).\n");
    std::size_t mid = ranks.size() / 2;
    checks.check(best_rank_error[1][mid] < best_rank_error[0][mid],
                 "the smooth inputs' attention matrix is closer to low rank than the random ones'");
    checks.check(pooled_error[1].front() > pooled_error[1][ranks.size() - 2],
                 "the Linformer error falls as k grows");
  }

  tutorial::section("5. int8-quantised scores");
  {
    const std::int64_t T = low_rank_len;
    std::vector<Tensor> a = random_qkv(T, DType::Float32, false);
    // Symmetric per-row quantization: x ~ scale * x_int8, scale = max|x_row| / 127.
    std::vector<float> q = a[0].to_vector<float>(), k = a[1].to_vector<float>();
    const std::int64_t rows = B * H * T;
    std::vector<std::int8_t> q8(q.size()), k8(k.size());
    std::vector<float> q_scale(rows), k_scale(rows);
    auto quantize = [&](const std::vector<float>& x, std::vector<std::int8_t>& x8, std::vector<float>& scale) {
      for (std::int64_t r = 0; r < rows; ++r) {
        float top = 0;
        for (std::int64_t d = 0; d < D; ++d) top = std::max(top, std::fabs(x[r * D + d]));
        scale[r] = top / 127;
        for (std::int64_t d = 0; d < D; ++d) x8[r * D + d] = (std::int8_t)std::lround(x[r * D + d] / scale[r]);
      }
    };
    quantize(q, q8, q_scale);
    quantize(k, k8, k_scale);
    // Scores with integer dot products (int32 accumulators), scaled back to floats once.
    const double inv_sqrt_d = 1 / std::sqrt(double(D));
    std::vector<float> scores8(B * H * T * T);
    double worst_error = 0, worst_ratio = 0;
    for (std::int64_t n = 0; n < B * H; ++n)
      for (std::int64_t i = 0; i < T; ++i)
        for (std::int64_t j = 0; j < T; ++j) {
          std::int32_t dot = 0;
          double exact = 0, q_l1 = 0, k8_l1 = 0;
          for (std::int64_t d = 0; d < D; ++d) {
            dot += std::int32_t(q8[(n * T + i) * D + d]) * std::int32_t(k8[(n * T + j) * D + d]);
            exact += double(q[(n * T + i) * D + d]) * k[(n * T + j) * D + d];
            q_l1 += std::fabs(q[(n * T + i) * D + d]);
            k8_l1 += std::fabs(double(k8[(n * T + j) * D + d]) * k_scale[n * T + j]);
          }
          float qs = q_scale[n * T + i], ks = k_scale[n * T + j];
          double approx = double(dot) * qs * ks;
          scores8[(n * T + i) * T + j] = float(approx * inv_sqrt_d);
          // Bound: q.k - q^.k^ = q.(k - k^) + (q - q^).k^, each element off by at most half a
          // step: |error| <= ||q||_1 * ks/2 + ||k^||_1 * qs/2.
          double bound = q_l1 * ks / 2 + k8_l1 * qs / 2;
          worst_error = std::max(worst_error, std::fabs(approx - exact) * inv_sqrt_d);
          worst_ratio = std::max(worst_ratio, std::fabs(approx - exact) / bound);
        }
    Tensor scores_int8(tensor::from_vector(scores8, {B, H, T, T}));
    Tensor weights8 = autograd::softmax(scores_int8, -1);
    Tensor out8 = autograd::matmul(weights8, a[2]);
    nn::AttentionOutput exact = nn::scaled_dot_product_attention(a[0], a[1], a[2]);
    double weight_error = tutorial::max_abs_diff(weights8, exact.weights);
    std::printf("  Q and K stored as int8 (%s instead of %s), one float scale per row\n",
                tutorial::human_bytes(double(2 * rows * D)).c_str(), tutorial::human_bytes(double(2 * rows * D * 4)).c_str());
    std::printf("  largest score error %.4f (scores have std ~1); worst error / hand bound = %.2f\n", worst_error, worst_ratio);
    std::printf("  softmax weights off by at most %.5f; output relative error %.4f\n", weight_error,
                relative_error(out8, exact.output));
    checks.check(worst_ratio <= 1.0, "every int8 score error is within the bound worked out by hand");
    checks.check(relative_error(out8, exact.output) < 0.02, "int8 scores change the output by < 2%");
    int8_output_error = relative_error(out8, exact.output);
  }

  tutorial::section("6. Pictures");
  {
    viz::LinePlot time_plot("Attention forward time vs sequence length T");
    time_plot.set_x_label("sequence length T").set_y_label("milliseconds (log scale)").set_log_y(true);
    time_plot.add_series("naive (library, matrix multiply)", lengths, naive_ms);
    time_plot.add_series("fused kernel (library, tiles on the matrix multiply)", lengths, fused_ms);
    time_plot.add_series("tiled online softmax (plain loops)", lengths, tiled_ms);
    time_plot.add_series("local window " + std::to_string(window) + " (tiled)", lengths, window_ms);
    tutorial::save_picture(time_plot, options, "attention_time.png",
                           "naive and tiled time grow about 4x per doubling of T (quadratic), the "
                           "window's about 2x (each query reads at most w keys); one timing on a "
                           "busy machine is noisy");

    viz::LinePlot memory_plot("Peak memory of forward + backward vs sequence length");
    std::vector<double> naive_mib, tiled_mib, matrix_mib, fused_mib;
    for (std::size_t i = 0; i < lengths.size(); ++i) {
      naive_mib.push_back(naive_bytes[i] / (1 << 20));
      fused_mib.push_back(fused_bytes[i] / (1 << 20));
      tiled_mib.push_back(tiled_bytes[i] / (1 << 20));
      matrix_mib.push_back(matrix_bytes[i] / (1 << 20));
    }
    memory_plot.set_x_label("sequence length T").set_y_label("MiB (log scale)").set_log_y(true);
    memory_plot.add_series("naive: measured", lengths, naive_mib);
    memory_plot.add_series("one T x T float matrix per head", lengths, matrix_mib);
    memory_plot.add_series("tiled: measured", lengths, tiled_mib);
    memory_plot.add_series("fused kernel (library): measured", lengths, fused_mib);
    tutorial::save_picture(memory_plot, options, "attention_memory.png",
                           "the naive line runs parallel to the T x T matrix line (quadratic); "
                           "the tiled and fused ones rise far slower (linear in T)");

    viz::LinePlot rank_plot("Low-rank attention (T = " + std::to_string(low_rank_len) + "): error vs rank k; P = attention matrix");
    rank_plot.set_x_label("rank k").set_y_label("relative error").set_y_range(0, 1.05);
    for (int kind = 0; kind < 2; ++kind) {
      rank_plot.add_series(std::string("Linformer (mean pooling), ") + input_names[kind], ranks, pooled_error[kind]);
      rank_plot.add_series(std::string("best rank-k of P, ") + input_names[kind], ranks, best_rank_error[kind]);
    }
    tutorial::save_picture(rank_plot, options, "attention_low_rank.png",
                           "the error falls as the rank k grows; Linformer's pooling stays above "
                           "the best rank-k error, which no rank-k method can beat");
  }

  int code = checks.finish();
  std::printf("T=%lld: peak memory naive %s, fused %s, tiled %s; forward naive %.1f ms, fused %.1f ms, tiled %.1f ms,"
              " window %.1f ms; forward + backward naive %.1f ms, fused %.1f ms\n",
              (long long)lengths[last], tutorial::human_bytes(naive_bytes[last]).c_str(),
              tutorial::human_bytes(fused_bytes[last]).c_str(), tutorial::human_bytes(tiled_bytes[last]).c_str(),
              naive_ms[last], fused_ms[last], tiled_ms[last], window_ms[last], naive_train_ms[last],
              fused_train_ms[last]);
  const std::size_t mid_rank = ranks.size() / 2;
  char answer[900];
  std::snprintf(answer, sizeof answer,
                "At T = %lld naive attention peaked at %s (x%.1f per doubling of T); tiled online-softmax\n"
                "attention at %s (x%.1f), with outputs equal to %.1e; the library's fused kernel at %s,\n"
                "forward + backward in %.2fx naive's time. A window of %lld keys grows linearly in\n"
                "time. Linformer at k = %.0f of %lld: %.2f relative error on random inputs, %.2f on smooth\n"
                "ones (the attention matrix must be close to low rank). int8 Q and K: %.2f%% output error.",
                (long long)lengths[last], tutorial::human_bytes(naive_bytes[last]).c_str(), naive_growth,
                tutorial::human_bytes(tiled_bytes[last]).c_str(), tiled_growth, tiled_output_diff,
                tutorial::human_bytes(fused_bytes[last]).c_str(), fused_train_ms[last] / naive_train_ms[last],
                (long long)window,
                ranks[mid_rank], (long long)low_rank_len, pooled_error[0][mid_rank], pooled_error[1][mid_rank],
                100 * int8_output_error);
  tutorial::print_answer(kQuestion, answer);
  std::printf("\nPython twin: tutorials/python/15_attention_efficiency.py (make python)\n");
  return code;
} catch (...) {
  return tutorial::report_error();
}
