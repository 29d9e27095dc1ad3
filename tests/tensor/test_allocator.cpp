// The caching allocator behind every backend: reuse by size class, and the cache limit.
#include <cstdlib>

#include "tensor/caching_allocator.hpp"
#include "tests/helpers.hpp"

using tensor::CachingAllocator;

TEST_CASE("caching allocator: a freed block serves the next request of its size class") {
  struct { int allocations = 0, frees = 0; } system;
  CachingAllocator allocator(
      [&](std::size_t n) { ++system.allocations; return std::malloc(n); },
      [&](void* p) { ++system.frees; std::free(p); });
  CHECK(CachingAllocator::size_class(1) == 512);
  CHECK(CachingAllocator::size_class(513) == 1024);
  CHECK(CachingAllocator::size_class((1 << 20) + 1) == 2 << 20);
  void* a = allocator.allocate(1000);
  allocator.deallocate(a, 1000);
  void* b = allocator.allocate(900);  // same class (1024): the same block comes back
  CHECK(b == a);
  CHECK(system.allocations == 1);
  void* c = allocator.allocate(5000);  // another class: a new block
  CHECK(c != a);
  CHECK(system.allocations == 2);
  CHECK(allocator.stats().cache_hits == 1);
  CHECK(allocator.stats().bytes_in_use == 1024 + 5120);
  allocator.deallocate(b, 900);
  allocator.deallocate(c, 5000);
  CHECK(allocator.stats().bytes_cached == 1024 + 5120);
  allocator.release_cached();
  CHECK(system.frees == 2);
  CHECK(allocator.stats().bytes_cached == 0);
}

TEST_CASE("caching allocator: blocks beyond the cache limit are freed at once") {
  int frees = 0;
  CachingAllocator allocator([](std::size_t n) { return std::malloc(n); },
                             [&](void* p) { ++frees; std::free(p); }, /*max_cached_bytes=*/1024);
  void* a = allocator.allocate(1024);
  void* b = allocator.allocate(1024);
  allocator.deallocate(a, 1024);  // cached: 1024 bytes
  allocator.deallocate(b, 1024);  // would make 2048 > 1024: freed
  CHECK(frees == 1);
  CHECK(allocator.stats().bytes_cached == 1024);
  allocator.release_cached();
  CHECK(frees == 2);
}
