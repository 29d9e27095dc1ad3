// matmul.cpp — the plain cpu matrix multiply: obviously correct, and the reference that the
// fast kernel (gemm.cpp) is tested against; CpuBackend::matmul, which picks between them; and
// the fused Linear layer (CpuBackend::fused_linear), which makes the same pick.
#include <stdexcept>
#include <type_traits>

#include "tensor/cpu/cpu_backend.hpp"
#include "tensor/cpu/gemm.hpp"
#include "tensor/cpu/loops.hpp"
#include "tensor/cpu/matmul_reference.hpp"

namespace tensor::cpu {

namespace {

// Element offset of batch number `batch` (row-major over the batch dims) in an array whose
// batch dims are the leading `batch_dims` dims.
std::int64_t batch_offset(const Array& array, std::int64_t batch, std::int64_t batch_dims) {
  std::int64_t offset = 0;
  for (std::int64_t d = batch_dims - 1; d >= 0; --d) {
    offset += (batch % array.shape()[d]) * array.strides()[d];
    batch /= array.shape()[d];
  }
  return offset;
}

template <typename T>
void matmul_typed(const Array& a, const Array& b, const Array& out) {
  const std::int64_t batch_dims = out.dim() - 2;
  const std::int64_t M = out.size(-2), N = out.size(-1), K = a.size(-1);
  std::int64_t batches = 1;
  for (std::int64_t d = 0; d < batch_dims; ++d) batches *= out.shape()[d];
  const std::int64_t a_rs = a.strides()[batch_dims], a_cs = a.strides()[batch_dims + 1];
  const std::int64_t b_rs = b.strides()[batch_dims], b_cs = b.strides()[batch_dims + 1];
  const std::int64_t c_rs = out.strides()[batch_dims], c_cs = out.strides()[batch_dims + 1];
  const T* A = a.data<T>();
  const T* B = b.data<T>();
  T* C = out.data<T>();
  // One task per output row; rows are independent.
  parallel_for(batches * M, grain_for_work(2 * N * K), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t row = begin; row < end; ++row) {
      std::int64_t batch = row / M, m = row % M;
      const T* a_row = A + batch_offset(a, batch, batch_dims) + m * a_rs;
      const T* b_mat = B + batch_offset(b, batch, batch_dims);
      T* c_row = C + batch_offset(out, batch, batch_dims) + m * c_rs;
      for (std::int64_t n = 0; n < N; ++n) c_row[n * c_cs] = T(0);
      // i-k-j order: the innermost loop walks a row of B and a row of C, both usually packed.
      for (std::int64_t k = 0; k < K; ++k) {
        const T a_mk = a_row[k * a_cs];
        const T* b_row = b_mat + k * b_rs;
        if (b_cs == 1 && c_cs == 1) {
          for (std::int64_t n = 0; n < N; ++n) c_row[n] += a_mk * b_row[n];
        } else {
          for (std::int64_t n = 0; n < N; ++n) c_row[n * c_cs] += a_mk * b_row[n * b_cs];
        }
      }
    }
  });
}

}  // namespace

void matmul_reference(const Array& a, const Array& b, const Array& out) {
  dispatch(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, bool>) {
      throw std::invalid_argument("matmul: not supported for bool tensors");
    } else {
      matmul_typed<T>(a, b, out);
    }
  });
}

// The packed, blocked kernel of gemm.cpp for float matrices big enough to pay for packing;
// the plain loop above for tiny ones and for int64.
void CpuBackend::matmul(const Array& a, const Array& b, const Array& out) {
  const bool floating = out.dtype() == DType::Float32 || out.dtype() == DType::Float64;
  if (floating && gemm_pays_off(out.size(-2), out.size(-1), a.size(-1))) {
    gemm(a, b, out);
  } else {
    matmul_reference(a, b, out);
  }
}

// ---- the fused Linear layer: y = x W^T + b ------------------------------------------------------
//
// Forward, the bias rides in gemm's epilogue; backward, the bias gradient (the sums over the
// rows of g) is summed while gemm packs g^T for dW = g^T x. Products too small for gemm take
// the plain loop and a plain add or sum: the same pick matmul() makes, so that the forward is
// bit for bit matmul then add on every size.

namespace {

// out[m, n] = out[m, n] + bias[n]: the add of the composed path, after matmul_reference.
template <typename T>
void add_bias_to_rows(const Array& out, const Array& bias) {
  const T* b = bias.data<T>();
  T* c = out.data<T>();
  for (std::int64_t m = 0; m < out.size(0); ++m)
    for (std::int64_t n = 0; n < out.size(1); ++n) {
      T& dst = c[m * out.strides()[0] + n * out.strides()[1]];
      dst = dst + b[n * bias.strides()[0]];
    }
}

// sums[m] = sum_k a[m, k], in double and in k order, as gemm's epilogue sums.
template <typename T>
void sum_rows(const Array& a, const Array& sums) {
  const T* values = a.data<T>();
  T* out = sums.data<T>();
  for (std::int64_t m = 0; m < a.size(0); ++m) {
    double sum = 0;
    for (std::int64_t k = 0; k < a.size(1); ++k)
      sum += double(values[m * a.strides()[0] + k * a.strides()[1]]);
    out[m * sums.strides()[0]] = T(sum);
  }
}

}  // namespace

void CpuBackend::fused_linear(const Array& x, const Array& weight, const Array& bias,
                              const Array& out) {
  const Array weight_t = weight.transpose(0, 1);  // [K, N], a view: the gemm packs through it
  if (gemm_pays_off(out.size(0), out.size(1), x.size(1))) {
    gemm(x, weight_t, out, {.bias = bias, .a_row_sums = Array()});
    return;
  }
  matmul_reference(x, weight_t, out);
  if (bias.defined())
    dispatch_floating(out.dtype(), "fused_linear",
                      [&](auto zero) { add_bias_to_rows<decltype(zero)>(out, bias); });
}

void CpuBackend::fused_linear_backward_weight(const Array& grad_out, const Array& x,
                                              const Array& grad_weight, const Array& grad_bias) {
  // grad_weight [N, K] = g^T [N, M] @ x [M, K]; the rows of g^T are the columns of g, whose
  // sums are grad_bias.
  const Array grad_out_t = grad_out.transpose(0, 1);  // [N, M], a view
  if (gemm_pays_off(grad_weight.size(0), grad_weight.size(1), x.size(0))) {
    gemm(grad_out_t, x, grad_weight, {.bias = Array(), .a_row_sums = grad_bias});
    return;
  }
  matmul_reference(grad_out_t, x, grad_weight);
  if (grad_bias.defined())
    dispatch_floating(grad_out.dtype(), "fused_linear_backward_weight",
                      [&](auto zero) { sum_rows<decltype(zero)>(grad_out_t, grad_bias); });
}

}  // namespace tensor::cpu
