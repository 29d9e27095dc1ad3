// ops_linalg.cpp — matmul, the product at the heart of every layer and of attention; and
// linear, the layer's x W^T + b fused into one GEMM each way.
#include "autograd/ops.hpp"
#include "autograd/record.hpp"
#include "tensor/nn_ops.hpp"
#include "tensor/ops.hpp"

namespace autograd {

Tensor matmul(const Tensor& a, const Tensor& b, Site site) {
  // A 1-d operand is a matrix with one row (left) or one column (right): handle it with views,
  // whose backward is already known, so the matrix case below is the only formula needed.
  if (a.dim() == 1 || b.dim() == 1) {
    if (a.dim() == 0 || b.dim() == 0) tensor::matmul(a.data(), b.data());  // throws its error
    Tensor left = a.dim() == 1 ? unsqueeze(a, 0, site) : a;
    Tensor right = b.dim() == 1 ? unsqueeze(b, 1, site) : b;
    Tensor product = matmul(left, right, site);
    if (a.dim() == 1) product = squeeze(product, -2, site);
    if (b.dim() == 1) product = squeeze(product, -1, site);
    return product;
  }
  // A batch of matrices times one matrix ([B, T, K] x [K, N], every Linear layer) is really one
  // big product: fold the batch into the rows, [B*T, K] x [K, N]. Same result, but one GEMM
  // instead of B small ones, and in backward dB = A^T g comes out as one [K, N] product instead
  // of B products summed afterwards.
  if (a.dim() > 2 && b.dim() == 2) {
    if (a.size(-1) != b.size(0)) tensor::matmul(a.data(), b.data());  // throws, naming both shapes
    Shape out_shape(a.shape().begin(), a.shape().end() - 1);
    out_shape.push_back(b.size(1));
    Tensor rows = reshape(a, {-1, a.size(-1)}, site);
    return reshape(matmul(rows, b, site), out_shape, site);
  }
  Array c = tensor::matmul(a.data(), b.data());
  bool need_a = a.requires_grad(), need_b = b.requires_grad();
  SavedArray saved_a(need_b ? a.data() : Array(), "matmul");
  SavedArray saved_b(need_a ? b.data() : Array(), "matmul");
  return record("matmul", site, c, {a, b}, [saved_a, saved_b, need_a, need_b](const Array& g) -> Grads {
    // C = A B with A [.., M, K], B [.., K, N], g = dL/dC [.., M, N]:
    //   dA = g B^T  [.., M, K]      dB = A^T g  [.., K, N]
    // Broadcast batch dims are summed back by the engine.
    Array da = need_a ? tensor::matmul(g, saved_b.get().transpose(-2, -1)) : Array();
    Array db = need_b ? tensor::matmul(saved_a.get().transpose(-2, -1), g) : Array();
    return {da, db};
  });
}

namespace {

// Whether fused_linear() can run as one node: the backend has the kernels and the arguments are
// what they expect (anything else takes the composed path, which also gives the errors).
bool fused_linear_applies(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (!x.defined() || !weight.defined() || x.dim() == 0 || x.numel() == 0 || weight.dim() != 2 ||
      x.size(-1) != weight.size(1) || !tensor::is_floating(x.dtype()) ||
      weight.dtype() != x.dtype() || weight.device() != x.device())
    return false;
  if (bias.defined() && (bias.dtype() != x.dtype() || bias.device() != x.device() ||
                         bias.shape() != Shape{weight.size(0)}))
    return false;
  return tensor::has_fused_linear(x.device());
}

}  // namespace

Tensor fused_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, Site site) {
  if (!fused_linear_applies(x, weight, bias)) {
    Tensor y = matmul(x, weight.transpose(0, 1, site), site);
    return bias.defined() ? add(y, bias, site) : y;
  }
  // Fold the batch dims into the rows, [..., in] -> [rows, in], as matmul does (a 1-d x is
  // one row): one GEMM for the whole batch, and dW summed over it by that GEMM.
  if (x.dim() != 2) {
    Shape out_shape(x.shape().begin(), x.shape().end() - 1);
    out_shape.push_back(weight.size(0));
    Tensor rows = reshape(x, {-1, x.size(-1)}, site);
    return reshape(fused_linear(rows, weight, bias, site), out_shape, site);
  }
  const char* op = "fused_linear";
  // forward: y [M, N] = x [M, K] W^T + b, W [N, K], the bias added in the GEMM's stores
  Array y = tensor::fused_linear(x.data(), weight.data(), bias.defined() ? bias.data() : Array());
  const bool need_x = x.requires_grad(), need_w = weight.requires_grad();
  const bool need_b = bias.defined() && bias.requires_grad();
  // dx needs only W and dW only x: keep x only for dW and W only for dx (a frozen W, as under
  // LoRA, then keeps no x alive).
  SavedArray saved_x(need_w ? x.data() : Array(), op);
  SavedArray saved_w(need_x ? weight.data() : Array(), op);
  return record(op, site, y, {x, weight, bias},
                [saved_x, saved_w, need_x, need_w, need_b](const Array& g) -> Grads {
                  // backward: dx = g W [M, K],  dW = g^T x [N, K],  db = sum over rows of g [N]
                  tensor::FusedLinearGrads grads = tensor::fused_linear_backward(
                      g, saved_x.get(), saved_w.get(), need_x, need_w, need_b);
                  return {grads.x, grads.weight, grads.bias};
                });
}

}  // namespace autograd
