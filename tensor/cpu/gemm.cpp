// gemm.cpp — a fast matrix multiply on the cpu: Goto's algorithm, as BLIS and OpenBLAS do it.
//
// Why the plain triple loop (matmul_reference) is slow: for big matrices it streams all of B
// through the caches once per row of A, so most loads wait on memory. A core here can finish
// two 16-float fused multiply-adds (FMAs) per cycle, 64 flops, but only with its operands in
// registers or in the L1 cache. The fix is to cut the product into blocks sized for each cache
// level, copy ("pack") each block once into a buffer laid out in exactly the order the
// innermost kernel reads it, and reuse every loaded value as many times as possible.
//
//   C [M x N] = A [M x K] @ B [K x N]
//
//   loop 1  jc: columns of C and B, nc at a time
//   loop 2  pc: the shared dim K, kc at a time
//                 pack B[pc : pc+kc, jc : jc+nc] -> packed_b   (kc x nc: lives in L3)
//   loop 3  ic: rows of C and A, mc at a time
//                 pack A[ic : ic+mc, pc : pc+kc] -> packed_a   (mc x kc: lives in L2)
//   loop 4  jr: NR columns at a time: a kc x NR "b micro-panel" of packed_b  (stays in L1)
//   loop 5  ir: MR rows at a time: an MR x kc "a micro-panel" of packed_a (streams from L2)
//                 micro-kernel: C tile [MR x NR] (+)= a micro-panel @ b micro-panel
//
//       packed_a (mc x kc)           packed_b (kc x nc)              C block (mc x nc)
//      in MR-row micro-panels       in NR-column micro-panels
//               kc                         nc                                nc
//        +--------------+          +----+----+----+---         +----+----+----+---
//     MR |  a panel 0   |       kc | b  | b  | b  |         MR |    |tile|    |
//        +--------------+          | 0  | 1  | 2  | ...        +----+----+----+---
//     MR |  a panel 1   |          |    |    |    |         MR |    |    |    |
//        +--------------+          +----+----+----+---         +----+----+----+---
//        |     ...      |            NR   NR   NR              |        ...
//
//   tile (i, j) of the C block = a panel i @ b panel j    (loop 4 picks j, loop 5 picks i)
//
// The micro-kernel holds the MR x NR tile of C in registers (12 x 32 floats with AVX-512: 24
// vector registers). At each of its kc steps it loads one row of the b micro-panel (NR values:
// 2 vector registers), broadcasts each of the MR values of column k of the a micro-panel, and
// does MR x 2 FMAs: every loaded value feeds several FMAs, and the b micro-panel, reused by
// all of loop 5, is read from L1.
//
// Packing also takes care of strides: the packing loops read A and B through any strides (a
// transposed view, a stride-0 broadcast batch), and the micro-kernel only sees packed buffers,
// so `q @ k.transpose(-2, -1)` needs no copy of k. And edges: a short last micro-panel is
// padded with zeros (not left as garbage, which could hold NaNs or slow denormals), the
// micro-kernel always computes a full MR x NR tile, and a tile that sticks out of C (or a C
// whose columns are not contiguous) is computed into a small buffer of which only the valid
// part is written.
//
// Sections: 1. SIMD wrappers  2. block sizes  3. micro-kernel  4. packing  5. the five loops
// 6. batches and threads.
#include "tensor/cpu/gemm.hpp"

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "tensor/cpu/loops.hpp"

namespace tensor::cpu {

namespace {

// ---- 1. the vector instructions, chosen at build time -------------------------------------
//
// Simd<T> wraps the handful of intrinsics the micro-kernel needs, for the widest instruction
// set the compiler targets (the Makefile builds with -march=native): AVX-512 (16 floats or 8
// doubles per register, 32 registers), else AVX2 + FMA (8 floats or 4 doubles, 16 registers),
// else plain scalar code, which works everywhere.

#if defined(__AVX512F__)

constexpr const char* kInstructionSet = "avx512";

template <typename T>
struct Simd;

template <>
struct Simd<float> {
  using Vec = __m512;
  static constexpr int kWidth = 16;
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static Vec broadcast(float x) { return _mm512_set1_ps(x); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }  // a * b + c
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  // The first n < kWidth lanes only; the others are neither read nor written.
  static Vec load_first(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void store_first(float* p, Vec v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static __mmask16 mask(int n) { return __mmask16((1u << n) - 1); }
};

template <>
struct Simd<double> {
  using Vec = __m512d;
  static constexpr int kWidth = 8;
  static Vec zero() { return _mm512_setzero_pd(); }
  static Vec load(const double* p) { return _mm512_loadu_pd(p); }
  static Vec broadcast(double x) { return _mm512_set1_pd(x); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_pd(a, b, c); }
  static Vec add(Vec a, Vec b) { return _mm512_add_pd(a, b); }
  static void store(double* p, Vec v) { _mm512_storeu_pd(p, v); }
  static Vec load_first(const double* p, int n) { return _mm512_maskz_loadu_pd(mask(n), p); }
  static void store_first(double* p, Vec v, int n) { _mm512_mask_storeu_pd(p, mask(n), v); }
  static __mmask8 mask(int n) { return __mmask8((1u << n) - 1); }
};

// The register tile: kTileRows rows of C by kTileVectors registers of columns, 12 x 32 floats.
// 12 x 2 = 24 accumulators + 2 registers for the row of b + 1 for the broadcast value of a =
// 27 of the 32 zmm registers. Per step k, 2 vector loads and 12 broadcasts feed 24 FMAs: the
// two FMA units stay busy (12 cycles) while the loads use under half of the load ports, and
// 24 independent accumulators hide the 4-cycle FMA latency. Alone, with its operands in L1,
// this kernel runs at ~93% of the FMA peak; 8 x 32, 14 x 32, 6 x 64 and 8 x 48 measured no
// better in the full GEMM (bench/), and 12 rows waste less on a 128-row attention matrix.
constexpr int kTileRows = 12;
constexpr int kTileVectors = 2;

#elif defined(__AVX2__) && defined(__FMA__)

constexpr const char* kInstructionSet = "avx2";

template <typename T>
struct Simd;

template <>
struct Simd<float> {
  using Vec = __m256;
  static constexpr int kWidth = 8;
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static Vec broadcast(float x) { return _mm256_set1_ps(x); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec load_first(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static void store_first(float* p, Vec v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
  static __m256i mask(int n) {  // lanes i < n have their top bit set
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
};

template <>
struct Simd<double> {
  using Vec = __m256d;
  static constexpr int kWidth = 4;
  static Vec zero() { return _mm256_setzero_pd(); }
  static Vec load(const double* p) { return _mm256_loadu_pd(p); }
  static Vec broadcast(double x) { return _mm256_set1_pd(x); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_pd(a, b, c); }
  static Vec add(Vec a, Vec b) { return _mm256_add_pd(a, b); }
  static void store(double* p, Vec v) { _mm256_storeu_pd(p, v); }
  static Vec load_first(const double* p, int n) { return _mm256_maskload_pd(p, mask(n)); }
  static void store_first(double* p, Vec v, int n) { _mm256_maskstore_pd(p, mask(n), v); }
  static __m256i mask(int n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
};

// 6 x 2 = 12 accumulators + 2 for b + 1 for a = 15 of the 16 ymm registers (BLIS's Haswell
// kernel has the same shape).
constexpr int kTileRows = 6;
constexpr int kTileVectors = 2;

#else

constexpr const char* kInstructionSet = "scalar";

// No vector instructions: a "vector" is one number, and the compiler may still vectorise the
// unrolled loops of the micro-kernel on its own.
template <typename T>
struct Simd {
  using Vec = T;
  static constexpr int kWidth = 1;
  static Vec zero() { return T(0); }
  static Vec load(const T* p) { return *p; }
  static Vec broadcast(T x) { return x; }
  static Vec fma(Vec a, Vec b, Vec c) { return a * b + c; }
  static Vec add(Vec a, Vec b) { return a + b; }
  static void store(T* p, Vec v) { *p = v; }
  static Vec load_first(const T*, int) { return T(0); }  // n < kWidth = 1: nothing to do
  static void store_first(T*, Vec, int) {}
};

constexpr int kTileRows = 4;
constexpr int kTileVectors = 8;

#endif

// ---- 2. block sizes, from the cache sizes ---------------------------------------------------
//
// The target machine (a Sapphire Rapids Xeon) has per core a 48 KiB L1 data cache and a 2 MiB
// L2; the L3 is large and shared. The sizes below follow from those, then were checked by
// measurement (make bench, and sweeps of kc in 128..384 and mc in 96..1356).

constexpr std::int64_t kL1Bytes = 48 * 1024;
constexpr std::int64_t kPackedABytes = 192 * 1024;

template <typename T>
struct Blocking {
  // MR x NR: the register tile of C that one micro-kernel call computes.
  static constexpr std::int64_t MR = kTileRows;
  static constexpr std::int64_t NR = kTileVectors * Simd<T>::kWidth;
  // kc: the kc x NR b micro-panel is reused by every micro-kernel call of loop 5, so it must
  // stay in L1: two thirds of L1 (float, NR = 32: 32 KiB / 128 B = 256 steps), leaving room
  // for the a micro-panel streaming past and the C tile. A longer kc also means fewer passes
  // over C (each K slice reads and writes all of C once): 256 beat 192; 320 overflows L1.
  static constexpr std::int64_t kc = 2 * kL1Bytes / 3 / (NR * std::int64_t(sizeof(T)));
  // mc: the mc x kc packed A block is streamed from L2 once per b micro-panel (loop 4). It is
  // kept to ~192 KiB, a tenth of L2 (float: 192 rows), because the C tiles and b micro-panels
  // stream through L2 as well and would evict a bigger block: blocks of 384 rows up to half
  // of L2 measured 5-10% slower for N >= 1024.
  static constexpr std::int64_t mc =
      std::max<std::int64_t>(MR, kPackedABytes / (kc * std::int64_t(sizeof(T))) / MR * MR);
  // nc: the kc x nc packed B block is read from L2/L3 once per mc block of A; it only has to
  // fit in L3 (float: 256 x 4096 x 4 B = 4 MiB). A wide block means A is packed fewer times.
  static constexpr std::int64_t nc = 4096 / NR * NR;
};

// ---- 3. the micro-kernel ---------------------------------------------------------------------
//
// C[0:MR, 0:NR] (= or +=) a_panel @ b_panel, where
//   b_panel: kc x NR, packed row by row: b_panel[k * NR + j] = B[k, j]
//   a_panel: MR x kc, in one of two layouts, whichever packs from A without a transpose:
//     APanel::KMajor  (from a column-major A): a_panel[k * MR + i] = A[i, k]
//     APanel::RowMajor (from a row-major A):    a_panel[i * (kc + pad) + k] = A[i, k]
//     The kernel only broadcasts single values of A, so either layout works equally well.
//     (The pad of one cache line between rows keeps the 12 rows, read side by side, from
//     landing in the same few sets of the L1 cache when kc is a power of two.)
//   c:       row i of the tile starts at c + i * c_row_stride; its NR values are contiguous.
// With accumulate == false, C's old values are ignored (not even read). With bias (NR
// contiguous values, or null), the tile stored is (C_old + sum) + bias: the bias is added once,
// in the store of the last K slice, after the product is complete, so the result is bit for
// bit a product followed by a separate add.
enum class APanel { KMajor, RowMajor };

// Distance between consecutive rows of an APanel::RowMajor a micro-panel, and the size of one
// a micro-panel, in elements.
template <typename T>
std::int64_t a_row_stride(std::int64_t kc) {
  return kc + 64 / std::int64_t(sizeof(T));
}
template <typename T, APanel layout>
std::int64_t a_panel_size(std::int64_t kc) {
  return kTileRows * (layout == APanel::KMajor ? kc : a_row_stride<T>(kc));
}

template <typename T, APanel layout>
void micro_kernel(std::int64_t kc, const T* a_panel, const T* b_panel, T* c,
                  std::int64_t c_row_stride, bool accumulate, const T* bias) {
  using S = Simd<T>;
  using Vec = typename S::Vec;
  constexpr int MR = kTileRows, NV = kTileVectors, W = S::kWidth, NR = NV * W;
  // A[i, k] is at a_panel[i * i_step + k * k_step].
  const std::int64_t i_step = layout == APanel::KMajor ? 1 : a_row_stride<T>(kc);
  constexpr std::int64_t k_step = layout == APanel::KMajor ? MR : 1;

  // Ask for the C tile now, so that it is in L1 when the sums are added to it at the end (a
  // row of a big C is 4 KiB or more from the next: the hardware prefetcher will not guess).
  constexpr int kValuesPerLine = 64 / sizeof(T);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j += kValuesPerLine) __builtin_prefetch(c + i * c_row_stride + j, 1);
  Vec acc[MR][NV];  // the C tile, in registers (the loops below are fully unrolled)
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = S::zero();

  for (std::int64_t k = 0; k < kc; ++k) {
    Vec b_row[NV];  // B[k, 0:NR]
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) b_row[v] = S::load(b_panel + v * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      Vec a_ik = S::broadcast(a_panel[i * i_step]);  // A[i, k] in every lane
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = S::fma(a_ik, b_row[v], acc[i][v]);
    }
    a_panel += k_step;
    b_panel += NR;
  }

#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      T* c_iv = c + i * c_row_stride + v * W;
      Vec sum = accumulate ? S::add(acc[i][v], S::load(c_iv)) : acc[i][v];
      if (bias != nullptr) sum = S::add(sum, S::load(bias + v * W));
      S::store(c_iv, sum);
    }
}

// ---- 4. packing ----------------------------------------------------------------------------

// One matrix (or a block of one) in memory: element (i, j) is data[i*row_stride + j*col_stride].
template <typename T>
struct MatrixRef {
  T* data;
  std::int64_t rows, cols;
  std::int64_t row_stride, col_stride;

  T* at(std::int64_t i, std::int64_t j) const { return data + i * row_stride + j * col_stride; }
  MatrixRef block(std::int64_t i, std::int64_t j, std::int64_t n_rows, std::int64_t n_cols) const {
    return {at(i, j), n_rows, n_cols, row_stride, col_stride};
  }
};

// dst[0:n] = src[0:n], a vector register at a time and a masked one for the rest (a call to
// memmove costs more than the copy for the short rows packed here).
template <typename T>
void copy_values(const T* src, std::int64_t n, T* dst) {
  using S = Simd<T>;
  std::int64_t j = 0;
  for (; j + S::kWidth <= n; j += S::kWidth) S::store(dst + j, S::load(src + j));
  const int rest = static_cast<int>(n - j);
  if (rest > 0) S::store_first(dst + j, S::load_first(src + j, rest), rest);
}

// Packs a (rows x kc, rows <= MR) into one a micro-panel in the given layout; rows rows..MR-1
// of the panel are zero.
template <typename T, APanel layout>
void pack_a_panel(const MatrixRef<const T>& a, T* panel) {
  constexpr std::int64_t MR = Blocking<T>::MR;
  const std::int64_t kc = a.cols;
  if (layout == APanel::RowMajor) {
    // Row-major A: each row of the panel is a straight copy of a row of A.
    const std::int64_t stride = a_row_stride<T>(kc);
    for (std::int64_t i = 0; i < a.rows; ++i) copy_values(a.at(i, 0), kc, panel + i * stride);
    std::fill(panel + a.rows * stride, panel + MR * stride, T(0));
  } else if (a.row_stride == 1 && a.rows == MR) {
    // Column-major A (a transposed view): each column of the panel is a straight copy.
    for (std::int64_t k = 0; k < kc; ++k) copy_values(a.at(0, k), MR, panel + k * MR);
  } else {
    // Any other strides: one element at a time.
    if (a.rows < MR) std::fill(panel, panel + kc * MR, T(0));
    for (std::int64_t k = 0; k < kc; ++k)
      for (std::int64_t i = 0; i < a.rows; ++i) panel[k * MR + i] = *a.at(i, k);
  }
}

// Packs b (kc x cols, cols <= NR; not row-major) into one b micro-panel:
// panel[k * NR + j] = b(k, j), with columns cols..NR-1 set to zero.
template <typename T>
void pack_b_panel(const MatrixRef<const T>& b, T* panel) {
  constexpr std::int64_t NR = Blocking<T>::NR;
  const std::int64_t kc = b.rows;
  if (b.cols < NR) std::fill(panel, panel + kc * NR, T(0));
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    if (b.cols == NR && b.col_stride >= 0 && b.col_stride * NR < (std::int64_t(1) << 31)) {
      // Transposed B (e.g. k.transpose(-2, -1)): one gather instruction collects the 16
      // values of a row of b from 16 columns (int32 offsets, hence the size check).
      const __m512i column_offsets = _mm512_mullo_epi32(
          _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
          _mm512_set1_epi32(static_cast<int>(b.col_stride)));
      for (std::int64_t k = 0; k < kc; ++k)
        for (std::int64_t j = 0; j < NR; j += 16)
          _mm512_storeu_ps(panel + k * NR + j,
                           _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xFFFF, column_offsets,
                                                    b.at(k, j), sizeof(float)));
      return;
    }
  }
#endif
  // Transposed or strided B: read each column front to back.
  for (std::int64_t j = 0; j < b.cols; ++j) {
    const T* column = b.at(0, j);
    for (std::int64_t k = 0; k < kc; ++k) panel[k * NR + j] = column[k * b.row_stride];
  }
}

// row_sums[i] += A[i, 0] + A[i, 1] + ... + A[i, kc-1], in double and in that order, for the
// `rows` rows of one packed a micro-panel (the epilogue's a_row_sums, gemm.hpp). Summing the
// copy just packed, still in L1, costs no second pass over A; and the order depends on K alone
// (its slices, then k within a slice), never on how the rows were shared among threads.
template <typename T, APanel layout>
void add_row_sums(const T* panel, std::int64_t rows, std::int64_t kc, double* row_sums) {
  constexpr int MR = kTileRows;
  // A[i, k] is at panel[i * i_step + k * k_step], as in the micro-kernel.
  const std::int64_t i_step = layout == APanel::KMajor ? 1 : a_row_stride<T>(kc);
  const std::int64_t k_step = layout == APanel::KMajor ? MR : 1;
  double sums[MR];  // MR independent chains of additions (rows past `rows` are zero padding)
  for (int i = 0; i < MR; ++i) sums[i] = i < rows ? row_sums[i] : 0.0;
  for (std::int64_t k = 0; k < kc; ++k, panel += k_step)
    for (int i = 0; i < MR; ++i) sums[i] += double(panel[i * i_step]);
  for (std::int64_t i = 0; i < rows; ++i) row_sums[i] = sums[i];
}

// Packs the mc x kc block a into consecutive a micro-panels of MR rows each; and, when
// row_sums is not null, adds each row's sum over this block to row_sums[row].
template <typename T, APanel layout>
void pack_a_block(const MatrixRef<const T>& a, T* packed, double* row_sums) {
  constexpr std::int64_t MR = Blocking<T>::MR;
  for (std::int64_t i = 0; i < a.rows; i += MR, packed += a_panel_size<T, layout>(a.cols)) {
    const std::int64_t rows = std::min(MR, a.rows - i);
    pack_a_panel<T, layout>(a.block(i, 0, rows, a.cols), packed);
    if (row_sums != nullptr) add_row_sums<T, layout>(packed, rows, a.cols, row_sums + i);
  }
}

// Packs the kc x nc block b into consecutive b micro-panels of NR columns each.
template <typename T>
void pack_b_block(const MatrixRef<const T>& b, T* packed) {
  constexpr std::int64_t NR = Blocking<T>::NR;
  const std::int64_t kc = b.rows, nc = b.cols;
  if (b.col_stride != 1) {
    for (std::int64_t j = 0; j < nc; j += NR, packed += NR * kc)
      pack_b_panel(b.block(0, j, kc, std::min(NR, nc - j)), packed);
    return;
  }
  // Row-major B: read each row of the block once, front to back, and deal its NR-wide pieces
  // out to the panels (reading along rows keeps the hardware prefetcher busy).
  const std::int64_t full_panels = nc / NR, tail = nc % NR;
  for (std::int64_t k = 0; k < kc; ++k) {
    const T* row = b.at(k, 0);
    for (std::int64_t p = 0; p < full_panels; ++p) {
      copy_values(row + p * NR, NR, packed + p * kc * NR + k * NR);
    }
    if (tail > 0) {
      T* dst = packed + full_panels * kc * NR + k * NR;
      copy_values(row + full_panels * NR, tail, dst);
      std::fill(dst + tail, dst + NR, T(0));
    }
  }
}

// ---- 5. the five loops, for one matrix on one thread ----------------------------------------

// A grow-only, cache-line aligned scratch buffer. Each thread keeps its own (thread_local), so
// packing buffers are allocated once per thread, not once per call: a fresh megabyte would
// cost hundreds of page faults on every matmul.
class PackBuffer {
 public:
  ~PackBuffer() { std::free(data_); }
  template <typename T>
  T* get(std::int64_t count) {
    std::size_t bytes = (std::size_t(count) * sizeof(T) + 63) / 64 * 64;
    if (bytes > capacity_) {
      std::free(data_);
      data_ = std::aligned_alloc(64, bytes);
      if (data_ == nullptr) throw std::bad_alloc();
      capacity_ = bytes;
    }
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  std::size_t capacity_ = 0;
};

thread_local PackBuffer packed_a_buffer, packed_b_buffer, shared_packed_b_buffer;

// Computes one MR x NR tile (or the rows x cols corner of it that lies inside C); bias: NR
// values to add in the store (null: none; see micro_kernel).
template <typename T, APanel layout>
void compute_tile(std::int64_t kc, const T* a_panel, const T* b_panel, const MatrixRef<T>& c,
                  bool accumulate, const T* bias) {
  constexpr std::int64_t MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  if (c.rows == MR && c.cols == NR && c.col_stride == 1) {
    micro_kernel<T, layout>(kc, a_panel, b_panel, c.data, c.row_stride, accumulate, bias);
    return;
  }
  alignas(64) T tile[MR * NR];
  micro_kernel<T, layout>(kc, a_panel, b_panel, tile, NR, false, nullptr);
  for (std::int64_t i = 0; i < c.rows; ++i)
    for (std::int64_t j = 0; j < c.cols; ++j) {
      T& dst = *c.at(i, j);
      T sum = accumulate ? dst + tile[i * NR + j] : tile[i * NR + j];
      if (bias != nullptr) sum = sum + bias[j];
      dst = sum;
    }
}

// The step that cuts `size` into equal blocks of at most `max_block` (a multiple of
// `multiple`), each a multiple of `multiple` but the last: 300 with max 256 gives 152 + 148,
// not 256 + 44 (a thin last block does a full block's packing and C traffic for little work).
std::int64_t even_block(std::int64_t size, std::int64_t max_block, std::int64_t multiple) {
  const std::int64_t blocks = (size + max_block - 1) / max_block;
  const std::int64_t block = (size + blocks - 1) / blocks;
  return (block + multiple - 1) / multiple * multiple;
}

// The epilogue (gemm.hpp's GemmEpilogue) as gemm_serial sees it, for its own c and a.
template <typename T>
struct SerialEpilogue {
  // bias[j] is added to column j of c; padded with zeros to whole NR-column panels, so the
  // micro-kernel may load NR values from any panel's start. Null: no bias.
  const T* bias = nullptr;
  // row_sums[i] += sum_k a[i, k]. Null: not wanted (or another thread sums these rows).
  double* row_sums = nullptr;
};

// Where block (jc, pc) of B starts in a B packed whole by pack_b_whole (section 6): the
// column blocks one after another, each K x nc (nc rounded up to whole NR panels), and in each
// the K slices one after another.
template <typename T>
std::int64_t whole_b_offset(std::int64_t jc, std::int64_t pc, std::int64_t nc, std::int64_t K) {
  constexpr std::int64_t NR = Blocking<T>::NR;
  return jc * K + pc * ((nc + NR - 1) / NR * NR);
}

// c = a @ b (+ epilogue) for one matrix on the calling thread (a: M x K, b: K x N, c: M x N,
// K >= 1): the five loops. packed_b_whole: all of b already packed (whole_b_offset), shared
// with the other threads; null: pack each block of b here.
template <typename T, APanel layout>
void gemm_serial(const MatrixRef<const T>& a, const MatrixRef<const T>& b, const MatrixRef<T>& c,
                 const SerialEpilogue<T>& epilogue, const T* packed_b_whole) {
  using Block = Blocking<T>;
  constexpr std::int64_t MR = Block::MR, NR = Block::NR;
  const std::int64_t M = c.rows, N = c.cols, K = a.cols;
  const std::int64_t nc_step = even_block(N, Block::nc, NR);
  const std::int64_t kc_step = even_block(K, Block::kc, 1);
  const std::int64_t mc_step = even_block(M, Block::mc, MR);
  T* packed_a = packed_a_buffer.get<T>(mc_step / MR * a_panel_size<T, layout>(kc_step));
  T* packed_b = packed_b_whole == nullptr ? packed_b_buffer.get<T>(kc_step * nc_step) : nullptr;

  for (std::int64_t jc = 0; jc < N; jc += nc_step) {  // loop 1
    const std::int64_t nc = std::min(nc_step, N - jc);
    for (std::int64_t pc = 0; pc < K; pc += kc_step) {  // loop 2
      const std::int64_t kc = std::min(kc_step, K - pc);
      // The first slice of K writes C, the later ones add to it; the last one adds the bias.
      const bool accumulate = pc > 0;
      const T* bias = pc + kc == K && epilogue.bias != nullptr ? epilogue.bias + jc : nullptr;
      const T* b_block = packed_b;
      if (packed_b_whole != nullptr) {
        b_block = packed_b_whole + whole_b_offset<T>(jc, pc, nc, K);
      } else {
        pack_b_block(b.block(pc, jc, kc, nc), packed_b);
      }
      for (std::int64_t ic = 0; ic < M; ic += mc_step) {  // loop 3
        const std::int64_t mc = std::min(mc_step, M - ic);
        // A is packed once per column block jc: only the first one sums its rows.
        double* row_sums =
            jc == 0 && epilogue.row_sums != nullptr ? epilogue.row_sums + ic : nullptr;
        pack_a_block<T, layout>(a.block(ic, pc, mc, kc), packed_a, row_sums);
        for (std::int64_t jr = 0; jr < nc; jr += NR) {  // loop 4
          const T* b_panel = b_block + jr * kc;
          for (std::int64_t ir = 0; ir < mc; ir += MR) {  // loop 5
            const T* a_panel = packed_a + ir / MR * a_panel_size<T, layout>(kc);
            MatrixRef<T> tile =
                c.block(ic + ir, jc + jr, std::min(MR, mc - ir), std::min(NR, nc - jr));
            compute_tile<T, layout>(kc, a_panel, b_panel, tile, accumulate,
                                    bias != nullptr ? bias + jr : nullptr);
          }
        }
      }
    }
  }
}

template <typename T>
void gemm_serial(const MatrixRef<const T>& a, const MatrixRef<const T>& b, const MatrixRef<T>& c,
                 const SerialEpilogue<T>& epilogue, const T* packed_b_whole) {
  if (a.col_stride == 1) {
    gemm_serial<T, APanel::RowMajor>(a, b, c, epilogue, packed_b_whole);
  } else {
    gemm_serial<T, APanel::KMajor>(a, b, c, epilogue, packed_b_whole);
  }
}

// ---- 6. batches and threads ------------------------------------------------------------------
//
// The work is cut into tasks, each a serial GEMM (section 5) that one thread runs alone, with
// its own packing buffers: threads never wait for one another until the very end (a design
// with shared buffers and barriers measured no faster here, and much slower whenever another
// program competes for the cores).
//   Many matrices (attention: one per batch and head): a task is one whole matrix.
//   Few matrices (one big product): each matrix is also cut into one stripe per thread: of
//   rows when it has enough (each thread packs its own rows of A), else of columns. Stripes
//   are cut at tile edges, so every element of C is summed in the same order whatever the
//   number of threads: results do not depend on it, bit for bit.
//   Row stripes of one matrix all read the whole of B. When B is not row-major (k^T, a
//   Linear's W^T), packing it gathers values from many columns and costs enough that, rather
//   than each thread packing all of it, B is packed once, the threads sharing out its panels,
//   by a parallel_for of its own that ends before the one that computes starts: a barrier
//   between two jobs, never inside one (the pool's caller runs chunks itself, and the pool
//   may run a job serially after a stall, so a thread waiting inside a job for another chunk
//   could wait forever). Measured on 2 threads, A/B interleaved in one process: +8-14% at
//   256-2048 with a transposed B; within +-2% (noise) with a row-major B, whose packing is a
//   plain copy, so that one keeps packing per thread and needs no buffer of all of B.
//   One tall-skinny product (K much longer than M and N: every weight gradient, x^T g summed
//   over all B*T rows of a batch): cut along K instead. Row stripes would each pack the whole
//   of B (K x N, megabytes) and spend as long packing it as multiplying; a slice of K needs
//   only its own part of A and of B. Each slice sums into its own M x N partial, and the
//   partials are added in slice order. The slices depend on the shape only, never on the
//   thread count, so this too gives the same bits on any number of threads.
// The epilogue's row sums of A follow the same rule: with row stripes each thread sums the
// rows it packs, with column stripes only the first stripe sums (every stripe packs all of A),
// and each row is summed in k order either way; with slices of K each slice sums its part of
// every row, and the parts are added in slice order.

// Below this many flops per thread, starting threads costs more than it saves.
constexpr double kMinFlopsPerThread = 1 << 20;

// The largest B (in elements) that row stripes share packed whole (pack_b_whole): 16 MiB of
// floats, a 2048 x 2048 B. The buffer stays allocated for the next call; a larger B is packed
// block by block by each thread instead.
constexpr std::int64_t kMaxSharedPackedB = std::int64_t(1) << 22;

// Packs all of b (K x N) in the layout of whole_b_offset, into `packed`, sharing the panels
// out among the threads: a parallel_for of its own, which returns when every panel is packed,
// so the compute that follows needs no barrier (see above) to read what the others packed.
template <typename T>
void pack_b_whole(const MatrixRef<const T>& b, std::int64_t threads, T* packed) {
  using Block = Blocking<T>;
  constexpr std::int64_t NR = Block::NR;
  const std::int64_t K = b.rows, N = b.cols;
  const std::int64_t nc_step = even_block(N, Block::nc, NR);
  const std::int64_t kc_step = even_block(K, Block::kc, 1);
  const std::int64_t column_blocks = (N + nc_step - 1) / nc_step;
  const std::int64_t k_slices = (K + kc_step - 1) / kc_step;
  // A task: one thread's share (group) of the panels of one block (jc, pc).
  const std::int64_t groups = threads;
  parallel_for(column_blocks * k_slices * groups, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t block = task / groups, group = task % groups;
      const std::int64_t jc = block / k_slices * nc_step, pc = block % k_slices * kc_step;
      const std::int64_t nc = std::min(nc_step, N - jc), kc = std::min(kc_step, K - pc);
      const std::int64_t panels = (nc + NR - 1) / NR;
      const std::int64_t first = std::min(nc, panels * group / groups * NR);
      const std::int64_t last = std::min(nc, panels * (group + 1) / groups * NR);
      if (first >= last) continue;
      // Panel p of a block starts p * kc * NR = (its first column) * kc into the block.
      pack_b_block(b.block(pc, jc + first, kc, last - first),
                   packed + whole_b_offset<T>(jc, pc, nc, K) + first * kc);
    }
  });
}

// How many slices of K a single [M, K] x [K, N] product is cut into (1: none). Only a long K
// against short M and N pays for the extra partials: each slice gets at least kMinSliceK of K,
// and M x N stays small next to the product (K >= 2 max(M, N)). Measured on the weight
// gradients of a 2048-row batch ([128|384|512, 2048] x [2048, 128|512], 2 threads): 2 slices
// of 1024 took 2.41-2.61 ms for the four against 2.67-2.91 ms for row stripes, and the same
// on one thread (4.96 ms); slices of 512 lost 5% on one thread to the extra partials.
constexpr std::int64_t kMinSliceK = 1024;
constexpr std::int64_t kMaxSlicesK = 8;
std::int64_t k_slice_count(std::int64_t M, std::int64_t N, std::int64_t K) {
  if (K < 2 * kMinSliceK || K < 2 * std::max(M, N)) return 1;
  return std::min(kMaxSlicesK, K / kMinSliceK);
}

// c = a @ b (+ epilogue) for one tall-skinny product, cut into `slices` slices of K (see
// above): slice 0 writes c, slices 1.. write partials, which are then added to c in slice
// order, and the bias after them, as a separate add would. The row sums of A are summed per
// slice too, and the slices' sums added in slice order. bias: padded as SerialEpilogue's, or
// null; row_sums: M values to add the sums to, or null.
template <typename T>
void gemm_k_slices(const MatrixRef<const T>& a, const MatrixRef<const T>& b, const MatrixRef<T>& c,
                   std::int64_t slices, const T* bias, double* row_sums) {
  const std::int64_t M = c.rows, N = c.cols, K = a.cols;
  std::vector<double> slice_row_sums(row_sums ? slices * M : 0, 0.0);  // [slices, M]
  // [slices - 1, M, N], in a buffer kept by the calling thread (as the packing buffers are): a
  // fresh one would cost page faults on every weight gradient.
  static thread_local PackBuffer partials_buffer;
  T* partials = partials_buffer.get<T>((slices - 1) * M * N);
  auto slice_begin = [&](std::int64_t s) { return K * s / slices; };
  parallel_for(slices, 1, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t s = first; s < last; ++s) {
      const std::int64_t k0 = slice_begin(s), k_len = slice_begin(s + 1) - k0;
      const MatrixRef<T> out =
          s == 0 ? c : MatrixRef<T>{partials + (s - 1) * M * N, M, N, N, 1};
      SerialEpilogue<T> slice_epilogue;
      if (row_sums) slice_epilogue.row_sums = slice_row_sums.data() + s * M;
      gemm_serial(a.block(0, k0, M, k_len), b.block(k0, 0, k_len, N), out, slice_epilogue,
                  static_cast<const T*>(nullptr));
    }
  });
  parallel_for(M, grain_for_work(slices * N), [&](std::int64_t row_begin, std::int64_t row_end) {
    for (std::int64_t i = row_begin; i < row_end; ++i) {
      for (std::int64_t s = 1; s < slices; ++s) {
        const T* partial_row = partials + ((s - 1) * M + i) * N;
        for (std::int64_t j = 0; j < N; ++j) *c.at(i, j) += partial_row[j];
      }
      if (bias)
        for (std::int64_t j = 0; j < N; ++j) *c.at(i, j) += bias[j];
      if (row_sums)
        for (std::int64_t s = 0; s < slices; ++s) row_sums[i] += slice_row_sums[s * M + i];
    }
  });
}

template <typename T>
void gemm_typed(const Array& a, const Array& b, const Array& out, const GemmEpilogue& epilogue) {
  using Block = Blocking<T>;
  const std::int64_t batch_dims = out.dim() - 2;
  const std::int64_t M = out.size(-2), N = out.size(-1), K = a.size(-1);
  std::int64_t batches = 1;
  for (std::int64_t d = 0; d < batch_dims; ++d) batches *= out.shape()[d];
  const std::int64_t column_panels = (N + Block::NR - 1) / Block::NR;

  // The epilogue's buffers: the bias copied to contiguous, zero-padded panels (N values: next
  // to nothing beside the product), and the row sums of A in double, written to
  // epilogue.a_row_sums at the end.
  std::vector<T> bias;
  if (epilogue.bias.defined()) {
    bias.assign(column_panels * Block::NR, T(0));
    const T* values = epilogue.bias.data<T>();
    for (std::int64_t j = 0; j < N; ++j) bias[j] = values[j * epilogue.bias.strides()[0]];
  }
  std::vector<double> row_sums(epilogue.a_row_sums.defined() ? M : 0, 0.0);
  auto write_row_sums = [&] {
    if (!epilogue.a_row_sums.defined()) return;
    T* sums = epilogue.a_row_sums.data<T>();
    const std::int64_t stride = epilogue.a_row_sums.strides()[0];
    for (std::int64_t i = 0; i < M; ++i) sums[i * stride] = T(row_sums[i]);
  };

  if (batches == 0 || M == 0 || N == 0) {
    write_row_sums();
    return;
  }

  // Where each matrix of the batch starts (element offsets; a broadcast batch dim has stride
  // 0, so several batches may share one matrix of a or b).
  std::vector<std::int64_t> a_offset(batches), b_offset(batches), c_offset(batches);
  for (std::int64_t batch = 0; batch < batches; ++batch) {
    std::int64_t rest = batch;
    for (std::int64_t d = batch_dims - 1; d >= 0; --d) {
      const std::int64_t index = rest % out.shape()[d];
      rest /= out.shape()[d];
      a_offset[batch] += index * a.strides()[d];
      b_offset[batch] += index * b.strides()[d];
      c_offset[batch] += index * out.strides()[d];
    }
  }
  const MatrixRef<const T> a_first{a.data<T>(), M, K, a.strides()[batch_dims],
                                   a.strides()[batch_dims + 1]};
  const MatrixRef<const T> b_first{b.data<T>(), K, N, b.strides()[batch_dims],
                                   b.strides()[batch_dims + 1]};
  const MatrixRef<T> c_first{out.data<T>(), M, N, out.strides()[batch_dims],
                             out.strides()[batch_dims + 1]};
  if (K == 0) {  // an empty sum: out is the bias alone (or 0), and every row of A sums to 0
    for (std::int64_t batch = 0; batch < batches; ++batch)
      for (std::int64_t i = 0; i < M; ++i)
        for (std::int64_t j = 0; j < N; ++j)
          c_first.at(i, j)[c_offset[batch]] = bias.empty() ? T(0) : bias[j];
    write_row_sums();
    return;
  }

  if (batches == 1) {
    const std::int64_t slices = k_slice_count(M, N, K);
    if (slices > 1) {
      gemm_k_slices(a_first, b_first, c_first, slices, bias.empty() ? nullptr : bias.data(),
                    row_sums.empty() ? nullptr : row_sums.data());
      write_row_sums();
      return;
    }
  }

  // Threads: never more than OpenMP allows, none inside another parallel region, and none
  // that would get less than kMinFlopsPerThread of work.
  const double flops_per_matrix = 2.0 * double(M) * double(N) * double(K);
  const std::int64_t max_threads = available_threads();
  const std::int64_t threads = std::clamp<std::int64_t>(
      std::int64_t(flops_per_matrix * double(batches) / kMinFlopsPerThread), 1, max_threads);

  // Stripes per matrix: 1 when whole matrices share out evenly enough among the threads
  // (an uneven split costs at most a quarter), else one per thread.
  const bool whole_matrices =
      batches >= threads && (batches % threads == 0 || batches >= 4 * threads);
  const std::int64_t stripes = whole_matrices ? 1 : threads;
  const std::int64_t row_tiles = (M + Block::MR - 1) / Block::MR;
  const bool row_stripes = row_tiles >= 2 * stripes || row_tiles >= column_panels;
  // Stripe s covers rows (or columns) [edge(s), edge(s + 1)), cut at tile edges.
  auto edge = [&](std::int64_t s) {
    if (row_stripes) return std::min(M, row_tiles * s / stripes * Block::MR);
    return std::min(N, column_panels * s / stripes * Block::NR);
  };

  // Row stripes of one matrix all read the whole of B: when packing it is a gather (B not
  // row-major), pack it once, each thread packing a share of the panels, instead of every
  // thread packing all of it.
  const T* packed_b_whole = nullptr;
  const std::int64_t padded_b_size = K * column_panels * Block::NR;
  if (batches == 1 && stripes > 1 && row_stripes && b_first.col_stride != 1 &&
      padded_b_size <= kMaxSharedPackedB) {
    T* packed = shared_packed_b_buffer.get<T>(padded_b_size);
    pack_b_whole(b_first, threads, packed);
    packed_b_whole = packed;
  }

  const std::int64_t grain = std::max<std::int64_t>(
      1, std::int64_t(kMinFlopsPerThread * double(stripes) / flops_per_matrix));
  parallel_for(batches * stripes, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t batch = task / stripes, stripe = task % stripes;
      const std::int64_t from = edge(stripe), to = edge(stripe + 1);
      if (from >= to) continue;
      MatrixRef<const T> a_batch = a_first, b_batch = b_first;
      MatrixRef<T> c_batch = c_first;
      a_batch.data += a_offset[batch];
      b_batch.data += b_offset[batch];
      c_batch.data += c_offset[batch];
      SerialEpilogue<T> stripe_epilogue;
      if (!bias.empty()) stripe_epilogue.bias = bias.data() + (row_stripes ? 0 : from);
      if (!row_sums.empty() && (row_stripes || from == 0))
        stripe_epilogue.row_sums = row_sums.data() + (row_stripes ? from : 0);
      if (row_stripes) {
        gemm_serial(a_batch.block(from, 0, to - from, K), b_batch,
                    c_batch.block(from, 0, to - from, N), stripe_epilogue, packed_b_whole);
      } else {
        gemm_serial(a_batch, b_batch.block(0, from, K, to - from),
                    c_batch.block(0, from, M, to - from), stripe_epilogue,
                    static_cast<const T*>(nullptr));
      }
    }
  });
  write_row_sums();
}

}  // namespace

void gemm(const Array& a, const Array& b, const Array& out, const GemmEpilogue& epilogue) {
  check_cpu(out, "gemm");
  if (a.dtype() != out.dtype() || b.dtype() != out.dtype())
    throw std::invalid_argument("gemm: a, b and out must have the same dtype, got " +
                                dtype_name(a.dtype()) + ", " + dtype_name(b.dtype()) + " and " +
                                dtype_name(out.dtype()));
  const Array& bias = epilogue.bias;
  if (bias.defined() && (bias.dtype() != out.dtype() || bias.shape() != Shape{out.size(-1)}))
    throw std::invalid_argument("gemm: the bias must be " + dtype_name(out.dtype()) + " " +
                                shape_str({out.size(-1)}) + " (one value per column of out " +
                                shape_str(out.shape()) + "), got " + dtype_name(bias.dtype()) +
                                " " + shape_str(bias.shape()));
  const Array& row_sums = epilogue.a_row_sums;
  if (row_sums.defined() &&
      (out.dim() != 2 || row_sums.dtype() != out.dtype() || row_sums.shape() != Shape{out.size(0)}))
    throw std::invalid_argument(
        "gemm: the row sums of a need a 2-d product and a " + dtype_name(out.dtype()) + " " +
        shape_str({out.size(0)}) + " array (one value per row of out " + shape_str(out.shape()) +
        "), got " + dtype_name(row_sums.dtype()) + " " + shape_str(row_sums.shape()));
  if (bias.defined()) check_cpu(bias, "gemm");
  if (row_sums.defined()) check_cpu(row_sums, "gemm");
  if (out.dtype() == DType::Float32) {
    gemm_typed<float>(a, b, out, epilogue);
  } else if (out.dtype() == DType::Float64) {
    gemm_typed<double>(a, b, out, epilogue);
  } else {
    throw std::invalid_argument("gemm: expected float32 or float64, got " +
                                dtype_name(out.dtype()) + " (use matmul_reference)");
  }
}

template <typename T>
void gemm_on_this_thread(const MatrixView<const T>& a, const MatrixView<const T>& b,
                         const MatrixView<T>& c) {
  const std::int64_t M = c.rows, N = c.cols, K = a.cols;
  if (M == 0 || N == 0) return;
  if (!gemm_pays_off(M, N, K)) {
    for (std::int64_t i = 0; i < M; ++i)
      for (std::int64_t j = 0; j < N; ++j) {
        T sum = 0;
        for (std::int64_t k = 0; k < K; ++k)
          sum += a.data[i * a.row_stride + k * a.col_stride] *
                 b.data[k * b.row_stride + j * b.col_stride];
        c.data[i * c.row_stride + j * c.col_stride] = sum;
      }
    return;
  }
  gemm_serial(MatrixRef<const T>{a.data, M, K, a.row_stride, a.col_stride},
              MatrixRef<const T>{b.data, K, N, b.row_stride, b.col_stride},
              MatrixRef<T>{c.data, M, N, c.row_stride, c.col_stride}, SerialEpilogue<T>{},
              static_cast<const T*>(nullptr));
}
template void gemm_on_this_thread<float>(const MatrixView<const float>&,
                                         const MatrixView<const float>&, const MatrixView<float>&);
template void gemm_on_this_thread<double>(const MatrixView<const double>&,
                                          const MatrixView<const double>&,
                                          const MatrixView<double>&);

bool gemm_pays_off(std::int64_t M, std::int64_t N, std::int64_t K) {
  // Measured against matmul_reference on one thread, for M in 1..64 and N, K in 1..512: the
  // packed kernel wins everywhere above a few thousand multiply-adds, except when most of its
  // 12 x 32 tile would be padding (1 or 2 rows with few columns) or when there is almost
  // nothing to sum (K < 4: packing then costs as much as the product).
  return M * N * K >= 4096 && N >= 16 && K >= 4 && (M >= 4 || N >= 64);
}

std::string gemm_kernel_name() {
  using Block = Blocking<float>;
  return std::string(kInstructionSet) + " float32 " + std::to_string(Block::MR) + "x" +
         std::to_string(Block::NR) + " tile, kc=" + std::to_string(Block::kc) +
         " mc=" + std::to_string(Block::mc) + " nc=" + std::to_string(Block::nc);
}

}  // namespace tensor::cpu
