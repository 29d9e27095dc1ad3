#include "tensor/device.hpp"

#include <stdexcept>

namespace core {

std::string Device::str() const {
  switch (type) {
    case DeviceType::CPU: return "cpu";
    case DeviceType::CUDA: return "cuda:" + std::to_string(index);
    case DeviceType::CudaSim: return "cuda-sim";
  }
  return "unknown";
}

Device Device::parse(const std::string& text) {
  if (text == "cpu") return {DeviceType::CPU, 0};
  if (text == "cuda-sim") return {DeviceType::CudaSim, 0};
  if (text == "cuda") return {DeviceType::CUDA, 0};
  if (text.rfind("cuda:", 0) == 0) {
    std::size_t used = 0;
    int index = -1;
    try {
      index = std::stoi(text.substr(5), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used > 0 && used == text.size() - 5 && index >= 0) return {DeviceType::CUDA, index};
  }
  throw std::invalid_argument("device: unknown device '" + text +
                              "' (expected cpu, cuda, cuda:N or cuda-sim)");
}

}  // namespace core
