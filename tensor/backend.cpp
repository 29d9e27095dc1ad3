#include "tensor/backend.hpp"

#include <array>
#include <iterator>
#include <stdexcept>

#include "tensor/cpu/cpu_backend.hpp"

namespace tensor {

namespace {
Backend*& slot(DeviceType type) {
  // One slot per DeviceType, null until a backend registers; cpu is there from the start.
  static std::array<Backend*, kDeviceTypeCount> backends = [] {
    std::array<Backend*, kDeviceTypeCount> table{};
    table[static_cast<int>(DeviceType::CPU)] = &cpu::cpu_backend();
    return table;
  }();
  return backends[static_cast<int>(type)];
}
}  // namespace

Backend& backend(Device device) {
  Backend* found = slot(device.type);
  if (found == nullptr) {
    if (device.type == DeviceType::CUDA)
      throw std::runtime_error(
          "device cuda: this build has no CUDA backend; rebuild with `make CUDA=1` on a machine "
          "with nvcc, or use --device cuda-sim to run the CUDA kernels on the CPU");
    throw std::runtime_error("device " + device.str() + ": no backend is registered for it");
  }
  return *found;
}

void register_backend(DeviceType type, Backend* backend) { slot(type) = backend; }

void Backend::fused_attention(const Array&, const Array&, const Array&, const Array&, bool,
                              std::int64_t, double, const Array&, const Array&) {
  throw std::runtime_error("fused_attention: the " + name() +
                           " backend has no fused attention kernel; use the composed "
                           "nn::scaled_dot_product_attention");
}

void Backend::fused_attention_backward(const Array&, const Array&, const Array&, const Array&,
                                       const Array&, const Array&, const Array&, bool,
                                       std::int64_t, double, const Array&, const Array&,
                                       const Array&) {
  throw std::runtime_error("fused_attention_backward: the " + name() +
                           " backend has no fused attention kernel");
}

void Backend::fused_linear(const Array&, const Array&, const Array&, const Array&) {
  throw std::runtime_error("fused_linear: the " + name() +
                           " backend has no fused linear kernel; use matmul then add");
}

void Backend::fused_linear_backward_weight(const Array&, const Array&, const Array&, const Array&) {
  throw std::runtime_error("fused_linear_backward_weight: the " + name() +
                           " backend has no fused linear kernel");
}

// The names come from the same lists as the enums (tensor/elementwise_ops.hpp), in the same
// order, so they cannot drift apart.
#define TENSOR_OP_NAME_ENTRY(Enum, name, takes, gives) name,

std::string op_name(UnaryOp op) {
  static constexpr const char* names[] = {TENSOR_UNARY_OPS(TENSOR_OP_NAME_ENTRY)};
  static_assert(std::size(names) == kUnaryOpCount);
  return names[static_cast<int>(op)];
}

std::string op_name(BinaryOp op) {
  static constexpr const char* names[] = {TENSOR_BINARY_OPS(TENSOR_OP_NAME_ENTRY)};
  static_assert(std::size(names) == kBinaryOpCount);
  return names[static_cast<int>(op)];
}

#undef TENSOR_OP_NAME_ENTRY

std::string op_name(ReduceOp op) {
  static constexpr const char* names[] = {"sum", "prod", "max", "min", "argmax", "argmin"};
  static_assert(std::size(names) == static_cast<int>(ReduceOp::ArgMin) + 1,
                "one name per ReduceOp, in enum order");
  return names[static_cast<int>(op)];
}

}  // namespace tensor
