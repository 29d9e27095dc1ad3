// sim_runtime.cpp — the simulator's engine: a pool of host threads that play the threads of one
// CUDA block at a time, and the barrier behind __syncthreads(). See sim_runtime.hpp.
#include "cuda/sim/sim_runtime.hpp"

#include <pthread.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cuda/cuda.hpp"

namespace tensor::cuda::sim {

namespace {

// __syncthreads() for the threads of one block. A thread that finishes the kernel calls
// arrive_and_drop(): from then on the barrier waits for one thread fewer, as on a GPU, where
// exited threads no longer take part in __syncthreads().
class BlockBarrier {
 public:
  // Called by the launcher between blocks, while no thread is inside the barrier.
  void reset(int threads) {
    expected_ = threads;
    arrived_ = 0;
  }

  void arrive_and_wait() {
    std::uint32_t phase;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      phase = phase_.load(std::memory_order_relaxed);
      if (++arrived_ == expected_) {
        open_next_phase(phase);
        return;
      }
    }
    // Sleep (a futex wait) until the last thread to arrive moves the phase on.
    while (phase_.load(std::memory_order_acquire) == phase) phase_.wait(phase);
  }

  void arrive_and_drop() {
    std::lock_guard<std::mutex> lock(mutex_);
    --expected_;
    // The threads already waiting may have been waiting only for this one.
    if (arrived_ > 0 && arrived_ == expected_) open_next_phase(phase_.load());
  }

 private:
  void open_next_phase(std::uint32_t phase) {  // with mutex_ held
    arrived_ = 0;
    phase_.store(phase + 1, std::memory_order_release);
    phase_.notify_all();
  }

  std::mutex mutex_;
  int expected_ = 0, arrived_ = 0;
  std::atomic<std::uint32_t> phase_{0};
};

// The block the workers are running, written by the launcher before it wakes them.
struct BlockJob {
  const std::function<void()>* cuda_thread = nullptr;
  const char* kernel = "";
  dim3 grid, block, block_index;
};

// Per host thread: the barrier of the block it is playing a thread of (null while it runs a
// Sync::None launch sequentially), and the kernel's name for error messages.
thread_local BlockBarrier* current_barrier = nullptr;
thread_local const char* current_kernel = nullptr;

dim3 thread_index(int linear, const dim3& block) {
  return dim3(linear % block.x, (linear / block.x) % block.y, linear / (block.x * block.y));
}

// Sets this host thread's threadIdx/blockIdx/blockDim/gridDim and restores the previous values
// when it goes out of scope (the launcher's own thread plays CUDA threads in sequential runs).
class BuiltinsScope {
 public:
  BuiltinsScope(const dim3& grid, const dim3& block, BlockBarrier* barrier, const char* kernel)
      : saved_{threadIdx, blockIdx, blockDim, gridDim},
        saved_barrier_(current_barrier),
        saved_kernel_(current_kernel) {
    gridDim = grid;
    blockDim = block;
    current_barrier = barrier;
    current_kernel = kernel;
  }
  ~BuiltinsScope() {
    threadIdx = saved_[0];
    blockIdx = saved_[1];
    blockDim = saved_[2];
    gridDim = saved_[3];
    current_barrier = saved_barrier_;
    current_kernel = saved_kernel_;
  }

 private:
  dim3 saved_[4];
  BlockBarrier* saved_barrier_;
  const char* saved_kernel_;
};

class ThreadPool {
 public:
  ~ThreadPool() {
    stop_ = true;
    for (auto& worker : workers_) worker->go.release();
    for (auto& worker : workers_) worker->thread.join();
  }

  // Runs one block with `threads` workers and returns when all of them have finished it.
  void run_block(const BlockJob& job, int threads) {
    grow(threads);
    job_ = job;
    barrier_.reset(threads);
    remaining_.store(threads, std::memory_order_relaxed);
    for (int w = 0; w < threads; ++w) workers_[w]->go.release();
    done_.acquire();
    if (error_) {
      std::exception_ptr error = error_;
      error_ = nullptr;
      std::rethrow_exception(error);
    }
  }

  int size() const { return static_cast<int>(workers_.size()); }

 private:
  struct Worker {
    std::thread thread;
    std::binary_semaphore go{0};  // released by the launcher: "run your thread of the block"
  };

  void grow(int threads) {
    while (size() < threads) {
      int index = size();
      workers_.push_back(std::make_unique<Worker>());
      Worker* worker = workers_.back().get();
      worker->thread = std::thread([this, worker, index] { work(*worker, index); });
      std::string name = "sim-t" + std::to_string(index);
      pthread_setname_np(worker->thread.native_handle(), name.c_str());
    }
  }

  void work(Worker& me, int index) {
    for (;;) {
      me.go.acquire();
      if (stop_) return;
      {
        BuiltinsScope scope(job_.grid, job_.block, &barrier_, job_.kernel);
        threadIdx = thread_index(index, job_.block);
        blockIdx = job_.block_index;
        try {
          (*job_.cuda_thread)();
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex_);
          if (!error_) error_ = std::current_exception();
        }
      }
      barrier_.arrive_and_drop();
      if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.release();
    }
  }

  std::vector<std::unique_ptr<Worker>> workers_;
  BlockJob job_;
  BlockBarrier barrier_;
  std::atomic<int> remaining_{0};
  std::binary_semaphore done_{0};  // released by the last worker to finish the block
  std::mutex error_mutex_;
  std::exception_ptr error_;
  bool stop_ = false;
};

ThreadPool& pool() {
  static ThreadPool instance;
  return instance;
}

// One launch at a time, like a single CUDA stream (and required by __shared__ = static).
std::mutex& launch_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::atomic<int>& faithful_flag() {  // -1: not read from the environment yet
  static std::atomic<int> flag{-1};
  return flag;
}

std::string dims_str(const dim3& d) {
  return "(" + std::to_string(d.x) + ", " + std::to_string(d.y) + ", " + std::to_string(d.z) +
         ")";
}

void check_config(const LaunchConfig& config) {
  const dim3 &g = config.grid, &b = config.block;
  const char* problem = nullptr;
  if (b.x == 0 || b.y == 0 || b.z == 0 || g.x == 0 || g.y == 0 || g.z == 0)
    problem = "a grid or block dimension is 0";
  else if (b.x > 1024 || b.y > 1024 || b.z > 64 ||
           std::uint64_t(b.x) * b.y * b.z > 1024)
    problem = "more than 1024 threads per block (or block.z > 64)";
  else if (g.x > 2147483647u || g.y > 65535 || g.z > 65535)
    problem = "grid too large (x <= 2^31-1, y and z <= 65535)";
  if (problem)
    throw std::invalid_argument(std::string("cuda-sim: launch of ") + config.kernel +
                                " with grid " + dims_str(g) + " and block " + dims_str(b) +
                                ": invalid configuration argument (" + problem + ")");
}

}  // namespace

void run_grid(const LaunchConfig& config, const std::function<void()>& cuda_thread) {
  check_config(config);
  const unsigned grid[3] = {config.grid.x, config.grid.y, config.grid.z};
  const unsigned block[3] = {config.block.x, config.block.y, config.block.z};
  record_launch("cuda-sim", config.kernel, grid, block);
  std::lock_guard<std::mutex> lock(launch_mutex());
  const int threads = static_cast<int>(config.block.x * config.block.y * config.block.z);
  const bool sequential = config.sync == Sync::None && !faithful();
  for (unsigned z = 0; z < config.grid.z; ++z)
    for (unsigned y = 0; y < config.grid.y; ++y)
      for (unsigned x = 0; x < config.grid.x; ++x) {
        if (sequential) {
          // Every thread of the block in turn, on this host thread; no barrier exists, so a
          // __syncthreads() call throws.
          BuiltinsScope scope(config.grid, config.block, nullptr, config.kernel);
          blockIdx = dim3(x, y, z);
          for (int t = 0; t < threads; ++t) {
            threadIdx = thread_index(t, config.block);
            cuda_thread();
          }
        } else {
          pool().run_block(BlockJob{&cuda_thread, config.kernel, config.grid, config.block,
                                    dim3(x, y, z)},
                           threads);
        }
      }
}

void set_faithful(bool faithful) { faithful_flag().store(faithful ? 1 : 0); }

bool faithful() {
  int flag = faithful_flag().load();
  if (flag < 0) {
    const char* env = std::getenv("ATTN_SIM_FAITHFUL");
    flag = env != nullptr && env[0] == '1' ? 1 : 0;
    faithful_flag().store(flag);
  }
  return flag == 1;
}

int pool_size() {
  std::lock_guard<std::mutex> lock(launch_mutex());
  return pool().size();
}

void __syncthreads() {
  if (current_barrier == nullptr) {
    if (current_kernel == nullptr)
      throw std::logic_error("cuda-sim: __syncthreads() called outside a kernel");
    throw std::logic_error(std::string("cuda-sim: kernel ") + current_kernel +
                           " called __syncthreads() but was launched with Sync::None; launch "
                           "it with Sync::Barriers");
  }
  current_barrier->arrive_and_wait();
}

}  // namespace tensor::cuda::sim
