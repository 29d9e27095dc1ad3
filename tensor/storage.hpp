// storage.hpp — a block of memory on one device, shared by every view of it.
//
// Arrays hold a std::shared_ptr<Storage>, so the memory lives as long as any view of it does
// (reference counting). The version counter goes up on every in-place write; autograd uses it
// to refuse a backward pass whose saved inputs were overwritten after the forward pass.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/device.hpp"

namespace tensor {

class Storage {
 public:
  // Allocates nbytes on `device` through that device's backend. The bytes are not initialised.
  Storage(std::size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  std::uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_;
  std::uint64_t version_ = 0;
};

}  // namespace tensor
