// device_runtime.cuh — the real-GPU counterpart of cuda/sim/sim_runtime.hpp, for nvcc: the
// CUDA runtime API, error checks, and launch(), the one place with <<<...>>>.
#pragma once

#include <cuda_runtime.h>

#include <string>
#include <utility>

#define ATTN_CUDA_TARGET device

#include "cuda/cuda.hpp"
#include "cuda/kernels/launch_config.cuh"

namespace tensor::cuda::device {

// Throws std::runtime_error("cuda: <call> failed in <context>: <CUDA's message> (<error name>)")
// unless status is cudaSuccess. Every CUDA call of the backend goes through it.
void check(cudaError_t status, const char* call, const std::string& context);

// ATTN_CUDA_SYNC=1: wait for each kernel to finish, so that an error inside a kernel (an illegal
// address, say) is reported with that kernel's name instead of at the next copy to the host.
bool sync_after_each_launch();

// "softmax_rows_kernel<<<(8,1,1), (32,1,1)>>>", for error messages.
std::string describe_launch(const LaunchConfig& config);

// kernel<<<config.grid, config.block>>>(args...), recorded in the launch trace and checked.
template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), const LaunchConfig& config, Args&&... args) {
  const unsigned grid[3] = {config.grid.x, config.grid.y, config.grid.z};
  const unsigned block[3] = {config.block.x, config.block.y, config.block.z};
  record_launch("cuda", config.kernel, grid, block);
  kernel<<<config.grid, config.block>>>(std::forward<Args>(args)...);
  check(cudaGetLastError(), "kernel launch", describe_launch(config));
  if (sync_after_each_launch())
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize", "after " + describe_launch(config));
}

}  // namespace tensor::cuda::device
