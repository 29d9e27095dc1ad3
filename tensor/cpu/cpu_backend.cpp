#include "tensor/cpu/cpu_backend.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

namespace tensor::cpu {

namespace {
// 64-byte alignment: a cache line, and what AVX-512 loads like best.
constexpr std::size_t kAlignment = 64;
}  // namespace

void* CpuBackend::allocate(std::size_t nbytes) {
  std::size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  void* ptr = std::aligned_alloc(kAlignment, rounded);
  if (ptr == nullptr) throw std::bad_alloc();
  return ptr;
}

void CpuBackend::deallocate(void* ptr, std::size_t) { std::free(ptr); }

void CpuBackend::copy_from_host(void* dst, const void* src, std::size_t nbytes) {
  std::memcpy(dst, src, nbytes);
}

void CpuBackend::copy_to_host(void* dst, const void* src, std::size_t nbytes) {
  std::memcpy(dst, src, nbytes);
}

CpuBackend& cpu_backend() {
  static CpuBackend instance;
  return instance;
}

}  // namespace tensor::cpu
