// random.hpp — seeded random tensors that are the same on every platform and compiler.
//
// A Generator is (seed, offset): the next unused Philox block. Drawing n numbers consumes
// ceil(n/4) blocks, so the numbers depend only on the seed and on what was drawn before,
// never on the compiler's standard library (std::normal_distribution differs between them).
#pragma once

#include <cstdint>

#include "tensor/array.hpp"

namespace core {  // see dtype.hpp for why these types live in `core`

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(std::uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  std::uint64_t seed() const { return seed_; }
  std::uint64_t offset() const { return offset_; }    // Philox blocks used so far
  void set_offset(std::uint64_t offset) { offset_ = offset; }  // for checkpoints
  // Reserves `blocks` Philox blocks and returns the first one's counter.
  std::uint64_t reserve(std::uint64_t blocks) {
    std::uint64_t first = offset_;
    offset_ += blocks;
    return first;
  }

 private:
  std::uint64_t seed_;
  std::uint64_t offset_ = 0;
};

}  // namespace core

namespace tensor {

using core::Generator;

// The generator used when none is passed (seed 0 at start-up; reseed with manual_seed).
Generator& default_generator();
void manual_seed(std::uint64_t seed);

// Uniform in [low, high).
Array rand(const Shape& shape, Generator& gen = default_generator(), DType dtype = DType::Float32,
           Device device = kCPU);
Array uniform(const Shape& shape, double low, double high, Generator& gen = default_generator(),
              DType dtype = DType::Float32, Device device = kCPU);
// Standard normal (Box-Muller on Philox bits), scaled: mean + std * N(0, 1).
Array randn(const Shape& shape, Generator& gen = default_generator(),
            DType dtype = DType::Float32, Device device = kCPU);
Array normal(const Shape& shape, double mean, double std, Generator& gen = default_generator(),
             DType dtype = DType::Float32, Device device = kCPU);
// Integers uniform in [low, high), int64.
Array randint(std::int64_t low, std::int64_t high, const Shape& shape,
              Generator& gen = default_generator(), Device device = kCPU);
// A random permutation of 0..n-1 (Fisher-Yates driven by the generator), int64.
Array randperm(std::int64_t n, Generator& gen = default_generator(), Device device = kCPU);
// Bernoulli(p) as bool: true with probability p.
Array bernoulli(const Shape& shape, double p, Generator& gen = default_generator(),
                Device device = kCPU);

}  // namespace tensor
