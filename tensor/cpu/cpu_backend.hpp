// cpu_backend.hpp — the kernels that run on the host. Plain loops over strided memory,
// threaded with OpenMP where the arrays are big enough to pay for it.
#pragma once

#include "tensor/backend.hpp"

namespace tensor::cpu {

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr, std::size_t nbytes) override;
  void copy_from_host(void* dst, const void* src, std::size_t nbytes) override;
  void copy_to_host(void* dst, const void* src, std::size_t nbytes) override;

  void copy(const Array& src, const Array& out) override;        // elementwise.cpp
  void fill(const Array& out, double value) override;             // elementwise.cpp
  void unary(UnaryOp op, const Array& x, const Array& out) override;  // elementwise.cpp
  void binary(BinaryOp op, const Array& a, const Array& b, const Array& out) override;
  void where(const Array& cond, const Array& a, const Array& b, const Array& out) override;
  void reduce(ReduceOp op, const Array& x, const Array& out) override;  // reduce.cpp
  void matmul(const Array& a, const Array& b, const Array& out) override;  // matmul.cpp
  bool has_fused_linear() const override { return true; }                  // matmul.cpp
  void fused_linear(const Array& x, const Array& weight, const Array& bias,
                    const Array& out) override;
  void fused_linear_backward_weight(const Array& grad_out, const Array& x, const Array& grad_weight,
                                    const Array& grad_bias) override;
  void softmax(const Array& x, std::int64_t dim, bool log, const Array& out) override;
  void softmax_backward(const Array& grad_out, const Array& out, std::int64_t dim, bool log,
                        const Array& grad_in) override;  // softmax.cpp

  // nn_kernels.cpp
  void embedding(const Array& weight, const Array& indices, const Array& out) override;
  void embedding_backward(const Array& grad_out, const Array& indices,
                          const Array& grad_weight) override;
  void gather(const Array& x, const Array& index, const Array& out) override;
  void scatter_add(const Array& out, const Array& index, const Array& src) override;
  void layer_norm(const Array& x, const Array& weight, const Array& bias, double eps,
                  const Array& out, const Array& mean, const Array& rstd) override;
  void layer_norm_backward(const Array& grad_out, const Array& x, const Array& weight,
                           const Array& mean, const Array& rstd, const Array& grad_x,
                           const Array& grad_weight, const Array& grad_bias) override;
  void rms_norm(const Array& x, const Array& weight, double eps, const Array& out,
                const Array& rstd) override;
  void rms_norm_backward(const Array& grad_out, const Array& x, const Array& weight,
                         const Array& rstd, const Array& grad_x, const Array& grad_weight) override;
  void cross_entropy(const Array& logits, const Array& targets, std::int64_t ignore_index,
                     double label_smoothing, const Array& losses) override;
  void cross_entropy_backward(const Array& logits, const Array& targets,
                              const Array& grad_losses, std::int64_t ignore_index,
                              double label_smoothing, const Array& grad_logits) override;
  void dropout_mask(const Array& out, double keep_prob, std::uint64_t seed,
                    std::uint64_t offset) override;
  void adam_step(const Array& param, const Array& grad, const Array& exp_avg,
                 const Array& exp_avg_sq, double lr, double beta1, double beta2, double eps,
                 double weight_decay, bool decoupled, std::int64_t step) override;
  void rotary_embedding(const Array& x, std::int64_t position_offset, double base, bool inverse,
                        const Array& out) override;  // rope.cpp
  // attention.cpp
  bool has_fused_attention() const override { return true; }
  void fused_attention(const Array& q, const Array& k, const Array& v, const Array& key_padding,
                       bool causal, std::int64_t causal_offset, double scale, const Array& out,
                       const Array& logsumexp) override;
  void fused_attention_backward(const Array& grad_out, const Array& q, const Array& k,
                                const Array& v, const Array& out, const Array& logsumexp,
                                const Array& key_padding, bool causal, std::int64_t causal_offset,
                                double scale, const Array& grad_q, const Array& grad_k,
                                const Array& grad_v) override;
};

CpuBackend& cpu_backend();

}  // namespace tensor::cpu
