// kernel_backend.cuh — the host side of the kernels: each compute op of tensor::Backend checks
// what its kernel assumes, packs the arrays' shapes and strides into the kernel's layout struct,
// picks the grid and block, and calls launch().
//
// Shared by both targets like the kernels: included once by cuda/cuda_backend.cu (nvcc) and once
// by cuda/sim/sim_backend.cpp (host compiler), into namespace tensor::cuda::<target>. CudaBackend
// and CudaSimBackend derive from KernelBackend and add only what differs: memory (cudaMalloc or
// host memory), and on a GPU the optional cuBLAS matmul.
#pragma once

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/cuda.hpp"
#include "cuda/kernels/attention.cuh"
#include "cuda/kernels/elementwise.cuh"
#include "cuda/kernels/matmul.cuh"
#include "cuda/kernels/nn.cuh"
#include "cuda/kernels/reduce.cuh"
#include "cuda/kernels/rope.cuh"
#include "cuda/kernels/softmax.cuh"
#include "tensor/array.hpp"

namespace tensor::cuda::ATTN_CUDA_TARGET {

// ---- layouts and launch shapes ------------------------------------------------------------------

// The StridedN layout of N arrays over `sizes`, strides[k] being array k's strides along them.
// Size-1 dims are dropped (they never move a pointer) and a dim is merged into the one before it
// when every array steps across both as across one (a packed array of any shape becomes 1-d),
// which keeps the index arithmetic in the kernels short. Throws beyond kMaxDims dims.
template <int N>
StridedN<N> make_strided(const std::vector<index_t>& sizes,
                         const std::array<std::vector<index_t>, N>& strides, const char* op) {
  StridedN<N> layout{};
  layout.ndim = 0;
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1) continue;
    const int last = layout.ndim - 1;
    bool merge = last >= 0;
    for (int k = 0; k < N && merge; ++k)
      merge = layout.strides[k][last] == strides[k][d] * sizes[d];
    if (merge) {
      layout.sizes[last] *= sizes[d];
      for (int k = 0; k < N; ++k) layout.strides[k][last] = strides[k][d];
      continue;
    }
    if (layout.ndim == kMaxDims)
      throw std::invalid_argument(std::string(op) + ": the CUDA kernels handle at most " +
                                  std::to_string(kMaxDims) +
                                  " dims that cannot be merged; call contiguous() first");
    layout.sizes[layout.ndim] = sizes[d];
    for (int k = 0; k < N; ++k) layout.strides[k][layout.ndim] = strides[k][d];
    ++layout.ndim;
  }
  return layout;
}

// The layout of N arrays of one shape (an elementwise op; broadcast inputs have stride 0).
template <int N>
StridedN<N> make_strided(const std::array<const Array*, N>& arrays, const char* op) {
  std::array<std::vector<index_t>, N> strides;
  for (int k = 0; k < N; ++k) strides[k] = arrays[k]->strides();
  return make_strided<N>(arrays[0]->shape(), strides, op);
}

// Elementwise kernels: blocks of kBlockThreads threads, enough blocks for one element per
// thread up to 65535 blocks (the grid-stride loop covers the rest).
inline LaunchConfig elementwise_config(const char* kernel, index_t n) {
  const index_t blocks = std::clamp<index_t>((n + kBlockThreads - 1) / kBlockThreads, 1, 65535);
  return LaunchConfig{kernel, dim3(unsigned(blocks)), dim3(kBlockThreads), Sync::None};
}

// Row kernels: one block per row, with a power of two between 32 (a warp) and 256 threads: the
// smallest that leaves each thread at most ~8 elements of the row to fold on its own before the
// tree reduction, which costs a barrier per level. (A short row gets a single warp: a bigger
// block would sit mostly idle.)
inline unsigned row_threads(index_t length) {
  unsigned threads = 32;
  while (threads * 8 < length && threads < unsigned(kMaxReduceThreads)) threads *= 2;
  return threads;
}

inline LaunchConfig rows_config(const char* kernel, index_t rows, index_t length) {
  if (rows > 2147483647)
    throw std::invalid_argument(std::string(kernel) + ": more than 2^31 - 1 rows");
  return LaunchConfig{kernel, dim3(unsigned(rows)), dim3(row_threads(length)), Sync::Barriers};
}

inline void require_contiguous(std::initializer_list<const Array*> arrays, const char* op) {
  for (const Array* a : arrays)
    if (a->defined() && !a->is_contiguous())
      throw std::logic_error(std::string(op) +
                             ": the CUDA kernel expects contiguous arrays (the caller in "
                             "tensor/nn_ops.cpp makes them so)");
}

// A T* to the first element, or null for an undefined (optional) array.
template <typename T>
T* data_or_null(const Array& a) {
  return a.defined() ? a.data<T>() : nullptr;
}

[[noreturn]] inline void unsupported(const std::string& op, DType dtype) {
  throw std::invalid_argument(op + ": not supported for dtype " + dtype_name(dtype));
}

// ---- the backend --------------------------------------------------------------------------------

class KernelBackend : public KernelBackendBase {
 public:
  void copy(const Array& src, const Array& out) override {
    const index_t n = out.numel();
    if (n == 0) return;
    const StridedN<2> layout = make_strided<2>({&out, &src}, "copy");
    dispatch(src.dtype(), [&](auto src_zero) {
      using In = decltype(src_zero);
      dispatch(out.dtype(), [&](auto out_zero) {
        using Out = decltype(out_zero);
        launch(copy_kernel<In, Out>, elementwise_config("copy_kernel", n), layout, n,
               src.data<In>(), out.data<Out>());
      });
    });
  }

  void fill(const Array& out, double value) override {
    const index_t n = out.numel();
    if (n == 0) return;
    const StridedN<1> layout = make_strided<1>({&out}, "fill");
    dispatch(out.dtype(), [&](auto zero) {
      using T = decltype(zero);
      launch(fill_kernel<T>, elementwise_config("fill_kernel", n), layout, n,
             static_cast<T>(value), out.data<T>());
    });
  }

  // The dtype rules and the result type come from the op lists (tensor/elementwise_ops.hpp).
  void unary(UnaryOp op, const Array& x, const Array& out) override {
    const index_t n = out.numel();
    if (n == 0) return;
    const StridedN<2> layout = make_strided<2>({&out, &x}, "unary");
    dispatch(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if (!op_takes_type<T>(op)) unsupported(op_name(op), x.dtype());
      if (gives_bool(op))
        launch(unary_kernel<T, bool>, elementwise_config("unary_kernel", n), op, layout, n,
               x.data<T>(), out.data<bool>());
      else
        launch(unary_kernel<T, T>, elementwise_config("unary_kernel", n), op, layout, n,
               x.data<T>(), out.data<T>());
    });
  }

  void binary(BinaryOp op, const Array& a, const Array& b, const Array& out) override {
    const index_t n = out.numel();
    if (n == 0) return;
    const StridedN<3> layout = make_strided<3>({&out, &a, &b}, "binary");
    dispatch(a.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if (!op_takes_type<T>(op)) unsupported(op_name(op), a.dtype());
      if (gives_bool(op))
        launch(binary_kernel<T, bool>, elementwise_config("binary_kernel", n), op, layout, n,
               a.data<T>(), b.data<T>(), out.data<bool>());
      else
        launch(binary_kernel<T, T>, elementwise_config("binary_kernel", n), op, layout, n,
               a.data<T>(), b.data<T>(), out.data<T>());
    });
  }

  void where(const Array& cond, const Array& a, const Array& b, const Array& out) override {
    const index_t n = out.numel();
    if (n == 0) return;
    const StridedN<4> layout = make_strided<4>({&out, &cond, &a, &b}, "where");
    dispatch(out.dtype(), [&](auto zero) {
      using T = decltype(zero);
      launch(where_kernel<T>, elementwise_config("where_kernel", n), layout, n,
             cond.data<bool>(), a.data<T>(), b.data<T>(), out.data<T>());
    });
  }

  void reduce(ReduceOp op, const Array& x, const Array& out) override {
    if (out.numel() == 0) return;
    if (x.numel() == 0) {  // a sum (product) over an empty dim (max/min were refused by the caller)
      fill(out, op == ReduceOp::Prod ? 1.0 : 0.0);
      return;
    }
    // Split x's dims: kept ones index the output, reduced ones are folded (see reduce.cuh).
    std::vector<index_t> kept_sizes, kept_x, kept_out, reduced_sizes, reduced_x;
    for (index_t d = 0; d < x.dim(); ++d) {
      if (x.shape()[d] == 1) continue;
      if (out.shape()[d] == 1) {
        reduced_sizes.push_back(x.shape()[d]);
        reduced_x.push_back(x.strides()[d]);
      } else {
        kept_sizes.push_back(x.shape()[d]);
        kept_x.push_back(x.strides()[d]);
        kept_out.push_back(out.strides()[d]);
      }
    }
    const StridedN<2> kept = make_strided<2>(kept_sizes, {kept_x, kept_out}, "reduce");
    const StridedN<1> reduced = make_strided<1>(reduced_sizes, {reduced_x}, "reduce");
    const index_t out_numel = out.numel();
    index_t reduce_numel = 1;
    for (index_t s : reduced_sizes) reduce_numel *= s;
    // A block per output when each output has enough elements to share among a block's threads
    // and they are neighbours in memory; otherwise a thread per output (see reduce.cuh).
    const bool reduced_innermost = !reduced_x.empty() && reduced_x.back() == 1;
    const bool per_thread = reduce_numel <= 64 || (out_numel >= 256 && !reduced_innermost);
    const bool arg = op == ReduceOp::ArgMax || op == ReduceOp::ArgMin;
    const LaunchConfig config =
        per_thread ? elementwise_config(arg ? "arg_reduce_serial_kernel" : "reduce_serial_kernel",
                                        out_numel)
                   : rows_config(arg ? "arg_reduce_kernel" : "reduce_kernel", out_numel,
                                 reduce_numel);

    dispatch(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      // Accumulate float sums and products in double and integer (and bool) ones in int64, as
      // on the cpu; max and min stay in the element type.
      using Wide = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;
      using WideOut = std::conditional_t<std::is_same_v<T, bool>, std::int64_t, T>;
      auto run = [&](auto kernel, auto serial_kernel, auto* result) {
        if (per_thread)
          launch(serial_kernel, config, op, kept, reduced, out_numel, reduce_numel, x.data<T>(),
                 result);
        else
          launch(kernel, config, op, kept, reduced, reduce_numel, x.data<T>(), result);
      };
      if (arg) {
        const bool want_max = op == ReduceOp::ArgMax;
        if (per_thread)
          launch(arg_reduce_serial_kernel<T>, config, want_max, kept, reduced, out_numel,
                 reduce_numel, x.data<T>(), out.data<std::int64_t>());
        else
          launch(arg_reduce_kernel<T>, config, want_max, kept, reduced, reduce_numel, x.data<T>(),
                 out.data<std::int64_t>());
      } else if (op == ReduceOp::Sum || op == ReduceOp::Prod) {
        run(reduce_kernel<T, Wide, WideOut>, reduce_serial_kernel<T, Wide, WideOut>,
            out.data<WideOut>());
      } else if constexpr (std::is_same_v<T, bool>) {
        throw std::invalid_argument(op_name(op) + ": not supported for bool tensors");
      } else {
        run(reduce_kernel<T, T, T>, reduce_serial_kernel<T, T, T>, out.data<T>());
      }
    });
  }

  void matmul(const Array& a, const Array& b, const Array& out) override {
    if (out.numel() == 0) return;
    if (matmul_fast_path(a, b, out)) return;
    const index_t batch_dims = out.dim() - 2;
    MatmulLayout layout{};
    layout.M = out.size(-2);
    layout.N = out.size(-1);
    layout.K = a.size(-1);
    layout.a_row_stride = a.strides()[batch_dims];
    layout.a_col_stride = a.strides()[batch_dims + 1];
    layout.b_row_stride = b.strides()[batch_dims];
    layout.b_col_stride = b.strides()[batch_dims + 1];
    layout.c_row_stride = out.strides()[batch_dims];
    layout.c_col_stride = out.strides()[batch_dims + 1];
    const std::vector<index_t> batch_sizes(out.shape().begin(), out.shape().begin() + batch_dims);
    auto batch_strides = [&](const Array& array) {
      return std::vector<index_t>(array.strides().begin(), array.strides().begin() + batch_dims);
    };
    layout.batch = make_strided<3>(batch_sizes, {batch_strides(a), batch_strides(b),
                                                 batch_strides(out)}, "matmul");
    index_t batches = 1;
    for (index_t s : batch_sizes) batches *= s;

    const dim3 block(kTile, kTile);
    const unsigned tiles_n = unsigned((layout.N + kTile - 1) / kTile);
    const unsigned tiles_m = unsigned((layout.M + kTile - 1) / kTile);
    dispatch(out.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (std::is_same_v<T, bool>) {
        throw std::invalid_argument("matmul: not supported for bool tensors");
      } else {
        // gridDim.z holds at most 65535 batches: launch in chunks.
        for (index_t start = 0; start < batches; start += 65535) {
          layout.batch_start = start;
          const unsigned chunk = unsigned(std::min<index_t>(batches - start, 65535));
          launch(matmul_tiled_kernel<T>,
                 LaunchConfig{"matmul_tiled_kernel", dim3(tiles_n, tiles_m, chunk), block,
                              Sync::Barriers},
                 layout, a.data<T>(), b.data<T>(), out.data<T>());
        }
      }
    });
  }

  void softmax(const Array& x, std::int64_t dim, bool log, const Array& out) override {
    if (out.numel() == 0) return;
    std::vector<index_t> sizes;
    std::array<std::vector<index_t>, 2> strides;
    for (index_t d = 0; d < x.dim(); ++d) {
      if (d == dim) continue;
      sizes.push_back(x.shape()[d]);
      strides[0].push_back(x.strides()[d]);
      strides[1].push_back(out.strides()[d]);
    }
    const StridedN<2> rows = make_strided<2>(sizes, strides, "softmax");
    const index_t length = x.shape()[dim], row_count = x.numel() / length;
    dispatch_floating(x.dtype(), "softmax", [&](auto zero) {
      using T = decltype(zero);
      launch(softmax_rows_kernel<T>, rows_config("softmax_rows_kernel", row_count, length), rows,
             length, x.strides()[dim], out.strides()[dim], log, x.data<T>(), out.data<T>());
    });
  }

  void softmax_backward(const Array& grad_out, const Array& out, std::int64_t dim, bool log,
                        const Array& grad_in) override {
    if (out.numel() == 0) return;
    std::vector<index_t> sizes;
    std::array<std::vector<index_t>, 3> strides;
    for (index_t d = 0; d < out.dim(); ++d) {
      if (d == dim) continue;
      sizes.push_back(out.shape()[d]);
      strides[0].push_back(grad_out.strides()[d]);
      strides[1].push_back(out.strides()[d]);
      strides[2].push_back(grad_in.strides()[d]);
    }
    const StridedN<3> rows = make_strided<3>(sizes, strides, "softmax_backward");
    const index_t length = out.shape()[dim], row_count = out.numel() / length;
    dispatch_floating(out.dtype(), "softmax_backward", [&](auto zero) {
      using T = decltype(zero);
      launch(softmax_backward_rows_kernel<T>,
             rows_config("softmax_backward_rows_kernel", row_count, length), rows, length,
             grad_out.strides()[dim], out.strides()[dim], grad_in.strides()[dim], log,
             grad_out.data<T>(), out.data<T>(), grad_in.data<T>());
    });
  }

  // ---- nn kernels ----------------------------------------------------------------------------

  void embedding(const Array& weight, const Array& indices, const Array& out) override {
    require_contiguous({&weight, &indices, &out}, "embedding");
    const index_t N = indices.numel(), D = weight.size(1);
    if (N * D == 0) return;
    dispatch(weight.dtype(), [&](auto zero) {
      using T = decltype(zero);
      launch(embedding_kernel<T>, elementwise_config("embedding_kernel", N * D), N, D,
             weight.data<T>(), indices.data<std::int64_t>(), out.data<T>());
    });
  }

  void embedding_backward(const Array& grad_out, const Array& indices,
                          const Array& grad_weight) override {
    require_contiguous({&grad_out, &indices, &grad_weight}, "embedding_backward");
    const index_t N = indices.numel(), D = grad_weight.size(1);
    if (N * D == 0) return;
    dispatch_floating(grad_out.dtype(), "embedding_backward", [&](auto zero) {
      using T = decltype(zero);
      launch(embedding_backward_kernel<T>,
             elementwise_config("embedding_backward_kernel", N * D), N, D, grad_out.data<T>(),
             indices.data<std::int64_t>(), grad_weight.data<T>());
    });
  }

  void gather(const Array& x, const Array& index, const Array& out) override {
    require_contiguous({&x, &index, &out}, "gather");
    const index_t M = index.size(0), K = index.size(1), S = x.size(1);
    if (M * K == 0) return;
    dispatch(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      launch(gather_kernel<T>, elementwise_config("gather_kernel", M * K), M, K, S, x.data<T>(),
             index.data<std::int64_t>(), out.data<T>());
    });
  }

  void scatter_add(const Array& out, const Array& index, const Array& src) override {
    require_contiguous({&out, &index, &src}, "scatter_add");
    const index_t M = index.size(0), K = index.size(1), S = out.size(1);
    if (M * K == 0) return;
    dispatch(out.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (std::is_same_v<T, bool>) {
        throw std::invalid_argument("scatter_add: not supported for bool tensors");
      } else {
        launch(scatter_add_kernel<T>, elementwise_config("scatter_add_kernel", M * K), M, K, S,
               out.data<T>(), index.data<std::int64_t>(), src.data<T>());
      }
    });
  }

  void layer_norm(const Array& x, const Array& weight, const Array& bias, double eps,
                  const Array& out, const Array& mean, const Array& rstd) override {
    require_contiguous({&x, &weight, &bias, &out, &mean, &rstd}, "layer_norm");
    const index_t N = x.size(0), C = x.size(1);
    if (N == 0) return;
    dispatch_floating(x.dtype(), "layer_norm", [&](auto zero) {
      using T = decltype(zero);
      launch(layer_norm_rows_kernel<T>, rows_config("layer_norm_rows_kernel", N, C), C, eps,
             x.data<T>(), data_or_null<T>(weight), data_or_null<T>(bias), out.data<T>(),
             mean.data<T>(), rstd.data<T>());
    });
  }

  void layer_norm_backward(const Array& grad_out, const Array& x, const Array& weight,
                           const Array& mean, const Array& rstd, const Array& grad_x,
                           const Array& grad_weight, const Array& grad_bias) override {
    require_contiguous({&grad_out, &x, &weight, &mean, &rstd, &grad_x, &grad_weight, &grad_bias},
                       "layer_norm_backward");
    const index_t N = x.size(0), C = x.size(1);
    dispatch_floating(x.dtype(), "layer_norm_backward", [&](auto zero) {
      using T = decltype(zero);
      if (N > 0 && C > 0)
        launch(layer_norm_backward_rows_kernel<T>,
               rows_config("layer_norm_backward_rows_kernel", N, C), C, grad_out.data<T>(),
               x.data<T>(), data_or_null<T>(weight), mean.data<T>(), rstd.data<T>(),
               grad_x.data<T>());
      if ((grad_weight.defined() || grad_bias.defined()) && C > 0)
        launch(layer_norm_param_grads_kernel<T>,
               elementwise_config("layer_norm_param_grads_kernel", C), N, C, grad_out.data<T>(),
               x.data<T>(), mean.data<T>(), rstd.data<T>(), data_or_null<T>(grad_weight),
               data_or_null<T>(grad_bias));
    });
  }

  void rms_norm(const Array& x, const Array& weight, double eps, const Array& out,
                const Array& rstd) override {
    require_contiguous({&x, &weight, &out, &rstd}, "rms_norm");
    const index_t N = x.size(0), C = x.size(1);
    if (N == 0) return;
    dispatch_floating(x.dtype(), "rms_norm", [&](auto zero) {
      using T = decltype(zero);
      launch(rms_norm_rows_kernel<T>, rows_config("rms_norm_rows_kernel", N, C), C, eps,
             x.data<T>(), data_or_null<T>(weight), out.data<T>(), rstd.data<T>());
    });
  }

  void rms_norm_backward(const Array& grad_out, const Array& x, const Array& weight,
                         const Array& rstd, const Array& grad_x,
                         const Array& grad_weight) override {
    require_contiguous({&grad_out, &x, &weight, &rstd, &grad_x, &grad_weight},
                       "rms_norm_backward");
    const index_t N = x.size(0), C = x.size(1);
    dispatch_floating(x.dtype(), "rms_norm_backward", [&](auto zero) {
      using T = decltype(zero);
      if (N > 0 && C > 0)
        launch(rms_norm_backward_rows_kernel<T>,
               rows_config("rms_norm_backward_rows_kernel", N, C), C, grad_out.data<T>(),
               x.data<T>(), data_or_null<T>(weight), rstd.data<T>(), grad_x.data<T>());
      if (grad_weight.defined() && C > 0)
        launch(rms_norm_weight_grad_kernel<T>,
               elementwise_config("rms_norm_weight_grad_kernel", C), N, C, grad_out.data<T>(),
               x.data<T>(), rstd.data<T>(), grad_weight.data<T>());
    });
  }

  void cross_entropy(const Array& logits, const Array& targets, std::int64_t ignore_index,
                     double label_smoothing, const Array& losses) override {
    require_contiguous({&logits, &targets, &losses}, "cross_entropy");
    const index_t N = logits.size(0), C = logits.size(1);
    if (N == 0) return;
    dispatch_floating(logits.dtype(), "cross_entropy", [&](auto zero) {
      using T = decltype(zero);
      launch(cross_entropy_rows_kernel<T>, rows_config("cross_entropy_rows_kernel", N, C), C,
             ignore_index, label_smoothing, logits.data<T>(), targets.data<std::int64_t>(),
             losses.data<T>());
    });
  }

  void cross_entropy_backward(const Array& logits, const Array& targets,
                              const Array& grad_losses, std::int64_t ignore_index,
                              double label_smoothing, const Array& grad_logits) override {
    require_contiguous({&logits, &targets, &grad_losses, &grad_logits}, "cross_entropy_backward");
    const index_t N = logits.size(0), C = logits.size(1);
    if (N == 0) return;
    dispatch_floating(logits.dtype(), "cross_entropy_backward", [&](auto zero) {
      using T = decltype(zero);
      launch(cross_entropy_backward_rows_kernel<T>,
             rows_config("cross_entropy_backward_rows_kernel", N, C), C, ignore_index,
             label_smoothing, logits.data<T>(), targets.data<std::int64_t>(),
             grad_losses.data<T>(), grad_logits.data<T>());
    });
  }

  void dropout_mask(const Array& out, double keep_prob, std::uint64_t seed,
                    std::uint64_t offset) override {
    require_contiguous({&out}, "dropout_mask");
    const index_t n = out.numel();
    if (n == 0) return;
    dispatch_floating(out.dtype(), "dropout_mask", [&](auto zero) {
      using T = decltype(zero);
      launch(dropout_mask_kernel<T>, elementwise_config("dropout_mask_kernel", n), n, keep_prob,
             seed, offset, out.data<T>());
    });
  }

  void rotary_embedding(const Array& x, std::int64_t position_offset, double base, bool inverse,
                        const Array& out) override {
    require_contiguous({&x, &out}, "rotary_embedding");
    const index_t seq_len = x.size(1), head_dim = x.size(2);
    const index_t num_pairs = x.numel() / 2;
    if (num_pairs == 0) return;
    dispatch_floating(x.dtype(), "rotary_embedding", [&](auto zero) {
      using T = decltype(zero);
      launch(rotary_embedding_kernel<T>, elementwise_config("rotary_embedding_kernel", num_pairs),
             num_pairs, seq_len, head_dim, index_t(position_offset), base, inverse ? -1.0 : 1.0,
             x.data<T>(), out.data<T>());
    });
  }

  void adam_step(const Array& param, const Array& grad, const Array& exp_avg,
                 const Array& exp_avg_sq, double lr, double beta1, double beta2, double eps,
                 double weight_decay, bool decoupled, std::int64_t step) override {
    require_contiguous({&param, &grad, &exp_avg, &exp_avg_sq}, "adam_step");
    const index_t n = param.numel();
    if (n == 0) return;
    dispatch_floating(param.dtype(), "adam_step", [&](auto zero) {
      using T = decltype(zero);
      // The per-step scalars, computed once here exactly as the cpu backend computes them.
      const double bias1 = 1 - std::pow(beta1, double(step));
      const double bias2 = 1 - std::pow(beta2, double(step));
      const T step_size = T(lr / bias1), inv_sqrt_bias2 = T(1 / std::sqrt(bias2));
      const T decay = T(decoupled ? 1 - lr * weight_decay : 1);
      const T l2 = T(decoupled ? 0 : weight_decay);
      launch(adam_step_kernel<T>, elementwise_config("adam_step_kernel", n), n, param.data<T>(),
             grad.data<T>(), exp_avg.data<T>(), exp_avg_sq.data<T>(), step_size, inv_sqrt_bias2,
             decay, l2, T(beta1), T(beta2), T(eps));
    });
  }

  // ---- beyond tensor::Backend ----------------------------------------------------------------

  void fused_attention(const Array& q, const Array& k, const Array& v, double scale,
                       const Array& out) override {
    require_contiguous({&q, &k, &v, &out}, "fused_attention");
    const index_t B = q.size(0), Tq = q.size(1), D = q.size(2), Tk = k.size(1), Dv = v.size(2);
    if (Tk > kMaxKeys) throw std::invalid_argument("fused_attention: more than 1024 keys");
    if (B > 65535) throw std::invalid_argument("fused_attention: more than 65535 batches");
    dispatch_floating(q.dtype(), "fused_attention", [&](auto zero) {
      using T = decltype(zero);
      launch(attention_rows_kernel<T>,
             LaunchConfig{"attention_rows_kernel", dim3(unsigned(Tq), unsigned(B)),
                          dim3(row_threads(std::max(Tk, Dv))), Sync::Barriers},
             Tq, Tk, D, Dv, T(scale), q.data<T>(), k.data<T>(), v.data<T>(), out.data<T>());
    });
  }

 protected:
  // A faster matmul for layouts it supports (cuBLAS on a real GPU); false: use the tiled kernel.
  virtual bool matmul_fast_path(const Array&, const Array&, const Array&) { return false; }
};

}  // namespace tensor::cuda::ATTN_CUDA_TARGET
