// ops_linalg.cpp — matmul, the product at the heart of every layer and of attention.
#include "autograd/ops.hpp"
#include "autograd/record.hpp"
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

}  // namespace autograd
