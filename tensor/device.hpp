// device.hpp — where a tensor's memory lives.
//
// cpu:      ordinary host memory, CPU kernels.
// cuda:     an NVIDIA GPU (only in builds made with `make CUDA=1`).
// cuda-sim: the CUDA kernels compiled for the host and run by a simulator (see cuda/): memory is
//           kept apart from cpu memory, so moving data needs .to(device) exactly as on a GPU.
#pragma once

#include <string>

namespace core {  // see dtype.hpp for why these types live in `core`

enum class DeviceType { CPU, CUDA, CudaSim };
// How many DeviceTypes there are (CudaSim is the last): sizes per-device tables.
constexpr int kDeviceTypeCount = static_cast<int>(DeviceType::CudaSim) + 1;

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;  // which GPU, for cuda

  std::string str() const;                         // "cpu", "cuda:0", "cuda-sim"
  static Device parse(const std::string& text);    // accepts what str() prints, and "cuda"
  bool operator==(const Device&) const = default;
};

inline constexpr Device kCPU{DeviceType::CPU, 0};

}  // namespace core

namespace tensor {
using core::Device;
using core::DeviceType;
using core::kDeviceTypeCount;
using core::kCPU;
}  // namespace tensor
