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
  void softmax(const Array& x, std::int64_t dim, bool log, const Array& out) override;
  void softmax_backward(const Array& grad_out, const Array& out, std::int64_t dim, bool log,
                        const Array& grad_in) override;  // softmax.cpp
};

CpuBackend& cpu_backend();

}  // namespace tensor::cpu
