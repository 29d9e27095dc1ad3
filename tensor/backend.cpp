#include "tensor/backend.hpp"

#include <stdexcept>

#include "tensor/cpu/cpu_backend.hpp"

namespace tensor {

namespace {
Backend*& slot(DeviceType type) {
  static Backend* backends[3] = {&cpu::cpu_backend(), nullptr, nullptr};
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

std::string op_name(UnaryOp op) {
  static const char* names[] = {"neg",  "abs",  "sign",    "square", "reciprocal", "exp",
                                "log",  "sqrt", "rsqrt",   "sin",    "cos",        "tanh",
                                "sigmoid", "erf", "relu", "gelu",   "gelu_tanh",  "silu",
                                "logical_not"};
  return names[static_cast<int>(op)];
}

std::string op_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
                                "relu_backward", "gelu_backward", "gelu_tanh_backward",
                                "silu_backward", "sigmoid_backward", "tanh_backward"};
  return names[static_cast<int>(op)];
}

std::string op_name(ReduceOp op) {
  static const char* names[] = {"sum", "prod", "max", "min", "argmax", "argmin"};
  return names[static_cast<int>(op)];
}

}  // namespace tensor
