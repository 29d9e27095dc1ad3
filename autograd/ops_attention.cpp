// ops_attention.cpp — fused scaled-dot-product attention with its backward (the kernels and the
// derivation are in tensor/cpu/attention.cpp).
#include "autograd/ops.hpp"
#include "autograd/record.hpp"
#include "tensor/nn_ops.hpp"

namespace autograd {

Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                       const Tensor& key_padding_mask, bool causal, std::int64_t causal_offset,
                       double scale, Site site) {
  const char* op = "fused_attention";
  const Array padding = key_padding_mask.defined() ? key_padding_mask.data() : Array();
  // forward: out_i = sum_j P_ij v_j, P_ij = exp(scale q_i . k_j - logsumexp_i) (0 if blocked)
  tensor::FusedAttentionResult forward = tensor::fused_attention(
      q.data(), k.data(), v.data(), padding, causal, causal_offset, scale);
  SavedArray saved_q(q.data(), op), saved_k(k.data(), op), saved_v(v.data(), op);
  SavedArray saved_out(forward.out, op);
  const Array logsumexp = forward.logsumexp;  // [B, H, Tq]: all the softmax the backward needs
  return record(op, site, forward.out, {q, k, v},
                [=](const Array& grad) -> Grads {
                  // backward: recompute P from q, k and logsumexp, then
                  //   dV = P^T dO,  dS = P * (dO V^T - rowsum(dO * O)),
                  //   dQ = scale dS K,  dK = scale dS^T Q
                  tensor::FusedAttentionGrads grads = tensor::fused_attention_backward(
                      grad, saved_q.get(), saved_k.get(), saved_v.get(), saved_out.get(),
                      logsumexp, padding, causal, causal_offset, scale);
                  return {grads.q, grads.k, grads.v};
                });
}

}  // namespace autograd
