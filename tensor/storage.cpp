#include "tensor/storage.hpp"

#include "tensor/backend.hpp"

namespace tensor {

Storage::Storage(std::size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (nbytes > 0) data_ = backend(device).allocate(nbytes);
}

Storage::~Storage() {
  if (data_ != nullptr) backend(device_).deallocate(data_, nbytes_);
}

}  // namespace tensor
