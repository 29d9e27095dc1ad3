// sim_runtime.hpp — the CUDA programming model on the CPU, so that the kernels in cuda/kernels/
// compile with the host compiler and run without a GPU: the cuda-sim device.
//
// What a kernel sees
//   __global__, __device__ and __host__ mean nothing on the host and expand to nothing.
//   threadIdx, blockIdx, blockDim and gridDim are thread_local variables: each host thread that
//   plays a CUDA thread sets its own copy before calling the kernel, so kernel code reads them
//   exactly as on a GPU. __syncthreads() is a barrier over the threads of the block; atomicAdd
//   is a host atomic (std::atomic_ref).
//
// How a launch runs (sim_runtime.cpp)
//   launch(kernel, config, args...) runs the grid one block at a time. The threads of a block are
//   host threads from a pool that is created once and reused by every launch: worker w plays
//   thread w of every block (x fastest, then y, then z). A thread that returns from the kernel
//   leaves the barrier, as exited threads do on a GPU, so the remaining threads never wait for it.
//   The workers are named "sim-t<w>", which is what gdb's `info threads` shows.
//
// Why `#define __shared__ static` is enough
//   A __shared__ variable is one object per block, seen by every thread of that block. A
//   function-local `static` is one object per program, seen by every thread. Exactly one block
//   runs at a time (and one launch at a time: launches are serialised, like one CUDA stream), so
//   "per program" and "per block" coincide. Like real shared memory, it is not cleared between
//   blocks: a correct kernel writes shared memory before it reads it. Running blocks in parallel
//   would need real per-block storage, which is why the simulator does not.
//
// Barrier-free launches
//   Most kernels (elementwise, embedding, dropout, Adam...) never call __syncthreads(). Their
//   launch says so (Sync::None) and the simulator then runs the block's threads one after another
//   on the calling thread: no thread switches at all. If such a kernel calls __syncthreads()
//   anyway, the launch stops with an error naming the kernel instead of computing nonsense.
//   ATTN_SIM_FAITHFUL=1 in the environment (or set_faithful(true)) gives every launch one host
//   thread per CUDA thread, e.g. to watch the threads of an elementwise kernel in gdb.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- the CUDA vocabulary, for the host compiler -------------------------------------------------

#define ATTN_CUDA_TARGET sim

#define __global__
#define __device__
#define __host__
#define __shared__ static  // see the header comment: one block runs at a time

// The rest lives in the kernels' namespace (where unqualified names in kernel code find it),
// not in the global one, so that it never meets the CUDA runtime's own ::dim3 in a program that
// links both backends (make CUDA=1).
namespace tensor::cuda::sim {

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1)
      : x(x_), y(y_), z(z_) {}
};

// The built-in variables: one copy per host thread, set by the simulator before each CUDA
// thread runs. In gdb: `print threadIdx`, `break softmax_kernel if threadIdx.x == 3`.
inline thread_local dim3 threadIdx{0, 0, 0};
inline thread_local dim3 blockIdx{0, 0, 0};
inline thread_local dim3 blockDim{1, 1, 1};
inline thread_local dim3 gridDim{1, 1, 1};
constexpr int warpSize = 32;

// Waits until every (still running) thread of the block has reached this point.
void __syncthreads();

// atomicAdd: adds `value` to *address as one indivisible step and returns the old value.
inline float atomicAdd(float* address, float value) {
  return std::atomic_ref<float>(*address).fetch_add(value);
}
inline double atomicAdd(double* address, double value) {
  return std::atomic_ref<double>(*address).fetch_add(value);
}
inline int atomicAdd(int* address, int value) {
  return std::atomic_ref<int>(*address).fetch_add(value);
}
inline unsigned int atomicAdd(unsigned int* address, unsigned int value) {
  return std::atomic_ref<unsigned int>(*address).fetch_add(value);
}
inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
  return std::atomic_ref<unsigned long long>(*address).fetch_add(value);
}

}  // namespace tensor::cuda::sim

#include "cuda/kernels/launch_config.cuh"

// ---- launching ----------------------------------------------------------------------------------

namespace tensor::cuda::sim {

// Runs `cuda_thread` (one call of the kernel) for every thread of every block of config.grid.
// Throws std::invalid_argument for a configuration a GPU would refuse (e.g. more than 1024
// threads per block) and rethrows the first exception a kernel thread threw.
void run_grid(const LaunchConfig& config, const std::function<void()>& cuda_thread);

// The simulator's `kernel<<<config.grid, config.block>>>(args...)`. As on a GPU, the arguments
// are converted to the kernel's parameter types once, and each thread receives its own copy.
template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), const LaunchConfig& config, Args&&... args) {
  std::tuple<std::decay_t<Params>...> params(std::forward<Args>(args)...);
  run_grid(config, [&] { std::apply(kernel, params); });
}

// When true, every launch (also Sync::None) runs one host thread per CUDA thread.
void set_faithful(bool faithful);
bool faithful();

// How many host threads the pool holds now (it grows to the largest block launched so far).
int pool_size();

}  // namespace tensor::cuda::sim
