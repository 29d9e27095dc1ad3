// launch_config.cuh — what the kernel-calling code says about a launch, on both targets.
//
// Included by the two runtime headers (cuda/sim/sim_runtime.hpp for the simulator,
// cuda/device_runtime.cuh for nvcc) after they have defined dim3 and ATTN_CUDA_TARGET. Each of
// them then defines `launch(kernel, config, args...)`, the one place that replaces
// `kernel<<<config.grid, config.block>>>(args...)`.
#pragma once

namespace tensor::cuda::ATTN_CUDA_TARGET {

// Does the kernel call __syncthreads()? A GPU does not care; the simulator runs the threads of
// a barrier-free block one after another on one host thread, which is much faster (and it
// stops with an error if a kernel launched with Sync::None calls __syncthreads after all).
enum class Sync { None, Barriers };

struct LaunchConfig {
  const char* kernel;  // the kernel's name, for error messages and the launch trace
  dim3 grid;           // blocks
  dim3 block;          // threads per block
  Sync sync;
};

}  // namespace tensor::cuda::ATTN_CUDA_TARGET
