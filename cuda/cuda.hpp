// cuda.hpp — what the CUDA backends offer beyond tensor::Backend, in every build.
//
// The two backends, `cuda` (a real GPU, built with `make CUDA=1`) and `cuda-sim` (the same
// kernels on the CPU, always built), are used through tensor::Array and autograd like any
// device: `x.to(Device::parse("cuda-sim"))`. This header adds the knobs a learner may want:
// the launch trace (which kernels ran, with which grid and block), the matmul path on a real
// GPU, the simulator's threading mode, and a fused attention kernel for tutorial 19.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/array.hpp"
#include "tensor/backend.hpp"

namespace tensor::cuda {

// ---- the launch trace -----------------------------------------------------------------------
struct LaunchRecord {
  std::string device;  // "cuda" or "cuda-sim"
  std::string kernel;  // e.g. "softmax_rows_kernel"
  unsigned grid[3];    // blocks in x, y, z
  unsigned block[3];   // threads per block in x, y, z
  std::string str() const;  // "softmax_rows_kernel  grid (12, 1, 1)  block (32, 1, 1)"
};
// Between start and stop, every kernel launch on cuda or cuda-sim is recorded (from any thread).
void start_launch_trace();
std::vector<LaunchRecord> stop_launch_trace();
// Called by the backends for each launch.
void record_launch(const char* device, const char* kernel, const unsigned grid[3],
                   const unsigned block[3]);

// ---- matmul on a real GPU -----------------------------------------------------------------------
// false (default): the shared-memory tiled kernel of cuda/kernels/matmul.cuh, the one the
// simulator runs too. true: cuBLAS where the layout allows (float/double, each matrix with a unit
// stride), the tiled kernel otherwise. Starts as ATTN_CUBLAS=1 in the environment says. Has no
// effect on cuda-sim, or in builds without cuBLAS.
void set_use_cublas(bool use);
bool use_cublas();

// ---- attention in one kernel --------------------------------------------------------------------
// out[b, i, :] = sum_j softmax_j(scale * q[b, i, :] . k[b, j, :]) v[b, j, :], computed by one
// block per query row (cuda/kernels/attention.cuh) instead of matmul + softmax + matmul.
// q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv], float32 or float64, on cuda or cuda-sim; Tk <= 1024.
Array fused_attention(const Array& q, const Array& k, const Array& v, double scale);

// ---- device memory ------------------------------------------------------------------------------
// Both backends keep freed blocks for reuse (tensor/caching_allocator.hpp).
struct MemoryStats {
  std::size_t bytes_in_use = 0;     // held by live tensors (sizes rounded up to a size class)
  std::size_t bytes_cached = 0;     // freed by tensors, kept for reuse
  std::size_t raw_allocations = 0;  // cudaMalloc calls (cuda-sim: host allocations)
  std::size_t cache_hits = 0;       // allocations served from the cache
};
MemoryStats memory_stats(Device device);  // device: cuda or cuda-sim
void empty_cache(Device device);          // really frees the cached blocks (torch.cuda.empty_cache)

// What both CUDA backends offer beyond tensor::Backend (the functions above dispatch to it).
class KernelBackendBase : public Backend {
 public:
  // q, k, v and out contiguous, shapes as for fused_attention (checked by the caller).
  virtual void fused_attention(const Array& q, const Array& k, const Array& v, double scale,
                               const Array& out) = 0;
  virtual MemoryStats memory_stats() = 0;
  virtual void empty_cache() = 0;
};

// ---- the simulator --------------------------------------------------------------------------
// true: every cuda-sim launch runs one host thread per CUDA thread, also for kernels that never
// call __syncthreads() (normally run one thread after another). Starts as ATTN_SIM_FAITHFUL=1
// says. See cuda/sim/sim_runtime.hpp.
void set_sim_faithful(bool faithful);

}  // namespace tensor::cuda
