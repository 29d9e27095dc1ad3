// sim_backend.cpp — the cuda-sim device: the kernels of cuda/kernels/, compiled by the host
// compiler and run by the simulator (sim_runtime.hpp), over memory of its own.
//
// The simulator behaves like a device on purpose: its memory is kept apart from cpu memory
// (arrays move with .to(device), through copy_from_host/copy_to_host, exactly as on a GPU), it
// goes through the same caching allocator as the GPU backend, and fresh blocks are filled with
// 0xFF bytes (NaN as float) the way real device memory holds garbage, so that a kernel that reads
// an element nobody wrote shows up as a NaN in the tests rather than as a lucky zero.
#include "cuda/sim/sim_runtime.hpp"  // first: the CUDA vocabulary the kernels are written in

#include <cstdlib>
#include <cstring>
#include <new>

#include "tensor/caching_allocator.hpp"
#include "cuda/kernels/kernel_backend.cuh"

namespace tensor::cuda::sim {

namespace {

constexpr std::size_t kAlignment = 256;  // what cudaMalloc guarantees

class CudaSimBackend final : public KernelBackend {
 public:
  std::string name() const override { return "cuda-sim"; }

  void* allocate(std::size_t nbytes) override {
    void* block = allocator_.allocate(nbytes);
    if (block == nullptr) throw std::bad_alloc();
    std::memset(block, 0xFF, nbytes);
    return block;
  }

  void deallocate(void* ptr, std::size_t nbytes) override { allocator_.deallocate(ptr, nbytes); }

  // Launches run to completion before launch() returns, so memory is never busy here: a plain
  // memcpy is a faithful cudaMemcpy.
  void copy_from_host(void* device_dst, const void* host_src, std::size_t nbytes) override {
    std::memcpy(device_dst, host_src, nbytes);
  }
  void copy_to_host(void* host_dst, const void* device_src, std::size_t nbytes) override {
    std::memcpy(host_dst, device_src, nbytes);
  }

  MemoryStats memory_stats() override {
    tensor::CachingAllocator::Stats s = allocator_.stats();
    return MemoryStats{s.bytes_in_use, s.bytes_cached, s.raw_allocations, s.cache_hits};
  }
  void empty_cache() override { allocator_.release_cached(); }

 private:
  tensor::CachingAllocator allocator_{
      [](std::size_t nbytes) { return std::aligned_alloc(kAlignment, nbytes); },
      [](void* block) { std::free(block); }};
};

// Never destroyed: tensors that outlive main() (statics) still free their memory through it.
CudaSimBackend& sim_backend() {
  static CudaSimBackend* instance = new CudaSimBackend;
  return *instance;
}

// Registers cuda-sim with tensor::backend() when the program starts. Nothing refers to this
// object file by name, and a linker takes objects out of a static library only when something
// refers to them, so the Makefile links libattn.a with --whole-archive: every object file of the
// library is in every program, and with it this registration.
const bool registered = [] {
  register_backend(DeviceType::CudaSim, &sim_backend());
  return true;
}();

}  // namespace

}  // namespace tensor::cuda::sim

namespace tensor::cuda {
void set_sim_faithful(bool faithful) { sim::set_faithful(faithful); }
}  // namespace tensor::cuda
