#include "tensor/cpu/cpu_backend.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

#include "tensor/caching_allocator.hpp"

namespace tensor::cpu {

namespace {

// 64-byte alignment: a cache line, and what AVX-512 loads like best.
constexpr std::size_t kAlignment = 64;
// At most this much freed memory is kept for reuse.
constexpr std::size_t kMaxCachedBytes = std::size_t(1) << 30;

// Size classes are multiples of 512 bytes, so they are valid sizes for aligned_alloc too.
// The allocator is never destroyed: arrays held by other static objects may be freed at exit
// after it would have been, and the operating system takes the memory back anyway.
CachingAllocator& allocator() {
  static CachingAllocator* instance = new CachingAllocator(
      [](std::size_t nbytes) { return std::aligned_alloc(kAlignment, nbytes); },
      [](void* block) { std::free(block); }, kMaxCachedBytes);
  return *instance;
}

}  // namespace

void* CpuBackend::allocate(std::size_t nbytes) {
  void* ptr = allocator().allocate(nbytes);
  if (ptr == nullptr) throw std::bad_alloc();
  return ptr;
}

void CpuBackend::deallocate(void* ptr, std::size_t nbytes) { allocator().deallocate(ptr, nbytes); }

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
