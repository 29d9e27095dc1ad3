// caching_allocator.hpp — keeps freed memory for reuse instead of giving it back.
//
// A training loop frees and allocates the same sizes every step: the activations of step t die
// just before step t + 1 asks for blocks of the same sizes. Giving them back costs: cudaFree waits
// for the whole GPU to go idle, and on the CPU a large block returned to the system comes back as
// fresh pages that the kernel must zero on first touch (a page fault per 4 KiB). So a freed block
// goes into a free list for its size class, and the next request of that class takes it from
// there. Cached blocks are really freed when the device runs out of memory (and the request is
// retried), or, past max_cached_bytes, as they come back.
//
// Size classes: requests are rounded up to a multiple of 512 bytes (of 1 MiB from 1 MiB on), and
// a cached block serves only requests of exactly its class. The cpu, cuda and cuda-sim backends
// all use this class.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tensor {

class CachingAllocator {
 public:
  struct Stats {
    std::size_t bytes_in_use = 0;  // handed out and not yet returned (rounded sizes)
    std::size_t bytes_cached = 0;  // returned and kept for reuse
    std::size_t raw_allocations = 0;  // calls of the underlying allocate
    std::size_t cache_hits = 0;       // requests served from the cache
  };

  // raw_allocate returns nullptr when out of memory; raw_free gives a block back for good.
  // max_cached_bytes bounds the memory kept for reuse (blocks beyond it are freed at once).
  CachingAllocator(std::function<void*(std::size_t)> raw_allocate,
                   std::function<void(void*)> raw_free,
                   std::size_t max_cached_bytes = static_cast<std::size_t>(-1))
      : raw_allocate_(std::move(raw_allocate)),
        raw_free_(std::move(raw_free)),
        max_cached_bytes_(max_cached_bytes) {}
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  static std::size_t size_class(std::size_t nbytes) {
    const std::size_t step = nbytes < (std::size_t(1) << 20) ? 512 : (std::size_t(1) << 20);
    return (nbytes + step - 1) / step * step;
  }

  // A block of at least nbytes (nbytes > 0), or nullptr when even an empty cache does not help.
  void* allocate(std::size_t nbytes) {
    const std::size_t size = size_class(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    auto cached = free_.find(size);
    if (cached != free_.end() && !cached->second.empty()) {
      void* block = cached->second.back();
      cached->second.pop_back();
      stats_.bytes_cached -= size;
      stats_.bytes_in_use += size;
      ++stats_.cache_hits;
      return block;
    }
    void* block = raw_allocate_(size);
    if (block == nullptr) {  // out of memory: give the cache back and try once more
      release_cached_locked();
      block = raw_allocate_(size);
      if (block == nullptr) return nullptr;
    }
    ++stats_.raw_allocations;
    stats_.bytes_in_use += size;
    return block;
  }

  // Takes back a block from allocate(nbytes) with the same nbytes.
  void deallocate(void* block, std::size_t nbytes) {
    const std::size_t size = size_class(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.bytes_in_use -= size;
    if (stats_.bytes_cached + size > max_cached_bytes_) {
      raw_free_(block);
      return;
    }
    free_[size].push_back(block);
    stats_.bytes_cached += size;
  }

  // Frees every cached block for good (memory in use is untouched).
  void release_cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached_locked();
  }

  Stats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  void release_cached_locked() {
    for (auto& [size, blocks] : free_)
      for (void* block : blocks) raw_free_(block);
    free_.clear();
    stats_.bytes_cached = 0;
  }

  std::function<void*(std::size_t)> raw_allocate_;
  std::function<void(void*)> raw_free_;
  std::size_t max_cached_bytes_;
  mutable std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;  // size class -> free blocks
  Stats stats_;
};

}  // namespace tensor
