// The simulator's CUDA programming model, checked with small kernels written here: built-in
// variables, __syncthreads() as a barrier, __shared__ memory per block, threads that exit early,
// atomics from racing host threads, launch errors, and the barrier-free fast path.
#include <doctest/doctest.h>

#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cuda/cuda.hpp"
#include "cuda/sim/sim_runtime.hpp"  // last: it defines __global__, __shared__, ... as macros

// The simulator's CUDA vocabulary (dim3, threadIdx, __syncthreads, atomicAdd, launch, ...) lives
// in the namespace the library's kernels are compiled into.
using namespace tensor::cuda::sim;

namespace {

// Every thread records its coordinates: out[6 * g + ...] for global linear thread g.
__global__ void builtins_kernel(unsigned* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  unsigned* mine = out + 6 * (block * threads + thread);
  mine[0] = threadIdx.x, mine[1] = threadIdx.y, mine[2] = threadIdx.z;
  mine[3] = blockIdx.x, mine[4] = blockIdx.y, mine[5] = blockDim.x * 100 + gridDim.x;
}

// Reverses each block's slice of `data` through shared memory: correct only if every thread has
// written its element before any thread reads its mirror element, i.e. if the barrier works.
__global__ void reverse_kernel(int* data) {
  __shared__ int buffer[1024];
  const unsigned t = threadIdx.x, n = blockDim.x;
  int* slice = data + blockIdx.x * n;
  buffer[t] = slice[t];
  __syncthreads();
  slice[t] = buffer[n - 1 - t];
}

// Threads at or beyond `active` leave before the barrier; the others must not wait for them.
__global__ void early_exit_kernel(int* out, unsigned active) {
  __shared__ int total[1];
  const unsigned t = threadIdx.x;
  if (t >= active) return;
  if (t == 0) total[0] = 0;
  __syncthreads();
  atomicAdd(&total[0], int(t));
  __syncthreads();
  if (t == 0) out[blockIdx.x] = total[0];
}

__global__ void count_kernel(unsigned long long* counter, double* sum) {
  atomicAdd(counter, 1ull);
  atomicAdd(sum, 0.5);
}

__global__ void barrier_kernel(int* out) {
  __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void throwing_kernel(int* out) {
  if (threadIdx.x == 5) throw std::runtime_error("thread 5 failed");
  __syncthreads();
  out[threadIdx.x] = 1;
}

std::mutex ids_mutex;
std::set<std::thread::id> thread_ids;

__global__ void host_thread_kernel() {
  std::lock_guard<std::mutex> lock(ids_mutex);
  thread_ids.insert(std::this_thread::get_id());
}

}  // namespace

TEST_SUITE("cuda-sim") {
  TEST_CASE("simulator: threadIdx, blockIdx, blockDim and gridDim are per CUDA thread") {
    for (Sync sync : {Sync::None, Sync::Barriers}) {
      const dim3 grid(3, 2), block(4, 2, 2);
      std::vector<unsigned> out(6 * 3 * 2 * 16, 9999);
      launch(builtins_kernel, LaunchConfig{"builtins_kernel", grid, block, sync}, out.data());
      for (unsigned by = 0; by < 2; ++by)
        for (unsigned bx = 0; bx < 3; ++bx)
          for (unsigned tz = 0; tz < 2; ++tz)
            for (unsigned ty = 0; ty < 2; ++ty)
              for (unsigned tx = 0; tx < 4; ++tx) {
                const unsigned g = (bx + 3 * by) * 16 + tx + 4 * (ty + 2 * tz);
                const unsigned* mine = out.data() + 6 * g;
                CHECK(mine[0] == tx);
                CHECK(mine[1] == ty);
                CHECK(mine[2] == tz);
                CHECK(mine[3] == bx);
                CHECK(mine[4] == by);
                CHECK(mine[5] == 4 * 100 + 3);
              }
    }
  }

  TEST_CASE("simulator: __syncthreads is a barrier and __shared__ memory is shared by a block") {
    for (unsigned threads : {1u, 33u, 256u}) {
      CAPTURE(threads);
      std::vector<int> data(3 * threads);
      for (std::size_t i = 0; i < data.size(); ++i) data[i] = int(i);
      launch(reverse_kernel, LaunchConfig{"reverse_kernel", dim3(3), dim3(threads), Sync::Barriers},
             data.data());
      for (unsigned b = 0; b < 3; ++b)
        for (unsigned t = 0; t < threads; ++t)
          CHECK(data[b * threads + t] == int(b * threads + threads - 1 - t));
    }
  }

  TEST_CASE("simulator: threads that return early leave the barrier, as on a GPU") {
    std::vector<int> out(2, -1);
    launch(early_exit_kernel, LaunchConfig{"early_exit_kernel", dim3(2), dim3(64), Sync::Barriers},
           out.data(), 10u);
    CHECK(out[0] == 45);  // 0 + 1 + ... + 9
    CHECK(out[1] == 45);
  }

  TEST_CASE("simulator: atomicAdd from racing host threads loses no update") {
    unsigned long long counter = 0;
    double sum = 0;
    launch(count_kernel, LaunchConfig{"count_kernel", dim3(4), dim3(128), Sync::Barriers}, &counter,
           &sum);
    CHECK(counter == 512);
    CHECK(sum == 256.0);
  }

  TEST_CASE("simulator: barrier-free launches run sequentially, and catch a __syncthreads") {
    thread_ids.clear();
    launch(host_thread_kernel, LaunchConfig{"host_thread_kernel", dim3(2), dim3(32), Sync::None});
    CHECK(thread_ids.size() == 1);  // all 64 CUDA threads ran on the calling thread
    thread_ids.clear();
    launch(host_thread_kernel,
           LaunchConfig{"host_thread_kernel", dim3(2), dim3(32), Sync::Barriers});
    CHECK(thread_ids.size() == 32);  // one pool thread per CUDA thread of a block
    thread_ids.clear();
    tensor::cuda::set_sim_faithful(true);
    launch(host_thread_kernel, LaunchConfig{"host_thread_kernel", dim3(1), dim3(16), Sync::None});
    tensor::cuda::set_sim_faithful(false);
    CHECK(thread_ids.size() == 16);  // faithful mode: threads even without barriers

    std::vector<int> out(8, 0);
    std::string message;
    try {
      launch(barrier_kernel, LaunchConfig{"barrier_kernel", dim3(1), dim3(8), Sync::None},
             out.data());
    } catch (const std::logic_error& e) {
      message = e.what();
    }
    CHECK(message.find("barrier_kernel called __syncthreads() but was launched with Sync::None") !=
          std::string::npos);
    launch(barrier_kernel, LaunchConfig{"barrier_kernel", dim3(1), dim3(8), Sync::Barriers},
           out.data());
    CHECK(out == std::vector<int>(8, 1));
  }

  TEST_CASE("simulator: bad launch configurations and kernel exceptions are reported") {
    std::vector<int> out(2048, 0);
    std::string message;
    try {
      launch(barrier_kernel, LaunchConfig{"barrier_kernel", dim3(1), dim3(2048), Sync::Barriers},
             out.data());
    } catch (const std::invalid_argument& e) {
      message = e.what();
    }
    CHECK(message.find("barrier_kernel") != std::string::npos);
    CHECK(message.find("invalid configuration argument") != std::string::npos);
    CHECK_THROWS_AS(launch(barrier_kernel,
                           LaunchConfig{"barrier_kernel", dim3(0), dim3(32), Sync::Barriers},
                           out.data()),
                    std::invalid_argument);

    // One thread throws; the others still finish (no deadlock at the barrier) and the error
    // reaches the caller.
    message.clear();
    try {
      launch(throwing_kernel, LaunchConfig{"throwing_kernel", dim3(1), dim3(32), Sync::Barriers},
             out.data());
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
    CHECK(message == "thread 5 failed");
    CHECK(out[0] == 1);
    CHECK(out[31] == 1);
  }

  TEST_CASE("simulator: the thread pool is created once and reused by every launch") {
    std::vector<int> data(256);
    launch(reverse_kernel, LaunchConfig{"reverse_kernel", dim3(1), dim3(256), Sync::Barriers},
           data.data());
    const int size = tensor::cuda::sim::pool_size();
    CHECK(size >= 256);
    for (int i = 0; i < 3; ++i)
      launch(reverse_kernel, LaunchConfig{"reverse_kernel", dim3(2), dim3(128), Sync::Barriers},
             data.data());
    CHECK(tensor::cuda::sim::pool_size() == size);
  }
}
